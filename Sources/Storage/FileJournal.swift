import Glibc

/// The ledger's append-only journal: segment files in `journal/` (see `JournalSegment`) and an in-memory index of
/// the records above the floor.
///
/// The floor is the position below which nothing is read: the state there lives in a checkpoint, so a restart
/// starts from the checkpoint and replays only what follows, and a follower that needs older records gets the
/// checkpoint instead. `open` scans only the segments from the one holding the floor on, and the index (offset,
/// epoch and hash per record: 48 bytes) covers only the records after the floor, so both are bounded by the
/// checkpoint interval, not by history. Segments wholly below the floor are closed; whether their files stay is the
/// retention policy: kept by default (the full history stays on disk for audit), deleted with `.delete`.
///
/// Durability is the caller's to schedule: `append` writes without syncing, so a driver can append everything one
/// loop iteration produced and then cover it all with one sync of `activeDescriptor` (group commit). When the
/// active segment is full, `append` first syncs it and starts the next one, so a sync of the new active segment
/// covers everything appended. Nothing may be acknowledged before the sync that covers it returns.
///
/// Used from one thread. `journal/.lock` is locked (`flock`) while open, so a second ledger started on the same data
/// directory fails at `open` instead of interleaving writes.
public final class FileJournal: JournalReading {
    public enum Retention: String, Codable, Hashable, Sendable {
        /// Segments below the floor stay on disk (not read, not indexed).
        case keep
        /// Segments below the floor are deleted.
        case delete
    }

    public static let lockFileName = ".lock"
    public static let defaultSegmentByteLimit: UInt64 = 64 << 20

    public let directory: String
    /// The `journal/` directory inside `directory`.
    public let journalDirectory: String
    public let segmentByteLimit: UInt64
    public let retention: Retention
    private var lockFD: Int32 = -1

    /// The segments from the one holding the floor to the active one (the last), by first seq.
    private var segments: [JournalSegment] = []
    /// The floor: the record at `floorSeq` is known by hash and epoch only; records after it are indexed.
    public private(set) var floorSeq: UInt64 = 0
    private var floorHash: RecordHash = .zero
    private var floorEpoch: UInt64 = 0
    /// Index of seq `floorSeq + 1 + i` at position `indexStart + i`: its offset in its segment, epoch and hash.
    /// Entries below `indexStart` were dropped by a floor advance and are compacted away in bulk.
    private var offsets: [UInt64] = []
    private var epochs: [UInt64] = []
    private var hashes: [RecordHash] = []
    private var indexStart = 0
    /// The active segment's size in bytes (header included): where the next record goes.
    public private(set) var activeSegmentByteCount: UInt64 = 0
    /// Reused by `append`, so a steady stream of appends allocates nothing.
    private var writeBuffer: [UInt8] = []
    /// Reused by `records`, so catch-up reads allocate only the records they return.
    private var readBuffer: [UInt8] = []

    private init(directory: String, segmentByteLimit: UInt64, retention: Retention) {
        self.directory = directory
        journalDirectory = directory + "/" + JournalSegment.directoryName
        self.segmentByteLimit = segmentByteLimit
        self.retention = retention
    }

    deinit { close() }

    // MARK: - JournalReading

    private var indexedCount: Int { offsets.count - indexStart }
    public var lastSeq: UInt64 { floorSeq + UInt64(indexedCount) }
    public var lastHash: RecordHash { indexedCount > 0 ? hashes[hashes.count - 1] : floorHash }
    public var lastEpoch: UInt64 { indexedCount > 0 ? epochs[epochs.count - 1] : floorEpoch }

    public func hash(at seq: UInt64) -> RecordHash? {
        if seq == floorSeq { return floorHash }
        guard seq > floorSeq, seq <= lastSeq else { return nil }
        return hashes[indexStart + Int(seq - floorSeq - 1)]
    }

