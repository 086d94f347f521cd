import CZeroMQ
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A failed libzmq call: which operation, its errno and `zmq_strerror`'s text. Every libzmq failure the wrapper sees
/// becomes one of these, so callers can both log something readable and branch on the errno.
public struct ZMQError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The libzmq call (and, where it helps, its argument), e.g. "zmq_bind bogus://x".
    public let operation: String
    /// The errno libzmq reported (libzmq-specific codes such as `ETERM` included).
    public let code: Int32
    /// `zmq_strerror(code)`, or the wrapper's own explanation for errors it raises itself.
    public let message: String

    public init(operation: String, code: Int32, message: String) {
        self.operation = operation
        self.code = code
        self.message = message
    }

    /// An error for `code` with libzmq's text for it.
    public init(operation: String, code: Int32) {
        self.init(operation: operation, code: code, message: String(cString: zmq_strerror(code)))
    }

    /// The error libzmq reported for the call that just failed on this thread (`zmq_errno` is thread-local).
    static func last(_ operation: @autoclosure () -> String) -> ZMQError {
        let code = zmq_errno()
        return ZMQError(operation: operation(), code: code)
    }

    /// Raised by the wrapper for a socket used after `close()`, instead of handing libzmq a dangling pointer.
    static func closed(_ operation: String) -> ZMQError {
        ZMQError(operation: operation, code: ENOTSOCK, message: "socket is closed")
    }

    public var description: String { "\(operation): \(message) (errno \(code))" }

    /// The call would have blocked (non-blocking mode), or a send/receive timeout expired.
    public var isAgain: Bool { code == EAGAIN }
    /// A ROUTER with `setRouterMandatory(true)` has no connected peer with that identity.
    public var isHostUnreachable: Bool { code == EHOSTUNREACH }
    /// A signal interrupted the call; retrying is the usual answer.
    public var isInterrupted: Bool { code == EINTR }
    /// The socket's context was terminated (`ZMQContext.terminate()`): the caller should close its sockets and stop.
    public var isTerminated: Bool { code == ETERM }
    /// The socket was already closed.
    public var isClosedSocket: Bool { code == ENOTSOCK }
}
