import CZeroMQ

/// Typed setters for the socket options the cluster uses. Each takes its unit in its name because libzmq mixes
/// milliseconds, seconds, message counts and bytes behind one untyped call.
///
/// Set options before `bind`/`connect`: libzmq copies a socket's options into each listener and connection when
/// that is created, so most later changes (high-water marks, message size limit, heartbeats, reconnect and
/// handshake intervals, keepalive) never reach existing ones. Socket-level behaviour such as `setRouterMandatory`
/// and the send/receive timeouts takes effect at once.
extension ZMQSocket {
    private func setOption<T: BitwiseCopyable>(_ option: Int32, _ value: T, _ name: String) throws {
        let socket = try live("zmq_setsockopt \(name)")
        var value = value
        guard zmq_setsockopt(socket, option, &value, MemoryLayout<T>.size) == 0 else {
            throw ZMQError.last("zmq_setsockopt \(name)")
        }
    }

    private func setBytesOption(_ option: Int32, _ bytes: [UInt8], _ name: String) throws {
        let socket = try live("zmq_setsockopt \(name)")
        let result = bytes.withUnsafeBytes { zmq_setsockopt(socket, option, $0.baseAddress, $0.count) }
        guard result == 0 else { throw ZMQError.last("zmq_setsockopt \(name)") }
    }

    private func setFlag(_ option: Int32, _ on: Bool, _ name: String) throws {
        try setOption(option, Int32(on ? 1 : 0), name)
    }

    // MARK: Queues

    /// Messages queued per peer for sending before sends block (or return false with `dontWait`). 0 = unlimited.
    public func setSendHighWaterMark(_ messages: Int32) throws { try setOption(ZMQ_SNDHWM, messages, "ZMQ_SNDHWM") }

    /// Messages queued per peer on the receiving side before libzmq stops reading from it. 0 = unlimited.
    public func setReceiveHighWaterMark(_ messages: Int32) throws { try setOption(ZMQ_RCVHWM, messages, "ZMQ_RCVHWM") }

    /// ROUTER only: fail with `EHOSTUNREACH` instead of silently dropping a message to an unknown identity, and
    /// report a full peer queue as would-block instead of dropping.
    public func setRouterMandatory(_ on: Bool) throws { try setFlag(ZMQ_ROUTER_MANDATORY, on, "ZMQ_ROUTER_MANDATORY") }

    /// Queue messages only on completed connections, so nothing piles up (and goes stale) for a peer that is down;
    /// with no live peer a DEALER send then blocks or returns false.
    public func setImmediate(_ on: Bool) throws { try setFlag(ZMQ_IMMEDIATE, on, "ZMQ_IMMEDIATE") }

    /// The identity a ROUTER peer sees for this socket (ZMQ_ROUTING_ID); 1...255 bytes, not starting with 0 (libzmq
    /// reserves those). Set it before `connect`.
    public func setIdentity(_ identity: [UInt8]) throws { try setBytesOption(ZMQ_ROUTING_ID, identity, "ZMQ_ROUTING_ID") }

    /// A peer that sends a larger frame is disconnected: a bound on what one client can make the node allocate.
    /// -1 = unlimited. libzmq applies it to the ZMTP handshake's READY command as well (tens of bytes, up to ~300
    /// with a long identity), so a tiny limit silently drops every connection; keep it at kilobytes or more.
    public func setMaximumMessageSizeBytes(_ bytes: Int64) throws { try setOption(ZMQ_MAXMSGSIZE, bytes, "ZMQ_MAXMSGSIZE") }

    /// SUB only: receive messages whose first frame starts with `prefix` (empty = everything).
    public func subscribe(prefix: [UInt8]) throws { try setBytesOption(ZMQ_SUBSCRIBE, prefix, "ZMQ_SUBSCRIBE") }

    /// SUB only: undoes one matching `subscribe(prefix:)`.
    public func unsubscribe(prefix: [UInt8]) throws { try setBytesOption(ZMQ_UNSUBSCRIBE, prefix, "ZMQ_UNSUBSCRIBE") }

    // MARK: Timeouts

    /// How long a blocking send (`dontWait: false`) waits before giving up (send returns false). -1 = forever.
    public func setSendTimeoutMilliseconds(_ milliseconds: Int32) throws {
        try setOption(ZMQ_SNDTIMEO, milliseconds, "ZMQ_SNDTIMEO")
    }

