import BankProtocol
import Cluster
import Foundation
import Membership
import Testing
import ZeroMQ
#if canImport(Glibc)
import Glibc
#endif

/// Keys on disk, the allow-list and what a user id says, and what each client role may ask for.
@Suite struct MembershipTests {
    static func temporaryDirectory() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("bank-keys-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    @Test func keyFilesRoundTripWithTheirModes() throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let keys = try CurveKeyPair.generate()
        try KeyFile.write(keys, name: "alice", directory: directory, comment: "test")
        let (publicPath, secretPath) = KeyFile.paths(name: "alice", directory: directory)
        #expect(try KeyFile.readSecret(path: secretPath) == keys)
        #expect(try KeyFile.readPublic(path: publicPath) == keys.publicKey)
        #expect(!(try String(contentsOfFile: publicPath, encoding: .utf8)).contains(keys.secretKey))
        var status = stat()
        #expect(stat(secretPath, &status) == 0 && status.st_mode & 0o777 == 0o600)
        #expect(stat(publicPath, &status) == 0 && status.st_mode & 0o777 == 0o644)
        // Never overwritten.
        #expect(throws: KeyFile.Error.self) { try KeyFile.write(try CurveKeyPair.generate(), name: "alice",
                                                                  directory: directory, comment: "again") }
        #expect(try KeyFile.readSecret(path: secretPath) == keys)
    }

    @Test func aSecretKeyFileOpenToOthersIsRefusedSayingWhatToDo() throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try KeyFile.write(try CurveKeyPair.generate(), name: "loose", directory: directory, comment: "test")
        let secretPath = KeyFile.paths(name: "loose", directory: directory).secretKey
        chmod(secretPath, 0o640)
        #expect { try KeyFile.readSecret(path: secretPath) } throws: {
            "\($0)".contains("open to others (mode 640)") && "\($0)".contains("chmod 600")
        }
        // A public certificate is not a secret one.
        chmod(secretPath, 0o600)
        let publicPath = KeyFile.paths(name: "loose", directory: directory).publicKey
        chmod(publicPath, 0o600)
        #expect { try KeyFile.readSecret(path: publicPath) } throws: { "\($0)".contains("holds no secret-key") }
    }

    @Test func certificatesInPyzmqsFormatParse() throws {
        // As `zmq.auth.create_certificates` writes it (its own comment lines, a metadata section).
        let text = """
        #   ****  Generated on 2026-11-30 22:00:00.000000 by pyzmq  ****
        #   ZeroMQ CURVE **Secret** Certificate
        #   DO NOT PROVIDE THIS FILE TO OTHER USERS nor change its permissions.

        metadata
        curve
            public-key = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"
            secret-key = "JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6"
        """
        let parsed = try KeyFile.parse(text, path: "x")
        #expect(parsed.publicKey == "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7")
        #expect(parsed.secretKey == "JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6")
        // The example pair of the ZeroMQ guide: the public key is the secret key's.
        #expect(CurveKeyPair(secretKey: parsed.secretKey!)?.publicKey == parsed.publicKey)
        #expect(throws: KeyFile.Error.self) { try KeyFile.parse("public-key = \"short\"", path: "x") }
    }

    @Test func theAllowListAdmitsMembersUnderTheirUserIDsOnly() throws {
        let primary = try CurveKeyPair.generate(), alice = try CurveKeyPair.generate(), mallory = try CurveKeyPair.generate()
        let list = try MemberList([Member(process: .primary, publicKey: primary.publicKey),
                                   Member(client: "alice", role: .app, publicKey: alice.publicKey)])
        func request(_ keys: CurveKeyPair, mechanism: String = "CURVE", domain: String) -> ZAPRequest {
            ZAPRequest(requestID: [1], domain: domain, address: "127.0.0.1", mechanism: mechanism,
                       credentials: [Z85.decodeKey(keys.publicKey)!])
        }
        #expect(list.decide(request(primary, domain: ZAPDomain.peers)) == .allow(userID: "ledger:primary"))
        #expect(list.decide(request(alice, domain: ZAPDomain.clients)) == .allow(userID: "client:app:alice"))
        // A process key at the client socket, a client key at an inbox: refused.
        #expect(list.decide(request(primary, domain: ZAPDomain.clients))
            == .deny(reason: "ledger:primary is a process: it may not connect as a client"))
        #expect(list.decide(request(alice, domain: ZAPDomain.peers))
            == .deny(reason: "client:app:alice is a client: it may not connect to a process's inbox"))
        #expect(list.decide(request(mallory, domain: ZAPDomain.peers)) == .deny(reason: "unknown key \(mallory.publicKey)"))
        #expect(list.decide(request(alice, mechanism: "NULL", domain: ZAPDomain.clients))
            == .deny(reason: "NULL is not accepted: CURVE only"))
        #expect(list.publicKey(of: .primary) == primary.publicKey && list.publicKey(of: .backup) == nil)
        #expect(Member.userID(of: .primary) == "ledger:primary")
        // A reload that drops alice revokes her key.
        let reloaded = try MemberList([Member(process: .primary, publicKey: primary.publicKey)])
        #expect(list.revoked(comparedWith: reloaded) == ["client:app:alice"])
        // Her key moved to another role: her connections made as an app are revoked too.
        let demoted = try MemberList([Member(process: .primary, publicKey: primary.publicKey),
                                      Member(client: "alice", role: .reader, publicKey: alice.publicKey)])
        #expect(list.revoked(comparedWith: demoted) == ["client:app:alice"])
        #expect(list.revoked(comparedWith: list).isEmpty)
    }

    @Test func anAllowListWithSharedKeysOrTwinsIsRefused() throws {
        let keys = try CurveKeyPair.generate(), other = try CurveKeyPair.generate()
        #expect(throws: MemberList.Error.self) {
            try MemberList([Member(process: .primary, publicKey: keys.publicKey),
                            Member(process: .backup, publicKey: keys.publicKey)])
        }
        #expect(throws: MemberList.Error.self) {
            try MemberList([Member(client: "a", role: .app, publicKey: keys.publicKey),
                            Member(client: "a", role: .app, publicKey: other.publicKey)])
        }
        #expect(throws: MemberList.Error.self) { try MemberList([Member(client: "a", role: .app, publicKey: "x")]) }
    }

    @Test func rolesAllowWhatTheyShould() {
        let money: [RequestKind] = [.openAccount, .deposit, .withdraw, .transfer, .hold, .capture, .release, .freeze,
                                    .unfreeze, .batch]
        for kind in money {
            #expect(ClientRole.app.allows(kind))
            #expect(!ClientRole.reader.allows(kind))
            #expect(!ClientRole.operator.allows(kind))
        }
        for kind in [RequestKind.balance, .statement] {
            #expect(ClientRole.app.allows(kind) && ClientRole.reader.allows(kind) && !ClientRole.operator.allows(kind))
        }
        #expect(ClientRole.operator.allows(.switchover))
        #expect(!ClientRole.app.allows(.switchover) && !ClientRole.reader.allows(.switchover))
        #expect(ClientRole.allCases.allSatisfy { $0.allows(.status) && $0.allows(.invalid) })
    }
}

