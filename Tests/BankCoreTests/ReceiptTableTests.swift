import Testing
@testable import BankCore

@Suite struct ReceiptTableTests {
    private func stored(_ seq: Seq) -> StoredReceipt {
        StoredReceipt(operation: .deposit(acct("a"), amountMinor: 1), receipt: Receipt(
            seq: seq, requestID: req("r"), account: acct("a"), balanceMinor: 1, availableMinor: 1, heldMinor: 0,
            frozen: false))
    }

    @Test func storesFindsAndRemovesEveryID() {
        var table = ReceiptTable()
        for index in 0..<20_000 { table[req("req-\(index)")] = stored(Seq(index)) }
        #expect(table.count == 20_000)
        #expect((0..<20_000).allSatisfy { table[req("req-\($0)")]?.seq == Seq($0) })
        #expect(table[req("req-20000")] == nil)
        table[req("req-7")] = stored(99) // overwrite: no new entry
        #expect(table.count == 20_000 && table[req("req-7")]?.seq == 99)
        table[req("req-7")] = nil
        table[req("never-stored")] = nil
        #expect(table.count == 19_999 && table[req("req-7")] == nil)
    }

    /// A new table makes no shards until its first receipt; lookups, removals and a restore on it find nothing.
    @Test func anEmptyTableMakesNoShardsUntilItsFirstReceipt() {
        var table = ReceiptTable()
        #expect(table.shardSizes.isEmpty && table[req("a")] == nil)
        #expect(table.remove(req("a")) == nil)
        table[req("a")] = nil
        #expect(table.shardSizes.isEmpty && table.count == 0)
        table[req("a")] = stored(1)
        #expect(table.shardSizes.count == 65_536 && table[req("a")]?.seq == 1 && table.count == 1)
    }

    /// Ids spread over all the shards, none much fuller than the average: no shard's growth is a big copy, and a
    /// batch's writes after a checkpoint touch only a small part of the table.
    @Test func idsSpreadEvenlyOverManySmallShards() {
        var table = ReceiptTable()
        for index in 0..<300_000 { table[req("bench-\(index)")] = stored(Seq(index)) }
        let sizes = table.shardSizes
        #expect(sizes.count == 65_536 && sizes.reduce(0, +) == 300_000)
        #expect(sizes.max()! <= 25, "average 4.6, largest \(sizes.max()!)")
        #expect(sizes.filter { $0 > 0 }.count > 60_000)
    }

    /// With an archive: receipts in generations of a fixed size, oldest first; lookups find them in any generation,
    /// a removal (an undo) takes one from wherever it is, and the oldest generation leaves whole.
    @Test func generationsFindRemoveAndLeaveOldestFirst() {
        var table = ReceiptTable()
        for index in 0..<5 { table[req("before-\(index)")] = stored(Seq(index)) }
        table.useGenerations(capacity: 4, order: (0..<5).map { (req("before-\($0)"), stored(Seq($0))) })
        #expect(table.isGenerational && table.count == 5 && table.shardSizes.isEmpty)
        for index in 5..<10 { table.insertNew(req("r-\(index)"), stored(Seq(index))) }
        #expect(table.count == 10 && table.oldestGenerationCount == 4)
        #expect((0..<5).allSatisfy { table[req("before-\($0)")]?.seq == Seq($0) })
        #expect((5..<10).allSatisfy { table[req("r-\($0)")]?.seq == Seq($0) })
        #expect(table[req("r-10")] == nil)
        table[req("before-2")] = stored(77) // in place, in the oldest generation
        #expect(table.count == 10 && table[req("before-2")]?.seq == 77 && table.oldestGenerationCount == 4)
        #expect(table.remove(req("r-9"))?.seq == 9 && table.remove(req("r-9")) == nil)
        #expect(table.count == 9)
        table.dropOldestGeneration()
        #expect(table.count == 5 && table[req("before-0")] == nil && table[req("before-4")]?.seq == 4)
        var seen: [Seq] = []
        table.forEach { _, receipt in seen.append(receipt.seq) }
        #expect(seen.sorted() == [4, 5, 6, 7, 8])
        table.dropOldestGeneration()
        table.dropOldestGeneration()
        #expect(table.count == 0 && table.oldestGenerationCount == nil)
    }
}
