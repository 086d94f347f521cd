import Cluster

/// One simulation run, entirely decided by its seed and these options.
public struct SimulationOptions: Sendable {
    public var seed: UInt64
    public var clients = 4
    public var accounts = 6
    /// Faults are injected during this much virtual time; then everything heals.
    public var faultPhaseNanos: UInt64 = 4_000_000_000
    /// After the faults stop, the cluster must be back to two in-sync ledgers within this much virtual time.
    public var recoveryDeadlineNanos: UInt64 = 20_000_000_000
    public var injectedBugs: InjectedBugs = []
    /// Only bursts (and the network's loss, duplication and delay): no crash, pause or partition. Such a run must
    /// end with no leader change and no `unavailable` reply — load alone must never cost a leader.
    public var loadOnly = false
    /// A burst fault: this many `balance` requests sent at once, spread over `burstConnections` client connections.
    public var burstRequests = 3000
    public var burstConnections = 8
    /// Every message costs its receiver virtual time (`MessageCosts`), so a flood delays what queues behind it.
    /// With `controlFirst`, heartbeats, reports and acknowledgements are handled before queued data, as the real
    /// drivers do (their own connections, stepped first); without it they wait in the same queue (the old drivers).
    public var controlFirst = true
    /// The gateway without admission bounds or forward window (the old gateway), to show what bursts did then.
    public var unboundedGateway = false
    /// Print every event as it happens.
    public var verbose = false

    public init(seed: UInt64) { self.seed = seed }
}

/// What one run saw.
public struct SimulationStats: Sendable {
    public var events = 0
    public var faults: [String: Int] = [:]
    public var leaderChanges = 0
    public var acknowledgedWrites = 0
    public var refusedWrites = 0
    /// Replies `overloaded` (to anyone) and `unavailable` (to burst connections).
    public var overloadedReplies = 0
    public var burstUnavailableReplies = 0
    public var virtualNanos: UInt64 = 0
    /// Ledger restarts that loaded a checkpoint (and replayed only the journal after it).
    public var checkpointRestores = 0
    /// Checkpoints received from the leader and installed.
    public var checkpointInstalls = 0
    /// Batches handed to the history store; copies of the leader's store completed by a follower; reads of a
    /// history store by the leader (an id not in memory that its filter may hold) and how many found the id.
    public var archiveBatches = 0
    /// Of those, batches a follower stored while copying the leader's store (they leave the watermark).
    public var archiveBatchesWhileCopying = 0
    public var historyCopies = 0
    public var historyLookups = 0
    public var historyHits = 0

    public init() {}

    public mutating func merge(_ other: SimulationStats) {
        events += other.events
        for (kind, count) in other.faults { faults[kind, default: 0] += count }
        leaderChanges += other.leaderChanges
        acknowledgedWrites += other.acknowledgedWrites
        refusedWrites += other.refusedWrites
        overloadedReplies += other.overloadedReplies
        burstUnavailableReplies += other.burstUnavailableReplies
        virtualNanos += other.virtualNanos
        checkpointRestores += other.checkpointRestores
        checkpointInstalls += other.checkpointInstalls
        archiveBatches += other.archiveBatches
        archiveBatchesWhileCopying += other.archiveBatchesWhileCopying
        historyCopies += other.historyCopies
        historyLookups += other.historyLookups
        historyHits += other.historyHits
    }
}

/// A broken invariant, with the events that led to it.
public struct SimulationFailure: Error, CustomStringConvertible, Sendable {
    public var seed: UInt64
    public var invariant: String
    public var trace: [String]

    public var description: String {
        "seed \(seed): \(invariant)\nlast events:\n" + trace.joined(separator: "\n")
            + "\nreplay: make simulate SEED=\(seed)"
    }
}
