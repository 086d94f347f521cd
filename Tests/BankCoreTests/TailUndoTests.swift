import SeededRandom
import Testing
@testable import BankCore

/// Rolling back the undoable tail must leave exactly the state that applying the shorter journal gives: a follower
/// that cuts uncommitted records relies on it instead of rebuilding from the whole journal.
@Suite struct TailUndoTests {
    /// A mixed workload on a leader that keeps undo logs: accounts, deposits, transfers (some refused), holds,
    /// captures, releases, freezes, replays and batches, atomic and not.
    private func workload(seed: UInt64, requests: Int) throws -> TestBank {
        var bank = TestBank()
        bank.ledger.keepsUndo = true
        var random = SplitMix64(seed: seed)
        let names = (0..<6).map { "acct\($0)" }
        for name in names { bank.open(name, funded: 10_000, overdraft: name == "acct0" ? 500 : 0) }
        var holds: [String] = []
        for index in 0..<requests {
            let a = acct(random.pick(names)), b = acct(random.pick(names))
            switch random.below(9) {
            case 0, 1, 2:
                bank.run(.transfer(from: a, to: b, amountMinor: Int64(random.below(4_000) + 1), reference: "r\(index)"))
            case 3:
                let id = "h\(index)"
                if case .success = bank.run(.hold(a, amountMinor: Int64(random.below(3_000) + 1), holdID: hid(id))) {
                    holds.append(id)
                }
            case 4:
                if let id = holds.popLast() { bank.run(.capture(hid(id), amountMinor: nil)) }
            case 5:
                if let id = holds.popLast() { bank.run(.release(hid(id))) }
            case 6:
                bank.run(random.chance(50) ? .freeze(a) : .unfreeze(a))
            case 7:
                bank.run(.deposit(a, amountMinor: 100), id: "gen-\(random.below(index + 1) + 1)") // often a replay
            default:
                let items = (0..<3).map { item in
                    BatchItem.mutation(Mutation(requestID: req("b\(index)-\(item)"), operation: .transfer(
                        from: acct(random.pick(names)), to: acct(random.pick(names)),
                        amountMinor: Int64(random.below(6_000) + 1), reference: nil)))
                }
                bank.batch(items, atomic: random.chance(50))
            }
        }
        return bank
    }

    /// The state after applying the first `count` journal entries.
    private func replayed(_ bank: TestBank, entries count: Int) throws -> Ledger {
        var ledger = Ledger()
        for (seq, bytes) in bank.journal.prefix(count) { ledger.apply(try Entry(decoding: bytes), seq: seq) }
        return ledger
    }

    @Test(arguments: [1, 2, 3, 4] as [UInt64])
    func rollingBackToAnySeqGivesTheStateOfTheShorterJournal(seed: UInt64) throws {
        let bank = try workload(seed: seed, requests: 120)
        let entryCount = bank.journal.count
        #expect(bank.ledger.undoableEntryCount == entryCount)
        for cut in stride(from: entryCount, through: 0, by: -7) {
            var ledger = bank.ledger
            #expect(ledger.canRollBack(to: Seq(cut)))
            ledger.rollBack(to: Seq(cut))
            ledger.checkInvariants()
            let expected = try replayed(bank, entries: cut)
            #expect(ledger.lastAppliedSeq == Seq(cut))
            #expect(ledger.stateDigest == expected.stateDigest, "cut after \(cut) of \(entryCount)")
            for name in (0..<6).map({ "acct\($0)" }) where cut > 12 {
                let page = Query.statement(acct(name), limit: 1000, beforeSeq: nil)
                #expect(ledger.query(page) == expected.query(page))
            }
        }
    }

    @Test func aRolledBackLedgerGoesOnAsIfTheCutEntriesNeverHappened() throws {
        let bank = try workload(seed: 9, requests: 60)
        var ledger = bank.ledger
        let cut = Seq(bank.journal.count / 2)
        ledger.rollBack(to: cut)
        // A request whose entry was cut is new again, not a replay.
        var expected = try replayed(bank, entries: Int(cut))
        let next = Mutation(requestID: req("after-cut"), operation: .deposit(acct("acct1"), amountMinor: 5))
        let ours = ledger.execute(.mutation(next), seq: cut + 1, timeMillis: 1)
        let theirs = expected.execute(.mutation(next), seq: cut + 1, timeMillis: 1)
        #expect(ours.response == theirs.response)
        #expect(ledger.stateDigest == expected.stateDigest)
    }

    @Test func committedEntriesLoseTheirUndoLogs() throws {
        let bank = try workload(seed: 5, requests: 40)
        var ledger = bank.ledger
        let committed = Seq(bank.journal.count - 3)
        ledger.forgetUndo(through: committed)
        #expect(ledger.undoableEntryCount == 3)
        #expect(ledger.canRollBack(to: committed))
        #expect(!ledger.canRollBack(to: committed - 1))
    }

    @Test func aLedgerThatKeepsNoUndoCanOnlyStayWhereItIs() throws {
        var bank = TestBank()
        bank.open("a", funded: 100)
        #expect(bank.ledger.undoableEntryCount == 0)
        #expect(bank.ledger.canRollBack(to: bank.ledger.lastAppliedSeq))
        #expect(!bank.ledger.canRollBack(to: 0))
    }
}
