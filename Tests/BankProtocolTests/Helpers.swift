import BankCore
@testable import BankProtocol

func utf8(_ text: String) -> [UInt8] { Array(text.utf8) }

func parse(_ text: String) throws -> JSONValue {
    try JSONValue.parse(utf8(text))
}

func parseError(_ bytes: [UInt8], maxDepth: Int = 32) -> JSONParseError? {
    do {
        _ = try JSONValue.parse(bytes, maxDepth: maxDepth)
        return nil
    } catch {
        return error
    }
}

func decode(_ text: String) -> Result<LedgerRequest, ProtocolError> {
    RequestDecoder.decode(utf8(text))
}

func decoded(_ text: String) -> LedgerRequest? {
    if case .success(let request) = decode(text) { return request }
    return nil
}

func decodeFailure(_ text: String) -> ProtocolError? {
    if case .failure(let error) = decode(text) { return error }
    return nil
}

/// Parses reply bytes back into an object.
func replyObject(_ bytes: [UInt8]) throws -> JSONObject {
    guard case .object(let object) = try JSONValue.parse(bytes) else {
        throw TestFailure("reply is not an object: \(String(decoding: bytes, as: UTF8.self))")
    }
    return object
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

func account(_ raw: String) -> AccountID { AccountID(raw)! }
func hold(_ raw: String) -> HoldID { HoldID(raw)! }
func rid(_ raw: String) -> RequestID { RequestID(raw)! }