/// The key directory: processes by name, clients by role folder; a missing process key and twins are refused.
@Suite struct KeyDirectoryTests {
    @Test func loadsProcessesAndClientsByRole() throws {
        let directory = try MembershipTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var keys: [String: CurveKeyPair] = [:]
        for name in ["gateway", "primary", "backup"] {
            keys[name] = try CurveKeyPair.generate()
            try KeyFile.write(keys[name]!, name: name, directory: directory, comment: "test")
        }
        let shop = try CurveKeyPair.generate(), ops = try CurveKeyPair.generate()
        try KeyFile.write(shop, name: "shop", directory: directory + "/clients/app", comment: "test")
        try KeyFile.write(ops, name: "ops", directory: directory + "/clients/operator", comment: "test")
        let list = try KeyDirectory.load(directory, processes: [.gateway, .primary, .backup])
        #expect(list.members.count == 5)
        #expect(list.member(publicKey: keys["primary"]!.publicKey)?.userID == "ledger:primary")
        #expect(list.member(publicKey: shop.publicKey)?.userID == "client:app:shop")
        #expect(list.member(publicKey: ops.publicKey)?.userID == "client:operator:ops")
        #expect(try KeyDirectory.secretKeys(of: .primary, in: directory) == keys["primary"])
        // Revoking: the file goes, a reload no longer lists the key.
        try FileManager.default.removeItem(atPath: directory + "/clients/app/shop.key")
        let reloaded = try KeyDirectory.load(directory, processes: [.gateway, .primary, .backup])
        #expect(list.revoked(comparedWith: reloaded) == ["client:app:shop"])
    }

