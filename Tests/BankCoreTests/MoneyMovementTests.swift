import Testing
@testable import BankCore

@Suite("Deposits, withdrawals and transfers")
struct MoneyMovementTests {
    @Test func aDepositCreditsTheAccountAndDebitsTheSettlementAccount() throws {
        var bank = TestBank()
        bank.open("alice")
        let receipt = try bank.run(.deposit(acct("alice"), amountMinor: 1_250), id: "d1").get()
        #expect(receipt == Receipt(seq: 2, requestID: req("d1"), account: acct("alice"), balanceMinor: 1_250,
                                   availableMinor: 1_250, heldMinor: 0, frozen: false))
        #expect(try bank.balance(.settlement(.gbp)).balanceMinor == -1_250)
        #expect(bank.ledger.balanceTotals() == [.gbp: 0])
    }

    @Test func aWithdrawalDebitsTheAccountAndCreditsSettlementUpToTheAvailableAmount() throws {
        var bank = TestBank()
        bank.open("alice", funded: 1_000)
        #expect(try bank.run(.withdraw(acct("alice"), amountMinor: 300)).get().balanceMinor == 700)
        #expect(try bank.balance(.settlement(.gbp)).balanceMinor == -700)
        #expect(bank.run(.withdraw(acct("alice"), amountMinor: 701))
                == .failure(.insufficientFunds(acct("alice"), availableMinor: 700, requestedMinor: 701)))
        #expect(try bank.run(.withdraw(acct("alice"), amountMinor: 700)).get().balanceMinor == 0, "all of it")
        #expect(bank.ledger.balanceTotals() == [.gbp: 0])
    }

    @Test func theOverdraftLimitIsTheFloorExactly() throws {
        var bank = TestBank()
        bank.open("bob", funded: 100, overdraft: 50)
        #expect(try bank.balance("bob").availableMinor == 150)
        #expect(bank.run(.withdraw(acct("bob"), amountMinor: 151))
                == .failure(.insufficientFunds(acct("bob"), availableMinor: 150, requestedMinor: 151)))
        let receipt = try bank.run(.withdraw(acct("bob"), amountMinor: 150)).get()
        #expect(receipt.balanceMinor == -50 && receipt.availableMinor == 0, "down to minus the limit, no further")
        #expect(bank.run(.withdraw(acct("bob"), amountMinor: 1))
                == .failure(.insufficientFunds(acct("bob"), availableMinor: 0, requestedMinor: 1)))
        #expect(try bank.run(.deposit(acct("bob"), amountMinor: 20)).get().availableMinor == 20)
    }

    @Test func aTransferMovesMoneyAndReportsOnlyTheSendersFigures() throws {
        var bank = TestBank()
        bank.open("alice", funded: 500)
        bank.open("bob", funded: 40)
        let receipt = try bank.run(.transfer(from: acct("alice"), to: acct("bob"), amountMinor: 200, reference: "rent"),
                                   id: "t1").get()
        #expect(receipt == Receipt(seq: 5, requestID: req("t1"), account: acct("alice"), balanceMinor: 300,
                                   availableMinor: 300, heldMinor: 0, frozen: false))
        #expect(try bank.balance("bob").balanceMinor == 240)
        #expect(try bank.balance(.settlement(.gbp)).balanceMinor == -540, "a transfer does not touch settlement")
    }

    @Test func aTransferCanUseTheSendersOverdraftToTheLastPenny() throws {
        var bank = TestBank()
        bank.open("alice", funded: 10, overdraft: 90)
        bank.open("bob")
        #expect(bank.run(.transfer(from: acct("alice"), to: acct("bob"), amountMinor: 101, reference: nil))
                == .failure(.insufficientFunds(acct("alice"), availableMinor: 100, requestedMinor: 101)))
        #expect(try bank.run(.transfer(from: acct("alice"), to: acct("bob"), amountMinor: 100, reference: nil)).get()
                    .balanceMinor == -90)
    }

    @Test func transferRefusalsFollowTheRulesInOrder() throws {
        var bank = TestBank()
        bank.open("alice", funded: 500)
        bank.open("bob")
        bank.open("euro", funded: 10, currency: eur)
        let digest = bank.ledger.stateDigest
        func transfer(_ from: String, _ to: String, _ amount: Int64) -> Operation {
            .transfer(from: acct(from), to: acct(to), amountMinor: amount, reference: nil)
        }
        #expect(bank.run(transfer("alice", "alice", 1)) == .failure(.invalid("'from' and 'to' must be different accounts")))
        #expect(bank.run(transfer("nobody", "bob", 1)) == .failure(.unknownAccount(acct("nobody"))))
        #expect(bank.run(transfer("alice", "nobody", 1)) == .failure(.unknownAccount(acct("nobody"))))
        #expect(bank.run(transfer("ghost1", "ghost2", 1)) == .failure(.unknownAccount(acct("ghost1"))), "from first")
        #expect(bank.run(transfer("alice", "euro", 1)) == .failure(.currencyMismatch(from: .gbp, to: eur)))
        #expect(bank.run(transfer("euro", "alice", 1)) == .failure(.currencyMismatch(from: eur, to: .gbp)))
        #expect(bank.run(transfer("alice", "bob", 501))
                == .failure(.insufficientFunds(acct("alice"), availableMinor: 500, requestedMinor: 501)))
        #expect(bank.ledger.stateDigest == digest, "refusals change nothing")
        try bank.must(.freeze(acct("bob")))
        #expect(try bank.run(transfer("alice", "bob", 100)).get().balanceMinor == 400, "a frozen recipient is fine")
        #expect(bank.run(transfer("bob", "alice", 1)) == .failure(.accountFrozen(acct("bob"))))
        #expect(try bank.balance("bob").balanceMinor == 100)
    }

    @Test func amountsOutsideOneToTheMaximumAreInvalid() throws {
        var bank = TestBank()
        bank.open("alice", funded: 100)
        bank.open("bob")
        for amount in [0, -1, Money.maximumAmountMinor + 1, .min] {
            let operations: [Operation] = [
                .deposit(acct("alice"), amountMinor: amount), .withdraw(acct("alice"), amountMinor: amount),
                .transfer(from: acct("alice"), to: acct("bob"), amountMinor: amount, reference: nil),
                .hold(acct("alice"), amountMinor: amount, holdID: hid("h")),
            ]
            for operation in operations {
                let result = bank.run(operation)
                guard case .failure(.invalid) = result else {
                    Issue.record("\(operation) gave \(result)")
                    continue
                }
            }
        }
        #expect(try bank.balance("alice").balanceMinor == 100)
        #expect(try bank.run(.deposit(acct("alice"), amountMinor: Money.maximumAmountMinor)).get().balanceMinor
                == Money.maximumAmountMinor + 100)
    }

    /// Fills an account with the largest deposits until the next would overflow.
    private func fill(_ bank: inout TestBank, _ account: String) -> Int {
        for count in 0..<20_000 {
            if case .failure = bank.run(.deposit(acct(account), amountMinor: Money.maximumAmountMinor)) {
                return count
            }
        }
        Issue.record("never overflowed")
        return -1
    }

    @Test func aDepositThatWouldOverflowIsRefusedNotACrash() throws {
        var bank = TestBank()
        bank.open("rich", overdraft: Money.maximumOverdraftMinor)
        let deposits = fill(&bank, "rich")
        let view = try bank.balance("rich")
        #expect(view.balanceMinor == Int64(deposits) * Money.maximumAmountMinor)
        let result = bank.run(.deposit(acct("rich"), amountMinor: Money.maximumAmountMinor))
        #expect(result == .failure(.invalid("the balance of 'rich' would overflow")))
        #expect(try bank.balance("rich") == view, "the refused deposit changed nothing")
        #expect(view.availableMinor > 0, "available stays representable: balance + overdraft never overflows")
        #expect(try bank.statement("rich", limit: 1).first?.balanceAfterMinor == view.balanceMinor)
    }

    @Test func aTransferThatWouldOverflowTheRecipientIsRefused() throws {
        var bank = TestBank()
        bank.open("rich")
        _ = fill(&bank, "rich")
        // Leave room for less than one maximum deposit, then fund a sender.
        bank.open("sender")
        let room = Int64.max - (try bank.balance("rich").balanceMinor)
        #expect(room < Money.maximumAmountMinor)
        bank.deposit("sender", room + 1)
        let before = try bank.statement("sender")
        let result = bank.run(.transfer(from: acct("sender"), to: acct("rich"), amountMinor: room + 1, reference: nil))
        #expect(result == .failure(.invalid("the balance of 'rich' would overflow")))
        #expect(try bank.statement("sender") == before && bank.balance("sender").balanceMinor == room + 1)
        #expect(try bank.run(.transfer(from: acct("sender"), to: acct("rich"), amountMinor: room, reference: nil))
                    .get().balanceMinor == 1, "exactly up to Int64.max is fine")
        #expect(try bank.balance("rich").balanceMinor == .max)
    }

    @Test func aMovementThatWouldOverflowTheSettlementAccountIsRefused() throws {
        var bank = TestBank()
        bank.open("one")
        bank.open("two")
        _ = fill(&bank, "one")
        let settlement = try bank.balance(.settlement(.gbp)).balanceMinor
        #expect(settlement < -(Int64.max - Money.maximumAmountMinor))
        // Fill "two" until settlement cannot go lower.
        var refusal: Result<Receipt, LedgerError>?
        for _ in 0..<20_000 {
            let result = bank.run(.deposit(acct("two"), amountMinor: Money.maximumAmountMinor))
            if case .failure = result {
                refusal = result
                break
            }
        }
        #expect(refusal == .failure(.invalid("the balance of 'settlement:GBP' would overflow")))
        #expect(bank.ledger.balanceTotals() == [.gbp: 0], "the totals still balance (wrapping sum)")
    }
}
