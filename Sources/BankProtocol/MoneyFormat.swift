import BankCore

/// Human money text for the CLI (never used on the wire, where amounts are integers in minor units).
public enum MoneyFormat {
    /// ISO 4217 currencies without minor units.
    private static let zeroExponent: Set<String> = [
        "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI", "VND", "VUV", "XAF",
        "XOF", "XPF",
    ]
    /// ISO 4217 currencies with three decimals.
    private static let threeExponent: Set<String> = ["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"]

    /// Decimal places of the currency's minor unit: 0 for e.g. JPY and KRW, 3 for e.g. BHD and KWD, else 2.
    public static func exponent(for currency: CurrencyCode) -> Int {
        if zeroExponent.contains(currency.rawValue) { return 0 }
        if threeExponent.contains(currency.rawValue) { return 3 }
        return 2
    }

    /// `1250` GBP → `"12.50"`, `-5` GBP → `"-0.05"`, `1250` JPY → `"1250"`. No currency symbol, no grouping.
    public static func format(minor: Int64, currency: CurrencyCode) -> String {
        let exponent = exponent(for: currency)
        let magnitude = minor.magnitude
        var text = minor < 0 ? "-" : ""
        guard exponent > 0 else { return text + String(magnitude) }
        var divisor: UInt64 = 1
        for _ in 0..<exponent { divisor *= 10 }
        text += String(magnitude / divisor)
        text += "."
        let fraction = String(magnitude % divisor)
        text += String(repeating: "0", count: exponent - fraction.count) + fraction
        return text
    }

    /// Parses `"12"`, `"12.5"`, `"12.50"`, `"-0.05"`, `"0.5"` into minor units. Refuses (nil): empty text, a
    /// leading `+`, whitespace, grouping separators, a bare `.5` or `12.`, more decimals than the currency has
    /// (`"1.234"` GBP; any `.` for JPY), and values that do not fit `Int64`.
    public static func parse(_ text: String, currency: CurrencyCode) -> Int64? {
        let exponent = exponent(for: currency)
        var bytes = Array(text.utf8)[...]
        var negative = false
        if bytes.first == UInt8(ascii: "-") {
            negative = true
            bytes = bytes.dropFirst()
        }
        let integerDigits = bytes.prefix { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }
        guard !integerDigits.isEmpty else { return nil }
        var rest = bytes.dropFirst(integerDigits.count)
        var fractionDigits: ArraySlice<UInt8> = []
        if rest.first == UInt8(ascii: ".") {
            rest = rest.dropFirst()
            fractionDigits = rest.prefix { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }
            guard !fractionDigits.isEmpty, fractionDigits.count <= exponent else { return nil }
            rest = rest.dropFirst(fractionDigits.count)
        }
        guard rest.isEmpty else { return nil }
        var magnitude: UInt64 = 0
        for digit in integerDigits {
            guard let next = appendDigit(magnitude, digit) else { return nil }
            magnitude = next
        }
        for index in 0..<exponent {
            let digit = index < fractionDigits.count ? fractionDigits[fractionDigits.startIndex + index] : UInt8(ascii: "0")
            guard let next = appendDigit(magnitude, digit) else { return nil }
            magnitude = next
        }
        if negative {
            guard magnitude <= UInt64(Int64.max) + 1 else { return nil }
            return magnitude == UInt64(Int64.max) + 1 ? .min : -Int64(magnitude)
        }
        guard magnitude <= UInt64(Int64.max) else { return nil }
        return Int64(magnitude)
    }

    private static func appendDigit(_ value: UInt64, _ digit: UInt8) -> UInt64? {
        let (times10, o1) = value.multipliedReportingOverflow(by: 10)
        let (sum, o2) = times10.addingReportingOverflow(UInt64(digit - UInt8(ascii: "0")))
        return o1 || o2 ? nil : sum
    }
}
