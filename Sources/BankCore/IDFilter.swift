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
    /// Words per page (64 KiB): the filter is stored in pages so that a copy on write copies a page, not the
    /// filter. A checkpoint's image shares the live ledger's pages; the live ledger then copies each page it writes
    /// to while the image holds it, 64 KiB at a time instead of 32 MiB in one turn of its loop, and the checkpoint
    /// writer lets go of each page once written (`drainPages`), after which the live ledger's page is its alone.
    static let pageWords = 8192
    public let layout: Layout
    /// Pages of `pageWords` words (all of one filter's pages the same size: the whole filter when it is smaller).
    private(set) var pages: [[UInt64]]
    /// Words in all (a power of two); each page holds `1 << pageShift` of them.
    public let wordCount: Int
    private let pageShift: Int
    /// Ids inserted (each counted once per insert; a repeated id is counted again).
    public private(set) var insertedCount: UInt64 = 0

    /// - Parameter byteCount: a power of two, at least 64.
    public init(byteCount: Int) {
        invariant(byteCount >= 64 && byteCount & (byteCount - 1) == 0, "filter size must be a power of two ≥ 64")
        layout = .blocked
        wordCount = byteCount / 8
        let perPage = min(Self.pageWords, wordCount)
        pageShift = perPage.trailingZeroBitCount
        // Every page starts as the same empty buffer: each is allocated when first written.
        pages = [[UInt64]](repeating: [UInt64](repeating: 0, count: perPage), count: wordCount / perPage)
    }

    /// A filter of these words (a power of two of them; the blocked layout in whole blocks).
    init(layout: Layout, words: [UInt64], insertedCount: UInt64) {
        let perPage = min(Self.pageWords, words.count)
        self.init(layout: layout, pages: stride(from: 0, to: words.count, by: perPage).map {
            Array(words[$0..<$0 + perPage])
        }, insertedCount: insertedCount)
    }

    /// A filter of these pages, each `min(pageWords, total)` words, as `drainPages` wrote them.
    init(layout: Layout, pages: [[UInt64]], insertedCount: UInt64) {
        let perPage = pages.first?.count ?? 0
        let total = perPage * pages.count
        invariant(total > 0 && total & (total - 1) == 0 && perPage == min(Self.pageWords, total)
                  && pages.allSatisfy { $0.count == perPage }, "filter pages of unequal or odd sizes")
        invariant(layout == .spread || total >= Self.blockWords, "a blocked filter has whole blocks")
        self.layout = layout
        self.pages = pages
        wordCount = total
        pageShift = perPage.trailingZeroBitCount
        self.insertedCount = insertedCount
    }

    public var byteCount: Int { wordCount * 8 }
    public var pageCount: Int { pages.count }

    public mutating func insert(_ kind: Kind, _ id: String) {
        insertedCount += 1
        let mask = (1 << pageShift) - 1
        switch layout {
        case .blocked:
            // All seven probes fall in one block, within one page: one uniqueness check, one copy at most.
            let (first, second) = Self.hashes(kind, id)
            let base = Int(first & UInt64(wordCount / Self.blockWords - 1)) * Self.blockWords
            pages[base >> pageShift].withUnsafeMutableBufferPointer { page in
                var bits = second
                for _ in 0..<Self.probeCount {
                    let bit = Int(bits & 511)
                    page[(base & mask) + bit >> 6] |= 1 << UInt64(bit & 63)
                    bits >>= 9
                }
            }
        case .spread:
            let shift = pageShift
            _ = Self.forEachProbe(layout, wordCount: wordCount, kind, id) { word, bit in
                pages[word >> shift][word & mask] |= bit
                return true
            }
        }
    }

    public func mayContain(_ kind: Kind, _ id: String) -> Bool {
        let (shift, mask) = (pageShift, (1 << pageShift) - 1)
        return Self.forEachProbe(layout, wordCount: wordCount, kind, id) { word, bit in
            pages[word >> shift][word & mask] & bit != 0
        }
    }

    /// Hands every page, in order, to `body` and lets go of it (the filter is empty of pages afterwards): for a
    /// checkpoint writer holding a copy, so that the live filter's pages stop being shared as they are written.
    mutating func drainPages(_ body: ([UInt64]) throws -> Void) rethrows {
        for index in pages.indices {
            try body(pages[index])
            pages[index] = []
        }
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
            let filled = 1 - exp(-k * Double(insertedCount) / Double(wordCount * 64))
            return pow(filled, k)
        case .blocked:
            let blockBits = Double(Self.blockWords * 64)
            let mean = Double(insertedCount) / Double(wordCount / Self.blockWords)
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
