/// Tunables of the gateway. Defaults aim at a failover gap well under a second on loopback.
public struct GatewaySettings: Hashable, Sendable {
    public var heartbeatIntervalNanos: UInt64 = .milliseconds(50)
    /// A ledger silent for this long is down.
    public var failureTimeoutNanos: UInt64 = .milliseconds(250)
    /// A request that finds no leader for this long is answered `unavailable` (retryable).
    public var requestDeadlineNanos: UInt64 = .milliseconds(5000)
    /// A forwarded request unanswered for this long is sent again (same token, same request id): loss protection.
    public var resendIntervalNanos: UInt64 = .milliseconds(1000)

    /// Test-only: rules the simulator breaks on purpose.
    public var injectedBugs: InjectedBugs = []

    public init() {}
}
