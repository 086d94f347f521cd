import Testing
@testable import BankProtocol

@Suite("JSON parser conformance")
struct JSONParserTests {
    @Test("parses scalars, containers and whitespace")
    func validDocuments() throws {
        #expect(try parse("null") == .null)
        #expect(try parse(" true ") == .bool(true))
        #expect(try parse("\tfalse\r\n") == .bool(false))
        #expect(try parse("0") == .int(0))
        #expect(try parse("-0") == .int(0))
        #expect(try parse("42") == .int(42))
        #expect(try parse("-17") == .int(-17))
        #expect(try parse("\"\"") == .string(""))
        #expect(try parse("[]") == .array([]))
        #expect(try parse("{}") == .object(JSONObject()))
        let doc = try parse(#" { "a" : [1, {"b": null}, "x"], "c": {"d": true} } "#)
        #expect(doc["a"]?[0] == .int(1))
        #expect(doc["a"]?[1]?["b"] == .null)
        #expect(doc["a"]?[2]?.stringValue == "x")
        #expect(doc["c"]?["d"]?.boolValue == true)
        #expect(doc.objectValue?.keys == ["a", "c"])
    }

    @Test("keeps object members in document order")
    func memberOrder() throws {
        let object = try #require(try parse(#"{"z":1,"a":2,"m":3}"#).objectValue)
        #expect(object.keys == ["z", "a", "m"])
        #expect(object.map(\.value) == [.int(1), .int(2), .int(3)])
    }

    @Test("decodes every escape, including \\u surrogate pairs")
    func escapes() throws {
        #expect(try parse(#""\"\\\/\b\f\n\r\t""#) == .string("\"\\/\u{08}\u{0C}\n\r\t"))
        #expect(try parse(#""caf\u00e9""#) == .string("café"))
        #expect(try parse(#""\u00E9\u20AC""#) == .string("é€"))
        #expect(try parse(#""\uD83D\uDE00""#) == .string("😀"))
        #expect(try parse(#""a\ud834\udd1eb""#) == .string("a𝄞b"))
        #expect(try parse(#""\u0000""#) == .string("\u{0}"))
        #expect(try parse("\"naïve 😀 raw UTF-8\"") == .string("naïve 😀 raw UTF-8"))
    }

    @Test("integers that fit Int64 are .int; everything else stays as number text")
    func numbers() throws {
        #expect(try parse("9223372036854775807") == .int(.max))
        #expect(try parse("-9223372036854775808") == .int(.min))
        #expect(try parse("9223372036854775808") == .number("9223372036854775808"))
        #expect(try parse("-9223372036854775809") == .number("-9223372036854775809"))
        #expect(try parse("123456789012345678901234567890") == .number("123456789012345678901234567890"))
        #expect(try parse("1.0") == .number("1.0"))
        #expect(try parse("1e3") == .number("1e3"))
        #expect(try parse("-1.25E-3") == .number("-1.25E-3"))
        #expect(try parse("1e999999999") == .number("1e999999999"))
        #expect(try parse("0.5").intValue == nil)
    }

    @Test("huge number literals never trap and are never integers")
    func hugeNumbers() throws {
        let digits = String(repeating: "9", count: 10_000)
        #expect(try parse(digits) == .number(digits))
        #expect(try parse("[" + digits + "]")[0]?.intValue == nil)
    }

    @Test("accepts nesting up to 32 levels")
    func depth32() throws {
        let doc = String(repeating: "[", count: 32) + String(repeating: "]", count: 32)
        #expect(throws: Never.self) { try parse(doc) }
        let objects = String(repeating: #"{"a":"#, count: 31) + "{}" + String(repeating: "}", count: 31)
        #expect(throws: Never.self) { try parse(objects) }
    }

    @Test("rejects nesting of 33 levels")
    func depth33() {
        let arrays = String(repeating: "[", count: 33) + String(repeating: "]", count: 33)
        #expect(parseError(utf8(arrays))?.reason == .tooDeep(limit: 32))
        let objects = String(repeating: #"{"a":"#, count: 32) + "{}" + String(repeating: "}", count: 32)
        #expect(parseError(utf8(objects))?.reason == .tooDeep(limit: 32))
        // A deep hostile document fails cleanly instead of overflowing the stack.
        let hostile = String(repeating: "[", count: 200_000)
        #expect(parseError(utf8(hostile))?.reason == .tooDeep(limit: 32))
        #expect(parseError(utf8(hostile), maxDepth: .max)?.reason == .tooDeep(limit: JSONValue.maximumSupportedDepth))
    }

    static let invalidDocuments: [(String, String)] = [
        ("trailing comma in array", "[1,2,]"),
        ("trailing comma in object", #"{"a":1,}"#),
        ("leading comma", "[,1]"),
        ("leading zero", "01"),
        ("negative leading zero", "-01"),
        ("leading zero in member", #"{"amount":007}"#),
        ("lone minus", "-"),
        ("plus sign", "+1"),
        ("bare fraction", ".5"),
        ("fraction without digits", "1."),
        ("exponent without digits", "1e"),
        ("exponent sign without digits", "1e+"),
        ("NaN", "NaN"),
        ("Infinity", "Infinity"),
        ("hex number", "0x10"),
        ("lone high surrogate", #""\uD800""#),
        ("lone high surrogate at end of string", #""ab\uD83D""#),
        ("high surrogate followed by non-surrogate", #""\uD83D\u0041""#),
        ("lone low surrogate", #""\uDE00""#),
        ("raw newline in string", "\"a\nb\""),
        ("raw tab in string", "\"a\tb\""),
        ("raw NUL in string", "\"a\u{0}b\""),
        ("unterminated string", #""abc"#),
        ("invalid escape", #""\x41""#),
        ("short unicode escape", #""\u12""#),
        ("non-hex unicode escape", #""\u12G4""#),
        ("trailing garbage", "{} x"),
        ("two values", "1 2"),
        ("trailing comma after document", "{},"),
        ("empty input", ""),
        ("whitespace only", " \n\t "),
        ("single quotes", "{'a':1}"),
        ("unquoted key", "{a:1}"),
        ("comment", "{} // note"),
        ("missing colon", #"{"a" 1}"#),
        ("missing value", #"{"a":}"#),
        ("unclosed array", "[1,2"),
        ("unclosed object", #"{"a":1"#),
        ("mismatched brackets", "[1}"),
        ("misspelled literal", "nul"),
        ("truncated literal", "tru"),
        ("capitalised literal", "True"),
        ("duplicate key", #"{"a":1,"a":2}"#),
        ("duplicate key after escapes", #"{"a":1,"\u0061":2}"#),
        ("vertical tab as whitespace", "\u{0B}1"),
    ]

    @Test("rejects malformed documents", arguments: invalidDocuments)
    func rejects(_ name: String, _ text: String) {
        #expect(parseError(utf8(text)) != nil, "\(name) should be rejected")
    }

    @Test("rejects invalid UTF-8 inside strings")
    func invalidUTF8() {
        let cases: [[UInt8]] = [
            [0x22, 0xC3, 0x28, 0x22],  // bad continuation
            [0x22, 0xC0, 0xAF, 0x22],  // overlong "/"
            [0x22, 0xED, 0xA0, 0x80, 0x22],  // UTF-8-encoded surrogate
            [0x22, 0xF4, 0x90, 0x80, 0x80, 0x22],  // above U+10FFFF
            [0x22, 0xFF, 0x22],
            [0x22, 0xE2, 0x82, 0x22],  // truncated sequence
            [0x22, 0x5C, 0x6E, 0xC3, 0x22],  // invalid after an escape (slow path)
        ]
        for bytes in cases {
            #expect(parseError(bytes)?.reason == .invalidUTF8, "\(bytes)")
        }
    }

    @Test("rejects non-ASCII bytes and a byte-order mark outside strings")
    func nonASCIIOutsideStrings() {
        #expect(parseError([0xEF, 0xBB, 0xBF] + utf8("{}")) != nil)
        #expect(parseError(utf8("{}") + [0xC3, 0xA9]) != nil)
        #expect(parseError([0x7B, 0xFF, 0x7D]) != nil)
    }

    @Test("errors carry a reason and an offset")
    func errorDetails() throws {
        let error = try #require(parseError(utf8("[1,2,]")))
        #expect(error.reason == .unexpectedByte(UInt8(ascii: "]")))
        #expect(error.offset == 5)
        #expect(error.description == "unexpected character ']' at byte 5")
        #expect(parseError(utf8(#"{"a":1,"a":2}"#))?.reason == .duplicateKey("a"))
        #expect(parseError(utf8(""))?.reason == .emptyInput)
        #expect(parseError(utf8("1 2"))?.reason == .trailingData)
        #expect(parseError(utf8("\"a\nb\""))?.reason == .controlCharacterInString(0x0A))
        #expect(parseError(utf8(#""\uDE00""#))?.reason == .loneSurrogate)
        #expect(parseError(utf8("01"))?.reason == .invalidNumber)
    }

    @Test("big objects with distinct keys parse, and duplicates are still found")
    func bigObjects() throws {
        let members = (0..<5000).map { "\"k\($0)\":\($0)" }
        let object = try #require(try parse("{" + members.joined(separator: ",") + "}").objectValue)
        #expect(object.count == 5000)
        #expect(object["k4999"] == .int(4999))
        let duplicated = "{" + members.joined(separator: ",") + ",\"k17\":0}"
        #expect(parseError(utf8(duplicated))?.reason == .duplicateKey("k17"))
    }

    @Test("every input flavour parses the same")
    func inputFlavours() throws {
        let text = #"{"a":[1,"é"]}"#
        let bytes = utf8(text)
        let expected = try JSONValue.parse(bytes)
        #expect(try JSONValue.parse(text) == expected)
        #expect(try JSONValue.parse(bytes[...]) == expected)
        #expect(try bytes.withUnsafeBytes { try JSONValue.parse($0) } == expected)
        let padded = [UInt8(ascii: "x")] + bytes + [UInt8(ascii: "y")]
        #expect(try JSONValue.parse(padded[1..<(padded.count - 1)]) == expected)
    }
}
