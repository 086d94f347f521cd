import Testing
import ZeroMQ
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

@Suite("Context, socket lifecycle and errors")
struct LifecycleTests {
    @Test("version is the libzmq 4.x that pkg-config found")
    func version() {
        let version = ZMQ.version
        #expect(version.major == 4)
        #expect(version.minor >= 3)
    }

    @Test("errors carry the operation, errno and zmq_strerror's text")
    func errorText() throws {
        let context = try ZMQContext()
        let socket = try context.makeSocket(.router)
        defer { socket.close() }
        let error = try #require(throws: ZMQError.self) { try socket.bind("bogus://x") }
        #expect(error.code == EPROTONOSUPPORT)
        #expect(error.message == "Protocol not supported")
        #expect(error.operation == "zmq_bind bogus://x")
        #expect(error.description.contains("bogus://x"))
        #expect(error.description.contains("Protocol not supported"))

        let badPort = try #require(throws: ZMQError.self) { try socket.bind("tcp://127.0.0.1:notaport") }
        #expect(badPort.code == EINVAL)
        #expect(badPort.message == "Invalid argument")
    }

    @Test("close is idempotent and a closed socket throws ENOTSOCK instead of crashing")
    func closeIdempotent() throws {
        let context = try ZMQContext()
        let socket = try context.makeSocket(.dealer)
        #expect(!socket.isClosed)
        socket.close()
        socket.close()
        #expect(socket.isClosed)
        #expect(throws: ZMQError.self) { try socket.bind("inproc://x") }
        #expect(throws: ZMQError.self) { try socket.send([[1]]) }
        #expect(throws: ZMQError.self) { try socket.receive() }
        #expect(throws: ZMQError.self) { try socket.lastEndpoint }
        let error = try #require(throws: ZMQError.self) { try socket.setSendHighWaterMark(1) }
        #expect(error.isClosedSocket)
    }

    @Test("terminate: no new sockets, blocking calls fail with ETERM, and the context still goes away cleanly")
    func terminate() throws {
        let context = try ZMQContext()
        let socket = try context.makeSocket(.pull)
        try socket.bind("inproc://terminate")
        context.terminate()
        context.terminate()
        let blocked = try #require(throws: ZMQError.self) { try socket.receive(dontWait: false) }
        #expect(blocked.isTerminated)
        let noSocket = try #require(throws: ZMQError.self) { try context.makeSocket(.push) }
        #expect(noSocket.isTerminated)
        socket.close()
    }

    @Test("a context dropped while sockets are open is kept alive by them, so nothing hangs")
    func contextOutlivedBySocket() throws {
        var socket: ZMQSocket? = try ZMQContext().makeSocket(.router)
        try socket?.bind("tcp://127.0.0.1:*")
        #expect(try socket?.lastEndpoint.hasPrefix("tcp://127.0.0.1:") == true)
        socket = nil  // releases the socket, then the context: zmq_ctx_term must not block
    }
}
