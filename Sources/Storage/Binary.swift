/// Little-endian encoding helpers for the journal and the peer protocol. Reading never traps on bad input: a short
/// or malformed buffer throws.
public struct BinaryWriter: Sendable {
    public var bytes: [UInt8]

    public init(reservingCapacity capacity: Int = 256) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    public mutating func write(_ value: UInt8) { bytes.append(value) }
    public mutating func write(_ value: UInt16) { withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) } }
    public mutating func write(_ value: UInt32) { withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) } }
    public mutating func write(_ value: UInt64) { withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) } }
    public mutating func write(_ value: Int64) { write(UInt64(bitPattern: value)) }
    public mutating func write(bytes other: some Collection<UInt8>) { bytes.append(contentsOf: other) }
    /// A string of at most 65,535 UTF-8 bytes, prefixed by its length.
    public mutating func writeString16(_ value: String) {
        let utf8 = value.utf8
        precondition(utf8.count <= Int(UInt16.max), "string too long for a 16-bit length")
        write(UInt16(utf8.count))
        bytes.append(contentsOf: utf8)
    }
}

public struct BinaryReadError: Error, Hashable, Sendable, CustomStringConvertible {
    public let reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { reason }
}

public struct BinaryReader {
    public let bytes: [UInt8]
    public private(set) var offset: Int

    public init(_ bytes: [UInt8], offset: Int = 0) {
        self.bytes = bytes
        self.offset = offset
    }

    public var isAtEnd: Bool { offset == bytes.count }
    public var remaining: Int { bytes.count - offset }

    private mutating func fixedWidth<T: FixedWidthInteger>(_: T.Type) throws(BinaryReadError) -> T {
        let size = MemoryLayout<T>.size
        guard remaining >= size else { throw BinaryReadError("need \(size) bytes at offset \(offset), have \(remaining)") }
        var value: T = 0
        for index in 0..<size { value |= T(bytes[offset + index]) << (8 * index) }
        offset += size
        return value
    }

    public mutating func readU8() throws(BinaryReadError) -> UInt8 { try fixedWidth(UInt8.self) }
    public mutating func readU16() throws(BinaryReadError) -> UInt16 { try fixedWidth(UInt16.self) }
    public mutating func readU32() throws(BinaryReadError) -> UInt32 { try fixedWidth(UInt32.self) }
    public mutating func readU64() throws(BinaryReadError) -> UInt64 { try fixedWidth(UInt64.self) }
    public mutating func readI64() throws(BinaryReadError) -> Int64 { Int64(bitPattern: try fixedWidth(UInt64.self)) }

    public mutating func readBytes(count: Int) throws(BinaryReadError) -> [UInt8] {
        guard count >= 0, remaining >= count else { throw BinaryReadError("need \(count) bytes at offset \(offset)") }
        defer { offset += count }
        return Array(bytes[offset..<offset + count])
    }

    public mutating func readString16() throws(BinaryReadError) -> String {
        let count = Int(try readU16())
        let raw = try readBytes(count: count)
        guard let string = String(validating: raw, as: UTF8.self) else { throw BinaryReadError("invalid UTF-8") }
        return string
    }

    /// Reads one journal record in its on-disk encoding, verifying its hash.
    public mutating func readRecord() throws(BinaryReadError) -> JournalRecord {
        let result = bytes.withUnsafeBytes { buffer in
            JournalRecord.decode(UnsafeRawBufferPointer(rebasing: buffer[offset...]), verify: true)
        }
        switch result {
        case let .record(record, byteCount):
            offset += byteCount
            return record
        case .incomplete:
            throw BinaryReadError("truncated journal record")
        case let .corrupt(reason):
            throw BinaryReadError("corrupt journal record: \(reason)")
        }
    }
}
