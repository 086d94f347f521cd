import Crypto
import Glibc

/// Checkpoint files: the ledger's state at a committed seq, in `checkpoints/` beside the journal.
///
///     header  = magic "BKCP" u32 | version u32 (= 1) | seq u64 | epoch u64 | hash 32 | reserved u64  (64 bytes)
///     file    = header | body | bodyLength u64 | sha256 32
///
/// `seq`, `epoch` and `hash` name the journal record the state is taken after, so a restart can check that its
/// journal holds that very record before replaying the records after it. The SHA-256 covers everything before it:
/// a torn or bit-rotted checkpoint is detected and skipped (the previous one is used).
///
/// Writing streams the body (it can be large) into `checkpoint-<seq>.tmp`, fsyncs it, renames it to
/// `checkpoint-<seq>.ckpt` and fsyncs the directory: a crash at any point leaves either no new checkpoint or a
/// whole one. Leftover temporary files are removed by the next write. The newest `retainedCount` are kept.
public enum CheckpointFile {
    public static let directoryName = "checkpoints"
    public static let retainedCount = 3
    static let magic: UInt32 = 0x5043_4B42 // "BKCP"
    static let version: UInt32 = 1
    static let headerByteCount = 64
    static let trailerByteCount = 8 + 32
    /// A checkpoint being written is written back to disk this many bytes at a time (`sync_file_range`, waiting
    /// for the pages, then one `fsync` at the end). A journal `fdatasync` of the ledger that comes meanwhile
    /// commits the file system's journal, which first writes out the checkpoint's dirty pages (ext4's ordered
    /// mode): 1 MiB bounds that wait to a millisecond or two (at 4 MiB, with a checkpoint every 400,000 mutations,
    /// `make bench`'s latency phase p99 rose when a checkpoint was being written). Writing back instead of a
    /// `fdatasync` per MiB spares a commit of the file system's journal per MiB, which the ledger's own syncs
    /// queued behind: the latency phase's p99 median went from 0.94 to 0.79 ms (3 runs each, alternating).
    static let flushIntervalBytes: UInt64 = 1 << 20

    /// What a checkpoint says about the journal position it was taken at.
    public struct Position: Hashable, Sendable, CustomStringConvertible {
        public var seq: UInt64
        public var epoch: UInt64
        public var hash: RecordHash
        public init(seq: UInt64, epoch: UInt64, hash: RecordHash) {
            self.seq = seq
            self.epoch = epoch
            self.hash = hash
        }
        public var description: String { "seq \(seq) (epoch \(epoch), hash \(hash))" }
    }

    public static func directory(in dataDirectory: String) -> String { dataDirectory + "/" + directoryName }

    static func fileName(seq: UInt64) -> String {
        let digits = String(seq)
        return "checkpoint-" + String(repeating: "0", count: max(0, 20 - digits.count)) + digits + ".ckpt"
    }

    /// Writes a checkpoint durably; `body` streams the state to the writer it is given. Returns the bytes written.
    @discardableResult
    public static func write(in dataDirectory: String, at position: Position,
                             body: ((UnsafeRawBufferPointer) throws -> Void) throws -> Void) throws -> UInt64 {
        let directory = directory(in: dataDirectory)
        try PosixIO.makeDirectories(directory)
        removeTemporaryFiles(in: directory)
        let finalPath = directory + "/" + fileName(seq: position.seq)
        let temporary = finalPath.dropLast(".ckpt".count) + ".tmp"
        let fd = open(String(temporary), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw StorageError.lastSystemCall("open", path: String(temporary)) }
        var offset: UInt64 = 0
        do {
            var hasher = SHA256()
            var flushedOffset: UInt64 = 0
            func put(_ bytes: UnsafeRawBufferPointer) throws {
                try PosixIO.writeAll(fd, bytes, at: offset, path: String(temporary))
                hasher.update(bufferPointer: bytes)
                offset += UInt64(bytes.count)
                // Written back a few MiB at a time: hundreds of MiB of dirty pages flushed by one final fsync made
                // the journal's own fdatasync wait seconds behind it (ext4 orders them), stalling every commit.
                if offset - flushedOffset >= flushIntervalBytes {
                    try PosixIO.writeBack(fd, offset: flushedOffset, length: offset - flushedOffset,
                                          path: String(temporary))
                    flushedOffset = offset
                }
            }
            try header(position).withUnsafeBytes(put)
            try body(put)
            let bodyLength = offset - UInt64(headerByteCount)
            try withUnsafeBytes(of: bodyLength.littleEndian, put)
            let digest = Array(hasher.finalize()) // the same trailer as `encode`
            try digest.withUnsafeBytes { try PosixIO.writeAll(fd, $0, at: offset, path: String(temporary)) }
            offset += UInt64(digest.count)
            guard fsync(fd) == 0 else { throw StorageError.lastSystemCall("fsync", path: String(temporary)) }
        } catch {
            close(fd)
            unlink(String(temporary))
            throw error
        }
        guard close(fd) == 0 else { throw StorageError.lastSystemCall("close", path: String(temporary)) }
        guard rename(String(temporary), finalPath) == 0 else { throw StorageError.lastSystemCall("rename", path: finalPath) }
        try PosixIO.syncDirectory(directory)
        try prune(dataDirectory: dataDirectory)
        return offset
    }

