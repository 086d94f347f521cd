import CZeroMQ
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One libzmq socket.
///
/// libzmq sockets are not thread-safe, so this class is deliberately not `Sendable`: a socket belongs to the thread
/// (or isolation region) that made it. It is created with `ZMQ_LINGER` 0, so closing never waits for unsent messages
/// and never holds up the context's termination; a banking node retries at the protocol level instead.
///
/// Options live in `ZMQSocket+Options.swift`, sending and receiving in `ZMQSocket+Messaging.swift`.
public final class ZMQSocket {
    /// nil once closed: every call checks it, so a closed socket fails with `ENOTSOCK` instead of touching freed memory.
    private var handle: UnsafeMutableRawPointer?
    /// Held so the context outlives the socket: `zmq_ctx_term` would block forever on a socket still open.
    let context: ZMQContext
    public let type: ZMQSocketType

    init(context: ZMQContext, type: ZMQSocketType) throws {
        // Everything that can fail happens before any stored property is set, so a throw leaves nothing half-built.
        guard let handle = zmq_socket(context.handle, type.rawValue) else { throw ZMQError.last("zmq_socket") }
        var linger: Int32 = 0
        guard zmq_setsockopt(handle, ZMQ_LINGER, &linger, MemoryLayout<Int32>.size) == 0 else {
            let error = ZMQError.last("zmq_setsockopt ZMQ_LINGER")
            zmq_close(handle)
            throw error
        }
        self.handle = handle
        self.context = context
        self.type = type
    }

    deinit { close() }

    /// Closes the socket; pending messages are dropped (linger 0). Idempotent; later calls throw `ENOTSOCK`.
    public func close() {
        guard let handle else { return }
        zmq_close(handle)
        self.handle = nil
    }

    /// Whether `close()` has been called.
    public var isClosed: Bool { handle == nil }

    /// The live libzmq handle, or a thrown `ENOTSOCK` naming `operation`.
    func live(_ operation: @autoclosure () -> String) throws -> UnsafeMutableRawPointer {
        guard let handle else { throw ZMQError.closed(operation()) }
        return handle
    }

    /// For the poller, which must never hand libzmq a closed socket.
    var rawHandle: UnsafeMutableRawPointer? { handle }

    // MARK: - Endpoints

    /// Listens on `endpoint`, e.g. "tcp://127.0.0.1:*" (any free port; read it back with `lastEndpoint`).
    public func bind(_ endpoint: String) throws {
        guard zmq_bind(try live("zmq_bind \(endpoint)"), endpoint) == 0 else {
            throw ZMQError.last("zmq_bind \(endpoint)")
        }
    }

    /// Connects to `endpoint`. For TCP this returns at once; libzmq connects (and reconnects) in the background.
    public func connect(_ endpoint: String) throws {
        guard zmq_connect(try live("zmq_connect \(endpoint)"), endpoint) == 0 else {
            throw ZMQError.last("zmq_connect \(endpoint)")
        }
    }

    /// Drops a connection made with `connect`; `endpoint` must be spelled as it was there.
    public func disconnect(_ endpoint: String) throws {
        guard zmq_disconnect(try live("zmq_disconnect \(endpoint)"), endpoint) == 0 else {
            throw ZMQError.last("zmq_disconnect \(endpoint)")
        }
    }

    /// Stops listening on an endpoint passed to `bind` (use the resolved `lastEndpoint` for wildcard binds).
    public func unbind(_ endpoint: String) throws {
        guard zmq_unbind(try live("zmq_unbind \(endpoint)"), endpoint) == 0 else {
            throw ZMQError.last("zmq_unbind \(endpoint)")
        }
    }

    /// The endpoint most recently bound or connected, resolved: after binding "tcp://127.0.0.1:*" it names the
    /// actual port, which is how tests and nodes avoid fixed ports.
    public var lastEndpoint: String {
        get throws {
            let socket = try live("zmq_getsockopt ZMQ_LAST_ENDPOINT")
            // Large enough for any TCP endpoint and for IPC paths (sun_path is at most 108 bytes).
            var buffer = [UInt8](repeating: 0, count: 512)
            var size = buffer.count
            guard zmq_getsockopt(socket, ZMQ_LAST_ENDPOINT, &buffer, &size) == 0 else {
                throw ZMQError.last("zmq_getsockopt ZMQ_LAST_ENDPOINT")
            }
            return String(decoding: buffer.prefix { $0 != 0 }, as: UTF8.self)
        }
    }
}

@available(*, unavailable, message: "a libzmq socket must stay on one thread")
extension ZMQSocket: Sendable {}
