/// Reads what `BinaryWriter` wrote: little-endian integers, byte strings, length-prefixed strings, records.
///
/// Its input comes off the network, so it never traps: a short or malformed input throws `BinaryReadError`, and a
/// length field is checked against the bytes actually present before anything is allocated.
public struct BinaryReader {
    private let input: ArraySlice<UInt8>
    /// Bytes consumed so far, counted from the start of the input.
    public private(set) var offset: Int = 0

    public init(_ bytes: ArraySlice<UInt8>) { input = bytes }
    public init(_ bytes: [UInt8]) { input = bytes[...] }

    /// Bytes not read yet.
    public var remaining: Int { input.count - offset }
    public var isAtEnd: Bool { remaining == 0 }

    public mutating func readU8() throws(BinaryReadError) -> UInt8 { try readInteger(UInt8.self) }
    public mutating func readU16() throws(BinaryReadError) -> UInt16 { try readInteger(UInt16.self) }
    public mutating func readU32() throws(BinaryReadError) -> UInt32 { try readInteger(UInt32.self) }
    public mutating func readU64() throws(BinaryReadError) -> UInt64 { try readInteger(UInt64.self) }
    public mutating func readI64() throws(BinaryReadError) -> Int64 { try readInteger(Int64.self) }

    /// One byte that must be 0 or 1.
    public mutating func readBool() throws(BinaryReadError) -> Bool {
        let start = offset
        switch try readU8() {
        case 0: return false
        case 1: return true
        case let other: throw .malformed(offset: start, reason: "boolean byte \(other)")
        }
    }

    /// `count` bytes, copied.
    public mutating func readBytes(count: Int) throws(BinaryReadError) -> [UInt8] {
        Array(try readSlice(count: count))
    }

    /// `count` bytes as a slice of the input, without copying.
    public mutating func readSlice(count: Int) throws(BinaryReadError) -> ArraySlice<UInt8> {
        try need(count)
        let start = input.startIndex + offset
        offset += count
        return input[start..<(start + count)]
    }

    /// Bytes written by `BinaryWriter.writeBytes32`.
    public mutating func readBytes32() throws(BinaryReadError) -> [UInt8] {
        try readBytes(count: Int(try readU32()))
    }

    /// A string written by `writeString16`.
    public mutating func readString16() throws(BinaryReadError) -> String {
        try readString(count: Int(try readU16()))
    }

    /// A string written by `writeString32`.
    public mutating func readString32() throws(BinaryReadError) -> String {
        try readString(count: Int(try readU32()))
    }

    /// 32 digest bytes.
    public mutating func readHash() throws(BinaryReadError) -> RecordHash {
        try need(RecordHash.byteCount)
        let start = offset
        let hash = input.withUnsafeBytes { RecordHash(loadingFrom: $0, at: start)! }
        offset += RecordHash.byteCount
        return hash
    }

    /// One journal record in its journal encoding. With `verify` (the default, right for anything off the
    /// network) its hash is recomputed and a mismatch throws.
    public mutating func readRecord(verify: Bool = true) throws(BinaryReadError) -> JournalRecord {
        let start = offset
        let result = input.withUnsafeBytes { raw in
            JournalRecord.decode(UnsafeRawBufferPointer(rebasing: raw[start...]), verify: verify)
        }
        switch result {
        case let .record(record, byteCount):
            offset += byteCount
            return record
        case .incomplete:
            let available = remaining
            let needed = available >= 8
                ? input.withUnsafeBytes { Int(UInt32(littleEndian: $0.loadUnaligned(fromByteOffset: start + 4, as: UInt32.self))) }
                : JournalRecord.overheadByteCount
            throw .shortInput(offset: start, needed: needed, available: available)
        case let .corrupt(reason):
            throw .malformed(offset: start, reason: "journal record: \(reason)")
        }
    }

    /// Throws unless every byte was read: a message with extra bytes was not made by our writer.
    public func expectEnd() throws(BinaryReadError) {
        guard isAtEnd else { throw .trailingBytes(offset: offset, count: remaining) }
    }

    private mutating func readString(count: Int) throws(BinaryReadError) -> String {
        let start = offset
        let slice = try readSlice(count: count)
        guard let string = String(validating: slice, as: UTF8.self) else { throw .invalidUTF8(offset: start) }
        return string
    }

    private func need(_ count: Int) throws(BinaryReadError) {
        guard count >= 0, count <= remaining else {
            throw .shortInput(offset: offset, needed: count, available: remaining)
        }
    }

    private mutating func readInteger<T: FixedWidthInteger>(_: T.Type) throws(BinaryReadError) -> T {
        let size = MemoryLayout<T>.size
        try need(size)
        let start = offset
        let value = input.withUnsafeBytes { T(littleEndian: $0.loadUnaligned(fromByteOffset: start, as: T.self)) }
        offset += size
        return value
    }
}
