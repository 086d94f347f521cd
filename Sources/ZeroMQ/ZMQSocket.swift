import CZeroMQ
#if canImport(Glibc)
import Glibc
#endif

/// One libzmq socket. It belongs to the thread that uses it (libzmq sockets are not thread-safe), so it is not
/// `Sendable`. Created with `ZMQ_LINGER` 0: closing never waits for unsent messages.
public final class ZMQSocket {
    private var handle: UnsafeMutableRawPointer?
    /// Kept alive as long as the socket: closing the context first would hang.
    private let context: ZMQContext
    /// One message object reused for every receive; it never moves and is never copied.
    private let message = UnsafeMutablePointer<zmq_msg_t>.allocate(capacity: 1)

    init(context: ZMQContext, type: ZMQSocketType) throws {
        self.context = context
        guard let handle = zmq_socket(context.handle, type.rawValue) else {
            message.deallocate()
            throw ZMQError.last("zmq_socket")
        }
        self.handle = handle
        try setOption(ZMQ_LINGER, Int32(0), "ZMQ_LINGER")
    }

    deinit {
        close()
        message.deallocate()
    }

    /// Idempotent.
    public func close() {
        guard let handle else { return }
        zmq_close(handle)
        self.handle = nil
    }

    private func live(_ operation: String) throws -> UnsafeMutableRawPointer {
        guard let handle else { throw ZMQError(operation: operation, code: ENOTSOCK, message: "socket is closed") }
        return handle
    }

    // MARK: - Endpoints

    public func bind(_ endpoint: String) throws {
        guard zmq_bind(try live("zmq_bind"), endpoint) == 0 else { throw ZMQError.last("zmq_bind \(endpoint)") }
    }

    public func connect(_ endpoint: String) throws {
        guard zmq_connect(try live("zmq_connect"), endpoint) == 0 else { throw ZMQError.last("zmq_connect \(endpoint)") }
    }

    public func disconnect(_ endpoint: String) throws {
        guard zmq_disconnect(try live("zmq_disconnect"), endpoint) == 0 else {
            throw ZMQError.last("zmq_disconnect \(endpoint)")
        }
    }

    /// The endpoint actually bound, e.g. after binding `tcp://127.0.0.1:*`.
    public var lastEndpoint: String {
        get throws {
            var buffer = [CChar](repeating: 0, count: 256)
            var size = buffer.count
            guard zmq_getsockopt(try live("zmq_getsockopt"), ZMQ_LAST_ENDPOINT, &buffer, &size) == 0 else {
                throw ZMQError.last("ZMQ_LAST_ENDPOINT")
            }
            return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
    }

    // MARK: - Options

    private func setOption<T: BitwiseCopyable>(_ option: Int32, _ value: T, _ name: String) throws {
        var value = value
        guard zmq_setsockopt(try live("zmq_setsockopt"), option, &value, MemoryLayout<T>.size) == 0 else {
            throw ZMQError.last("zmq_setsockopt \(name)")
        }
    }

    /// Messages queued for sending before sends block (or fail with `dontWait`).
    public func setSendHighWaterMark(_ messages: Int32) throws { try setOption(ZMQ_SNDHWM, messages, "ZMQ_SNDHWM") }
    public func setReceiveHighWaterMark(_ messages: Int32) throws { try setOption(ZMQ_RCVHWM, messages, "ZMQ_RCVHWM") }
    /// ROUTER: fail with EHOSTUNREACH (instead of silently dropping) when the identity is unknown, and with EAGAIN
    /// (instead of dropping) at the high-water mark.
    public func setRouterMandatory(_ on: Bool) throws {
        try setOption(ZMQ_ROUTER_MANDATORY, Int32(on ? 1 : 0), "ZMQ_ROUTER_MANDATORY")
    }
    /// Queue messages only to completed connections: nothing piles up for a peer that is down.
    public func setImmediate(_ on: Bool) throws { try setOption(ZMQ_IMMEDIATE, Int32(on ? 1 : 0), "ZMQ_IMMEDIATE") }
    public func setIdentity(_ identity: [UInt8]) throws {
        let socket = try live("zmq_setsockopt")
        let result = identity.withUnsafeBytes { zmq_setsockopt(socket, ZMQ_ROUTING_ID, $0.baseAddress, $0.count) }
        guard result == 0 else { throw ZMQError.last("zmq_setsockopt ZMQ_ROUTING_ID") }
    }
    /// A peer sending a bigger message is disconnected.
    public func setMaximumMessageSizeBytes(_ bytes: Int64) throws { try setOption(ZMQ_MAXMSGSIZE, bytes, "ZMQ_MAXMSGSIZE") }
    public func setReconnectIntervalMilliseconds(_ milliseconds: Int32) throws {
        try setOption(ZMQ_RECONNECT_IVL, milliseconds, "ZMQ_RECONNECT_IVL")
    }
    public func setSendTimeoutMilliseconds(_ milliseconds: Int32) throws { try setOption(ZMQ_SNDTIMEO, milliseconds, "ZMQ_SNDTIMEO") }
    public func setReceiveTimeoutMilliseconds(_ milliseconds: Int32) throws {
        try setOption(ZMQ_RCVTIMEO, milliseconds, "ZMQ_RCVTIMEO")
    }

    // MARK: - Sending and receiving

    /// Sends a multipart message (all frames or none: libzmq delivers multipart messages atomically).
    /// Returns false, sending nothing, when the first frame would block; other failures throw.
    @discardableResult
    public func send(_ frames: [[UInt8]], dontWait: Bool = true) throws -> Bool {
        let socket = try live("zmq_send")
        precondition(!frames.isEmpty, "a message has at least one frame")
        for (index, frame) in frames.enumerated() {
            var flags: Int32 = dontWait ? ZMQ_DONTWAIT : 0
            if index < frames.count - 1 { flags |= ZMQ_SNDMORE }
            while true {
                // libzmq copies the bytes into its own message.
                let result = frame.withUnsafeBytes { zmq_send(socket, $0.baseAddress, $0.count, flags) }
                if result >= 0 { break }
                let error = ZMQError.last("zmq_send")
                if error.isInterrupted { continue }
                if error.isAgain && index == 0 { return false }
                throw error
            }
        }
        return true
    }

    /// Receives every frame of one message; nil when nothing is queued (with `dontWait`).
    public func receive(dontWait: Bool = true) throws -> [[UInt8]]? {
        let socket = try live("zmq_msg_recv")
        var frames: [[UInt8]] = []
        while true {
            zmq_msg_init(message)
            defer { zmq_msg_close(message) }
            let flags: Int32 = dontWait && frames.isEmpty ? ZMQ_DONTWAIT : 0
            let size = zmq_msg_recv(message, socket, flags)
            if size < 0 {
                let error = ZMQError.last("zmq_msg_recv")
                if error.isInterrupted { continue }
                if error.isAgain && frames.isEmpty { return nil }
                throw error
            }
            let data = zmq_msg_data(message)
            frames.append(size == 0 ? [] : [UInt8](UnsafeRawBufferPointer(start: data, count: Int(size))))
            if zmq_msg_more(message) == 0 { return frames }
        }
    }

    var rawHandle: UnsafeMutableRawPointer? { handle }
}
