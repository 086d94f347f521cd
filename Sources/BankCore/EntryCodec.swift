/// The journal payload: a compact, deterministic, versioned binary form of an `Entry`.
///
/// `version u8 | timeMillis i64 | count u32 | mutation*`, each mutation `requestID str | tag u8 | fields`, strings as
/// `u16 length | UTF-8`, integers little-endian. Decoding re-validates every id and never traps on bad bytes.
public struct EntryDecodingError: Error, Hashable, Sendable, CustomStringConvertible {
    public let reason: String
    public var description: String { "undecodable journal entry: \(reason)" }
}

extension Entry {
    static let formatVersion: UInt8 = 1

    private enum Tag: UInt8 {
        case openAccount = 1, deposit, withdraw, transfer, hold, capture, release, freeze, unfreeze
    }

    public func encoded() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(16 + mutations.count * 64)
        out.append(Self.formatVersion)
        Self.put(UInt64(bitPattern: timeMillis), &out)
        Self.put(UInt32(mutations.count), &out)
        for mutation in mutations {
            Self.put(mutation.requestID.rawValue, &out)
            switch mutation.operation {
            case let .openAccount(id, currency, overdraft):
                out.append(Tag.openAccount.rawValue)
                Self.put(id.rawValue, &out); Self.put(currency.rawValue, &out); Self.put(overdraft, &out)
            case let .deposit(id, amount):
                out.append(Tag.deposit.rawValue); Self.put(id.rawValue, &out); Self.put(amount, &out)
            case let .withdraw(id, amount):
                out.append(Tag.withdraw.rawValue); Self.put(id.rawValue, &out); Self.put(amount, &out)
            case let .transfer(from, to, amount, reference):
                out.append(Tag.transfer.rawValue)
                Self.put(from.rawValue, &out); Self.put(to.rawValue, &out); Self.put(amount, &out)
                out.append(reference == nil ? 0 : 1)
                if let reference { Self.put(reference, &out) }
            case let .hold(id, amount, holdID):
                out.append(Tag.hold.rawValue)
                Self.put(id.rawValue, &out); Self.put(amount, &out); Self.put(holdID.rawValue, &out)
            case let .capture(holdID, amount):
                out.append(Tag.capture.rawValue)
                Self.put(holdID.rawValue, &out)
                out.append(amount == nil ? 0 : 1)
                if let amount { Self.put(amount, &out) }
            case let .release(holdID):
                out.append(Tag.release.rawValue); Self.put(holdID.rawValue, &out)
            case let .freeze(id):
                out.append(Tag.freeze.rawValue); Self.put(id.rawValue, &out)
            case let .unfreeze(id):
                out.append(Tag.unfreeze.rawValue); Self.put(id.rawValue, &out)
            }
        }
        return out
    }

    public init(decoding bytes: ArraySlice<UInt8>) throws(EntryDecodingError) {
        var reader = EntryReader(bytes: bytes)
        guard try reader.byte() == Self.formatVersion else { throw EntryDecodingError(reason: "unknown format version") }
        let time = Int64(bitPattern: try reader.u64())
        let count = try reader.u32()
        guard count <= 1_000_000 else { throw EntryDecodingError(reason: "too many mutations") }
        var mutations: [Mutation] = []
        mutations.reserveCapacity(Int(count))
        for _ in 0..<count {
            guard let requestID = RequestID(try reader.string()) else { throw EntryDecodingError(reason: "bad request id") }
            guard let tag = Tag(rawValue: try reader.byte()) else { throw EntryDecodingError(reason: "unknown operation") }
            let operation: Operation
            switch tag {
            case .openAccount:
                let id = try reader.account()
                guard let currency = CurrencyCode(try reader.string()) else {
                    throw EntryDecodingError(reason: "bad currency")
                }
                operation = .openAccount(id, currency: currency, overdraftLimitMinor: try reader.i64())
            case .deposit: operation = .deposit(try reader.account(), amountMinor: try reader.amount())
            case .withdraw: operation = .withdraw(try reader.account(), amountMinor: try reader.amount())
            case .transfer:
                let from = try reader.account()
                let to = try reader.account()
                let amount = try reader.amount()
                let reference = try reader.byte() == 0 ? nil : try reader.string()
                operation = .transfer(from: from, to: to, amountMinor: amount, reference: reference)
            case .hold:
                let id = try reader.account()
                let amount = try reader.amount()
                operation = .hold(id, amountMinor: amount, holdID: try reader.holdID())
            case .capture:
                let holdID = try reader.holdID()
                operation = .capture(holdID, amountMinor: try reader.byte() == 0 ? nil : try reader.amount())
            case .release: operation = .release(try reader.holdID())
            case .freeze: operation = .freeze(try reader.account())
            case .unfreeze: operation = .unfreeze(try reader.account())
            }
            mutations.append(Mutation(requestID: requestID, operation: operation))
        }
        guard reader.isAtEnd else { throw EntryDecodingError(reason: "trailing bytes") }
        self.init(timeMillis: time, mutations: mutations)
    }

    private static func put(_ value: UInt64, _ out: inout [UInt8]) {
        withUnsafeBytes(of: value.littleEndian) { out.append(contentsOf: $0) }
    }
    private static func put(_ value: UInt32, _ out: inout [UInt8]) {
        withUnsafeBytes(of: value.littleEndian) { out.append(contentsOf: $0) }
    }
    private static func put(_ value: Int64, _ out: inout [UInt8]) { put(UInt64(bitPattern: value), &out) }
    private static func put(_ value: String, _ out: inout [UInt8]) {
        let utf8 = value.utf8
        invariant(utf8.count <= Int(UInt16.max), "journal strings are at most 65535 bytes")
        withUnsafeBytes(of: UInt16(utf8.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(contentsOf: utf8)
    }
}

/// Reads an entry's bytes, throwing on anything short or malformed.
private struct EntryReader {
    let bytes: ArraySlice<UInt8>
    var index: ArraySlice<UInt8>.Index

    init(bytes: ArraySlice<UInt8>) {
        self.bytes = bytes
        index = bytes.startIndex
    }

    var isAtEnd: Bool { index == bytes.endIndex }

    mutating func byte() throws(EntryDecodingError) -> UInt8 {
        guard index < bytes.endIndex else { throw EntryDecodingError(reason: "truncated") }
        defer { index += 1 }
        return bytes[index]
    }

    mutating func little(_ count: Int) throws(EntryDecodingError) -> UInt64 {
        guard bytes.endIndex - index >= count else { throw EntryDecodingError(reason: "truncated") }
        var value: UInt64 = 0
        for offset in 0..<count { value |= UInt64(bytes[index + offset]) << (8 * UInt64(offset)) }
        index += count
        return value
    }

    mutating func u64() throws(EntryDecodingError) -> UInt64 { try little(8) }
    mutating func u32() throws(EntryDecodingError) -> UInt32 { UInt32(try little(4)) }
    mutating func i64() throws(EntryDecodingError) -> Int64 { Int64(bitPattern: try little(8)) }

    mutating func amount() throws(EntryDecodingError) -> Int64 {
        let value = try i64()
        guard Money.isValidAmount(value) else { throw EntryDecodingError(reason: "amount out of range") }
        return value
    }

    mutating func string() throws(EntryDecodingError) -> String {
        let count = Int(try little(2))
        guard bytes.endIndex - index >= count else { throw EntryDecodingError(reason: "truncated string") }
        guard let string = String(validating: bytes[index..<index + count], as: UTF8.self) else {
            throw EntryDecodingError(reason: "invalid UTF-8")
        }
        index += count
        return string
    }

    mutating func account() throws(EntryDecodingError) -> AccountID {
        guard let id = AccountID(try string()) else { throw EntryDecodingError(reason: "bad account id") }
        return id
    }

    mutating func holdID() throws(EntryDecodingError) -> HoldID {
        guard let id = HoldID(try string()) else { throw EntryDecodingError(reason: "bad hold id") }
        return id
    }
}
