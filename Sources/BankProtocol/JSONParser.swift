/// Why a byte sequence is not a JSON document we accept.
public struct JSONParseError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Reason: Hashable, Sendable {
        /// No bytes, or only whitespace.
        case emptyInput
        /// The document stops in the middle of a value.
        case unexpectedEnd
        /// A byte that the grammar does not allow here (includes trailing commas and any non-ASCII byte outside a
        /// string).
        case unexpectedByte(UInt8)
        /// A malformed number: leading zero, missing digits after `-`, `.` or the exponent.
        case invalidNumber
        /// A backslash escape other than `\" \\ \/ \b \f \n \r \t \uXXXX`.
        case invalidEscape
        /// A `\u` escape naming an unpaired UTF-16 surrogate.
        case loneSurrogate
        /// An unescaped control character (U+0000–U+001F) inside a string.
        case controlCharacterInString(UInt8)
        /// A string whose bytes are not valid UTF-8.
        case invalidUTF8
        /// Arrays/objects nested deeper than the limit.
        case tooDeep(limit: Int)
        /// The same key twice in one object.
        case duplicateKey(String)
        /// Non-whitespace bytes after the document.
        case trailingData
    }

    public var reason: Reason
    /// Byte offset where the problem was found.
    public var offset: Int

    public init(_ reason: Reason, offset: Int) {
        self.reason = reason
        self.offset = offset
    }

    public var description: String {
        let what: String
        switch reason {
        case .emptyInput: what = "empty document"
        case .unexpectedEnd: what = "unexpected end of input"
        case .unexpectedByte(let byte):
            if byte >= 0x21 && byte < 0x7F {
                what = "unexpected character '\(Character(Unicode.Scalar(byte)))'"
            } else {
                what = "unexpected byte 0x" + hexByte(byte)
            }
        case .invalidNumber: what = "invalid number"
        case .invalidEscape: what = "invalid escape sequence"
        case .loneSurrogate: what = "unpaired UTF-16 surrogate in \\u escape"
        case .controlCharacterInString(let byte): what = "unescaped control character 0x" + hexByte(byte) + " in string"
        case .invalidUTF8: what = "string is not valid UTF-8"
        case .tooDeep(let limit): what = "nesting deeper than \(limit) levels"
        case .duplicateKey(let key): what = "duplicate key '\(key)'"
        case .trailingData: what = "unexpected data after the JSON value"
        }
        return what + " at byte \(offset)"
    }
}

private func hexByte(_ byte: UInt8) -> String {
    let digits: [Character] = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "A", "B", "C", "D", "E", "F"]
    return String([digits[Int(byte >> 4)], digits[Int(byte & 0xF)]])
}

extension JSONValue {
    /// The deepest nesting `parse` will ever follow, whatever `maxDepth` asks for (protects the stack).
    public static let maximumSupportedDepth = 512

    /// Parses one strict RFC 8259 JSON document.
    ///
    /// Strict means: no trailing commas, no comments, no leading zeros, no `NaN`/`Infinity`, no byte-order mark,
    /// no unescaped control characters in strings, no unpaired surrogates in `\u` escapes, only valid UTF-8, no
    /// duplicate keys within an object, nothing but whitespace after the value, and at most `maxDepth` levels of
    /// arrays/objects (the outermost container is level 1). Numbers never trap: see `JSONValue`.
    public static func parse(_ bytes: [UInt8], maxDepth: Int = 32) throws(JSONParseError) -> JSONValue {
        let result = bytes.withUnsafeBufferPointer { buffer in parseResult(buffer, maxDepth: maxDepth) }
        return try result.get()
    }

    public static func parse(_ bytes: ArraySlice<UInt8>, maxDepth: Int = 32) throws(JSONParseError) -> JSONValue {
        let result = bytes.withUnsafeBufferPointer { buffer in parseResult(buffer, maxDepth: maxDepth) }
        return try result.get()
    }

    public static func parse(_ bytes: UnsafeRawBufferPointer, maxDepth: Int = 32) throws(JSONParseError) -> JSONValue {
        try parseResult(bytes.assumingMemoryBound(to: UInt8.self), maxDepth: maxDepth).get()
    }

