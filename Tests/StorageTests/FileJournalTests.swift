import Foundation
import Storage
import Testing

@Suite struct FileJournalTests {
    private func open(_ directory: TemporaryDirectory, lines: inout [String]) throws -> FileJournal {
        try FileJournal.open(directory: directory.path, logger: { lines.append($0) })
    }

    private func open(_ directory: TemporaryDirectory) throws -> FileJournal {
        var lines: [String] = []
        let journal = try open(directory, lines: &lines)
        #expect(lines.isEmpty, "unexpected log lines: \(lines)")
        return journal
    }

    /// A journal with `records` written and synced, closed again.
    private func write(_ records: [JournalRecord], in directory: TemporaryDirectory) throws {
        let journal = try open(directory)
        try journal.append(records)
        try journal.sync()
        journal.close()
    }

    @Test func aNewJournalIsEmpty() throws {
        let directory = try TemporaryDirectory()
        let nested = directory.path + "/a/b/ledger"
        let journal = try FileJournal.open(directory: nested, logger: { Issue.record("logged \($0)") })
        #expect(journal.lastSeq == 0)
        #expect(journal.lastHash == .zero)
        #expect(journal.lastEpoch == 0)
        #expect(journal.hash(at: 0) == .zero)
        #expect(journal.hash(at: 1) == nil)
        #expect(journal.epoch(at: 0) == 0)
        #expect(journal.records(from: 1, maxCount: 10, maxBytes: 1000).isEmpty)
        #expect(FileManager.default.fileExists(atPath: nested + "/" + TemporaryDirectory.firstSegment))
        journal.close()
    }

    @Test func appendSyncReopenKeepsEverything() throws {
        let directory = try TemporaryDirectory()
        let first = makeChain(count: 7, epoch: 1, payloadSize: { $0 * 11 })
        let second = makeChain(count: 5, after: 7, hash: first.last!.hash, epoch: 3)
        let journal = try open(directory)
        try journal.append(first)
        try journal.append(second)
        try journal.sync()
        let all = first + second
        #expect(journal.lastSeq == 12)
        #expect(journal.lastHash == all.last!.hash)
        #expect(journal.lastEpoch == 3)
        #expect(journal.activeSegmentByteCount == UInt64(TemporaryDirectory.segmentHeaderBytes + all.reduce(0) { $0 + $1.encodedCount }))
        journal.close()

        let reopened = try open(directory)
        #expect(reopened.lastSeq == 12)
        #expect(reopened.lastHash == all.last!.hash)
        #expect(reopened.lastEpoch == 3)
        for record in all {
            #expect(reopened.hash(at: record.seq) == record.hash)
            #expect(reopened.epoch(at: record.seq) == record.epoch)
        }
        #expect(reopened.records(from: 1, maxCount: 100, maxBytes: 1 << 20) == all)
        #expect(try reopened.readRecords(from: 9, maxCount: 100, maxBytes: 1 << 20) == Array(all[8...]))
        #expect(try directory.journalBytes() == encodeAll(all))
    }

    @Test func tornTailCutMidRecordIsTruncated() throws {
        let directory = try TemporaryDirectory()
        let records = makeChain(count: 10, payloadSize: { _ in 40 })
        try write(records, in: directory)
        let full = try directory.journalBytes()
        let cut = full.count - 25 // inside record 10
        try directory.writeJournal(Array(full[0..<cut]))

        var lines: [String] = []
        let journal = try open(directory, lines: &lines)
        #expect(journal.lastSeq == 9)
        #expect(journal.lastHash == records[8].hash)
        let nineRecordsBytes = UInt64(encodeAll(Array(records[0..<9])).count + TemporaryDirectory.segmentHeaderBytes)
        #expect(journal.activeSegmentByteCount == nineRecordsBytes)
        #expect(try directory.fileBytes(TemporaryDirectory.firstSegment).count == Int(nineRecordsBytes))
        #expect(lines.count == 1)
        #expect(lines.first?.contains("truncated torn tail at offset \(nineRecordsBytes)") == true)
        #expect(lines.first?.contains("(\(cut + TemporaryDirectory.segmentHeaderBytes - Int(nineRecordsBytes)) bytes) after seq 9") == true)
        #expect(lines.first?.contains("after seq 9") == true)

        // The journal goes on from seq 9, and the next start is clean.
        try journal.append([records[9]])
        try journal.sync()
        journal.close()
        let again = try open(directory)
        #expect(again.lastSeq == 10)
        #expect(again.lastHash == records[9].hash)
    }

