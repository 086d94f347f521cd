/// The stored receipts of successful requests, by request id, split into 65,536 shards.
///
/// Why shards: one Swift dictionary doubles its storage by copying every entry at once. With a receipt per request
/// that copy grows with the ledger's history; at 1.5 million requests one insert took close to a second, long enough
/// for the gateway to take the stalled leader for dead. A shard's growth copies 1/65,536 of the entries.
///
/// Why so many: a checkpoint takes a copy of the ledger that shares storage with the live one (copy on write), and
/// the live ledger then copies each shard the first time it writes to it. With 256 shards a single batch of a
/// thousand transfers touched every shard and copied the whole table in one loop iteration (200–320 ms of silence,
/// false failovers in `make bench`); with 65,536 a batch copies about 1.5% of it. Shards this small also grow in
/// steps of a few hundred entries at most, so they need no staggering.
///
/// The shard comes from a fixed hash of the id's bytes (`FNV1a`, with its final mix), not Swift's per-process seeded
/// hash, so the layout is the same in every run.
struct ReceiptTable: Sendable {
    static let shardBits = 16
    static let shardCount = 1 << shardBits
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

    /// Every receipt, shard by shard (for checkpoints; the order is the dictionaries' and varies between processes).
    func forEach(_ body: (RequestID, StoredReceipt) throws -> Void) rethrows {
        for shard in shards {
            for (id, receipt) in shard { try body(id, receipt) }
        }
    }

    /// How many entries each shard holds (for tests of the spread).
    var shardSizes: [Int] { shards.map(\.count) }

    /// Sizes every shard for its share of `total` entries (a small total leaves them to grow).
    mutating func reserveCapacity(_ total: Int) {
        guard total >= Self.shardCount * 4 else { return }
        let perShard = total / Self.shardCount + total / Self.shardCount / 8 + 4
        for index in shards.indices {
            shards[index].reserveCapacity(perShard)
        }
    }

    private static func shard(of id: RequestID) -> Int {
        var hash = FNV1a()
        for byte in id.rawValue.utf8 { hash.mix(byte: byte) }
        // The finalised hash is avalanched, so its top bits are as good as any.
        return Int(hash.finalized >> UInt64(64 - shardBits))
    }
}
