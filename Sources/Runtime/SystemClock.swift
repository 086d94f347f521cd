import Cluster
#if canImport(Glibc)
import Glibc
#endif

/// The only place that reads the real clocks; the state machines get the reading as an `Instant`.
public enum SystemClock {
    public static func now() -> Instant {
        var mono = timespec()
        var wall = timespec()
        clock_gettime(CLOCK_MONOTONIC, &mono)
        clock_gettime(CLOCK_REALTIME, &wall)
        return Instant(monotonicNanos: UInt64(mono.tv_sec) * 1_000_000_000 + UInt64(mono.tv_nsec),
                       wallMillis: Int64(wall.tv_sec) * 1000 + Int64(wall.tv_nsec) / 1_000_000)
    }
}
