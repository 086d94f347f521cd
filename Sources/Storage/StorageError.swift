#if canImport(Glibc)
import Glibc
#endif

public enum JournalError: Error, CustomStringConvertible, Sendable {
    case system(operation: String, path: String, code: Int32)
    case corrupted(path: String, offset: Int, seq: UInt64, reason: String)

    static func system(_ operation: String, _ path: String) -> JournalError {
        .system(operation: operation, path: path, code: errno)
    }

    public var description: String {
        switch self {
        case let .system(operation, path, code):
            return "\(operation) \(path): \(String(cString: strerror(code)))"
        case let .corrupted(path, offset, seq, reason):
            return "journal \(path) is corrupted at byte \(offset) (record seq \(seq)): \(reason), and valid records "
                + "follow it. Refusing to start rather than serve wrong balances: restore this node's data from its "
                + "peer (delete its data directory and let it catch up) or from a backup."
        }
    }
}
