import Glibc

/// The ledger's append-only journal file (`journal.dat`) and its in-memory index.
///
/// The index holds, per seq, the record's file offset, epoch and hash in three flat arrays (48 bytes a record, no
/// per-record objects): enough to answer every `JournalReading` question but `records`, which reads the file.
/// Payloads are not kept in memory; the ledger's state is rebuilt from them once (`LedgerRecovery`, in chunks).
///
/// Durability is the caller's to schedule: `append` writes without syncing, so a driver can append everything one
/// loop iteration produced and then cover it all with one `sync` (group commit). Nothing may be acknowledged before
/// the `sync` that covers it returns.
///
/// Used from one thread. The file is locked (`flock`) while open, so a second ledger started on the same data
/// directory fails at `open` instead of interleaving writes.
public final class FileJournal: JournalReading {
    /// The journal's file name inside the data directory.
    public static let fileName = "journal.dat"

    public let directory: String
    public let path: String
    private var fd: Int32
    private var offsets: [UInt64] = []
    private var epochs: [UInt64] = []
    private var hashes: [RecordHash] = []
    /// The file's size: where the next record goes.
    public private(set) var byteCount: UInt64 = 0
    /// Reused by `append`, so a steady stream of appends allocates nothing.
    private var writeBuffer: [UInt8] = []
    /// Reused by `records`, so catch-up reads allocate only the records they return.
    private var readBuffer: [UInt8] = []

    private init(directory: String, path: String, fd: Int32) {
        self.directory = directory
        self.path = path
        self.fd = fd
    }

    deinit { close() }

    // MARK: - JournalReading

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

    /// Reads the records with one `pread` of their contiguous bytes. A read failure traps: the journal is the
    /// node's only truth, and a node that cannot read it must stop (and rerun recovery on restart) rather than
    /// guess. Use `readRecords` to handle the error instead.
    public func records(from seq: UInt64, maxCount: Int, maxBytes: Int) -> [JournalRecord] {
        do {
            return try readRecords(from: seq, maxCount: maxCount, maxBytes: maxBytes)
        } catch {
            fatalError("journal: cannot read records from seq \(seq): \(error)")
        }
    }

    // MARK: - Opening and recovery

