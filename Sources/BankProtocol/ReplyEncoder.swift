import BankCore

extension Operation {
    /// The `"op"` string of this operation on the wire.
    public var wireName: String {
        switch self {
        case .openAccount: return "open_account"
        case .deposit: return "deposit"
        case .withdraw: return "withdraw"
        case .transfer: return "transfer"
        case .hold: return "hold"
        case .capture: return "capture"
        case .release: return "release"
        case .freeze: return "freeze"
        case .unfreeze: return "unfreeze"
        }
    }
}

extension JSONWriter {
    /// Writes `millis` as an ISO-8601 UTC string value without an intermediate `String`.
    public mutating func timestamp(millis: Int64) {
        separator()
        bytes.append(UInt8(ascii: "\""))
        TimeFormat.appendISO8601(millis: millis, to: &bytes)
        bytes.append(UInt8(ascii: "\""))
        needsComma = true
    }
}

/// Turns ledger answers into reply bytes. Key order is fixed (see each writer); optional fields that are nil are
/// left out rather than written as `null`.
///
/// Shapes:
/// - mutation: `{"ok":true,"op","seq","request_id","account","balance","available","held","frozen"`, then
///   `"hold_id"`, `"captured"`, `"released"` when present, then the echoed request fields (transfer: `"from"`,
///   `"to"`, `"amount"`; deposit/withdraw: `"amount"`; open_account: `"currency"`, `"overdraft_limit"`), then
///   `"replayed":true` only for a replay.
/// - balance: `{"ok":true,"account","balance","available","held","currency","overdraft_limit","frozen"}`.
/// - statement: `{"ok":true,"account","entries":[{"seq","request_id","kind","amount","counterparty",
///   "balance_after","reference"?,"time"}…],"next_before_seq"?}`; `next_before_seq` (the last entry's seq) is
///   present only when the page is full (`entries.count == limit`).
/// - batch: `{"ok":true,"results":[…]}`, each result the reply its item would get alone; an atomic batch that
///   failed: `{"ok":false,"error","message":"batch item N (request_id X) failed: …","retryable","failed_index",
///   "results"}`.
/// - failure: `{"ok":false,"error","message","retryable"}`, plus `"request_id"` when a single mutation was refused,
///   or when the gateway answers `unavailable` or `overloaded` for a request that had one.
public enum ReplyEncoder {
    public static func encode(_ response: LedgerResponse, for request: LedgerRequest) -> [UInt8] {
        var writer = JSONWriter(reservingCapacity: 256)
        switch response {
        case .mutation(let result):
            let operation: Operation?
            var requestID: RequestID?
            if case .mutation(let mutation) = request {
                operation = mutation.operation
                requestID = mutation.requestID
            } else {
                operation = nil
            }
            writeMutation(result, operation: operation, requestID: requestID, to: &writer)
        case .query(let result):
            var limit: Int? = nil
            if case .query(.statement(_, let pageLimit, _)) = request { limit = pageLimit }
            writeQuery(result, statementLimit: limit, to: &writer)
        case .batch(let results, _, let failedIndex):
            var items: [BatchItem] = []
            if case .batch(let requestItems, _) = request { items = requestItems }
            writeBatch(results, items: items, failedIndex: failedIndex, to: &writer)
        }
        return writer.bytes
    }

    /// The reply to one mutation, when the caller has the operation at hand (`nil`: no `"op"` and no echoes).
    public static func encode(_ result: Result<Receipt, LedgerError>, for operation: Operation?) -> [UInt8] {
        var writer = JSONWriter(reservingCapacity: 256)
        writeMutation(result, operation: operation, to: &writer)
        return writer.bytes
    }

    public static func error(_ error: ProtocolError) -> [UInt8] {
        var writer = JSONWriter(reservingCapacity: 64 + error.message.utf8.count)
        writeError(error, to: &writer, close: true)
        return writer.bytes
    }

    public static func error(code: ErrorCode, message: String) -> [UInt8] {
        error(ProtocolError(code: code, message: message))
    }

