import BankCore
import Storage

/// Rebuilds a ledger's state at start-up: the newest usable checkpoint (if any), then every journal record after it.
///
/// Records after the commit floor keep their undo logs: nothing after the floor is known to be committed, and the
/// records a dead leader wrote last (in flight to its follower when it died) may have to be cut when it rejoins as
/// a follower. With the logs that cut is a rollback of a few entries. Records at or below the floor were committed
/// and are never cut, so they need none; the floor is stored often (`CommitFloorFile`), which keeps the undoable
/// tail short.
public enum LedgerRecovery {
    /// A ledger that archives (its settings say so, or its checkpoint did): the replay evicts, as it goes, what the
    /// history store already holds (`watermark`) up to the commit floor, so that a restart's memory is bounded like
    /// the running node's instead of holding every record since the checkpoint at once.
    public struct Archive {
        public var settings: LedgerSettings
        public var store: any HistoryReading
        public var watermark: Seq
        /// Records replayed between evictions (a record may hold a batch of a thousand transfers).
        public var evictionIntervalRecords: Seq
        public init(settings: LedgerSettings, store: any HistoryReading, watermark: Seq,
                    evictionIntervalRecords: Seq = 16) {
            self.settings = settings
            self.store = store
            self.watermark = watermark
            self.evictionIntervalRecords = max(1, evictionIntervalRecords)
        }
    }

    /// The state after applying every record of `journal` after `checkpoint` (from scratch without one).
    /// `forgettingRequestIDs` is the simulator's injected bug, under which a journal may hold a request twice.
    public static func restore(checkpoint: Ledger? = nil, journal: any JournalReading, commitFloor: Seq,
                               archive: Archive? = nil, forgettingRequestIDs: Bool = false) -> Ledger {
        var ledger = checkpoint ?? Ledger()
        let start = ledger.lastAppliedSeq
        invariant(start <= journal.lastSeq, "checkpoint at seq \(start) is beyond the journal's end \(journal.lastSeq)")
        ledger.forgetsRequestIDs = forgettingRequestIDs
        let archiving = archive.map { $0.settings.configureArchive(of: &ledger, reader: $0.store) } ?? false
        if checkpoint == nil, !archiving { ledger.reserveCapacity(records: Int(journal.lastSeq)) }
        ledger.keepsUndo = commitFloor <= start
        var next = start + 1
        while next <= journal.lastSeq {
            let records = journal.records(from: next, maxCount: 65_536, maxBytes: 4 << 20)
            invariant(records.first?.seq == next, "journal has no record at \(next)")
            for record in records {
                if record.seq == commitFloor + 1 { ledger.keepsUndo = true }
                let entry: Entry
                do { entry = try Entry(decoding: record.payload[...]) } catch {
                    fatalError("record \(record.seq) holds an undecodable entry: \(error)")
                }
                ledger.apply(entry, seq: record.seq)
                // Only what is archived and at or below the commit floor: the node may still settle a checkpoint
                // at the floor, rolling back the records after it, and those need their lines in memory.
                if archiving, let archive, record.seq % archive.evictionIntervalRecords == 0 {
                    ledger.evict(archivedThrough: min(archive.watermark, commitFloor, record.seq))
                }
            }
            next = records.last!.seq + 1
        }
        ledger.keepsUndo = true
        return ledger
    }
}
