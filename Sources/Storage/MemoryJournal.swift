/// A journal in memory, for tests and the simulator, with a crash that loses what was not synced.
public final class MemoryJournal: JournalReading {
    public private(set) var records: [JournalRecord] = []
    /// Records up to here survived the last sync.
    public private(set) var syncedCount = 0

    public init() {}

    public var lastSeq: UInt64 { UInt64(records.count) }
    public var lastHash: RecordHash { records.last?.hash ?? .zero }
    public var lastEpoch: UInt64 { records.last?.epoch ?? 0 }

    public func hash(at seq: UInt64) -> RecordHash? {
        if seq == 0 { return .zero }
        return seq <= lastSeq ? records[Int(seq - 1)].hash : nil
    }

    public func epoch(at seq: UInt64) -> UInt64? {
        if seq == 0 { return 0 }
        return seq <= lastSeq ? records[Int(seq - 1)].epoch : nil
    }

    public func records(from seq: UInt64, maxCount: Int, maxBytes: Int) -> [JournalRecord] {
        guard seq >= 1, seq <= lastSeq else { return [] }
        var result: [JournalRecord] = []
        var bytes = 0
        for record in records[Int(seq - 1)...] {
            if !result.isEmpty && (result.count >= maxCount || bytes + record.encodedCount > maxBytes) { break }
            result.append(record)
            bytes += record.encodedCount
        }
        return result
    }

    public func append(_ new: [JournalRecord]) {
        for record in new {
            precondition(record.seq == lastSeq + 1 && record.prevHash == lastHash, "journal append breaks the chain")
            records.append(record)
        }
    }

    public func sync() { syncedCount = records.count }

    public func truncate(after seq: UInt64) {
        guard seq < lastSeq else { return }
        records.removeSubrange(Int(seq)...)
        syncedCount = min(syncedCount, records.count)
    }

    /// A crash: of the records written since the last sync, only the first `keepingUnsynced` survive (the page cache
    /// may have written some); a torn record beyond them is what recovery cuts off, so it is simply gone here.
    public func crash(keepingUnsynced: Int) {
        let keep = min(records.count, syncedCount + max(0, keepingUnsynced))
        records.removeSubrange(keep...)
        syncedCount = records.count
    }

    public var unsyncedCount: Int { records.count - syncedCount }
}
