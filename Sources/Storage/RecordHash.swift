import Crypto

/// A SHA-256 digest of one journal record.
///
/// Held as four words rather than an array so that it needs no heap allocation: the file journal keeps one per
/// record in its index (a million records cost 32 MB, not a million small arrays), and comparing two hashes — the
/// replication check "do we agree at seq N?" — is four integer compares.
///
/// Word `i` holds bytes `8i ..< 8i+8` of the digest, little-endian, so `bytes` gives back the digest's bytes in order.
public struct RecordHash: Hashable, Sendable, CustomStringConvertible {
    public let word0: UInt64
    public let word1: UInt64
    public let word2: UInt64
    public let word3: UInt64

    /// The byte count of a digest.
    public static let byteCount = 32

    /// The hash "before" the first record: the first record's `prevHash`, and `hash(at: 0)`.
    public static let zero = RecordHash(word0: 0, word1: 0, word2: 0, word3: 0)

    public init(word0: UInt64, word1: UInt64, word2: UInt64, word3: UInt64) {
        self.word0 = word0
        self.word1 = word1
        self.word2 = word2
        self.word3 = word3
    }

    /// From exactly 32 bytes, in digest order; nil for any other count (so bytes off the network cannot trap).
    public init?(bytes: some Collection<UInt8>) {
        guard bytes.count == Self.byteCount else { return nil }
        let fast: RecordHash?? = bytes.withContiguousStorageIfAvailable { buffer in
            RecordHash(loadingFrom: UnsafeRawBufferPointer(buffer), at: 0)
        }
        if let fast, let hash = fast {
            self = hash
            return
        }
        var words: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        for (index, byte) in bytes.enumerated() {
            let shifted = UInt64(byte) << (8 * UInt64(index % 8))
            switch index / 8 {
            case 0: words.0 |= shifted
            case 1: words.1 |= shifted
            case 2: words.2 |= shifted
            default: words.3 |= shifted
            }
        }
        self.init(word0: words.0, word1: words.1, word2: words.2, word3: words.3)
    }

    /// Loads 32 bytes at `offset`; nil when the buffer is too short.
    init?(loadingFrom buffer: UnsafeRawBufferPointer, at offset: Int) {
        guard offset >= 0, buffer.count - offset >= Self.byteCount else { return nil }
        self.init(word0: UInt64(littleEndian: buffer.loadUnaligned(fromByteOffset: offset, as: UInt64.self)),
                  word1: UInt64(littleEndian: buffer.loadUnaligned(fromByteOffset: offset + 8, as: UInt64.self)),
                  word2: UInt64(littleEndian: buffer.loadUnaligned(fromByteOffset: offset + 16, as: UInt64.self)),
                  word3: UInt64(littleEndian: buffer.loadUnaligned(fromByteOffset: offset + 24, as: UInt64.self)))
    }

    init(_ digest: SHA256.Digest) {
        self = digest.withUnsafeBytes { RecordHash(loadingFrom: $0, at: 0)! }
    }

    /// The four words in memory order, little-endian: exactly the 32 digest bytes.
    var littleEndianWords: (UInt64, UInt64, UInt64, UInt64) {
        (word0.littleEndian, word1.littleEndian, word2.littleEndian, word3.littleEndian)
    }

    /// Appends the 32 digest bytes to `buffer`.
    public func append(to buffer: inout [UInt8]) {
        withUnsafeBytes(of: littleEndianWords) { buffer.append(contentsOf: $0) }
    }

    /// The 32 digest bytes.
    public var bytes: [UInt8] {
        var result: [UInt8] = []
        result.reserveCapacity(Self.byteCount)
        append(to: &result)
        return result
    }

    /// The first eight bytes in hex: enough to compare two journals by eye in a log line or `bankctl status`.
    public var hexPrefix: String { Self.hex(of: word0.littleEndian) }

    /// All 32 bytes in hex.
    public var hex: String {
        Self.hex(of: word0.littleEndian) + Self.hex(of: word1.littleEndian) + Self.hex(of: word2.littleEndian)
            + Self.hex(of: word3.littleEndian)
    }

    public var description: String { hexPrefix }

    private static func hex(of littleEndianWord: UInt64) -> String {
        let digits: StaticString = "0123456789abcdef"
        return withUnsafeBytes(of: littleEndianWord) { raw in
            String(unsafeUninitializedCapacity: 16) { out in
                digits.withUTF8Buffer { table in
                    for (index, byte) in raw.enumerated() {
                        out[2 * index] = table[Int(byte >> 4)]
                        out[2 * index + 1] = table[Int(byte & 0x0F)]
                    }
                }
                return 16
            }
        }
    }
}
