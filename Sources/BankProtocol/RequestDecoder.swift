import BankCore

/// Turns a client's request body into a validated `LedgerRequest`.
///
/// Strictness decisions (every one answers `bad_request` unless noted):
/// - The body must be at most `ClientLimits.maximumRequestBytes` (else `too_large`), valid UTF-8, one strict JSON
///   document (see `JSONValue.parse`) nested at most 32 deep, and a JSON object.
/// - Duplicate keys are refused (by the parser), so `{"amount":1,"amount":1000}` cannot mean two things.
/// - `"op"` must be present and a string; an op string we do not know is `unknown_op`. `status` and `switchover`
///   are answered by the gateway (`RequestPeek`); if one reaches this decoder it is `unknown_op` too.
/// - Unknown top-level fields are refused, naming the field, so typos such as `"ammount"` cannot silently drop an
///   optional field. Exception: `"request_id"` is accepted and ignored (whatever its value) on reads
///   (`balance`, `statement`) and on the `batch` envelope, so clients may tag every request.
/// - Every state-changing request needs `"request_id"`: a string of 1–128 characters.
/// - An explicit `null` for a field means the same as leaving the field out (clients' serializers often emit
///   nulls for absent optionals); for a required field that is therefore "missing field".
/// - Account and hold ids: 1–64 characters of `[A-Za-z0-9_.-]`. Amounts: JSON integers 1…10^15; a fraction,
///   exponent (`1.0`, `1e3`), string, or a number that does not fit `Int64` is refused, never trapped on.
///   Overdraft limit: integer 0…10^15. Currency: three upper-case letters, default `GBP`. Transfer reference:
///   a string of 1–256 UTF-8 bytes. Statement `limit`: 1…1000 (default 50); `before_seq`: integer ≥ 1.
/// - `batch`: `requests` is an array of 1–1000 objects, each a request of any op except `batch`, `status` and
///   `switchover`; `atomic` is a boolean (default false). An invalid item fails the whole batch, with the item's
///   code and a message starting "batch item N: " (N counts from 0). An empty batch is refused.
/// - Rules needing ledger state (transfer to the same account, capture above the held amount) are left to the
///   ledger, which reports them as `bad_request` via `LedgerError.invalid`.
public enum RequestDecoder {
    public static func decode(_ body: [UInt8]) -> Result<LedgerRequest, ProtocolError> {
        body.withUnsafeBufferPointer { decode($0) }
    }

    public static func decode(_ body: ArraySlice<UInt8>) -> Result<LedgerRequest, ProtocolError> {
        body.withUnsafeBufferPointer { decode($0) }
    }

    public static func decode(_ body: UnsafeRawBufferPointer) -> Result<LedgerRequest, ProtocolError> {
        decode(body.assumingMemoryBound(to: UInt8.self))
    }

    public static func decode(_ body: UnsafeBufferPointer<UInt8>) -> Result<LedgerRequest, ProtocolError> {
        guard body.count <= ClientLimits.maximumRequestBytes else {
            return .failure(ReplyEncoder.tooLargeError(byteCount: body.count))
        }
        switch JSONValue.parseResult(body, maxDepth: ClientLimits.maximumDepth) {
        case .failure(let error):
            return .failure(parseFailure(error))
        case .success(let value):
            return decode(value)
        }
    }

    /// Validates an already parsed request document.
    public static func decode(_ value: JSONValue) -> Result<LedgerRequest, ProtocolError> {
        do {
            return .success(try decodeRequest(value))
        } catch {
            return .failure(error)
        }
    }

    static func parseFailure(_ error: JSONParseError) -> ProtocolError {
        switch error.reason {
        case .tooDeep(let limit):
            return .badRequest("request is nested deeper than \(limit) levels")
        case .invalidUTF8:
            return .badRequest("request is not valid UTF-8 (string starting at byte \(error.offset))")
        case .duplicateKey(let key):
            return .badRequest("duplicate field '\(key)' (at byte \(error.offset))")
        case .emptyInput:
            return .badRequest("request body is empty; expected a JSON object")
        default:
            return .badRequest("malformed JSON: \(error)")
        }
    }

    // MARK: - Top level