    public static func parse(_ bytes: UnsafeBufferPointer<UInt8>, maxDepth: Int = 32) throws(JSONParseError) -> JSONValue {
        try parseResult(bytes, maxDepth: maxDepth).get()
    }

    /// Parses the UTF-8 of `text`.
    public static func parse(_ text: String, maxDepth: Int = 32) throws(JSONParseError) -> JSONValue {
        var text = text
        let result = text.withUTF8 { buffer in parseResult(buffer, maxDepth: maxDepth) }
        return try result.get()
    }

    static func parseResult(_ buffer: UnsafeBufferPointer<UInt8>, maxDepth: Int) -> Result<JSONValue, JSONParseError> {
        var parser = JSONParser(buffer, maxDepth: min(max(maxDepth, 0), maximumSupportedDepth))
        do {
            return .success(try parser.parseDocument())
        } catch {
            return .failure(error)
        }
    }
}

private enum ASCII {
    static let quote = UInt8(ascii: "\"")
    static let backslash = UInt8(ascii: "\\")
    static let slash = UInt8(ascii: "/")
    static let comma = UInt8(ascii: ",")
    static let colon = UInt8(ascii: ":")
    static let openBrace = UInt8(ascii: "{")
    static let closeBrace = UInt8(ascii: "}")
    static let openBracket = UInt8(ascii: "[")
    static let closeBracket = UInt8(ascii: "]")
    static let minus = UInt8(ascii: "-")
    static let plus = UInt8(ascii: "+")
    static let dot = UInt8(ascii: ".")
    static let zero = UInt8(ascii: "0")
    static let nine = UInt8(ascii: "9")
    static let space = UInt8(ascii: " ")
    static let tab = UInt8(ascii: "\t")
    static let lf = UInt8(ascii: "\n")
    static let cr = UInt8(ascii: "\r")
}

/// Recursive-descent parser over a contiguous buffer. Recursion depth is bounded by `maxDepth`.
struct JSONParser {
    private let bytes: UnsafeBufferPointer<UInt8>
    private let count: Int
    private var index = 0
    private let maxDepth: Int

    init(_ bytes: UnsafeBufferPointer<UInt8>, maxDepth: Int) {
        self.bytes = bytes
        self.count = bytes.count
        self.maxDepth = maxDepth
    }

    mutating func parseDocument() throws(JSONParseError) -> JSONValue {
        skipWhitespace()
        guard index < count else { throw JSONParseError(.emptyInput, offset: index) }
        let value = try parseValue(depth: 0)
        skipWhitespace()
        guard index == count else { throw JSONParseError(.trailingData, offset: index) }
        return value
    }

    @inline(__always)
    private mutating func skipWhitespace() {
        while index < count {
            switch bytes[index] {
            case ASCII.space, ASCII.lf, ASCII.cr, ASCII.tab: index += 1
            default: return
            }
        }
    }

    private mutating func parseValue(depth: Int) throws(JSONParseError) -> JSONValue {
        guard index < count else { throw JSONParseError(.unexpectedEnd, offset: index) }
        switch bytes[index] {
        case ASCII.quote: return .string(try parseString())
        case ASCII.openBrace: return try parseObject(depth: depth + 1)
        case ASCII.openBracket: return try parseArray(depth: depth + 1)
        case ASCII.minus, ASCII.zero...ASCII.nine: return try parseNumber()
        case UInt8(ascii: "t"): try expectLiteral("true"); return .bool(true)
        case UInt8(ascii: "f"): try expectLiteral("false"); return .bool(false)
        case UInt8(ascii: "n"): try expectLiteral("null"); return .null
        case let byte: throw JSONParseError(.unexpectedByte(byte), offset: index)
        }
    }

    private mutating func expectLiteral(_ literal: StaticString) throws(JSONParseError) {
        let length = literal.utf8CodeUnitCount
        let start = literal.utf8Start
        for k in 0..<length {
            guard index < count else { throw JSONParseError(.unexpectedEnd, offset: index) }
            guard bytes[index] == start[k] else { throw JSONParseError(.unexpectedByte(bytes[index]), offset: index) }
            index += 1
        }
    }

