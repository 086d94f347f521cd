import Foundation

/// A ledger's small durable state beside its journal (`meta.json`).
public struct NodeMetadata: Codable, Hashable, Sendable {
    /// Random, made when the data directory is created: tells the gateway a wiped node from the copy it replaced.
    public var dataID: UInt64
    /// The highest epoch this node has accepted. Stored before the node acts on it, so a restart cannot forget it.
    public var epoch: UInt64
    /// Who leads that epoch, as far as this node knows.
    public var leader: String?

    public init(dataID: UInt64, epoch: UInt64, leader: String?) {
        self.dataID = dataID
        self.epoch = epoch
        self.leader = leader
    }
}

public enum MetadataFile {
    public static func load(directory: String) throws -> NodeMetadata? {
        guard let bytes = try DurableFile.read(path: directory + "/meta.json") else { return nil }
        return try JSONDecoder().decode(NodeMetadata.self, from: Data(bytes))
    }

    public static func store(_ metadata: NodeMetadata, directory: String) throws {
        try DurableFile.write(Array(try JSONEncoder().encode(metadata)), to: directory + "/meta.json")
    }
}