    private static func decodeRequest(_ value: JSONValue) throws(ProtocolError) -> LedgerRequest {
        guard case .object(let object) = value else {
            throw .badRequest("request must be a JSON object (got \(value.typeName))")
        }
        let fields = Fields(object: object, context: "")
        let op = try fields.op()
        switch op {
        case "balance", "statement":
            return .query(try decodeQuery(op, fields))
        case "audit":
            // An account's movements with the client key behind each, for operators: a statement, read as one.
            return .query(try decodeQuery("statement", fields))
        case "batch":
            return try decodeBatch(fields)
        case "status", "switchover":
            throw ProtocolError(code: .unknownOp, message: "op '\(op)' is answered by the gateway, not the ledger")
        default:
            if let mutation = try decodeMutation(op, fields) { return .mutation(mutation) }
            throw ProtocolError(code: .unknownOp, message: "unknown op '\(op)'")
        }
    }

    private static func decodeBatch(_ fields: Fields) throws(ProtocolError) -> LedgerRequest {
        try fields.allowOnly(["requests", "atomic"], ignoring: "request_id")
        guard let requestsValue = fields["requests"] else { throw .badRequest("missing field 'requests'") }
        guard case .array(let requests) = requestsValue else {
            throw .badRequest("field 'requests' must be an array of 1–\(ClientLimits.maximumBatchItems) request objects")
        }
        guard !requests.isEmpty else { throw .badRequest("batch must hold at least one request") }
        guard requests.count <= ClientLimits.maximumBatchItems else {
            throw .badRequest("batch has \(requests.count) requests; at most \(ClientLimits.maximumBatchItems) are allowed")
        }
        var atomic = false
        if let atomicValue = fields["atomic"] {
            guard case .bool(let flag) = atomicValue else { throw .badRequest("field 'atomic' must be true or false") }
            atomic = flag
        }
        var items: [BatchItem] = []
        items.reserveCapacity(requests.count)
        for (index, request) in requests.enumerated() {
            let context = "batch item \(index): "
            guard case .object(let object) = request else {
                throw .badRequest("batch item \(index) must be a JSON object (got \(request.typeName))")
            }
            let itemFields = Fields(object: object, context: context)
            let op = try itemFields.op()
            switch op {
            case "balance", "statement":
                items.append(.query(try decodeQuery(op, itemFields)))
            case "batch", "status", "switchover", "audit":
                throw .badRequest(context + "op '\(op)' is not allowed inside a batch")
            default:
                guard let mutation = try decodeMutation(op, itemFields) else {
                    throw ProtocolError(code: .unknownOp, message: context + "unknown op '\(op)'")
                }
                items.append(.mutation(mutation))
            }
        }
        return .batch(items, atomic: atomic)
    }

    // MARK: - Ops

    private static func decodeQuery(_ op: String, _ f: Fields) throws(ProtocolError) -> Query {
        if op == "balance" {
            try f.allowOnly(["account"], ignoring: "request_id")
            return .balance(try f.account("account"))
        }
        try f.allowOnly(["account", "limit", "before_seq"], ignoring: "request_id")
        let account = try f.account("account")
        var limit = ClientLimits.defaultStatementLimit
        if let value = f["limit"] {
            guard case .int(let n) = value, n >= 1, n <= Int64(ClientLimits.maximumStatementLimit) else {
                throw f.error("limit must be an integer between 1 and \(ClientLimits.maximumStatementLimit)")
            }
            limit = Int(n)
        }
        var beforeSeq: Seq? = nil
        if let value = f["before_seq"] {
            guard case .int(let n) = value, n >= 1 else { throw f.error("before_seq must be an integer of at least 1") }
            beforeSeq = Seq(n)
        }
        return .statement(account, limit: limit, beforeSeq: beforeSeq)
    }

