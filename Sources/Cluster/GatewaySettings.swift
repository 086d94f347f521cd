/// Tunables of the gateway. Defaults aim at a failover gap well under a second on loopback.
public struct GatewaySettings: Hashable, Sendable {
    public var heartbeatIntervalNanos: UInt64 = .milliseconds(50)
    /// A ledger silent for this long is down.
    public var failureTimeoutNanos: UInt64 = .milliseconds(250)
    /// A request that finds no leader for this long is answered `unavailable` (retryable).
    public var requestDeadlineNanos: UInt64 = .milliseconds(5000)
    /// A forwarded request unanswered for this long is sent again (same token, same request id): protection against
    /// a message lost on a reconnect, which is rare. Kept well above slow answers (a 1000-item batch under load can
    /// take over a second), because every resend of a batch is a full replay that adds to the leader's backlog.
    public var resendIntervalNanos: UInt64 = .milliseconds(3000)

    // Admission: requests beyond these bounds are answered `overloaded` at once and never forwarded. They bound the
    // gateway's memory and, since the leader drains the queue at its capacity, the time an admitted request waits:
    // 1024 requests at about 33,000 single transfers per second is about 30 ms.

    /// Requests held (waiting or forwarded, not yet answered), from all clients together.
    public var maxInflightRequests = 1024
    /// Requests held for one client connection (one ROUTER identity): one flooding connection cannot take the
    /// whole admission budget.
    public var maxInflightRequestsPerClient = 256
    /// Bytes of request bodies held, from all clients together: a batch of 1000 items is ~100 KB, so 8 MiB is
    /// about 80 such batches (the bench keeps 8 in flight).
    public var maxInflightBytes = 8 << 20
    /// While no leader serves (a failover), and for `failoverGraceNanos` after one is confirmed, the three bounds
    /// above are this many times larger: requests arriving during a failover are held, not refused — the client
    /// sees a delay, as before — and the backlog has time to drain through the window. 16 × 1024 requests hold
    /// about half a second of traffic at capacity, twice the usual failover gap.
    public var failoverAdmissionFactor = 16
    public var failoverGraceNanos: UInt64 = .milliseconds(1000)
    /// The back-off an `overloaded` reply suggests.
    public var overloadRetryAfterMilliseconds = 20

    // Backpressure: the forward window. Requests forwarded to the leader and not yet answered, at most; the rest
    // wait at the gateway in arrival order. It bounds the leader's inbox (the gateway is its only source of client
    // work) and what a new leader receives at once after a failover.

    public var maxForwardedRequests = 256
    public var maxForwardedBytes = 4 << 20

    /// Test-only: rules the simulator breaks on purpose.
    public var injectedBugs: InjectedBugs = []

    public init() {}
}
