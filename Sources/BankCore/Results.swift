/// What the ledger answers. These are plain values; `BankProtocol` turns them into JSON.

/// The outcome of one successful mutation. Stored per request id so that a repeated request gets the original
/// receipt back (with `replayed` set) instead of being applied twice.
public struct Receipt: Hashable, Sendable {
    public var seq: Seq
    public var requestID: RequestID
    public var replayed: Bool
    /// The account the operation is about (for a transfer: the debited account). Only that account's figures are
    /// reported: a sender must not learn the recipient's balance.
    public var account: AccountID
    public var balanceMinor: Int64
    public var availableMinor: Int64
    public var heldMinor: Int64
    public var frozen: Bool
    public var holdID: HoldID?
    /// For a capture: the amount settled and the remainder released; for a release: the amount released.
    public var capturedMinor: Int64?
    public var releasedMinor: Int64?

    public init(seq: Seq, requestID: RequestID, replayed: Bool = false, account: AccountID, balanceMinor: Int64,
                availableMinor: Int64, heldMinor: Int64, frozen: Bool, holdID: HoldID? = nil,
                capturedMinor: Int64? = nil, releasedMinor: Int64? = nil) {
        self.seq = seq
        self.requestID = requestID
        self.replayed = replayed
        self.account = account
        self.balanceMinor = balanceMinor
        self.availableMinor = availableMinor
        self.heldMinor = heldMinor
        self.frozen = frozen
        self.holdID = holdID
        self.capturedMinor = capturedMinor
        self.releasedMinor = releasedMinor
    }
}

/// `balance` answer. `availableMinor = balanceMinor - heldMinor + overdraftLimitMinor`.
public struct BalanceView: Hashable, Sendable {
    public var account: AccountID
    public var balanceMinor: Int64
    public var availableMinor: Int64
    public var heldMinor: Int64
    public var currency: CurrencyCode
    public var overdraftLimitMinor: Int64
    public var frozen: Bool
    public init(account: AccountID, balanceMinor: Int64, availableMinor: Int64, heldMinor: Int64,
                currency: CurrencyCode, overdraftLimitMinor: Int64, frozen: Bool) {
        self.account = account
        self.balanceMinor = balanceMinor
        self.availableMinor = availableMinor
        self.heldMinor = heldMinor
        self.currency = currency
        self.overdraftLimitMinor = overdraftLimitMinor
        self.frozen = frozen
    }
}

/// What kind of balance movement a statement line is.
public enum EntryKind: String, Hashable, Sendable {
    case deposit, withdrawal, transfer, capture
}

/// One line of a statement: a movement of this account's balance.
public struct StatementEntry: Hashable, Sendable {
    public var seq: Seq
    public var requestID: RequestID
    public var kind: EntryKind
    /// Signed: debits are negative.
    public var amountMinor: Int64
    /// The other account (a settlement account for deposits, withdrawals and captures).
    public var counterparty: AccountID
    public var balanceAfterMinor: Int64
    public var reference: String?
    public var timeMillis: Int64
    public init(seq: Seq, requestID: RequestID, kind: EntryKind, amountMinor: Int64, counterparty: AccountID,
                balanceAfterMinor: Int64, reference: String?, timeMillis: Int64) {
        self.seq = seq
        self.requestID = requestID
        self.kind = kind
        self.amountMinor = amountMinor
        self.counterparty = counterparty
        self.balanceAfterMinor = balanceAfterMinor
        self.reference = reference
        self.timeMillis = timeMillis
    }
}

public enum QueryResult: Hashable, Sendable {
    case balance(BalanceView)
    case statement(account: AccountID, entries: [StatementEntry])
}

public enum ItemResult: Hashable, Sendable {
    case mutation(Result<Receipt, LedgerError>)
    case query(Result<QueryResult, LedgerError>)
}

public enum LedgerResponse: Hashable, Sendable {
    case mutation(Result<Receipt, LedgerError>)
    case query(Result<QueryResult, LedgerError>)
    /// One result per item. For an atomic batch that failed, `failedIndex` names the item that failed and no
    /// item was applied (the other results then say nothing was done for them).
    case batch([ItemResult], atomic: Bool, failedIndex: Int?)
}
