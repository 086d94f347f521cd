import SeededRandom
import Testing
@testable import BankCore

@Suite("Statements")
struct StatementTests {
    @Test func everyBalanceMovementWritesALineAndNothingElseDoes() throws {
        var bank = TestBank()
        bank.open("a", overdraft: 100)
        bank.open("b")
        try bank.must(.deposit(acct("a"), amountMinor: 500), id: "dep")
        try bank.must(.withdraw(acct("a"), amountMinor: 50), id: "wd")
        try bank.must(.transfer(from: acct("a"), to: acct("b"), amountMinor: 70, reference: "lunch"), id: "tr")
        try bank.must(.transfer(from: acct("b"), to: acct("a"), amountMinor: 20, reference: nil), id: "back")
        try bank.must(.hold(acct("a"), amountMinor: 90, holdID: hid("h1")))
        try bank.must(.capture(hid("h1"), amountMinor: 30), id: "cap")
        try bank.must(.hold(acct("a"), amountMinor: 5, holdID: hid("h2")))
        try bank.must(.release(hid("h2")))
        try bank.must(.freeze(acct("a")))
        try bank.must(.unfreeze(acct("a")))

        let lines = try bank.statement("a")
        #expect(lines.map(\.requestID) == [req("cap"), req("back"), req("tr"), req("wd"), req("dep")], "newest first")
        #expect(lines.map(\.kind) == [.capture, .transfer, .transfer, .withdrawal, .deposit])
        #expect(lines.map(\.amountMinor) == [-30, 20, -70, -50, 500], "debits negative")
        #expect(lines.map(\.balanceAfterMinor) == [370, 400, 380, 450, 500])
        #expect(lines.map(\.counterparty) == [.settlement(.gbp), acct("b"), acct("b"), .settlement(.gbp), .settlement(.gbp)])
        #expect(lines.map(\.reference) == [nil, nil, "lunch", nil, nil])
        #expect(lines.map(\.seq) == lines.map(\.seq).sorted(by: >))
        #expect(Set(lines.map(\.timeMillis)).count == lines.count, "each line carries its entry's time")

        let other = try bank.statement("b")
        #expect(other.map(\.amountMinor) == [-20, 70])
        #expect(other.map(\.counterparty) == [acct("a"), acct("a")])
        #expect(other.last?.reference == "lunch", "the reference appears on both sides")
        #expect(other.last?.seq == lines[2].seq && other.last?.timeMillis == lines[2].timeMillis)
    }

    @Test func aPageHoldsTheNewestLinesBeforeTheGivenSeq() throws {
        var bank = TestBank()
        bank.open("s", funded: 1_000)
        bank.open("t")
        for index in 1...5 {
            try bank.must(.transfer(from: acct("s"), to: acct("t"), amountMinor: Int64(index), reference: nil))
        }
        let first = try bank.statement("s", limit: 3)
        #expect(first.map(\.amountMinor) == [-5, -4, -3])
        let second = try bank.statement("s", limit: 3, beforeSeq: first.last!.seq)
        #expect(second.map(\.amountMinor) == [-2, -1, 1_000])
        #expect(try bank.statement("s", limit: 3, beforeSeq: second.last!.seq).isEmpty)
        #expect(try bank.statement("s", limit: 100, beforeSeq: 1).isEmpty, "nothing before the first entry")
        #expect(try bank.statement("s", limit: 1, beforeSeq: 10_000).map(\.amountMinor) == [-5])
    }

