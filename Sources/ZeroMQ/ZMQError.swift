import CZeroMQ
#if canImport(Glibc)
import Glibc
#endif

/// A failed libzmq call: the operation, errno and `zmq_strerror`'s text. Every libzmq failure becomes one of these.
public struct ZMQError: Error, CustomStringConvertible, Sendable {
    public let operation: String
    public let code: Int32
    public let message: String

    /// The error libzmq reported for the call that just failed.
    static func last(_ operation: String) -> ZMQError {
        let code = zmq_errno()
        return ZMQError(operation: operation, code: code, message: String(cString: zmq_strerror(code)))
    }

    public var description: String { "\(operation): \(message) (errno \(code))" }

    /// The operation would have blocked.
    public var isAgain: Bool { code == EAGAIN }
    /// ROUTER_MANDATORY: no peer with that identity.
    public var isHostUnreachable: Bool { code == EHOSTUNREACH }
    public var isInterrupted: Bool { code == EINTR }
    /// The context was terminated.
    public var isTerminated: Bool { code == ETERM }
}
