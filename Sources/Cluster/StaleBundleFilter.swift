/// Drops, on arrival, bundles that a partition or a stall held back: one sent more than `maxAgeMilliseconds`
/// before the newest bundle already received from the same run of the same sender.
///
/// After a network heals, what queued during the partition arrives late, behind fresher messages on the sender's
/// other connection (control and data travel apart). The protocols would discard most of it anyway (older epochs,
/// acknowledgements already superseded), but only after decoding and handling it; this keeps a healing link from
/// flooding a process with the past. Ages are measured on the sender's own clock (its stamps), so no clocks need
/// to agree across machines. A bundle from a new run of the sender (another incarnation) starts afresh.
public struct StaleBundleFilter: Sendable {
    public let maxAgeMilliseconds: UInt64
    private var newest: [NodeID: BundleStamp] = [:]
    /// Bundles dropped as stale, since start.
    public private(set) var droppedCount = 0

    public init(maxAgeMilliseconds: UInt64) {
        self.maxAgeMilliseconds = maxAgeMilliseconds
    }

    /// Whether to handle a bundle `sender` stamped so; records its stamp.
    public mutating func admit(from sender: NodeID, _ stamp: BundleStamp) -> Bool {
        guard stamp != .none else { return true }
        guard let seen = newest[sender], seen.incarnation == stamp.incarnation else {
            newest[sender] = stamp
            return true
        }
        if stamp.sentMilliseconds > seen.sentMilliseconds {
            newest[sender] = stamp
            return true
        }
        if seen.sentMilliseconds - stamp.sentMilliseconds > maxAgeMilliseconds {
            droppedCount += 1
            return false
        }
        return true
    }
}
