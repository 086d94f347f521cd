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
    /// string; nil otherwise. A full parse: meant for the rare path (a request refused at the gateway).
    public static func requestID(in body: [UInt8], maxBytes: Int = 64 << 10) -> String? {
        guard body.count <= maxBytes else { return nil }
        return body.withUnsafeBufferPointer { buffer in
            guard case .success(let value) = JSONValue.parseResult(buffer, maxDepth: ClientLimits.maximumDepth),
                  case .object(let object) = value, case .string(let id)? = object["request_id"] else { return nil }
            return id
        }
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
