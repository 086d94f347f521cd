/// The stored receipts of successful requests, by request id, split into shards.
///
/// Why shards: one Swift dictionary doubles its storage by copying every entry at once. With a receipt per request
/// that copy grows with the ledger's history; at 1.5 million requests one insert took close to a second, long enough
/// for the gateway to take the stalled leader for dead. With 256 shards each growth copies 1/256 of the entries.
///
/// The shards are deliberately unequal: shard i receives a share proportional to 2^(i/256). Equal shards fill at
/// the same pace and so all double within a few thousand inserts of each other — one big copy again, only chopped
/// up (a 2M-insert test: 12 ms in the worst 1000 inserts). Shares spread over a factor of two put the shards'
/// doubling points evenly over each doubling of the total (3.6 ms in the same test).
///
/// The shard comes from a fixed hash of the id's bytes (`FNV1a`, with its final mix), not Swift's per-process seeded
/// hash, so the layout is the same in every run.
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

    /// Every receipt, shard by shard (for checkpoints; the order is the dictionaries' and varies between processes).
    func forEach(_ body: (RequestID, StoredReceipt) throws -> Void) rethrows {
        for shard in shards {
            for (id, receipt) in shard { try body(id, receipt) }
        }
    }

    /// How many entries each shard holds (for tests of the spread).
    var shardSizes: [Int] { shards.map(\.count) }

    /// Sizes every shard for its share of `total` entries.
    mutating func reserveCapacity(_ total: Int) {
        for index in shards.indices {
            shards[index].reserveCapacity(Int(Double(total) * Self.shares[index] * 1.1) + 16)
        }
    }

    private static let sliceCount = 4096

    /// Shard i's share of the ids: 2^(i/256), normalised.
    private static let shares: [Double] = {
        let weights = (0..<shardCount).map { pow2(Double($0) / Double(shardCount)) }
        let total = weights.reduce(0, +)
        return weights.map { $0 / total }
    }()

    /// The hash space cut into `sliceCount` slices, each given to a shard in proportion to its share.
    private static let shardOfSlice: [UInt8] = {
        var table: [UInt8] = []
        table.reserveCapacity(sliceCount)
        var cumulative = 0.0
        for shard in 0..<shardCount {
            cumulative += shares[shard]
            let end = min(sliceCount, Int((cumulative * Double(sliceCount)).rounded()))
            while table.count < end { table.append(UInt8(shard)) }
        }
        while table.count < sliceCount { table.append(UInt8(shardCount - 1)) }
        return table
    }()

    private static func shard(of id: RequestID) -> Int {
        var hash = FNV1a()
        for byte in id.rawValue.utf8 { hash.mix(byte: byte) }
        // The finalised hash is avalanched, so its top bits are as good as any: 12 of them pick the slice.
        return Int(shardOfSlice[Int(hash.finalized >> 52)])
    }
}

/// 2^x for 0 ≤ x < 1, without Foundation (BankCore stays free of it): exp(x ln 2) by its Taylor series, exact to
/// double precision well within 20 terms. Used only to build the shard table once.
private func pow2(_ x: Double) -> Double {
    let y = x * 0.693_147_180_559_945_3
    var term = 1.0, sum = 1.0
    for n in 1..<20 {
        term *= y / Double(n)
        sum += term
    }
    return sum
}
