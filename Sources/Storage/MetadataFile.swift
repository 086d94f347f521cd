import Foundation

/// Reads and writes `NodeMetadata` as `meta.json` in a data directory, atomically and durably (`DurableFile`):
/// after a crash the file holds the old metadata or the new, never a mix, and a stored epoch is never forgotten.
/// JSON keeps it readable by operators; it is written rarely (on an epoch change), so the encoder's cost is moot.
public enum MetadataFile {
    public static let fileName = "meta.json"

    /// The stored metadata, or nil if the directory has none yet.
    public static func load(directory: String) throws -> NodeMetadata? {
        let path = directory + "/" + fileName
        guard let bytes = try DurableFile.read(path: path) else { return nil }
        do {
            return try JSONDecoder().decode(NodeMetadata.self, from: Data(bytes))
        } catch {
            throw StorageError.invalidContent(path: path, reason: "not valid node metadata JSON (\(error))")
        }
    }

    /// Replaces the stored metadata; durable when this returns.
    public static func store(_ metadata: NodeMetadata, directory: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let data = try encoder.encode(metadata)
        try DurableFile.write(Array(data), to: directory + "/" + fileName)
    }
}
