/// A ledger's small durable state beside its journal, in `meta.json` (see `MetadataFile`).
public struct NodeMetadata: Codable, Hashable, Sendable {
    /// Random, made when the data directory is created. A node whose data was wiped comes back with a new id, so
    /// the gateway can tell it from the copy that held the acknowledged records and must not count it as in sync.
    public var dataID: UInt64
    /// The highest epoch this node has accepted. Stored before the node acts on it, so a restart cannot forget a
    /// promise made to a newer leader and accept an older one's records.
    public var epoch: UInt64
    /// The leader of that epoch, as far as this node knows.
    public var leader: String?

    public init(dataID: UInt64, epoch: UInt64, leader: String?) {
        self.dataID = dataID
        self.epoch = epoch
        self.leader = leader
    }
}
