/// Identifiers and money limits shared by every layer. Each type validates on construction, so a value
/// that exists is valid: the ledger never has to re-check an id it was handed.

/// Characters allowed in account and hold ids: `[A-Za-z0-9_.-]`.
@inline(__always)
func isIdentifierByte(_ byte: UInt8) -> Bool {
    switch byte {
    case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
         UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "-"):
        return true
    default:
        return false
    }
}

func isValidIdentifier(_ raw: String) -> Bool {
    let utf8 = raw.utf8
    return (1...64).contains(utf8.count) && utf8.allSatisfy(isIdentifierByte)
}

/// A customer account id: 1–64 characters of `[A-Za-z0-9_.-]`.
public struct AccountID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let rawValue: String
    public init?(_ raw: String) {
        guard isValidIdentifier(raw) else { return nil }
        rawValue = raw
    }
    /// The bank's own settlement account for a currency: the other side of every deposit, withdrawal and capture,
    /// so that the books always balance. Its name holds a `:`, which customer ids cannot, so it never collides.
    public static func settlement(_ currency: CurrencyCode) -> AccountID {
        AccountID(unchecked: "settlement:" + currency.rawValue)
    }
    init(unchecked raw: String) { rawValue = raw }
    public var isSettlement: Bool { rawValue.hasPrefix("settlement:") }
    public var description: String { rawValue }
    public static func < (lhs: AccountID, rhs: AccountID) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// A card-authorisation hold id chosen by the client: 1–64 characters of `[A-Za-z0-9_.-]`.
public struct HoldID: Hashable, Sendable, CustomStringConvertible {
    public let rawValue: String
    public init?(_ raw: String) {
        guard isValidIdentifier(raw) else { return nil }
        rawValue = raw
    }
    public var description: String { rawValue }
}

/// The client's idempotency key: any string of 1–128 characters, scoped to the key of the client that sent it.
///
/// Two clients' equal ids are two requests: a client can never replay another's id to read its reply, nor be
/// refused because another used it. `scope` is nil for a client on a connection without keys (an insecure
/// cluster), and in what was journaled before clients had keys.
public struct RequestID: Hashable, Sendable, CustomStringConvertible {
    public let rawValue: String
    public private(set) var scope: ClientKey?
    public init?(_ raw: String, scope: ClientKey? = nil) {
        guard (1...128).contains(raw.count) else { return nil }
        rawValue = raw
        self.scope = scope
    }
    /// The same id in `key`'s scope.
    public func scoped(to key: ClientKey?) -> RequestID {
        var copy = self
        copy.scope = key
        return copy
    }
    public var description: String { rawValue }
}

/// An ISO-4217-style currency code: exactly three upper-case ASCII letters.
public struct CurrencyCode: Hashable, Sendable, CustomStringConvertible {
    public let rawValue: String
    public init?(_ raw: String) {
        let utf8 = raw.utf8
        guard utf8.count == 3, utf8.allSatisfy({ (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains($0) }) else {
            return nil
        }
        rawValue = raw
    }
    public static let gbp = CurrencyCode("GBP")!
    public var description: String { rawValue }
}

/// Money limits. Amounts are integers in minor units (pence for GBP).
public enum Money {
    /// The largest amount a single request may move: 10^15 minor units.
    public static let maximumAmountMinor: Int64 = 1_000_000_000_000_000
    /// The largest overdraft limit an account may be opened with.
    public static let maximumOverdraftMinor: Int64 = 1_000_000_000_000_000
    public static func isValidAmount(_ amountMinor: Int64) -> Bool {
        amountMinor >= 1 && amountMinor <= maximumAmountMinor
    }
}

/// A position in the journal. Seq 0 means "before the first record".
public typealias Seq = UInt64
