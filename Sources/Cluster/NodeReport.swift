import BankCore
import Storage

/// What a ledger tells the gateway in answer to every heartbeat: enough to elect safely and to show `status`.
public struct NodeReport: Hashable, Sendable {
    public enum Role: UInt8, Sendable {
        /// Restarted, or not yet told its place by the gateway.
        case recovering = 0
        case follower = 1
        case leader = 2
    }

    public var node: NodeID
    public var dataID: UInt64
    /// The highest epoch this ledger has accepted (durable).
    public var epoch: UInt64
    public var role: Role
    public var lastSeq: Seq
    /// Epoch of the last journal record: with `lastSeq` it says how up to date the journal is.
    public var lastEpoch: UInt64
    public var lastHash: RecordHash
    public var commitSeq: Seq
    /// Leader only: the peer is synchronously replicated and holds every acknowledged record.
    public var peerInSync: Bool
    /// Leader only: the peer's durable position as far as the leader knows.
    public var peerMatchSeq: Seq
    /// Leader only: replication to the in-sync peer has stalled for longer than the failure timeout, so commits
    /// wait on it. The gateway answers by dropping the follower under a new epoch.
    public var peerStalled: Bool
    /// The ledger's history store holds everything its state left out of memory (false only after installing a
    /// checkpoint from a leader whose archive reaches further than this node's store): it is not promoted then.
    public var historyComplete: Bool

    public init(node: NodeID, dataID: UInt64, epoch: UInt64, role: Role, lastSeq: Seq, lastEpoch: UInt64,
                lastHash: RecordHash, commitSeq: Seq, peerInSync: Bool = false, peerMatchSeq: Seq = 0,
                peerStalled: Bool = false, historyComplete: Bool = true) {
        self.node = node
        self.dataID = dataID
        self.epoch = epoch
        self.role = role
        self.lastSeq = lastSeq
        self.lastEpoch = lastEpoch
        self.lastHash = lastHash
        self.commitSeq = commitSeq
        self.peerInSync = peerInSync
        self.peerMatchSeq = peerMatchSeq
        self.peerStalled = peerStalled
        self.historyComplete = historyComplete
    }
}


