/// The journal payload: a compact, deterministic, versioned binary form of an `Entry`.
///
/// ```
/// entry    = version:u8 (= 3) | source:u8 | timeMillis:i64 | count:u32 | mutation*count
/// mutation = requestID:str | clientKey | tag:u8 | fields
/// clientKey = 0 (none) | 1 key | 2 (the previous mutation's key, which is not none)
/// source   = 1 clients | 2 stand-in advice (reserved: decoded, never written or applied by this version)
/// key      = 32 bytes (a client's CURVE public key)
/// str      = length:u16 | UTF-8 bytes        integers little-endian, amounts i64
/// optional = flag:u8 (0 absent, 1 present) | value
/// ```
///
/// Versions 1 (no source, no client keys: `entry = 1 | timeMillis | count | (requestID | tag | fields)*`) and 2
/// (`clientKey:optional key`, the key written in full for every mutation) are still read, so journals written before
/// the bumps replay; only version 3 is written. Why 3: a batch is one entry whose mutations all come from one client,
/// and version 2 wrote its 32-byte key once per mutation — in `make bench-history` (batches of 1000) that made the
/// journal 1.8 times as large as without keys; version 3 writes it once per run of equal keys.
///
/// | tag | operation    | fields                                           |
/// |-----|--------------|--------------------------------------------------|
/// | 1   | openAccount  | account:str currency:str overdraftLimit:i64      |
/// | 2   | deposit      | account:str amount:i64                           |
/// | 3   | withdraw     | account:str amount:i64                           |
/// | 4   | transfer     | from:str to:str amount:i64 reference:optional str |
/// | 5   | hold         | account:str amount:i64 holdID:str                |
/// | 6   | capture      | holdID:str amount:optional i64                   |
/// | 7   | release      | holdID:str                                       |
/// | 8   | freeze       | account:str                                      |
/// | 9   | unfreeze     | account:str                                      |
///
/// The encoding is canonical: one entry has exactly one encoding, and decoding accepts only canonical bytes (flags
/// are 0 or 1, a key equal to the previous mutation's is written as 2, nothing trails), so
/// `encoded(decoded(bytes)) == bytes` for every accepted input of the current version. Decoding re-checks every
/// value through the same validation the protocol layer uses (ids through their failable initialisers, amounts and
/// overdraft limits against `Money`) and throws on anything short, long or malformed: a journal record is untrusted
/// bytes until proven otherwise, and must never trap the process.
///
/// It is on the hot path (every leader write, every follower append, every replay), so encoding computes the exact
/// size and writes once into an uninitialised array, and decoding reads straight from contiguous memory.
public struct EntryDecodingError: Error, Hashable, Sendable, CustomStringConvertible {
    public let reason: String
    public init(reason: String) { self.reason = reason }
    public var description: String { "undecodable journal entry: \(reason)" }
}

extension Entry {
    static let formatVersion: UInt8 = 3
    static let firstReadableFormatVersion: UInt8 = 1

    enum Tag: UInt8 {
        case openAccount = 1, deposit, withdraw, transfer, hold, capture, release, freeze, unfreeze
    }

    /// The client key marker meaning "the previous mutation's key" (version 3).
    static let repeatedKey: UInt8 = 2

    /// The smallest encoded mutation of version 1 (request id of one byte, release/freeze/unfreeze of a one-byte id);
    /// versions 2 and 3 add the client key's flag (marker).
    static let minimumMutationSize = 2 + 1 + 1 + 2 + 1

    /// The journal payload for this entry. Strings must fit a 16-bit length, which the ledger guarantees for the
    /// entries it produces (ids are short by type; request ids and references are checked).
    public func encoded() -> [UInt8] {
        let size = encodedSize
        return [UInt8](unsafeUninitializedCapacity: size) { buffer, initializedCount in
            var out = EntryWriter(buffer: buffer)
            out.put(Self.formatVersion)
            out.put(source.rawValue)
            out.put(UInt64(bitPattern: timeMillis))
            out.put(UInt32(mutations.count))
            var previousKey: ClientKey?
            for mutation in mutations {
                out.put(mutation.requestID.rawValue)
                let key = mutation.clientKey
                if let key, key == previousKey {
                    out.put(Self.repeatedKey)
                } else {
                    out.put(optional: key)
                }
                previousKey = key
                out.put(mutation.operation)
            }
            invariant(out.offset == size, "entry encoded to \(out.offset) bytes, \(size) expected")
            initializedCount = size
        }
    }

