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
    /// The key of the client that asked for it, once clients authenticate (CURVE); journaled for audit. Nil today.
    public var clientKey: ClientKey?
    public init(requestID: RequestID, operation: Operation, clientKey: ClientKey? = nil) {
        self.requestID = requestID
        self.operation = operation
        self.clientKey = clientKey
    }
}

/// A client's 32-byte public key (a CURVE key), as four words so it needs no allocation.
public struct ClientKey: Hashable, Sendable {
    public var words: (UInt64, UInt64, UInt64, UInt64)
    public init(words: (UInt64, UInt64, UInt64, UInt64)) { self.words = words }
    public static let byteCount = 32

    public static func == (a: ClientKey, b: ClientKey) -> Bool {
        a.words.0 == b.words.0 && a.words.1 == b.words.1 && a.words.2 == b.words.2 && a.words.3 == b.words.3
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(words.0)
        hasher.combine(words.1)
        hasher.combine(words.2)
        hasher.combine(words.3)
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
    /// Who decided the mutations: the ledger, for its clients; or the stand-in bank, while no ledger could serve —
    /// its decisions come back as advice to apply exactly once. Stand-in advice is reserved in the format; no
    /// ledger of this version writes or applies it.
    public enum Source: UInt8, Hashable, Sendable {
        case clients = 1
        case standInAdvice = 2
    }

    public var timeMillis: Int64
    public var mutations: [Mutation]
    public var source: Source
    public init(timeMillis: Int64, mutations: [Mutation], source: Source = .clients) {
        self.timeMillis = timeMillis
        self.mutations = mutations
        self.source = source
    }
}
