import Storage
import Testing

@Suite struct MemoryJournalTests {
    @Test func aCrashDropsUnsyncedRecords() {
        let journal = MemoryJournal()
        let records = makeChain(count: 10)
        journal.append(Array(records[0..<4]))
        journal.sync()
        journal.append(Array(records[4...]))
        #expect(journal.unsyncedCount == 6)
        journal.crash(tornTail: false, random: { _ in Issue.record("no randomness needed"); return 0 })
        #expect(journal.lastSeq == 4)
        #expect(journal.lastHash == records[3].hash)
        #expect(journal.unsyncedCount == 0)
        // The journal goes on from there.
        journal.append(Array(records[4...]))
        #expect(journal.lastSeq == 10)
    }

    @Test func aTornCrashKeepsAPrefixOfTheUnsyncedRecords() {
        let journal = MemoryJournal()
        let records = makeChain(count: 10)
        journal.append(Array(records[0..<4]))
        journal.sync()
        journal.append(Array(records[4...]))
        var bound: UInt64 = 0
        journal.crash(tornTail: true, random: { bound = $0; return 2 })
        #expect(bound == 7) // any count from 0 through all 6 unsynced records may survive
        #expect(journal.lastSeq == 6)
        #expect(journal.records == Array(records[0..<6]))
        #expect(journal.syncedCount == 6)

        journal.append(Array(records[6...]))
        journal.crash(tornTail: true, random: { $0 * 10 }) // out of range: clamped to everything
        #expect(journal.lastSeq == 10)
    }

    @Test func truncateIsDurable() {
        let journal = MemoryJournal()
        let records = makeChain(count: 10)
        journal.append(records)
        journal.sync()
        journal.truncate(after: 5)
        journal.crash(tornTail: false, random: { _ in 0 })
        #expect(journal.lastSeq == 5)
        #expect(journal.hash(at: 5) == records[4].hash)
        #expect(journal.hash(at: 6) == nil)
        #expect(journal.epoch(at: 0) == 0)
    }
}
