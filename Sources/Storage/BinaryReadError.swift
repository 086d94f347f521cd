/// Why `BinaryReader` could not read what was asked: the input is short or malformed. Offsets count from the start
/// of the reader's input, so a log line can point at the bad byte.
public enum BinaryReadError: Error, Hashable, Sendable, CustomStringConvertible {
    /// Fewer bytes remain than the value needs.
    case shortInput(offset: Int, needed: Int, available: Int)
    /// A string's bytes are not UTF-8.
    case invalidUTF8(offset: Int)
    /// Bytes remain after the message should have ended.
    case trailingBytes(offset: Int, count: Int)
    /// The bytes are there but make no sense (a corrupt record, a broken chain, an impossible count).
    case malformed(offset: Int, reason: String)

    public var description: String {
        switch self {
        case let .shortInput(offset, needed, available):
            return "input too short at byte \(offset): need \(needed) bytes, \(available) left"
        case let .invalidUTF8(offset):
            return "string at byte \(offset) is not valid UTF-8"
        case let .trailingBytes(offset, count):
            return "\(count) unexpected bytes after the end of the message at byte \(offset)"
        case let .malformed(offset, reason):
            return "malformed input at byte \(offset): \(reason)"
        }
    }
}