    /// An atomic batch moves an account several times under one seq; paging continues with `beforeSeq = last seq`,
    /// so splitting a seq would lose lines. A page therefore ends on a seq boundary, even past `limit`.
    @Test func aPageNeverSplitsTheLinesOfOneSeq() throws {
        var bank = TestBank()
        bank.open("s", funded: 1_000)
        bank.open("t")
        func transfer(_ id: String, _ amount: Int64) -> BatchItem {
            .mutation(Mutation(requestID: req(id), operation: .transfer(
                from: acct("s"), to: acct("t"), amountMinor: amount, reference: nil)))
        }
        _ = bank.batch([transfer("a1", 1), transfer("a2", 2), transfer("a3", 3)], atomic: true)
        try bank.must(.withdraw(acct("s"), amountMinor: 4), id: "w")
        _ = bank.batch([transfer("b1", 5), transfer("b2", 6)], atomic: false)

        let page = try bank.statement("s", limit: 1)
        #expect(page.map(\.requestID) == [req("b2"), req("b1")], "the whole newest seq, though limit is 1")
        let second = try bank.statement("s", limit: 2, beforeSeq: page.last!.seq)
        #expect(second.map(\.requestID) == [req("w"), req("a3"), req("a2"), req("a1")],
                "a seq reached below the limit is taken whole")
        let third = try bank.statement("s", limit: 2, beforeSeq: second.last!.seq)
        #expect(third.map(\.kind) == [.deposit])
    }

    @Test func pagingThroughABatchyHistoryReturnsEveryLineExactlyOnce() throws {
        var bank = TestBank()
        var random = SplitMix64(seed: 7)
        bank.open("s", funded: 100_000)
        bank.open("t", funded: 100_000)
        for round in 0..<60 {
            let count = 1 + random.below(4)
            let items = (0..<count).map { index -> BatchItem in
                let (from, to) = random.chance(50) ? ("s", "t") : ("t", "s")
                return .mutation(Mutation(requestID: req("r\(round)-\(index)"), operation: .transfer(
                    from: acct(from), to: acct(to), amountMinor: Int64(1 + random.below(100)), reference: nil)))
            }
            _ = bank.batch(items, atomic: random.chance(50))
        }
        let everything = try bank.statement("s", limit: 100_000)
        for limit in [1, 2, 3, 5, 8] {
            var collected: [StatementEntry] = []
            var before: Seq?
            while true {
                let page = try bank.statement("s", limit: limit, beforeSeq: before)
                collected += page
                if page.count < limit { break } // the protocol's rule: a short page is the end
                let seqs = Set(page.map(\.seq))
                #expect(page.count == limit || seqs.count == 1 || page.count - limit < 4, "exceeds only by one seq")
                before = page.last!.seq
            }
            #expect(collected == everything, "limit \(limit)")
        }
    }

    /// Deep pages start from the book's marks (every 256th line): the same lines as a walk from the newest, for every
    /// `before_seq`, through batches that move the account several times under one seq, and after rolling back
    /// entries that had written marked lines.
    @Test func deepPagesFromTheMarksEqualAFullWalk() throws {
        var bank = TestBank()
        bank.open("a", funded: 1_000_000)
        bank.open("b", funded: 1_000_000)
        bank.ledger.keepsUndo = true
        for round in 0..<700 {
            if round % 7 == 0 {
                // Three lines of "a" under one seq.
                _ = bank.batch((0..<3).map { item in
                    .mutation(Mutation(requestID: req("batch-\(round)-\(item)"),
                                       operation: .transfer(from: acct("a"), to: acct("b"), amountMinor: 1, reference: nil)))
                }, atomic: true)
            } else {
                try bank.must(.transfer(from: acct("b"), to: acct("a"), amountMinor: 2, reference: nil))
            }
        }
        let rollbackTo = bank.ledger.lastAppliedSeq - 40
        bank.ledger.rollBack(to: rollbackTo)
        bank.journal.removeAll { $0.seq > rollbackTo }
        let all = try bank.statement("a", limit: 1000)
        let slot = bank.ledger.slots[acct("a")]!
        let walked = Array(bank.ledger.book.linesNewestFirst(of: slot))
        for beforeSeq in stride(from: Seq(1), through: bank.ledger.lastAppliedSeq + 2, by: 3) {
            let page = try bank.ledger.statementPage(of: slot, limit: 10, beforeSeq: beforeSeq)
            let expected = walked.filter { $0.seq < beforeSeq }
            #expect(page.map(\.seq) == Array(expected.prefix(page.count).map(\.seq)), "before \(beforeSeq)")
            #expect(page.count >= min(10, expected.count))
        }
        #expect(all.count == walked.count)
    }

    @Test func statementQueriesCheckTheirArguments() {
        let bank = TestBank()
        #expect(bank.ledger.query(.statement(acct("x"), limit: 10, beforeSeq: nil)) == .failure(.unknownAccount(acct("x"))))
        guard case .failure(.invalid) = bank.ledger.query(.statement(acct("x"), limit: 0, beforeSeq: nil)) else {
            Issue.record("limit 0 should be invalid")
            return
        }
    }
}
