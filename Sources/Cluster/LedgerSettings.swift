import BankCore

/// Tunables of the replication protocol. Defaults suit loopback and a 2-core machine.
public struct LedgerSettings: Hashable, Sendable {
    /// A peer that has acknowledged nothing for this long while commits wait on it is reported as stalled, so the
    /// gateway can let the leader go on alone (under a new epoch).
    public var peerStallTimeoutNanos: UInt64 = .milliseconds(250)
    /// With records outstanding and no acknowledgement for this long, the leader goes back to probing the peer.
    /// Only a fallback for lost messages (rare over TCP; a gap is otherwise refused at once by the follower), so
    /// it must be well above the time a follower takes to make a full window durable — or catch-up would resend
    /// its window over and over.
    public var resendIntervalNanos: UInt64 = .milliseconds(500)
    /// While the peer's position is unknown (it restarted, or messages were lost), probe it this often.
    public var probeIntervalNanos: UInt64 = .milliseconds(100)
    /// How often an idle leader sends an empty append (keep-alive with the commit position).
    public var idleAppendIntervalNanos: UInt64 = .milliseconds(50)
    public var maxRecordsPerAppend = 4096
    public var maxBytesPerAppend = 256 << 10
    /// Records sent but not yet acknowledged, at most: bounds memory in flight during catch-up.
    public var maxInflightRecords: UInt64 = 16_384
    /// Bytes sent but not yet acknowledged, at most. An entry can hold a 1000-item batch, so counting records
    /// alone let catch-up put gigabytes in flight. It also bounds how much the follower has to apply before it
    /// reaches a heartbeat queued behind: the follower's inbox is first-in first-out, and 8 MiB of batch entries
    /// (about 160,000 transfers) kept it from answering the gateway for 250 ms — long enough to be dropped as
    /// lost (seen in `make bench`). 1 MiB is about 60 ms of work and still several round trips' worth.
    public var maxInflightBytes = 1 << 20
    /// A peer catching up this close to the leader's durable position becomes synchronous: from then on the leader
    /// commits only what the peer also holds.
    public var syncLagThresholdRecords: UInt64 = 4096

    /// A checkpoint of the state is written (in the background) each time this many more records, or this many
    /// more mutations (a batch record holds up to a thousand), have been written since the last one — and at least
    /// half as many mutations as the ledger holds receipts, so that without the archive, where each checkpoint
    /// writes every receipt and statement line, checkpoints come at most at each doubling of the state and their
    /// cost per mutation stays bounded however long the history.
    ///
    /// A restart replays the journal after the newest checkpoint, so the interval bounds restart time. On this
    /// machine (`make bench-history`, 20 M transfers, a tail of 90% of the interval) loading the checkpoint (the id
    /// filter, the accounts and what the history store does not hold yet, ~40 MiB) and replaying 360,000 transfers
    /// took 0.87–0.92 s, and both ledgers restarted were serving after 0.87 s. A checkpoint costs 0.3–1 s of a
    /// thread at nice 10, every 2.5–3 s at the batched maximum.
    public var checkpointIntervalRecords: UInt64 = 10_000_000
    public var checkpointIntervalMutations: UInt64 = 400_000
    /// The commit floor is stored at most this often, whenever it has moved: a restarted ledger keeps undo logs for
    /// the records after its floor, so this bounds that tail to what was written in the interval (and in flight).
    public var commitFloorIntervalNanos: UInt64 = .milliseconds(200)

    /// Idempotency history on disk (see BankCore's Archive.swift): when set, committed receipts and closed holds go
    /// to the history store and all but this many newest receipts leave memory once it holds them. Nil: no
    /// archive, everything stays in memory. Nil here (the simulator and unit tests choose); a cluster file's default
    /// is on (`ClusterFile.defaultArchiveReceiptWindow`).
    public var archiveReceiptWindow: Int?
    /// Statement lines kept in memory once archived (they leave in chunks of 2^`statementChunkShift`).
    public var archiveLineWindow = 262_144
    public var statementChunkShift = 16
    /// The id filter's fixed size (a power of two): 32 MiB keep false positives near 0.1% up to 16 M ids.
    public var idFilterByteCount = 32 << 20
    /// A follower copying the leader's history store asks for pieces of this many bytes, and holds at most
    /// `historyPiecesInFlight` of them waiting to be stored.
    public var historyPieceBytes = 1 << 20
    public var historyPiecesInFlight = 4
    /// While it copies the leader's store, a follower leaves the store to the copy and holds its own new history
    /// in memory, up to this many receipts beyond `archiveReceiptWindow`; past that it archives and lets go of it
    /// as usual, so its memory is bounded however long the copy takes. (Archiving from the start made a wiped
    /// follower's copy of a 20 M-transfer store take 20.5 s instead of 13.8: its own batches — the journal's tail
    /// after the checkpoint, 360,000 transfers — queued with the copy's pieces on the one store thread.)
    public var copyHeldReceipts = 262_144
    /// Committed history goes to the store at most this often (each batch is one synced write): a longer interval
    /// groups more of an account's lines into one item and syncs the store less often, at the cost of holding that
    /// much more history in memory until it is stored. Every sync of the store delays the journal's syncs that
    /// meet it (one disk, one file-system journal): at 500 ms, `make bench`'s latency phase showed three or four
    /// requests of 1.5–3.5 ms at each; at 2 s they fall below its p99...
    public var archiveIntervalNanos: UInt64 = .milliseconds(2000)
    /// ...and at most about this many receipts, holds and lines per batch (a batch waiting to be handed over is
    /// part of the ledger's memory: about 100 bytes each)...
    public var archiveBatchMaxItems = 262_144
    /// ...gathered at most this many per turn of the node's loop, so that building a batch never stalls it. A batch
    /// of at least `archiveEagerItems` goes as soon as the store is free, whatever the interval: under load the
    /// store keeps up (`make bench`'s latency phase after a burst: p99 2.06 ms without the rule, 1.35 at 32,768,
    /// 0.85 at 131,072 — smaller batches put fewer of an account's lines in one item, and the index grows).
    public var archiveSliceItems = 4_096
    public var archiveEagerItems = 131_072

    /// Test-only: rules the simulator breaks on purpose.
    public var injectedBugs: InjectedBugs = []

    public init() {}
}

extension LedgerSettings {
    /// Turns the ledger's archive on as these settings say (or keeps a restored ledger's, which already evicted
    /// items and must keep finding them), reading evicted items from `reader`. Returns whether it archives.
    @discardableResult
    public func configureArchive(of ledger: inout Ledger, reader: any HistoryReading) -> Bool {
        guard archiveReceiptWindow != nil || ledger.archives else { return false }
        let archiving = archiveReceiptWindow != nil
        ledger.configureArchive(filterByteCount: idFilterByteCount, receiptWindow: archiveReceiptWindow ?? .max,
                                lineWindow: archiving ? archiveLineWindow : .max, lineChunkShift: statementChunkShift,
                                reader: reader)
        return true
    }
}
