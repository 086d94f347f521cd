/// Timestamps on the wire: ISO-8601 UTC with milliseconds, e.g. `2026-11-24T16:11:00.123Z`.
/// Written by hand (proleptic Gregorian calendar, Howard Hinnant's civil-from-days) to keep Foundation off the
/// hot path.
public enum TimeFormat {
    private static let millisPerDay: Int64 = 86_400_000

    /// `millis` since 1970-01-01T00:00:00Z. Any `Int64` works: years outside 0000…9999 are written with a sign
    /// (`+12345-…`, `-0001-…`) as ISO 8601's expanded form does.
    public static func iso8601(millis: Int64) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(24)
        appendISO8601(millis: millis, to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Appends the timestamp's ASCII to `bytes` (no allocation beyond the buffer's growth).
    public static func appendISO8601(millis: Int64, to bytes: inout [UInt8]) {
        // Floor division without overflow, even for Int64.min.
        var days = millis / millisPerDay
        var rest = millis % millisPerDay
        if rest < 0 {
            days -= 1
            rest += millisPerDay
        }
        let date = civilFromDays(days)
        if date.year < 0 {
            bytes.append(UInt8(ascii: "-"))
            appendPadded(date.year.magnitude, width: 4, to: &bytes)
        } else if date.year > 9999 {
            bytes.append(UInt8(ascii: "+"))
            appendPadded(UInt64(date.year), width: 4, to: &bytes)
        } else {
            append2(Int(date.year / 100), to: &bytes)
            append2(Int(date.year % 100), to: &bytes)
        }
        let millisOfDay = Int(rest)
        bytes.append(UInt8(ascii: "-"))
        append2(date.month, to: &bytes)
        bytes.append(UInt8(ascii: "-"))
        append2(date.day, to: &bytes)
        bytes.append(UInt8(ascii: "T"))
        append2(millisOfDay / 3_600_000, to: &bytes)
        bytes.append(UInt8(ascii: ":"))
        append2(millisOfDay / 60_000 % 60, to: &bytes)
        bytes.append(UInt8(ascii: ":"))
        append2(millisOfDay / 1000 % 60, to: &bytes)
        bytes.append(UInt8(ascii: "."))
        let ms = millisOfDay % 1000
        bytes.append(UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: ms / 100))
        append2(ms % 100, to: &bytes)
        bytes.append(UInt8(ascii: "Z"))
    }

    /// The proleptic Gregorian date of a day count since 1970-01-01 (day 0).
    public static func civilFromDays(_ days: Int64) -> (year: Int64, month: Int, day: Int) {
        let z = days + 719_468  // days since 0000-03-01
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097  // [0, 146096]
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365  // [0, 399]
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)  // [0, 365], from March 1
        let monthFromMarch = (5 * dayOfYear + 2) / 153  // [0, 11]
        let day = dayOfYear - (153 * monthFromMarch + 2) / 5 + 1
        let month = monthFromMarch < 10 ? monthFromMarch + 3 : monthFromMarch - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        return (year, Int(month), Int(day))
    }

    /// Two digits of a value in 0...99.
    @inline(__always)
    private static func append2(_ value: Int, to bytes: inout [UInt8]) {
        bytes.append(UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: value / 10))
        bytes.append(UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: value % 10))
    }

    /// Values here are small (a year is below 10^9), so the divisor never overflows.
    private static func appendPadded(_ value: UInt64, width: Int, to bytes: inout [UInt8]) {
        var divisor: UInt64 = 1
        var digits = 1
        while value / divisor >= 10 {
            divisor *= 10
            digits += 1
        }
        if digits < width {
            for _ in digits..<width { bytes.append(UInt8(ascii: "0")) }
        }
        while divisor > 0 {
            bytes.append(UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: value / divisor % 10))
            divisor /= 10
        }
    }
}
