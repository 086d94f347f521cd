#if canImport(Glibc)
import Glibc
#endif

/// The append-only journal file (`journal.dat`) with an in-memory index (offset, epoch and hash per seq).
///
/// Opening verifies every record: its own hash, the chain, consecutive seqs, non-decreasing epochs. A bad record
/// with nothing valid after it is a torn last write and is cut off (logged). A bad record followed by a valid one
/// is corruption: `open` throws rather than serve wrong balances. Used from one thread.
public final class FileJournal: JournalReading {
    public let path: String
    private let fd: Int32
    private var offsets: [UInt64] = []   // offsets[i]: where the record with seq i+1 starts
    private var epochs: [UInt64] = []
    private var hashes: [RecordHash] = []
    private var endOffset: UInt64 = 0
    private var writeBuffer: [UInt8] = []

    private init(path: String, fd: Int32) {
        self.path = path
        self.fd = fd
    }

    deinit { close() }

    public var lastSeq: UInt64 { UInt64(offsets.count) }
    public var lastHash: RecordHash { hashes.last ?? .zero }
    public var lastEpoch: UInt64 { epochs.last ?? 0 }

    public func hash(at seq: UInt64) -> RecordHash? {
        if seq == 0 { return .zero }
        return seq <= lastSeq ? hashes[Int(seq - 1)] : nil
    }

    public func epoch(at seq: UInt64) -> UInt64? {
        if seq == 0 { return 0 }
        return seq <= lastSeq ? epochs[Int(seq - 1)] : nil
    }

    // MARK: - Opening and recovery