    /// The exact number of bytes `encoded()` writes.
    var encodedSize: Int {
        func string(_ s: String) -> Int {
            let count = s.utf8.count
            invariant(count <= Int(UInt16.max), "journal strings are at most 65535 bytes, got \(count)")
            return 2 + count
        }
        var size = 1 + 1 + 8 + 4
        var previousKey: ClientKey?
        for mutation in mutations {
            let key = mutation.clientKey
            let keyBytes = key == nil || key == previousKey ? 0 : ClientKey.byteCount
            previousKey = key
            size += string(mutation.requestID.rawValue) + 1 + 1 + keyBytes
            switch mutation.operation {
            case let .openAccount(id, currency, _): size += string(id.rawValue) + string(currency.rawValue) + 8
            case let .deposit(id, _), let .withdraw(id, _): size += string(id.rawValue) + 8
            case let .transfer(from, to, _, reference):
                size += string(from.rawValue) + string(to.rawValue) + 8 + 1 + (reference.map(string) ?? 0)
            case let .hold(id, _, holdID): size += string(id.rawValue) + 8 + string(holdID.rawValue)
            case let .capture(holdID, amount): size += string(holdID.rawValue) + 1 + (amount == nil ? 0 : 8)
            case let .release(holdID): size += string(holdID.rawValue)
            case let .freeze(id), let .unfreeze(id): size += string(id.rawValue)
            }
        }
        return size
    }

    /// Decodes a journal payload, validating everything; throws on any malformed input.
    public init(decoding bytes: some Collection<UInt8>) throws(EntryDecodingError) {
        let result = bytes.withContiguousStorageIfAvailable(Self.decode)
            ?? Array(bytes).withUnsafeBufferPointer(Self.decode)
        switch result {
        case let .success(entry): self = entry
        case let .failure(error): throw error
        }
    }

    private static func decode(_ bytes: UnsafeBufferPointer<UInt8>) -> Result<Entry, EntryDecodingError> {
        do throws(EntryDecodingError) {
            var reader = EntryReader(bytes: bytes)
            let version = try reader.byte()
            guard (firstReadableFormatVersion...formatVersion).contains(version) else {
                throw EntryDecodingError(reason: "unknown format version \(version)")
            }
            var source = Source.clients
            if version >= 2 {
                guard let decoded = Source(rawValue: try reader.byte()) else {
                    throw EntryDecodingError(reason: "unknown entry source")
                }
                source = decoded
            }
            let time = Int64(bitPattern: try reader.u64())
            let count = Int(try reader.u32())
            guard count <= reader.remaining / minimumMutationSize else {
                throw EntryDecodingError(reason: "\(count) mutations cannot fit in \(reader.remaining) bytes")
            }
            var mutations: [Mutation] = []
            mutations.reserveCapacity(count)
            var previousKey: ClientKey?
            for _ in 0..<count {
                guard let requestID = RequestID(try reader.string()) else {
                    throw EntryDecodingError(reason: "bad request id")
                }
                var clientKey: ClientKey?
                if version >= 3 {
                    switch try reader.byte() {
                    case 0: break
                    case 1:
                        clientKey = try reader.clientKey()
                        guard clientKey != previousKey else {
                            throw EntryDecodingError(reason: "the previous mutation's client key written again")
                        }
                    case repeatedKey:
                        guard let previousKey else {
                            throw EntryDecodingError(reason: "a repeated client key with none before it")
                        }
                        clientKey = previousKey
                    default: throw EntryDecodingError(reason: "bad client key marker")
                    }
                    previousKey = clientKey
                } else if version == 2, try reader.flag() {
                    clientKey = try reader.clientKey()
                }
                mutations.append(Mutation(requestID: requestID, operation: try reader.operation(), clientKey: clientKey))
            }
            guard reader.remaining == 0 else { throw EntryDecodingError(reason: "trailing bytes") }
            return .success(Entry(timeMillis: time, mutations: mutations, source: source))
        } catch {
            return .failure(error)
        }
    }
}

