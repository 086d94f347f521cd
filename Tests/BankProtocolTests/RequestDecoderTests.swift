import BankCore
import Testing
@testable import BankProtocol

@Suite("Request decoding")
struct RequestDecoderTests {
    private func mutation(_ requestID: String, _ operation: Operation) -> LedgerRequest {
        .mutation(Mutation(requestID: rid(requestID), operation: operation))
    }

    // MARK: Every op

    @Test("open_account defaults to GBP and no overdraft")
    func openAccountDefaults() {
        #expect(decoded(#"{"op":"open_account","request_id":"r1","account":"alice"}"#)
            == mutation("r1", .openAccount(account("alice"), currency: .gbp, overdraftLimitMinor: 0)))
    }

    @Test("open_account takes currency and overdraft_limit")
    func openAccountFull() {
        let text = #"{"op":"open_account","request_id":"r1","account":"a.b-c_D9","currency":"EUR","overdraft_limit":1000000000000000}"#
        #expect(decoded(text) == mutation("r1", .openAccount(account("a.b-c_D9"), currency: CurrencyCode("EUR")!,
                                                             overdraftLimitMinor: 1_000_000_000_000_000)))
        #expect(decoded(#"{"op":"open_account","request_id":"r1","account":"x","overdraft_limit":0}"#)
            == mutation("r1", .openAccount(account("x"), currency: .gbp, overdraftLimitMinor: 0)))
    }

    @Test("deposit and withdraw")
    func depositWithdraw() {
        #expect(decoded(#"{"op":"deposit","request_id":"r2","account":"alice","amount":1250}"#)
            == mutation("r2", .deposit(account("alice"), amountMinor: 1250)))
        #expect(decoded(#"{"amount":1,"account":"alice","request_id":"r3","op":"withdraw"}"#)
            == mutation("r3", .withdraw(account("alice"), amountMinor: 1)))
    }

    @Test("transfer with and without reference")
    func transfer() {
        #expect(decoded(#"{"op":"transfer","request_id":"t1","from":"alice","to":"bob","amount":500}"#)
            == mutation("t1", .transfer(from: account("alice"), to: account("bob"), amountMinor: 500, reference: nil)))
        #expect(decoded(#"{"op":"transfer","request_id":"t1","from":"alice","to":"bob","amount":500,"reference":"rent \u00a3"}"#)
            == mutation("t1", .transfer(from: account("alice"), to: account("bob"), amountMinor: 500,
                                        reference: "rent £")))
        let longest = String(repeating: "é", count: 128)  // 256 UTF-8 bytes
        #expect(decoded(#"{"op":"transfer","request_id":"t1","from":"a","to":"b","amount":5,"reference":"\#(longest)"}"#)
            == mutation("t1", .transfer(from: account("a"), to: account("b"), amountMinor: 5, reference: longest)))
    }

    @Test("hold, capture (with and without amount) and release")
    func holds() {
        #expect(decoded(#"{"op":"hold","request_id":"h1","account":"alice","amount":700,"hold_id":"card-1"}"#)
            == mutation("h1", .hold(account("alice"), amountMinor: 700, holdID: hold("card-1"))))
        #expect(decoded(#"{"op":"capture","request_id":"c1","hold_id":"card-1"}"#)
            == mutation("c1", .capture(hold("card-1"), amountMinor: nil)))
        #expect(decoded(#"{"op":"capture","request_id":"c1","hold_id":"card-1","amount":300}"#)
            == mutation("c1", .capture(hold("card-1"), amountMinor: 300)))
        #expect(decoded(#"{"op":"release","request_id":"x1","hold_id":"card-1"}"#)
            == mutation("x1", .release(hold("card-1"))))
    }

    @Test("freeze and unfreeze")
    func freeze() {
        #expect(decoded(#"{"op":"freeze","request_id":"f1","account":"alice"}"#) == mutation("f1", .freeze(account("alice"))))
        #expect(decoded(#"{"op":"unfreeze","request_id":"f2","account":"alice"}"#) == mutation("f2", .unfreeze(account("alice"))))
    }

    @Test("balance, and request_id is accepted and ignored on reads")
    func balance() {
        #expect(decoded(#"{"op":"balance","account":"alice"}"#) == .query(.balance(account("alice"))))
        #expect(decoded(#"{"op":"balance","account":"alice","request_id":"whatever"}"#) == .query(.balance(account("alice"))))
    }

    @Test("audit reads as a statement (the gateway lets only operators send it); never inside a batch")
    func auditIsAStatement() {
        #expect(decoded(#"{"op":"audit","account":"alice","limit":10}"#)
            == .query(.statement(account("alice"), limit: 10, beforeSeq: nil)))
        #expect(RequestPeek.kind(of: Array(#"{"op":"audit","account":"a"}"#.utf8)) == .audit)
        #expect(ClientRole.operator.allows(.audit) && !ClientRole.app.allows(.audit) && !ClientRole.reader.allows(.audit))
        guard case let .failure(error) = RequestDecoder.decode(Array(#"{"op":"batch","requests":[{"op":"audit","account":"a"}]}"#.utf8))
        else {
            Issue.record("audit inside a batch must be refused")
            return
        }
        #expect(error.message.contains("op 'audit' is not allowed inside a batch"))
    }

    @Test("statement defaults to 50 entries from the newest")
    func statementDefaults() {
        #expect(decoded(#"{"op":"statement","account":"alice"}"#)
            == .query(.statement(account("alice"), limit: 50, beforeSeq: nil)))
        #expect(decoded(#"{"op":"statement","account":"alice","limit":1000,"before_seq":17,"request_id":"r"}"#)
            == .query(.statement(account("alice"), limit: 1000, beforeSeq: 17)))
        #expect(decoded(#"{"op":"statement","account":"alice","limit":1}"#)
            == .query(.statement(account("alice"), limit: 1, beforeSeq: nil)))
    }

    @Test("an explicit null counts as an absent optional field")
    func nullIsAbsent() {
        #expect(decoded(#"{"op":"capture","request_id":"c1","hold_id":"h","amount":null}"#)
            == mutation("c1", .capture(hold("h"), amountMinor: nil)))
        #expect(decoded(#"{"op":"statement","account":"a","limit":null,"before_seq":null}"#)
            == .query(.statement(account("a"), limit: 50, beforeSeq: nil)))
        #expect(decodeFailure(#"{"op":"deposit","request_id":"r","account":null,"amount":1}"#)?.message
            == "missing field 'account'")
    }

    @Test("batch of mixed items, atomic defaults to false")
    func batch() {
        let text = #"""
        {"op":"batch","requests":[
          {"op":"deposit","request_id":"b1","account":"alice","amount":100},
          {"op":"balance","account":"alice"},
          {"op":"transfer","request_id":"b2","from":"alice","to":"bob","amount":50}
        ]}
        """#
        let expected: LedgerRequest = .batch([
            .mutation(Mutation(requestID: rid("b1"), operation: .deposit(account("alice"), amountMinor: 100))),
            .query(.balance(account("alice"))),
            .mutation(Mutation(requestID: rid("b2"), operation: .transfer(from: account("alice"), to: account("bob"),
                                                                          amountMinor: 50, reference: nil))),
        ], atomic: false)
        #expect(decoded(text) == expected)
        #expect(decoded(#"{"op":"batch","atomic":true,"requests":[{"op":"freeze","request_id":"z","account":"q"}]}"#)
            == .batch([.mutation(Mutation(requestID: rid("z"), operation: .freeze(account("q"))))], atomic: true))
    }

    @Test("a batch of exactly 1000 items is accepted")
    func batch1000() {
        let item = #"{"op":"deposit","request_id":"r","account":"a","amount":1}"#
        let text = #"{"op":"batch","requests":["# + Array(repeating: item, count: 1000).joined(separator: ",") + "]}"
        guard case .batch(let items, atomic: false)? = decoded(text) else {
            Issue.record("expected a batch")
            return
        }
        #expect(items.count == 1000)
    }

    // MARK: bad_request

    static let badRequests: [(String, String)] = [
        // Body shape
        (#"[1,2]"#, "request must be a JSON object (got array)"),
        (#""deposit""#, "request must be a JSON object (got string)"),
        (#"{"op":"deposit","request_id":"r","account":"a","amount":1"#, "malformed JSON: unexpected end of input at byte 57"),
        (#"{"op":"deposit",}"#, "malformed JSON: unexpected character '}' at byte 16"),
        ("", "request body is empty; expected a JSON object"),
        (#"{"op":"deposit","request_id":"r","account":"a","amount":1,"amount":1000}"#, "duplicate field 'amount' (at byte 58)"),
        // op
        (#"{"account":"a"}"#, "missing field 'op'"),
        (#"{"op":5}"#, "field 'op' must be a string"),
        (#"{"op":null}"#, "missing field 'op'"),
        // Missing fields
        (#"{"op":"deposit","account":"a","amount":1}"#, "missing field 'request_id'"),
        (#"{"op":"deposit","request_id":"r","amount":1}"#, "missing field 'account'"),
        (#"{"op":"deposit","request_id":"r","account":"a"}"#, "missing field 'amount'"),
        (#"{"op":"transfer","request_id":"r","to":"b","amount":1}"#, "missing field 'from'"),
        (#"{"op":"transfer","request_id":"r","from":"a","amount":1}"#, "missing field 'to'"),
        (#"{"op":"hold","request_id":"r","account":"a","amount":1}"#, "missing field 'hold_id'"),
        (#"{"op":"capture","request_id":"r"}"#, "missing field 'hold_id'"),
        (#"{"op":"release","hold_id":"h"}"#, "missing field 'request_id'"),
        (#"{"op":"freeze","request_id":"r"}"#, "missing field 'account'"),
        (#"{"op":"balance"}"#, "missing field 'account'"),
        (#"{"op":"statement"}"#, "missing field 'account'"),
        (#"{"op":"batch"}"#, "missing field 'requests'"),
        // Amounts
        (#"{"op":"deposit","request_id":"r","account":"a","amount":0}"#, "amount must be an integer between 1 and 1000000000000000"),
        (#"{"op":"deposit","request_id":"r","account":"a","amount":-5}"#, "amount must be an integer between 1 and 1000000000000000"),
        (#"{"op":"deposit","request_id":"r","account":"a","amount":1.0}"#, "amount must be an integer between 1 and 1000000000000000"),
        (#"{"op":"deposit","request_id":"r","account":"a","amount":12.5}"#, "amount must be an integer between 1 and 1000000000000000"),
        (#"{"op":"deposit","request_id":"r","account":"a","amount":1e3}"#, "amount must be an integer between 1 and 1000000000000000"),
        (#"{"op":"deposit","request_id":"r","account":"a","amount":1000000000000001}"#, "amount must be an integer between 1 and 1000000000000000"),
        (#"{"op":"deposit","request_id":"r","account":"a","amount":9223372036854775808}"#, "amount must be an integer between 1 and 1000000000000000"),
        (#"{"op":"deposit","request_id":"r","account":"a","amount":-9223372036854775808}"#, "amount must be an integer between 1 and 1000000000000000"),
        (#"{"op":"deposit","request_id":"r","account":"a","amount":99999999999999999999999999}"#, "amount must be an integer between 1 and 1000000000000000"),
        (#"{"op":"deposit","request_id":"r","account":"a","amount":"100"}"#, "amount must be an integer between 1 and 1000000000000000"),
        (#"{"op":"deposit","request_id":"r","account":"a","amount":true}"#, "amount must be an integer between 1 and 1000000000000000"),
        (#"{"op":"transfer","request_id":"r","from":"a","to":"b","amount":0}"#, "amount must be an integer between 1 and 1000000000000000"),
        (#"{"op":"capture","request_id":"r","hold_id":"h","amount":0}"#, "amount must be an integer between 1 and 1000000000000000"),
        (#"{"op":"deposit","request_id":"r","account":"a","amount":01}"#, "malformed JSON: invalid number at byte 56"),
        (#"{"op":"open_account","request_id":"r","account":"a","overdraft_limit":-1}"#, "overdraft_limit must be an integer between 0 and 1000000000000000"),
        (#"{"op":"open_account","request_id":"r","account":"a","overdraft_limit":1000000000000001}"#, "overdraft_limit must be an integer between 0 and 1000000000000000"),
        (#"{"op":"open_account","request_id":"r","account":"a","overdraft_limit":0.5}"#, "overdraft_limit must be an integer between 0 and 1000000000000000"),
        // Ids
        (#"{"op":"deposit","request_id":"r","account":"","amount":1}"#, "field 'account' must be an account id: 1–64 characters of [A-Za-z0-9_.-]"),
        (#"{"op":"deposit","request_id":"r","account":"al ice","amount":1}"#, "field 'account' must be an account id: 1–64 characters of [A-Za-z0-9_.-]"),
        (#"{"op":"deposit","request_id":"r","account":"settlement:GBP","amount":1}"#, "field 'account' must be an account id: 1–64 characters of [A-Za-z0-9_.-]"),
        (#"{"op":"deposit","request_id":"r","account":"ålice","amount":1}"#, "field 'account' must be an account id: 1–64 characters of [A-Za-z0-9_.-]"),
        (#"{"op":"deposit","request_id":"r","account":42,"amount":1}"#, "field 'account' must be an account id: 1–64 characters of [A-Za-z0-9_.-]"),
        (#"{"op":"deposit","request_id":"r","account":"\#(String(repeating: "a", count: 65))","amount":1}"#, "field 'account' must be an account id: 1–64 characters of [A-Za-z0-9_.-]"),
        (#"{"op":"transfer","request_id":"r","from":"a/b","to":"b","amount":1}"#, "field 'from' must be an account id: 1–64 characters of [A-Za-z0-9_.-]"),
        (#"{"op":"transfer","request_id":"r","from":"a","to":["b"],"amount":1}"#, "field 'to' must be an account id: 1–64 characters of [A-Za-z0-9_.-]"),
        (#"{"op":"hold","request_id":"r","account":"a","amount":1,"hold_id":"h#1"}"#, "field 'hold_id' must be a hold id: 1–64 characters of [A-Za-z0-9_.-]"),
        (#"{"op":"release","request_id":"r","hold_id":""}"#, "field 'hold_id' must be a hold id: 1–64 characters of [A-Za-z0-9_.-]"),
        (#"{"op":"deposit","request_id":"","account":"a","amount":1}"#, "field 'request_id' must be a string of 1–128 characters"),
        (#"{"op":"deposit","request_id":7,"account":"a","amount":1}"#, "field 'request_id' must be a string of 1–128 characters"),
        (#"{"op":"deposit","request_id":"\#(String(repeating: "r", count: 129))","account":"a","amount":1}"#, "field 'request_id' must be a string of 1–128 characters"),
        // Currency
        (#"{"op":"open_account","request_id":"r","account":"a","currency":"gbp"}"#, #"field 'currency' must be a currency code: 3 upper-case letters such as "GBP""#),
        (#"{"op":"open_account","request_id":"r","account":"a","currency":"GBPX"}"#, #"field 'currency' must be a currency code: 3 upper-case letters such as "GBP""#),
        (#"{"op":"open_account","request_id":"r","account":"a","currency":""}"#, #"field 'currency' must be a currency code: 3 upper-case letters such as "GBP""#),
        (#"{"op":"open_account","request_id":"r","account":"a","currency":826}"#, #"field 'currency' must be a currency code: 3 upper-case letters such as "GBP""#),
        // Reference
        (#"{"op":"transfer","request_id":"r","from":"a","to":"b","amount":1,"reference":""}"#, "field 'reference' must be a string of 1–256 UTF-8 bytes"),
        (#"{"op":"transfer","request_id":"r","from":"a","to":"b","amount":1,"reference":"\#(String(repeating: "x", count: 257))"}"#, "field 'reference' must be a string of 1–256 UTF-8 bytes"),
        (#"{"op":"transfer","request_id":"r","from":"a","to":"b","amount":1,"reference":5}"#, "field 'reference' must be a string of 1–256 UTF-8 bytes"),
        // Statement paging
        (#"{"op":"statement","account":"a","limit":0}"#, "limit must be an integer between 1 and 1000"),
        (#"{"op":"statement","account":"a","limit":1001}"#, "limit must be an integer between 1 and 1000"),
        (#"{"op":"statement","account":"a","limit":"10"}"#, "limit must be an integer between 1 and 1000"),
        (#"{"op":"statement","account":"a","before_seq":0}"#, "before_seq must be an integer of at least 1"),
        (#"{"op":"statement","account":"a","before_seq":1.5}"#, "before_seq must be an integer of at least 1"),
        // Unknown fields
        (#"{"op":"deposit","request_id":"r","account":"a","ammount":1}"#, "unknown field 'ammount' for op 'deposit'"),
        (#"{"op":"deposit","request_id":"r","account":"a","amount":1,"memo":"x"}"#, "unknown field 'memo' for op 'deposit'"),
        (#"{"op":"balance","account":"a","limit":5}"#, "unknown field 'limit' for op 'balance'"),
        (#"{"op":"open_account","request_id":"r","account":"a","overdraft":5}"#, "unknown field 'overdraft' for op 'open_account'"),
        (#"{"op":"batch","requests":[],"atomc":true}"#, "unknown field 'atomc' for op 'batch'"),
        // Batch shape
        (#"{"op":"batch","requests":[]}"#, "batch must hold at least one request"),
        (#"{"op":"batch","requests":{}}"#, "field 'requests' must be an array of 1–1000 request objects"),
        (#"{"op":"batch","requests":[1]}"#, "batch item 0 must be a JSON object (got integer)"),
        (#"{"op":"batch","atomic":"yes","requests":[{"op":"balance","account":"a"}]}"#, "field 'atomic' must be true or false"),
        (#"{"op":"batch","requests":[{"op":"balance","account":"a"},{"op":"deposit","request_id":"r","account":"a","amount":0}]}"#,
         "batch item 1: amount must be an integer between 1 and 1000000000000000"),
        (#"{"op":"batch","requests":[{"op":"deposit","account":"a","amount":1}]}"#, "batch item 0: missing field 'request_id'"),
        (#"{"op":"batch","requests":[{"op":"batch","requests":[{"op":"balance","account":"a"}]}]}"#, "batch item 0: op 'batch' is not allowed inside a batch"),
        (#"{"op":"batch","requests":[{"op":"status"}]}"#, "batch item 0: op 'status' is not allowed inside a batch"),
        (#"{"op":"batch","requests":[{"op":"switchover"}]}"#, "batch item 0: op 'switchover' is not allowed inside a batch"),
        (#"{"op":"batch","requests":[{"op":"deposit","request_id":"r","account":"a","amount":1,"x":1}]}"#, "batch item 0: unknown field 'x' for op 'deposit'"),
    ]

    @Test("bad_request with a specific message", arguments: badRequests)
    func badRequest(_ text: String, _ message: String) throws {
        let error = try #require(decodeFailure(text), "should fail: \(text)")
        #expect(error.code == .badRequest)
        #expect(error.message == message)
        #expect(error.isRetryable == false)
    }

    @Test("nesting deeper than 32 is bad_request")
    func tooDeep() throws {
        let nested = String(repeating: "[", count: 40) + String(repeating: "]", count: 40)
        let error = try #require(decodeFailure(#"{"op":"deposit","request_id":"r","account":"a","amount":1,"x":\#(nested)}"#))
        #expect(error == .badRequest("request is nested deeper than 32 levels"))
    }

    @Test("non-UTF-8 bodies are bad_request")
    func notUTF8() throws {
        var body = utf8(#"{"op":"deposit","request_id":"r","account":"a","amount":1}"#)
        body[30] = 0xFF  // inside the "request_id" value
        guard case .failure(let error) = RequestDecoder.decode(body) else {
            Issue.record("expected failure")
            return
        }
        #expect(error.code == .badRequest)
        #expect(error.message.hasPrefix("request is not valid UTF-8"))
    }

    @Test("unknown op strings are unknown_op")
    func unknownOp() {
        #expect(decodeFailure(#"{"op":"transfre","request_id":"r"}"#) == ProtocolError(code: .unknownOp, message: "unknown op 'transfre'"))
        #expect(decodeFailure(#"{"op":""}"#)?.code == .unknownOp)
        #expect(decodeFailure(#"{"op":"status"}"#)
            == ProtocolError(code: .unknownOp, message: "op 'status' is answered by the gateway, not the ledger"))
        #expect(decodeFailure(#"{"op":"switchover"}"#)?.code == .unknownOp)
        #expect(decodeFailure(#"{"op":"batch","requests":[{"op":"balance","account":"a"},{"op":"nope"}]}"#)
            == ProtocolError(code: .unknownOp, message: "batch item 1: unknown op 'nope'"))
    }

    @Test("a batch of 1001 items is bad_request")
    func batch1001() {
        let item = #"{"op":"balance","account":"a"}"#
        let text = #"{"op":"batch","requests":["# + Array(repeating: item, count: 1001).joined(separator: ",") + "]}"
        #expect(decodeFailure(text) == .badRequest("batch has 1001 requests; at most 1000 are allowed"))
    }

    @Test("a body over 1 MiB is too_large")
    func tooLarge() {
        let body = [UInt8](repeating: UInt8(ascii: " "), count: ClientLimits.maximumRequestBytes + 1)
        guard case .failure(let error) = RequestDecoder.decode(body) else {
            Issue.record("expected failure")
            return
        }
        #expect(error.code == .tooLarge)
        #expect(error.message == "request is 1048577 bytes; the limit is 1048576 bytes")
        // Exactly the limit is still parsed (and here fails only as JSON).
        let padded = utf8(#"{"op":"balance","account":"a"}"#)
            + [UInt8](repeating: UInt8(ascii: " "), count: ClientLimits.maximumRequestBytes - 30)
        #expect(padded.count == ClientLimits.maximumRequestBytes)
        #expect(RequestDecoder.decode(padded) == .success(.query(.balance(account("a")))))
    }

    @Test("every input flavour decodes the same")
    func inputFlavours() {
        let bytes = utf8(#"{"op":"balance","account":"a"}"#)
        let expected = RequestDecoder.decode(bytes)
        #expect(expected == .success(.query(.balance(account("a")))))
        #expect(RequestDecoder.decode(bytes[...]) == expected)
        #expect(bytes.withUnsafeBytes { RequestDecoder.decode($0) } == expected)
    }
}
