#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// A Bloom filter of every request id and hold id the ledger has ever stored: how a *new* id is known to be new
/// without reading the history store.
///
/// "No" is certain (the id was never stored, so the request is new); "maybe" means the id must be looked up in the
/// history store when it is no longer in memory. Its size is fixed by the cluster file (`id_filter_bytes`), so its
/// memory does not grow with history; what grows is the false-positive rate, and with it the share of new requests
/// that pay a store lookup: with 7 probes, 8 bits per stored id give about 2%, 16 bits 0.1% (the default 32 MiB holds
/// 16 M ids at 16 bits each). `estimatedFalsePositiveRate` says where it stands.
///
/// The hash is fixed (FNV-1a with a final mix, not Swift's per-process seeded hash), so the filter is the same in
/// every process and can travel in a checkpoint. Ids of entries that were rolled back stay in it: a filter cannot
/// forget, and an extra "maybe" costs only a lookup.
public struct IDFilter: Hashable, Sendable {
    public enum Kind: UInt8, Sendable {
        case request = 1
        case hold = 2
    }

    /// Where an id's probes fall. `blocked` (every filter made now): all seven in one 512-bit block, so an insert
    /// or a lookup touches one cache line instead of seven (about 0.10% false positives at 16 bits per id instead
    /// of 0.07%). `spread`: the first layout, probes anywhere; kept so that its checkpoints still load.
    public enum Layout: UInt8, Sendable {
        case spread = 1
        case blocked = 2
    }

    static let probeCount = 7
    static let blockWords = 8
    public let layout: Layout
    private(set) var words: [UInt64]
    /// Ids inserted (each counted once per insert; a repeated id is counted again).
    public private(set) var insertedCount: UInt64 = 0

    /// - Parameter byteCount: a power of two, at least 64.
    public init(byteCount: Int) {
        invariant(byteCount >= 64 && byteCount & (byteCount - 1) == 0, "filter size must be a power of two ≥ 64")
        layout = .blocked
        words = [UInt64](repeating: 0, count: byteCount / 8)
    }

    init(layout: Layout, words: [UInt64], insertedCount: UInt64) {
        invariant(layout == .spread || words.count >= Self.blockWords, "a blocked filter has whole blocks")
        self.layout = layout
        self.words = words
        self.insertedCount = insertedCount
    }

    public var byteCount: Int { words.count * 8 }

    public mutating func insert(_ kind: Kind, _ id: String) {
        insertedCount += 1
        _ = Self.forEachProbe(layout, wordCount: words.count, kind, id) { word, bit in
            words[word] |= bit
            return true
        }
    }

    public func mayContain(_ kind: Kind, _ id: String) -> Bool {
        Self.forEachProbe(layout, wordCount: words.count, kind, id) { word, bit in words[word] & bit != 0 }
    }

    /// Each of the id's probes as a word index and a bit mask, while `body` says so; whether it went through all.
    @inline(__always)
    private static func forEachProbe(_ layout: Layout, wordCount: Int, _ kind: Kind, _ id: String,
                                     _ body: (Int, UInt64) -> Bool) -> Bool {
        let (first, second) = hashes(kind, id)
        switch layout {
        case .blocked:
            let base = Int(first & UInt64(wordCount / blockWords - 1)) * blockWords
            var bits = second
            for _ in 0..<probeCount {
                let bit = Int(bits & 511)
                guard body(base + bit >> 6, 1 << UInt64(bit & 63)) else { return false }
                bits >>= 9
            }
        case .spread:
            let mask = UInt64(wordCount * 64 - 1)
            var position = first
            for _ in 0..<probeCount {
                let bit = position & mask
                guard body(Int(bit >> 6), 1 << (bit & 63)) else { return false }
                position &+= second | 1
            }
        }
        return true
    }

    /// Spread: (1 − e^(−k·n/m))^k for n inserted ids in m bits with k probes. Blocked: the same within a block of
    /// b bits, averaged over how many ids a block holds (Poisson with mean n·b/m).
    public var estimatedFalsePositiveRate: Double {
        let k = Double(Self.probeCount)
        switch layout {
        case .spread:
            let filled = 1 - exp(-k * Double(insertedCount) / Double(words.count * 64))
            return pow(filled, k)
        case .blocked:
            let blockBits = Double(Self.blockWords * 64)
            let mean = Double(insertedCount) / Double(words.count / Self.blockWords)
            guard mean > 0 else { return 0 }
            // The Poisson terms within ten standard deviations of the mean, each in log space (exp(-mean) alone
            // underflows for a full filter).
            let spread = 10 * mean.squareRoot() + 20
            var rate = 0.0
            for j in max(0, Int(mean - spread))...Int(mean + spread) {
                let probability = exp(Double(j) * log(mean) - mean - lgamma(Double(j) + 1))
                rate += probability * pow(1 - exp(-k * Double(j) / blockBits), k)
            }
            return rate
        }
    }

    /// Two independent hashes of the id. Spread: probe i is h1 + i·h2 (double hashing, Kirsch and Mitzenmacher).
    /// (h2 made odd). Blocked: h1 picks the block, seven 9-bit pieces of h2 the bits in it.
    private static func hashes(_ kind: Kind, _ id: String) -> (UInt64, UInt64) {
        var hash = FNV1a()
        hash.mix(byte: kind.rawValue)
        for byte in id.utf8 { hash.mix(byte: byte) }
        let first = hash.finalized
        var z = first &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return (first, z ^ (z >> 31))
    }
}
