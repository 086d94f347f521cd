/// What a client asks the ledger to change. Values are already validated (ids, amount ranges) by the protocol
/// layer, so the ledger only checks rules that depend on state.
public enum Operation: Hashable, Sendable {
    case openAccount(AccountID, currency: CurrencyCode, overdraftLimitMinor: Int64)
    case deposit(AccountID, amountMinor: Int64)
    case withdraw(AccountID, amountMinor: Int64)
    case transfer(from: AccountID, to: AccountID, amountMinor: Int64, reference: String?)
    case hold(AccountID, amountMinor: Int64, holdID: HoldID)
    /// Settles up to the held amount (`nil`: all of it); any remainder is released and the hold closes.
    case capture(HoldID, amountMinor: Int64?)
    case release(HoldID)
    case freeze(AccountID)
    case unfreeze(AccountID)
}

/// One state change with its idempotency key.
public struct Mutation: Hashable, Sendable {
    public var requestID: RequestID
    public var operation: Operation
    public init(requestID: RequestID, operation: Operation) {
        self.requestID = requestID
        self.operation = operation
    }
}

/// A read.
public enum Query: Hashable, Sendable {
    case balance(AccountID)
    /// Newest first; at most `limit` entries with seq below `beforeSeq` (all when nil).
    case statement(AccountID, limit: Int, beforeSeq: Seq?)
}

/// One element of a batch.
public enum BatchItem: Hashable, Sendable {
    case mutation(Mutation)
    case query(Query)
}

/// A whole decoded client request, as the ledger sees it.
public enum LedgerRequest: Hashable, Sendable {
    case mutation(Mutation)
    case query(Query)
    case batch([BatchItem], atomic: Bool)
}

/// The unit the journal stores: mutations that all succeeded together, stamped by the leader's clock.
/// The ledger's state is a deterministic function of the sequence of entries, which is what lets a follower
/// and a restarted node rebuild exactly the leader's balances.
public struct Entry: Hashable, Sendable {
    public var timeMillis: Int64
    public var mutations: [Mutation]
    public init(timeMillis: Int64, mutations: [Mutation]) {
        self.timeMillis = timeMillis
        self.mutations = mutations
    }
}