    public static func open(directory: String, logger: (String) -> Void) throws -> FileJournal {
        mkdir(directory, 0o755)
        let path = directory + "/journal.dat"
        let fd = Glibc.open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw JournalError.system("open", path) }
        let journal = FileJournal(path: path, fd: fd)
        try journal.recover(logger: logger)
        return journal
    }

    private func recover(logger: (String) -> Void) throws {
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw JournalError.system("fstat", path) }
        let size = Int(info.st_size)
        guard size > 0 else { return }
        guard let mapped = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), mapped != MAP_FAILED else {
            throw JournalError.system("mmap", path)
        }
        defer { munmap(mapped, size) }
        let bytes = UnsafeRawBufferPointer(start: mapped, count: size)
        offsets.reserveCapacity(size / 128)
        var offset = 0
        var tornReason: String?
        while offset < size {
            let result = JournalRecord.decode(UnsafeRawBufferPointer(rebasing: bytes[offset...]), verify: true)
            guard case let .record(record, count) = result else {
                if case let .corrupt(reason) = result { tornReason = reason } else { tornReason = "incomplete record" }
                break
            }
            let expected = lastSeq + 1
            guard record.seq == expected, record.prevHash == lastHash, record.epoch >= lastEpoch else {
                throw JournalError.corrupted(path: path, offset: offset, seq: expected,
                                             reason: "the chain breaks (found seq \(record.seq), epoch \(record.epoch))")
            }
            offsets.append(UInt64(offset))
            epochs.append(record.epoch)
            hashes.append(record.hash)
            offset += count
        }
        endOffset = UInt64(offset)
        guard let reason = tornReason else { return }
        if Self.validRecordExists(in: bytes, after: offset) {
            throw JournalError.corrupted(path: path, offset: offset, seq: lastSeq + 1, reason: reason)
        }
        guard ftruncate(fd, off_t(offset)) == 0 else { throw JournalError.system("ftruncate", path) }
        guard fsync(fd) == 0 else { throw JournalError.system("fsync", path) }
        logger("journal: truncated a torn tail at byte \(offset) (\(size - offset) bytes, \(reason)) after seq \(lastSeq)")
    }

    /// Whether any self-verifying record starts after `offset`: then the bad record is not a torn tail.
    private static func validRecordExists(in bytes: UnsafeRawBufferPointer, after offset: Int) -> Bool {
        var candidate = offset + 1
        let magic = JournalRecord.magic.littleEndian
        while candidate + 8 <= bytes.count {
            if bytes.loadUnaligned(fromByteOffset: candidate, as: UInt32.self) == magic,
               case .record = JournalRecord.decode(UnsafeRawBufferPointer(rebasing: bytes[candidate...]), verify: true) {
                return true
            }
            candidate += 1
        }
        return false
    }

    // MARK: - Writing

    /// Writes records at the end (one `pwrite`); not durable until `sync()`.
    public func append(_ records: [JournalRecord]) throws {
        guard !records.isEmpty else { return }
        writeBuffer.removeAll(keepingCapacity: true)
        var offset = endOffset
        for record in records {
            precondition(record.seq == lastSeq + 1 && record.prevHash == lastHash,
                         "journal append breaks the chain at seq \(record.seq)")
            precondition(record.epoch >= lastEpoch, "journal epochs never decrease")
            offsets.append(offset)
            epochs.append(record.epoch)
            hashes.append(record.hash)
            let before = writeBuffer.count
            record.encode(into: &writeBuffer)
            offset += UInt64(writeBuffer.count - before)
        }
        try writeAll(writeBuffer, at: endOffset)
        endOffset = offset
    }

    private func writeAll(_ buffer: [UInt8], at offset: UInt64) throws {
        var written = 0
        try buffer.withUnsafeBytes { raw in
            while written < raw.count {
                let result = pwrite(fd, raw.baseAddress! + written, raw.count - written, off_t(offset) + off_t(written))
                if result < 0 {
                    if errno == EINTR { continue }
                    throw JournalError.system("pwrite", path)
                }
                written += result
            }
        }
    }

    /// Makes everything appended durable.
    public func sync() throws {
        guard fdatasync(fd) == 0 else { throw JournalError.system("fdatasync", path) }
    }

    /// Drops the records after `seq`, durably.
    public func truncate(after seq: UInt64) throws {
        guard seq < lastSeq else { return }
        let newEnd = offsets[Int(seq)]
        guard ftruncate(fd, off_t(newEnd)) == 0 else { throw JournalError.system("ftruncate", path) }
        guard fsync(fd) == 0 else { throw JournalError.system("fsync", path) }
        offsets.removeSubrange(Int(seq)...)
        epochs.removeSubrange(Int(seq)...)
        hashes.removeSubrange(Int(seq)...)
        endOffset = newEnd
    }

    // MARK: - Reading

    public func records(from seq: UInt64, maxCount: Int, maxBytes: Int) -> [JournalRecord] {
        guard seq >= 1, seq <= lastSeq, maxCount > 0 else { return [] }
        let first = Int(seq - 1)
        var last = first
        let start = offsets[first]
        while last + 1 < offsets.count, last + 1 - first < maxCount {
            let endOfNext = last + 2 < offsets.count ? offsets[last + 2] : endOffset
            if Int(endOfNext - start) > maxBytes { break }
            last += 1
        }
        let end = last + 1 < offsets.count ? offsets[last + 1] : endOffset
        var buffer = [UInt8](repeating: 0, count: Int(end - start))
        let readCount = buffer.withUnsafeMutableBytes { raw -> Int in
            var done = 0
            while done < raw.count {
                let result = pread(fd, raw.baseAddress! + done, raw.count - done, off_t(start) + off_t(done))
                if result < 0 && errno == EINTR { continue }
                if result <= 0 { break }
                done += result
            }
            return done
        }
        precondition(readCount == buffer.count, "journal read failed at seq \(seq): \(String(cString: strerror(errno)))")
        var records: [JournalRecord] = []
        records.reserveCapacity(last - first + 1)
        buffer.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                guard case let .record(record, count) = JournalRecord.decode(
                    UnsafeRawBufferPointer(rebasing: raw[offset...]), verify: false) else {
                    fatalError("journal record at seq \(seq + UInt64(records.count)) is unreadable")
                }
                records.append(record)
                offset += count
            }
        }
        return records
    }

    /// Every record from `seq` on, in order: the start-up replay. Records were verified when the journal was opened.
    public func forEachRecord(from seq: UInt64 = 1, _ body: (JournalRecord) throws -> Void) throws {
        var next = seq
        while next <= lastSeq {
            let batch = records(from: next, maxCount: 16_384, maxBytes: 8 << 20)
            for record in batch { try body(record) }
            next += UInt64(batch.count)
        }
    }

    private var closed = false
    public func close() {
        guard !closed else { return }
        closed = true
        Glibc.close(fd)
    }
}