    /// Where the journal's floor may move once a checkpoint is written: the oldest kept checkpoint, but only once at
    /// least two are kept — with one, a follower a little behind it still catches up from the journal instead of
    /// needing the whole checkpoint. Nil: leave the floor where it is.
    public static func floorCandidate(keptSeqs seqs: [UInt64]) -> UInt64? {
        seqs.count >= 2 ? seqs.min() : nil
    }

    /// The seqs of the checkpoint files present, newest first (their content is not checked here).
    public static func seqs(in dataDirectory: String) throws -> [UInt64] {
        try PosixIO.fileNames(in: directory(in: dataDirectory)).compactMap(seq(ofFileName:)).sorted(by: >)
    }

    /// Calls `body` with each checkpoint that verifies, newest first, until it returns a value: a damaged one, or one
    /// `body` rejects (by throwing), is reported through `logger` and the next older one is tried. Nil when none is
    /// usable. The body's bytes are valid only during the call (the file is mapped).
    public static func loadNewest<T>(in dataDirectory: String, logger: (String) -> Void,
                                     _ body: (Position, UnsafeRawBufferPointer) throws -> T) throws -> T? {
        let directory = directory(in: dataDirectory)
        for seq in try seqs(in: dataDirectory) {
            let path = directory + "/" + fileName(seq: seq)
            do {
                return try withVerifiedFile(path: path, body)
            } catch {
                logger("checkpoint \(path) is unusable, trying an older one: \(error)")
            }
        }
        return nil
    }

