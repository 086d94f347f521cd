/// What the replication state machine reads from a journal, the way etcd's raft reads its `Storage`. Writes are
/// actions the driver carries out; reads are synchronous and side-effect free.
public protocol JournalReading: AnyObject {
    var lastSeq: UInt64 { get }
    var lastHash: RecordHash { get }
    var lastEpoch: UInt64 { get }
    /// The hash of the record at `seq` (`.zero` for seq 0); nil beyond the end.
    func hash(at seq: UInt64) -> RecordHash?
    func epoch(at seq: UInt64) -> UInt64?
    /// Consecutive records from `seq`: at most `maxCount`, about `maxBytes` (at least one if `seq` exists).
    func records(from seq: UInt64, maxCount: Int, maxBytes: Int) -> [JournalRecord]
}
