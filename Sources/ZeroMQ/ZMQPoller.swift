import CZeroMQ
#if canImport(Glibc)
import Glibc
#endif

/// Waits until any of a fixed set of sockets has a message to read. The item array is reused on every call, so a
/// hot loop allocates nothing here beyond the returned indices.
public final class ZMQPoller {
    private var sockets: [ZMQSocket] = []
    private var items: [zmq_pollitem_t] = []

    public init() {}

    public func add(_ socket: ZMQSocket) {
        sockets.append(socket)
        items.append(zmq_pollitem_t(socket: socket.rawHandle, fd: 0, events: Int16(ZMQ_POLLIN), revents: 0))
    }

    /// Indices (in `add` order) of the sockets that are readable; empty on timeout or interruption.
    public func poll(timeoutMilliseconds: Int) throws -> [Int] {
        for index in items.indices { items[index].socket = sockets[index].rawHandle }
        let count = zmq_poll(&items, Int32(items.count), timeoutMilliseconds)
        if count < 0 {
            let error = ZMQError.last("zmq_poll")
            if error.isInterrupted { return [] }
            throw error
        }
        guard count > 0 else { return [] }
        return items.indices.filter { items[$0].revents & Int16(ZMQ_POLLIN) != 0 }
    }
}
