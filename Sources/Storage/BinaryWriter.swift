/// Appends little-endian integers, byte strings and length-prefixed strings to a byte array: the building block of
/// the journal's batch format and of other modules' binary message codecs. Pairs with `BinaryReader`.
public struct BinaryWriter: Sendable {
    /// Everything written so far.
    public var bytes: [UInt8]

    public init(reservingCapacity capacity: Int = 256) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    public mutating func write(_ value: UInt8) { bytes.append(value) }
    public mutating func write(_ value: UInt16) { writeInteger(value) }
    public mutating func write(_ value: UInt32) { writeInteger(value) }
    public mutating func write(_ value: UInt64) { writeInteger(value) }
    public mutating func write(_ value: Int64) { writeInteger(value) }
    /// One byte, 0 or 1.
    public mutating func write(_ value: Bool) { bytes.append(value ? 1 : 0) }

    /// Raw bytes, with no length: the reader must know the count (or read it from a field written before).
    public mutating func write(bytes other: some Collection<UInt8>) { bytes.append(contentsOf: other) }

    /// The 32 digest bytes.
    public mutating func write(_ hash: RecordHash) { hash.append(to: &bytes) }

    /// A journal record in its journal encoding (self-delimiting: it carries its own length).
    public mutating func write(_ record: JournalRecord) { record.encode(into: &bytes) }

    /// A string of at most 65,535 UTF-8 bytes, after its u16 byte count. A longer string is a programming error:
    /// use `writeString32` for text that may be long.
    public mutating func writeString16(_ value: String) {
        let utf8 = value.utf8
        precondition(utf8.count <= Int(UInt16.max), "string of \(utf8.count) UTF-8 bytes is too long for a u16 length")
        write(UInt16(utf8.count))
        bytes.append(contentsOf: utf8)
    }

    /// A string after its u32 byte count.
    public mutating func writeString32(_ value: String) {
        let utf8 = value.utf8
        precondition(utf8.count <= Int(UInt32.max), "string too long for a u32 length")
        write(UInt32(utf8.count))
        bytes.append(contentsOf: utf8)
    }

    /// Raw bytes after their u32 count.
    public mutating func writeBytes32(_ other: some Collection<UInt8>) {
        precondition(other.count <= Int(UInt32.max), "byte string too long for a u32 length")
        write(UInt32(other.count))
        bytes.append(contentsOf: other)
    }

    private mutating func writeInteger<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }
}
