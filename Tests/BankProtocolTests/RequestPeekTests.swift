import Testing
@testable import BankProtocol

@Suite("Request peek")
struct RequestPeekTests {
    private func peek(_ text: String) -> GatewayOperation? {
        RequestPeek.gatewayOperation(in: utf8(text))
    }

    @Test("detects status and switchover")
    func detects() {
        #expect(peek(#"{"op":"status"}"#) == .status)
        #expect(peek(#" { "op" : "switchover" } "#) == .switchover)
        #expect(peek(#"{"request_id":"x","op":"status"}"#) == .status)
        #expect(utf8(#"{"op":"status"}"#).withUnsafeBytes { RequestPeek.gatewayOperation(in: $0) } == .status)
    }

    @Test("a transfer whose reference is \"status\" is not a status request")
    func referenceIsNotOp() {
        #expect(peek(#"{"op":"transfer","request_id":"r","from":"a","to":"b","amount":1,"reference":"status"}"#) == nil)
        #expect(peek(#"{"op":"deposit","request_id":"switchover","account":"a","amount":1}"#) == nil)
        #expect(peek(#"{"status":"op"}"#) == nil)
        #expect(peek(#"{"op":"batch","requests":[{"op":"status"}]}"#) == nil)
    }

    @Test("ordinary requests and malformed bytes give nil")
    func ordinaryAndMalformed() {
        #expect(peek(#"{"op":"deposit","request_id":"r","account":"a","amount":1}"#) == nil)
        #expect(peek(#"{"op":"status""#) == nil)
        #expect(peek(#"{"op":"status",}"#) == nil)
        #expect(peek(#"["op","status"]"#) == nil)
        #expect(peek(#""status""#) == nil)
        #expect(peek(#"{"op":"status","op":"status"}"#) == nil)
        #expect(peek(#"{"op":"Status"}"#) == nil)
        #expect(peek(#"{"op":"statuses"}"#) == nil)
        #expect(peek("") == nil)
        #expect(RequestPeek.gatewayOperation(in: [0x22, 0xFF, 0x22]) == nil)
        #expect(RequestPeek.gatewayOperation(in: utf8(#"{"op":"status"}"#) + [0xFF]) == nil)
    }

    @Test("the request id of a refused request: the top-level key's plain string, escapes and oddities parsed")
    func requestID() {
        func id(_ text: String) -> String? { RequestPeek.requestID(in: utf8(text)) }
        #expect(id(#"{"op":"transfer","request_id":"t1","from":"a","to":"b","amount":1}"#) == "t1")
        #expect(id(#" { "op" : "deposit" , "request_id" :\#t"d-2" } "#) == "d-2")
        // "request_id" as a value, before the key.
        #expect(id(#"{"op":"transfer","reference":"request_id","request_id":"t3"}"#) == "t3")
        #expect(id(#"{"op":"transfer","reference":"say \"request_id\": \"no\"","request_id":"t4"}"#) == "t4")
        // Escapes in the id: the full parse decodes them.
        #expect(id(#"{"op":"deposit","request_id":"a\u0062c"}"#) == "abc")
        #expect(id(#"{"op":"balance","account":"a"}"#) == nil)
        #expect(id(#"{"op":"batch","requests":[{"op":"deposit","request_id":"item"}]}"#) == nil)
        #expect(id(#"{"op":"deposit","request_id":7}"#) == nil)
        #expect(id(#"not json"#) == nil)
        #expect(id("") == nil)
        #expect(RequestPeek.requestID(in: utf8(#"{"request_id":"big"}"#), maxBytes: 5) == nil)
    }

    @Test("a request's kind: the top-level op, skipping nested items and strings; anything else is invalid")
    func kind() {
        func kind(_ text: String) -> RequestKind { RequestPeek.kind(of: utf8(text)) }
        #expect(kind(#"{"op":"transfer","request_id":"t1"}"#) == .transfer)
        #expect(kind(#"{"request_id":"t1", "op" : "open_account"}"#) == .openAccount)
        #expect(kind(#"{"requests":[{"op":"deposit"}],"op":"batch"}"#) == .batch)
        #expect(kind(#"{"reference":"\"op\":\"deposit\"","op":"withdraw"}"#) == .withdraw)
        #expect(kind(#"{"reference":"op","op":"hold"}"#) == .hold)
        #expect(kind(#"{"requests":[{"op":"deposit"}]}"#) == .invalid)
        #expect(kind(#"{"op":"steal"}"#) == .invalid)
        #expect(kind(#"{"op":7}"#) == .invalid)
        #expect(kind(#"{"op":"tr\u0061nsfer"}"#) == .invalid)
        #expect(kind(#"{"op":"transfer"#) == .invalid)
        #expect(kind("") == .invalid)
        for op in RequestKind.allCases where op != .invalid {
            #expect(kind(#"{"op":"\#(op.rawValue)"}"#) == op)
        }
    }

    @Test("a reply's outcome from its first bytes, as the encoder writes them")
    func outcome() {
        #expect(ReplyOutcome(reply: ReplyEncoder.error(code: .overloaded, message: "x")) == .error(.overloaded))
        #expect(ReplyOutcome(reply: ReplyEncoder.tooLarge(byteCount: 9)) == .error(.tooLarge))
        #expect(ReplyOutcome(reply: utf8(#"{"ok":true,"seq":1}"#)) == .ok)
        #expect(ReplyOutcome(reply: utf8(#"{"ok":false,"error":"made_up"}"#)) == .unknown)
        #expect(ReplyOutcome(reply: utf8(#"{"ok":false,"error":"overloaded"#)) == .unknown)
        #expect(ReplyOutcome(reply: utf8("")) == .unknown)
        for code in ErrorCode.allCases {
            #expect(ReplyOutcome(reply: ReplyEncoder.error(code: code, message: "m")).label == code.rawValue)
        }
    }
}
