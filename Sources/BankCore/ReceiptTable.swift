/// The stored receipts of successful requests, by request id, split into shards.
///
/// Why shards: one Swift dictionary doubles its storage by copying every entry at once. With a receipt per request
/// that copy grows with the ledger's history; at 1.5 million requests one insert took close to a second, long enough
/// for the gateway to take the stalled leader for dead. With 256 shards each growth copies 1/256 of the entries.
/// The shard is chosen by a fixed hash of the id's bytes (FNV-1a), not Swift's per-process seeded hash, so the
/// layout is the same in every run.
struct ReceiptTable: Sendable {
    static let shardCount = 256
    private var shards = [[RequestID: StoredReceipt]](repeating: [:], count: shardCount)
    private(set) var count = 0

    subscript(id: RequestID) -> StoredReceipt? {
        get { shards[Self.shard(of: id)][id] }
        set {
            let shard = Self.shard(of: id)
            if let newValue {
                if shards[shard].updateValue(newValue, forKey: id) == nil { count += 1 }
            } else if shards[shard].removeValue(forKey: id) != nil {
                count -= 1
            }
        }
    }

    /// Sizes every shard for `total` entries spread evenly.
    mutating func reserveCapacity(_ total: Int) {
        let perShard = total / Self.shardCount + total / (Self.shardCount * 8) + 16
        for index in shards.indices { shards[index].reserveCapacity(perShard) }
    }

    private static func shard(of id: RequestID) -> Int {
        var hash: UInt32 = 2_166_136_261
        for byte in id.rawValue.utf8 { hash = (hash ^ UInt32(byte)) &* 16_777_619 }
        return Int(hash & UInt32(shardCount - 1))
    }
}
