/// A journal in memory, for tests and the deterministic simulator: `FileJournal`'s API (without I/O errors) plus a
/// crash that loses what was not synced.
///
/// Durability model, matching `FileJournal`: `append` is volatile until `sync`; `truncate`, `advanceFloor` and
/// `reset` are durable at once (FileJournal fsyncs them). A crash keeps every synced record and, with a torn tail,
/// a random prefix of the unsynced ones — the disk may have written some of the last writes before the power went,
/// in order; a partly written record after them is what FileJournal's recovery cuts off, so here it is simply
/// absent.
public final class MemoryJournal: JournalReading {
    /// Every record after the floor, synced or not.
    public private(set) var records: [JournalRecord] = []
    /// The first `syncedCount` records survive a crash.
    public private(set) var syncedCount = 0
    public private(set) var floorSeq: UInt64 = 0
    private var floorHash = RecordHash.zero
    private var floorEpoch: UInt64 = 0

    public init() {}

    public var lastSeq: UInt64 { floorSeq + UInt64(records.count) }
    public var lastHash: RecordHash { records.last?.hash ?? floorHash }
    public var lastEpoch: UInt64 { records.last?.epoch ?? floorEpoch }
    /// Records a crash would lose (or may lose, with a torn tail).
    public var unsyncedCount: Int { records.count - syncedCount }

    public func hash(at seq: UInt64) -> RecordHash? {
        if seq == floorSeq { return floorHash }
        return seq > floorSeq && seq <= lastSeq ? records[index(of: seq)].hash : nil
    }

    public func epoch(at seq: UInt64) -> UInt64? {
        if seq == floorSeq { return floorEpoch }
        return seq > floorSeq && seq <= lastSeq ? records[index(of: seq)].epoch : nil
    }

    private func index(of seq: UInt64) -> Int { Int(seq - floorSeq - 1) }

    public func records(from seq: UInt64, maxCount: Int, maxBytes: Int) -> [JournalRecord] {
        guard seq > floorSeq, seq <= lastSeq, maxCount >= 1 else { return [] }
        var result: [JournalRecord] = []
        var byteCount = 0
        for record in records[index(of: seq)...] {
            if !result.isEmpty && (result.count >= maxCount || byteCount + record.encodedCount > maxBytes) { break }
            result.append(record)
            byteCount += record.encodedCount
        }
        return result
    }

    /// Appends records that continue the journal (a violation traps, as in `FileJournal`). Not durable until `sync`.
    public func append(_ new: [JournalRecord]) {
        for record in new {
            precondition(record.seq == lastSeq + 1 && record.prevHash == lastHash && record.epoch >= lastEpoch,
                         "journal append: seq \(record.seq) does not continue seq \(lastSeq)")
            records.append(record)
        }
    }

    public func sync() { syncedCount = records.count }

    /// Drops every record after `seq`, durably. Cuts never reach below the floor.
    public func truncate(after seq: UInt64) {
        guard seq < lastSeq else { return }
        precondition(seq >= floorSeq, "journal: cut after seq \(seq) is below the floor \(floorSeq)")
        records.removeSubrange(index(of: seq + 1)...)
        syncedCount = min(syncedCount, records.count)
    }

    /// Forgets the records up to `seq` (a checkpoint holds the state there); durable.
    public func advanceFloor(to seq: UInt64) {
        guard seq > floorSeq else { return }
        precondition(seq <= lastSeq && Int(seq - floorSeq) <= syncedCount, "journal: floor \(seq) is not durable")
        floorHash = hash(at: seq)!
        floorEpoch = epoch(at: seq)!
        let dropped = Int(seq - floorSeq)
        records.removeFirst(dropped)
        syncedCount -= dropped
        floorSeq = seq
    }

    /// An empty journal that continues (`seq`, `epoch`, `hash`): a checkpoint installed from the leader; durable.
    public func reset(afterSeq seq: UInt64, epoch: UInt64, hash: RecordHash) {
        records.removeAll()
        syncedCount = 0
        floorSeq = seq
        floorHash = hash
        floorEpoch = epoch
    }

    /// A crash. Without `tornTail` every unsynced record is lost. With it, the first `random(n + 1)` of the `n`
    /// unsynced records survive (`random(bound)` must return a value below `bound`; larger values are clamped).
    public func crash(tornTail: Bool, random: (UInt64) -> UInt64) {
        let unsynced = UInt64(unsyncedCount)
        crash(keepingUnsynced: tornTail ? Int(min(random(unsynced + 1), unsynced)) : 0)
    }

    /// A crash that keeps the synced records and the first `keepingUnsynced` unsynced ones.
    public func crash(keepingUnsynced: Int) {
        let keep = min(records.count, syncedCount + max(0, keepingUnsynced))
        records.removeSubrange(keep...)
        syncedCount = records.count
    }
}
