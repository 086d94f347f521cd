import Testing
@testable import BankCore

/// A history store in memory, as the simulator keeps one: keys and values as the real store holds them.
final class MemoryHistory: HistoryReading, @unchecked Sendable {
    var items: [[UInt8]: [UInt8]] = [:]
    var watermark: Seq = 0
    var reads = 0
    var failing = false

    func write(_ batch: ArchiveBatch) {
        for item in ArchiveCodec.items(for: batch) { items[item.key] = item.value }
        watermark = max(watermark, batch.throughSeq)
    }

    func receipt(for id: RequestID) throws(HistoryReadError) -> ArchivedReceipt? {
        reads += 1
        if failing { throw HistoryReadError(reason: "injected") }
        guard let value = items[ArchiveCodec.key(for: id)] else { return nil }
        do { return try ArchiveCodec.decodeReceipt(value, requestID: id) } catch { throw HistoryReadError(reason: error.reason) }
    }

    func hold(_ id: HoldID) throws(HistoryReadError) -> ArchivedHold? {
        reads += 1
        if failing { throw HistoryReadError(reason: "injected") }
        guard let value = items[ArchiveCodec.key(for: id)] else { return nil }
        do { return try ArchiveCodec.decodeHold(value, id: id) } catch { throw HistoryReadError(reason: error.reason) }
    }

    func lines(of slot: UInt32, below number: UInt32, limit: Int) throws(HistoryReadError) -> [ArchivedLine] {
        reads += 1
        if failing { throw HistoryReadError(reason: "injected") }
        let sorted = items.keys.sorted { $0.lexicographicallyPrecedes($1) }
        return try ArchiveCodec.lines(of: slot, below: number, limit: limit) { (from: [UInt8]) throws(HistoryReadError) in
            sorted.filter { !$0.lexicographicallyPrecedes(from) }.prefix(64).map { HistoryItem(key: $0, value: items[$0]!) }
        }
    }

    func items(after afterKey: [UInt8], maxBytes: Int) throws(HistoryReadError) -> (items: PackedHistoryItems, complete: Bool) {
        let keys = items.keys.filter { afterKey.lexicographicallyPrecedes($0) }.sorted { $0.lexicographicallyPrecedes($1) }
        return (PackedHistoryItems(keys.map { HistoryItem(key: $0, value: items[$0]!) }), true)
    }
}

/// Idempotency history on disk: receipts and closed holds leave memory once archived, and are still found.
@Suite struct ArchiveTests {
    /// A bank that archives, with everything up to its last seq archived and evicted (no receipt kept in memory).
    static func archivedBank(filterByteCount: Int = 1 << 16) throws -> (TestBank, MemoryHistory) {
        let history = MemoryHistory()
        var bank = TestBank()
        bank.ledger.configureArchive(filterByteCount: filterByteCount, receiptWindow: 0, reader: history)
        bank.open("alice", funded: 10_000)
        bank.open("bob", funded: 500)
        try bank.must(.transfer(from: acct("alice"), to: acct("bob"), amountMinor: 100, reference: nil), id: "t-1")
        try bank.must(.hold(acct("alice"), amountMinor: 300, holdID: hid("h-captured")), id: "h-1")
        try bank.must(.capture(hid("h-captured"), amountMinor: 200), id: "c-1")
        try bank.must(.hold(acct("bob"), amountMinor: 50, holdID: hid("h-released")), id: "h-2")
        try bank.must(.release(hid("h-released")), id: "r-1")
        try bank.must(.hold(acct("bob"), amountMinor: 20, holdID: hid("h-open")), id: "h-3")
        let last = bank.ledger.lastAppliedSeq
        history.write(bank.ledger.archiveBatch(after: 0, through: last, maxItems: 1000))
        bank.ledger.evict(archivedThrough: history.watermark)
        return (bank, history)
    }

    /// Fills the filter with ids never used, so that it answers "maybe" for nearly every id.
    static func saturate(_ bank: inout TestBank) {
        for index in 0..<2_000 { bank.ledger.archive!.filter.insert(.request, "never-\(index)") }
        #expect(bank.ledger.idFilter!.estimatedFalsePositiveRate > 0.9)
    }