    @Test func aMissingProcessKeySaysHowToMakeOne() throws {
        let directory = try MembershipTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        #expect { try KeyDirectory.load(directory, processes: [.primary]) } throws: {
            "\($0)".contains("bankctl keys generate primary --dir \(directory)")
        }
    }

    @Test func aClientCopyOfAProcessKeyIsRefused() throws {
        let directory = try MembershipTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let primary = try CurveKeyPair.generate()
        try KeyFile.write(primary, name: "primary", directory: directory, comment: "test")
        try KeyFile.write(primary, name: "sneaky", directory: directory + "/clients/app", comment: "test")
        #expect { try KeyDirectory.load(directory, processes: [.primary]) } throws: {
            "\($0)".contains("have the same public key")
        }
    }
}

/// The reloadable allow-list: refusals counted for a rate-limited log line, a reload that revokes, a failed reload
/// that keeps the old list.
@Suite struct MemberDirectoryTests {
    final class Source: @unchecked Sendable {
        let lock = NSLock()
        var members: [Member]
        var fails = false
        init(_ members: [Member]) { self.members = members }
        func read() throws -> MemberList {
            lock.lock()
            defer { lock.unlock() }
            if fails { throw KeyFileProbeError() }
            return try MemberList(members)
        }
    }
    struct KeyFileProbeError: Error {}

    static func request(_ keys: CurveKeyPair, from address: String = "10.0.0.9") -> ZAPRequest {
        ZAPRequest(requestID: [1], domain: ZAPDomain.clients, address: address, mechanism: "CURVE",
                   credentials: [Z85.decodeKey(keys.publicKey)!])
    }

    @Test func refusalsAreCountedForOneLogLineAndReloadsRevoke() throws {
        let alice = try CurveKeyPair.generate(), mallory = try CurveKeyPair.generate()
        let source = Source([Member(client: "alice", role: .app, publicKey: alice.publicKey)])
        let directory = try MemberDirectory { try source.read() }
        #expect(directory.takeRefusals() == nil)
        for _ in 0..<1000 { #expect(directory.decide(Self.request(mallory)) != .allow(userID: "client:app:alice")) }
        #expect(directory.decide(Self.request(alice)) == .allow(userID: "client:app:alice"))
        let line = try #require(directory.takeRefusals())
        #expect(line == "refused handshakes: unknown key \(mallory.publicKey) from 10.0.0.9 (1000×)")
        #expect(directory.takeRefusals() == nil)
        // Many distinct reasons: a bounded line.
        for index in 0..<100 { _ = directory.decide(Self.request(mallory, from: "10.0.1.\(index)")) }
        #expect(directory.takeRefusals()?.hasSuffix("68 more") == true)
        // A reload that drops alice revokes her; a failing reload keeps the list as it was.
        source.lock.withLock { source.members = [] }
        #expect(try directory.reload() == ["client:app:alice"])
        #expect(directory.decide(Self.request(alice)) != .allow(userID: "client:app:alice"))
        source.lock.withLock {
            source.members = [Member(client: "alice", role: .app, publicKey: alice.publicKey)]
            source.fails = true
        }
        #expect(throws: KeyFileProbeError.self) { try directory.reload() }
        #expect(directory.current.members.isEmpty)
    }
}
