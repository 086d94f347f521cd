import BankCore

/// The `"error"` code of a failure reply.
public enum ErrorCode: String, Hashable, Sendable, CaseIterable {
    /// Malformed JSON, wrong or missing fields, an invalid amount, more than one body frame.
    case badRequest = "bad_request"
    /// The request is over `ClientLimits.maximumRequestBytes`.
    case tooLarge = "too_large"
    case unknownOp = "unknown_op"
    case unknownAccount = "unknown_account"
    case accountExists = "account_exists"
    case insufficientFunds = "insufficient_funds"
    case accountFrozen = "account_frozen"
    case currencyMismatch = "currency_mismatch"
    case unknownHold = "unknown_hold"
    case holdClosed = "hold_closed"
    /// Our addition: the hold id is already used by another hold.
    case holdExists = "hold_exists"
    case idempotencyConflict = "idempotency_conflict"
    /// No leader, a failover in progress, a timeout: retry with the same request_id. The outcome is unknown: the
    /// request may have been applied (the retry then answers with the original receipt).
    case unavailable = "unavailable"
    /// The gateway holds as many requests as it admits (in total or for this connection): the request was not
    /// forwarded and nothing was applied. Definite; retry after the reply's `retry_after_ms`.
    case overloaded = "overloaded"
    /// The client's key does not carry a role that may send this request (issue 11): nothing was applied, and a
    /// retry gets the same answer.
    case forbidden = "forbidden"

    public var isRetryable: Bool { self == .unavailable || self == .overloaded }
}

/// A failure reply's code and human-readable message.
public struct ProtocolError: Error, Hashable, Sendable, CustomStringConvertible {
    public var code: ErrorCode
    public var message: String

    public init(code: ErrorCode, message: String) {
        self.code = code
        self.message = message
    }

    public static func badRequest(_ message: String) -> ProtocolError {
        ProtocolError(code: .badRequest, message: message)
    }

    public var isRetryable: Bool { code.isRetryable }
    public var description: String { "\(code.rawValue): \(message)" }

    /// The wire code and message for a ledger refusal.
    public init(_ error: LedgerError) {
        switch error {
        case .unknownAccount(let account):
            self.init(code: .unknownAccount, message: "unknown account '\(account)'")
        case .accountExists(let account):
            self.init(code: .accountExists, message: "account '\(account)' already exists")
        case .insufficientFunds(let account, let available, let requested):
            self.init(code: .insufficientFunds,
                      message: "insufficient funds in account '\(account)': available \(available), requested \(requested)")
        case .accountFrozen(let account):
            self.init(code: .accountFrozen, message: "account '\(account)' is frozen")
        case .currencyMismatch(let from, let to):
            self.init(code: .currencyMismatch,
                      message: "currency mismatch: cannot move \(from) into an account held in \(to)")
        case .unknownHold(let hold):
            self.init(code: .unknownHold, message: "unknown hold '\(hold)'")
        case .holdClosed(let hold):
            self.init(code: .holdClosed, message: "hold '\(hold)' is already closed")
        case .holdExists(let hold):
            self.init(code: .holdExists, message: "hold id '\(hold)' is already in use")
        case .idempotencyConflict(let requestID):
            self.init(code: .idempotencyConflict,
                      message: "request_id '\(requestID)' was already used with different parameters")
        case .invalid(let message):
            self.init(code: .badRequest, message: message)
        case .historyUnavailable(let reason):
            self.init(code: .unavailable, message: "the history store could not be read (\(reason)); nothing was applied")
        }
    }
}

/// Limits on what a client may send.
public enum ClientLimits {
    /// Largest accepted request body: 1 MiB. Larger requests get `too_large`.
    public static let maximumRequestBytes = 1 << 20
    /// Most items in one batch.
    public static let maximumBatchItems = 1000
    /// Deepest JSON nesting accepted (the request object itself is level 1).
    public static let maximumDepth = 32
    /// Largest statement page.
    public static let maximumStatementLimit = 1000
    /// Statement page size when `limit` is absent.
    public static let defaultStatementLimit = 50
    /// Longest transfer reference, in UTF-8 bytes.
    public static let maximumReferenceBytes = 256
}
