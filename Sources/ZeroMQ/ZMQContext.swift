import CZeroMQ
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A libzmq context: the I/O threads and the registry that sockets (and inproc endpoints) live in.
///
/// libzmq contexts are thread-safe and the only state here is the immutable handle, so this class is `Sendable`:
/// share one context between threads and give each thread its own sockets.
///
/// Lifetime: `zmq_ctx_term` blocks until every socket of the context is closed. To make that hang impossible, every
/// `ZMQSocket` keeps its context alive, so `deinit` (which calls `zmq_ctx_term`) can only run once all sockets are gone.
/// Close sockets (or drop them) before expecting the context to go away.
public final class ZMQContext: @unchecked Sendable {
    let handle: UnsafeMutableRawPointer

    public init() throws {
        guard let handle = zmq_ctx_new() else { throw ZMQError.last("zmq_ctx_new") }
        self.handle = handle
    }

    /// A new socket of `type` with `ZMQ_LINGER` 0 (see `ZMQSocket`).
    public func makeSocket(_ type: ZMQSocketType) throws -> ZMQSocket {
        try ZMQSocket(context: self, type: type)
    }

    /// Shuts the context down (`zmq_ctx_shutdown`), from any thread: blocking calls on its sockets return, and every
    /// later call except `close()` fails, with `ETERM` (`ZMQError.isTerminated`); no new socket can be made.
    /// It does not wait for sockets to close: the context's memory is released by `deinit` once the last socket is
    /// gone. Idempotent.
    public func terminate() {
        zmq_ctx_shutdown(handle)
    }

    deinit {
        // Cannot block on open sockets: each socket holds a strong reference to this context.
        while zmq_ctx_term(handle) != 0 && zmq_errno() == EINTR {}
    }
}
