/// Drops, on arrival, bundles that spent longer than `maxAgeMilliseconds` on the way — beyond the fastest trip
/// recently seen from the same run of the same sender — such as what a partition held back and delivers after the
/// network heals.
///
/// Each bundle carries its sender's stamp (its monotonic clock). The receiver notes `offset = arrival − stamp` on
/// its own clock: the two clocks are unrelated, but their difference is constant but for the trip, so
/// `offset − smallest offset` is how much longer this bundle travelled than the fastest one. The smallest offset
/// may creep up by 200 µs per second of the receiver's time (clocks drift apart by up to ±100 ppm each), so the
/// judgement holds over any length of time. No clocks need to agree across machines. A bundle of another run of
/// the sender (another incarnation) is judged against that run's own fastest trip.
///
/// A link whose queue takes longer than the age to drain would see good bundles dropped (and resent, and dropped
/// again): the queues are bounded by the protocols' windows (a few MiB: a fraction of a second on any link of
/// 100 Mbit/s or more), and `peer_message_max_age_ms` must stay above what a slower link needs.
public struct StaleBundleFilter: Sendable {
    public let maxAgeMilliseconds: UInt64
    /// Per sender, the runs seen lately (at most `runsKept`; the oldest seen goes first).
    private var runs: [NodeID: [Run]] = [:]
    private static let runsKept = 4
    /// Bundles dropped as stale, since start.
    public private(set) var droppedCount = 0

    private struct Run {
        var incarnation: UInt64
        /// The smallest `arrival − stamp` seen (ms, wrapping arithmetic: only differences are used).
        var fastestOffset: UInt64
        /// The receiver's time of the last update of `fastestOffset`, for its drift allowance.
        var updatedAt: UInt64
    }

    public init(maxAgeMilliseconds: UInt64) {
        self.maxAgeMilliseconds = maxAgeMilliseconds
    }

    /// Whether to handle a bundle `sender` stamped so, arriving at `arrivalMilliseconds` of the receiver's
    /// monotonic clock.
    public mutating func admit(from sender: NodeID, _ stamp: BundleStamp, arrivalMilliseconds: UInt64) -> Bool {
        guard stamp != .none else { return true }
        let offset = arrivalMilliseconds &- stamp.sentMilliseconds
        // In place: this runs for every bundle received.
        guard let index = runs[sender]?.firstIndex(where: { $0.incarnation == stamp.incarnation }) else {
            runs[sender, default: []].append(Run(incarnation: stamp.incarnation, fastestOffset: offset,
                                                 updatedAt: arrivalMilliseconds))
            if runs[sender]!.count > Self.runsKept { runs[sender]!.removeFirst() }
            return true
        }
        let admitted = Self.judge(&runs[sender]![index], offset: offset, arrivalMilliseconds: arrivalMilliseconds,
                                  maxAgeMilliseconds: maxAgeMilliseconds)
        if !admitted { droppedCount += 1 }
        return admitted
    }

    private static func judge(_ run: inout Run, offset: UInt64, arrivalMilliseconds: UInt64,
                              maxAgeMilliseconds: UInt64) -> Bool {
        // Drift allowance: the fastest trip may look up to 0.02% slower for every millisecond since it was seen.
        let elapsed = arrivalMilliseconds &- run.updatedAt
        let allowance = elapsed / 5_000
        if allowance > 0 {
            run.fastestOffset = run.fastestOffset &+ allowance
            run.updatedAt = run.updatedAt &+ allowance * 5_000
        }
        let extra = offset &- run.fastestOffset
        if Int64(bitPattern: extra) <= 0 {
            run.fastestOffset = offset
            run.updatedAt = arrivalMilliseconds
            return true
        }
        return extra <= maxAgeMilliseconds
    }
}
