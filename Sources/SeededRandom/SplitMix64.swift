/// SplitMix64 (Steele, Lea and Flood, 2014): a tiny, fast generator whose output is the same on every platform, so
/// whatever is drawn from a seed — a simulation run, a generated test workload, the benchmark's accounts — replays
/// exactly. Not for anything secret.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    public private(set) var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform enough in `0..<bound` for simulations and tests (modulo bias is below 2⁻⁴⁰ for small bounds).
    public mutating func below(_ bound: Int) -> Int {
        precondition(bound > 0, "below(\(bound)): the bound must be positive")
        return Int(next() % UInt64(bound))
    }

    /// True with probability `numerator / denominator`.
    public mutating func chance(_ numerator: UInt64, in denominator: UInt64) -> Bool { next() % denominator < numerator }

    /// True in `percent` cases out of 100.
    public mutating func chance(_ percent: Int) -> Bool { below(100) < percent }

    /// A value in `low...high`.
    public mutating func between(_ low: UInt64, _ high: UInt64) -> UInt64 { low + next() % (high - low + 1) }

    public mutating func pick<T>(_ values: [T]) -> T { values[below(values.count)] }
}