    private mutating func parseObject(depth: Int) throws(JSONParseError) -> JSONValue {
        guard depth <= maxDepth else { throw JSONParseError(.tooDeep(limit: maxDepth), offset: index) }
        index += 1  // {
        var object = JSONObject()
        skipWhitespace()
        guard index < count else { throw JSONParseError(.unexpectedEnd, offset: index) }
        if bytes[index] == ASCII.closeBrace {
            index += 1
            return .object(object)
        }
        object.reserveCapacity(8)
        // Duplicate detection: linear for small objects, a set once an object gets big (a 1 MiB body of distinct
        // keys must not cost O(n^2)).
        var seen: Set<String>? = nil
        while true {
            skipWhitespace()
            guard index < count else { throw JSONParseError(.unexpectedEnd, offset: index) }
            guard bytes[index] == ASCII.quote else {
                throw JSONParseError(.unexpectedByte(bytes[index]), offset: index)
            }
            let keyOffset = index
            let key = try parseString()
            let duplicate: Bool
            if seen != nil {
                duplicate = !seen!.insert(key).inserted
            } else if object.count >= 16 {
                var set = Set(object.keys)
                duplicate = !set.insert(key).inserted
                seen = set
            } else {
                duplicate = object.keys.contains(key)
            }
            if duplicate { throw JSONParseError(.duplicateKey(key), offset: keyOffset) }
            skipWhitespace()
            guard index < count else { throw JSONParseError(.unexpectedEnd, offset: index) }
            guard bytes[index] == ASCII.colon else { throw JSONParseError(.unexpectedByte(bytes[index]), offset: index) }
            index += 1
            skipWhitespace()
            let value = try parseValue(depth: depth)
            object.appendUnchecked(key: key, value: value)
            skipWhitespace()
            guard index < count else { throw JSONParseError(.unexpectedEnd, offset: index) }
            switch bytes[index] {
            case ASCII.comma:
                index += 1
            case ASCII.closeBrace:
                index += 1
                return .object(object)
            case let byte:
                throw JSONParseError(.unexpectedByte(byte), offset: index)
            }
        }
    }

    private mutating func parseArray(depth: Int) throws(JSONParseError) -> JSONValue {
        guard depth <= maxDepth else { throw JSONParseError(.tooDeep(limit: maxDepth), offset: index) }
        index += 1  // [
        var elements: [JSONValue] = []
        skipWhitespace()
        guard index < count else { throw JSONParseError(.unexpectedEnd, offset: index) }
        if bytes[index] == ASCII.closeBracket {
            index += 1
            return .array(elements)
        }
        while true {
            skipWhitespace()
            elements.append(try parseValue(depth: depth))
            skipWhitespace()
            guard index < count else { throw JSONParseError(.unexpectedEnd, offset: index) }
            switch bytes[index] {
            case ASCII.comma:
                index += 1
            case ASCII.closeBracket:
                index += 1
                return .array(elements)
            case let byte:
                throw JSONParseError(.unexpectedByte(byte), offset: index)
            }
        }
    }

    // MARK: Numbers

