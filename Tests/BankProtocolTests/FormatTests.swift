import BankCore
import Testing
@testable import BankProtocol

@Suite("Money and time formatting")
struct FormatTests {
    private let gbp = CurrencyCode.gbp
    private let jpy = CurrencyCode("JPY")!
    private let krw = CurrencyCode("KRW")!
    private let kwd = CurrencyCode("KWD")!

    @Test("formats minor units with the currency's exponent")
    func formatMoney() {
        #expect(MoneyFormat.format(minor: 1250, currency: gbp) == "12.50")
        #expect(MoneyFormat.format(minor: 0, currency: gbp) == "0.00")
        #expect(MoneyFormat.format(minor: 5, currency: gbp) == "0.05")
        #expect(MoneyFormat.format(minor: -5, currency: gbp) == "-0.05")
        #expect(MoneyFormat.format(minor: -123_456, currency: gbp) == "-1234.56")
        #expect(MoneyFormat.format(minor: 1_000_000_000_000_000, currency: gbp) == "10000000000000.00")
        #expect(MoneyFormat.format(minor: .min, currency: gbp) == "-92233720368547758.08")
        #expect(MoneyFormat.format(minor: .max, currency: gbp) == "92233720368547758.07")
        #expect(MoneyFormat.format(minor: 1250, currency: jpy) == "1250")
        #expect(MoneyFormat.format(minor: -7, currency: krw) == "-7")
        #expect(MoneyFormat.format(minor: 1250, currency: kwd) == "1.250")
        #expect(MoneyFormat.format(minor: 1250, currency: CurrencyCode("EUR")!) == "12.50")
        #expect(MoneyFormat.exponent(for: jpy) == 0)
        #expect(MoneyFormat.exponent(for: gbp) == 2)
    }

    @Test("parses decimal text into minor units")
    func parseMoney() {
        #expect(MoneyFormat.parse("12.5", currency: gbp) == 1250)
        #expect(MoneyFormat.parse("12.50", currency: gbp) == 1250)
        #expect(MoneyFormat.parse("12", currency: gbp) == 1200)
        #expect(MoneyFormat.parse("0.05", currency: gbp) == 5)
        #expect(MoneyFormat.parse("-0.05", currency: gbp) == -5)
        #expect(MoneyFormat.parse("0", currency: gbp) == 0)
        #expect(MoneyFormat.parse("1250", currency: jpy) == 1250)
        #expect(MoneyFormat.parse("1.25", currency: kwd) == 1250)
        #expect(MoneyFormat.parse("92233720368547758.07", currency: gbp) == .max)
        #expect(MoneyFormat.parse("-92233720368547758.08", currency: gbp) == .min)
    }

    @Test("refuses ambiguous or malformed money text", arguments: [
        "", "-", ".5", "12.", "12.505", "1.2.3", "+12", " 12", "12 ", "1,000", "1e3", "12.5x", "abc", "--1", "-.5",
        "92233720368547758.08", "-92233720368547758.09", "99999999999999999999999",
    ])
    func refuseMoney(_ text: String) {
        #expect(MoneyFormat.parse(text, currency: .gbp) == nil)
    }

    @Test("zero-exponent currencies take no decimals")
    func zeroExponentDecimals() {
        #expect(MoneyFormat.parse("12.5", currency: jpy) == nil)
        #expect(MoneyFormat.parse("12.0", currency: jpy) == nil)
    }

    @Test("format and parse round-trip")
    func moneyRoundTrip() {
        for minor: Int64 in [0, 1, -1, 99, 100, 101, -250, 1_000_000_000_000_000, .max, .min] {
            for currency in [gbp, jpy, kwd] {
                #expect(MoneyFormat.parse(MoneyFormat.format(minor: minor, currency: currency), currency: currency) == minor)
            }
        }
    }

    @Test("ISO-8601 timestamps with milliseconds", arguments: [
        (Int64(0), "1970-01-01T00:00:00.000Z"),
        (-1, "1969-12-31T23:59:59.999Z"),
        (1_709_251_199_999, "2024-02-29T23:59:59.999Z"),
        (1_709_251_200_000, "2024-03-01T00:00:00.000Z"),
        (951_825_600_000, "2000-02-29T12:00:00.000Z"),
        (1_795_536_660_123, "2026-11-24T16:11:00.123Z"),
        (253_402_300_799_999, "9999-12-31T23:59:59.999Z"),
        (253_402_300_800_000, "+10000-01-01T00:00:00.000Z"),
        (-62_135_596_800_000, "0001-01-01T00:00:00.000Z"),
        (-34_954_248_008_624, "0862-05-05T22:39:51.376Z"),
        (160_129_608_660_279, "7044-04-21T22:51:00.279Z"),
    ])
    func iso8601(_ millis: Int64, _ expected: String) {
        #expect(TimeFormat.iso8601(millis: millis) == expected)
    }

    @Test("extreme timestamps do not trap")
    func extremeTimes() {
        #expect(TimeFormat.iso8601(millis: .max).hasSuffix("Z"))
        #expect(TimeFormat.iso8601(millis: .min).hasPrefix("-"))
    }

    @Test("civil-from-days agrees with a day-by-day calendar walk from 1900 to 2200")
    func calendarWalk() {
        func isLeap(_ y: Int64) -> Bool { (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 }
        func daysIn(_ y: Int64, _ m: Int) -> Int {
            [31, isLeap(y) ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][m - 1]
        }
        var (y, m, d): (Int64, Int, Int) = (1900, 1, 1)
        var day: Int64 = -25_567  // 1900-01-01
        var mismatches = 0
        while y < 2200 {
            let civil = TimeFormat.civilFromDays(day)
            if civil.year != y || civil.month != m || civil.day != d { mismatches += 1 }
            day += 1
            d += 1
            if d > daysIn(y, m) {
                d = 1
                m += 1
                if m > 12 {
                    m = 1
                    y += 1
                }
            }
        }
        #expect(mismatches == 0)
    }
}
