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

    static let probeCount = 7
    private(set) var words: [UInt64]
    /// Ids inserted (each counted once per insert; a repeated id is counted again).
    public private(set) var insertedCount: UInt64 = 0

    /// - Parameter byteCount: a power of two, at least 8.
    public init(byteCount: Int) {
        invariant(byteCount >= 8 && byteCount & (byteCount - 1) == 0, "filter size must be a power of two ≥ 8")
        words = [UInt64](repeating: 0, count: byteCount / 8)
    }

    init(words: [UInt64], insertedCount: UInt64) {
        self.words = words
        self.insertedCount = insertedCount
    }

    public var byteCount: Int { words.count * 8 }

    public mutating func insert(_ kind: Kind, _ id: String) {
        insertedCount += 1
        let mask = UInt64(words.count * 64 - 1)
        var (position, step) = Self.hashes(kind, id)
        for _ in 0..<Self.probeCount {
            let bit = position & mask
            words[Int(bit >> 6)] |= 1 << (bit & 63)
            position &+= step
        }
    }

    public func mayContain(_ kind: Kind, _ id: String) -> Bool {
        let mask = UInt64(words.count * 64 - 1)
        var (position, step) = Self.hashes(kind, id)
        for _ in 0..<Self.probeCount {
            let bit = position & mask
            guard words[Int(bit >> 6)] & (1 << (bit & 63)) != 0 else { return false }
            position &+= step
        }
        return true
    }

    /// (1 − e^(−k·n/m))^k for n inserted ids in m bits with k probes.
    public var estimatedFalsePositiveRate: Double {
        let bits = Double(words.count * 64)
        let k = Double(Self.probeCount)
        let filled = 1 - exp(-k * Double(insertedCount) / bits)
        return pow(filled, k)
    }

    /// Two independent hashes of the id (double hashing, Kirsch and Mitzenmacher): probe i is h1 + i·h2.
    private static func hashes(_ kind: Kind, _ id: String) -> (UInt64, UInt64) {
        var hash = FNV1a()
        hash.mix(byte: kind.rawValue)
        for byte in id.utf8 { hash.mix(byte: byte) }
        let first = hash.finalized
        var z = first &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return (first, (z ^ (z >> 31)) | 1)
    }
}

