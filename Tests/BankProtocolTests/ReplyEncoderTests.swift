import BankCore
import Testing
@testable import BankProtocol

@Suite("Reply encoding")
struct ReplyEncoderTests {
    private func receipt(_ requestID: String = "r1", account name: String = "alice", seq: Seq = 12,
                         replayed: Bool = false, holdID: String? = nil, captured: Int64? = nil,
                         released: Int64? = nil) -> Receipt {
        Receipt(seq: seq, requestID: rid(requestID), replayed: replayed, account: account(name), balanceMinor: 1500,
                availableMinor: 1300, heldMinor: 200, frozen: false, holdID: holdID.map(hold),
                capturedMinor: captured, releasedMinor: released)
    }

    private func mutationRequest(_ operation: Operation, _ requestID: String = "r1") -> LedgerRequest {
        .mutation(Mutation(requestID: rid(requestID), operation: operation))
    }

    @Test("transfer success echoes from, to and amount after the account figures")
    func transferReply() throws {
        let operation = Operation.transfer(from: account("alice"), to: account("bob"), amountMinor: 500, reference: "rent")
        let bytes = ReplyEncoder.encode(.mutation(.success(receipt())), for: mutationRequest(operation))
        let reply = try replyObject(bytes)
        #expect(reply.keys == ["ok", "op", "seq", "request_id", "account", "balance", "available", "held", "frozen",
                               "from", "to", "amount"])
        #expect(String(decoding: bytes, as: UTF8.self) ==
            #"{"ok":true,"op":"transfer","seq":12,"request_id":"r1","account":"alice","balance":1500,"available":1300,"held":200,"frozen":false,"from":"alice","to":"bob","amount":500}"#)
    }

    @Test("deposit and withdraw echo the amount; replays say replayed:true last")
    func depositReply() throws {
        let deposit = try replyObject(ReplyEncoder.encode(.mutation(.success(receipt())),
                                                          for: mutationRequest(.deposit(account("alice"), amountMinor: 250))))
        #expect(deposit["op"] == "deposit")
        #expect(deposit["amount"] == 250)
        #expect(deposit["replayed"] == nil)
        let withdraw = try replyObject(ReplyEncoder.encode(.mutation(.success(receipt(replayed: true))),
                                                           for: mutationRequest(.withdraw(account("alice"), amountMinor: 75))))
        #expect(withdraw["op"] == "withdraw")
        #expect(withdraw["amount"] == 75)
        #expect(withdraw.keys.last == "replayed")
        #expect(withdraw["replayed"] == true)
    }

    @Test("open_account echoes currency and overdraft_limit")
    func openAccountReply() throws {
        let operation = Operation.openAccount(account("alice"), currency: CurrencyCode("EUR")!, overdraftLimitMinor: 10_000)
        let reply = try replyObject(ReplyEncoder.encode(.mutation(.success(receipt())), for: mutationRequest(operation)))
        #expect(reply["op"] == "open_account")
        #expect(reply["currency"] == "EUR")
        #expect(reply["overdraft_limit"] == 10_000)
        #expect(reply["amount"] == nil)
    }

    @Test("hold, capture and release report hold_id, captured and released when present")
    func holdReplies() throws {
        let holdReply = try replyObject(ReplyEncoder.encode(
            .mutation(.success(receipt(holdID: "card-1"))),
            for: mutationRequest(.hold(account("alice"), amountMinor: 200, holdID: hold("card-1")))))
        #expect(holdReply["op"] == "hold")
        #expect(holdReply["hold_id"] == "card-1")
        #expect(holdReply["captured"] == nil)
        #expect(holdReply["released"] == nil)

        let capture = try replyObject(ReplyEncoder.encode(
            .mutation(.success(receipt(holdID: "card-1", captured: 150, released: 50))),
            for: mutationRequest(.capture(hold("card-1"), amountMinor: 150))))
        #expect(capture.keys == ["ok", "op", "seq", "request_id", "account", "balance", "available", "held", "frozen",
                                 "hold_id", "captured", "released"])
        #expect(capture["captured"] == 150)
        #expect(capture["released"] == 50)

        let release = try replyObject(ReplyEncoder.encode(
            .mutation(.success(receipt(holdID: "card-1", released: 200))), for: mutationRequest(.release(hold("card-1")))))
        #expect(release["op"] == "release")
        #expect(release["released"] == 200)
        #expect(release["captured"] == nil)
    }

    @Test("freeze reply carries frozen:true")
    func freezeReply() throws {
        var frozen = receipt()
        frozen.frozen = true
        let reply = try replyObject(ReplyEncoder.encode(.mutation(.success(frozen)), for: mutationRequest(.freeze(account("alice")))))
        #expect(reply["op"] == "freeze")
        #expect(reply["frozen"] == true)
    }

    static let ledgerErrors: [(LedgerError, ErrorCode, String)] = [
        (.unknownAccount(AccountID("bob")!), .unknownAccount, "unknown account 'bob'"),
        (.accountExists(AccountID("bob")!), .accountExists, "account 'bob' already exists"),
        (.insufficientFunds(AccountID("bob")!, availableMinor: 1200, requestedMinor: 5000), .insufficientFunds,
         "insufficient funds in account 'bob': available 1200, requested 5000"),
        (.accountFrozen(AccountID("bob")!), .accountFrozen, "account 'bob' is frozen"),
        (.currencyMismatch(from: CurrencyCode("GBP")!, to: CurrencyCode("EUR")!), .currencyMismatch,
         "currency mismatch: cannot move GBP into an account held in EUR"),
        (.unknownHold(HoldID("h1")!), .unknownHold, "unknown hold 'h1'"),
        (.holdClosed(HoldID("h1")!), .holdClosed, "hold 'h1' is already closed"),
        (.holdExists(HoldID("h1")!), .holdExists, "hold id 'h1' is already in use"),
        (.idempotencyConflict(RequestID("r\"9")!), .idempotencyConflict,
         "request_id 'r\"9' was already used with different parameters"),
        (.invalid("cannot transfer to the same account"), .badRequest, "cannot transfer to the same account"),
    ]

    @Test("ledger errors map to codes and messages", arguments: ledgerErrors)
    func ledgerErrorReplies(_ error: LedgerError, _ code: ErrorCode, _ message: String) throws {
        let bytes = ReplyEncoder.encode(.mutation(.failure(error)), for: mutationRequest(.deposit(account("bob"), amountMinor: 1)))
        let reply = try replyObject(bytes)
        // A refusal names the request it answers, so pipelining and retrying clients can match it.
        #expect(reply.keys == ["ok", "error", "message", "retryable", "request_id"])
        #expect(reply["ok"] == false)
        #expect(reply["error"] == .string(code.rawValue))
        #expect(reply["message"] == .string(message))
        #expect(reply["retryable"] == false)
        #expect(reply["request_id"] != nil)
        let bare = try replyObject(ReplyEncoder.error(error))
        #expect(bare.keys == ["ok", "error", "message", "retryable"] && bare["message"] == .string(message))
    }

    @Test("only unavailable and overloaded are retryable")
    func retryable() throws {
        for code in ErrorCode.allCases {
            let retryable = code == .unavailable || code == .overloaded
            #expect(code.isRetryable == retryable)
            let reply = try replyObject(ReplyEncoder.error(code: code, message: "m"))
            #expect(reply["retryable"] == .bool(retryable))
            #expect(reply["error"] == .string(code.rawValue))
        }
        let reply = try replyObject(ReplyEncoder.unavailable("no leader"))
        #expect(reply["error"] == "unavailable")
        #expect(reply["retryable"] == true)
    }

    @Test("balance reply")
    func balanceReply() throws {
        let view = BalanceView(account: account("alice"), balanceMinor: -300, availableMinor: 700, heldMinor: 0,
                               currency: .gbp, overdraftLimitMinor: 1000, frozen: true)
        let bytes = ReplyEncoder.encode(.query(.success(.balance(view))), for: .query(.balance(account("alice"))))
        #expect(String(decoding: bytes, as: UTF8.self) ==
            #"{"ok":true,"account":"alice","balance":-300,"available":700,"held":0,"currency":"GBP","overdraft_limit":1000,"frozen":true}"#)
        let failure = try replyObject(ReplyEncoder.encode(.query(.failure(.unknownAccount(account("zed")))),
                                                          for: .query(.balance(account("zed")))))
        #expect(failure["error"] == "unknown_account")
    }

    private func entries(_ seqs: [Seq]) -> [StatementEntry] {
        seqs.map { seq in
            StatementEntry(seq: seq, requestID: rid("r\(seq)"), kind: seq % 2 == 0 ? .transfer : .deposit,
                           amountMinor: seq % 2 == 0 ? -500 : 1000,
                           counterparty: seq % 2 == 0 ? account("bob") : AccountID.settlement(.gbp),
                           balanceAfterMinor: Int64(seq) * 10, reference: seq % 2 == 0 ? "rent" : nil,
                           timeMillis: 1_795_536_660_123)
        }
    }

    @Test("statement reply with a full page gives next_before_seq")
    func statementFullPage() throws {
        let request = LedgerRequest.query(.statement(account("alice"), limit: 2, beforeSeq: nil))
        let bytes = ReplyEncoder.encode(.query(.success(.statement(account: account("alice"), entries: entries([12, 9])))),
                                        for: request)
        let reply = try replyObject(bytes)
        #expect(reply.keys == ["ok", "account", "entries", "next_before_seq"])
        #expect(reply["next_before_seq"] == 9)
        let list = try #require(reply["entries"]?.arrayValue)
        #expect(list.count == 2)
        let first = try #require(list[0].objectValue)
        #expect(first.keys == ["seq", "request_id", "kind", "amount", "counterparty", "balance_after", "reference", "time"])
        #expect(first["seq"] == 12)
        #expect(first["request_id"] == "r12")
        #expect(first["kind"] == "transfer")
        #expect(first["amount"] == -500)
        #expect(first["counterparty"] == "bob")
        #expect(first["balance_after"] == 120)
        #expect(first["reference"] == "rent")
        #expect(first["time"] == "2026-11-24T16:11:00.123Z")
        let second = try #require(list[1].objectValue)
        #expect(second["reference"] == nil)
        #expect(second["kind"] == "deposit")
        #expect(second["counterparty"] == "settlement:GBP")
    }

    @Test("statement reply with a short page has no next_before_seq")
    func statementShortPage() throws {
        let request = LedgerRequest.query(.statement(account("alice"), limit: 50, beforeSeq: 100))
        let reply = try replyObject(ReplyEncoder.encode(
            .query(.success(.statement(account: account("alice"), entries: entries([12, 9])))), for: request))
        #expect(reply["next_before_seq"] == nil)
        let empty = try replyObject(ReplyEncoder.encode(
            .query(.success(.statement(account: account("alice"), entries: []))), for: request))
        #expect(empty["entries"] == .array([]))
        #expect(empty["next_before_seq"] == nil)
    }

    @Test("non-atomic batch reply lists every item's reply, failures included")
    func batchReply() throws {
        let items: [BatchItem] = [
            .mutation(Mutation(requestID: rid("b1"), operation: .deposit(account("alice"), amountMinor: 100))),
            .query(.balance(account("alice"))),
            .mutation(Mutation(requestID: rid("b2"), operation: .withdraw(account("alice"), amountMinor: 10_000))),
        ]
        let view = BalanceView(account: account("alice"), balanceMinor: 1600, availableMinor: 1600, heldMinor: 0,
                               currency: .gbp, overdraftLimitMinor: 0, frozen: false)
        let results: [ItemResult] = [
            .mutation(.success(receipt("b1"))),
            .query(.success(.balance(view))),
            .mutation(.failure(.insufficientFunds(account("alice"), availableMinor: 1600, requestedMinor: 10_000))),
        ]
        let reply = try replyObject(ReplyEncoder.encode(.batch(results, atomic: false, failedIndex: nil),
                                                        for: .batch(items, atomic: false)))
        #expect(reply.keys == ["ok", "results"])
        #expect(reply["ok"] == true)
        let list = try #require(reply["results"]?.arrayValue)
        #expect(list.count == 3)
        #expect(list[0]["op"] == "deposit")
        #expect(list[0]["request_id"] == "b1")
        #expect(list[0]["amount"] == 100)
        #expect(list[1]["currency"] == "GBP")
        #expect(list[1]["balance"] == 1600)
        #expect(list[2]["ok"] == false)
        #expect(list[2]["error"] == "insufficient_funds")
    }

    @Test("failed atomic batch names the failing item and its request_id")
    func atomicBatchFailure() throws {
        let items: [BatchItem] = [
            .mutation(Mutation(requestID: rid("a1"), operation: .deposit(account("alice"), amountMinor: 100))),
            .mutation(Mutation(requestID: rid("a2"), operation: .transfer(from: account("alice"), to: account("ghost"),
                                                                          amountMinor: 5, reference: nil))),
        ]
        let results: [ItemResult] = [
            .mutation(.success(receipt("a1"))),
            .mutation(.failure(.unknownAccount(account("ghost")))),
        ]
        let bytes = ReplyEncoder.encode(.batch(results, atomic: true, failedIndex: 1), for: .batch(items, atomic: true))
        let reply = try replyObject(bytes)
        #expect(reply.keys == ["ok", "error", "message", "retryable", "failed_index", "results"])
        #expect(reply["ok"] == false)
        #expect(reply["error"] == "unknown_account")
        #expect(reply["message"] == "batch item 1 (request_id a2) failed: unknown account 'ghost'")
        #expect(reply["retryable"] == false)
        #expect(reply["failed_index"] == 1)
        #expect(reply["results"]?.arrayValue?.count == 2)

        // A failing query item has no request_id to name.
        let queryItems: [BatchItem] = [.query(.balance(account("ghost")))]
        let queryReply = try replyObject(ReplyEncoder.encode(
            .batch([.query(.failure(.unknownAccount(account("ghost"))))], atomic: true, failedIndex: 0),
            for: .batch(queryItems, atomic: true)))
        #expect(queryReply["message"] == "batch item 0 failed: unknown account 'ghost'")
    }

    @Test("atomic batch success is a plain results list")
    func atomicBatchSuccess() throws {
        let items: [BatchItem] = [.mutation(Mutation(requestID: rid("a1"), operation: .freeze(account("alice"))))]
        let reply = try replyObject(ReplyEncoder.encode(.batch([.mutation(.success(receipt("a1")))], atomic: true, failedIndex: nil),
                                                        for: .batch(items, atomic: true)))
        #expect(reply.keys == ["ok", "results"])
        #expect(reply["results"]?[0]?["op"] == "freeze")
    }

    @Test("too_large and bad frame replies")
    func transportErrors() throws {
        let large = try replyObject(ReplyEncoder.tooLarge(byteCount: 2_000_000))
        #expect(large["error"] == "too_large")
        #expect(large["message"] == "request is 2000000 bytes; the limit is 1048576 bytes")
        #expect(large["retryable"] == false)
        let frames = try replyObject(ReplyEncoder.badFrames(count: 3))
        #expect(frames["error"] == "bad_request")
        #expect(frames["message"] == "request must be exactly one frame (got 3)")
    }

    @Test("error messages with quotes and control characters stay valid JSON")
    func escapedMessages() throws {
        let reply = try replyObject(ReplyEncoder.error(.badRequest("bad \"thing\"\n\\ here")))
        #expect(reply["message"] == "bad \"thing\"\n\\ here")
    }

    @Test("decoder errors encode as replies")
    func decodeThenEncode() throws {
        guard case .failure(let error) = decode(#"{"op":"deposit","request_id":"r","account":"a","ammount":1}"#) else {
            Issue.record("expected failure")
            return
        }
        let reply = try replyObject(ReplyEncoder.error(error))
        #expect(reply["error"] == "bad_request")
        #expect(reply["message"] == "unknown field 'ammount' for op 'deposit'")
    }
}