    private mutating func parseNumber() throws(JSONParseError) -> JSONValue {
        let start = index
        let negative = bytes[index] == ASCII.minus
        if negative { index += 1 }
        guard index < count else { throw JSONParseError(.unexpectedEnd, offset: index) }
        let digitsStart = index
        let first = bytes[index]
        if first == ASCII.zero {
            index += 1
            if index < count, isDigit(bytes[index]) { throw JSONParseError(.invalidNumber, offset: start) }
        } else if first > ASCII.zero && first <= ASCII.nine {
            index += 1
            while index < count, isDigit(bytes[index]) { index += 1 }
        } else {
            throw JSONParseError(.invalidNumber, offset: start)
        }
        let digitsEnd = index
        var isInteger = true
        if index < count, bytes[index] == ASCII.dot {
            isInteger = false
            index += 1
            try requireDigits(numberStart: start)
        }
        if index < count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            isInteger = false
            index += 1
            if index < count, bytes[index] == ASCII.plus || bytes[index] == ASCII.minus { index += 1 }
            try requireDigits(numberStart: start)
        }
        if isInteger, digitsEnd - digitsStart <= 19 {
            // Accumulate negatively so that Int64.min fits.
            var value: Int64 = 0
            var overflow = false
            for k in digitsStart..<digitsEnd {
                let (times10, o1) = value.multipliedReportingOverflow(by: 10)
                let (next, o2) = times10.subtractingReportingOverflow(Int64(bytes[k] &- ASCII.zero))
                if o1 || o2 {
                    overflow = true
                    break
                }
                value = next
            }
            if !overflow {
                if negative { return .int(value) }
                if value != .min { return .int(-value) }
            }
        }
        return .number(String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self))
    }

    @inline(__always)
    private func isDigit(_ byte: UInt8) -> Bool { byte >= ASCII.zero && byte <= ASCII.nine }

    private mutating func requireDigits(numberStart: Int) throws(JSONParseError) {
        guard index < count else { throw JSONParseError(.unexpectedEnd, offset: index) }
        guard isDigit(bytes[index]) else { throw JSONParseError(.invalidNumber, offset: numberStart) }
        while index < count, isDigit(bytes[index]) { index += 1 }
    }

    // MARK: Strings

    /// Parses a string starting at its opening quote; leaves `index` after the closing quote.
    private mutating func parseString() throws(JSONParseError) -> String {
        let openQuote = index
        index += 1
        let start = index
        // Fast path: no escapes, so the string is the raw bytes (validated as UTF-8 unless all ASCII).
        var sawNonASCII = false
        while index < count {
            let byte = bytes[index]
            if byte == ASCII.quote {
                let end = index
                index += 1
                let utf8 = UnsafeBufferPointer(rebasing: bytes[start..<end])
                if !sawNonASCII { return String(decoding: utf8, as: UTF8.self) }
                return try makeString(utf8, offset: openQuote)
            }
            if byte >= 0x80 { sawNonASCII = true }
            if byte == ASCII.backslash { return try parseEscapedString(start: start, openQuote: openQuote) }
            if byte < 0x20 { throw JSONParseError(.controlCharacterInString(byte), offset: index) }
            index += 1
        }
        throw JSONParseError(.unexpectedEnd, offset: index)
    }

    /// Strict validation first (String(decoding:) would silently repair), then a cheap String construction.
    /// (`String(validating:as:)` is not specialized in the standard library and costs a metadata lookup per call.)
    private func makeString(_ utf8: UnsafeBufferPointer<UInt8>, offset: Int) throws(JSONParseError) -> String {
        guard isValidUTF8(utf8) else { throw JSONParseError(.invalidUTF8, offset: offset) }
        return String(decoding: utf8, as: UTF8.self)
    }

    private func makeString(_ utf8: [UInt8], offset: Int) throws(JSONParseError) -> String {
        let result = utf8.withUnsafeBufferPointer { buffer -> String? in
            isValidUTF8(buffer) ? String(decoding: buffer, as: UTF8.self) : nil
        }
        guard let result else { throw JSONParseError(.invalidUTF8, offset: offset) }
        return result
    }

    /// Slow path, entered at the first backslash.
    private mutating func parseEscapedString(start: Int, openQuote: Int) throws(JSONParseError) -> String {
        var buffer: [UInt8] = []
        buffer.reserveCapacity(index - start + 16)
        buffer.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start..<index]))
        while index < count {
            let byte = bytes[index]
            if byte == ASCII.quote {
                index += 1
                return try makeString(buffer, offset: openQuote)
            }
            if byte < 0x20 { throw JSONParseError(.controlCharacterInString(byte), offset: index) }
            if byte != ASCII.backslash {
                buffer.append(byte)
                index += 1
                continue
            }
            let escapeOffset = index
            index += 1
            guard index < count else { throw JSONParseError(.unexpectedEnd, offset: index) }
            let escaped = bytes[index]
            index += 1
            switch escaped {
            case ASCII.quote, ASCII.backslash, ASCII.slash: buffer.append(escaped)
            case UInt8(ascii: "b"): buffer.append(0x08)
            case UInt8(ascii: "f"): buffer.append(0x0C)
            case UInt8(ascii: "n"): buffer.append(0x0A)
            case UInt8(ascii: "r"): buffer.append(0x0D)
            case UInt8(ascii: "t"): buffer.append(0x09)
            case UInt8(ascii: "u"):
                var scalar = UInt32(try readHex4())
                if scalar >= 0xD800 && scalar <= 0xDBFF {
                    // A high surrogate must be followed by an escaped low surrogate.
                    guard index + 1 < count, bytes[index] == ASCII.backslash, bytes[index + 1] == UInt8(ascii: "u") else {
                        throw JSONParseError(.loneSurrogate, offset: escapeOffset)
                    }
                    index += 2
                    let low = UInt32(try readHex4())
                    guard low >= 0xDC00 && low <= 0xDFFF else { throw JSONParseError(.loneSurrogate, offset: escapeOffset) }
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                } else if scalar >= 0xDC00 && scalar <= 0xDFFF {
                    throw JSONParseError(.loneSurrogate, offset: escapeOffset)
                }
                appendUTF8(scalar, to: &buffer)
            default:
                throw JSONParseError(.invalidEscape, offset: escapeOffset)
            }
        }
        throw JSONParseError(.unexpectedEnd, offset: index)
    }

    private mutating func readHex4() throws(JSONParseError) -> UInt16 {
        guard index + 4 <= count else { throw JSONParseError(.unexpectedEnd, offset: count) }
        var value: UInt16 = 0
        for _ in 0..<4 {
            let byte = bytes[index]
            let digit: UInt8
            switch byte {
            case ASCII.zero...ASCII.nine: digit = byte - ASCII.zero
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: throw JSONParseError(.invalidEscape, offset: index)
            }
            value = value << 4 | UInt16(digit)
            index += 1
        }
        return value
    }

    private func appendUTF8(_ scalar: UInt32, to buffer: inout [UInt8]) {
        switch scalar {
        case 0..<0x80:
            buffer.append(UInt8(scalar))
        case 0x80..<0x800:
            buffer.append(UInt8(0xC0 | (scalar >> 6)))
            buffer.append(UInt8(0x80 | (scalar & 0x3F)))
        case 0x800..<0x10000:
            buffer.append(UInt8(0xE0 | (scalar >> 12)))
            buffer.append(UInt8(0x80 | ((scalar >> 6) & 0x3F)))
            buffer.append(UInt8(0x80 | (scalar & 0x3F)))
        default:
            buffer.append(UInt8(0xF0 | (scalar >> 18)))
            buffer.append(UInt8(0x80 | ((scalar >> 12) & 0x3F)))
            buffer.append(UInt8(0x80 | ((scalar >> 6) & 0x3F)))
            buffer.append(UInt8(0x80 | (scalar & 0x3F)))
        }
    }
}

