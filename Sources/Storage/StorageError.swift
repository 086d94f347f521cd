import Glibc

/// A storage operation failed for a reason outside the data itself: a system call failed, a file is locked by
/// another process, a small state file does not parse. Every case names the file, so the log line is actionable.
public enum StorageError: Error, Hashable, Sendable, CustomStringConvertible {
    /// `call` failed on `path` with `errno`.
    case systemCall(_ call: String, path: String, errno: Int32)
    /// The file ended before the bytes the index says are there: it was changed behind the journal's back.
    case shortRead(path: String, offset: UInt64, expected: Int, got: Int)
    /// Another process holds the journal open (two ledgers on one data directory would interleave writes).
    case locked(path: String)
    /// A small state file exists but its content is unusable.
    case invalidContent(path: String, reason: String)

    public var description: String {
        switch self {
        case let .systemCall(call, path, code):
            return "\(call) \(path) failed: \(String(cString: strerror(code))) (errno \(code))"
        case let .shortRead(path, offset, expected, got):
            return "read \(path) at offset \(offset): expected \(expected) bytes, the file ended after \(got); "
                + "was the file changed by another program?"
        case let .locked(path):
            return "\(path) is locked by another process: is another ledger running on this data directory?"
        case let .invalidContent(path, reason):
            return "\(path) is unreadable: \(reason)"
        }
    }

    /// A failure of the disk or the file system (a write or sync that failed, no space) rather than of content.
    public var isDiskFailure: Bool {
        if case .systemCall = self { return true }
        return false
    }

    /// The error for a system call that just failed; reads `errno` at once, before anything can overwrite it.
    static func lastSystemCall(_ call: String, path: String) -> StorageError {
        .systemCall(call, path: path, errno: errno)
    }
}
