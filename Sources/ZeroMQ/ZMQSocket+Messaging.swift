import CZeroMQ
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Multipart send and receive. libzmq delivers a multipart message atomically (all frames or none), so the unit
/// here is always a whole message: an array of frames.
extension ZMQSocket {
    /// Sends `frames` as one multipart message (`ZMQ_SNDMORE` on all but the last). libzmq copies each frame into its
    /// own message, so the arrays can be reused as soon as this returns.
    ///
    /// - Returns: false, having sent nothing, when the message cannot be queued now: with `dontWait` the peer queue is
    ///   full or (DEALER, `setImmediate`) no peer is connected; without it the send timeout expired.
    /// - Throws: `ZMQError` for every other failure, e.g. `EHOSTUNREACH` from a mandatory ROUTER, `ETERM`, or
    ///   `EINVAL` for an empty frame list. A failure after the first frame (which libzmq does not produce for a
    ///   valid socket) throws too, and leaves the message half-sent.
    @discardableResult
    public func send(_ frames: [[UInt8]], dontWait: Bool = true) throws -> Bool {
        try sendMultipart(frameCount: frames.count, dontWait: dontWait) { socket, index, flags in
            frames[index].withUnsafeBytes { zmq_send(socket, $0.baseAddress, $0.count, flags) }
        }
    }

    /// `send(_:dontWait:)` for frames that are slices of larger buffers, so callers need not copy them out first.
    @discardableResult
    public func send(_ frames: [ArraySlice<UInt8>], dontWait: Bool = true) throws -> Bool {
        try sendMultipart(frameCount: frames.count, dontWait: dontWait) { socket, index, flags in
            frames[index].withUnsafeBytes { zmq_send(socket, $0.baseAddress, $0.count, flags) }
        }
    }

    /// `send(_:dontWait:)` for frames in memory the caller manages; the buffers need only live for this call.
    @discardableResult
    public func send(_ frames: [UnsafeRawBufferPointer], dontWait: Bool = true) throws -> Bool {
        try sendMultipart(frameCount: frames.count, dontWait: dontWait) { socket, index, flags in
            zmq_send(socket, frames[index].baseAddress, frames[index].count, flags)
        }
    }

    /// The shared send loop: `sendFrame` calls `zmq_send` for frame `index` with `flags` and returns its result.
    private func sendMultipart(
        frameCount: Int, dontWait: Bool,
        _ sendFrame: (_ socket: UnsafeMutableRawPointer, _ index: Int, _ flags: Int32) -> Int32
    ) throws -> Bool {
        let socket = try live("zmq_send")
        guard frameCount > 0 else {
            throw ZMQError(operation: "zmq_send", code: EINVAL, message: "a message needs at least one frame")
        }
        for index in 0..<frameCount {
            var flags: Int32 = dontWait ? ZMQ_DONTWAIT : 0
            if index < frameCount - 1 { flags |= ZMQ_SNDMORE }
            while sendFrame(socket, index, flags) < 0 {
                let error = ZMQError.last("zmq_send")
                if error.isInterrupted { continue }
                if error.isAgain && index == 0 { return false }
                throw error
            }
        }
        return true
    }

    /// Receives every frame of one message, copied into Swift arrays.
    ///
    /// - Returns: nil when no message is available: with `dontWait` nothing is queued; without it the receive timeout
    ///   expired. Signals (`EINTR`) are retried.
    /// - Throws: `ZMQError` for anything else, e.g. `ETERM` after `ZMQContext.terminate()`.
    public func receive(dontWait: Bool = true) throws -> [[UInt8]]? {
        try receiveMessage(dontWait: dontWait, readingProperties: false)?.frames
    }

    /// Like `receive`, with what libzmq knows of the connection the message came on (every frame of a message comes
    /// on one connection): the `User-Id` the ZAP handler gave it, and its file descriptor.
    public func receiveWithUserID(dontWait: Bool = true) throws -> ReceivedMessage? {
        try receiveMessage(dontWait: dontWait, readingProperties: true)
    }

    private func receiveMessage(dontWait: Bool, readingProperties: Bool) throws -> ReceivedMessage? {
        let socket = try live("zmq_msg_recv")
        // One zmq_msg_t, in place for the whole call: libzmq messages must never be copied bytewise.
        return try withUnsafeTemporaryAllocation(of: zmq_msg_t.self, capacity: 1) { buffer in
            let message = buffer.baseAddress!
            var received = ReceivedMessage()
            while true {
                zmq_msg_init(message)
                defer { zmq_msg_close(message) }
                // Only the first frame can be missing; the rest of a message arrives with it.
                let flags: Int32 = dontWait && received.frames.isEmpty ? ZMQ_DONTWAIT : 0
                if zmq_msg_recv(message, socket, flags) < 0 {
                    let error = ZMQError.last("zmq_msg_recv")
                    if error.isInterrupted { continue }
                    if error.isAgain && received.frames.isEmpty { return nil }
                    throw error
                }
                // A ROUTER's first frame (the routing id it made up) carries no properties: take them from any frame.
                if readingProperties {
                    if received.userID == nil, let property = zmq_msg_gets(message, "User-Id") {
                        let text = String(cString: property)
                        received.userID = text.isEmpty ? nil : text
                    }
                    if received.connectionDescriptor == nil {
                        let descriptor = zmq_msg_get(message, ZMQ_SRCFD)
                        if descriptor >= 0 { received.connectionDescriptor = descriptor }
                    }
                }
                // zmq_msg_size, not zmq_msg_recv's Int32 result, so frames over 2 GiB keep their length.
                received.frames.append([UInt8](UnsafeRawBufferPointer(start: zmq_msg_data(message),
                                                                      count: zmq_msg_size(message))))
                if zmq_msg_more(message) == 0 { return received }
            }
        }
    }
}

/// One message with what libzmq says of the connection it came on.
public struct ReceivedMessage: Sendable {
    public var frames: [[UInt8]] = []
    /// The `User-Id` the ZAP handler gave the connection; nil without a security mechanism (or a handler that named
    /// none).
    public var userID: String?
    /// The connection's socket (libzmq's `ZMQ_SRCFD`): what `shutdownConnection` closes. nil when libzmq gave none.
    public var connectionDescriptor: Int32?
}

extension ZMQSocket {
    /// Closes one connection of this socket from outside libzmq, by the descriptor a message came with: libzmq sees
    /// the connection end (a client reconnects, and is asked for its key again). libzmq has no call to drop one
    /// peer of a bound socket; shutting the descriptor down (never closing it: libzmq owns it) is the way. Safe on a
    /// descriptor already gone; one reused by a newer connection would cut that one (it reconnects).
    public static func shutdownConnection(descriptor: Int32) {
        _ = shutdown(descriptor, Int32(SHUT_RDWR))
    }
}
