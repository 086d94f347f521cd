/// What a request asks for, as far as counting requests goes (metrics labels): the `"op"` of a request the
/// protocol knows, or `invalid` for everything else (so a client cannot invent label values).
public enum RequestKind: String, Hashable, Sendable, CaseIterable {
    case openAccount = "open_account"
    case deposit, withdraw, transfer, hold, capture, release, freeze, unfreeze
    case balance, statement, audit, batch, status, switchover
    case invalid
}

extension RequestPeek {
    /// The request's kind from its top-level `"op"`, without parsing it: one byte scan that skips nested objects
    /// and arrays (a batch's items) and strings. An op the scan cannot read plainly (escaped, not a string, absent)
    /// is `invalid` — the decoder then says why, or (escapes) decodes it anyway; only the label is lost.
    public static func kind(of body: [UInt8]) -> RequestKind {
        body.withUnsafeBufferPointer { body in
            guard let op = topLevelPlainString(key: "op", in: body) else { return .invalid }
            return RequestKind(rawValue: op) ?? .invalid
        }
    }

    /// The request's kind for deciding what a client may do: `kind(of:)`, and where that cannot read the op, a full
    /// parse, so that an op spelled with escapes (`"tr\u0061nsfer"`), which the ledger's decoder reads as the op it
    /// spells, is judged as that op and not waved through as `invalid`.
    public static func authoritativeKind(of body: [UInt8]) -> RequestKind {
        let quick = kind(of: body)
        guard quick == .invalid, body.count <= ClientLimits.maximumRequestBytes else { return quick }
        return body.withUnsafeBufferPointer { buffer in
            guard case .success(let value) = JSONValue.parseResult(buffer, maxDepth: ClientLimits.maximumDepth),
                  case .object(let object) = value, case .string(let op)? = object["op"] else { return .invalid }
            return RequestKind(rawValue: op) ?? .invalid
        }
    }

    /// The plain (escape-free) string value of `key` in the top-level JSON object, if the scan finds one.
    static func topLevelPlainString(key: String, in body: UnsafeBufferPointer<UInt8>) -> String? {
        let key = Array(key.utf8)
        let n = body.count
        var depth = 0, i = 0
        while i < n {
            let byte = body[i]
            switch byte {
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                depth += 1
                i += 1
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                depth -= 1
                i += 1
            case UInt8(ascii: "\""):
                let start = i + 1
                var end = start
                while end < n, body[end] != UInt8(ascii: "\"") { end += body[end] == UInt8(ascii: "\\") ? 2 : 1 }
                guard end < n else { return nil }
                i = end + 1
                guard depth == 1, end - start == key.count,
                      (0..<key.count).allSatisfy({ body[start + $0] == key[$0] }) else { continue }
                var j = i
                while j < n, isSpace(body[j]) { j += 1 }
                guard j < n, body[j] == UInt8(ascii: ":") else { continue } // a value that reads like the key
                j += 1
                while j < n, isSpace(body[j]) { j += 1 }
                guard j < n, body[j] == UInt8(ascii: "\"") else { return nil }
                let valueStart = j + 1
                var valueEnd = valueStart
                while valueEnd < n, body[valueEnd] != UInt8(ascii: "\""), body[valueEnd] != UInt8(ascii: "\\") {
                    valueEnd += 1
                }
                guard valueEnd < n, body[valueEnd] == UInt8(ascii: "\"") else { return nil }
                return String(decoding: UnsafeBufferPointer(rebasing: body[valueStart..<valueEnd]), as: UTF8.self)
            default:
                i += 1
            }
        }
        return nil
    }

    @inline(__always)
    private static func isSpace(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D }
}

/// How a request ended, from its reply (metrics labels): `ok`, an error code, or `unknown` for a body this
/// program did not write.
public enum ReplyOutcome: Hashable, Sendable {
    case ok
    case error(ErrorCode)
    case unknown

    public var label: String {
        switch self {
        case .ok: return "ok"
        case let .error(code): return code.rawValue
        case .unknown: return "unknown"
        }
    }

    /// Every reply starts `{"ok":true` or `{"ok":false,"error":"CODE"` (`ReplyEncoder`): read that far only.
    public init(reply body: [UInt8]) {
        self = body.withUnsafeBufferPointer { body in
            let success = Array(#"{"ok":true"#.utf8), failure = Array(#"{"ok":false,"error":""#.utf8)
            func starts(with prefix: [UInt8]) -> Bool {
                body.count >= prefix.count && (0..<prefix.count).allSatisfy { body[$0] == prefix[$0] }
            }
            if starts(with: success) { return .ok }
            guard starts(with: failure) else { return .unknown }
            var end = failure.count
            while end < body.count, end - failure.count <= 32, body[end] != UInt8(ascii: "\"") { end += 1 }
            guard end < body.count, body[end] == UInt8(ascii: "\"") else { return .unknown }
            let code = String(decoding: UnsafeBufferPointer(rebasing: body[failure.count..<end]), as: UTF8.self)
            return ErrorCode(rawValue: code).map(ReplyOutcome.error) ?? .unknown
        }
    }
}