    /// A failure that echoes the request's top-level `request_id` when it has one (the gateway's answers for a
    /// request it could not get served), so that a client pipelining requests knows which one to settle.
    public static func error(code: ErrorCode, message: String, requestID: String?) -> [UInt8] {
        guard let requestID else { return error(code: code, message: message) }
        var writer = JSONWriter(reservingCapacity: 96 + message.utf8.count)
        writeError(ProtocolError(code: code, message: message), to: &writer, close: false)
        writer.put("request_id", requestID)
        writer.endObject()
        return writer.bytes
    }

    public static func error(_ error: LedgerError) -> [UInt8] {
        self.error(ProtocolError(error))
    }

    /// `too_large` for a request of `byteCount` bytes.
    public static func tooLarge(byteCount: Int) -> [UInt8] {
        error(tooLargeError(byteCount: byteCount))
    }

    /// `bad_request` for a message that did not have exactly one body frame.
    public static func badFrames(count: Int) -> [UInt8] {
        error(code: .badRequest, message: "request must be exactly one frame (got \(count))")
    }

    /// `unavailable` (retryable) with the given reason.
    public static func unavailable(_ message: String) -> [UInt8] {
        error(code: .unavailable, message: message)
    }

    /// `overloaded` (retryable, definite: the request was not forwarded), with a back-off hint and the request's
    /// `request_id` when it has one, so that a client pipelining requests knows which one to send again.
    /// Shape: `{"ok":false,"error":"overloaded","message","retryable":true,"retry_after_ms","request_id"?}`.
    public static func overloaded(_ message: String, retryAfterMilliseconds: Int, requestID: String?) -> [UInt8] {
        var writer = JSONWriter(reservingCapacity: 160)
        writeError(ProtocolError(code: .overloaded, message: message), to: &writer, close: false)
        writer.put("retry_after_ms", Int64(retryAfterMilliseconds))
        if let requestID { writer.put("request_id", requestID) }
        writer.endObject()
        return writer.bytes
    }

    static func tooLargeError(byteCount: Int) -> ProtocolError {
        ProtocolError(code: .tooLarge,
                      message: "request is \(byteCount) bytes; the limit is \(ClientLimits.maximumRequestBytes) bytes")
    }

    // MARK: - Writers

    /// Writes the failure fields; leaves the object open when `close` is false so callers can add fields.
    private static func writeError(_ error: ProtocolError, to w: inout JSONWriter, close: Bool) {
        w.beginObject()
        w.put("ok", false)
        w.put("error", error.code.rawValue)
        w.put("message", error.message)
        w.put("retryable", error.code.isRetryable)
        if close { w.endObject() }
    }

    /// A refusal echoes the request id (when known) so that a client pipelining requests, or one that retried,
    /// can tell which request a reply answers.
    private static func writeMutation(_ result: Result<Receipt, LedgerError>, operation: Operation?,
                                      requestID: RequestID? = nil, to w: inout JSONWriter) {
        switch result {
        case .failure(let error):
            writeError(ProtocolError(error), to: &w, close: requestID == nil)
            if let requestID {
                w.put("request_id", requestID.rawValue)
                w.endObject()
            }
        case .success(let receipt):
            writeReceipt(receipt, operation: operation, to: &w)
        }
    }

    private static func writeReceipt(_ r: Receipt, operation: Operation?, to w: inout JSONWriter) {
        w.beginObject()
        w.put("ok", true)
        if let operation { w.put("op", operation.wireName) }
        w.put("seq", r.seq)
        w.put("request_id", r.requestID.rawValue)
        w.put("account", r.account.rawValue)
        w.put("balance", r.balanceMinor)
        w.put("available", r.availableMinor)
        w.put("held", r.heldMinor)
        w.put("frozen", r.frozen)
        if let hold = r.holdID { w.put("hold_id", hold.rawValue) }
        if let captured = r.capturedMinor { w.put("captured", captured) }
        if let released = r.releasedMinor { w.put("released", released) }
        switch operation {
        case .transfer(let from, let to, let amount, _):
            w.put("from", from.rawValue)
            w.put("to", to.rawValue)
            w.put("amount", amount)
        case .deposit(_, let amount), .withdraw(_, let amount):
            w.put("amount", amount)
        case .openAccount(_, let currency, let overdraft):
            w.put("currency", currency.rawValue)
            w.put("overdraft_limit", overdraft)
        default:
            break
        }
        if r.replayed { w.put("replayed", true) }
        w.endObject()
    }

