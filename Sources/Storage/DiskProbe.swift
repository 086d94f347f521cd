import Glibc

/// Checks that a directory's disk accepts writes again: writes `byteCount` bytes to a probe file, syncs it and
/// removes it. A ledger whose storage failed runs this until it succeeds before it rebuilds itself from disk.
public enum DiskProbe {
    public static let fileName = "disk-probe.tmp"

    public static func writeAndSync(in directory: String, byteCount: Int) throws {
        let path = directory + "/" + fileName
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw StorageError.lastSystemCall("open", path: path) }
        defer {
            close(fd)
            unlink(path)
        }
        let bytes = [UInt8](repeating: 0, count: byteCount)
        try bytes.withUnsafeBytes { try PosixIO.writeAll(fd, $0, at: 0, path: path) }
        guard fsync(fd) == 0 else { throw StorageError.lastSystemCall("fsync", path: path) }
    }
}