/// Where the binary codecs of this module write: the exactly-sized buffer of `Entry.encoded()`, or a growing buffer
/// (checkpoints). The encoding of an operation is written once, here, for both.
protocol ByteSink {
    mutating func put(_ value: UInt8)
    mutating func put(_ value: UInt16)
    mutating func put(_ value: UInt32)
    mutating func put(_ value: UInt64)
    mutating func put(_ string: String)
}

extension ByteSink {
    mutating func put(_ value: Int64) { put(UInt64(bitPattern: value)) }

    mutating func put(optional key: ClientKey?) {
        if let key {
            put(UInt8(1))
            put(key.words.0)
            put(key.words.1)
            put(key.words.2)
            put(key.words.3)
        } else {
            put(UInt8(0))
        }
    }

    mutating func put(optional string: String?) {
        if let string {
            put(UInt8(1))
            put(string)
        } else {
            put(UInt8(0))
        }
    }

    /// An operation: its tag, then its fields (see the table at the top of this file).
    mutating func put(_ operation: Operation) {
        switch operation {
        case let .openAccount(id, currency, overdraft):
            put(Entry.Tag.openAccount.rawValue)
            put(id.rawValue)
            put(currency.rawValue)
            put(overdraft)
        case let .deposit(id, amount):
            put(Entry.Tag.deposit.rawValue)
            put(id.rawValue)
            put(amount)
        case let .withdraw(id, amount):
            put(Entry.Tag.withdraw.rawValue)
            put(id.rawValue)
            put(amount)
        case let .transfer(from, to, amount, reference):
            put(Entry.Tag.transfer.rawValue)
            put(from.rawValue)
            put(to.rawValue)
            put(amount)
            put(optional: reference)
        case let .hold(id, amount, holdID):
            put(Entry.Tag.hold.rawValue)
            put(id.rawValue)
            put(amount)
            put(holdID.rawValue)
        case let .capture(holdID, amount):
            put(Entry.Tag.capture.rawValue)
            put(holdID.rawValue)
            if let amount {
                put(UInt8(1))
                put(amount)
            } else {
                put(UInt8(0))
            }
        case let .release(holdID):
            put(Entry.Tag.release.rawValue)
            put(holdID.rawValue)
        case let .freeze(id):
            put(Entry.Tag.freeze.rawValue)
            put(id.rawValue)
        case let .unfreeze(id):
            put(Entry.Tag.unfreeze.rawValue)
            put(id.rawValue)
        }
    }
}

/// Writes into the exactly-sized buffer of `Entry.encoded()`. Every write is bounds-checked: a size mismatch is a
/// crash, never a write past the end.
private struct EntryWriter: ByteSink {
    let buffer: UnsafeMutableBufferPointer<UInt8>
    var offset = 0

    init(buffer: UnsafeMutableBufferPointer<UInt8>) { self.buffer = buffer }

    private mutating func reserve(_ count: Int) -> Int {
        invariant(buffer.count - offset >= count, "entry encoding overran its computed size")
        defer { offset += count }
        return offset
    }

    mutating func put(_ value: UInt8) {
        buffer[reserve(1)] = value
    }

    mutating func put(_ value: UInt16) {
        UnsafeMutableRawBufferPointer(buffer).storeBytes(of: value.littleEndian, toByteOffset: reserve(2), as: UInt16.self)
    }

    mutating func put(_ value: UInt32) {
        UnsafeMutableRawBufferPointer(buffer).storeBytes(of: value.littleEndian, toByteOffset: reserve(4), as: UInt32.self)
    }

    mutating func put(_ value: UInt64) {
        UnsafeMutableRawBufferPointer(buffer).storeBytes(of: value.littleEndian, toByteOffset: reserve(8), as: UInt64.self)
    }

    mutating func put(_ string: String) {
        let utf8 = string.utf8
        let count = utf8.count
        put(UInt16(count)) // encodedSize checked count <= UInt16.max.
        let start = reserve(count)
        let copied: Void? = utf8.withContiguousStorageIfAvailable { source in
            _ = UnsafeMutableBufferPointer(rebasing: buffer[start..<start + count]).initialize(from: source)
        }
        if copied == nil {
            for (index, byte) in utf8.enumerated() { buffer[start + index] = byte }
        }
    }
}

/// Reads an entry's bytes (and a checkpoint's), throwing on anything short or malformed.
struct EntryReader {
    let bytes: UnsafeBufferPointer<UInt8>
    var offset = 0

