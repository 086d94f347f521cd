import Crypto

/// One journal record: a state change (`payload`) stamped with the leader's `epoch`, its position `seq`, and the hash
/// of the record before it.
///
/// Encoding, little-endian, the same on disk and on the wire (replication ships records byte for byte):
///
///     magic u32 | totalLength u32 | epoch u64 | seq u64 | prevHash 32 | payload | hash 32
///
/// where `totalLength` counts the whole record including the trailing hash, and
/// `hash = SHA-256(magic … payload)`. A record verifies itself (recompute the hash and compare), so a torn or
/// bit-rotted record is detected without any other context. `prevHash` chains it to the record before, so two
/// journals that hold the same hash at some seq hold the same records up to it — the property replication relies on
/// to find where a rejoining follower diverged.
///
/// The fields are `let`: the hash is computed once from the others and must never go stale.
public struct JournalRecord: Hashable, Sendable {
    public let epoch: UInt64
    public let seq: UInt64
    public let prevHash: RecordHash
    public let payload: [UInt8]
    public let hash: RecordHash

    /// "BKJ1" in the file, so a hex dump shows where records start.
    public static let magic: UInt32 = 0x314A_4B42
    /// magic, totalLength, epoch, seq, prevHash.
    public static let headerByteCount = 4 + 4 + 8 + 8 + RecordHash.byteCount
    /// Header plus trailing hash: the size of a record with an empty payload.
    public static let overheadByteCount = headerByteCount + RecordHash.byteCount
    /// A payload larger than this is refused: a length field beyond it is read as corruption, so a flipped bit in a
    /// length cannot make recovery swallow gigabytes as one "record".
    public static let maxPayloadByteCount = 16 << 20

    /// Makes a record and computes its hash. A payload over `maxPayloadByteCount` is a programming error.
    public init(epoch: UInt64, seq: UInt64, prevHash: RecordHash, payload: [UInt8]) {
        precondition(payload.count <= Self.maxPayloadByteCount,
                     "journal payload of \(payload.count) bytes exceeds \(Self.maxPayloadByteCount)")
        self.epoch = epoch
        self.seq = seq
        self.prevHash = prevHash
        self.payload = payload
        let header = Self.header(epoch: epoch, seq: seq, prevHash: prevHash, payloadByteCount: payload.count)
        var hasher = SHA256()
        withUnsafeBytes(of: header) { hasher.update(bufferPointer: $0) }
        payload.withUnsafeBytes { hasher.update(bufferPointer: $0) }
        hash = RecordHash(hasher.finalize())
    }

    /// A record whose fields were read from bytes (and verified there, if the caller asked to).
    init(epoch: UInt64, seq: UInt64, prevHash: RecordHash, payload: [UInt8], hash: RecordHash) {
        self.epoch = epoch
        self.seq = seq
        self.prevHash = prevHash
        self.payload = payload
        self.hash = hash
    }

    /// The number of bytes `encode(into:)` appends.
    public var encodedCount: Int { Self.overheadByteCount + payload.count }

    /// Appends the record's encoding to `buffer`.
    public func encode(into buffer: inout [UInt8]) {
        let header = Self.header(epoch: epoch, seq: seq, prevHash: prevHash, payloadByteCount: payload.count)
        withUnsafeBytes(of: header) { buffer.append(contentsOf: $0) }
        buffer.append(contentsOf: payload)
        hash.append(to: &buffer)
    }

    /// The record's encoding on its own.
    public var encoded: [UInt8] {
        var buffer: [UInt8] = []
        encode(into: &buffer)
        return buffer
    }

    /// Whether `hash` is the hash of the other fields (always true for records made with the public initializer).
    public var isSelfConsistent: Bool {
        JournalRecord(epoch: epoch, seq: seq, prevHash: prevHash, payload: payload).hash == hash
    }

    /// Whether `self` may directly follow `previous` in a journal: next seq, chained hash, epoch not going back.
    public func follows(_ previous: JournalRecord) -> Bool {
        seq == previous.seq &+ 1 && prevHash == previous.hash && epoch >= previous.epoch
    }

    /// The 56 header bytes as seven little-endian words: built on the stack, hashed and copied without allocating.
    static func header(epoch: UInt64, seq: UInt64, prevHash: RecordHash, payloadByteCount: Int)
        -> (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64)
    {
        let totalLength = UInt64(overheadByteCount + payloadByteCount)
        let magicAndLength = UInt64(magic) | totalLength << 32
        let words = prevHash.littleEndianWords
        return (magicAndLength.littleEndian, epoch.littleEndian, seq.littleEndian,
                words.0, words.1, words.2, words.3)
    }
}
