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
    /// The key of the client that asked for it (its request id's scope): journaled, for audit.
    public var clientKey: ClientKey? {
        get { requestID.scope }
        set { requestID = requestID.scoped(to: newValue) }
    }
    /// - Parameter clientKey: nil keeps `requestID`'s scope.
    public init(requestID: RequestID, operation: Operation, clientKey: ClientKey? = nil) {
        self.requestID = clientKey.map { requestID.scoped(to: $0) } ?? requestID
        self.operation = operation
    }
}

/// A client's 32-byte public key (a CURVE key), as four words so it needs no allocation; word 0 holds bytes 0–7,
/// most significant first.
public struct ClientKey: Hashable, Sendable, CustomStringConvertible {
    public var words: (UInt64, UInt64, UInt64, UInt64)
    public init(words: (UInt64, UInt64, UInt64, UInt64)) { self.words = words }
    public static let byteCount = 32

    /// nil unless exactly 32 bytes.
    public init?(bytes: some Collection<UInt8>) {
        guard bytes.count == Self.byteCount else { return nil }
        var words: [UInt64] = [0, 0, 0, 0]
        for (index, byte) in bytes.enumerated() { words[index / 8] = words[index / 8] << 8 | UInt64(byte) }
        self.words = (words[0], words[1], words[2], words[3])
    }

    public var bytes: [UInt8] {
        [words.0, words.1, words.2, words.3].flatMap { word in (0..<8).reversed().map { UInt8(truncatingIfNeeded: word >> ($0 * 8)) } }
    }

    /// The key in ZeroMQ's Z85 text (40 characters), as key files and logs show it.
    public var z85: String { Z85Text.encode(bytes) }

    /// nil unless `text` is a 40-character Z85 key.
    public init?(z85 text: String) {
        guard let bytes = Z85Text.decode(text) else { return nil }
        self.init(bytes: bytes)
    }

    public var description: String { z85 }

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

    /// The same request with every request id in `key`'s scope: the client's, as its connection proved it.
    public func scoped(to key: ClientKey?) -> LedgerRequest {
        guard let key else { return self }
        switch self {
        case var .mutation(mutation):
            mutation.clientKey = key
            return .mutation(mutation)
        case .query:
            return self
        case let .batch(items, atomic):
            return .batch(items.map { item in
                guard case var .mutation(mutation) = item else { return item }
                mutation.clientKey = key
                return .mutation(mutation)
            }, atomic: atomic)
        }
    }
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

/// ZeroMQ's Z85 text (RFC 32) for keys: four bytes to five characters. Written here so that the ledger's replies
/// show keys as their owners' key files do, without the core depending on libzmq.
enum Z85Text {
    static let alphabet = Array("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#".utf8)
    static let values: [Int8] = {
        var table = [Int8](repeating: -1, count: 256)
        for (index, character) in alphabet.enumerated() { table[Int(character)] = Int8(index) }
        return table
    }()

    static func encode(_ bytes: [UInt8]) -> String {
        precondition(bytes.count % 4 == 0, "Z85 encodes whole groups of four bytes")
        var text: [UInt8] = []
        text.reserveCapacity(bytes.count / 4 * 5)
        for group in stride(from: 0, to: bytes.count, by: 4) {
            var value = bytes[group..<group + 4].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
            var five = [UInt8](repeating: 0, count: 5)
            for index in (0..<5).reversed() {
                five[index] = alphabet[Int(value % 85)]
                value /= 85
            }
            text.append(contentsOf: five)
        }
        return String(decoding: text, as: UTF8.self)
    }

    static func decode(_ text: String) -> [UInt8]? {
        let characters = Array(text.utf8)
        guard characters.count == 40 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(32)
        for group in stride(from: 0, to: 40, by: 5) {
            var value: UInt64 = 0
            for character in characters[group..<group + 5] {
                let digit = values[Int(character)]
                guard digit >= 0 else { return nil }
                value = value * 85 + UInt64(digit)
            }
            guard value <= UInt64(UInt32.max) else { return nil }
            for shift in [24, 16, 8, 0] { bytes.append(UInt8(truncatingIfNeeded: value >> UInt64(shift))) }
        }
        return bytes
    }
}