    init(bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

    var remaining: Int { bytes.count - offset }

    /// Claims the next `count` bytes and returns where they start.
    private mutating func take(_ count: Int) throws(EntryDecodingError) -> Int {
        guard remaining >= count else { throw EntryDecodingError(reason: "truncated") }
        defer { offset += count }
        return offset
    }

    mutating func byte() throws(EntryDecodingError) -> UInt8 { bytes[try take(1)] }

    mutating func u16() throws(EntryDecodingError) -> UInt16 {
        UInt16(littleEndian: UnsafeRawBufferPointer(bytes).loadUnaligned(fromByteOffset: try take(2), as: UInt16.self))
    }

    mutating func u32() throws(EntryDecodingError) -> UInt32 {
        UInt32(littleEndian: UnsafeRawBufferPointer(bytes).loadUnaligned(fromByteOffset: try take(4), as: UInt32.self))
    }

    mutating func u64() throws(EntryDecodingError) -> UInt64 {
        UInt64(littleEndian: UnsafeRawBufferPointer(bytes).loadUnaligned(fromByteOffset: try take(8), as: UInt64.self))
    }

    /// An optional's presence flag: exactly 0 or 1 (anything else would make the encoding non-canonical).
    mutating func flag() throws(EntryDecodingError) -> Bool {
        switch try byte() {
        case 0: return false
        case 1: return true
        default: throw EntryDecodingError(reason: "bad optional flag")
        }
    }

    mutating func amount() throws(EntryDecodingError) -> Int64 {
        let value = Int64(bitPattern: try u64())
        guard Money.isValidAmount(value) else { throw EntryDecodingError(reason: "amount out of range") }
        return value
    }

    /// Strictly valid UTF-8. ASCII (every id) takes a fast path; otherwise the decoded string must reproduce the
    /// bytes exactly, since decoding replaces invalid sequences with U+FFFD.
    mutating func string() throws(EntryDecodingError) -> String {
        let count = Int(try u16())
        let start = try take(count)
        let utf8 = UnsafeBufferPointer(rebasing: bytes[start..<start + count])
        let string = String(decoding: utf8, as: UTF8.self)
        guard utf8.allSatisfy({ $0 < 0x80 }) || string.utf8.elementsEqual(utf8) else {
            throw EntryDecodingError(reason: "invalid UTF-8")
        }
        return string
    }

    mutating func clientKey() throws(EntryDecodingError) -> ClientKey {
        ClientKey(words: (try u64(), try u64(), try u64(), try u64()))
    }

    mutating func account() throws(EntryDecodingError) -> AccountID {
        guard let id = AccountID(try string()) else { throw EntryDecodingError(reason: "bad account id") }
        return id
    }

    mutating func holdID() throws(EntryDecodingError) -> HoldID {
        guard let id = HoldID(try string()) else { throw EntryDecodingError(reason: "bad hold id") }
        return id
    }

    mutating func operation() throws(EntryDecodingError) -> Operation {
        guard let tag = Entry.Tag(rawValue: try byte()) else { throw EntryDecodingError(reason: "unknown operation") }
        switch tag {
        case .openAccount:
            let id = try account()
            guard let currency = CurrencyCode(try string()) else { throw EntryDecodingError(reason: "bad currency") }
            let overdraft = Int64(bitPattern: try u64())
            guard (0...Money.maximumOverdraftMinor).contains(overdraft) else {
                throw EntryDecodingError(reason: "overdraft limit out of range")
            }
            return .openAccount(id, currency: currency, overdraftLimitMinor: overdraft)
        case .deposit:
            let id = try account()
            return .deposit(id, amountMinor: try amount())
        case .withdraw:
            let id = try account()
            return .withdraw(id, amountMinor: try amount())
        case .transfer:
            let from = try account()
            let to = try account()
            let amount = try amount()
            let reference = try flag() ? try string() : nil
            return .transfer(from: from, to: to, amountMinor: amount, reference: reference)
        case .hold:
            let id = try account()
            let amount = try amount()
            return .hold(id, amountMinor: amount, holdID: try holdID())
        case .capture:
            let holdID = try holdID()
            return .capture(holdID, amountMinor: try flag() ? try amount() : nil)
        case .release:
            return .release(try holdID())
        case .freeze:
            return .freeze(try account())
        case .unfreeze:
            return .unfreeze(try account())
        }
    }
}