    /// Opens the journal in `directory`, creating both if missing, and checks every record (see `JournalScan`).
    ///
    /// A torn tail — a bad or incomplete record with nothing valid after it — is cut off durably and reported
    /// through `logger`. Corruption throws `JournalError.corrupted`: the node must not start on damaged data.
    /// Everything the journal holds when `open` returns is durable.
    public static func open(directory: String, logger: (String) -> Void) throws -> FileJournal {
        try PosixIO.makeDirectories(directory)
        let path = directory + "/" + fileName
        var fd = Glibc.open(path, O_RDWR | O_CLOEXEC)
        if fd < 0 {
            guard errno == ENOENT else { throw StorageError.lastSystemCall("open", path: path) }
            fd = Glibc.open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
            guard fd >= 0 else { throw StorageError.lastSystemCall("open", path: path) }
            // The new file's name must survive a crash, or records synced into it could vanish with it.
            do { try PosixIO.syncDirectory(directory) } catch {
                Glibc.close(fd)
                throw error
            }
        }
        let journal = FileJournal(directory: directory, path: path, fd: fd) // closes fd on deinit if we throw
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            if errno == EWOULDBLOCK { throw StorageError.locked(path: path) }
            throw StorageError.lastSystemCall("flock", path: path)
        }
        try journal.recover(logger: logger)
        return journal
    }

    private func recover(logger: (String) -> Void) throws {
        let size = try PosixIO.fileSize(fd, path: path)
        guard size > 0 else { return }
        let scan = try withMappedFile(byteCount: Int(size)) { JournalScan(scanning: $0) }
        offsets = scan.offsets
        epochs = scan.epochs
        hashes = scan.hashes
        byteCount = UInt64(scan.validByteCount)
        switch scan.outcome {
        case .clean:
            // After a crash the file may end in writes that reached the page cache but were never synced. Whoever
            // opens the journal counts every record in it as durable (a ledger may acknowledge them), so make
            // that true.
            try sync()
        case let .tornTail(reason):
            try PosixIO.truncateDurably(fd, to: byteCount, path: path)
            logger("journal: truncated torn tail at offset \(byteCount) (\(size - byteCount) bytes) after seq "
                + "\(lastSeq) in \(path): \(reason); it was never synced, so nothing acknowledged is lost")
        case let .corrupted(offset, seq, reason):
            throw JournalError.corrupted(path: path, offset: UInt64(offset), seq: seq, reason: reason)
        }
    }

    /// Maps the file read-only for the start-up scan: the kernel streams it in, with no copy into our memory.
    private func withMappedFile<T>(byteCount: Int, _ body: (UnsafeRawBufferPointer) -> T) throws -> T {
        guard let base = mmap(nil, byteCount, PROT_READ, MAP_SHARED, fd, 0), base != MAP_FAILED else {
            throw StorageError.lastSystemCall("mmap", path: path)
        }
        defer { munmap(base, byteCount) }
        _ = madvise(base, byteCount, MADV_SEQUENTIAL) // a hint; failure changes nothing
        return body(UnsafeRawBufferPointer(start: base, count: byteCount))
    }

    // MARK: - Writing

    /// Writes `records` at the end of the file with one write. Not durable until `sync()`.
    ///
    /// The records must continue the journal — seq `lastSeq + 1` on, each `prevHash` the hash before, epochs not
    /// decreasing. That is the caller's invariant (the replication state machine checks what it receives), so a
    /// violation is a bug and traps rather than writing a broken chain that the next start would call corruption.
    public func append(_ records: [JournalRecord]) throws {
        guard !records.isEmpty else { return }
        checkContinuesJournal(records)
        writeBuffer.removeAll(keepingCapacity: writeBuffer.capacity <= Self.retainedBufferCapacity)
        for record in records {
            record.encode(into: &writeBuffer)
        }
        try writeBuffer.withUnsafeBytes { try write($0, of: records) }
    }

    /// Like `append`, but takes the records' encoding too, e.g. the bytes that came off the network, so they are
    /// not encoded again. `encoded` must be exactly `records` encoded back to back (checked: lengths, seqs and
    /// hashes; the caller has already verified the records' hashes when it decoded them).
    public func appendEncoded(_ encoded: ArraySlice<UInt8>, records: [JournalRecord]) throws {
        guard !records.isEmpty else {
            precondition(encoded.isEmpty, "appendEncoded: bytes without records")
            return
        }
        checkContinuesJournal(records)
        try encoded.withUnsafeBytes { bytes in
            checkEncoding(bytes, matches: records)
            try write(bytes, of: records)
        }
    }

    /// Like `append`, but takes the records' encoding too; see the `ArraySlice` variant.
    public func appendEncoded(_ encoded: [UInt8], records: [JournalRecord]) throws {
        try appendEncoded(encoded[...], records: records)
    }

    /// The open file, for a thread whose only use of it is `fdatasync` (the ledger's sync worker): a sync started
    /// after an `append` returned makes that append durable. Everything else stays on the journal's thread.
    public var descriptorForSync: Int32 {
        checkOpen()
        return fd
    }

    /// Makes everything appended so far durable (`fdatasync`, which also persists the file's new size).
    public func sync() throws {
        checkOpen()
        guard fdatasync(fd) == 0 else { throw StorageError.lastSystemCall("fdatasync", path: path) }
    }

    /// Drops every record after `seq`, durably (used when a rejoining follower discards records the cluster never
    /// committed). Nothing happens if `seq >= lastSeq`.
    public func truncate(after seq: UInt64) throws {
        checkOpen()
        guard seq < lastSeq else { return }
        let keep = Int(seq)
        let newSize = offsets[keep]
        guard ftruncate(fd, off_t(newSize)) == 0 else { throw StorageError.lastSystemCall("ftruncate", path: path) }
        // The file is shorter now whatever happens next, so the index must say so before the sync can throw.
        offsets.removeSubrange(keep...)
        epochs.removeSubrange(keep...)
        hashes.removeSubrange(keep...)
        byteCount = newSize
        guard fsync(fd) == 0 else { throw StorageError.lastSystemCall("fsync", path: path) }
    }

    /// Closes the file (and releases its lock). Further use of the journal is a programming error.
    public func close() {
        guard fd >= 0 else { return }
        Glibc.close(fd)
        fd = -1
    }

    public var isOpen: Bool { fd >= 0 }

    /// A write buffer grown beyond this by a huge batch is released after use instead of kept.
    private static let retainedBufferCapacity = 8 << 20

    private func checkOpen() {
        precondition(fd >= 0, "journal \(path) is used after close()")
    }

    private func checkContinuesJournal(_ records: [JournalRecord]) {
        checkOpen()
        var seq = lastSeq
        var hash = lastHash
        var epoch = lastEpoch
        for record in records {
            precondition(record.seq == seq + 1, "journal append: seq \(record.seq) does not follow seq \(seq)")
            precondition(record.prevHash == hash,
                         "journal append: seq \(record.seq) has prevHash \(record.prevHash), journal has \(hash)")
            precondition(record.epoch >= epoch,
                         "journal append: seq \(record.seq) has epoch \(record.epoch), below \(epoch)")
            seq = record.seq
            hash = record.hash
            epoch = record.epoch
        }
    }

    private func checkEncoding(_ bytes: UnsafeRawBufferPointer, matches records: [JournalRecord]) {
        var position = 0
        for record in records {
            let rest = UnsafeRawBufferPointer(rebasing: bytes[position...])
            guard case let .frame(frame) = RecordFrame.parse(rest, verify: false),
                  frame.byteCount == record.encodedCount, frame.seq == record.seq, frame.hash == record.hash
            else {
                preconditionFailure("appendEncoded: bytes at \(position) are not the encoding of seq \(record.seq)")
            }
            position += frame.byteCount
        }
        precondition(position == bytes.count, "appendEncoded: \(bytes.count - position) bytes beyond the records")
    }

    /// Writes the encoding of `records` at the end, then indexes them. If the write fails, the file is cut back so
    /// it still matches the index (a partial record would otherwise sit under the next append's offset).
    private func write(_ bytes: UnsafeRawBufferPointer, of records: [JournalRecord]) throws {
        do {
            try PosixIO.writeAll(fd, bytes, at: byteCount, path: path)
        } catch {
            _ = ftruncate(fd, off_t(byteCount))
            throw error
        }
        // No reserveCapacity here: reserving an exact size on every append defeats the arrays' geometric growth and
        // copies the whole index on each call (quadratic; it made 1M appends take 12 s instead of 0.1 s).
        var offset = byteCount
        for record in records {
            offsets.append(offset)
            epochs.append(record.epoch)
            hashes.append(record.hash)
            offset += UInt64(record.encodedCount)
        }
        byteCount = offset
    }

    // MARK: - Reading

    /// Consecutive records from `seq` (see `JournalReading.records`), read with one `pread` and decoded without
    /// re-hashing: `open` verified every record, and each decoded record is still checked against the index
    /// (seq and hash), so a file changed behind our back is caught.
    public func readRecords(from seq: UInt64, maxCount: Int, maxBytes: Int) throws -> [JournalRecord] {
        checkOpen()
        guard seq >= 1, seq <= lastSeq, maxCount >= 1 else { return [] }
        let first = Int(seq - 1)
        let last = lastIndex(from: first, maxCount: maxCount, maxBytes: maxBytes)
        let start = offsets[first]
        let length = Int(end(of: last) - start)
        if readBuffer.count < length || readBuffer.count > max(length, Self.retainedBufferCapacity) {
            readBuffer = [UInt8](repeating: 0, count: length)
        }
        try readBuffer.withUnsafeMutableBytes { raw in
            try PosixIO.readExactly(fd, into: UnsafeMutableRawBufferPointer(rebasing: raw[0..<length]), at: start,
                                    path: path)
        }
        var records: [JournalRecord] = []
        records.reserveCapacity(last - first + 1)
        try readBuffer.withUnsafeBytes { raw in
            var position = 0
            for index in first...last {
                let rest = UnsafeRawBufferPointer(rebasing: raw[position..<length])
                guard case let .frame(frame) = RecordFrame.parse(rest, verify: false),
                      frame.seq == UInt64(index + 1), frame.hash == hashes[index]
                else {
                    throw JournalError.corrupted(path: path, offset: start + UInt64(position), seq: UInt64(index + 1),
                                                 reason: "the record no longer matches what open() verified: the "
                                                     + "file was changed behind the journal's back")
                }
                records.append(frame.record(in: rest))
                position += frame.byteCount
            }
        }
        return records
    }

    /// Where the record at `index` (seq `index + 1`) ends.
    private func end(of index: Int) -> UInt64 {
        index + 1 < offsets.count ? offsets[index + 1] : byteCount
    }

    /// The last index to read from `first`: as many records as fit in `maxCount` and `maxBytes`, but at least one.
    /// Offsets grow with the index, so a binary search finds it.
    private func lastIndex(from first: Int, maxCount: Int, maxBytes: Int) -> Int {
        let start = offsets[first]
        let byteLimit = UInt64(max(maxBytes, 0))
        var low = first // always acceptable: the first record is returned whatever its size
        var high = first + min(maxCount, offsets.count - first) - 1
        while low < high {
            let middle = low + (high - low + 1) / 2
            if end(of: middle) - start <= byteLimit {
                low = middle
            } else {
                high = middle - 1
            }
        }
        return low
    }
}
