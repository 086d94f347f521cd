import Crypto

/// The fixed fields of one encoded record, parsed in place without copying its payload.
///
/// Recovery scans every record of the journal at start-up; parsing frames instead of whole `JournalRecord`s spares
/// a payload allocation per record, which is most of the cost once hashing is done by SHA instructions.
struct RecordFrame {
    var byteCount: Int
    var epoch: UInt64
    var seq: UInt64
    var prevHash: RecordHash
    var hash: RecordHash

    var payloadByteCount: Int { byteCount - JournalRecord.overheadByteCount }

    enum ParseResult {
        case frame(RecordFrame)
        /// The bytes end before the record does (all that is there is consistent with a record).
        case incomplete
        case corrupt(String)
    }

    /// Parses the record at the start of `bytes`; with `verify`, also recomputes and checks its hash.
    /// Never traps, whatever the bytes.
    static func parse(_ bytes: UnsafeRawBufferPointer, verify: Bool) -> ParseResult {
        if bytes.count < 8 {
            // Even a few bytes can already show that this is no record.
            let magic = withUnsafeBytes(of: JournalRecord.magic.littleEndian) { Array($0) }
            for index in 0..<min(bytes.count, 4) where bytes[index] != magic[index] {
                return .corrupt("bad magic")
            }
            return .incomplete
        }
        let magic = UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: 0, as: UInt32.self))
        guard magic == JournalRecord.magic else {
            return .corrupt("bad magic 0x\(String(magic, radix: 16))")
        }
        let total = Int(UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: 4, as: UInt32.self)))
        guard total >= JournalRecord.overheadByteCount,
              total - JournalRecord.overheadByteCount <= JournalRecord.maxPayloadByteCount
        else {
            return .corrupt("impossible record length \(total)")
        }
        guard bytes.count >= total else { return .incomplete }
        let hashOffset = total - RecordHash.byteCount
        let stored = RecordHash(loadingFrom: bytes, at: hashOffset)!
        if verify {
            var hasher = SHA256()
            hasher.update(bufferPointer: UnsafeRawBufferPointer(rebasing: bytes[0..<hashOffset]))
            let computed = RecordHash(hasher.finalize())
            guard computed == stored else {
                return .corrupt("hash mismatch (stored \(stored), computed \(computed))")
            }
        }
        return .frame(RecordFrame(
            byteCount: total,
            epoch: UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: 8, as: UInt64.self)),
            seq: UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: 16, as: UInt64.self)),
            prevHash: RecordHash(loadingFrom: bytes, at: 24)!,
            hash: stored))
    }

    /// The whole record; `bytes` must be the buffer this frame was parsed from.
    func record(in bytes: UnsafeRawBufferPointer) -> JournalRecord {
        let payload = UnsafeRawBufferPointer(
            rebasing: bytes[JournalRecord.headerByteCount..<(byteCount - RecordHash.byteCount)])
        let copy = [UInt8](unsafeUninitializedCapacity: payload.count) { out, count in
            if let base = out.baseAddress, let source = payload.baseAddress {
                UnsafeMutableRawPointer(base).copyMemory(from: source, byteCount: payload.count)
            }
            count = payload.count
        }
        return JournalRecord(epoch: epoch, seq: seq, prevHash: prevHash, payload: copy, hash: hash)
    }
}
