#if canImport(Glibc)
import Glibc
#endif

/// The process's anonymous resident memory (`RssAnon` in `/proc/self/status`): heap and stacks, not the mapped
/// files the kernel can drop. It is what the ledger's memory bound (docs/DESIGN.md) is about.
public enum ProcessMemory {
    /// nil where `/proc` does not say (not Linux).
    public static func residentAnonymousBytes() -> Int64? {
        guard let file = fopen("/proc/self/status", "r") else { return nil }
        defer { fclose(file) }
        var line = [CChar](repeating: 0, count: 256)
        while fgets(&line, Int32(line.count), file) != nil {
            let text = String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            guard text.hasPrefix("RssAnon:") else { continue }
            let digits = text.dropFirst("RssAnon:".count).filter(\.isNumber)
            return Int64(digits).map { $0 * 1024 } // the kernel writes kB
        }
        return nil
    }
}
