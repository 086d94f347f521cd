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

extension ClusterConfig {
    enum CodingKeys: String, CodingKey {
        case epoch, leader, leaderDataID, follower, followerDataID
    }

    /// Ledgers are saved by name. A file written before topologies saved them as numbers (1: primary, 2: backup).
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        func ledger(_ key: CodingKeys) throws -> NodeID? {
            guard c.contains(key), try !c.decodeNil(forKey: key) else { return nil }
            if let legacy = try? c.decode(UInt8.self, forKey: key) {
                switch legacy {
                case 1: return .primary
                case 2: return .backup
                default: throw DecodingError.dataCorruptedError(forKey: key, in: c,
                                                                debugDescription: "unknown ledger number \(legacy)")
                }
            }
            let name = try c.decode(String.self, forKey: key)
            guard let node = NodeID(kind: .ledger, name: name) else {
                throw DecodingError.dataCorruptedError(forKey: key, in: c, debugDescription: "not a ledger name: \(name)")
            }
            return node
        }
        self.init(epoch: try c.decode(UInt64.self, forKey: .epoch), leader: try ledger(.leader),
                  leaderDataID: try c.decode(UInt64.self, forKey: .leaderDataID), follower: try ledger(.follower),
                  followerDataID: try c.decodeIfPresent(UInt64.self, forKey: .followerDataID) ?? 0)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(epoch, forKey: .epoch)
        try c.encodeIfPresent(leader?.name, forKey: .leader)
        try c.encode(leaderDataID, forKey: .leaderDataID)
        try c.encodeIfPresent(follower?.name, forKey: .follower)
        try c.encode(followerDataID, forKey: .followerDataID)
    }
}