    /// Maps the file, checks its length, header and checksum, and hands `body` the position and the state bytes.
    public static func withVerifiedFile<T>(path: String,
                                           _ body: (Position, UnsafeRawBufferPointer) throws -> T) throws -> T {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw StorageError.lastSystemCall("open", path: path) }
        defer { close(fd) }
        let size = Int(try PosixIO.fileSize(fd, path: path))
        guard size >= headerByteCount + trailerByteCount else {
            throw StorageError.invalidContent(path: path, reason: "\(size) bytes is too short for a checkpoint")
        }
        guard let base = mmap(nil, size, PROT_READ, MAP_SHARED, fd, 0), base != MAP_FAILED else {
            throw StorageError.lastSystemCall("mmap", path: path)
        }
        defer { munmap(base, size) }
        _ = madvise(base, size, MADV_SEQUENTIAL)
        let (position, state) = try verify(UnsafeRawBufferPointer(start: base, count: size), path: path)
        return try body(position, state)
    }

    /// Checks a whole checkpoint file's bytes (length, header, checksum); returns its position and state bytes.
    public static func verify(_ bytes: UnsafeRawBufferPointer,
                              path: String) throws -> (Position, UnsafeRawBufferPointer) {
        func invalid(_ reason: String) -> StorageError { .invalidContent(path: path, reason: reason) }
        let size = bytes.count
        guard size >= headerByteCount + trailerByteCount else {
            throw invalid("\(size) bytes is too short for a checkpoint")
        }
        guard UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: 0, as: UInt32.self)) == magic else {
            throw invalid("not a checkpoint (bad magic)")
        }
        guard UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: 4, as: UInt32.self)) == version else {
            throw invalid("unknown checkpoint version")
        }
        let bodyEnd = size - trailerByteCount
        let bodyLength = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: bodyEnd, as: UInt64.self))
        guard bodyLength == UInt64(bodyEnd - headerByteCount) else {
            throw invalid("length field says \(bodyLength) bytes of state, the file holds \(bodyEnd - headerByteCount)")
        }
        var hasher = SHA256()
        hasher.update(bufferPointer: UnsafeRawBufferPointer(rebasing: bytes[0..<(bodyEnd + 8)]))
        let computed = RecordHash(hasher.finalize())
        guard computed == RecordHash(loadingFrom: bytes, at: bodyEnd + 8) else {
            throw invalid("checksum mismatch: the file is torn or damaged")
        }
        let position = Position(seq: UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: 8, as: UInt64.self)),
                                epoch: UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: 16, as: UInt64.self)),
                                hash: RecordHash(loadingFrom: bytes, at: 24)!)
        return (position, UnsafeRawBufferPointer(rebasing: bytes[headerByteCount..<bodyEnd]))
    }

    /// A whole checkpoint file's bytes in memory (the simulator's disk; tests).
    public static func encode(position: Position, body: [UInt8]) -> [UInt8] {
        var bytes = header(position) + body
        withUnsafeBytes(of: UInt64(body.count).littleEndian) { bytes.append(contentsOf: $0) }
        var hasher = SHA256()
        bytes.withUnsafeBytes { hasher.update(bufferPointer: $0) }
        bytes.append(contentsOf: hasher.finalize())
        return bytes
    }

    // MARK: - A checkpoint received from the leader

    static let stagingFileName = "incoming.part"

    /// Writes a piece of a checkpoint file received from the leader into `checkpoints/incoming.part` (offset 0
    /// starts it afresh). Durable only once `installStaged` has synced it.
    public static func stage(in dataDirectory: String, offset: UInt64, bytes: [UInt8]) throws {
        let directory = directory(in: dataDirectory)
        try PosixIO.makeDirectories(directory)
        let path = directory + "/" + stagingFileName
        let fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | (offset == 0 ? O_TRUNC : 0), 0o644)
        guard fd >= 0 else { throw StorageError.lastSystemCall("open", path: path) }
        defer { close(fd) }
        try bytes.withUnsafeBytes { try PosixIO.writeAll(fd, $0, at: offset, path: path) }
        // Written back as it arrives, a few MiB at a time, as a checkpoint being written is: one fsync of hundreds
        // of MiB at install would hold up the journal's syncs behind it.
        let end = offset + UInt64(bytes.count)
        if end / flushIntervalBytes != offset / flushIntervalBytes {
            let from = offset / flushIntervalBytes * flushIntervalBytes
            try PosixIO.writeBack(fd, offset: from, length: end - from, path: path)
        }
    }

    /// Makes the staged file the newest checkpoint, durably, if it verifies, holds `position` and `load` accepts its
    /// state; every other checkpoint goes (they belong to the history it replaces). Returns what `load` returned.
    public static func installStaged<T>(in dataDirectory: String, at position: Position,
                                        load: (Position, UnsafeRawBufferPointer) throws -> T) throws -> T {
        let directory = directory(in: dataDirectory)
        let staged = directory + "/" + stagingFileName
        let fd = open(staged, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw StorageError.lastSystemCall("open", path: staged) }
        let synced = fsync(fd) == 0
        close(fd)
        guard synced else { throw StorageError.lastSystemCall("fsync", path: staged) }
        let loaded = try withVerifiedFile(path: staged) { found, body in
            guard found == position else {
                throw StorageError.invalidContent(path: staged, reason: "holds \(found), expected \(position)")
            }
            return try load(found, body)
        }
        let finalPath = directory + "/" + fileName(seq: position.seq)
        guard rename(staged, finalPath) == 0 else { throw StorageError.lastSystemCall("rename", path: finalPath) }
        for seq in try seqs(in: dataDirectory) where seq != position.seq {
            removeGradually(directory + "/" + fileName(seq: seq))
        }
        try PosixIO.syncDirectory(directory)
        return loaded
    }

    static func header(_ position: Position) -> [UInt8] {
        var writer = BinaryWriter(reservingCapacity: headerByteCount)
        writer.write(magic)
        writer.write(version)
        writer.write(position.seq)
        writer.write(position.epoch)
        writer.write(position.hash)
        writer.write(UInt64(0))
        precondition(writer.bytes.count == headerByteCount, "checkpoint header is \(writer.bytes.count) bytes")
        return writer.bytes
    }

    static func seq(ofFileName name: String) -> UInt64? {
        guard name.hasPrefix("checkpoint-"), name.hasSuffix(".ckpt") else { return nil }
        return UInt64(name.dropFirst("checkpoint-".count).dropLast(".ckpt".count))
    }

    /// Keeps the newest `retainedCount` checkpoints.
    static func prune(dataDirectory: String) throws {
        for seq in try seqs(in: dataDirectory).dropFirst(retainedCount) {
            removeGradually(directory(in: dataDirectory) + "/" + fileName(seq: seq))
        }
    }

    /// Removes a large file a slice at a time: unlinking hundreds of MiB at once frees all its extents in one file
    /// system transaction, and the journal's appends and syncs, which need the same file system journal, wait for
    /// it (seen as heartbeat silences when an old checkpoint was deleted).
    static func removeGradually(_ path: String, sliceBytes: Int64 = 32 << 20) {
        let fd = open(path, O_WRONLY | O_CLOEXEC)
        if fd >= 0 {
            var size = Int64((try? PosixIO.fileSize(fd, path: path)) ?? 0)
            while size > sliceBytes {
                size -= sliceBytes
                guard ftruncate(fd, off_t(size)) == 0 else { break }
                usleep(2_000) // let other writers' transactions in between
            }
            close(fd)
        }
        unlink(path)
    }

    static func removeTemporaryFiles(in directory: String) {
        for name in (try? PosixIO.fileNames(in: directory)) ?? [] where name.hasSuffix(".tmp") {
            unlink(directory + "/" + name)
        }
    }

}

