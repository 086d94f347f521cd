/// A SHA-256 digest held in four words: no heap allocation, cheap to compare and to keep one per journal record.
public struct RecordHash: Hashable, Sendable, CustomStringConvertible {
    public var w0: UInt64, w1: UInt64, w2: UInt64, w3: UInt64

    public static let zero = RecordHash(w0: 0, w1: 0, w2: 0, w3: 0)

    init(w0: UInt64, w1: UInt64, w2: UInt64, w3: UInt64) {
        self.w0 = w0; self.w1 = w1; self.w2 = w2; self.w3 = w3
    }

    /// From 32 bytes; nil for any other count.
    public init?(bytes: some Collection<UInt8>) {
        guard bytes.count == 32 else { return nil }
        var words: [UInt64] = [0, 0, 0, 0]
        for (index, byte) in bytes.enumerated() {
            words[index / 8] |= UInt64(byte) << (8 * UInt64(index % 8))
        }
        self.init(w0: words[0], w1: words[1], w2: words[2], w3: words[3])
    }

    init(raw: UnsafeRawBufferPointer) {
        precondition(raw.count == 32)
        self.init(w0: raw.loadUnaligned(fromByteOffset: 0, as: UInt64.self).littleEndian,
                  w1: raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self).littleEndian,
                  w2: raw.loadUnaligned(fromByteOffset: 16, as: UInt64.self).littleEndian,
                  w3: raw.loadUnaligned(fromByteOffset: 24, as: UInt64.self).littleEndian)
    }

    public func append(to bytes: inout [UInt8]) {
        for word in [w0, w1, w2, w3] {
            withUnsafeBytes(of: word.littleEndian) { bytes.append(contentsOf: $0) }
        }
    }

    public var bytes: [UInt8] {
        var result: [UInt8] = []
        result.reserveCapacity(32)
        append(to: &result)
        return result
    }

    /// The first eight bytes in hex: enough to compare journals by eye.
    public var description: String {
        let hex = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        for byte in bytes.prefix(8) {
            out.append(hex[Int(byte >> 4)])
            out.append(hex[Int(byte & 0xF)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
