/// Deliberately broken rules, switched on only by the simulator's bug-injection tests, to show that the simulator
/// catches each one. Production code never sets these.
public struct InjectedBugs: OptionSet, Hashable, Sendable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// The gateway promotes the surviving ledger even when it is not recorded as in sync.
    public static let promoteStaleFollower = InjectedBugs(rawValue: 1 << 0)
    /// Ledgers accept replication from older epochs, and a leader ignores news of a newer one.
    public static let skipEpochCheck = InjectedBugs(rawValue: 1 << 1)
    /// A follower acknowledges records when it receives them, before they are durable.
    public static let acknowledgeBeforeSync = InjectedBugs(rawValue: 1 << 2)
    /// The ledger forgets request ids: a retried request is applied again.
    public static let forgetIdempotency = InjectedBugs(rawValue: 1 << 3)

    public static let named: [(String, InjectedBugs)] = [
        ("promote-stale-follower", .promoteStaleFollower),
        ("skip-epoch-check", .skipEpochCheck),
        ("ack-before-fsync", .acknowledgeBeforeSync),
        ("forget-idempotency", .forgetIdempotency),
    ]
}
