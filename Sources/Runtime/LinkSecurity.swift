import BankCore
import BankProtocol
import Cluster
import Dispatch
import Foundation
import Logging
import Membership
import Synchronization
import ZeroMQ

/// CURVE on every socket of a process, and who may speak on them (issue 11).
///
/// - The process's own key pair comes from `NAME.key_secret` in the cluster file's key directory (refused when
///   others can read it); the members — every process of the topology and the client keys by role — from the
///   same directory (`KeyDirectory`).
/// - A ZAP handler on the process's context answers every handshake from the allow-list: processes may connect to
///   an inbox, clients to a gateway's client socket, nobody else anywhere.
/// - Each message is then checked by the loop (`admit`): it must come under a user id the list still holds.
///   `SIGHUP` reloads the list; connections made under a user id it no longer holds (a removed key, or one moved
///   to another role) are closed at once if they have spoken since they connected, and at their first message
///   otherwise (which is dropped).
///
/// Belongs to the loop's thread, except the handler's `decide` (thread-safe) and the `SIGHUP` flag (atomic).
final class LinkSecurity {
    let me: NodeID
    let keys: CurveKeyPair
    private let directory: MemberDirectory
    private let zap: ZAPHandler
    private let logger: Logger
    private var allowedUserIDs: Set<String>
    /// Each client's role and key, by user id.
    private var clients: [String: (role: ClientRole, key: ClientKey)] = [:]
    /// The user id each connection (by descriptor) last spoke under, with its remote address: a descriptor is
    /// reused once its connection is gone, so a revocation shuts one only while it still has that remote address.
    private var speakers: [Int32: (userID: String, remote: String)] = [:]
    private let reloadRequested = ReloadFlag()
    private var signalSource: (any DispatchSourceSignal)?
    private var lastLogNanos: UInt64 = 0
    private var droppedSinceLog: [String: Int] = [:]

    /// nil when the file says `insecure` (logged loudly).
    static func start(for me: NodeID, file: ClusterFile, context: ZMQContext, logger: Logger) throws -> LinkSecurity? {
        guard !file.insecure else {
            signal(SIGHUP, SIG_IGN) // nothing to reload; it must not end the process either
            logger.warning("""
                INSECURE: the cluster file says "insecure": true, so no link is encrypted or authenticated: anyone who \
                reaches a port of this process can speak to it. Never run a bank like this outside a test bed.
                """)
            return nil
        }
        return try LinkSecurity(me: me, file: file, context: context, logger: logger)
    }

    private init(me: NodeID, file: ClusterFile, context: ZMQContext, logger: Logger) throws {
        self.me = me
        self.logger = logger
        let path = file.keysPath
        let processes = file.topology.processes.map(\.node)
        do {
            keys = try KeyDirectory.secretKeys(of: me, in: path)
            directory = try MemberDirectory { try KeyDirectory.load(path, processes: processes) }
        } catch {
            throw ServerStartError("""
                \(error) (CURVE keys: \(path); make a local set with `bankctl keys init --dir \(path)`, \
                or set "insecure": true in the cluster file for plaintext)
                """)
        }
        guard directory.current.publicKey(of: me) == keys.publicKey else {
            throw ServerStartError("\(path): \(me.name).key is not the public key of \(me.name).key_secret")
        }
        let directory = directory
        zap = try ZAPHandler(context: context) { directory.decide($0) }
        allowedUserIDs = directory.current.userIDs
        clients = Self.clients(of: directory.current)
        signal(SIGHUP, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: SIGHUP, queue: .global())
        source.setEventHandler { [reloadRequested] in reloadRequested.flag.store(true, ordering: .relaxed) }
        source.resume()
        signalSource = source
        logger.info("\(me): CURVE on every link; \(directory.current.members.count) member key(s) from \(path)")
    }

    /// Makes `socket` a CURVE server for this kind of member (before it binds).
    func serve(_ socket: ZMQSocket, domain: String) throws {
        try socket.setCurveServer(secretKey: keys.secretKey, zapDomain: domain)
    }

