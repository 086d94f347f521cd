/// A journal in memory, for tests and the deterministic simulator: `FileJournal`'s API (without I/O errors) plus a
/// crash that loses what was not synced.
///
/// Durability model, matching `FileJournal`: `append` is volatile until `sync`; `truncate` is durable at once
/// (FileJournal fsyncs it). A crash keeps every synced record and, with a torn tail, a random prefix of the
/// unsynced ones — the disk may have written some of the last writes before the power went, in order; a partly
/// written record after them is what FileJournal's recovery cuts off, so here it is simply absent.
public final class MemoryJournal: JournalReading {
    /// Every record, synced or not.
    public private(set) var records: [JournalRecord] = []
    /// The first `syncedCount` records survive a crash.
    public private(set) var syncedCount = 0

    public init() {}

    public var lastSeq: UInt64 { UInt64(records.count) }
    public var lastHash: RecordHash { records.last?.hash ?? .zero }
    public var lastEpoch: UInt64 { records.last?.epoch ?? 0 }
    /// Records a crash would lose (or may lose, with a torn tail).
    public var unsyncedCount: Int { records.count - syncedCount }

    public func hash(at seq: UInt64) -> RecordHash? {
        if seq == 0 { return .zero }
        return seq <= lastSeq ? records[Int(seq - 1)].hash : nil
    }

    public func epoch(at seq: UInt64) -> UInt64? {
        if seq == 0 { return 0 }
        return seq <= lastSeq ? records[Int(seq - 1)].epoch : nil
    }

    public func records(from seq: UInt64, maxCount: Int, maxBytes: Int) -> [JournalRecord] {
        guard seq >= 1, seq <= lastSeq, maxCount >= 1 else { return [] }
        var result: [JournalRecord] = []
        var byteCount = 0
        for record in records[Int(seq - 1)...] {
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

    /// Drops every record after `seq`, durably.
    public func truncate(after seq: UInt64) {
        guard seq < lastSeq else { return }
        records.removeSubrange(Int(seq)...)
        syncedCount = min(syncedCount, records.count)
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
