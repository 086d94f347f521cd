import Testing
@testable import BankCore

@Suite("Idempotency: request ids")
struct IdempotencyTests {
    @Test func aRepeatedRequestReturnsTheOriginalReceiptMarkedReplayedAndChangesNothing() throws {
        var bank = TestBank()
        bank.open("alice", funded: 100)
        bank.open("bob")
        let operation = Operation.transfer(from: acct("alice"), to: acct("bob"), amountMinor: 30, reference: "x")
        let first = try bank.run(operation, id: "t1").get()
        #expect(!first.replayed)
        try bank.must(.deposit(acct("alice"), amountMinor: 1_000)) // the state moves on
        let digest = bank.ledger.stateDigest
        let journalLength = bank.journal.count

        let (response, entry) = bank.execute(.mutation(Mutation(requestID: req("t1"), operation: operation)))
        var expected = first
        expected.replayed = true
        #expect(response == .mutation(.success(expected)), "the original figures, not today's")
        #expect(entry == nil && bank.journal.count == journalLength, "a replay is not journaled")
        #expect(bank.ledger.stateDigest == digest)
        #expect(try bank.balance("bob").balanceMinor == 30)
        #expect(bank.ledger.receipt(for: req("t1")) == first, "stored with replayed = false")
    }

    @Test func reusingARequestIDForADifferentOperationIsAConflict() throws {
        var bank = TestBank()
        bank.open("alice", funded: 100)
        try bank.must(.withdraw(acct("alice"), amountMinor: 10), id: "w")
        let digest = bank.ledger.stateDigest
        #expect(bank.run(.withdraw(acct("alice"), amountMinor: 11), id: "w") == .failure(.idempotencyConflict(req("w"))))
        #expect(bank.run(.deposit(acct("alice"), amountMinor: 10), id: "w") == .failure(.idempotencyConflict(req("w"))))
        #expect(bank.ledger.stateDigest == digest)
    }

    @Test func aRefusedRequestDoesNotConsumeItsRequestID() throws {
        var bank = TestBank()
        bank.open("alice", funded: 100)
        #expect(bank.run(.withdraw(acct("alice"), amountMinor: 500), id: "big")
                == .failure(.insufficientFunds(acct("alice"), availableMinor: 100, requestedMinor: 500)))
        #expect(bank.ledger.receipt(for: req("big")) == nil)
        bank.deposit("alice", 1_000)
        let retried = try bank.run(.withdraw(acct("alice"), amountMinor: 500), id: "big").get()
        #expect(!retried.replayed && retried.balanceMinor == 600, "the retry was evaluated afresh")
        // After the refusal, the id could even carry a different operation.
        #expect(bank.run(.withdraw(acct("alice"), amountMinor: 99_999), id: "other")
                == .failure(.insufficientFunds(acct("alice"), availableMinor: 600, requestedMinor: 99_999)))
        #expect(try bank.run(.deposit(acct("alice"), amountMinor: 1), id: "other").get().balanceMinor == 601)
    }

    @Test func everyOperationKindReplays() throws {
        var bank = TestBank()
        let operations: [Operation] = [
            .openAccount(acct("a"), currency: .gbp, overdraftLimitMinor: 10),
            .openAccount(acct("b"), currency: .gbp, overdraftLimitMinor: 0),
            .deposit(acct("a"), amountMinor: 100), .withdraw(acct("a"), amountMinor: 5),
            .transfer(from: acct("a"), to: acct("b"), amountMinor: 5, reference: nil),
            .hold(acct("a"), amountMinor: 20, holdID: hid("h1")), .capture(hid("h1"), amountMinor: 5),
            .hold(acct("a"), amountMinor: 20, holdID: hid("h2")), .release(hid("h2")),
            .freeze(acct("b")), .unfreeze(acct("b")),
        ]
        var receipts: [Receipt] = []
        for (index, operation) in operations.enumerated() {
            receipts.append(try bank.run(operation, id: "r\(index)").get())
        }
        let digest = bank.ledger.stateDigest
        for (index, operation) in operations.enumerated() {
            let replay = try bank.run(operation, id: "r\(index)").get()
            #expect(replay.replayed && replay.seq == receipts[index].seq)
            var original = replay
            original.replayed = false
            #expect(original == receipts[index])
        }
        #expect(bank.ledger.stateDigest == digest)
    }

    /// The simulator's injected bug: with `forgetsRequestIDs` a retry is applied again (and journaled again), which
    /// the simulator must catch. Replaying that journal on a ledger with the same switch reproduces the state.
    @Test func theInjectedForgetfulLedgerAppliesRetriesTwice() throws {
        var bank = TestBank()
        bank.ledger.forgetsRequestIDs = true
        bank.open("alice", funded: 100)
        try bank.must(.withdraw(acct("alice"), amountMinor: 10), id: "w")
        let again = try bank.must(.withdraw(acct("alice"), amountMinor: 10), id: "w")
        #expect(!again.replayed && again.balanceMinor == 80)
        var replica = Ledger()
        replica.forgetsRequestIDs = true
        for (seq, bytes) in bank.journal { replica.apply(try Entry(decoding: bytes), seq: seq) }
        #expect(replica.stateDigest == bank.ledger.stateDigest)
    }
}