    public func epoch(at seq: UInt64) -> UInt64? {
        if seq == floorSeq { return floorEpoch }
        guard seq > floorSeq, seq <= lastSeq else { return nil }
        return epochs[indexStart + Int(seq - floorSeq - 1)]
    }

    /// Reads the records with one `pread` of their contiguous bytes (never across segments; a reader asks again).
    /// A read failure traps: the journal is the node's only truth, and a node that cannot read it must stop (and
    /// rerun recovery on restart) rather than guess. Use `readRecords` to handle the error instead.
    public func records(from seq: UInt64, maxCount: Int, maxBytes: Int) -> [JournalRecord] {
        do {
            return try readRecords(from: seq, maxCount: maxCount, maxBytes: maxBytes)
        } catch {
            fatalError("journal: cannot read records from seq \(seq): \(error)")
        }
    }

    // MARK: - Opening and recovery

    /// Opens the journal in `directory`, creating it if missing, and checks every record from the segment holding
    /// `floor` on (see `JournalScan`); the floor becomes `floor`, or the oldest position the journal holds if that
    /// is later (a journal reset after a checkpoint install starts after it).
    ///
    /// A torn tail — a bad or incomplete record at the end of the last segment with nothing valid after it — is cut
    /// off durably and reported through `logger`. Corruption throws `JournalError.corrupted`: the node must not start
    /// on damaged data. Everything the journal holds when `open` returns is durable.
    public static func open(directory: String, floor: UInt64 = 0, segmentByteLimit: UInt64 = defaultSegmentByteLimit,
                            retention: Retention = .keep, logger: (String) -> Void) throws -> FileJournal {
        let journal = FileJournal(directory: directory, segmentByteLimit: segmentByteLimit, retention: retention)
        try PosixIO.makeDirectories(journal.journalDirectory)
        try journal.lock()
        try journal.adoptLegacyFile(logger: logger)
        try journal.recover(floor: floor, logger: logger)
        return journal
    }

    private func lock() throws {
        let path = journalDirectory + "/" + Self.lockFileName
        lockFD = Glibc.open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard lockFD >= 0 else { throw StorageError.lastSystemCall("open", path: path) }
        guard flock(lockFD, LOCK_EX | LOCK_NB) == 0 else {
            if errno == EWOULDBLOCK { throw StorageError.locked(path: path) }
            throw StorageError.lastSystemCall("flock", path: path)
        }
    }

    /// A journal from before segments (`journal.dat` beside `journal/`) becomes the first segment, by rename.
    private func adoptLegacyFile(logger: (String) -> Void) throws {
        let legacy = directory + "/" + JournalSegment.legacyFileName
        guard access(legacy, F_OK) == 0 else { return }
        let target = journalDirectory + "/" + JournalSegment.fileName(firstSeq: 1)
        guard access(target, F_OK) != 0 else {
            throw StorageError.invalidContent(path: legacy, reason: "both it and \(target) exist; move one aside")
        }
        guard rename(legacy, target) == 0 else { throw StorageError.lastSystemCall("rename", path: legacy) }
        try PosixIO.syncDirectory(journalDirectory)
        try PosixIO.syncDirectory(directory)
        logger("journal: moved \(legacy) to \(target) (the journal is kept in segments now)")
    }

