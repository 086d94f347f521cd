import Testing
import ZeroMQ
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

@Suite("Sending and receiving")
struct MessagingTests {
    @Test("ROUTER/DEALER over TCP keeps every frame: multipart, empty frames, a 1 MiB frame")
    func routerDealerRoundTrip() throws {
        let context = try ZMQContext()
        let (router, endpoint) = try boundRouter(context)
        defer { router.close() }
        #expect(endpoint.hasPrefix("tcp://127.0.0.1:"))
        #expect(!endpoint.hasSuffix(":*") && !endpoint.hasSuffix(":0"))
        let dealer = try context.makeSocket(.dealer)
        defer { dealer.close() }
        try dealer.connect(endpoint)

        let big = pattern(count: 1 << 20)
        let request: [[UInt8]] = [[], [1, 2, 3], [], big, [0xFF]]
        #expect(try dealer.send(request))

        let received = try awaitMessage(router)
        #expect(received.count == request.count + 1)
        let identity = try #require(received.first)
        #expect(!identity.isEmpty)
        #expect(Array(received.dropFirst()) == request)

        let reply: [[UInt8]] = [identity, [], big.reversed(), []]
        #expect(try router.send(reply))
        #expect(try awaitMessage(dealer) == Array(reply.dropFirst()))
    }

    @Test("REQ to ROUTER: the router sees [identity][empty][body] and the REQ gets only the body back")
    func reqEnvelope() throws {
        let context = try ZMQContext()
        let (router, endpoint) = try boundRouter(context)
        defer { router.close() }
        let req = try context.makeSocket(.req)
        defer { req.close() }
        try req.connect(endpoint)

        try req.send([Array("ping".utf8)], dontWait: false)
        let envelope = try awaitMessage(router)
        #expect(envelope.count == 3)
        #expect(envelope[1] == [])
        #expect(envelope[2] == Array("ping".utf8))

        try router.send([envelope[0], [], Array("pong".utf8)])
        #expect(try awaitMessage(req) == [Array("pong".utf8)])
    }

    @Test("identity set on a DEALER is the frame the ROUTER sees, and routes replies")
    func identity() throws {
        let context = try ZMQContext()
        let (router, endpoint) = try boundRouter(context)
        defer { router.close() }
        let dealer = try context.makeSocket(.dealer)
        defer { dealer.close() }
        try dealer.setIdentity(Array("ledger-2".utf8))
        try dealer.connect(endpoint)
        try dealer.send([[7]])
        #expect(try awaitMessage(router) == [Array("ledger-2".utf8), [7]])
        try router.setRouterMandatory(true)
        #expect(try router.send([Array("ledger-2".utf8), [8]]))
        #expect(try awaitMessage(dealer) == [[8]])
    }

    @Test("slices and raw buffers send the same bytes as arrays")
    func sendOverloads() throws {
        let context = try ZMQContext()
        let push = try context.makeSocket(.push)
        let pull = try context.makeSocket(.pull)
        defer { push.close(); pull.close() }
        try pull.bind("inproc://overloads")
        try push.connect("inproc://overloads")

        let buffer: [UInt8] = [0, 1, 2, 3, 4, 5, 6, 7]
        #expect(try push.send([buffer[1..<3], buffer[3..<3], buffer[5...]]))
        #expect(try awaitMessage(pull) == [[1, 2], [], [5, 6, 7]])

        let sent = try buffer.withUnsafeBytes { bytes in
            try push.send([UnsafeRawBufferPointer(rebasing: bytes[0..<2]), UnsafeRawBufferPointer(start: nil, count: 0)])
        }
        #expect(sent)
        #expect(try awaitMessage(pull) == [[0, 1], []])
    }

    @Test("an empty frame list is rejected with EINVAL instead of sending nothing silently")
    func emptyMessage() throws {
        let context = try ZMQContext()
        let push = try context.makeSocket(.push)
        defer { push.close() }
        let error = try #require(throws: ZMQError.self) { try push.send([[UInt8]]()) }
        #expect(error.code == EINVAL)
    }

    @Test("receive(dontWait:) returns nil when nothing is queued")
    func receiveNothing() throws {
        let context = try ZMQContext()
        let (router, endpoint) = try boundRouter(context)
        defer { router.close() }
        #expect(try router.receive() == nil)
        let dealer = try context.makeSocket(.dealer)
        defer { dealer.close() }
        try dealer.connect(endpoint)
        #expect(try dealer.receive(dontWait: true) == nil)
    }

    @Test("timeouts: a blocking send with no peer returns false, a blocking receive returns nil")
    func timeouts() throws {
        let context = try ZMQContext()
        let dealer = try context.makeSocket(.dealer)
        defer { dealer.close() }
        try dealer.setSendTimeoutMilliseconds(20)
        try dealer.setReceiveTimeoutMilliseconds(20)
        let started = ContinuousClock.now
        #expect(try dealer.send([[1]], dontWait: false) == false)
        #expect(try dealer.receive(dontWait: false) == nil)
        #expect(ContinuousClock.now - started >= .milliseconds(30))
    }

    @Test("SUB receives only what it subscribed to")
    func subscription() throws {
        let context = try ZMQContext()
        let pub = try context.makeSocket(.pub)
        let sub = try context.makeSocket(.sub)
        defer { pub.close(); sub.close() }
        try pub.bind("tcp://127.0.0.1:*")
        try sub.subscribe(prefix: Array("a".utf8))
        try sub.connect(try pub.lastEndpoint)
        let poller = ZMQPoller()
        poller.add(sub)
        // PUB drops messages until the subscription has reached it, so publish until one arrives.
        let deadline = ContinuousClock.now + .seconds(3)
        var received: [[UInt8]]?
        while received == nil, ContinuousClock.now < deadline {
            try pub.send([Array("b-topic".utf8), [2]])
            try pub.send([Array("a-topic".utf8), [1]])
            if try poller.waitForReadable(timeoutMilliseconds: 10) > 0 { received = try sub.receive() }
        }
        #expect(received == [Array("a-topic".utf8), [1]])
        while let more = try sub.receive() { #expect(more == [Array("a-topic".utf8), [1]]) }
    }
}
