import SeededRandom
import Testing
@testable import BankCore

@Suite("The ledger as a function of its journal")
struct LedgerTests {
    @Test func executeReturnsAnEntryOnlyWhenSomethingChanged() throws {
        var bank = TestBank()
        let open = Mutation(requestID: req("o"), operation: .openAccount(acct("a"), currency: .gbp, overdraftLimitMinor: 0))
        let (_, opened) = bank.execute(.mutation(open))
        #expect(opened == Entry(timeMillis: bank.clock, mutations: [open]))
        #expect(bank.execute(.query(.balance(acct("a")))).entry == nil, "a read")
        #expect(bank.execute(.mutation(Mutation(requestID: req("w"), operation: .withdraw(acct("a"), amountMinor: 1))))
                    .entry == nil, "a refusal")
        #expect(bank.execute(.mutation(open)).entry == nil, "a replay")
        #expect(bank.ledger.lastAppliedSeq == 1 && bank.journal.count == 1)
    }

    @Test func applyingTheJournalRebuildsTheSameStateAndReceipts() throws {
        var bank = TestBank()
        bank.open("a", funded: 500, overdraft: 50)
        bank.open("b", currency: eur)
        try bank.must(.hold(acct("a"), amountMinor: 100, holdID: hid("h")), id: "hold")
        try bank.must(.capture(hid("h"), amountMinor: 60), id: "cap")
        try bank.must(.freeze(acct("b")), id: "frz")
        let replica = try bank.replica()
        #expect(replica.stateDigest == bank.ledger.stateDigest)
        #expect(replica.lastAppliedSeq == bank.ledger.lastAppliedSeq)
        for id in ["hold", "cap", "frz"] {
            #expect(replica.receipt(for: req(id)) == bank.ledger.receipt(for: req(id)))
        }
        #expect(replica.query(.statement(acct("a"), limit: 10, beforeSeq: nil))
                == bank.ledger.query(.statement(acct("a"), limit: 10, beforeSeq: nil)))
    }

    @Test func theDigestTellsDifferentStatesApart() throws {
        var one = TestBank()
        var two = TestBank()
        one.open("a", funded: 100)
        two.open("a", funded: 100)
        #expect(one.ledger.stateDigest == two.ledger.stateDigest)
        one.deposit("a", 1)
        two.deposit("a", 2)
        #expect(one.ledger.stateDigest != two.ledger.stateDigest)
        var three = TestBank()
        three.open("a", funded: 100)
        try three.must(.hold(acct("a"), amountMinor: 1, holdID: hid("x")))
        try three.must(.release(hid("x")))
        #expect(three.ledger.balanceTotals() == one.ledger.balanceTotals())
        #expect(three.ledger.stateDigest != one.ledger.stateDigest, "holds count too")
    }

    @Test func anEntryThatDoesNotApplyStopsTheProcess() async {
        await #expect(processExitsWith: .failure) {
            var ledger = Ledger()
            ledger.apply(Entry(timeMillis: 1, mutations: [Mutation(
                requestID: RequestID("x")!, operation: .deposit(AccountID("ghost")!, amountMinor: 1))]), seq: 1)
        }
    }

    @Test func entriesOutOfOrderStopTheProcess() async {
        await #expect(processExitsWith: .failure) {
            var ledger = Ledger()
            let open = Entry(timeMillis: 1, mutations: [Mutation(
                requestID: RequestID("o")!, operation: .openAccount(AccountID("a")!, currency: .gbp, overdraftLimitMinor: 0))])
            ledger.apply(open, seq: 5)
            _ = ledger.execute(.query(.balance(AccountID("a")!)), seq: 5, timeMillis: 2)
        }
    }

    /// Thousands of random requests (single and batched, valid and not, with repeated request ids): the invariants
    /// hold after every one (`TestBank` checks them), and a follower applying the encoded journal reaches the same
    /// state, receipts and statements.
    @Test(arguments: [1, 2, 3] as [UInt64])
    func randomRequestsKeepTheBooksBalancedAndReplayToTheSameState(seed: UInt64) throws {
        var random = SplitMix64(seed: seed)
        var bank = TestBank()
        let names = (0..<8).map { "acc\($0)" } + ["ghost"]
        var requestIDs: [String] = []
        var holdCount = 0

        func randomOperation() -> Operation {
            let a = acct(random.pick(names)), b = acct(random.pick(names))
            let amount: Int64 = random.chance(3) ? random.pick([0, -5, Money.maximumAmountMinor + 1])
                : random.chance(2) ? Money.maximumAmountMinor : Int64(1 + random.below(900))
            let anyHold = hid("h\(random.below(holdCount + 1))")
            switch random.below(12) {
            case 0: return .openAccount(a, currency: random.chance(70) ? .gbp : eur,
                                        overdraftLimitMinor: random.chance(5) ? -1 : Int64(random.below(3) * 250))
            case 1, 2: return .deposit(a, amountMinor: amount)
            case 3: return .withdraw(a, amountMinor: amount)
            case 4, 5: return .transfer(from: a, to: b, amountMinor: amount, reference: random.chance(30) ? "ref" : nil)
            case 6:
                holdCount += 1
                return .hold(a, amountMinor: amount, holdID: random.chance(10) ? anyHold : hid("h\(holdCount)"))
            case 7: return .capture(anyHold, amountMinor: random.chance(50) ? nil : Int64(1 + random.below(500)))
            case 8: return .release(anyHold)
            case 9: return .freeze(a)
            case 10: return .unfreeze(a)
            default: return .withdraw(a, amountMinor: Int64(1 + random.below(100)))
            }
        }

        func randomMutation() -> Mutation {
            let id: String
            if !requestIDs.isEmpty && random.chance(8) {
                id = random.pick(requestIDs) // a retry, or a conflicting reuse
            } else {
                id = "q\(requestIDs.count)"
                requestIDs.append(id)
            }
            return Mutation(requestID: req(id), operation: randomOperation())
        }

        for name in names.dropLast() {
            bank.open(name, overdraft: Int64(random.below(500)), currency: random.chance(80) ? .gbp : eur)
        }
        for _ in 0..<3_000 {
            let request: LedgerRequest
            switch random.below(10) {
            case 0:
                let items = (0..<random.below(6)).map { _ -> BatchItem in
                    random.chance(15)
                        ? .query(random.chance(50) ? .balance(acct(random.pick(names)))
                                 : .statement(acct(random.pick(names)), limit: 1 + random.below(5), beforeSeq: nil))
                        : .mutation(randomMutation())
                }
                request = .batch(items, atomic: random.chance(50))
            case 1:
                request = .query(.balance(acct(random.pick(names))))
            default:
                request = .mutation(randomMutation())
            }
            let seq = bank.nextSeq
            let (response, entry) = bank.execute(request)
            if let entry {
                #expect(try Entry(decoding: bank.journal.last!.bytes) == entry)
                for mutation in entry.mutations {
                    #expect(bank.ledger.receipt(for: mutation.requestID)?.seq == seq)
                }
            }
            if case let .mutation(.success(receipt)) = response, !receipt.replayed {
                #expect(bank.ledger.receipt(for: receipt.requestID) == receipt)
            }
        }
        #expect(bank.journal.count > 500, "the run did real work")

        let replica = try bank.replica()
        #expect(replica.stateDigest == bank.ledger.stateDigest)
        #expect(replica.accountCount == bank.ledger.accountCount)
        #expect(replica.balanceTotals() == bank.ledger.balanceTotals())
        for id in requestIDs {
            #expect(replica.receipt(for: req(id)) == bank.ledger.receipt(for: req(id)), "receipt \(id)")
        }
        for name in names {
            #expect(replica.query(.balance(acct(name))) == bank.ledger.query(.balance(acct(name))))
            #expect(replica.query(.statement(acct(name), limit: 100_000, beforeSeq: nil))
                    == bank.ledger.query(.statement(acct(name), limit: 100_000, beforeSeq: nil)))
        }
    }
}
