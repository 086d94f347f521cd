import Glibc

/// Small files that must survive a crash whole (node metadata, the gateway's state).
///
/// `write` puts the bytes in `<path>.tmp`, fsyncs it, renames it over `path` and fsyncs the directory: rename is
/// atomic, so a reader — or a restart after a crash at any point — sees the old content or the new, never a torn
/// mix, and once `write` returns the new content survives a power cut.
public enum DurableFile {
    public static func write(_ bytes: [UInt8], to path: String) throws {
        let temporary = path + ".tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw StorageError.lastSystemCall("open", path: temporary) }
        do {
            try bytes.withUnsafeBytes { try PosixIO.writeAll(fd, $0, at: 0, path: temporary) }
            guard fsync(fd) == 0 else { throw StorageError.lastSystemCall("fsync", path: temporary) }
        } catch {
            close(fd)
            unlink(temporary)
            throw error
        }
        guard close(fd) == 0 else { throw StorageError.lastSystemCall("close", path: temporary) }
        guard rename(temporary, path) == 0 else { throw StorageError.lastSystemCall("rename", path: path) }
        try PosixIO.syncDirectory(PosixIO.parentDirectory(of: path))
    }

    /// The file's bytes, or nil if it does not exist.
    public static func read(path: String) throws -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            if errno == ENOENT { return nil }
            throw StorageError.lastSystemCall("open", path: path)
        }
        defer { close(fd) }
        var bytes = [UInt8](repeating: 0, count: Int(try PosixIO.fileSize(fd, path: path)))
        var count = try bytes.withUnsafeMutableBytes { try PosixIO.read(fd, into: $0, at: 0, path: path) }
        // The file may have grown since fstat (nobody should write it, but a read must not lose bytes).
        while count == bytes.count {
            bytes.append(contentsOf: repeatElement(0, count: 4096))
            let more = try bytes.withUnsafeMutableBytes { raw in
                try PosixIO.read(fd, into: UnsafeMutableRawBufferPointer(rebasing: raw[count...]), at: UInt64(count),
                                 path: path)
            }
            count += more
            if more == 0 { break }
        }
        bytes.removeSubrange(count...)
        return bytes
    }
}