/// Whether `bytes` is well-formed UTF-8 (Unicode table 3-7: no overlongs, no surrogates, nothing above U+10FFFF).
func isValidUTF8(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
    let n = bytes.count
    var i = 0
    @inline(__always) func isContinuation(_ byte: UInt8) -> Bool { byte & 0xC0 == 0x80 }
    while i < n {
        let b0 = bytes[i]
        if b0 < 0x80 {
            i += 1
            continue
        }
        switch b0 {
        case 0xC2...0xDF:
            guard i + 1 < n, isContinuation(bytes[i + 1]) else { return false }
            i += 2
        case 0xE0...0xEF:
            guard i + 2 < n else { return false }
            let b1 = bytes[i + 1]
            let lower: UInt8 = b0 == 0xE0 ? 0xA0 : 0x80
            let upper: UInt8 = b0 == 0xED ? 0x9F : 0xBF
            guard b1 >= lower, b1 <= upper, isContinuation(bytes[i + 2]) else { return false }
            i += 3
        case 0xF0...0xF4:
            guard i + 3 < n else { return false }
            let b1 = bytes[i + 1]
            let lower: UInt8 = b0 == 0xF0 ? 0x90 : 0x80
            let upper: UInt8 = b0 == 0xF4 ? 0x8F : 0xBF
            guard b1 >= lower, b1 <= upper, isContinuation(bytes[i + 2]), isContinuation(bytes[i + 3]) else {
                return false
            }
            i += 4
        default:
            return false
        }
    }
    return true
}
