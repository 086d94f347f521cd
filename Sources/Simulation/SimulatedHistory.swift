import BankCore
import Cluster

/// A ledger's history store on the simulated disk: keys and values as the real store holds them (ArchiveCodec),
/// durable once a batch's write ends (LevelDB's synced write). It survives crashes of its node; a write in flight
/// when the node crashes lands or not.
final class SimulatedHistoryStore: HistoryReading, @unchecked Sendable {
    private(set) var items: [[UInt8]: [UInt8]] = [:] { didSet { sortedCache = nil } }
    /// The keys in order, kept until the next write (reads come in runs).
    private var sortedCache: [[UInt8]]?
    private var sortedKeys: [[UInt8]] {
        if let sortedCache { return sortedCache }
        let sorted = items.keys.sorted { $0.lexicographicallyPrecedes($1) }
        sortedCache = sorted
        return sorted
    }

    /// The index of the first key at or after `key` in `sorted`.
    private static func lowerBound(_ key: [UInt8], in sorted: [[UInt8]]) -> Int {
        var low = 0, high = sorted.count
        while low < high {
            let middle = (low + high) / 2
            if sorted[middle].lexicographicallyPrecedes(key) { low = middle + 1 } else { high = middle }
        }
        return low
    }
    private(set) var watermark: Seq = 0
    private(set) var lookups = 0
    private(set) var hits = 0

    func write(_ batch: ArchiveBatch) {
        for item in ArchiveCodec.items(for: batch) { items[item.key] = item.value }
        if batch.advancesWatermark { watermark = max(watermark, batch.throughSeq) }
    }

    func importItems(_ imported: HistoryImport) {
        imported.items.forEach { key, value in items[Array(key)] = Array(value) }
        if let seq = imported.watermark { watermark = max(watermark, seq) }
    }

    func receipt(for id: RequestID) throws(HistoryReadError) -> ArchivedReceipt? {
        lookups += 1
        guard let value = items[ArchiveCodec.key(for: id)] else { return nil }
        hits += 1
        do { return try ArchiveCodec.decodeReceipt(value, requestID: id) } catch {
            throw HistoryReadError(reason: error.reason)
        }
    }

    func hold(_ id: HoldID) throws(HistoryReadError) -> ArchivedHold? {
        lookups += 1
        guard let value = items[ArchiveCodec.key(for: id)] else { return nil }
        hits += 1
        do { return try ArchiveCodec.decodeHold(value, id: id) } catch {
            throw HistoryReadError(reason: error.reason)
        }
    }

    func lines(of slot: UInt32, below number: UInt32, limit: Int) throws(HistoryReadError) -> [ArchivedLine] {
        let sorted = sortedKeys
        return try ArchiveCodec.lines(of: slot, below: number, limit: limit) { (from: [UInt8]) throws(HistoryReadError) in
            let start = Self.lowerBound(from, in: sorted)
            return sorted[start..<min(sorted.count, start + 64)].map { HistoryItem(key: $0, value: items[$0]!) }
        }
    }

    func items(after afterKey: [UInt8], maxBytes: Int) throws(HistoryReadError) -> (items: PackedHistoryItems, complete: Bool) {
        let sorted = sortedKeys
        var start = Self.lowerBound(afterKey, in: sorted)
        if start < sorted.count, sorted[start] == afterKey { start += 1 }
        let keys = sorted[start...]
        var out = PackedHistoryItems()
        for key in keys {
            if out.byteCount >= max(1, maxBytes) { return (out, false) }
            key.withUnsafeBufferPointer { k in items[key]!.withUnsafeBufferPointer { v in out.append(key: k, value: v) } }
        }
        return (out, true)
    }
}

extension Simulator {
    /// The node asked for a write to its store: it lands after a while (a LevelDB write; synced when it carries a
    /// watermark). Writes land in the order asked.
    func writeHistory(_ id: NodeID, _ job: HistoryJob) {
        let host = ledgers[id]!
        if case let .batch(batch) = job {
            stats.archiveBatches += 1
            if !batch.advancesWatermark { stats.archiveBatchesWhileCopying += 1 }
        }
        host.historyQueue.append(job)
        if host.historyQueue.count == 1 {
            schedule(writeLatency(job), .historyWritten(id, incarnation: host.incarnation))
        }
    }

    /// The oldest queued write ends: durable, and the node hears of it.
    func finishHistoryWrite(_ id: NodeID, incarnation: Int) {
        let host = ledgers[id]!
        guard host.incarnation == incarnation, host.node != nil, let job = host.historyQueue.first else { return }
        if host.paused { host.held.append(.historyWritten(id, incarnation: incarnation)); return }
        host.historyQueue.removeFirst()
        if let next = host.historyQueue.first {
            schedule(writeLatency(next), .historyWritten(id, incarnation: host.incarnation))
        }
        switch job {
        case let .batch(batch):
            host.history.write(batch)
            stepLedger(id, .archived(through: batch.throughSeq))
        case let .import(imported):
            host.history.importItems(imported)
            if imported.watermark != nil { stats.historyCopies += 1 }
            stepLedger(id, .historyImported(watermark: imported.watermark))
        }
    }

    /// A synced write (a batch, a copy's last piece) takes a sync; a copy's other pieces only reach the log.
    private func writeLatency(_ job: HistoryJob) -> UInt64 {
        if case let .import(imported) = job, imported.watermark == nil { return random.between(20_000, 1_000_000) }
        return random.between(200_000, 30_000_000)
    }

    /// A crash: queued writes land in order up to a random point (what reached LevelDB's log before it died);
    /// an unsynced import piece may land without the synced ones before it having — harmless, as its items are
    /// the leader's and the watermark comes only with the last.
    func crashHistory(_ id: NodeID) {
        let host = ledgers[id]!
        let landed = random.below(host.historyQueue.count + 1)
        for job in host.historyQueue.prefix(landed) {
            switch job {
            case let .batch(batch): host.history.write(batch)
            case let .import(imported): host.history.importItems(imported)
            }
        }
        host.historyQueue.removeAll()
    }

    /// Everything a ledger evicted is in its store (once its history is complete).
    func checkArchive(_ id: NodeID) {
        guard let host = ledgers[id], let node = host.node, node.ledger.archives, node.historyComplete else { return }
        if host.history.watermark < node.ledger.evictedThrough {
            fail("\(id) evicted items up to seq \(node.ledger.evictedThrough) but its store holds only up to \(host.history.watermark)")
        }
    }
}

/// A write the node asked of its history store.
enum HistoryJob {
    case batch(ArchiveBatch)
    case `import`(HistoryImport)
}
