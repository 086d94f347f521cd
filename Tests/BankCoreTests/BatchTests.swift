import Testing
@testable import BankCore

private func mutation(_ id: String, _ operation: Operation) -> BatchItem {
    .mutation(Mutation(requestID: req(id), operation: operation))
}

private func transfer(_ id: String, _ from: String, _ to: String, _ amount: Int64) -> BatchItem {
    mutation(id, .transfer(from: acct(from), to: acct(to), amountMinor: amount, reference: nil))
}

@Suite("Batches")
struct BatchTests {
    @Test func aNonAtomicBatchAppliesEachItemOnItsOwnUnderOneSeq() throws {
        var bank = TestBank()
        bank.open("p", funded: 100)
        bank.open("q")
        let seq = bank.nextSeq
        let items = [transfer("b1", "p", "q", 60), transfer("b2", "p", "q", 60), transfer("b3", "p", "q", 40)]
        let (results, failedIndex, entry) = bank.batch(items, atomic: false)
        #expect(failedIndex == nil && results.count == 3)
        #expect(results[1] == .mutation(.failure(.insufficientFunds(acct("p"), availableMinor: 40, requestedMinor: 60))))
        guard case let .mutation(.success(first)) = results[0], case let .mutation(.success(third)) = results[2] else {
            Issue.record("items 0 and 2 should succeed: \(results)")
            return
        }
        #expect(first.seq == seq && third.seq == seq && third.balanceMinor == 0)
        #expect(entry?.mutations.map(\.requestID) == [req("b1"), req("b3")], "only the successes, in order")
        #expect(bank.ledger.receipt(for: req("b2")) == nil)
        #expect(try bank.balance("q").balanceMinor == 100)
    }

    @Test func queriesInABatchSeeTheEarlierItems() throws {
        var bank = TestBank()
        bank.open("p", funded: 100)
        let (results, _, _) = bank.batch([
            .query(.balance(acct("p"))),
            mutation("d", .deposit(acct("p"), amountMinor: 5)),
            .query(.balance(acct("p"))),
            .query(.statement(acct("p"), limit: 1, beforeSeq: nil)),
        ], atomic: true)
        guard case let .query(.success(.balance(before))) = results[0],
              case let .query(.success(.balance(after))) = results[2],
              case let .query(.success(.statement(_, lines))) = results[3] else {
            Issue.record("unexpected results \(results)")
            return
        }
        #expect(before.balanceMinor == 100 && after.balanceMinor == 105)
        #expect(lines.map(\.requestID) == [req("d")])
    }

    @Test func anAtomicBatchThatSucceedsIsOneEntry() throws {
        var bank = TestBank()
        bank.open("p", funded: 100)
        let seq = bank.nextSeq
        let (results, failedIndex, entry) = bank.batch([
            mutation("o", .openAccount(acct("q"), currency: .gbp, overdraftLimitMinor: 0)),
            transfer("t", "p", "q", 70),
            mutation("h", .hold(acct("q"), amountMinor: 20, holdID: hid("hq"))),
        ], atomic: true)
        #expect(failedIndex == nil && entry?.mutations.count == 3)
        #expect(results.allSatisfy { if case let .mutation(.success(receipt)) = $0 { receipt.seq == seq } else { false } })
        #expect(try bank.balance("q").availableMinor == 50)
        #expect(bank.journal.count == seq)
    }

    @Test func anAtomicBatchThatFailsUndoesEverythingItsEarlierItemsDid() throws {
        var bank = TestBank()
        bank.open("p", funded: 100)
        bank.open("q")
        try bank.must(.hold(acct("p"), amountMinor: 10, holdID: hid("old")))
        let digest = bank.ledger.stateDigest
        let statementP = try bank.statement("p")
        let journalLength = bank.journal.count

        let items: [BatchItem] = [
            transfer("b1", "p", "q", 60),
            mutation("b2", .hold(acct("q"), amountMinor: 10, holdID: hid("hb"))),
            mutation("b3", .openAccount(acct("new"), currency: eur, overdraftLimitMinor: 0)),
            mutation("b4", .deposit(acct("new"), amountMinor: 9)), // creates settlement:EUR
            mutation("b5", .capture(hid("old"), amountMinor: 4)),
            mutation("b6", .freeze(acct("q"))),
            mutation("b1", .transfer(from: acct("p"), to: acct("q"), amountMinor: 60, reference: nil)), // replay
            transfer("b7", "p", "q", 60), // fails: insufficient funds
            mutation("b8", .deposit(acct("p"), amountMinor: 1)),
        ]
        let (results, failedIndex, entry) = bank.batch(items, atomic: true)
        #expect(failedIndex == 7 && entry == nil)
        #expect(results.count == 8, "results up to the failing item, for diagnosis")
        #expect(results[6] == .mutation(.success(try #require(results[0].receipt).replayedCopy)))
        #expect(results[7] == .mutation(.failure(.insufficientFunds(acct("p"), availableMinor: 36, requestedMinor: 60))))

        #expect(bank.ledger.stateDigest == digest, "accounts, holds, settlement accounts all as before")
        #expect(bank.journal.count == journalLength)
        #expect(try bank.balance("p").balanceMinor == 100 && bank.balance("p").heldMinor == 10)
        #expect(try bank.balance("q").balanceMinor == 0 && !bank.balance("q").frozen)
        #expect(try bank.statement("p") == statementP && bank.statement("q").isEmpty, "no line survives")
        #expect(bank.ledger.query(.balance(acct("new"))) == .failure(.unknownAccount(acct("new"))))
        #expect(bank.ledger.accountCount == 2)
        #expect(bank.ledger.balanceTotals()[eur] == nil, "the settlement account created in the batch is gone")
        for id in ["b1", "b2", "b3", "b4", "b5", "b6"] {
            #expect(bank.ledger.receipt(for: req(id)) == nil, "request id \(id) is free again")
        }
        // The rolled-back hold id and request ids can be used afresh.
        let reused = try bank.run(.hold(acct("p"), amountMinor: 1, holdID: hid("hb")), id: "b2").get()
        #expect(!reused.replayed && reused.heldMinor == 11)
        #expect(try bank.run(.openAccount(acct("new"), currency: eur, overdraftLimitMinor: 0), id: "b3").get().replayed == false)
    }

