import Foundation
import Testing
@testable import Storage

/// The journal in segments: rollover, a floor below which nothing is read or indexed, retention, cuts across
/// segments, a reset after an installed checkpoint, and the journals written before segments existed.
@Suite struct JournalSegmentTests {
    /// Records of 100 bytes of payload (164 encoded): a 1,000-byte segment holds six.
    static func chain(_ count: Int, after seq: UInt64 = 0, hash: RecordHash = .zero, salt: UInt8 = 0) -> [JournalRecord] {
        makeChain(count: count, after: seq, hash: hash, salt: salt, payloadSize: { _ in 100 })
    }

    static func open(_ directory: TemporaryDirectory, floor: UInt64 = 0, retention: FileJournal.Retention = .keep,
                     lines: inout [String]) throws -> FileJournal {
        try FileJournal.open(directory: directory.path, floor: floor, segmentByteLimit: 1_000, retention: retention,
                             logger: { lines.append($0) })
    }

    static func open(_ directory: TemporaryDirectory, floor: UInt64 = 0,
                     retention: FileJournal.Retention = .keep) throws -> FileJournal {
        var lines: [String] = []
        let journal = try open(directory, floor: floor, retention: retention, lines: &lines)
        #expect(lines.isEmpty, "unexpected log lines: \(lines)")
        return journal
    }

