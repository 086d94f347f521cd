import BankCore
import Storage

/// Leader → follower: "here are records that follow `prevSeq`". Doubles as the probe and keep-alive (no records).
/// The follower accepts the records only if its own record at `prevSeq` has hash `prevHash` (the log-matching
/// check of Raft's AppendEntries, with the hash chain standing in for terms).
public struct Append: Hashable, Sendable {
    public var epoch: UInt64
    public var prevSeq: Seq
    public var prevHash: RecordHash
    public var commitSeq: Seq
    /// The leader's last seq when it sent this: a follower holding records beyond it after applying this message
    /// holds records the cluster never committed, and drops them.
    public var leaderLastSeq: Seq
    public var records: [JournalRecord]

    public init(epoch: UInt64, prevSeq: Seq, prevHash: RecordHash, commitSeq: Seq, leaderLastSeq: Seq,
                records: [JournalRecord]) {
        self.epoch = epoch
        self.prevSeq = prevSeq
        self.prevHash = prevHash
        self.commitSeq = commitSeq
        self.leaderLastSeq = leaderLastSeq
        self.records = records
    }
}

/// Follower → leader.
public struct AppendAck: Hashable, Sendable {
    /// The follower's epoch: higher than the leader's means the leader has been replaced.
    public var epoch: UInt64
    public var success: Bool
    /// On success: the follower durably holds the leader's records up to here.
    public var matchSeq: Seq
    /// The follower's last seq, a hint for where to resume after a failed match.
    public var lastSeq: Seq
    /// The follower's history store holds everything its state left out of memory: until it does (after
    /// installing a checkpoint, while it copies the leader's store), the leader does not report it in sync.
    public var historyComplete: Bool

    public init(epoch: UInt64, success: Bool, matchSeq: Seq, lastSeq: Seq, historyComplete: Bool = true) {
        self.epoch = epoch
        self.success = success
        self.matchSeq = matchSeq
        self.lastSeq = lastSeq
        self.historyComplete = historyComplete
    }
}

/// Leader → follower: a piece of the leader's newest checkpoint file, for a follower whose position is below the
/// leader's floor (Raft's InstallSnapshot). Pieces go in order, a bounded window at a time; the follower stages
/// them and, once it has the whole file, installs it and answers with an `AppendAck` matching `position.seq`.
public struct CheckpointChunk: Hashable, Sendable {
    public var epoch: UInt64
    public var position: CheckpointFile.Position
    public var totalBytes: UInt64
    public var offset: UInt64
    public var bytes: [UInt8]

    public init(epoch: UInt64, position: CheckpointFile.Position, totalBytes: UInt64, offset: UInt64, bytes: [UInt8]) {
        self.epoch = epoch
        self.position = position
        self.totalBytes = totalBytes
        self.offset = offset
        self.bytes = bytes
    }
}

/// Follower → leader: how much of the checkpoint at `seq` it has staged, as a contiguous prefix. A value below
/// what the leader sent makes the leader send again from there (0: start over).
public struct CheckpointAck: Hashable, Sendable {
    public var epoch: UInt64
    public var seq: Seq
    public var receivedBytes: UInt64

    public init(epoch: UInt64, seq: Seq, receivedBytes: UInt64) {
        self.epoch = epoch
        self.seq = seq
        self.receivedBytes = receivedBytes
    }
}

/// Follower → leader: "send me `pieces` pieces of your history store's items after this key" (empty: from the
/// start). A follower whose state left out of memory items its own store lacks (it installed the leader's
/// checkpoint) copies the leader's store before it may be promoted; the leader streams the pieces one per turn of
/// its loop, each `HistoryChunk` starting where the previous one ended.
public struct HistoryRequest: Hashable, Sendable {
    public var epoch: UInt64
    public var afterKey: [UInt8]
    public var pieces: UInt32

    public init(epoch: UInt64, afterKey: [UInt8], pieces: UInt32 = 1) {
        self.epoch = epoch
        self.afterKey = afterKey
        self.pieces = pieces
    }
}

/// Leader → follower: the store's items after `afterKey`, in key order; `complete` when none follow. `watermark`:
/// the leader's store held everything archived up to it when the chunk was read — items are never removed, so a
/// copy that started with a chunk holding watermark W holds everything up to W once complete.
public struct HistoryChunk: Hashable, Sendable {
    public var epoch: UInt64
    public var afterKey: [UInt8]
    public var watermark: Seq
    public var complete: Bool
    public var items: PackedHistoryItems

    public init(epoch: UInt64, afterKey: [UInt8], watermark: Seq, complete: Bool, items: PackedHistoryItems) {
        self.epoch = epoch
        self.afterKey = afterKey
        self.watermark = watermark
        self.complete = complete
        self.items = items
    }
}

/// Every message between the three processes.
public enum PeerMessage: Hashable, Sendable {
    /// Gateway → ledger, every heartbeat interval and on every configuration change.
    case heartbeat(ClusterConfig)
    /// Ledger → gateway, in answer to each heartbeat.
    case report(NodeReport)
    /// Gateway → leader: a client request body, untouched. `token` names the pending request in the gateway;
    /// `clientKey` is the key the client's connection proved (nil: no keys), the scope of its request ids.
    case forward(epoch: UInt64, token: UInt64, body: [UInt8], clientKey: ClientKey? = nil)
    /// Leader → gateway: the reply body for `token`, sent once it is durable on every required copy.
    case reply(epoch: UInt64, token: UInt64, body: [UInt8])
    /// Ledger → gateway: "I am not the leader of that epoch": hold the request and send it again later.
    case redirect(epoch: UInt64, token: UInt64)
    case append(Append)
    case appendAck(AppendAck)
    case checkpointChunk(CheckpointChunk)
    case checkpointAck(CheckpointAck)
    case historyRequest(HistoryRequest)
    case historyChunk(HistoryChunk)
}

extension PeerMessage {
    /// Heartbeats, reports and replication acknowledgements (of records and of checkpoint chunks): small messages that failure detection and commits
    /// depend on. The drivers send them on their own connections and handle them before data messages (forwards,
    /// replies, appends), so a busy process still answers within the heartbeat interval.
    public var isControl: Bool {
        switch self {
        case .heartbeat, .report, .appendAck, .checkpointAck: return true
        case .forward, .reply, .redirect, .append, .checkpointChunk, .historyRequest, .historyChunk: return false
        }
    }
}
