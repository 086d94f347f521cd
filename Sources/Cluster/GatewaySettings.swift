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

    /// Test-only: rules the simulator breaks on purpose.
    public var injectedBugs: InjectedBugs = []

    public init() {}
}