    @Test func anAtomicBatchFailsOnAFailingQueryToo() throws {
        var bank = TestBank()
        bank.open("p", funded: 100)
        let digest = bank.ledger.stateDigest
        let (results, failedIndex, entry) = bank.batch([
            mutation("d", .deposit(acct("p"), amountMinor: 5)),
            .query(.balance(acct("missing"))),
        ], atomic: true)
        #expect(failedIndex == 1 && entry == nil)
        #expect(results[1] == .query(.failure(.unknownAccount(acct("missing")))))
        #expect(bank.ledger.stateDigest == digest && bank.ledger.receipt(for: req("d")) == nil)
    }

    @Test func aRequestIDRepeatedInsideABatchIsAReplayOrAConflict() throws {
        var bank = TestBank()
        bank.open("p", funded: 100)
        let (results, failedIndex, entry) = bank.batch([
            mutation("x", .withdraw(acct("p"), amountMinor: 10)),
            mutation("x", .withdraw(acct("p"), amountMinor: 10)),
            mutation("x", .withdraw(acct("p"), amountMinor: 11)),
        ], atomic: false)
        #expect(failedIndex == nil)
        let first = try #require(results[0].receipt)
        #expect(results[1] == .mutation(.success(first.replayedCopy)))
        #expect(results[2] == .mutation(.failure(.idempotencyConflict(req("x")))))
        #expect(entry?.mutations.count == 1)
        #expect(try bank.balance("p").balanceMinor == 90)

        let atomic = bank.batch([
            mutation("y", .withdraw(acct("p"), amountMinor: 10)),
            mutation("y", .withdraw(acct("p"), amountMinor: 12)),
        ], atomic: true)
        #expect(atomic.failedIndex == 1 && atomic.entry == nil)
        #expect(try bank.balance("p").balanceMinor == 90)
    }

    @Test func aBatchOfOnlyReplaysAndQueriesOrNothingProducesNoEntry() throws {
        var bank = TestBank()
        bank.open("p", funded: 100)
        for atomic in [false, true] {
            let empty = bank.batch([], atomic: atomic)
            #expect(empty.results.isEmpty && empty.failedIndex == nil && empty.entry == nil)
        }
        try bank.must(.deposit(acct("p"), amountMinor: 1), id: "d")
        let journalLength = bank.journal.count
        let replays = bank.batch([mutation("d", .deposit(acct("p"), amountMinor: 1)), .query(.balance(acct("p")))],
                                 atomic: true)
        #expect(replays.failedIndex == nil && replays.entry == nil && bank.journal.count == journalLength)
    }

    @Test func aFollowerReplayingABatchEntryGetsTheSameStateAndReceipts() throws {
        var bank = TestBank()
        bank.open("p", funded: 100)
        bank.open("q")
        _ = bank.batch([
            transfer("t1", "p", "q", 30),
            mutation("h", .hold(acct("q"), amountMinor: 20, holdID: hid("hq"))),
            mutation("c", .capture(hid("hq"), amountMinor: 5)),
            transfer("t2", "q", "p", 25),
        ], atomic: true)
        let replica = try bank.replica()
        #expect(replica.stateDigest == bank.ledger.stateDigest)
        for id in ["t1", "h", "c", "t2"] {
            #expect(replica.receipt(for: req(id)) == bank.ledger.receipt(for: req(id)))
        }
        #expect(replica.query(.statement(acct("q"), limit: 10, beforeSeq: nil))
                == bank.ledger.query(.statement(acct("q"), limit: 10, beforeSeq: nil)))
    }
}

extension ItemResult {
    var receipt: Receipt? {
        if case let .mutation(.success(receipt)) = self { receipt } else { nil }
    }
}

extension Receipt {
    var replayedCopy: Receipt {
        var copy = self
        copy.replayed = true
        return copy
    }
}