    private func recover(floor: UInt64, logger: (String) -> Void) throws {
        var firstSeqs = try PosixIO.fileNames(in: journalDirectory).compactMap(JournalSegment.firstSeq(ofFileName:)).sorted()
        try removeInterruptedSegment(&firstSeqs, logger: logger)
        guard !firstSeqs.isEmpty else {
            segments = [try JournalSegment.create(in: journalDirectory, base: .init(seq: 0, epoch: 0, hash: .zero))]
            activeSegmentByteCount = UInt64(JournalSegment.headerByteCount)
            return
        }
        // The last segment that starts at or before the record after the floor holds the floor (or its header
        // does); older ones are not read.
        let startIndex = firstSeqs.lastIndex { $0 <= floor + 1 } ?? 0
        let chosen = Array(firstSeqs[startIndex...])
        var expected: JournalSegment.Base?
        for (position, firstSeq) in chosen.enumerated() {
            let isLast = position == chosen.count - 1
            let path = journalDirectory + "/" + JournalSegment.fileName(firstSeq: firstSeq)
            let fd = Glibc.open(path, (isLast ? O_RDWR : O_RDONLY) | O_CLOEXEC)
            guard fd >= 0 else { throw StorageError.lastSystemCall("open", path: path) }
            var segment = JournalSegment(firstSeq: firstSeq, path: path, headerByteCount: 0, fd: fd)
            segments.append(segment) // closed by close() if anything below throws
            let size = try PosixIO.fileSize(fd, path: path)
            let scanned = try withMappedFile(fd: fd, path: path, byteCount: Int(size)) { bytes -> (Int, JournalScan) in
                let base = try JournalSegment.parseHeader(bytes, path: path, expectedFirstSeq: firstSeq)
                    ?? Self.legacyBase(firstSeq: firstSeq, path: path)
                if let expected, expected.seq != base.seq || expected.hash != base.hash {
                    throw JournalError.corrupted(path: path, offset: 0, seq: firstSeq, reason: "chain break: the "
                        + "segment continues seq \(base.seq) (hash \(base.hash)), the segment before it ends at seq "
                        + "\(expected.seq) (hash \(expected.hash))")
                }
                let headerBytes = Self.startsWithHeader(bytes) ? JournalSegment.headerByteCount : 0
                let records = UnsafeRawBufferPointer(rebasing: bytes[min(headerBytes, bytes.count)...])
                return (headerBytes, JournalScan(scanning: records, after: base.seq, hash: base.hash, epoch: base.epoch))
            }
            let (headerBytes, scan) = scanned
            segment = JournalSegment(firstSeq: firstSeq, path: path, headerByteCount: headerBytes, fd: fd,
                                     byteCount: size)
            segments[segments.count - 1] = segment
            if position == 0 { setFloor(seq: min(max(floor, scan.baseSeq), scan.nextSeq - 1), in: scan) }
            index(scan, from: position == 0 ? floorSeq : scan.baseSeq)
            let validBytes = UInt64(headerBytes + scan.validByteCount)
            switch scan.outcome {
            case .clean:
                break
            case let .tornTail(reason) where isLast:
                try PosixIO.truncateDurably(fd, to: validBytes, path: path)
                logger("journal: truncated torn tail at offset \(validBytes) (\(size - validBytes) bytes) after seq "
                    + "\(lastSeq) in \(path): \(reason); it was never synced, so nothing acknowledged is lost")
            case let .tornTail(reason):
                throw JournalError.corrupted(path: path, offset: validBytes, seq: scan.nextSeq, reason: reason
                    + "; yet a later segment follows (this segment was synced before it was started)")
            case let .corrupted(offset, seq, reason):
                throw JournalError.corrupted(path: path, offset: UInt64(headerBytes + offset), seq: seq, reason: reason)
            }
            if isLast { activeSegmentByteCount = validBytes }
            expected = .init(seq: scan.nextSeq - 1, epoch: scan.lastEpoch, hash: scan.lastHash)
        }
        // After a crash the file may end in writes that reached the page cache but were never synced. Whoever
        // opens the journal counts every record in it as durable (a ledger may acknowledge them), so make that true.
        try sync()
    }

    /// A crash while a new segment was being created can leave its file shorter than a header, with nothing synced
    /// in it (the one before was synced first): such a last file is removed.
    private func removeInterruptedSegment(_ firstSeqs: inout [UInt64], logger: (String) -> Void) throws {
        guard firstSeqs.count > 1, let last = firstSeqs.last else { return }
        let path = journalDirectory + "/" + JournalSegment.fileName(firstSeq: last)
        var info = stat()
        guard stat(path, &info) == 0 else { throw StorageError.lastSystemCall("stat", path: path) }
        guard info.st_size < JournalSegment.headerByteCount else { return }
        guard unlink(path) == 0 else { throw StorageError.lastSystemCall("unlink", path: path) }
        try PosixIO.syncDirectory(journalDirectory)
        firstSeqs.removeLast()
        logger("journal: removed \(path), a segment whose creation a crash interrupted (\(info.st_size) bytes)")
    }

