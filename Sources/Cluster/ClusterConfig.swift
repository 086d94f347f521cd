/// The gateway's decision of who leads and who may take over, versioned by `epoch`.
///
/// The gateway persists a configuration before anyone acts on it. Two rules make failover safe:
/// - `follower` is set only while that ledger holds every acknowledged record (the leader replicates
///   synchronously to it), so only the recorded follower may ever be promoted.
/// - Dropping the follower (letting the leader go on alone) or changing the leader creates a new, higher epoch,
///   so that nothing said under the old configuration is accepted any more.
///
/// Data ids tie a decision to a particular copy of the data: a ledger whose data directory was wiped comes back
/// with a new data id and is never mistaken for the in-sync copy it replaced.
public struct ClusterConfig: Hashable, Sendable, Codable, CustomStringConvertible {
    public var epoch: UInt64
    public var leader: NodeID?
    public var leaderDataID: UInt64
    public var follower: NodeID?
    public var followerDataID: UInt64

    public init(epoch: UInt64, leader: NodeID?, leaderDataID: UInt64, follower: NodeID? = nil,
                followerDataID: UInt64 = 0) {
        self.epoch = epoch
        self.leader = leader
        self.leaderDataID = leaderDataID
        self.follower = follower
        self.followerDataID = followerDataID
    }

    /// Before the first election.
    public static let initial = ClusterConfig(epoch: 0, leader: nil, leaderDataID: 0)

    public var description: String {
        "epoch \(epoch): leader \(leader?.name ?? "none"), in-sync follower \(follower?.name ?? "none")"
    }
}

extension NodeID: Codable {}