    /// Makes `socket` a CURVE client of `peer` (before it connects).
    func connect(_ socket: ZMQSocket, to peer: NodeID) throws {
        guard let serverKey = directory.current.publicKey(of: peer) else {
            throw ServerStartError("no public key for \(peer) in the key directory")
        }
        try socket.setCurveClient(keys, serverKey: serverKey)
    }

    /// Whether a message that came under `userID` on connection `descriptor` is to be read. A user id the list no
    /// longer holds: dropped, and its connection closed.
    func admit(userID: String?, descriptor: Int32?) -> Bool {
        guard let userID, allowedUserIDs.contains(userID) else {
            // No user id cannot happen on a CURVE socket with a handler; a revoked one can.
            if let descriptor { ZMQSocket.shutdownConnection(descriptor: descriptor) }
            noteDropped("a message under \(userID ?? "no user id"), no longer a member: dropped, connection closed")
            return false
        }
        if let descriptor, speakers[descriptor]?.userID != userID {
            speakers[descriptor] = (userID, Self.remoteAddress(of: descriptor) ?? "")
        }
        return true
    }

    /// The role and key of the client a message came from (nil: not a client the list holds).
    func client(_ userID: String?) -> (role: ClientRole, key: ClientKey)? {
        userID.flatMap { clients[$0] }
    }

    private static func clients(of list: MemberList) -> [String: (role: ClientRole, key: ClientKey)] {
        var clients: [String: (role: ClientRole, key: ClientKey)] = [:]
        for member in list.members {
            guard case let .client(role) = member.kind, let key = ClientKey(z85: member.publicKey) else { continue }
            clients[member.userID] = (role, key)
        }
        return clients
    }

    /// Counts a dropped message for the next log line (once a second at most).
    func noteDropped(_ reason: String) {
        droppedSinceLog[reason, default: 0] += 1
    }

    /// Reloads the allow-list if `SIGHUP` asked, and logs refusals and drops (once a second at most).
    func housekeeping(now: Instant) {
        if reloadRequested.flag.exchange(false, ordering: .relaxed) { reload() }
        guard now.nanos(since: lastLogNanos) >= 1_000_000_000 else { return }
        lastLogNanos = now.monotonicNanos
        if let refusals = directory.takeRefusals() { logger.warning("\(me): \(refusals)") }
        if !droppedSinceLog.isEmpty {
            let parts = droppedSinceLog.sorted { $0.key < $1.key }.map { "\($0.key) (\($0.value)×)" }
            logger.warning("\(me): \(parts.joined(separator: "; "))")
            droppedSinceLog.removeAll()
        }
    }

    private func reload() {
        let revoked: Set<String>
        do {
            revoked = try directory.reload()
        } catch {
            logger.error("\(me): SIGHUP: the key directory could not be read, the members stay as they were: \(error)")
            return
        }
        allowedUserIDs = directory.current.userIDs
        clients = Self.clients(of: directory.current)
        var closed = 0
        for (descriptor, speaker) in speakers where revoked.contains(speaker.userID) {
            speakers[descriptor] = nil
            // Gone already, or the descriptor now another connection's: nothing to close.
            guard let remote = Self.remoteAddress(of: descriptor), remote == speaker.remote else { continue }
            ZMQSocket.shutdownConnection(descriptor: descriptor)
            closed += 1
        }
        logger.notice("""
            \(me): SIGHUP: \(directory.current.members.count) member key(s); \
            revoked: \(revoked.isEmpty ? "none" : revoked.sorted().joined(separator: ", ")); \(closed) connection(s) closed
            """)
    }

    /// The remote address and port of a connected socket (`getpeername`); nil when it is not one.
    private static func remoteAddress(of descriptor: Int32) -> String? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let named = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getpeername(descriptor, $0, &length) }
        }
        guard named == 0 else { return nil }
        return withUnsafeBytes(of: &storage) { Array($0.prefix(Int(length))) }.map { String($0, radix: 16) }
            .joined(separator: ".")
    }

    func stop() {
        signalSource?.cancel()
        zap.stop()
    }
}

/// Set by the `SIGHUP` handler, taken by the loop.
private final class ReloadFlag: Sendable {
    let flag = Atomic<Bool>(false)
}
