import Testing
@testable import BankCore

@Suite("Holds, captures and releases")
struct HoldTests {
    @Test func aHoldReducesAvailableButNotTheBalance() throws {
        var bank = TestBank()
        bank.open("card", funded: 1_000)
        let receipt = try bank.run(.hold(acct("card"), amountMinor: 400, holdID: hid("auth-1")), id: "h1").get()
        #expect(receipt == Receipt(seq: 3, requestID: req("h1"), account: acct("card"), balanceMinor: 1_000,
                                   availableMinor: 600, heldMinor: 400, frozen: false, holdID: hid("auth-1")))
        #expect(try bank.statement("card").count == 1, "a hold moves no balance: only the deposit has a line")
        #expect(bank.run(.withdraw(acct("card"), amountMinor: 601))
                == .failure(.insufficientFunds(acct("card"), availableMinor: 600, requestedMinor: 601)))
        #expect(bank.ledger.balanceTotals() == [.gbp: 0])
    }

    @Test func aHoldNeedsAvailableFundsAndMayReachIntoTheOverdraft() throws {
        var bank = TestBank()
        bank.open("card", funded: 100, overdraft: 50)
        #expect(bank.run(.hold(acct("card"), amountMinor: 151, holdID: hid("big")))
                == .failure(.insufficientFunds(acct("card"), availableMinor: 150, requestedMinor: 151)))
        let receipt = try bank.run(.hold(acct("card"), amountMinor: 150, holdID: hid("all"))).get()
        #expect(receipt.availableMinor == 0 && receipt.heldMinor == 150 && receipt.balanceMinor == 100)
        let captured = try bank.run(.capture(hid("all"), amountMinor: nil)).get()
        #expect(captured.balanceMinor == -50 && captured.availableMinor == 0 && captured.heldMinor == 0)
    }

    @Test func aHoldIDIsUniqueForeverOpenOrClosed() throws {
        var bank = TestBank()
        bank.open("a", funded: 100)
        bank.open("b", funded: 100)
        try bank.must(.hold(acct("a"), amountMinor: 10, holdID: hid("auth")))
        #expect(bank.run(.hold(acct("b"), amountMinor: 10, holdID: hid("auth"))) == .failure(.holdExists(hid("auth"))))
        try bank.must(.release(hid("auth")))
        #expect(bank.run(.hold(acct("a"), amountMinor: 10, holdID: hid("auth"))) == .failure(.holdExists(hid("auth"))),
                "a closed hold's id stays taken")
    }

    @Test func aHoldOnAnUnknownOrFrozenAccountIsRefused() throws {
        var bank = TestBank()
        bank.open("a", funded: 100)
        #expect(bank.run(.hold(acct("nope"), amountMinor: 1, holdID: hid("h"))) == .failure(.unknownAccount(acct("nope"))))
        try bank.must(.freeze(acct("a")))
        #expect(bank.run(.hold(acct("a"), amountMinor: 1, holdID: hid("h"))) == .failure(.accountFrozen(acct("a"))))
        try bank.must(.unfreeze(acct("a")))
        #expect(try bank.run(.hold(acct("a"), amountMinor: 1, holdID: hid("h"))).get().heldMinor == 1,
                "the refused hold did not take its id")
    }

    @Test func aPartialCaptureSettlesPartAndReleasesTheRest() throws {
        var bank = TestBank()
        bank.open("card", funded: 1_000)
        try bank.must(.hold(acct("card"), amountMinor: 400, holdID: hid("auth")))
        try bank.must(.hold(acct("card"), amountMinor: 100, holdID: hid("other")))
        let receipt = try bank.run(.capture(hid("auth"), amountMinor: 150), id: "c1").get()
        #expect(receipt == Receipt(seq: 5, requestID: req("c1"), account: acct("card"), balanceMinor: 850,
                                   availableMinor: 750, heldMinor: 100, frozen: false, holdID: hid("auth"),
                                   capturedMinor: 150, releasedMinor: 250))
        #expect(try bank.balance(.settlement(.gbp)).balanceMinor == -850)
        let line = try #require(try bank.statement("card").first)
        #expect(line == StatementEntry(seq: 5, requestID: req("c1"), kind: .capture, amountMinor: -150,
                                       counterparty: .settlement(.gbp), balanceAfterMinor: 850, reference: nil,
                                       timeMillis: line.timeMillis))
        #expect(bank.run(.capture(hid("auth"), amountMinor: nil)) == .failure(.holdClosed(hid("auth"))))
        #expect(bank.run(.release(hid("auth"))) == .failure(.holdClosed(hid("auth"))))
    }

    @Test func aCaptureWithoutAnAmountTakesTheWholeHold() throws {
        var bank = TestBank()
        bank.open("card", funded: 1_000)
        try bank.must(.hold(acct("card"), amountMinor: 400, holdID: hid("auth")))
        let receipt = try bank.run(.capture(hid("auth"), amountMinor: nil)).get()
        #expect(receipt.capturedMinor == 400 && receipt.releasedMinor == 0)
        #expect(receipt.balanceMinor == 600 && receipt.heldMinor == 0 && receipt.availableMinor == 600)
    }

    @Test func aCaptureOfExactlyTheHeldAmountReleasesNothing() throws {
        var bank = TestBank()
        bank.open("card", funded: 1_000)
        try bank.must(.hold(acct("card"), amountMinor: 400, holdID: hid("auth")))
        let receipt = try bank.run(.capture(hid("auth"), amountMinor: 400)).get()
        #expect(receipt.capturedMinor == 400 && receipt.releasedMinor == 0 && receipt.balanceMinor == 600)
    }

    @Test func capturingMoreThanTheHoldIsInvalidAndLeavesTheHoldOpen() throws {
        var bank = TestBank()
        bank.open("card", funded: 1_000)
        try bank.must(.hold(acct("card"), amountMinor: 400, holdID: hid("auth")))
        let result = bank.run(.capture(hid("auth"), amountMinor: 401))
        guard case let .failure(.invalid(message)) = result else {
            Issue.record("got \(result)")
            return
        }
        #expect(message.contains("capture amount") && message.contains("exceeds the held amount"))
        #expect(try bank.balance("card").heldMinor == 400)
        #expect(try bank.run(.capture(hid("auth"), amountMinor: 399)).get().releasedMinor == 1)
    }

    @Test func capturingOrReleasingAnUnknownHoldIsUnknownHold() {
        var bank = TestBank()
        #expect(bank.run(.capture(hid("nope"), amountMinor: nil)) == .failure(.unknownHold(hid("nope"))))
        #expect(bank.run(.capture(hid("nope"), amountMinor: 5)) == .failure(.unknownHold(hid("nope"))))
        #expect(bank.run(.release(hid("nope"))) == .failure(.unknownHold(hid("nope"))))
    }

    @Test func aReleaseReturnsTheWholeHoldAndMovesNoMoney() throws {
        var bank = TestBank()
        bank.open("card", funded: 1_000)
        try bank.must(.hold(acct("card"), amountMinor: 300, holdID: hid("auth")))
        let receipt = try bank.run(.release(hid("auth")), id: "r1").get()
        #expect(receipt == Receipt(seq: 4, requestID: req("r1"), account: acct("card"), balanceMinor: 1_000,
                                   availableMinor: 1_000, heldMinor: 0, frozen: false, holdID: hid("auth"),
                                   releasedMinor: 300))
        #expect(try bank.statement("card").count == 1, "no line for a release")
        #expect(bank.run(.release(hid("auth"))) == .failure(.holdClosed(hid("auth"))))
        #expect(bank.run(.capture(hid("auth"), amountMinor: 1)) == .failure(.holdClosed(hid("auth"))))
    }
}
