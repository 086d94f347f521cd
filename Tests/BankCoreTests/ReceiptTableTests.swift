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

    /// The shards fill at different paces (shares over a factor of two), so they do not all grow at once.
    @Test func shardsAreUnequalSoTheirGrowthIsSpreadOut() {
        var table = ReceiptTable()
        for index in 0..<200_000 { table[req("bench-\(index)")] = stored(Seq(index)) }
        let sizes = table.shardSizes
        #expect(sizes.reduce(0, +) == 200_000)
        let smallest = sizes.prefix(16).reduce(0, +), largest = sizes.suffix(16).reduce(0, +)
        let ratio = Double(largest) / Double(smallest)
        #expect(ratio > 1.7 && ratio < 2.3, "the last shards should hold about twice the first: \(ratio)")
    }
}