    @Test func tornTailThatIsOnlyPartOfAHeaderIsTruncated() throws {
        let directory = try TemporaryDirectory()
        let records = makeChain(count: 3)
        try write(records, in: directory)
        let next = makeChain(count: 1, after: 3, hash: records[2].hash)[0].encoded
        try directory.writeJournal(try directory.journalBytes() + next[0..<30])
        var lines: [String] = []
        let journal = try open(directory, lines: &lines)
        #expect(journal.lastSeq == 3)
        #expect(lines.count == 1 && lines[0].contains("(30 bytes) after seq 3"))
    }

    @Test(arguments: ["a zero page", "three zero bytes", "garbage"])
    func junkAfterTheLastRecordIsTruncated(kind: String) throws {
        let junk: [UInt8] = switch kind {
        case "a zero page": [UInt8](repeating: 0, count: 4096) // space the file system allocated but never wrote
        case "three zero bytes": [0, 0, 0]
        default: (0..<777).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        }
        let directory = try TemporaryDirectory()
        let records = makeChain(count: 10)
        try write(records, in: directory)
        let clean = try directory.journalBytes()
        try directory.writeJournal(clean + junk)
        var lines: [String] = []
        let journal = try open(directory, lines: &lines)
        #expect(journal.lastSeq == 10)
        #expect(journal.lastHash == records[9].hash)
        #expect(try directory.journalBytes() == clean)
        #expect(lines.count == 1)
        #expect(lines.first?.contains("truncated torn tail at offset \(clean.count + TemporaryDirectory.segmentHeaderBytes) (\(junk.count) bytes) after seq 10") == true)
        #expect(lines.first?.contains("after seq 10") == true)
    }

