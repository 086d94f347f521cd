/// Requests the gateway answers itself instead of forwarding to the ledger.
public enum GatewayOperation: String, Hashable, Sendable {
    case status
    case switchover
}

/// A cheap look at a request body, for the gateway's forwarding path.
public enum RequestPeek {
    /// `.status` / `.switchover` when `body` is a JSON object whose `"op"` is that string; nil for everything else
    /// (including malformed or oversized bodies, which the ledger's decoder then rejects properly).
    ///
    /// Cost: one byte scan looking for the literal `"status"` or `"switchover"`; only a body containing one of
    /// them is parsed, and then `"op"` itself must equal it (so a transfer whose reference is `"status"` is
    /// forwarded). An op spelled with `\u` escapes is not recognised here; it reaches the ledger, which answers
    /// `unknown_op`.
    public static func gatewayOperation(in body: [UInt8]) -> GatewayOperation? {
        body.withUnsafeBufferPointer { gatewayOperation(in: $0) }
    }

    public static func gatewayOperation(in body: UnsafeRawBufferPointer) -> GatewayOperation? {
        gatewayOperation(in: body.assumingMemoryBound(to: UInt8.self))
    }

    public static func gatewayOperation(in body: UnsafeBufferPointer<UInt8>) -> GatewayOperation? {
        guard body.count <= ClientLimits.maximumRequestBytes, mentionsGatewayOp(body) else { return nil }
        guard case .success(let value) = JSONValue.parseResult(body, maxDepth: ClientLimits.maximumDepth),
              case .object(let object) = value,
              case .string(let op)? = object["op"]
        else { return nil }
        return GatewayOperation(rawValue: op)
    }

    /// The top-level `"request_id"` of a request, when it is a JSON object of at most `maxBytes` holding one as a
    /// string; nil otherwise (and for a batch, whose ids are its items'). For the gateway's refusals, which under a
    /// flood come by the hundred thousand per second: one byte scan for the first `"request_id"` key followed by a
    /// plain string; anything less simple (escapes, a nested object, a batch) takes a full parse.
    public static func requestID(in body: [UInt8], maxBytes: Int = 64 << 10) -> String? {
        guard body.count <= maxBytes else { return nil }
        return body.withUnsafeBufferPointer { buffer in
            switch scanRequestID(buffer) {
            case .found(let id): return id
            case .absent: return nil
            case .unsure: break
            }
            guard case .success(let value) = JSONValue.parseResult(buffer, maxDepth: ClientLimits.maximumDepth),
                  case .object(let object) = value, object["op"]?.stringValue != "batch",
                  case .string(let id)? = object["request_id"] else { return nil }
            return id
        }
    }

    private enum Scan { case found(String), absent, unsure }

    /// `"request_id"` can only appear unescaped as a key or as a whole string value (a quote inside a string is
    /// escaped); a key is followed by `:`. Flat requests (every op but `batch`) have no nested objects, so the
    /// first key found is the top-level one.
    private static func scanRequestID(_ body: UnsafeBufferPointer<UInt8>) -> Scan {
        let key: StaticString = "\"request_id\""
        let n = body.count, length = key.utf8CodeUnitCount
        var depth = 0, i = 0, inString = false
        while i < n {
            let byte = body[i]
            if inString {
                if byte == UInt8(ascii: "\\") { i += 2; continue }
                if byte == UInt8(ascii: "\"") { inString = false }
                i += 1
                continue
            }
            switch byte {
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                depth += 1
                if depth > 1 { return .unsure } // a batch, or something the decoder will refuse
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                depth -= 1
            case UInt8(ascii: "\""):
                guard depth == 1, matches(body, at: i + 1, "request_id\"") else {
                    inString = true
                    break
                }
                var j = i + length
                while j < n, body[j] == 0x20 || body[j] == 0x09 || body[j] == 0x0A || body[j] == 0x0D { j += 1 }
                guard j < n, body[j] == UInt8(ascii: ":") else { inString = true; break } // a value, not the key
                j += 1
                while j < n, body[j] == 0x20 || body[j] == 0x09 || body[j] == 0x0A || body[j] == 0x0D { j += 1 }
                guard j < n, body[j] == UInt8(ascii: "\"") else { return .unsure }
                let start = j + 1
                var end = start
                while end < n, body[end] != UInt8(ascii: "\""), body[end] != UInt8(ascii: "\\"), body[end] >= 0x20 {
                    end += 1
                }
                guard end < n, body[end] == UInt8(ascii: "\"") else { return .unsure }
                return .found(String(decoding: UnsafeBufferPointer(rebasing: body[start..<end]), as: UTF8.self))
            default:
                break
            }
            i += 1
        }
        return .absent
    }

    /// Whether the bytes contain `"status"` or `"switchover"` (with the quotes).
    @inline(__always)
    private static func mentionsGatewayOp(_ body: UnsafeBufferPointer<UInt8>) -> Bool {
        let quote = UInt8(ascii: "\"")
        let n = body.count
        var i = 0
        // "status" is 8 bytes including quotes: the shortest match.
        while i + 8 <= n {
            if body[i] == quote && body[i + 1] == UInt8(ascii: "s") {
                if matches(body, at: i + 2, "tatus\"") || matches(body, at: i + 2, "witchover\"") { return true }
            }
            i += 1
        }
        return false
    }

    @inline(__always)
    private static func matches(_ body: UnsafeBufferPointer<UInt8>, at start: Int, _ literal: StaticString) -> Bool {
        let length = literal.utf8CodeUnitCount
        guard start + length <= body.count else { return false }
        let bytes = literal.utf8Start
        for k in 0..<length where body[start + k] != bytes[k] { return false }
        return true
    }
}
