import Testing
@testable import BankCore

/// Request ids are scoped to the client key that sent them (issue 11): two clients' equal ids are two requests, a
/// replay is answered only within its client's scope, and the scope survives the journal, checkpoints and the
/// history store (where it is also the audit trail: who asked).
@Suite struct ScopedRequestIDTests {
    static let alice = ClientKey(words: (1, 2, 3, 4)), bob = ClientKey(words: (5, 6, 7, 8))

    static func receipt(_ response: LedgerResponse) throws -> Receipt {
        guard case let .mutation(result) = response else { throw LedgerError.invalid("not a mutation") }
        return try result.get()
    }

    @Test func equalIDsOfTwoClientsAreTwoRequestsAndReplaysStayWithinOne() throws {
        var bank = TestBank()
        bank.open("acct", funded: 100)
        let deposit = Operation.deposit(acct("acct"), amountMinor: 10)
        func send(_ key: ClientKey?, _ operation: Operation = deposit) -> LedgerResponse {
            bank.execute(.mutation(Mutation(requestID: req("x"), operation: operation, clientKey: key))).response
        }
        let first = try Self.receipt(send(Self.alice))
        #expect(!first.replayed && first.balanceMinor == 110)
        // Bob's "x" is his own request: applied, not alice's reply replayed to him.
        let bobs = try Self.receipt(send(Self.bob))
        #expect(!bobs.replayed && bobs.balanceMinor == 120 && bobs.seq != first.seq)
        // Alice again: her own receipt, replayed.
        let again = try Self.receipt(send(Self.alice))
        #expect(again.replayed && again.seq == first.seq && again.balanceMinor == 110)
        // A conflict is within one scope; a client without a key has a scope of its own (none).
        guard case .mutation(.failure(.idempotencyConflict)) = send(Self.bob, .withdraw(acct("acct"), amountMinor: 1)) else {
            Issue.record("a different operation under bob's own id must conflict")
            return
        }
        #expect(try !Self.receipt(send(nil)).replayed)
        #expect(try bank.balance("acct").balanceMinor == 130)
        #expect(bank.ledger.receipt(for: req("x").scoped(to: Self.alice))?.seq == first.seq)
        #expect(bank.ledger.receipt(for: req("x").scoped(to: Self.bob))?.seq == bobs.seq)
        // A batch's items take the request's scope.
        let batch = LedgerRequest.batch([.mutation(Mutation(requestID: req("b"), operation: deposit))], atomic: true)
        guard case let .batch(items, _) = batch.scoped(to: Self.alice), case let .mutation(item) = items[0] else {
            Issue.record("a batch stays a batch")
            return
        }
        #expect(item.clientKey == Self.alice)
    }

    @Test func theScopeSurvivesTheJournalACheckpointAndTheHistoryStore() throws {
        var bank = TestBank()
        bank.open("acct", funded: 100)
        let deposit = Operation.deposit(acct("acct"), amountMinor: 5)
        bank.execute(.mutation(Mutation(requestID: req("d"), operation: deposit, clientKey: Self.alice)))
        bank.execute(.mutation(Mutation(requestID: req("d"), operation: deposit, clientKey: Self.bob)))
        // The journal: each entry names its client.
        let keys = try bank.journal.suffix(2).map { try Entry(decoding: $0.bytes).mutations[0].clientKey }
        #expect(keys == [Self.alice, Self.bob])
        // A checkpoint: receipts and statement lines keep their scopes.
        let restored = try CheckpointTests.roundTrip(bank.ledger)
        #expect(restored.hasSameState(as: bank.ledger))
        #expect(restored.receipt(for: req("d").scoped(to: Self.alice)) != nil)
        #expect(restored.receipt(for: req("d").scoped(to: Self.bob)) != nil)
        #expect(restored.receipt(for: req("d")) == nil)
        guard case let .query(.success(.statement(_, entries))) = bank.execute(.query(.statement(acct("acct"), limit: 2,
                                                                                               beforeSeq: nil))).response
        else {
            Issue.record("a statement")
            return
        }
        #expect(entries.map(\.requestID.scope) == [Self.bob, Self.alice])
        // The history store: one key per scope; a receipt read back under another scope is refused.
        let scopedA = req("d").scoped(to: Self.alice), scopedB = req("d").scoped(to: Self.bob)
        #expect(ArchiveCodec.key(for: scopedA) != ArchiveCodec.key(for: scopedB))
        #expect(ArchiveCodec.key(for: scopedA) != ArchiveCodec.key(for: req("d")))
        #expect(ArchiveCodec.key(for: req("d")) == [ArchiveCodec.receiptPrefix] + Array("d".utf8), "unscoped keys as before")
        let stored = try #require(bank.ledger.receipt(for: scopedA))
        let bytes = ArchiveCodec.encode(ArchivedReceipt(operation: deposit, receipt: stored))
        #expect(try ArchiveCodec.decodeReceipt(bytes, requestID: scopedA).receipt == stored)
        #expect(throws: EntryDecodingError.self) { try ArchiveCodec.decodeReceipt(bytes, requestID: scopedB) }
    }

    @Test func clientKeysReadAndWriteAsZ85() throws {
        // The ZeroMQ guide's example key.
        let text = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"
        let key = try #require(ClientKey(z85: text))
        #expect(key.z85 == text && key.bytes.count == 32 && ClientKey(bytes: key.bytes) == key)
        #expect(ClientKey(words: (0x0102_0304_0506_0708, 0, 0, 0)).bytes.prefix(8) == [1, 2, 3, 4, 5, 6, 7, 8])
        for bad in ["", "short", String(repeating: "~", count: 40), String(repeating: "#", count: 40)] {
            #expect(ClientKey(z85: bad) == nil, "\(bad)")
        }
    }
}
