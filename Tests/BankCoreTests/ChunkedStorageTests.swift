import DequeModule
import Testing
@testable import BankCore

/// The ledger's storage in pieces (a checkpoint's copy on write copies a piece, not the whole): the chunked queue of
/// the archive's order and the id filter's pages, against plain models, and the checkpoint format that writes the
/// filter first.
struct ChunkedStorageTests {
    /// A small generator (SplitMix64; BankCore's tests do not depend on the simulator's module).
    struct Random {
        var state: UInt64
        mutating func next(_ bound: Int) -> Int {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return Int((z ^ (z >> 31)) % UInt64(bound))
        }
    }

    @Test(arguments: [1, 2, 3])
    func theChunkedQueueBehavesAsADeque(seed: UInt64) {
        var random = Random(state: seed)
        var queue = ChunkedQueue<Int>()
        var model = Deque<Int>()
        var next = 0
        var copies: [(ChunkedQueue<Int>, [Int])] = []
        for step in 0..<4_000 {
            switch random.next(10) {
            case 0..<5:
                // Runs of appends long enough to cross chunk boundaries.
                for _ in 0..<random.next(3 * ChunkedQueue<Int>.chunkSize / 2) {
                    queue.append(next)
                    model.append(next)
                    next += 1
                }
            case 5..<8:
                let n = random.next(model.count + 1)
                queue.removeFirst(n)
                model.removeFirst(n)
            case 8:
                if !model.isEmpty { #expect(queue.removeLast() == model.removeLast()) }
            default:
                if !model.isEmpty { #expect(queue.removeFirst() == model.removeFirst()) }
            }
            #expect(queue.count == model.count)
            #expect(queue.first == model.first && queue.last == model.last)
            if !model.isEmpty {
                let probe = random.next(model.count)
                #expect(queue[probe] == model[probe])
            }
            if step % 500 == 0 { copies.append((queue, Array(model))) }
        }
        #expect(Array(queue) == Array(model))
        // Copies taken along the way kept their contents while the original changed (value semantics).
        for (copy, contents) in copies { #expect(Array(copy) == contents) }
    }

    @Test func aFilterOfManyPagesFindsEveryIdAndDrainsPageByPage() {
        var filter = IDFilter(byteCount: 1 << 20) // 16 pages of 64 KiB
        #expect(filter.pageCount == 16)
        for index in 0..<50_000 { filter.insert(.request, "id-\(index)") }
        #expect((0..<50_000).allSatisfy { filter.mayContain(.request, "id-\($0)") })
        let falsePositives = (0..<50_000).count { filter.mayContain(.request, "other-\($0)") }
        #expect(Double(falsePositives) / 50_000 < 0.01, "\(falsePositives) false positives in 50,000")

        // A drained copy hands over every word in order and leaves the original as it was.
        var copy = filter
        var words: [UInt64] = []
        copy.drainPages { words.append(contentsOf: $0) }
        #expect(words.count == filter.wordCount)
        let rebuilt = IDFilter(layout: .blocked, words: words, insertedCount: filter.insertedCount)
        #expect(rebuilt == filter)
        #expect((0..<50_000).allSatisfy { filter.mayContain(.request, "id-\($0)") })
        // A copy shares the pages; writing to the original afterwards changes only the original.
        let before = filter
        filter.insert(.request, "late")
        #expect(filter.mayContain(.request, "late") && filter != before && before == rebuilt)
    }

    @Test func aCheckpointWithAFilterOfManyPagesLoadsAsItWas() throws {
        var (bank, _) = try ArchiveTests.archivedBank(filterByteCount: 1 << 20)
        for index in 0..<10_000 { bank.ledger.archive!.filter.insert(.request, "other-\(index)") }
        var bytes: [UInt8] = []
        bank.ledger.writeCheckpoint(chunkByteCount: 4096) { bytes.append(contentsOf: $0) }
        #expect(bytes[0] == Ledger.checkpointFormatVersion && bytes[0] == 3)
        let restored = try bytes.withUnsafeBytes { try Ledger(checkpoint: $0) }
        #expect(restored.idFilter == bank.ledger.idFilter)
        #expect(restored.hasSameState(as: bank.ledger) && restored.evictedThrough == bank.ledger.evictedThrough)
        #expect(bank.ledger.idFilter!.mayContain(.request, "other-1"), "writing a checkpoint leaves the ledger whole")
    }

    /// Version 2 wrote the archive section last; such checkpoints still load. The bytes are a version-3 checkpoint
    /// with its archive section moved to the end.
    @Test func aVersionTwoCheckpointStillLoads() throws {
        var (bank, _) = try ArchiveTests.archivedBank(filterByteCount: 1 << 17)
        for index in 0..<1_000 { bank.ledger.archive!.filter.insert(.request, "other-\(index)") }
        var bytes: [UInt8] = []
        bank.ledger.writeCheckpoint { bytes.append(contentsOf: $0) }
        let sectionStart = 9 // version, lastAppliedSeq
        let wordCount = bytes[(sectionStart + 17)..<(sectionStart + 25)].reversed().reduce(0) { $0 << 8 | Int($1) }
        #expect(wordCount == (1 << 17) / 8)
        let sectionEnd = sectionStart + 25 + wordCount * 8
        let version2 = [2] + bytes[1..<sectionStart] + bytes[sectionEnd...] + bytes[sectionStart..<sectionEnd]
        let restored = try version2.withUnsafeBytes { try Ledger(checkpoint: $0) }
        #expect(restored.idFilter == bank.ledger.idFilter)
        #expect(restored.hasSameState(as: bank.ledger))
        // The same bytes labelled version 3 are refused, not misread.
        var mislabelled = version2
        mislabelled[0] = 3
        #expect(throws: CheckpointDecodingError.self) { try mislabelled.withUnsafeBytes { try Ledger(checkpoint: $0) } }
    }
}
