import SeededRandom
import Testing
@testable import BankCore

/// The checkpoint codec: a ledger written and read back is the same ledger, and goes on exactly as the original.
@Suite struct CheckpointTests {
    /// Accounts in two currencies, a frozen one, transfers with and without references, an open, a captured and a
    /// released hold, withdrawals: every kind of state a checkpoint must carry.
    static func busyBank() throws -> TestBank {
        var bank = TestBank()
        bank.open("alice", funded: 10_000)
        bank.open("bob", funded: 500, overdraft: 2_000)
        bank.open("carol", currency: eur)
        bank.deposit("carol", 700)
        try bank.must(.transfer(from: acct("alice"), to: acct("bob"), amountMinor: 1_234, reference: "rent £"))
        try bank.must(.transfer(from: acct("bob"), to: acct("alice"), amountMinor: 3, reference: nil))
        try bank.must(.hold(acct("alice"), amountMinor: 100, holdID: hid("h-open")))
        try bank.must(.hold(acct("alice"), amountMinor: 200, holdID: hid("h-captured")))
        try bank.must(.capture(hid("h-captured"), amountMinor: 150))
        try bank.must(.hold(acct("bob"), amountMinor: 50, holdID: hid("h-released")))
        try bank.must(.release(hid("h-released")))
        try bank.must(.withdraw(acct("alice"), amountMinor: 10))
        bank.open("dave", funded: 1)
        try bank.must(.freeze(acct("dave")))
        return bank
    }

    static func roundTrip(_ ledger: Ledger, chunkByteCount: Int = 1 << 20) throws -> Ledger {
        var bytes: [UInt8] = []
        ledger.writeCheckpoint(chunkByteCount: chunkByteCount) { bytes.append(contentsOf: $0) }
        return try bytes.withUnsafeBytes { try Ledger(checkpoint: $0) }
    }

    @Test func aLedgerSurvivesARoundTripWhole() throws {
        let bank = try Self.busyBank()
        for chunk in [1, 7, 1 << 20] {
            let restored = try Self.roundTrip(bank.ledger, chunkByteCount: chunk)
            #expect(restored.hasSameState(as: bank.ledger))
            #expect(restored.stateDigest == bank.ledger.stateDigest)
            restored.checkInvariants()
        }
    }

    @Test func aRestoredLedgerGoesOnExactlyAsTheOriginal() throws {
        var original = try Self.busyBank()
        var restored = original
        restored.ledger = try Self.roundTrip(original.ledger)
        let requests: [Operation] = [
            .transfer(from: acct("alice"), to: acct("bob"), amountMinor: 77, reference: "after"),
            .capture(hid("h-open"), amountMinor: nil),
            .hold(acct("bob"), amountMinor: 5, holdID: hid("h-captured")), // refused: the id is used for ever
            .openAccount(acct("erin"), currency: eur, overdraftLimitMinor: 0),
            .deposit(acct("erin"), amountMinor: 9),
        ]
        for operation in requests {
            #expect(original.run(operation, id: "same-\(operation)") == restored.run(operation, id: "same-\(operation)"))
        }
        // An old request id still replays its original receipt.
        let replay = restored.run(.withdraw(acct("alice"), amountMinor: 10), id: "gen-9")
        #expect(replay == original.run(.withdraw(acct("alice"), amountMinor: 10), id: "gen-9"))
        #expect(restored.ledger.hasSameState(as: original.ledger))
        #expect(try restored.statement("alice") == original.statement("alice"))
    }

    @Test func aCopySettledAtAnEarlierSeqIsTheStateAtThatSeq() throws {
        var bank = try Self.busyBank()
        bank.ledger.keepsUndo = true
        let before = bank.ledger
        let seq = bank.ledger.lastAppliedSeq
        try bank.must(.transfer(from: acct("alice"), to: acct("bob"), amountMinor: 5, reference: nil))
        bank.open("frank", funded: 3)
        let settled = bank.ledger.settled(at: seq)
        #expect(settled.hasSameState(as: before))
        #expect(settled.undoableEntryCount == 0)
        #expect(bank.ledger.lastAppliedSeq == seq + 3, "the original is untouched")
    }

    @Test func damagedBytesAreRefusedNeverTrapped() throws {
        let bank = try Self.busyBank()
        var bytes: [UInt8] = []
        bank.ledger.writeCheckpoint { bytes.append(contentsOf: $0) }
        var random = SplitMix64(seed: 77)
        var refused = 0
        for _ in 0..<2_000 {
            var damaged = bytes
            switch random.below(3) {
            case 0: damaged[random.below(damaged.count)] ^= UInt8(1 + random.below(255))
            case 1: damaged.removeSubrange(random.below(damaged.count)...)
            default: damaged.append(UInt8(random.below(256)))
            }
            do {
                let decoded = try damaged.withUnsafeBytes { try Ledger(checkpoint: $0) }
                _ = decoded.stateDigest // a bit flip in a balance can decode: the file's checksum catches those
            } catch {
                refused += 1
            }
        }
        #expect(refused > 1_000, "truncations and trailing bytes are always refused")
    }
}
