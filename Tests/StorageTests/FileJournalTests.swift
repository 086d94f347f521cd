import Foundation
import Testing
@testable import Storage

/// The journal on disk: what survives a crash, what is cut off, and what makes a node refuse to start.
@Suite struct FileJournalTests {
    let directory: String

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("journal-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    var path: String { directory + "/journal.dat" }

    static func records(_ count: Int, from first: UInt64 = 1, after prevHash: RecordHash = .zero,
                        epoch: UInt64 = 1) -> [JournalRecord] {
        var result: [JournalRecord] = []
        var prev = prevHash
        for seq in first..<first + UInt64(count) {
            let record = JournalRecord(epoch: epoch, seq: seq, prevHash: prev, payload: Array("entry \(seq)".utf8))
            result.append(record)
            prev = record.hash
        }
        return result
    }

    func writeJournal(_ records: [JournalRecord]) throws -> FileJournal {
        let journal = try FileJournal.open(directory: directory, logger: { _ in })
        try journal.append(records)
        try journal.sync()
        return journal
    }

    func fileSize() throws -> Int { (try FileManager.default.attributesOfItem(atPath: path)[.size] as! NSNumber).intValue }

    func overwrite(at offset: Int, with bytes: [UInt8]) throws {
        let handle = try FileHandle(forUpdating: URL(fileURLWithPath: path))
        try handle.seek(toOffset: UInt64(offset))
        try handle.write(contentsOf: bytes)
        try handle.close()
    }

    @Test func aReopenedJournalHoldsExactlyWhatWasWritten() throws {
        let written = Self.records(10)
        try writeJournal(written).close()
        let reopened = try FileJournal.open(directory: directory, logger: { _ in })
        #expect(reopened.lastSeq == 10 && reopened.lastHash == written.last!.hash && reopened.lastEpoch == 1)
        #expect(reopened.records(from: 1, maxCount: 100, maxBytes: 1 << 20) == written)
        #expect(reopened.records(from: 4, maxCount: 3, maxBytes: 1 << 20).map(\.seq) == [4, 5, 6])
        #expect(reopened.hash(at: 0) == .zero && reopened.hash(at: 7) == written[6].hash && reopened.hash(at: 11) == nil)
    }

    @Test func aTornLastRecordIsCutOffWithALogLine() throws {
        try writeJournal(Self.records(5)).close()
        let full = try fileSize()
        // The crash tore the last record: only part of it reached the disk.
        let handle = try FileHandle(forUpdating: URL(fileURLWithPath: path))
        try handle.truncate(atOffset: UInt64(full - 20))
        try handle.close()
        var lines: [String] = []
        let journal = try FileJournal.open(directory: directory, logger: { lines.append($0) })
        #expect(journal.lastSeq == 4)
        #expect(lines.count == 1 && lines[0].contains("torn"))
        #expect(try fileSize() < full - 20, "the torn bytes are gone from the file")
        // And the journal goes on from there.
        try journal.append(Self.records(1, from: 5, after: journal.lastHash))
        #expect(journal.lastSeq == 5)
    }

    @Test func garbageAfterTheLastRecordIsATornTail() throws {
        try writeJournal(Self.records(3)).close()
        let handle = try FileHandle(forUpdating: URL(fileURLWithPath: path))
        handle.seekToEndOfFile()
        try handle.write(contentsOf: [UInt8](repeating: 0, count: 300) + [1, 2, 3])
        try handle.close()
        let journal = try FileJournal.open(directory: directory, logger: { _ in })
        #expect(journal.lastSeq == 3)
    }

    @Test func aCorruptedRecordFollowedByValidOnesRefusesToStart() throws {
        let written = Self.records(10)
        try writeJournal(written).close()
        let offsetOfFifth = written.prefix(4).reduce(0) { $0 + $1.encodedCount }
        try overwrite(at: offsetOfFifth + 60, with: [0xFF]) // A flipped byte in record 5's payload.
        #expect {
            _ = try FileJournal.open(directory: directory, logger: { _ in })
        } throws: { error in
            guard case let JournalError.corrupted(_, offset, seq, _) = error else { return false }
            return offset == offsetOfFifth && seq == 5 && "\(error)".contains("Refusing to start")
        }
    }

    @Test func aBrokenChainRefusesToStart() throws {
        // Two valid records that do not chain: as if journals were spliced.
        let first = Self.records(3)
        let foreign = Self.records(2, from: 4, after: RecordHash(bytes: [UInt8](repeating: 9, count: 32))!)
        var bytes: [UInt8] = []
        for record in first + foreign { record.encode(into: &bytes) }
        FileManager.default.createFile(atPath: path, contents: Data(bytes))
        #expect(throws: JournalError.self) { _ = try FileJournal.open(directory: directory, logger: { _ in }) }
    }

    @Test func truncationDropsRecordsDurablyAndTheJournalContinues() throws {
        let journal = try writeJournal(Self.records(8))
        try journal.truncate(after: 5)
        #expect(journal.lastSeq == 5)
        let replacement = Self.records(2, from: 6, after: journal.lastHash, epoch: 2)
        try journal.append(replacement)
        try journal.sync()
        journal.close()
        let reopened = try FileJournal.open(directory: directory, logger: { _ in })
        #expect(reopened.lastSeq == 7 && reopened.lastEpoch == 2 && reopened.lastHash == replacement.last!.hash)
    }

    @Test func recordsDecodeOnlyWhenIntact() throws {
        let record = Self.records(1)[0]
        var bytes: [UInt8] = []
        record.encode(into: &bytes)
        let whole = bytes.withUnsafeBytes { JournalRecord.decode($0) }
        #expect(whole == .record(record, byteCount: bytes.count))
        let short = bytes.dropLast(1).withUnsafeBytes { JournalRecord.decode($0) }
        #expect(short == .incomplete)
        bytes[bytes.count - 40] ^= 1
        if case .corrupt = bytes.withUnsafeBytes({ JournalRecord.decode($0) }) {} else { Issue.record("flip not caught") }
    }

    @Test func metadataIsReplacedAtomically() throws {
        #expect(try MetadataFile.load(directory: directory) == nil)
        try MetadataFile.store(NodeMetadata(dataID: 1, epoch: 2, leader: "primary"), directory: directory)
        try MetadataFile.store(NodeMetadata(dataID: 1, epoch: 3, leader: "backup"), directory: directory)
        #expect(try MetadataFile.load(directory: directory) == NodeMetadata(dataID: 1, epoch: 3, leader: "backup"))
        #expect(!FileManager.default.fileExists(atPath: directory + "/meta.json.tmp"))
    }

    @Test func aMemoryJournalCrashLosesOnlyWhatWasNotSynced() {
        let journal = MemoryJournal()
        journal.append(Self.records(3))
        journal.sync()
        journal.append(Self.records(4, from: 4, after: journal.lastHash))
        journal.crash(keepingUnsynced: 1)
        #expect(journal.lastSeq == 4)
    }

    @Test func shortInputThrowsInsteadOfTrapping() {
        var reader = BinaryReader([1, 2, 3])
        #expect(throws: BinaryReadError.self) { _ = try reader.readU64() }
        #expect(throws: BinaryReadError.self) { _ = try reader.readRecord() }
    }
}
