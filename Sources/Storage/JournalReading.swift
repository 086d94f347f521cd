/// What the pure replication state machine reads from a journal, the way etcd's raft reads its `Storage`.
///
/// Reads are synchronous and side-effect free; writes (append, sync, truncate) are actions the driver carries out
/// on the concrete journal, so the state machine stays pure and runs unchanged against `FileJournal` in production
/// and `MemoryJournal` in tests and the simulator.
public protocol JournalReading: AnyObject {
    /// Nothing at or below this seq is read: the state there is in a checkpoint. The record at the floor is known
    /// by hash and epoch only; records after it can be read. 0 for a journal that starts at the beginning.
    var floorSeq: UInt64 { get }
    /// The seq of the last record; 0 when the journal is empty.
    var lastSeq: UInt64 { get }
    /// The hash of the last record; `.zero` when the journal is empty.
    var lastHash: RecordHash { get }
    /// The epoch of the last record; 0 when the journal is empty.
    var lastEpoch: UInt64 { get }
    /// The hash of the record at `seq`: `.zero` for seq 0, nil below the floor or beyond the end.
    func hash(at seq: UInt64) -> RecordHash?
    /// The epoch of the record at `seq`: 0 for seq 0, nil below the floor or beyond the end.
    func epoch(at seq: UInt64) -> UInt64?
    /// Consecutive records starting at `seq`: at most `maxCount`, and at most `maxBytes` of encoded size — except
    /// that the record at `seq` is always included if it exists, however big, so a reader always makes progress.
    /// Empty when `seq` is at or below the floor, beyond the end, or `maxCount` < 1.
    func records(from seq: UInt64, maxCount: Int, maxBytes: Int) -> [JournalRecord]
}