/// The last commit seq a ledger knew, kept durably beside its journal (`commit-floor`): records up to it were
/// committed, so a restarted ledger never needs to cut them and keeps undo logs only for the records after it.
/// A floor is a lower bound: writing an older value late is harmless, losing the file only means a lower floor.
public enum CommitFloorFile {
    public static let fileName = "commit-floor"

    public static func load(directory: String) throws -> UInt64? {
        let path = directory + "/" + fileName
        guard let bytes = try DurableFile.read(path: path) else { return nil }
        guard let text = String(validating: bytes, as: UTF8.self),
              let seq = UInt64(text.trimmingSuffix(while: { $0 == "\n" }))
        else { throw StorageError.invalidContent(path: path, reason: "not a seq") }
        return seq
    }

    public static func store(_ seq: UInt64, directory: String) throws {
        try DurableFile.write(Array((String(seq) + "\n").utf8), to: directory + "/" + fileName)
    }
}

extension String {
    fileprivate func trimmingSuffix(while predicate: (Character) -> Bool) -> Substring {
        var end = endIndex
        while end > startIndex, predicate(self[index(before: end)]) { end = index(before: end) }
        return self[..<end]
    }
}

/// What the replication state machine reads of checkpoint files: pieces of a whole file, to send to a follower
/// that is below the floor. Reads are synchronous, like journal reads; the file may be gone (a newer checkpoint
/// replaced it), and then the answer is nil.
public protocol CheckpointReading: AnyObject {
    /// Up to `maxBytes` of the checkpoint file at `seq` from `offset`, and the file's size.
    func checkpointBytes(seq: UInt64, offset: UInt64, maxBytes: Int) -> (totalBytes: UInt64, bytes: [UInt8])?
}

/// No checkpoints (tests that do not need them).
public final class NoCheckpoints: CheckpointReading {
    public init() {}
    public func checkpointBytes(seq: UInt64, offset: UInt64, maxBytes: Int) -> (totalBytes: UInt64, bytes: [UInt8])? {
        nil
    }
}

/// Reads checkpoint files in a data directory, keeping the one being sent open.
public final class FileCheckpointReader: CheckpointReading {
    private let dataDirectory: String
    private var open: (seq: UInt64, fd: Int32, size: UInt64)?

    public init(dataDirectory: String) { self.dataDirectory = dataDirectory }
    deinit { close() }

    public func checkpointBytes(seq: UInt64, offset: UInt64, maxBytes: Int) -> (totalBytes: UInt64, bytes: [UInt8])? {
        if open?.seq != seq {
            close()
            let path = CheckpointFile.directory(in: dataDirectory) + "/" + CheckpointFile.fileName(seq: seq)
            let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0, let size = try? PosixIO.fileSize(fd, path: path) else {
                if fd >= 0 { Glibc.close(fd) }
                return nil
            }
            open = (seq, fd, size)
        }
        guard let (_, fd, size) = open, offset <= size else { return nil }
        var bytes = [UInt8](repeating: 0, count: Int(min(UInt64(max(maxBytes, 1)), size - offset)))
        let path = "checkpoint \(seq)"
        guard (try? bytes.withUnsafeMutableBytes({ try PosixIO.readExactly(fd, into: $0, at: offset, path: path) })) != nil
        else {
            close()
            return nil
        }
        return (size, bytes)
    }

    /// Releases the open file (an unlinked checkpoint's space is freed once it is closed).
    public func close() {
        if let (_, fd, _) = open { Glibc.close(fd) }
        open = nil
    }
}