    /// nil when `op` is not a mutation op.
    private static func decodeMutation(_ op: String, _ f: Fields) throws(ProtocolError) -> Mutation? {
        let operation: Operation
        switch op {
        case "open_account":
            try f.allowOnly(["request_id", "account", "currency", "overdraft_limit"])
            let requestID = try f.requestID()
            let account = try f.account("account")
            var currency = CurrencyCode.gbp
            if let value = f["currency"] {
                guard case .string(let text) = value, let code = CurrencyCode(text) else {
                    throw f.error("field 'currency' must be a currency code: 3 upper-case letters such as \"GBP\"")
                }
                currency = code
            }
            var overdraft: Int64 = 0
            if let value = f["overdraft_limit"] {
                guard case .int(let n) = value, n >= 0, n <= Money.maximumOverdraftMinor else {
                    throw f.error("overdraft_limit must be an integer between 0 and \(Money.maximumOverdraftMinor)")
                }
                overdraft = n
            }
            return Mutation(requestID: requestID,
                            operation: .openAccount(account, currency: currency, overdraftLimitMinor: overdraft))
        case "deposit", "withdraw":
            try f.allowOnly(["request_id", "account", "amount"])
            let requestID = try f.requestID()
            let account = try f.account("account")
            let amount = try f.amount()
            operation = op == "deposit" ? .deposit(account, amountMinor: amount) : .withdraw(account, amountMinor: amount)
            return Mutation(requestID: requestID, operation: operation)
        case "transfer":
            try f.allowOnly(["request_id", "from", "to", "amount", "reference"])
            let requestID = try f.requestID()
            let from = try f.account("from")
            let to = try f.account("to")
            let amount = try f.amount()
            var reference: String? = nil
            if let value = f["reference"] {
                let maximum = ClientLimits.maximumReferenceBytes
                guard case .string(let text) = value, (1...maximum).contains(text.utf8.count) else {
                    throw f.error("field 'reference' must be a string of 1–\(maximum) UTF-8 bytes")
                }
                reference = text
            }
            operation = .transfer(from: from, to: to, amountMinor: amount, reference: reference)
            return Mutation(requestID: requestID, operation: operation)
        case "hold":
            try f.allowOnly(["request_id", "account", "amount", "hold_id"])
            let requestID = try f.requestID()
            let account = try f.account("account")
            let amount = try f.amount()
            let hold = try f.holdID()
            return Mutation(requestID: requestID, operation: .hold(account, amountMinor: amount, holdID: hold))
        case "capture":
            try f.allowOnly(["request_id", "hold_id", "amount"])
            let requestID = try f.requestID()
            let hold = try f.holdID()
            var amount: Int64? = nil
            if f["amount"] != nil { amount = try f.amount() }
            return Mutation(requestID: requestID, operation: .capture(hold, amountMinor: amount))
        case "release":
            try f.allowOnly(["request_id", "hold_id"])
            let requestID = try f.requestID()
            return Mutation(requestID: requestID, operation: .release(try f.holdID()))
        case "freeze", "unfreeze":
            try f.allowOnly(["request_id", "account"])
            let requestID = try f.requestID()
            let account = try f.account("account")
            return Mutation(requestID: requestID, operation: op == "freeze" ? .freeze(account) : .unfreeze(account))
        default:
            return nil
        }
    }
}

/// Field access with the protocol's messages. `context` prefixes every message (for batch items).
private struct Fields {
    let object: JSONObject
    let context: String

    /// The field's value; an explicit `null` counts as absent.
    subscript(name: String) -> JSONValue? {
        guard let value = object[name], value != .null else { return nil }
        return value
    }

    func error(_ message: String) -> ProtocolError {
        .badRequest(context + message)
    }

    func missing(_ name: String) -> ProtocolError {
        error("missing field '\(name)'")
    }

    func op() throws(ProtocolError) -> String {
        guard let value = self["op"] else { throw missing("op") }
        guard case .string(let op) = value else { throw error("field 'op' must be a string") }
        return op
    }

    /// Refuses any member other than "op", `allowed` and `ignoring`; names the first offender.
    func allowOnly(_ allowed: [String], ignoring: String? = nil) throws(ProtocolError) {
        for key in object.keys where key != "op" && key != ignoring && !allowed.contains(key) {
            let op = self["op"]?.stringValue ?? ""
            throw error("unknown field '\(key)' for op '\(op)'")
        }
    }

    func requestID() throws(ProtocolError) -> RequestID {
        guard let value = self["request_id"] else { throw missing("request_id") }
        guard case .string(let text) = value, let id = RequestID(text) else {
            throw error("field 'request_id' must be a string of 1–128 characters")
        }
        return id
    }

    func account(_ name: String) throws(ProtocolError) -> AccountID {
        guard let value = self[name] else { throw missing(name) }
        guard case .string(let text) = value, let id = AccountID(text) else {
            throw error("field '\(name)' must be an account id: 1–64 characters of [A-Za-z0-9_.-]")
        }
        return id
    }

    func holdID() throws(ProtocolError) -> HoldID {
        guard let value = self["hold_id"] else { throw missing("hold_id") }
        guard case .string(let text) = value, let id = HoldID(text) else {
            throw error("field 'hold_id' must be a hold id: 1–64 characters of [A-Za-z0-9_.-]")
        }
        return id
    }

    func amount() throws(ProtocolError) -> Int64 {
        guard let value = self["amount"] else { throw missing("amount") }
        guard case .int(let n) = value, Money.isValidAmount(n) else {
            throw error("amount must be an integer between 1 and \(Money.maximumAmountMinor)")
        }
        return n
    }
}