    /// How long a blocking receive (`dontWait: false`) waits before giving up (receive returns nil). -1 = forever.
    public func setReceiveTimeoutMilliseconds(_ milliseconds: Int32) throws {
        try setOption(ZMQ_RCVTIMEO, milliseconds, "ZMQ_RCVTIMEO")
    }

    // MARK: Connection management

    /// Delay before reconnecting a dropped or refused connection (libzmq default 100 ms). Short values make a
    /// restarted peer reachable again quickly.
    public func setReconnectIntervalMilliseconds(_ milliseconds: Int32) throws {
        try setOption(ZMQ_RECONNECT_IVL, milliseconds, "ZMQ_RECONNECT_IVL")
    }

    /// Upper bound for the exponential reconnect back-off; 0 (default) = always use the reconnect interval.
    public func setReconnectIntervalMaxMilliseconds(_ milliseconds: Int32) throws {
        try setOption(ZMQ_RECONNECT_IVL_MAX, milliseconds, "ZMQ_RECONNECT_IVL_MAX")
    }

    /// Time allowed for the ZMTP handshake after a TCP connect before the connection is dropped (default 30 s);
    /// 0 = no limit.
    public func setHandshakeIntervalMilliseconds(_ milliseconds: Int32) throws {
        try setOption(ZMQ_HANDSHAKE_IVL, milliseconds, "ZMQ_HANDSHAKE_IVL")
    }

    /// Sends a ZMTP PING every interval when the connection is otherwise idle (0 = off). With
    /// `setHeartbeatTimeoutMilliseconds` this detects a silently dead peer far sooner than TCP does.
    public func setHeartbeatIntervalMilliseconds(_ milliseconds: Int32) throws {
        try setOption(ZMQ_HEARTBEAT_IVL, milliseconds, "ZMQ_HEARTBEAT_IVL")
    }

    /// How long to wait for any traffic after a PING before dropping the connection (default: the heartbeat interval).
    public func setHeartbeatTimeoutMilliseconds(_ milliseconds: Int32) throws {
        try setOption(ZMQ_HEARTBEAT_TIMEOUT, milliseconds, "ZMQ_HEARTBEAT_TIMEOUT")
    }

    /// Tells the remote end to drop the connection if it hears nothing for this long (sent with each PING; rounded
    /// to tenths of a second), so both ends of a silently dead link let go.
    public func setHeartbeatTTLMilliseconds(_ milliseconds: Int32) throws {
        try setOption(ZMQ_HEARTBEAT_TTL, milliseconds, "ZMQ_HEARTBEAT_TTL")
    }

    /// Gives up a TCP connect attempt after this long and tries again at the reconnect interval (0: the OS's limit,
    /// minutes). Without it, a connect begun during a partition goes on backing off (SYN retries at 1, 2, 4, ... s)
    /// long after the network healed.
    public func setConnectTimeoutMilliseconds(_ milliseconds: Int32) throws {
        try setOption(ZMQ_CONNECT_TIMEOUT, milliseconds, "ZMQ_CONNECT_TIMEOUT")
    }

    /// TCP keepalive (SO_KEEPALIVE) and, where given, its idle time, probe interval and probe count; nil leaves the
    /// OS default. Catches half-open connections when heartbeats are not in use.
    public func setTCPKeepalive(
        _ on: Bool, idleSeconds: Int32? = nil, intervalSeconds: Int32? = nil, probeCount: Int32? = nil
    ) throws {
        try setOption(ZMQ_TCP_KEEPALIVE, Int32(on ? 1 : 0), "ZMQ_TCP_KEEPALIVE")
        if let idleSeconds { try setOption(ZMQ_TCP_KEEPALIVE_IDLE, idleSeconds, "ZMQ_TCP_KEEPALIVE_IDLE") }
        if let intervalSeconds { try setOption(ZMQ_TCP_KEEPALIVE_INTVL, intervalSeconds, "ZMQ_TCP_KEEPALIVE_INTVL") }
        if let probeCount { try setOption(ZMQ_TCP_KEEPALIVE_CNT, probeCount, "ZMQ_TCP_KEEPALIVE_CNT") }
    }
}
