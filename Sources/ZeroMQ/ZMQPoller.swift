import CZeroMQ
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Waits until any of a fixed set of sockets has a message to read (`zmq_poll`, `ZMQ_POLLIN`).
///
/// Built once per event loop and reused: the `zmq_pollitem_t` array is kept between calls, so
/// `waitForReadable(timeoutMilliseconds:)` plus `isReadable(at:)` allocate nothing; `poll(timeoutMilliseconds:)`
/// allocates only its result. Not `Sendable`, like the sockets it holds.
public final class ZMQPoller {
    private var sockets: [ZMQSocket] = []
    private var items: [zmq_pollitem_t] = []

    public init() {}

    /// The number of registered sockets.
    public var count: Int { sockets.count }

    /// Registers `socket` for readability and returns its index, the number `poll` reports it by. The poller keeps
    /// the socket alive; rebuild the poller rather than polling a socket that has been closed.
    @discardableResult
    public func add(_ socket: ZMQSocket) -> Int {
        sockets.append(socket)
        items.append(zmq_pollitem_t(socket: socket.rawHandle, fd: -1, events: Int16(ZMQ_POLLIN), revents: 0))
        return sockets.count - 1
    }

    /// Indices (in `add` order) of the sockets with a message to read; empty on timeout or when a signal interrupts
    /// the wait. `timeoutMilliseconds`: 0 = just check, negative = wait forever.
    public func poll(timeoutMilliseconds: Int) throws -> [Int] {
        guard try waitForReadable(timeoutMilliseconds: timeoutMilliseconds) > 0 else { return [] }
        return items.indices.filter { items[$0].revents & Int16(ZMQ_POLLIN) != 0 }
    }

    /// The allocation-free form of `poll`: waits, then returns how many sockets are readable; ask which with
    /// `isReadable(at:)`. 0 on timeout or interruption.
    /// - Throws: `ENOTSOCK` if a registered socket was closed (libzmq would be handed freed memory), `ETERM`, etc.
    @discardableResult
    public func waitForReadable(timeoutMilliseconds: Int) throws -> Int {
        for index in items.indices {
            // Re-read every time: a closed socket must never reach zmq_poll.
            guard let handle = sockets[index].rawHandle else { throw ZMQError.closed("zmq_poll (socket \(index))") }
            items[index].socket = handle
            items[index].revents = 0
        }
        let readable = items.withUnsafeMutableBufferPointer {
            zmq_poll($0.baseAddress, Int32($0.count), timeoutMilliseconds)
        }
        if readable < 0 {
            let error = ZMQError.last("zmq_poll")
            if error.isInterrupted { return 0 }
            throw error
        }
        return Int(readable)
    }

    /// Whether socket `index` was readable at the last poll.
    public func isReadable(at index: Int) -> Bool {
        items[index].revents & Int16(ZMQ_POLLIN) != 0
    }
}
