import Glibc

/// One file of the journal: `journal/segment-<firstSeq>.dat`, a header then consecutive records.
///
///     header = magic "BKSG" u32 | version u32 (= 1) | firstSeq u64 | prevEpoch u64 | prevHash 32 | reserved u64
///
/// The header names the position the segment continues (the record before its first one), so a segment is
/// self-describing: the journal can start at any segment — after a checkpoint was installed, or once older
/// segments are no longer read — and still check the hash chain of everything it holds. A segment written before
/// segments existed (`journal.dat`, moved into `journal/` on first open) has no header and starts at seq 1.
struct JournalSegment {
    static let magic: UInt32 = 0x4753_4B42 // "BKSG"
    static let version: UInt32 = 1
    static let headerByteCount = 64
    static let directoryName = "journal"
    static let legacyFileName = "journal.dat"

    /// The first record's seq (1 more than the header's base).
    let firstSeq: UInt64
    let path: String
    /// 0 for a legacy segment.
    let headerByteCount: Int
    /// Open while the segment is read or written.
    var fd: Int32
    /// The file's size once the segment is finished (a later one exists); the active segment's size is the
    /// journal's `activeSegmentByteCount`.
    var byteCount: UInt64 = 0

    static func fileName(firstSeq: UInt64) -> String {
        let digits = String(firstSeq)
        return "segment-" + String(repeating: "0", count: max(0, 20 - digits.count)) + digits + ".dat"
    }

    static func firstSeq(ofFileName name: String) -> UInt64? {
        guard name.hasPrefix("segment-"), name.hasSuffix(".dat") else { return nil }
        return UInt64(name.dropFirst("segment-".count).dropLast(".dat".count))
    }

    static func header(firstSeq: UInt64, prevEpoch: UInt64, prevHash: RecordHash) -> [UInt8] {
        var writer = BinaryWriter(reservingCapacity: headerByteCount)
        writer.write(magic)
        writer.write(version)
        writer.write(firstSeq)
        writer.write(prevEpoch)
        writer.write(prevHash)
        writer.write(UInt64(0))
        precondition(writer.bytes.count == headerByteCount, "segment header is \(writer.bytes.count) bytes")
        return writer.bytes
    }

    /// What a header says: the segment's base position (seq, epoch and hash of the record before its first).
    struct Base {
        var seq: UInt64
        var epoch: UInt64
        var hash: RecordHash
    }

    /// Parses the header at the start of `bytes`; nil for a legacy segment (it starts with a record, or is empty).
    static func parseHeader(_ bytes: UnsafeRawBufferPointer, path: String, expectedFirstSeq: UInt64) throws -> Base? {
        if bytes.count < 4 { return nil }
        let leading = UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: 0, as: UInt32.self))
        if leading == JournalRecord.magic { return nil }
        func invalid(_ reason: String) -> StorageError { .invalidContent(path: path, reason: reason) }
        guard leading == magic else { throw invalid("not a journal segment (bad magic)") }
        guard bytes.count >= headerByteCount else { throw invalid("the segment header is cut short") }
        guard UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: 4, as: UInt32.self)) == version else {
            throw invalid("unknown segment version")
        }
        let firstSeq = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
        guard firstSeq == expectedFirstSeq, firstSeq >= 1 else {
            throw invalid("the header says the first seq is \(firstSeq), the file name \(expectedFirstSeq)")
        }
        return Base(seq: firstSeq - 1,
                    epoch: UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: 16, as: UInt64.self)),
                    hash: RecordHash(loadingFrom: bytes, at: 24)!)
    }

    /// Creates the segment file with its header, durably (file and directory entry).
    static func create(in journalDirectory: String, base: Base) throws -> JournalSegment {
        let path = journalDirectory + "/" + fileName(firstSeq: base.seq + 1)
        let fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw StorageError.lastSystemCall("open", path: path) }
        do {
            try header(firstSeq: base.seq + 1, prevEpoch: base.epoch, prevHash: base.hash).withUnsafeBytes {
                try PosixIO.writeAll(fd, $0, at: 0, path: path)
            }
            guard fsync(fd) == 0 else { throw StorageError.lastSystemCall("fsync", path: path) }
            try PosixIO.syncDirectory(journalDirectory)
        } catch {
            close(fd)
            throw error
        }
        return JournalSegment(firstSeq: base.seq + 1, path: path, headerByteCount: headerByteCount, fd: fd)
    }
}