    @Test func archivedReceiptsLeaveMemoryAndAreReplayedFromTheStore() throws {
        var (bank, history) = try Self.archivedBank()
        #expect(bank.ledger.receiptsInMemory == 0)
        #expect(bank.ledger.evictedThrough == bank.ledger.lastAppliedSeq)
        let digest = bank.ledger.stateDigest
        let replay = try bank.must(.transfer(from: acct("alice"), to: acct("bob"), amountMinor: 100, reference: nil),
                                   id: "t-1")
        #expect(replay.replayed && replay.seq == 5 && replay.account == acct("alice"))
        let capture = try bank.must(.capture(hid("h-captured"), amountMinor: 200), id: "c-1")
        #expect(capture.replayed && capture.capturedMinor == 200 && capture.releasedMinor == 100
                && capture.holdID == hid("h-captured") && capture.account == acct("alice"))
        #expect(bank.ledger.stateDigest == digest, "replays change nothing")
        #expect(history.reads >= 2)
        // The same id with other parameters is a conflict, as when the receipt was in memory.
        let conflict = bank.run(.transfer(from: acct("alice"), to: acct("bob"), amountMinor: 101, reference: nil),
                                id: "t-1")
        #expect(conflict == .failure(.idempotencyConflict(req("t-1"))))
    }

    @Test func closedHoldsLeaveMemoryButTheirIDsStayTaken() throws {
        var (bank, _) = try Self.archivedBank()
        #expect(bank.run(.hold(acct("alice"), amountMinor: 1, holdID: hid("h-captured"))) == .failure(.holdExists(hid("h-captured"))))
        #expect(bank.run(.capture(hid("h-released"), amountMinor: nil)) == .failure(.holdClosed(hid("h-released"))))
        #expect(bank.run(.release(hid("never"))) == .failure(.unknownHold(hid("never"))))
        // The open hold stays in memory and works.
        let released = try bank.must(.release(hid("h-open")))
        #expect(released.releasedMinor == 20)
    }

    @Test func aNewIDIsKnownNewWithoutReadingTheStore() throws {
        var (bank, history) = try Self.archivedBank(filterByteCount: 1 << 20)
        let before = history.reads
        for index in 0..<200 {
            try bank.must(.deposit(acct("alice"), amountMinor: 1), id: "fresh-\(index)")
        }
        // A 1 MiB filter holding about twenty ids answers "no" for practically every new one.
        #expect(history.reads - before <= 2, "new ids read the store \(history.reads - before) times")
    }

    @Test func aFilterFullOfFalsePositivesStillAnswersRight() throws {
        // The smallest filter, saturated: almost every id is a "maybe", and each is looked up and found new.
        var (bank, history) = try Self.archivedBank(filterByteCount: 64)
        Self.saturate(&bank)
        let before = history.reads
        for index in 0..<50 {
            let receipt = try bank.must(.deposit(acct("bob"), amountMinor: 1), id: "fp-\(index)")
            #expect(!receipt.replayed)
        }
        #expect(history.reads - before > 25)
    }

    @Test func anUnreadableStoreRefusesAsUnavailableAndChangesNothing() throws {
        var (bank, history) = try Self.archivedBank(filterByteCount: 64)
        Self.saturate(&bank)
        history.failing = true
        let digest = bank.ledger.stateDigest
        let result = bank.run(.deposit(acct("bob"), amountMinor: 1), id: "t-1")
        guard case .failure(.historyUnavailable) = result else {
            Issue.record("expected historyUnavailable, got \(result)")
            return
        }
        #expect(bank.ledger.historyReadFailed)
        #expect(bank.ledger.stateDigest == digest)
    }

    /// A larger window: receipts leave a generation (an eighth of the window) at a time, only once the store holds
    /// all of it, and those that left are still answered from the store.
    @Test func receiptsLeaveAGenerationAtATime() throws {
        let history = MemoryHistory()
        var bank = TestBank()
        bank.ledger.configureArchive(filterByteCount: 1 << 12, receiptWindow: 16, reader: history) // generations of 2
        bank.open("alice", funded: 100) // seqs 1 and 2
        for index in 0..<40 { try bank.must(.deposit(acct("alice"), amountMinor: 1), id: "d-\(index)") } // 3...42
        history.write(bank.ledger.archiveBatch(after: 0, through: 7, maxItems: 100))
        bank.ledger.evict(archivedThrough: history.watermark)
        #expect(bank.ledger.receiptsInMemory == 36, "seqs 1–6 left; 7 stays with 8, which the store lacks")
        history.write(bank.ledger.archiveBatch(after: 7, through: bank.ledger.lastAppliedSeq, maxItems: 100))
        bank.ledger.evict(archivedThrough: history.watermark)
        #expect(bank.ledger.receiptsInMemory == 16)
        let replay = try bank.must(.deposit(acct("alice"), amountMinor: 1), id: "d-0")
        #expect(replay.replayed && replay.seq == 3)
        #expect(try bank.balance("alice").balanceMinor == 140)
    }

    @Test func theWindowKeepsTheNewestReceiptsAndEvictionWaitsForTheStore() throws {
        let history = MemoryHistory()
        var bank = TestBank()
        bank.ledger.configureArchive(filterByteCount: 1 << 12, receiptWindow: 3, reader: history)
        bank.open("alice", funded: 100)
        for index in 0..<10 { try bank.must(.deposit(acct("alice"), amountMinor: 1), id: "d-\(index)") }
        // Nothing is archived yet: nothing may leave.
        bank.ledger.evict(archivedThrough: 0)
        #expect(bank.ledger.receiptsInMemory == 12)
        let batch = bank.ledger.archiveBatch(after: 0, through: 6, maxItems: 100)
        #expect(batch.throughSeq == 6 && batch.receipts.map(\.receipt.seq) == [1, 2, 3, 4, 5, 6])
        history.write(batch)
        bank.ledger.evict(archivedThrough: history.watermark)
        #expect(bank.ledger.receiptsInMemory == 6, "only what the store holds leaves")
        history.write(bank.ledger.archiveBatch(after: 6, through: bank.ledger.lastAppliedSeq, maxItems: 100))
        bank.ledger.evict(archivedThrough: history.watermark)
        #expect(bank.ledger.receiptsInMemory == 3, "the window's newest three stay")
        #expect(bank.ledger.receipt(for: req("d-0"))?.seq == 3, "an evicted receipt is read from the store")
    }

    @Test func batchesEndOnWholeSeqs() throws {
        var bank = TestBank()
        bank.ledger.configureArchive(filterByteCount: 64, receiptWindow: 0, reader: MemoryHistory())
        bank.open("alice", funded: 100)
        let items = (0..<4).map { BatchItem.mutation(Mutation(requestID: req("b-\($0)"), operation: .deposit(acct("alice"), amountMinor: 1))) }
        _ = bank.batch(items, atomic: false)
        try bank.must(.deposit(acct("alice"), amountMinor: 1))
        let batch = bank.ledger.archiveBatch(after: 2, through: 4, maxItems: 1)
        #expect(batch.throughSeq == 3 && batch.receipts.count == 4, "a seq's receipts go together")
    }

    @Test func rollingBackAnEntryTakesItOutOfTheArchiveOrder() throws {
        var bank = TestBank()
        bank.ledger.configureArchive(filterByteCount: 64, receiptWindow: 0, reader: MemoryHistory())
        bank.ledger.keepsUndo = true
        bank.open("alice", funded: 100)
        try bank.must(.hold(acct("alice"), amountMinor: 10, holdID: hid("h")))
        try bank.must(.capture(hid("h"), amountMinor: nil), id: "cap")
        let seq = bank.ledger.lastAppliedSeq
        bank.ledger.rollBack(to: seq - 1)
        let batch = bank.ledger.archiveBatch(after: 0, through: seq - 1, maxItems: 100)
        #expect(!batch.receipts.contains { $0.receipt.requestID == req("cap") })
        #expect(batch.closedHolds.isEmpty, "the hold is open again")
    }

    @Test func aCheckpointCarriesTheFilterAndWhatWasEvicted() throws {
        let (bank, history) = try Self.archivedBank()
        var bytes: [UInt8] = []
        bank.ledger.writeCheckpoint { bytes.append(contentsOf: $0) }
        var restored = try bytes.withUnsafeBytes { try Ledger(checkpoint: $0) }
        #expect(restored.archives && restored.evictedThrough == bank.ledger.evictedThrough)
        #expect(restored.idFilter == bank.ledger.idFilter)
        #expect(restored.hasSameState(as: bank.ledger))
        restored.configureArchive(filterByteCount: 1 << 16, receiptWindow: 0, reader: history)
        let (response, _) = restored.execute(.mutation(Mutation(requestID: req("t-1"), operation:
            .transfer(from: acct("alice"), to: acct("bob"), amountMinor: 100, reference: nil))),
            seq: restored.lastAppliedSeq + 1, timeMillis: 1)
        guard case let .mutation(.success(receipt)) = response else {
            Issue.record("expected a replay, got \(response)")
            return
        }
        #expect(receipt.replayed && receipt.seq == 5)
    }

    @Test func theFilterHasNoFalseNegativesAndEstimatesItsRate() {
        var filter = IDFilter(byteCount: 1 << 12) // 32,768 bits
        for index in 0..<2_000 { filter.insert(.request, "id-\(index)") }
        #expect((0..<2_000).allSatisfy { filter.mayContain(.request, "id-\($0)") })
        let falsePositives = (0..<20_000).count { filter.mayContain(.request, "other-\($0)") }
        let measured = Double(falsePositives) / 20_000
        let estimated = filter.estimatedFalsePositiveRate
        #expect(abs(measured - estimated) < 0.02, "measured \(measured), estimated \(estimated)")
        #expect(!filter.mayContain(.hold, "id-1") || filter.mayContain(.request, "id-1"), "kinds hash apart")
    }

    @Test func archivedValuesRoundTrip() throws {
        let receipt = Receipt(seq: 9, requestID: req("x"), account: acct("a"), balanceMinor: -5, availableMinor: 7,
                              heldMinor: 3, frozen: true, holdID: hid("h"), capturedMinor: 2, releasedMinor: 1)
        let archived = ArchivedReceipt(operation: .capture(hid("h"), amountMinor: 2), receipt: receipt)
        #expect(try ArchiveCodec.decodeReceipt(ArchiveCodec.encode(archived), requestID: req("x")) == archived)
        let hold = ArchivedHold(id: hid("h"), account: acct("a"), amountMinor: 4, closedSeq: 8)
        #expect(try ArchiveCodec.decodeHold(ArchiveCodec.encode(hold), id: hid("h")) == hold)
        var damaged = ArchiveCodec.encode(archived)
        damaged.removeLast()
        #expect(throws: EntryDecodingError.self) { try ArchiveCodec.decodeReceipt(damaged, requestID: req("x")) }
    }

    /// A long statement whose older lines left memory reads the same, page by page, as one kept whole in memory.
    @Test func statementLinesLeaveMemoryAndPagesReadTheSameFromTheStore() throws {
        func run(archiving: Bool) throws -> (TestBank, MemoryHistory) {
            let history = MemoryHistory()
            var bank = TestBank()
            if archiving {
                bank.ledger.configureArchive(filterByteCount: 1 << 12, receiptWindow: 5, lineWindow: 20,
                                             lineChunkShift: 3, reader: history)
            }
            bank.open("a", funded: 1_000_000)
            bank.open("b", funded: 1_000_000)
            for round in 0..<700 {
                if round % 9 == 0 {
                    // Three lines of "a" under one seq: pages end on whole seqs, in memory and in the store alike.
                    _ = bank.batch((0..<3).map { item in
                        .mutation(Mutation(requestID: req("batch-\(round)-\(item)"), operation:
                            .transfer(from: acct("a"), to: acct("b"), amountMinor: 1, reference: "r\(item)")))
                    }, atomic: true)
                } else {
                    try bank.must(.transfer(from: acct("b"), to: acct("a"), amountMinor: 2, reference: nil))
                }
                if archiving, round % 50 == 49 {
                    history.write(bank.ledger.archiveBatch(after: history.watermark, through: bank.ledger.lastAppliedSeq,
                                                           maxItems: 10_000))
                    bank.ledger.evict(archivedThrough: history.watermark)
                }
            }
            return (bank, history)
        }
        let (archived, _) = try run(archiving: true)
        let (whole, _) = try run(archiving: false)
        #expect(archived.ledger.linesInMemory < 40, "\(archived.ledger.linesInMemory) lines in memory")
        #expect(archived.ledger.stateDigest == whole.ledger.stateDigest)
        for account in ["a", "b"] {
            for limit in [1, 7, 50, 5_000] {
                var before: Seq?
                var pages = 0
                repeat {
                    let query = Query.statement(acct(account), limit: limit, beforeSeq: before)
                    let expected = whole.ledger.query(query)
                    #expect(archived.ledger.query(query) == expected, "\(account) limit \(limit) before \(String(describing: before))")
                    guard case let .success(.statement(_, entries)) = expected, entries.count >= limit,
                          let last = entries.last else { break }
                    before = last.seq
                    pages += 1
                } while pages < 2_000
            }
        }
        // A checkpoint of the archiving ledger carries what left memory, and reads on from the same store.
        var bytes: [UInt8] = []
        archived.ledger.writeCheckpoint { bytes.append(contentsOf: $0) }
        let restored = try bytes.withUnsafeBytes { try Ledger(checkpoint: $0) }
        #expect(restored.hasSameState(as: archived.ledger) && restored.stateDigest == whole.ledger.stateDigest)
    }

    @Test func evictionInSlicesEndsWhereEvictionAtOnceDoes() throws {
        func bank() throws -> (TestBank, MemoryHistory) {
            let history = MemoryHistory()
            var bank = TestBank()
            bank.ledger.configureArchive(filterByteCount: 1 << 12, receiptWindow: 2, reader: history)
            bank.open("alice", funded: 100)
            for index in 0..<20 { try bank.must(.deposit(acct("alice"), amountMinor: 1), id: "d-\(index)") }
            history.write(bank.ledger.archiveBatch(after: 0, through: bank.ledger.lastAppliedSeq, maxItems: 100))
            return (bank, history)
        }
        var (atOnce, history) = try bank()
        let done = atOnce.ledger.evict(archivedThrough: history.watermark)
        #expect(done)
        var (sliced, slicedHistory) = try bank()
        let leaving = sliced.ledger.receiptsInMemory - 2
        var unfinished = 0
        while !sliced.ledger.evict(archivedThrough: slicedHistory.watermark, limit: 3) { unfinished += 1 }
        #expect(leaving >= 20 && unfinished == (leaving + 2) / 3 - 1, "three at a time, \(leaving) to leave")
        #expect(sliced.ledger.receiptsInMemory == 2 && atOnce.ledger.receiptsInMemory == 2)
        #expect(sliced.ledger.evictedThrough == atOnce.ledger.evictedThrough)
        #expect(sliced.ledger.receipt(for: req("d-0")) != nil, "an evicted receipt is read from the store")
    }

    @Test func slicesAppendedMakeTheBatchOfTheWholeRange() throws {
        var bank = TestBank()
        bank.ledger.configureArchive(filterByteCount: 1 << 12, receiptWindow: 0, reader: NoHistory())
        bank.open("alice", funded: 1_000)
        bank.open("bob", funded: 1_000)
        for index in 0..<12 {
            try bank.must(.transfer(from: acct(index % 2 == 0 ? "alice" : "bob"), to: acct(index % 2 == 0 ? "bob" : "alice"),
                                    amountMinor: 1, reference: "r\(index)"), id: "t-\(index)")
        }
        let last = bank.ledger.lastAppliedSeq
        let whole = bank.ledger.archiveBatch(after: 0, through: last, maxItems: 1_000)
        var gathered = bank.ledger.archiveBatch(after: 0, through: last, maxItems: 1)
        while gathered.throughSeq < last {
            gathered.append(bank.ledger.archiveBatch(after: gathered.throughSeq, through: last, maxItems: 1))
        }
        #expect(gathered == whole)
        // An account's lines gathered from many slices are still one item per account.
        let lineItems = ArchiveCodec.items(for: gathered).filter { ArchiveCodec.lineKey($0.key) != nil }
        #expect(lineItems.count == 2)
        let decoded = try lineItems.flatMap { try ArchiveCodec.decodeLines($0.value, key: $0.key) }
        #expect(Set(decoded) == Set(whole.lines))
    }

    @Test func aCheckpointKeepsTheFilterLayout() throws {
        var spread = IDFilter(layout: .spread, words: [UInt64](repeating: 0, count: 64), insertedCount: 0)
        for index in 0..<100 { spread.insert(.request, "id-\(index)") }
        #expect((0..<100).allSatisfy { spread.mayContain(.request, "id-\($0)") })
        var (bank, _) = try Self.archivedBank()
        #expect(bank.ledger.idFilter?.layout == .blocked)
        bank.ledger.archive!.filter = spread
        var bytes: [UInt8] = []
        bank.ledger.writeCheckpoint { bytes.append(contentsOf: $0) }
        let restored = try bytes.withUnsafeBytes { try Ledger(checkpoint: $0) }
        #expect(restored.idFilter == spread, "a filter of the first layout loads as it was")
        #expect((0..<100).allSatisfy { restored.idFilter!.mayContain(.request, "id-\($0)") })
    }

    @Test func packedItemsHoldWhatWasPutInAndRefuseBytesThatDoNotAddUp() {
        let items = [HistoryItem(key: Array("ra".utf8), value: [1, 2, 3]), HistoryItem(key: Array("hb".utf8), value: []),
                     HistoryItem(key: Array("l12345678".utf8), value: Array(repeating: 7, count: 300))]
        let packed = PackedHistoryItems(items)
        #expect(packed.items == items && packed.count == 3 && packed.lastKey == Array("l12345678".utf8))
        #expect(PackedHistoryItems(validating: packed.bytes, count: 3) == packed)
        #expect(PackedHistoryItems(validating: packed.bytes, count: 2) == nil, "fewer items than the bytes hold")
        #expect(PackedHistoryItems(validating: packed.bytes, count: 4) == nil, "more items than the bytes hold")
        #expect(PackedHistoryItems(validating: packed.bytes + [0], count: 3) == nil, "trailing bytes")
        for length in 0..<packed.bytes.count {
            #expect(PackedHistoryItems(validating: Array(packed.bytes.prefix(length)), count: 3) == nil)
        }
        #expect(PackedHistoryItems().lastKey == nil && PackedHistoryItems(validating: [], count: 0)?.isEmpty == true)
    }

    @Test func aBusyAccountsLinesOfOneBatchGoInGroupsOfBoundedSize() throws {
        var bank = TestBank()
        bank.ledger.configureArchive(filterByteCount: 1 << 12, receiptWindow: 0, reader: NoHistory())
        bank.open("alice", funded: 1)
        for index in 0..<300 { try bank.must(.deposit(acct("alice"), amountMinor: 1), id: "d-\(index)") }
        let batch = bank.ledger.archiveBatch(after: 0, through: bank.ledger.lastAppliedSeq, maxItems: 1_000)
        let groups = try ArchiveCodec.items(for: batch).filter { ArchiveCodec.lineKey($0.key) != nil }
            .map { try ArchiveCodec.decodeLines($0.value, key: $0.key) }
            .sorted { $0[0].number < $1[0].number }
        #expect(groups.allSatisfy { $0.count <= ArchiveCodec.maxLinesPerGroup })
        #expect(groups.count == (batch.lines.count + ArchiveCodec.maxLinesPerGroup - 1) / ArchiveCodec.maxLinesPerGroup)
        #expect(groups.flatMap { $0 } == batch.lines, "every line once, in number order")
    }

    /// Accounts whose lines interleave in a batch (and cross the encoder's blocks of 32 and the groups of 128)
    /// get the groups a plain per-account grouping gives: each account's lines once, in order, in runs of at most
    /// 128, each keyed by its account and last number.
    @Test func interleavedAccountsLinesGoInTheSameGroupsAsAccountByAccount() throws {
        var bank = TestBank()
        bank.ledger.configureArchive(filterByteCount: 1 << 12, receiptWindow: 0, reader: NoHistory())
        for name in ["alice", "bob", "carol"] { bank.open(name, funded: 1) }
        for index in 0..<300 {
            for name in ["alice", "bob", "carol"] where index % 7 != 3 || name != "bob" {
                try bank.must(.deposit(acct(name), amountMinor: 1), id: "d-\(name)-\(index)")
            }
        }
        let batch = bank.ledger.archiveBatch(after: 0, through: bank.ledger.lastAppliedSeq, maxItems: 10_000)
        var expected: [[ArchivedLine]] = []
        for slot in Set(batch.lines.map(\.slot)).sorted() {
            let lines = batch.lines.filter { $0.slot == slot }
            expected += stride(from: 0, to: lines.count, by: ArchiveCodec.maxLinesPerGroup).map {
                Array(lines[$0..<min($0 + ArchiveCodec.maxLinesPerGroup, lines.count)])
            }
        }
        var groups: [[ArchivedLine]] = []
        for item in ArchiveCodec.items(for: batch) {
            guard let (slot, last) = ArchiveCodec.lineKey(item.key) else { continue }
            let group = try ArchiveCodec.decodeLines(item.value, key: item.key)
            #expect(group.allSatisfy { $0.slot == slot } && group.last?.number == last)
            groups.append(group)
        }
        #expect(expected.count >= 9)
        #expect(groups == expected)
    }

    /// A batch gathered while a follower copied the leader's store may hold what the copy then brought: sent after
    /// the copy, it leaves that out (a leader's store never rewrites an index entry a follower may be copying).
    @Test func aBatchLeavesOutWhatTheStoreAlreadyHolds() throws {
        var bank = TestBank()
        bank.ledger.configureArchive(filterByteCount: 1 << 12, receiptWindow: 0, reader: NoHistory())
        for name in ["alice", "bob"] { bank.open(name, funded: 100) }
        for index in 0..<20 {
            try bank.must(.transfer(from: acct("alice"), to: acct("bob"), amountMinor: 1, reference: nil), id: "t-\(index)")
        }
        let last = bank.ledger.lastAppliedSeq
        var batch = bank.ledger.archiveBatch(after: 0, through: last, maxItems: 10_000)
        let cut = last - 5
        batch.dropThrough(cut)
        #expect(batch.afterSeq == cut && batch.throughSeq == last)
        #expect(!batch.receipts.isEmpty && batch.receipts.allSatisfy { $0.receipt.seq > cut })
        #expect(!batch.lines.isEmpty && batch.lines.allSatisfy { $0.seq > cut })
        // Still encodable: each account's remaining lines are consecutive.
        #expect(!ArchiveCodec.items(for: batch).isEmpty)
        batch.dropThrough(last + 3)
        #expect(batch.itemCount == 0 && batch.afterSeq == batch.throughSeq)
    }

    /// Two batchings of the same account's lines — a follower's own while it copies the leader's store, from where
    /// its memory starts, and the copy's — are both kept, whichever is written last: a group's key names both its
    /// ends. With the last number alone, a group of one batching overwrote the other's that ended at the same line,
    /// and the lines only that group held were lost.
    @Test func twoBatchingsOfTheSameLinesKeepEveryLineWhicheverIsWrittenLast() throws {
        func line(_ number: UInt32) -> ArchivedLine {
            ArchivedLine(slot: 2, number: number, seq: Seq(number) + 1, amountMinor: 1, balanceAfterMinor: Int64(number),
                         timeMillis: 0, requestID: RequestID("r-\(number)")!, reference: nil, counterpartySlot: 0,
                         kind: .deposit)
        }
        func batches(_ bounds: [UInt32]) -> [ArchiveBatch] { // lines bounds[i] ..< bounds[i + 1], one batch each
            zip(bounds, bounds.dropFirst()).map { from, to in
                ArchiveBatch(afterSeq: Seq(from), throughSeq: Seq(to), receipts: [], closedHolds: [],
                             lines: (from..<to).map(line))
            }
        }
        // The copy holds lines 0..<300 in batches of its own; the follower's own batches start at line 150 (where its
        // memory started) and end at the same lines as some of the copy's (200, 300), starting elsewhere.
        let copy = batches([0, 60, 130, 200, 240, 300])
        let own = batches([150, 200, 270, 300])
        for ownFirst in [true, false] {
            let store = MemoryHistory()
            for batch in ownFirst ? own + copy : copy + own {
                for item in ArchiveCodec.items(for: batch) { store.items[item.key] = item.value }
            }
            let page = try store.lines(of: 2, below: 300, limit: 1_000)
            #expect(page.map(\.number) == Array((0..<300).reversed()), "own written \(ownFirst ? "first" : "last")")
            #expect(page.allSatisfy { $0 == line($0.number) })
        }
    }

    /// A batch's lines are grouped by account in a stable order, by counting slots when they are dense and by
    /// sorting when a few lines belong to far-apart slots.
    @Test func linesAreOrderedBySlotKeepingEachAccountsOrder() {
        func line(_ slot: UInt32, _ number: UInt32) -> ArchivedLine {
            ArchivedLine(slot: slot, number: number, seq: 1, amountMinor: 1, balanceAfterMinor: 1, timeMillis: 0,
                         requestID: RequestID("r")!, reference: nil, counterpartySlot: 0, kind: .deposit)
        }
        let dense = [line(5, 0), line(1, 0), line(5, 1), line(3, 0), line(1, 1), line(5, 2)]
        #expect(dense.withUnsafeBufferPointer { ArchiveCodec.linesBySlot($0) } == [1, 4, 3, 0, 2, 5])
        let sparse = [line(4_000_000_000, 0), line(7, 0), line(4_000_000_000, 1), line(0, 0)]
        #expect(sparse.withUnsafeBufferPointer { ArchiveCodec.linesBySlot($0) } == [3, 1, 0, 2])
        #expect([ArchivedLine]().withUnsafeBufferPointer { ArchiveCodec.linesBySlot($0) } == [])
    }
}
