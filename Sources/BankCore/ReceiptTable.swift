import DequeModule

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
///
/// With an archive the table is generational instead (`useGenerations`): receipts leave memory oldest first, a
/// generation at a time, and the id filter sends only a "maybe" to a lookup.
struct ReceiptTable: Sendable {
    static let shardBits = 16
    static let shardCount = 1 << shardBits
    /// The most receipts of one generation (see `useGenerations`).
    static let largestGeneration = 32_768
    /// Sharded (without an archive): every receipt, by the hash of its id.
    /// Made at the first receipt (an empty table costs nothing: 65,536 empty dictionaries are half a megabyte to
    /// make and free, which every `Ledger()` paid — decoders of checkpoints and the simulator make many); empty
    /// again once generational.
    private var shards: [[RequestID: StoredReceipt]] = []

    private mutating func makeShardsIfNeeded() {
        if shards.isEmpty { shards = [[RequestID: StoredReceipt]](repeating: [:], count: Self.shardCount) }
    }
    /// Generational (with an archive): receipts in the order they were stored, a dictionary per
    /// `generationCapacity` of them, oldest first.
    private var generations = Deque<[RequestID: StoredReceipt]>()
    /// 0: sharded.
    private(set) var generationCapacity = 0
    private(set) var count = 0

    /// Whether receipts are kept in generations, which leave memory whole (`dropOldestGeneration`).
    var isGenerational: Bool { generationCapacity > 0 }

    subscript(id: RequestID) -> StoredReceipt? {
        get {
            guard isGenerational else { return shards.isEmpty ? nil : shards[Self.shard(of: id)][id] }
            // Newest first: a retry comes soon after its original. Only a "maybe" of the id filter looks here.
            for index in generations.indices.reversed() {
                if let stored = generations[index][id] { return stored }
            }
            return nil
        }
        set {
            if let newValue {
                if !update(id, newValue) { insertNew(id, newValue) }
            } else {
                remove(id)
            }
        }
    }

    /// Stores the receipt of an id that holds none (the caller looked it up): in a generational table, without
    /// searching the older generations.
    mutating func insertNew(_ id: RequestID, _ stored: StoredReceipt) {
        if isGenerational {
            if generations.isEmpty || generations[generations.count - 1].count >= generationCapacity {
                generations.append([RequestID: StoredReceipt](minimumCapacity: generationCapacity))
            }
            let previous = generations[generations.count - 1].updateValue(stored, forKey: id)
            invariant(previous == nil, "request \(id) stored twice in a generation")
        } else {
            makeShardsIfNeeded()
            let previous = shards[Self.shard(of: id)].updateValue(stored, forKey: id)
            invariant(previous == nil, "request \(id) stored twice")
        }
        count += 1
    }

    /// Puts back a receipt an undone change replaced (only the injected bug replaces one): where it is, or — its
    /// generation having left memory for the store — nowhere (a new one would be a receipt without its place in
    /// the archive's order).
    mutating func restore(_ id: RequestID, _ stored: StoredReceipt) {
        if !update(id, stored), !isGenerational { insertNew(id, stored) }
    }

    /// Replaces the receipt of an id that holds one, where it is; false when it holds none.
    private mutating func update(_ id: RequestID, _ stored: StoredReceipt) -> Bool {
        guard isGenerational else {
            let shard = Self.shard(of: id)
            guard !shards.isEmpty, shards[shard][id] != nil else { return false }
            shards[shard][id] = stored
            return true
        }
        for index in generations.indices.reversed() where generations[index][id] != nil {
            generations[index][id] = stored
            return true
        }
        return false
    }

    @discardableResult
    mutating func remove(_ id: RequestID) -> StoredReceipt? {
        var removed: StoredReceipt?
        if isGenerational {
            for index in generations.indices.reversed() {
                removed = generations[index].removeValue(forKey: id)
                if removed != nil { break }
            }
        } else if !shards.isEmpty {
            removed = shards[Self.shard(of: id)].removeValue(forKey: id)
        }
        if removed != nil { count -= 1 }
        return removed
    }

    /// How many receipts the oldest generation holds (nil: sharded, or none).
    var oldestGenerationCount: Int? { generations.first?.count }

    /// Lets the oldest generation go at once: no lookup per receipt (eviction one by one was a hash lookup into
    /// memory long out of cache, about 0.6 µs a receipt, the largest cost of the archive on the leader's loop).
    mutating func dropOldestGeneration() {
        invariant(isGenerational && !generations.isEmpty, "no generation to drop")
        count -= generations.removeFirst().count
    }

    /// Switches to generations of `capacity` receipts, filled from `order` (every receipt in memory, oldest first:
    /// the order eviction follows). Only the newest generation is written to, so a checkpoint's copy on write
    /// copies that one, not the table; lookups walk the generations, which the id filter makes rare.
    mutating func useGenerations(capacity: Int, order: some Sequence<(RequestID, StoredReceipt)>) {
        invariant(capacity > 0, "a generation holds at least one receipt")
        shards = []
        generations = []
        generationCapacity = capacity
        count = 0
        for (id, stored) in order { insertNew(id, stored) }
    }

    /// Every receipt (for checkpoints; the order is the dictionaries' and varies between processes).
    func forEach(_ body: (RequestID, StoredReceipt) throws -> Void) rethrows {
        for shard in shards {
            for (id, receipt) in shard { try body(id, receipt) }
        }
        for generation in generations {
            for (id, receipt) in generation { try body(id, receipt) }
        }
    }

    /// How many entries each shard holds (for tests of the spread).
    var shardSizes: [Int] { shards.map(\.count) }

    /// Sizes every shard for its share of `total` entries (a small total leaves them to grow).
    mutating func reserveCapacity(_ total: Int) {
        guard !isGenerational, total >= Self.shardCount * 4 else { return }
        let perShard = total / Self.shardCount + total / Self.shardCount / 8 + 4
        makeShardsIfNeeded()
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
