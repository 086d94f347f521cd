import CZeroMQ

/// Watches another socket's connections (`zmq_socket_monitor`): libzmq publishes events on an inproc PAIR endpoint
/// and this object holds the PAIR socket that reads them. Poll `socket` together with the data sockets to react to
/// a peer disconnecting as soon as libzmq notices.
///
/// libzmq drops events when nobody reads them fast enough (its side sends without blocking), so treat them as hints
/// that speed up failure detection, not as a reliable log. Not `Sendable`: it belongs to the monitored socket's thread.
public final class ZMQMonitor {
    /// The PAIR socket the events arrive on; register it with a `ZMQPoller` to wait for events.
    public let socket: ZMQSocket
    /// The inproc endpoint libzmq publishes on (random, so several monitors never collide).
    public let endpoint: String

    init(monitoring target: ZMQSocket, kinds: Set<ZMQMonitorEvent.Kind>) throws {
        let endpoint = "inproc://zeromq-swift-monitor-" + String(UInt64.random(in: .min ... .max), radix: 16)
        let mask = kinds.reduce(Int32(0)) { $0 | Int32($1.rawValue) }
        let handle = try target.live("zmq_socket_monitor")
        guard zmq_socket_monitor(handle, endpoint, mask) == 0 else { throw ZMQError.last("zmq_socket_monitor") }
        do {
            let socket = try target.context.makeSocket(.pair)
            try socket.connect(endpoint)
            self.socket = socket
            self.endpoint = endpoint
        } catch {
            zmq_socket_monitor(handle, nil, 0)
            throw error
        }
    }

    /// The next event; nil when none is queued (with `dontWait`) or the receive timeout expired.
    public func receiveEvent(dontWait: Bool = true) throws -> ZMQMonitorEvent? {
        guard let frames = try socket.receive(dontWait: dontWait) else { return nil }
        return try ZMQMonitorEvent(frames: frames)
    }

    /// Closes the reading side. Idempotent. To stop libzmq producing events as well, call `stopMonitoring()` on the
    /// monitored socket.
    public func close() { socket.close() }
}

extension ZMQSocket {
    /// Starts monitoring this socket's connections for `kinds` (default: all). Only one monitor per socket is
    /// active: a new one replaces the previous.
    public func makeMonitor(
        kinds: Set<ZMQMonitorEvent.Kind> = Set(ZMQMonitorEvent.Kind.allCases)
    ) throws -> ZMQMonitor {
        try ZMQMonitor(monitoring: self, kinds: kinds)
    }

    /// Stops the active monitor, if any.
    public func stopMonitoring() throws {
        guard zmq_socket_monitor(try live("zmq_socket_monitor"), nil, 0) == 0 else {
            throw ZMQError.last("zmq_socket_monitor")
        }
    }
}
