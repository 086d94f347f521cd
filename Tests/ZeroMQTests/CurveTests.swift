import Synchronization
import Testing
@testable import ZeroMQ

/// CURVE encryption and ZAP authentication through the wrapper: keys, an allow-list handler, the user id every
/// message carries, and the trap in libzmq 4.3 (a CURVE server with no ZAP domain lets any key in when no handler
/// answers) that `setCurveServer` closes by always setting a domain.
@Suite("CURVE and ZAP", .serialized)
struct CurveTests {
    @Test("key pairs: 40 Z85 characters each; the public key derives from the secret; Z85 round-trips")
    func keys() throws {
        let pair = try CurveKeyPair.generate()
        #expect(Z85.isKey(pair.publicKey) && Z85.isKey(pair.secretKey))
        #expect(pair.publicKey != pair.secretKey)
        #expect(CurveKeyPair(secretKey: pair.secretKey) == pair)
        #expect(try CurveKeyPair.generate() != pair)
        let bytes = try #require(Z85.decodeKey(pair.publicKey))
        #expect(bytes.count == 32)
        #expect(Z85.encodeKey(bytes) == pair.publicKey)
        for bad in ["", "short", String(repeating: "a", count: 39), String(repeating: "~", count: 40)] {
            #expect(!Z85.isKey(bad))
            #expect(CurveKeyPair(secretKey: bad) == nil)
        }
    }

    /// A server, its handler allowing `allowed` under the name "alice", and a client with `clientKeys`: returns
    /// what the server received from it (nil: nothing, after the handler answered or the handshake failed).
    static func exchange(clientKeys: CurveKeyPair, allowed: CurveKeyPair, handler: Bool = true,
                         enforced: Bool = true, zapDomain: String? = "bank") throws -> (frames: [[UInt8]], userID: String?)? {
        let context = try ZMQContext()
        let serverKeys = try CurveKeyPair.generate()
        let decisions = Mutex<[ZAPDecision]>([])
        let zap = handler ? try ZAPHandler(context: context) { request in
            let decision: ZAPDecision = request.curvePublicKey == allowed.publicKey
                ? .allow(userID: "alice") : .deny(reason: "unknown key")
            decisions.withLock { $0.append(decision) }
            return decision
        } : nil
        defer { zap?.stop() }
        let server = try context.makeSocket(.router)
        defer { server.close() }
        if enforced, let zapDomain {
            try server.setCurveServer(secretKey: serverKeys.secretKey, zapDomain: zapDomain)
        } else {
            try server.setCurveServerUnenforced(secretKey: serverKeys.secretKey, zapDomain: zapDomain)
        }
        let monitor = try server.makeMonitor(kinds: [.handshakeSucceeded, .handshakeFailedAuth,
                                                     .handshakeFailedNoDetail, .handshakeFailedProtocol])
        defer { monitor.close() }
        try server.bind("tcp://127.0.0.1:*")
        let client = try context.makeSocket(.dealer)
        defer { client.close() }
        try client.setCurveClient(clientKeys, serverKey: serverKeys.publicKey)
        try client.connect(try server.lastEndpoint)
        _ = try client.send([Array("hello".utf8)], dontWait: true)
        // The handshake's outcome, as the server's monitor reports it: nothing is inferred from a silence.
        let poller = ZMQPoller()
        poller.add(monitor.socket)
        var outcome: ZMQMonitorEvent.Kind?
        let deadline = ContinuousClock.now + .seconds(5)
        while outcome == nil, ContinuousClock.now < deadline {
            if let event = try monitor.receiveEvent(dontWait: true) { outcome = event.kind } else {
                _ = try poller.waitForReadable(timeoutMilliseconds: 20)
            }
        }
        let kind = try #require(outcome, "the handshake neither succeeded nor failed within 5 s")
        guard kind == .handshakeSucceeded else { return nil }
        let received = Mutex<(frames: [[UInt8]], userID: String?)?>(nil)
        let serverPoller = ZMQPoller()
        serverPoller.add(server)
        let messageDeadline = ContinuousClock.now + .seconds(5)
        while received.withLock({ $0 == nil }), ContinuousClock.now < messageDeadline {
            if let message = try server.receiveWithUserID(dontWait: true) {
                #expect(message.connectionDescriptor.map { $0 >= 0 } == true, "a TCP message names its connection")
                received.withLock { $0 = (message.frames, message.userID) }
            } else {
                _ = try serverPoller.waitForReadable(timeoutMilliseconds: 20)
            }
        }
        return received.withLock { $0 }
    }

    @Test("a listed key connects, and its messages carry the user id the handler gave it")
    func listedKeyConnects() throws {
        let alice = try CurveKeyPair.generate()
        let message = try #require(try Self.exchange(clientKeys: alice, allowed: alice))
        #expect(message.frames.last == Array("hello".utf8))
        #expect(message.userID == "alice")
    }

    @Test("an unlisted key is refused at the handshake: nothing it sends arrives")
    func unlistedKeyIsRefused() throws {
        let alice = try CurveKeyPair.generate(), mallory = try CurveKeyPair.generate()
        #expect(try Self.exchange(clientKeys: mallory, allowed: alice) == nil)
    }

    @Test("as setCurveServer makes a server (ZAP domain, enforced), with no handler running every key is refused")
    func noHandlerRefusesEveryone() throws {
        let mallory = try CurveKeyPair.generate()
        #expect(try Self.exchange(clientKeys: mallory, allowed: mallory, handler: false) == nil)
    }

    @Test("the trap: with no handler, libzmq 4.3 lets any key in — without a ZAP domain, and with one not enforced",
          arguments: [nil, "bank"] as [String?])
    func unenforcedAnyKeyGetsIn(zapDomain: String?) throws {
        let mallory = try CurveKeyPair.generate()
        let message = try Self.exchange(clientKeys: mallory, allowed: mallory, handler: false, enforced: false,
                                        zapDomain: zapDomain)
        #expect(message?.frames.last == Array("hello".utf8))
        #expect(message?.userID == nil)
    }

    @Test("ZAP requests parse, and replies have the RFC 27 shape")
    func zapCodec() throws {
        let key = try #require(Z85.decodeKey(try CurveKeyPair.generate().publicKey))
        let frames: [[UInt8]] = [Array("1.0".utf8), [7], Array("bank".utf8), Array("127.0.0.1".utf8), [],
                                 Array("CURVE".utf8), key]
        let request = try #require(ZAPRequest(frames: frames))
        #expect(request.domain == "bank" && request.mechanism == "CURVE" && request.requestID == [7])
        #expect(request.curvePublicKey.flatMap(Z85.decodeKey) == key)
        #expect(ZAPRequest(frames: [Array("2.0".utf8)] + frames.dropFirst()) == nil)
        #expect(ZAPRequest(frames: Array(frames.prefix(5))) == nil)
        #expect(ZAPDecision.allow(userID: "bob").replyFrames(to: [7])
                == [Array("1.0".utf8), [7], Array("200".utf8), Array("OK".utf8), Array("bob".utf8), []])
        #expect(ZAPDecision.deny(reason: "no").replyFrames(to: [7])[2] == Array("400".utf8))
    }
}
