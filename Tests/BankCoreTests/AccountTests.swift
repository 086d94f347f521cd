import Testing
@testable import BankCore

@Suite("Accounts, settlement accounts and freezing")
struct AccountTests {
    @Test func anOpenedAccountStartsAtZeroInItsCurrencyWithItsOverdraftAvailable() throws {
        var bank = TestBank()
        let receipt = try bank.run(.openAccount(acct("alice"), currency: eur, overdraftLimitMinor: 500), id: "o1").get()
        #expect(receipt == Receipt(seq: 1, requestID: req("o1"), account: acct("alice"), balanceMinor: 0,
                                   availableMinor: 500, heldMinor: 0, frozen: false))
        #expect(try bank.balance("alice") == BalanceView(account: acct("alice"), balanceMinor: 0, availableMinor: 500,
                                                         heldMinor: 0, currency: eur, overdraftLimitMinor: 500,
                                                         frozen: false))
        #expect(bank.ledger.accountCount == 1)
        #expect(try bank.statement("alice").isEmpty, "opening moves no money")
    }

    @Test func openingAnExistingAccountIsAccountExistsAndChangesNothing() throws {
        var bank = TestBank()
        bank.open("alice", funded: 100)
        let digest = bank.ledger.stateDigest
        #expect(bank.run(.openAccount(acct("alice"), currency: .gbp, overdraftLimitMinor: 0))
                == .failure(.accountExists(acct("alice"))))
        #expect(bank.ledger.stateDigest == digest)
        #expect(try bank.balance("alice").balanceMinor == 100)
    }

    @Test func anOverdraftLimitOutsideZeroToTheMaximumIsInvalid() throws {
        var bank = TestBank()
        for limit in [-1, Money.maximumOverdraftMinor + 1, .min, .max] {
            let result = bank.run(.openAccount(acct("x"), currency: .gbp, overdraftLimitMinor: limit))
            guard case .failure(.invalid) = result else {
                Issue.record("overdraft \(limit) gave \(result)")
                continue
            }
        }
        #expect(bank.ledger.accountCount == 0)
        bank.open("x", overdraft: Money.maximumOverdraftMinor)
        #expect(try bank.balance("x").availableMinor == Money.maximumOverdraftMinor)
    }

    @Test func operationsOnAnUnknownAccountNameIt() {
        var bank = TestBank()
        let ghost = acct("ghost")
        #expect(bank.run(.deposit(ghost, amountMinor: 1)) == .failure(.unknownAccount(ghost)))
        #expect(bank.run(.withdraw(ghost, amountMinor: 1)) == .failure(.unknownAccount(ghost)))
        #expect(bank.run(.hold(ghost, amountMinor: 1, holdID: hid("h"))) == .failure(.unknownAccount(ghost)))
        #expect(bank.run(.freeze(ghost)) == .failure(.unknownAccount(ghost)))
        #expect(bank.run(.unfreeze(ghost)) == .failure(.unknownAccount(ghost)))
        #expect(bank.ledger.query(.balance(ghost)) == .failure(.unknownAccount(ghost)))
        #expect(bank.ledger.query(.statement(ghost, limit: 5, beforeSeq: nil)) == .failure(.unknownAccount(ghost)))
        #expect(bank.journal.isEmpty, "refusals are not journaled")
    }

    @Test func theSettlementAccountIsImplicitNeverUnknownAndNotForCustomers() throws {
        var bank = TestBank()
        let settlement = AccountID.settlement(.gbp)
        let before = try bank.balance(settlement)
        #expect(before.balanceMinor == 0 && before.currency == .gbp && !before.frozen)
        #expect(before.overdraftLimitMinor == .max && before.availableMinor == .max, "unlimited overdraft")

        bank.open("alice", funded: 250)
        #expect(try bank.balance(settlement).balanceMinor == -250, "the other side of the deposit")
        #expect(bank.ledger.accountCount == 1, "settlement accounts are not customer accounts")
        #expect(try bank.ledger.query(.statement(settlement, limit: 10, beforeSeq: nil)).get()
                == .statement(account: settlement, entries: []), "settlement accounts keep no statement")

        #expect(bank.run(.openAccount(settlement, currency: .gbp, overdraftLimitMinor: 0))
                == .failure(.accountExists(settlement)))
        #expect(bank.run(.openAccount(.settlement(eur), currency: eur, overdraftLimitMinor: 0))
                == .failure(.accountExists(.settlement(eur))), "it exists even before its first use")
        let refusals: [Operation] = [
            .deposit(settlement, amountMinor: 1), .withdraw(settlement, amountMinor: 1),
            .transfer(from: settlement, to: acct("alice"), amountMinor: 1, reference: nil),
            .transfer(from: acct("alice"), to: settlement, amountMinor: 1, reference: nil),
            .hold(settlement, amountMinor: 1, holdID: hid("s")), .freeze(settlement), .unfreeze(.settlement(eur)),
        ]
        for operation in refusals {
            let result = bank.run(operation)
            guard case let .failure(.invalid(message)) = result else {
                Issue.record("\(operation) gave \(result)")
                continue
            }
            #expect(message.contains("settlement"))
        }
        #expect(try bank.balance("alice").balanceMinor == 250)
        #expect(try bank.balance(settlement).balanceMinor == -250)
    }

    @Test func freezingAndUnfreezingAreIdempotentStateWise() throws {
        var bank = TestBank()
        bank.open("alice")
        #expect(try bank.run(.freeze(acct("alice"))).get().frozen)
        #expect(try bank.run(.freeze(acct("alice"))).get().frozen, "freezing a frozen account succeeds")
        #expect(try bank.balance("alice").frozen)
        #expect(try !bank.run(.unfreeze(acct("alice"))).get().frozen)
        #expect(try !bank.run(.unfreeze(acct("alice"))).get().frozen, "unfreezing an open account succeeds")
        #expect(try !bank.balance("alice").frozen)
    }

    @Test func aFrozenAccountRefusesDebitsAndHoldsButTakesCreditsAndReleases() throws {
        var bank = TestBank()
        bank.open("alice", funded: 1_000)
        bank.open("bob", funded: 1_000)
        try bank.must(.hold(acct("alice"), amountMinor: 100, holdID: hid("card-1")))
        try bank.must(.hold(acct("alice"), amountMinor: 50, holdID: hid("card-2")))
        try bank.must(.freeze(acct("alice")))
        let frozen = LedgerError.accountFrozen(acct("alice"))

        #expect(bank.run(.withdraw(acct("alice"), amountMinor: 1)) == .failure(frozen))
        #expect(bank.run(.transfer(from: acct("alice"), to: acct("bob"), amountMinor: 1, reference: nil))
                == .failure(frozen))
        #expect(bank.run(.hold(acct("alice"), amountMinor: 1, holdID: hid("card-3"))) == .failure(frozen))
        #expect(bank.run(.capture(hid("card-1"), amountMinor: nil)) == .failure(frozen))
        #expect(bank.run(.capture(hid("card-1"), amountMinor: 10)) == .failure(frozen))
        #expect(try bank.balance("alice").balanceMinor == 1_000 && bank.balance("alice").heldMinor == 150)

        #expect(try bank.run(.deposit(acct("alice"), amountMinor: 5)).get().balanceMinor == 1_005)
        try bank.must(.transfer(from: acct("bob"), to: acct("alice"), amountMinor: 7, reference: nil))
        #expect(try bank.run(.release(hid("card-2"))).get().releasedMinor == 50)
        let view = try bank.balance("alice")
        #expect(view.balanceMinor == 1_012 && view.heldMinor == 100 && view.availableMinor == 912 && view.frozen)

        try bank.must(.unfreeze(acct("alice")))
        #expect(try bank.run(.capture(hid("card-1"), amountMinor: nil)).get().capturedMinor == 100)
        #expect(try bank.run(.withdraw(acct("alice"), amountMinor: 912)).get().balanceMinor == 0)
    }
}