    static func segmentFiles(_ directory: TemporaryDirectory) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: directory.path + "/journal").filter { $0.hasSuffix(".dat") }.sorted()
    }

    /// Everything readable from `seq` on, asking again at each segment's end as a reader does.
    static func readAll(_ journal: FileJournal, from seq: UInt64) -> [JournalRecord] {
        var result: [JournalRecord] = []
        var next = seq
        while case let records = journal.records(from: next, maxCount: 1_000, maxBytes: 1 << 20), !records.isEmpty {
            result += records
            next = records.last!.seq + 1
        }
        return result
    }

    @Test func appendsRollOverIntoSegmentsThatReopenWhole() throws {
        let directory = try TemporaryDirectory()
        let records = Self.chain(40)
        let journal = try Self.open(directory)
        for start in stride(from: 0, to: 40, by: 3) { try journal.append(Array(records[start..<min(40, start + 3)])) }
        try journal.sync()
        #expect(try Self.segmentFiles(directory).count >= 6)
        #expect(Self.readAll(journal, from: 1) == records)
        journal.close()
        let reopened = try Self.open(directory)
        #expect(reopened.lastSeq == 40 && reopened.lastHash == records[39].hash)
        #expect(Self.readAll(reopened, from: 1) == records)
        #expect(reopened.records(from: 5, maxCount: 100, maxBytes: 1 << 20).allSatisfy { $0.seq >= 5 })
    }

    @Test func openingAtAFloorReadsNothingBelowIt() throws {
        let directory = try TemporaryDirectory()
        let records = Self.chain(40)
        let journal = try Self.open(directory)
        for record in records { try journal.append([record]) }
        try journal.sync()
        journal.close()
        let opened = try Self.open(directory, floor: 25)
        #expect(opened.floorSeq == 25)
        #expect(opened.hash(at: 25) == records[24].hash && opened.epoch(at: 25) == records[24].epoch)
        #expect(opened.hash(at: 24) == nil && opened.hash(at: 1) == nil)
        #expect(opened.records(from: 25, maxCount: 10, maxBytes: 1 << 20).isEmpty)
        #expect(Self.readAll(opened, from: 26) == Array(records[25...]))
        #expect(opened.lastSeq == 40)
    }

    @Test(arguments: [FileJournal.Retention.keep, .delete])
    func advancingTheFloorClosesOldSegmentsAndRetentionDecidesTheirFiles(retention: FileJournal.Retention) throws {
        let directory = try TemporaryDirectory()
        let records = Self.chain(40)
        let journal = try Self.open(directory, retention: retention)
        for record in records { try journal.append([record]) }
        try journal.sync()
        let before = try Self.segmentFiles(directory).count
        try journal.advanceFloor(to: 30)
        #expect(journal.floorSeq == 30 && journal.hash(at: 30) == records[29].hash && journal.hash(at: 29) == nil)
        #expect(Self.readAll(journal, from: 31) == Array(records[30...]))
        let after = try Self.segmentFiles(directory).count
        #expect(retention == .keep ? after == before : after < before)
        // New records go on; a reopen at the floor sees the same.
        let more = Self.chain(5, after: 40, hash: records[39].hash)
        try journal.append(more)
        try journal.sync()
        journal.close()
        let reopened = try Self.open(directory, floor: 30)
        #expect(Self.readAll(reopened, from: 31) == Array(records[30...]) + more)
    }

    @Test func aCutReachingIntoAnEarlierSegmentRemovesTheLaterOnes() throws {
        let directory = try TemporaryDirectory()
        let records = Self.chain(30)
        let journal = try Self.open(directory)
        for record in records { try journal.append([record]) }
        let segments = try Self.segmentFiles(directory).count
        try journal.truncate(after: 8)
        #expect(journal.lastSeq == 8 && journal.lastHash == records[7].hash)
        #expect(try Self.segmentFiles(directory).count < segments)
        let replacement = Self.chain(10, after: 8, hash: records[7].hash, salt: 7)
        try journal.append(replacement)
        try journal.sync()
        journal.close()
        let reopened = try Self.open(directory)
        #expect(Self.readAll(reopened, from: 1) == Array(records[0..<8]) + replacement)
    }

    @Test func aResetJournalContinuesTheCheckpointItWasResetTo() throws {
        let directory = try TemporaryDirectory()
        let journal = try Self.open(directory)
        try journal.append(Self.chain(12))
        let leaders = Self.chain(60, salt: 9) // another history; its record 50 is where the checkpoint was taken
        let position = CheckpointFile.Position(seq: 50, epoch: leaders[49].epoch, hash: leaders[49].hash)
        try journal.reset(after: position)
        #expect(journal.floorSeq == 50 && journal.lastSeq == 50 && journal.lastHash == position.hash)
        try journal.append(Array(leaders[50...]))
        try journal.sync()
        journal.close()
        #expect(try Self.segmentFiles(directory).allSatisfy { $0 >= "segment-00000000000000000051.dat" })
        let reopened = try Self.open(directory)
        #expect(reopened.floorSeq == 50 && reopened.hash(at: 50) == position.hash)
        #expect(Self.readAll(reopened, from: 51) == Array(leaders[50...]))
    }

    @Test func aJournalFromBeforeSegmentsIsAdopted() throws {
        let directory = try TemporaryDirectory()
        let records = Self.chain(5)
        try directory.writeFile(encodeAll(records), "journal.dat")
        var lines: [String] = []
        let journal = try Self.open(directory, lines: &lines)
        #expect(lines.count == 1 && lines[0].contains("segments"))
        #expect(Self.readAll(journal, from: 1) == records)
        let more = Self.chain(20, after: 5, hash: records[4].hash)
        try journal.append(more)
        try journal.sync()
        journal.close()
        #expect(!FileManager.default.fileExists(atPath: directory.path + "/journal.dat"))
        let reopened = try Self.open(directory)
        #expect(Self.readAll(reopened, from: 1) == records + more)
    }

    @Test func aSegmentWhoseCreationACrashInterruptedIsRemoved() throws {
        let directory = try TemporaryDirectory()
        let records = Self.chain(10)
        let journal = try Self.open(directory)
        for record in records { try journal.append([record]) }
        try journal.sync()
        journal.close()
        try directory.writeFile([0x42, 0x4B], "journal/segment-00000000000000000011.dat")
        var lines: [String] = []
        let reopened = try Self.open(directory, lines: &lines)
        #expect(lines.count == 1 && lines[0].contains("interrupted"))
        #expect(reopened.lastSeq == 10)
    }

    @Test func damageInAFinishedSegmentIsCorruptionNotATornTail() throws {
        let directory = try TemporaryDirectory()
        let journal = try Self.open(directory)
        for record in Self.chain(20) { try journal.append([record]) }
        try journal.sync()
        journal.close()
        let first = TemporaryDirectory.firstSegment
        var bytes = try directory.fileBytes(first)
        bytes.removeLast(10)
        try directory.writeFile(bytes, first)
        #expect(throws: JournalError.self) { try Self.open(directory) }
    }

    @Test func segmentsThatDoNotChainAreCorruption() throws {
        let directory = try TemporaryDirectory()
        let journal = try Self.open(directory)
        for record in Self.chain(20) { try journal.append([record]) }
        try journal.sync()
        journal.close()
        let other = try TemporaryDirectory()
        let foreign = try Self.open(other)
        for record in Self.chain(20, salt: 3) { try foreign.append([record]) }
        try foreign.sync()
        foreign.close()
        let name = try Self.segmentFiles(directory)[1]
        try directory.writeFile(try other.fileBytes("journal/" + name), "journal/" + name)
        let error = #expect(throws: JournalError.self) { try Self.open(directory) }
        #expect(error?.description.contains("chain break") == true)
    }
}
