#if canImport(Glibc)
import Glibc
#endif

/// Small files that must survive a crash whole: written to a temporary file, fsync'd, renamed over the old one,
/// and the directory fsync'd. A reader sees the old content or the new, never a mix.
public enum DurableFile {
    public static func write(_ bytes: [UInt8], to path: String) throws {
        let temporary = path + ".tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw JournalError.system("open", temporary) }
        var written = 0
        while written < bytes.count {
            let result = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + written, $0.count - written) }
            if result < 0 {
                if errno == EINTR { continue }
                close(fd)
                throw JournalError.system("write", temporary)
            }
            written += result
        }
        guard fsync(fd) == 0 else { close(fd); throw JournalError.system("fsync", temporary) }
        close(fd)
        guard rename(temporary, path) == 0 else { throw JournalError.system("rename", path) }
        let directory = path.contains("/") ? String(path[..<path.lastIndex(of: "/")!]) : "."
        let dirFD = open(directory.isEmpty ? "/" : directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard dirFD >= 0 else { throw JournalError.system("open", directory) }
        defer { close(dirFD) }
        guard fsync(dirFD) == 0 else { throw JournalError.system("fsync", directory) }
    }

    /// The file's bytes, or nil if it does not exist.
    public static func read(path: String) throws -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            if errno == ENOENT { return nil }
            throw JournalError.system("open", path)
        }
        defer { close(fd) }
        var result: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress!, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw JournalError.system("read", path)
            }
            if count == 0 { return result }
            result.append(contentsOf: chunk[0..<count])
        }
    }
}
