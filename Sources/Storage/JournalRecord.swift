import Crypto

/// One journal record: `magic | length | epoch | seq | prevHash | payload | hash`, little-endian, where
/// `hash = SHA-256(magic … payload)`. A record verifies itself (recompute the hash), and `prevHash` chains it to the
/// one before, so two journals with the same hash at a seq hold the same records up to it. Records travel between
/// nodes in this same encoding.
public struct JournalRecord: Hashable, Sendable {
    public let epoch: UInt64
    public let seq: UInt64
    public let prevHash: RecordHash
    public let payload: [UInt8]
    public let hash: RecordHash

    static let magic: UInt32 = 0x314A_4B42 // "BKJ1"
    static let headerCount = 4 + 4 + 8 + 8 + 32
    static let trailerCount = 32
    public static let maximumPayloadBytes = 16 << 20

    public init(epoch: UInt64, seq: UInt64, prevHash: RecordHash, payload: [UInt8]) {
        precondition(payload.count <= Self.maximumPayloadBytes, "journal payload too large")
        self.epoch = epoch
        self.seq = seq
        self.prevHash = prevHash
        self.payload = payload
        var body: [UInt8] = []
        body.reserveCapacity(Self.headerCount + payload.count)
        Self.appendBody(epoch: epoch, seq: seq, prevHash: prevHash, payload: payload, to: &body)
        hash = body.withUnsafeBytes { Self.digest($0) }
    }

    private init(epoch: UInt64, seq: UInt64, prevHash: RecordHash, payload: [UInt8], hash: RecordHash) {
        self.epoch = epoch
        self.seq = seq
        self.prevHash = prevHash
        self.payload = payload
        self.hash = hash
    }

    public var encodedCount: Int { Self.headerCount + payload.count + Self.trailerCount }

    public func encode(into buffer: inout [UInt8]) {
        Self.appendBody(epoch: epoch, seq: seq, prevHash: prevHash, payload: payload, to: &buffer)
        hash.append(to: &buffer)
    }

    private static func appendBody(epoch: UInt64, seq: UInt64, prevHash: RecordHash, payload: [UInt8],
                                   to buffer: inout [UInt8]) {
        let total = UInt32(headerCount + payload.count + trailerCount)
        withUnsafeBytes(of: magic.littleEndian) { buffer.append(contentsOf: $0) }
        withUnsafeBytes(of: total.littleEndian) { buffer.append(contentsOf: $0) }
        withUnsafeBytes(of: epoch.littleEndian) { buffer.append(contentsOf: $0) }
        withUnsafeBytes(of: seq.littleEndian) { buffer.append(contentsOf: $0) }
        prevHash.append(to: &buffer)
        buffer.append(contentsOf: payload)
    }

    static func digest(_ bytes: UnsafeRawBufferPointer) -> RecordHash {
        let digest = SHA256.hash(data: bytes)
        return digest.withUnsafeBytes { RecordHash(raw: $0) }
    }

    public enum DecodeResult: Hashable, Sendable {
        case record(JournalRecord, byteCount: Int)
        /// The buffer ends before the record does.
        case incomplete
        case corrupt(String)
    }

    /// Decodes the record at the start of `bytes`. Never traps on bad bytes.
    public static func decode(_ bytes: UnsafeRawBufferPointer, verify: Bool = true) -> DecodeResult {
        guard bytes.count >= 8 else { return .incomplete }
        guard bytes.loadUnaligned(fromByteOffset: 0, as: UInt32.self).littleEndian == magic else {
            return .corrupt("bad magic")
        }
        let total = Int(bytes.loadUnaligned(fromByteOffset: 4, as: UInt32.self).littleEndian)
        guard total >= headerCount + trailerCount, total - headerCount - trailerCount <= maximumPayloadBytes else {
            return .corrupt("bad length \(total)")
        }
        guard bytes.count >= total else { return .incomplete }
        let epoch = bytes.loadUnaligned(fromByteOffset: 8, as: UInt64.self).littleEndian
        let seq = bytes.loadUnaligned(fromByteOffset: 16, as: UInt64.self).littleEndian
        let prevHash = RecordHash(raw: UnsafeRawBufferPointer(rebasing: bytes[24..<56]))
        let payload = [UInt8](UnsafeRawBufferPointer(rebasing: bytes[headerCount..<(total - trailerCount)]))
        let hash = RecordHash(raw: UnsafeRawBufferPointer(rebasing: bytes[(total - trailerCount)..<total]))
        if verify, digest(UnsafeRawBufferPointer(rebasing: bytes[0..<(total - trailerCount)])) != hash {
            return .corrupt("hash mismatch")
        }
        return .record(JournalRecord(epoch: epoch, seq: seq, prevHash: prevHash, payload: payload, hash: hash),
                       byteCount: total)
    }
}