    @Test func aFlippedByteInTheMiddleIsCorruption() throws {
        let directory = try TemporaryDirectory()
        let records = makeChain(count: 10, payloadSize: { _ in 30 })
        try write(records, in: directory)
        var bytes = try directory.journalBytes()
        let offsetOfFifth = encodeAll(Array(records[0..<4])).count
        bytes[offsetOfFifth + JournalRecord.headerByteCount + 3] ^= 0x01 // a payload byte of record 5
        try directory.writeJournal(bytes)

        let error = #expect(throws: JournalError.self) {
            try FileJournal.open(directory: directory.path, logger: { Issue.record("logged \($0)") })
        }
        guard case let .corrupted(path, offset, seq, _) = error else { return }
        #expect(path == directory.journalPath)
        #expect(offset == UInt64(offsetOfFifth + TemporaryDirectory.segmentHeaderBytes))
        #expect(seq == 5)
        let text = error?.description ?? ""
        #expect(text.contains("refuses to start"))
        #expect(text.contains("byte offset \(offsetOfFifth + TemporaryDirectory.segmentHeaderBytes)"))
        #expect(text.contains("seq 5"))
        #expect(text.contains("hash mismatch"))
        #expect(text.contains(directory.journalPath))
        // Nothing was cut: the operator gets the file as it was.
        #expect(try directory.journalBytes() == bytes)
    }

    @Test func aDamagedLengthInTheMiddleIsCorruption() throws {
        let directory = try TemporaryDirectory()
        let records = makeChain(count: 10)
        try write(records, in: directory)
        var bytes = try directory.journalBytes()
        let offsetOfFifth = encodeAll(Array(records[0..<4])).count
        bytes[offsetOfFifth + 6] = 0x40 // length now points far beyond the end of the file: reads as "incomplete"
        try directory.writeJournal(bytes)
        let error = #expect(throws: JournalError.self) { try FileJournal.open(directory: directory.path, logger: { _ in }) }
        guard case let .corrupted(_, offset, seq, reason) = error else { return }
        #expect(offset == UInt64(offsetOfFifth + TemporaryDirectory.segmentHeaderBytes))
        #expect(seq == 5)
        #expect(reason.contains("seq 6")) // the valid record found after the damage
    }

    @Test func twoSplicedJournalsAreAChainBreak() throws {
        let directory = try TemporaryDirectory()
        let a = makeChain(count: 10, salt: 0)
        let b = makeChain(count: 10, salt: 0x55)
        #expect(a[5].hash != b[5].hash)
        let spliced = encodeAll(Array(a[0..<5])) + encodeAll(Array(b[5...]))
        try directory.writeJournal(spliced)
        let error = #expect(throws: JournalError.self) { try FileJournal.open(directory: directory.path, logger: { _ in }) }
        guard case let .corrupted(_, offset, seq, reason) = error else { return }
        #expect(offset == UInt64(encodeAll(Array(a[0..<5])).count + TemporaryDirectory.segmentHeaderBytes))
        #expect(seq == 6)
        #expect(reason.contains("chain break"))
        #expect(error?.description.contains("refuses to start") == true)
    }

    @Test func aMissingRecordIsAChainBreak() throws {
        let directory = try TemporaryDirectory()
        let records = makeChain(count: 6)
        try directory.writeJournal(encodeAll(Array(records[0..<3]) + Array(records[4...])))
        let error = #expect(throws: JournalError.self) { try FileJournal.open(directory: directory.path, logger: { _ in }) }
        guard case let .corrupted(_, _, seq, reason) = error else { return }
        #expect(seq == 4)
        #expect(reason.contains("claims seq 5 where seq 4 belongs"))
    }

    @Test func aDecreasingEpochIsCorruption() throws {
        let directory = try TemporaryDirectory()
        let first = JournalRecord(epoch: 5, seq: 1, prevHash: .zero, payload: [1])
        let second = JournalRecord(epoch: 4, seq: 2, prevHash: first.hash, payload: [2])
        try directory.writeJournal(encodeAll([first, second]))
        let error = #expect(throws: JournalError.self) { try FileJournal.open(directory: directory.path, logger: { _ in }) }
        guard case let .corrupted(_, _, seq, reason) = error else { return }
        #expect(seq == 2)
        #expect(reason.contains("epoch 4, below epoch 5"))
    }

    @Test func truncateAfterThenAppendContinues() throws {
        let directory = try TemporaryDirectory()
        let records = makeChain(count: 10, epoch: 2)
        let journal = try open(directory)
        try journal.append(records)
        try journal.truncate(after: 10) // no-op
        #expect(journal.lastSeq == 10)
        try journal.truncate(after: 6)
        #expect(journal.lastSeq == 6)
        #expect(journal.lastHash == records[5].hash)
        #expect(journal.hash(at: 7) == nil)
        #expect(journal.activeSegmentByteCount == UInt64(encodeAll(Array(records[0..<6])).count + TemporaryDirectory.segmentHeaderBytes))
        let replacement = makeChain(count: 3, after: 6, hash: records[5].hash, epoch: 3, salt: 9)
        try journal.append(replacement)
        try journal.sync()
        #expect(journal.records(from: 5, maxCount: 10, maxBytes: 1 << 20) == Array(records[4..<6]) + replacement)
        journal.close()

        let reopened = try open(directory)
        #expect(reopened.lastSeq == 9)
        #expect(reopened.lastHash == replacement[2].hash)
        #expect(reopened.lastEpoch == 3)
        try reopened.truncate(after: 0)
        #expect(reopened.lastSeq == 0)
        #expect(reopened.lastHash == .zero)
        #expect(try directory.journalBytes().isEmpty)
        try reopened.append(makeChain(count: 1, salt: 3))
        #expect(reopened.lastSeq == 1)
    }

    @Test func recordsRespectCountAndByteLimits() throws {
        let directory = try TemporaryDirectory()
        let records = makeChain(count: 30, payloadSize: { ($0 * 37) % 200 })
        let journal = try open(directory)
        let memory = MemoryJournal()
        try journal.append(records)
        memory.append(records)
        let size = { (seq: Int, count: Int) in records[(seq - 1)..<(seq - 1 + count)].reduce(0) { $0 + $1.encodedCount } }

        #expect(journal.records(from: 0, maxCount: 5, maxBytes: 1 << 20).isEmpty)
        #expect(journal.records(from: 31, maxCount: 5, maxBytes: 1 << 20).isEmpty)
        #expect(journal.records(from: 1, maxCount: 0, maxBytes: 1 << 20).isEmpty)
        #expect(journal.records(from: 3, maxCount: 4, maxBytes: 1 << 20) == Array(records[2..<6]))
        #expect(journal.records(from: 3, maxCount: 100, maxBytes: size(3, 4)) == Array(records[2..<6]))
        #expect(journal.records(from: 3, maxCount: 100, maxBytes: size(3, 4) - 1) == Array(records[2..<5]))
        // One record even when it alone exceeds the byte limit.
        #expect(journal.records(from: 3, maxCount: 100, maxBytes: 1) == [records[2]])
        #expect(journal.records(from: 3, maxCount: 100, maxBytes: -5) == [records[2]])
        #expect(journal.records(from: 30, maxCount: 100, maxBytes: 1 << 20) == [records[29]])
        #expect(journal.records(from: 1, maxCount: .max, maxBytes: .max) == records)

        // The file journal and the memory journal agree on every combination.
        for seq in UInt64(0)...31 {
            for maxCount in [0, 1, 2, 7, 29, 100] {
                for maxBytes in [0, 100, 300, 1000, 5000] {
                    #expect(journal.records(from: seq, maxCount: maxCount, maxBytes: maxBytes)
                        == memory.records(from: seq, maxCount: maxCount, maxBytes: maxBytes),
                        "seq \(seq) maxCount \(maxCount) maxBytes \(maxBytes)")
                }
            }
        }
    }

    @Test func appendEncodedWritesTheBytesAsTheyCame() throws {
        let directory = try TemporaryDirectory()
        let records = makeChain(count: 20, payloadSize: { $0 })
        let batch = JournalRecord.encodeBatch(records)
        let decoded = try JournalRecord.decodeBatch(batch)
        let journal = try open(directory)
        try journal.appendEncoded(batch[4...], records: decoded)
        try journal.sync()
        #expect(journal.lastSeq == 20)
        journal.close()
        let reopened = try open(directory)
        #expect(reopened.records(from: 1, maxCount: 100, maxBytes: 1 << 20) == records)
        #expect(try directory.journalBytes() == Array(batch[4...]))
    }

    @Test func aSecondOpenOfTheSameDirectoryIsRefused() throws {
        let directory = try TemporaryDirectory()
        let journal = try open(directory)
        let error = #expect(throws: StorageError.self) { try FileJournal.open(directory: directory.path, logger: { _ in }) }
        #expect(error == .locked(path: directory.path + "/journal/.lock"))
        journal.close()
        let again = try open(directory) // the lock goes with close()
        again.close()
    }

    @Test func systemCallErrorsNameThePathAndTheReason() throws {
        let directory = try TemporaryDirectory()
        try directory.writeFile([1], "not-a-directory")
        let error = #expect(throws: StorageError.self) {
            try FileJournal.open(directory: directory.path + "/not-a-directory/ledger", logger: { _ in })
        }
        let text = error?.description ?? ""
        #expect(text.contains(directory.path + "/not-a-directory"))
        #expect(text.contains("Not a directory") || text.contains("File exists"))
    }

    @Test func replayCrossesReadChunks() throws {
        let directory = try TemporaryDirectory()
        // More than one 4 MiB read chunk, with records of varied size.
        let records = makeChain(count: 9_000, payloadSize: { 300 + ($0 * 13) % 400 })
        let journal = try open(directory)
        for start in stride(from: 0, to: records.count, by: 1000) {
            try journal.append(Array(records[start..<min(start + 1000, records.count)]))
        }
        try journal.sync()
        journal.close()
        let reopened = try open(directory)
        var seq: UInt64 = 0
        while seq < reopened.lastSeq {
            for record in try reopened.readRecords(from: seq + 1, maxCount: 2_000, maxBytes: 1 << 20) {
                seq += 1
                #expect(record.seq == seq)
                if record.hash != records[Int(seq) - 1].hash { Issue.record("seq \(seq) differs") }
            }
        }
        #expect(seq == 9_000)
    }
}
