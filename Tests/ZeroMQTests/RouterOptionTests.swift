import Testing
import ZeroMQ
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

@Suite("Routing options")
struct RouterOptionTests {
    @Test("routerMandatory turns a send to an unknown identity into EHOSTUNREACH; without it the message is dropped")
    func routerMandatory() throws {
        let context = try ZMQContext()
        let (router, _) = try boundRouter(context)
        defer { router.close() }
        #expect(try router.send([Array("nobody".utf8), [1]]))  // silently dropped by default

        try router.setRouterMandatory(true)
        let error = try #require(throws: ZMQError.self) { try router.send([Array("nobody".utf8), [1]]) }
        #expect(error.isHostUnreachable)
        #expect(error.code == EHOSTUNREACH)
        #expect(!error.message.isEmpty)
    }

    @Test("immediate: a DEALER without a live connection refuses to queue instead of buffering for a dead peer")
    func immediate() throws {
        let context = try ZMQContext()
        // An endpoint nobody listens on, without hard-coding a port.
        let (gone, deadEndpoint) = try boundRouter(context)
        gone.close()

        let queueing = try context.makeSocket(.dealer)
        let immediate = try context.makeSocket(.dealer)
        defer { queueing.close(); immediate.close() }
        try immediate.setImmediate(true)
        try queueing.connect(deadEndpoint)
        try immediate.connect(deadEndpoint)
        #expect(try queueing.send([[1]]))
        #expect(try immediate.send([[1]]) == false)
    }

    @Test("a peer sending more than maximumMessageSizeBytes is disconnected and its message never delivered")
    func maximumMessageSize() throws {
        let context = try ZMQContext()
        let router = try context.makeSocket(.router)
        defer { router.close() }
        // Before bind: the listener copies the socket's options when it is created; later changes don't reach it.
        // Not much lower: libzmq applies the limit to the ZMTP READY command too (about 40 bytes for a DEALER).
        try router.setMaximumMessageSizeBytes(64)
        try router.bind("tcp://127.0.0.1:*")
        let endpoint = try router.lastEndpoint
        let monitor = try router.makeMonitor(kinds: [.accepted, .disconnected])
        defer { monitor.close() }
        let dealer = try context.makeSocket(.dealer)
        defer { dealer.close() }
        try dealer.connect(endpoint)
        try dealer.send([[UInt8](repeating: 1, count: 64)])  // at the limit: delivered
        #expect(try awaitMessage(router).last == [UInt8](repeating: 1, count: 64))
        try dealer.send([[UInt8](repeating: 2, count: 65)])
        _ = try awaitEvent(.disconnected, on: monitor)
        #expect(try router.receive() == nil)
    }

    @Test("every typed option setter is accepted by libzmq")
    func optionSetters() throws {
        let context = try ZMQContext()
        let socket = try context.makeSocket(.dealer)
        defer { socket.close() }
        try socket.setSendHighWaterMark(1_000)
        try socket.setReceiveHighWaterMark(0)
        try socket.setImmediate(false)
        try socket.setIdentity([1, 2, 3])
        try socket.setMaximumMessageSizeBytes(-1)
        try socket.setSendTimeoutMilliseconds(-1)
        try socket.setReceiveTimeoutMilliseconds(100)
        try socket.setReconnectIntervalMilliseconds(20)
        try socket.setReconnectIntervalMaxMilliseconds(1_000)
        try socket.setHandshakeIntervalMilliseconds(2_000)
        try socket.setHeartbeatIntervalMilliseconds(500)
        try socket.setHeartbeatTimeoutMilliseconds(1_500)
        try socket.setTCPKeepalive(true, idleSeconds: 30, intervalSeconds: 5, probeCount: 3)
        // libzmq validates: an empty identity is rejected.
        let error = try #require(throws: ZMQError.self) { try socket.setIdentity([]) }
        #expect(error.code == EINVAL)
        #expect(error.operation.contains("ZMQ_ROUTING_ID"))
    }
}