    private static func startsWithHeader(_ bytes: UnsafeRawBufferPointer) -> Bool {
        bytes.count >= 4 && UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: 0, as: UInt32.self)) == JournalSegment.magic
    }

    private static func legacyBase(firstSeq: UInt64, path: String) throws -> JournalSegment.Base {
        guard firstSeq == 1 else {
            throw StorageError.invalidContent(path: path, reason: "a segment without a header must start at seq 1")
        }
        return .init(seq: 0, epoch: 0, hash: .zero)
    }

    /// The floor: `seq` (within the scanned segment, or its base).
    private func setFloor(seq: UInt64, in scan: JournalScan) {
        floorSeq = seq
        if seq == scan.baseSeq {
            floorHash = scan.baseHash
            floorEpoch = scan.baseEpoch
        } else if seq < scan.nextSeq {
            let index = Int(seq - scan.baseSeq - 1)
            floorHash = scan.hashes[index]
            floorEpoch = scan.epochs[index]
        }
    }

    /// Adds the scanned records after `after` to the index.
    private func index(_ scan: JournalScan, from after: UInt64) {
        guard scan.nextSeq - 1 > after else { return }
        let first = Int(after - scan.baseSeq)
        offsets.append(contentsOf: scan.offsets[first...].lazy.map { $0 + UInt64(self.segments.last!.headerByteCount) })
        epochs.append(contentsOf: scan.epochs[first...])
        hashes.append(contentsOf: scan.hashes[first...])
    }

    /// Maps the file read-only for the start-up scan: the kernel streams it in, with no copy into our memory.
    private func withMappedFile<T>(fd: Int32, path: String, byteCount: Int,
                                   _ body: (UnsafeRawBufferPointer) throws -> T) throws -> T {
        guard byteCount > 0 else { return try body(UnsafeRawBufferPointer(start: nil, count: 0)) }
        guard let base = mmap(nil, byteCount, PROT_READ, MAP_SHARED, fd, 0), base != MAP_FAILED else {
            throw StorageError.lastSystemCall("mmap", path: path)
        }
        defer { munmap(base, byteCount) }
        _ = madvise(base, byteCount, MADV_SEQUENTIAL) // a hint; failure changes nothing
        return try body(UnsafeRawBufferPointer(start: base, count: byteCount))
    }

    // MARK: - Writing

    /// Writes `records` at the end of the active segment with one write (after starting a new segment if the
    /// active one is full). Not durable until the active segment is synced.
    ///
    /// The records must continue the journal — seq `lastSeq + 1` on, each `prevHash` the hash before, epochs not
    /// decreasing. That is the caller's invariant (the replication state machine checks what it receives), so a
    /// violation is a bug and traps rather than writing a broken chain that the next start would call corruption.
    public func append(_ records: [JournalRecord]) throws {
        guard !records.isEmpty else { return }
        checkContinuesJournal(records)
        try rollOverIfFull()
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
        try rollOverIfFull()
        try encoded.withUnsafeBytes { bytes in
            checkEncoding(bytes, matches: records)
            try write(bytes, of: records)
        }
    }

    /// Like `append`, but takes the records' encoding too; see the `ArraySlice` variant.
    public func appendEncoded(_ encoded: [UInt8], records: [JournalRecord]) throws {
        try appendEncoded(encoded[...], records: records)
    }

    /// The active segment's file, for a thread whose only use of it is `fdatasync` (the ledger's sync worker): a
    /// sync started after an `append` returned makes that append durable (an earlier segment was synced when the
    /// next one started). Ask again after each append: it changes when a new segment starts.
    public var activeDescriptor: Int32 {
        checkOpen()
        return segments[segments.count - 1].fd
    }

    public var activePath: String { segments[segments.count - 1].path }

    /// Makes everything appended so far durable (`fdatasync` of the active segment, which also persists its size).
    public func sync() throws {
        checkOpen()
        guard fdatasync(activeDescriptor) == 0 else { throw StorageError.lastSystemCall("fdatasync", path: activePath) }
    }

    /// Starts a new segment when the active one holds at least `segmentByteLimit` bytes: the active one is synced
    /// first, so that a sync of the new one covers everything, and the directory entry of the new one is synced.
    private func rollOverIfFull() throws {
        guard activeSegmentByteCount >= segmentByteLimit, lastSeq >= segments[segments.count - 1].firstSeq else { return }
        try sync()
        let active = segments.count - 1
        // The finished segment stays open read-only for catch-up reads until it falls below the floor.
        let readOnly = Glibc.open(segments[active].path, O_RDONLY | O_CLOEXEC)
        guard readOnly >= 0 else { throw StorageError.lastSystemCall("open", path: segments[active].path) }
        let next = try JournalSegment.create(in: journalDirectory, base: .init(seq: lastSeq, epoch: lastEpoch,
                                                                                hash: lastHash))
        Glibc.close(segments[active].fd)
        segments[active].fd = readOnly
        segments[active].byteCount = activeSegmentByteCount
        segments.append(next)
        activeSegmentByteCount = UInt64(JournalSegment.headerByteCount)
    }

    /// Drops every record after `seq`, durably (used when a rejoining follower discards records the cluster never
    /// committed). Nothing happens if `seq >= lastSeq`. Cuts never reach below the floor (committed records).
    public func truncate(after seq: UInt64) throws {
        checkOpen()
        guard seq < lastSeq else { return }
        precondition(seq >= floorSeq, "journal: cut after seq \(seq) is below the floor \(floorSeq)")
        // The segment that holds seq + 1 becomes the active one; later ones go.
        let keepIndex = segmentIndex(holding: seq + 1)
        for segment in segments[(keepIndex + 1)...].reversed() {
            Glibc.close(segment.fd)
            guard unlink(segment.path) == 0 else { throw StorageError.lastSystemCall("unlink", path: segment.path) }
        }
        segments.removeSubrange((keepIndex + 1)...)
        var keep = segments[keepIndex]
        if keepIndex < segments.count, fcntl(keep.fd, F_GETFL) & O_ACCMODE != O_RDWR {
            let writable = Glibc.open(keep.path, O_RDWR | O_CLOEXEC)
            guard writable >= 0 else { throw StorageError.lastSystemCall("open", path: keep.path) }
            Glibc.close(keep.fd)
            keep.fd = writable
            segments[keepIndex] = keep
        }
        let newSize = offset(of: seq + 1)
        guard ftruncate(keep.fd, off_t(newSize)) == 0 else { throw StorageError.lastSystemCall("ftruncate", path: keep.path) }
        // The files are shorter now whatever happens next, so the index must say so before the sync can throw.
        let keepCount = indexStart + Int(seq - floorSeq)
        offsets.removeSubrange(keepCount...)
        epochs.removeSubrange(keepCount...)
        hashes.removeSubrange(keepCount...)
        activeSegmentByteCount = newSize
        guard fsync(keep.fd) == 0 else { throw StorageError.lastSystemCall("fsync", path: keep.path) }
        try PosixIO.syncDirectory(journalDirectory)
    }

    /// Raises the floor to `seq` (a checkpoint holds the state there): records up to it are no longer indexed or
    /// read, and segments wholly below it are closed and, under `.delete` retention, removed.
    public func advanceFloor(to seq: UInt64) throws {
        checkOpen()
        guard seq > floorSeq else { return }
        precondition(seq <= lastSeq, "journal: floor \(seq) beyond the end \(lastSeq)")
        floorHash = hash(at: seq)!
        floorEpoch = epoch(at: seq)!
        indexStart += Int(seq - floorSeq)
        floorSeq = seq
        if indexStart > 4096 && indexStart >= offsets.count / 2 {
            offsets.removeSubrange(..<indexStart)
            epochs.removeSubrange(..<indexStart)
            hashes.removeSubrange(..<indexStart)
            indexStart = 0
        }
        // A segment is below the floor when the next one starts at or before the record after it.
        var removed = false
        while segments.count > 1, segments[1].firstSeq <= seq + 1 {
            let old = segments.removeFirst()
            Glibc.close(old.fd)
            if retention == .delete {
                guard unlink(old.path) == 0 else { throw StorageError.lastSystemCall("unlink", path: old.path) }
                removed = true
            }
        }
        if removed { try PosixIO.syncDirectory(journalDirectory) }
    }

    /// Replaces the whole journal by an empty one that continues `position` (a checkpoint installed from the
    /// leader holds the state there): every segment is removed and one new segment starts after it, durably.
    public func reset(after position: CheckpointFile.Position) throws {
        checkOpen()
        let fresh = try JournalSegment.create(in: journalDirectory,
                                              base: .init(seq: position.seq, epoch: position.epoch, hash: position.hash))
        for segment in segments where segment.path != fresh.path {
            Glibc.close(segment.fd)
            guard unlink(segment.path) == 0 else { throw StorageError.lastSystemCall("unlink", path: segment.path) }
        }
        if let stale = segments.first(where: { $0.path == fresh.path }) { Glibc.close(stale.fd) }
        // Segments below the old floor (kept by retention) belong to the replaced history too.
        for name in try PosixIO.fileNames(in: journalDirectory) {
            if let first = JournalSegment.firstSeq(ofFileName: name), first != position.seq + 1 {
                unlink(journalDirectory + "/" + name)
            }
        }
        try PosixIO.syncDirectory(journalDirectory)
        segments = [fresh]
        floorSeq = position.seq
        floorHash = position.hash
        floorEpoch = position.epoch
        offsets.removeAll()
        epochs.removeAll()
        hashes.removeAll()
        indexStart = 0
        activeSegmentByteCount = UInt64(JournalSegment.headerByteCount)
    }

    /// Closes the files (and releases the lock). Further use of the journal is a programming error.
    public func close() {
        guard lockFD >= 0 else { return }
        for segment in segments where segment.fd >= 0 { Glibc.close(segment.fd) }
        segments.removeAll()
        Glibc.close(lockFD)
        lockFD = -1
    }

    public var isOpen: Bool { lockFD >= 0 }

    /// A write buffer grown beyond this by a huge batch is released after use instead of kept.
    private static let retainedBufferCapacity = 8 << 20

    private func checkOpen() {
        precondition(lockFD >= 0, "journal in \(journalDirectory) is used after close()")
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

    /// Writes the encoding of `records` at the end of the active segment, then indexes them. If the write fails,
    /// the file is cut back so it still matches the index (a partial record would sit under the next offset).
    private func write(_ bytes: UnsafeRawBufferPointer, of records: [JournalRecord]) throws {
        let fd = activeDescriptor
        do {
            try PosixIO.writeAll(fd, bytes, at: activeSegmentByteCount, path: activePath)
        } catch {
            _ = ftruncate(fd, off_t(activeSegmentByteCount))
            throw error
        }
        // No reserveCapacity here: reserving an exact size on every append defeats the arrays' geometric growth and
        // copies the whole index on each call (quadratic; it made 1M appends take 12 s instead of 0.1 s).
        var offset = activeSegmentByteCount
        for record in records {
            offsets.append(offset)
            epochs.append(record.epoch)
            hashes.append(record.hash)
            offset += UInt64(record.encodedCount)
        }
        activeSegmentByteCount = offset
    }

    // MARK: - Reading

    /// Consecutive records from `seq` (see `JournalReading.records`), read with one `pread` from the segment that
    /// holds `seq` and decoded without re-hashing: `open` verified every record, and each decoded record is still
    /// checked against the index (seq and hash), so a file changed behind our back is caught.
    public func readRecords(from seq: UInt64, maxCount: Int, maxBytes: Int) throws -> [JournalRecord] {
        checkOpen()
        guard seq > floorSeq, seq <= lastSeq, maxCount >= 1 else { return [] }
        let segmentIndex = segmentIndex(holding: seq)
        let segment = segments[segmentIndex]
        let segmentEnd = segmentIndex + 1 < segments.count ? segments[segmentIndex + 1].firstSeq - 1 : lastSeq
        let first = position(of: seq)
        let lastAllowed = position(of: UInt64(maxCount) - 1 >= segmentEnd - seq ? segmentEnd : seq + UInt64(maxCount) - 1)
        let segmentSize = segmentIndex == segments.count - 1 ? activeSegmentByteCount : segment.byteCount
        let lastOfSegment = position(of: segmentEnd)
        func end(ofPosition index: Int) -> UInt64 { index < lastOfSegment ? offsets[index + 1] : segmentSize }
        let last = lastIndex(from: first, through: lastAllowed, maxBytes: maxBytes, end: end)
        let start = offsets[first]
        let length = Int(end(ofPosition: last) - start)
        if readBuffer.count < length || readBuffer.count > max(length, Self.retainedBufferCapacity) {
            readBuffer = [UInt8](repeating: 0, count: length)
        }
        try readBuffer.withUnsafeMutableBytes { raw in
            try PosixIO.readExactly(segment.fd, into: UnsafeMutableRawBufferPointer(rebasing: raw[0..<length]),
                                    at: start, path: segment.path)
        }
        var records: [JournalRecord] = []
        records.reserveCapacity(last - first + 1)
        try readBuffer.withUnsafeBytes { raw in
            var offset = 0
            for index in first...last {
                let expectedSeq = floorSeq + UInt64(index - indexStart) + 1
                let rest = UnsafeRawBufferPointer(rebasing: raw[offset..<length])
                guard case let .frame(frame) = RecordFrame.parse(rest, verify: false),
                      frame.seq == expectedSeq, frame.hash == hashes[index]
                else {
                    throw JournalError.corrupted(path: segment.path, offset: start + UInt64(offset), seq: expectedSeq,
                                                 reason: "the record no longer matches what open() verified: the "
                                                     + "file was changed behind the journal's back")
                }
                records.append(frame.record(in: rest))
                offset += frame.byteCount
            }
        }
        return records
    }

    /// The index position of `seq` (which must be indexed).
    private func position(of seq: UInt64) -> Int { indexStart + Int(seq - floorSeq - 1) }

    /// The segment holding `seq` (which must be after the floor, or the start of the active segment).
    private func segmentIndex(holding seq: UInt64) -> Int {
        var low = 0
        var high = segments.count - 1
        while low < high {
            let middle = (low + high + 1) / 2
            if segments[middle].firstSeq <= seq { low = middle } else { high = middle - 1 }
        }
        return low
    }

    /// Where the record with `seq` starts in its segment (or would start, for `lastSeq + 1`).
    private func offset(of seq: UInt64) -> UInt64 {
        if seq <= lastSeq { return offsets[position(of: seq)] }
        return activeSegmentByteCount
    }

    /// The last index to read from `first`: as many records as fit in `maxBytes`, but at least one. Offsets grow
    /// within a segment, so a binary search finds it.
    private func lastIndex(from first: Int, through limit: Int, maxBytes: Int, end: (Int) -> UInt64) -> Int {
        let start = offsets[first]
        let byteLimit = UInt64(max(maxBytes, 0))
        var low = first // always acceptable: the first record is returned whatever its size
        var high = limit
        while low < high {
            let middle = low + (high - low + 1) / 2
            if end(middle) - start <= byteLimit {
                low = middle
            } else {
                high = middle - 1
            }
        }
        return low
    }
}
