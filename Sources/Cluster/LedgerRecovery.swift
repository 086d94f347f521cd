import BankCore
import Storage

/// Rebuilds a ledger's state from its journal: at start-up, and when a cut reaches below the undoable tail.
///
/// The newest `undoableRecords` entries keep their undo logs: after a restart nothing is known to be committed,
/// and the records a dead leader wrote last (in flight to its follower when it died) may have to be cut when it
/// rejoins as a follower. With the logs that cut is a rollback of a few entries, not a second full rebuild.
public enum LedgerRecovery {
    /// More than a leader can have appended beyond its follower's acknowledgement in normal running.
    public static let defaultUndoableRecords: UInt64 = 65_536

    /// The state after applying every record of `journal`.
    /// `forgettingRequestIDs` is the simulator's injected bug, under which a journal may hold a request twice.
    public static func rebuild(from journal: any JournalReading, undoableRecords: UInt64 = defaultUndoableRecords,
                               forgettingRequestIDs: Bool = false) -> Ledger {
        rebuild(through: journal.lastSeq, undoableRecords: undoableRecords,
                forgettingRequestIDs: forgettingRequestIDs) {
            journal.records(from: $0, maxCount: 65_536, maxBytes: 4 << 20)
        }
    }

    /// The state after applying records 1...`end`, read in chunks by `read(firstSeq)`.
    public static func rebuild(through end: Seq, undoableRecords: UInt64 = defaultUndoableRecords,
                               forgettingRequestIDs: Bool = false,
                               reading read: (Seq) -> [JournalRecord]) -> Ledger {
        let undoFrom = end > undoableRecords ? end - undoableRecords + 1 : 1
        var ledger = Ledger()
        ledger.forgetsRequestIDs = forgettingRequestIDs
        ledger.reserveCapacity(records: Int(end))
        var next: Seq = 1
        while next <= end {
            let records = read(next)
            invariant(records.first?.seq == next, "journal has no record at \(next)")
            for record in records where record.seq <= end {
                if record.seq == undoFrom { ledger.keepsUndo = true }
                let entry: Entry
                do { entry = try Entry(decoding: record.payload[...]) } catch {
                    fatalError("record \(record.seq) holds an undecodable entry: \(error)")
                }
                ledger.apply(entry, seq: record.seq)
            }
            next = records.last!.seq + 1
        }
        ledger.keepsUndo = true
        return ledger
    }
}
