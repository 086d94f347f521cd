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
        #expect(bytes[0] == Ledger.checkpointFormatVersion && bytes[0] == 4)
        let restored = try bytes.withUnsafeBytes { try Ledger(checkpoint: $0) }
        #expect(restored.idFilter == bank.ledger.idFilter)
        #expect(restored.hasSameState(as: bank.ledger) && restored.evictedThrough == bank.ledger.evictedThrough)
        #expect(bank.ledger.idFilter!.mayContain(.request, "other-1"), "writing a checkpoint leaves the ledger whole")
    }

    /// Version 2 wrote the archive section last; such checkpoints still load. The bytes are a version-3 checkpoint
    /// with its archive section moved to the end. Version 3 (lines without client keys) loads too.
    @Test func versionTwoAndThreeCheckpointsStillLoad() throws {
        var (bank, _) = try ArchiveTests.archivedBank(filterByteCount: 1 << 17)
        for index in 0..<1_000 { bank.ledger.archive!.filter.insert(.request, "other-\(index)") }
        var bytes: [UInt8] = []
        var copy = bank.ledger
        copy.drainIntoCheckpoint(formatVersion: 3) { bytes.append(contentsOf: $0) }
        let version3 = try bytes.withUnsafeBytes { try Ledger(checkpoint: $0) }
        #expect(version3.hasSameState(as: bank.ledger))
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

/// A checkpoint leaves out what the history store already holds: smaller, and the same ledger once loaded — its
/// statements, holds and old request ids read from the store.
struct CheckpointLeavingOutStoredTests {
    @Test func aCheckpointLeavesOutWhatTheStoreHoldsAndLoadsTheSameLedger() throws {
        let history = MemoryHistory()
        var bank = TestBank()
        // Windows larger than the run: every receipt and line stays in memory, stored or not.
        bank.ledger.configureArchive(filterByteCount: 1 << 16, receiptWindow: 100_000, lineWindow: 100_000,
                                     lineChunkShift: 4, reader: history)
        bank.open("a", funded: 1_000_000)
        bank.open("b", funded: 1_000_000)
        bank.open("c", funded: 1_000_000)
        for round in 0..<600 {
            let (from, to) = [("a", "b"), ("b", "c"), ("c", "a"), ("a", "c")][round % 4]
            try bank.must(.transfer(from: acct(from), to: acct(to), amountMinor: Int64(round % 7 + 1), reference: nil),
                          id: "t-\(round)")
            if round == 100 { try bank.must(.hold(acct("b"), amountMinor: 50, holdID: hid("h-closed")), id: "h-1") }
            if round == 120 { try bank.must(.capture(hid("h-closed"), amountMinor: 20), id: "c-1") }
            if round == 500 { try bank.must(.hold(acct("c"), amountMinor: 30, holdID: hid("h-open")), id: "h-2") }
        }
        // The store holds the first two thirds; memory still holds everything.
        let storedSeq = bank.ledger.lastAppliedSeq * 2 / 3
        history.write(bank.ledger.archiveBatch(after: 0, through: storedSeq, maxItems: 100_000))
        var whole: [UInt8] = []
        bank.ledger.writeCheckpoint { whole.append(contentsOf: $0) }
        var partial: [UInt8] = []
        bank.ledger.writeCheckpoint(leavingOutThrough: storedSeq) { partial.append(contentsOf: $0) }
        #expect(partial.count < whole.count - 400 * 50, "\(partial.count) bytes against \(whole.count)")

        var restored = try partial.withUnsafeBytes { try Ledger(checkpoint: $0) }
        #expect(restored.evictedThrough == storedSeq)
        #expect(restored.receiptsInMemory < bank.ledger.receiptsInMemory / 2)
        #expect(restored.hasSameState(as: bank.ledger))
        restored.configureArchive(filterByteCount: 1 << 16, receiptWindow: 100_000, reader: history)
        // Every statement page, old or new, reads the same.
        for account in ["a", "b", "c"] {
            var before: Seq?
            repeat {
                let query = Query.statement(acct(account), limit: 37, beforeSeq: before)
                let expected = bank.ledger.query(query)
                #expect(restored.query(query) == expected, "\(account) before \(String(describing: before))")
                guard case let .success(.statement(_, entries)) = expected, entries.count == 37 else { break }
                before = entries.last!.seq
            } while true
        }
        // An id the checkpoint left out is replayed from the store; one it kept, from memory.
        for (id, amount) in [("t-3", Int64(4)), ("t-590", Int64(3))] {
            let (from, to) = [("a", "b"), ("b", "c"), ("c", "a"), ("a", "c")][Int(id.dropFirst(2))! % 4]
            let (response, entry) = restored.execute(.mutation(Mutation(requestID: req(id), operation:
                .transfer(from: acct(from), to: acct(to), amountMinor: amount, reference: nil))),
                seq: restored.lastAppliedSeq + 1, timeMillis: 1)
            guard case let .mutation(.success(receipt)) = response else {
                Issue.record("\(id): expected a replay, got \(response)")
                continue
            }
            #expect(receipt.replayed && entry == nil, "\(id)")
        }
        // The open hold is still open; the captured one, left out, is known to the store.
        #expect(restored.query(.balance(acct("c"))) == bank.ledger.query(.balance(acct("c"))))
    }
}

/// Evicted lines in a checkpoint are counts from outside: refused when impossible, never trapped on.
struct CheckpointEvictedLinesDecodingTests {
    /// A format-3 checkpoint of one account (no archive section) claiming `evicted` lines that left memory, with
    /// as many marks as that needs (their seqs 0), and nothing else.
    static func bytes(evicted: UInt32) -> [UInt8] {
        var out: [UInt8] = [3]
        func u16(_ v: UInt16) { out += withUnsafeBytes(of: v.littleEndian, Array.init) }
        func u32(_ v: UInt32) { out += withUnsafeBytes(of: v.littleEndian, Array.init) }
        func u64(_ v: UInt64) { out += withUnsafeBytes(of: v.littleEndian, Array.init) }
        func string(_ s: String) { u16(UInt16(s.utf8.count)); out += Array(s.utf8) }
        u64(10) // lastAppliedSeq
        out.append(0) // no archive section
        u32(1)
        string("alice"); string("GBP"); u64(0); u64(0); u64(0); out.append(0)
        let marks = (Int(evicted) + 255) / 256
        u32(evicted); u32(UInt32(marks))
        out += [UInt8](repeating: 0, count: marks * 8)
        u64(0); u64(0); u64(0) // no lines, holds or receipts
        return out
    }

    @Test func evictedLinesWithoutAnArchiveAreRefused() {
        #expect(throws: CheckpointDecodingError.self) { try Self.bytes(evicted: 1).withUnsafeBytes { try Ledger(checkpoint: $0) } }
        // The same account with none evicted loads.
        #expect((try? Self.bytes(evicted: 0).withUnsafeBytes { try Ledger(checkpoint: $0) })?.accountCount == 1)
    }

    @Test func anEvictedCountBeyondALineNumberIsRefused() {
        // 2^31 lines need 64 MiB of marks to pass the size check; then the count itself must be refused.
        #expect(throws: CheckpointDecodingError.self) {
            try Self.bytes(evicted: 1 << 31).withUnsafeBytes { try Ledger(checkpoint: $0) }
        }
    }
}
