import Testing
@testable import BankProtocol

@Suite("JSON writer")
struct JSONWriterTests {
    private func written(_ body: (inout JSONWriter) -> Void) -> String {
        var writer = JSONWriter()
        body(&writer)
        return String(decoding: writer.bytes, as: UTF8.self)
    }

    @Test("writes compact objects and arrays with commas in the right places")
    func structure() {
        let text = written { w in
            w.beginObject()
            w.field("ok", true)
            w.key("list")
            w.beginArray()
            w.int(Int64(1))
            w.beginObject()
            w.endObject()
            w.beginArray()
            w.endArray()
            w.null()
            w.string("x")
            w.endArray()
            w.field("n", Int64(-5))
            w.key("raw")
            w.raw(utf8("[1,2]"))
            w.field("seq", UInt64.max)
            w.endObject()
        }
        #expect(text == #"{"ok":true,"list":[1,{},[],null,"x"],"n":-5,"raw":[1,2],"seq":18446744073709551615}"#)
    }

    @Test("writes integers exactly, including the extremes")
    func integers() throws {
        for value: Int64 in [0, 1, 9, 10, -1, -10, 123_456_789, 1_000_000_000_000_000, .max, .min] {
            let text = written { $0.int(value) }
            #expect(text == String(value))
            #expect(try parse(text) == .int(value))
        }
        #expect(written { $0.uint(0) } == "0")
        #expect(written { $0.uint(UInt64.max) } == "18446744073709551615")
    }

    @Test("escapes quotes, backslashes and control characters")
    func escaping() {
        #expect(written { $0.string("a\"b\\c") } == #""a\"b\\c""#)
        #expect(written { $0.string("\n\r\t\u{08}\u{0C}") } == #""\n\r\t\b\f""#)
        #expect(written { $0.string("\u{0}\u{1}\u{1F}") } == #""\u0000\u0001\u001f""#)
        #expect(written { $0.string("/ é 😀 \u{7F}") } == "\"/ é 😀 \u{7F}\"")
        #expect(written { w in
            w.beginObject()
            w.key("we\"ird")
            w.null()
            w.endObject()
        } == #"{"we\"ird":null}"#)
    }

    @Test("escaped strings round-trip through the parser")
    func escapingRoundTrip() throws {
        var samples = ["", "plain", "quote \" backslash \\ slash /", "línea\nnueva", "😀𝄞€é", "\u{2028}\u{2029}",
                       "tab\there", "mixed \u{1}\"\\\u{1F}end"]
        samples.append(String((0..<0x20).map { Character(Unicode.Scalar(UInt8($0))) }))
        samples.append(String(repeating: "long ascii run ", count: 200) + "\u{7}")
        for sample in samples {
            var writer = JSONWriter()
            writer.string(sample)
            #expect(try JSONValue.parse(writer.bytes) == .string(sample), "\(sample.debugDescription)")
        }
    }

    @Test("any JSONValue round-trips through serialized() and parse")
    func valueRoundTrip() throws {
        let value: JSONValue = [
            "null": nil, "t": true, "f": false, "i": -42, "big": .int(.min), "n": .number("1.5e-3"),
            "s": "ü\n\"", "a": [1, "two", [3], ["k": "v"]], "empty": [:], "emptyArray": [],
        ]
        let bytes = value.serialized()
        #expect(try JSONValue.parse(bytes) == value)
    }
}
