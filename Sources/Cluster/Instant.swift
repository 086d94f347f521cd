/// "Now" as the state machines see it: handed in with every event, never read from a clock inside them, so that
/// the same code runs in production and under the simulator's virtual time.
public struct Instant: Hashable, Sendable, Comparable {
    /// Monotonic time for timeouts.
    public var monotonicNanos: UInt64
    /// Wall-clock time, only used to stamp journal entries (statements show it).
    public var wallMillis: Int64

    public init(monotonicNanos: UInt64, wallMillis: Int64) {
        self.monotonicNanos = monotonicNanos
        self.wallMillis = wallMillis
    }

    public static func < (lhs: Instant, rhs: Instant) -> Bool { lhs.monotonicNanos < rhs.monotonicNanos }

    /// Nanoseconds since `earlier`, zero if `earlier` is in the future.
    public func nanos(since earlier: UInt64) -> UInt64 {
        monotonicNanos >= earlier ? monotonicNanos - earlier : 0
    }
}

public extension UInt64 {
    static func milliseconds(_ value: UInt64) -> UInt64 { value * 1_000_000 }
}