    private static func writeQuery(_ result: Result<QueryResult, LedgerError>, statementLimit: Int?,
                                   to w: inout JSONWriter) {
        switch result {
        case .failure(let error):
            writeError(ProtocolError(error), to: &w, close: true)
        case .success(.balance(let view)):
            w.beginObject()
            w.put("ok", true)
            w.put("account", view.account.rawValue)
            w.put("balance", view.balanceMinor)
            w.put("available", view.availableMinor)
            w.put("held", view.heldMinor)
            w.put("currency", view.currency.rawValue)
            w.put("overdraft_limit", view.overdraftLimitMinor)
            w.put("frozen", view.frozen)
            w.endObject()
        case .success(.statement(let account, let entries)):
            w.beginObject()
            w.put("ok", true)
            w.put("account", account.rawValue)
            w.putKey("entries")
            w.beginArray()
            for entry in entries {
                w.beginObject()
                w.put("seq", entry.seq)
                w.put("request_id", entry.requestID.rawValue)
                if let key = entry.requestID.scope { w.put("client_key", key.z85) }
                w.put("kind", entry.kind.rawValue)
                w.put("amount", entry.amountMinor)
                w.put("counterparty", entry.counterparty.rawValue)
                w.put("balance_after", entry.balanceAfterMinor)
                if let reference = entry.reference { w.put("reference", reference) }
                w.putKey("time")
                w.timestamp(millis: entry.timeMillis)
                w.endObject()
            }
            w.endArray()
            if let limit = statementLimit, let last = entries.last, entries.count >= limit {
                w.put("next_before_seq", last.seq)
            }
            w.endObject()
        }
    }

    private static func writeBatch(_ results: [ItemResult], items: [BatchItem], failedIndex: Int?,
                                   to w: inout JSONWriter) {
        if let failedIndex {
            var failure = ProtocolError(code: .badRequest, message: "batch item \(failedIndex) failed")
            var requestID: RequestID? = nil
            if items.indices.contains(failedIndex), case .mutation(let mutation) = items[failedIndex] {
                requestID = mutation.requestID
            }
            if results.indices.contains(failedIndex) {
                switch results[failedIndex] {
                case .mutation(.failure(let error)), .query(.failure(let error)):
                    failure = ProtocolError(error)
                default:
                    break
                }
            }
            let where_ = requestID.map { "batch item \(failedIndex) (request_id \($0.rawValue))" }
                ?? "batch item \(failedIndex)"
            writeError(ProtocolError(code: failure.code, message: "\(where_) failed: \(failure.message)"),
                       to: &w, close: false)
            w.put("failed_index", Int64(failedIndex))
        } else {
            w.beginObject()
            w.put("ok", true)
        }
        w.putKey("results")
        w.beginArray()
        for (index, result) in results.enumerated() {
            let item = items.indices.contains(index) ? items[index] : nil
            switch result {
            case .mutation(let mutationResult):
                var operation: Operation? = nil
                if case .mutation(let mutation)? = item { operation = mutation.operation }
                writeMutation(mutationResult, operation: operation, to: &w)
            case .query(let queryResult):
                var limit: Int? = nil
                if case .query(.statement(_, let pageLimit, _))? = item { limit = pageLimit }
                writeQuery(queryResult, statementLimit: limit, to: &w)
            }
        }
        w.endArray()
        w.endObject()
    }
}
