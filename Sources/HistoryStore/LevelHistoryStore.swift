import BankCore
import CLevelDB

public struct HistoryStoreError: Error, CustomStringConvertible, Sendable {
    public let description: String
    init(_ what: String, _ error: UnsafeMutablePointer<CChar>?) {
        if let error {
            description = "\(what): \(String(cString: error))"
            leveldb_free(error)
        } else {
            description = what
        }
    }
}

/// The history store: receipts and closed holds that left the ledger's memory, in LevelDB (Debian's libleveldb).
///
/// Why LevelDB (measured on this machine, docs/DESIGN.md): request ids are chosen by clients, so the store's
/// inserts land at random keys. SQLite fell to about 20 k receipts (with their statement lines) per second once its
/// table outgrew the cache, and LMDB to 25 k — a B-tree rewrites a page per random insert. Log-structured merge
/// trees write sequentially: LevelDB took 900 k receipts per second at 1.3 µs of CPU each (its compactions
/// included), flat as it grew to 10 M, with point reads in 11 µs. RocksDB was as fast, but Debian builds it with
/// assertions on, and a write to a full disk aborted the process: a ledger must survive a full disk. LevelDB
/// answers it with an error, and writes again once space returns.
///
/// Writes come from one thread (the archive worker), a batch at a time, each ending with the watermark key and
/// synced, so the watermark is durable together with everything below it. Reads come from the ledger's thread,
/// concurrently (LevelDB allows it). Memory is bounded by the options below (a 16 MiB write buffer, a 16 MiB block
/// cache, 256 open files), not by history.
public final class LevelHistoryStore: HistoryReading, @unchecked Sendable {
    /// LevelDB's option objects, destroyed with this value (after the database that uses them is closed).
    private final class Settings {
        let options = leveldb_options_create()!
        let cache = leveldb_cache_create_lru(16 << 20)!
        let filterPolicy = leveldb_filterpolicy_create_bloom(10)!
        let readOptions = leveldb_readoptions_create()!
        let writeOptions = leveldb_writeoptions_create()!
        /// For the pieces of a copy from the leader: only the last one, with the watermark, needs the sync.
        let unsyncedWriteOptions = leveldb_writeoptions_create()!

        init() {
            leveldb_options_set_create_if_missing(options, 1)
            leveldb_options_set_write_buffer_size(options, 16 << 20)
            leveldb_options_set_max_open_files(options, 256)
            // Uncompressed: Snappy took an eighth of the ledger's CPU under load, for values of ~60 bytes.
            leveldb_options_set_compression(options, Int32(leveldb_no_compression))
            leveldb_options_set_cache(options, cache)
            leveldb_options_set_filter_policy(options, filterPolicy)
            leveldb_writeoptions_set_sync(writeOptions, 1)
        }

        deinit {
            leveldb_readoptions_destroy(readOptions)
            leveldb_writeoptions_destroy(writeOptions)
            leveldb_writeoptions_destroy(unsyncedWriteOptions)
            leveldb_options_destroy(options)
            leveldb_cache_destroy(cache)
            leveldb_filterpolicy_destroy(filterPolicy)
        }
    }

    private let database: OpaquePointer
    private let settings = Settings()
    private var readOptions: OpaquePointer { settings.readOptions }
    private var writeOptions: OpaquePointer { settings.writeOptions }
    private var unsyncedWriteOptions: OpaquePointer { settings.unsyncedWriteOptions }
    public let directory: String
    /// Everything the ledger archived up to this seq is durable here.
    public private(set) var watermark: Seq

    static let watermarkKey: [UInt8] = Array("w".utf8)

    public init(directory: String) throws(HistoryStoreError) {
        self.directory = directory
        var error: UnsafeMutablePointer<CChar>?
        let opened = leveldb_open(settings.options, directory, &error)
        guard let opened, error == nil else {
            throw HistoryStoreError("cannot open the history store at \(directory)", error)
        }
        database = opened
        watermark = 0
        let stored: [UInt8]?
        do {
            stored = try get(Self.watermarkKey)
        } catch {
            close()
            throw HistoryStoreError("cannot read the history store's watermark: \(error.reason)", nil)
        }
        if let stored {
            guard stored.count == 8 else {
                close()
                throw HistoryStoreError("the history store's watermark is damaged", nil)
            }
            watermark = stored.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
        }
    }

    private var closed = false

    public func close() {
        guard !closed else { return }
        closed = true
        leveldb_close(database)
    }

    deinit { close() }

    /// Stores a batch and its end as the watermark, durably. A batch that ends at or below the watermark is stored
    /// again harmlessly (same keys, same values).
    public func write(_ batch: ArchiveBatch) throws(HistoryStoreError) {
        let writeBatch = leveldb_writebatch_create()!
        defer { leveldb_writebatch_destroy(writeBatch) }
        ArchiveCodec.forEachItem(of: batch) { key, value in Self.put(key, value, into: writeBatch) }
        try commit(writeBatch, watermark: batch.throughSeq)
    }

    /// Stores items copied from the leader's store; with `watermark` (the copy is complete), durably and with it.
    public func importItems(_ items: PackedHistoryItems, watermark: Seq?) throws(HistoryStoreError) {
        var foreign: [UInt8]?
        items.forEach { key, _ in
            if foreign == nil, !ArchiveCodec.isItemKey(key) { foreign = Array(key.prefix(8)) }
        }
        if let foreign {
            throw HistoryStoreError("refusing to import an item with key \(foreign): not a history item", nil)
        }
        let writeBatch = leveldb_writebatch_create()!
        defer { leveldb_writebatch_destroy(writeBatch) }
        items.forEach { key, value in Self.put(key, value, into: writeBatch) }
        try commit(writeBatch, watermark: watermark)
    }

    /// Writes a batch, with the watermark when given (then synced).
    private func commit(_ writeBatch: OpaquePointer, watermark newWatermark: Seq?) throws(HistoryStoreError) {
        let stored = max(watermark, newWatermark ?? 0)
        if newWatermark != nil {
            let value = withUnsafeBytes(of: stored.littleEndian) { Array($0) }
            Self.watermarkKey.withUnsafeBufferPointer { k in
                value.withUnsafeBufferPointer { v in Self.put(k, v, into: writeBatch) }
            }
        }
        var error: UnsafeMutablePointer<CChar>?
        leveldb_write(database, newWatermark == nil ? unsyncedWriteOptions : writeOptions, writeBatch, &error)
        if error != nil { throw HistoryStoreError("history store write failed", error) }
        watermark = stored
    }

    private static func put(_ key: UnsafeBufferPointer<UInt8>, _ value: UnsafeBufferPointer<UInt8>,
                            into batch: OpaquePointer) {
        key.withMemoryRebound(to: CChar.self) { k in
            value.withMemoryRebound(to: CChar.self) { v in
                leveldb_writebatch_put(batch, k.baseAddress, k.count, v.baseAddress, v.count)
            }
        }
    }

    public func receipt(for id: RequestID) throws(HistoryReadError) -> ArchivedReceipt? {
        guard let bytes = try get(ArchiveCodec.key(for: id)) else { return nil }
        do {
            return try ArchiveCodec.decodeReceipt(bytes, requestID: id)
        } catch {
            throw HistoryReadError(reason: "receipt of \(id): \(error.reason)")
        }
    }

    public func hold(_ id: HoldID) throws(HistoryReadError) -> ArchivedHold? {
        guard let bytes = try get(ArchiveCodec.key(for: id)) else { return nil }
        do {
            return try ArchiveCodec.decodeHold(bytes, id: id)
        } catch {
            throw HistoryReadError(reason: "hold \(id): \(error.reason)")
        }
    }

    public func lines(of slot: UInt32, below number: UInt32, limit: Int) throws(HistoryReadError) -> [ArchivedLine] {
        try ArchiveCodec.lines(of: slot, below: number, limit: limit) { (from: [UInt8]) throws(HistoryReadError) in
            var count = 0
            return try scan(from: from) { _ in
                count += 1
                return count <= 64
            }
        }
    }

    /// The items from the first key at or after `from`, in key order, while `take` says so.
    private func scan(from: [UInt8], while take: (HistoryItem) -> Bool) throws(HistoryReadError) -> [HistoryItem] {
        var items: [HistoryItem] = []
        try iterate(from: from) { key, value in
            let item = HistoryItem(key: Array(key), value: Array(value()))
            guard take(item) else { return false }
            items.append(item)
            return true
        }
        return items
    }

    public func items(after afterKey: [UInt8], maxBytes: Int) throws(HistoryReadError)
        -> (items: PackedHistoryItems, complete: Bool) {
        var items = PackedHistoryItems()
        var more = false
        try iterate(from: afterKey) { key, value in
            guard ArchiveCodec.isItemKey(key), !key.elementsEqual(afterKey) else { return true }
            guard items.byteCount < max(1, maxBytes) else {
                more = true
                return false
            }
            items.append(key: key, value: value())
            return true
        }
        return (items, !more)
    }

    /// Walks the store in key order from the first key at or after `from` while `body` says so; `body` gets each
    /// key and a way to its value, both valid only during the call.
    private func iterate(from: [UInt8], _ body: (UnsafeBufferPointer<UInt8>, () -> UnsafeBufferPointer<UInt8>) -> Bool)
        throws(HistoryReadError) {
        let iterator = leveldb_create_iterator(database, readOptions)!
        defer { leveldb_iter_destroy(iterator) }
        from.withUnsafeBufferPointer { k in
            k.withMemoryRebound(to: CChar.self) { leveldb_iter_seek(iterator, $0.baseAddress, k.count) }
        }
        func bytes(_ start: UnsafePointer<CChar>, _ count: Int) -> UnsafeBufferPointer<UInt8> {
            UnsafeBufferPointer(start: UnsafeRawPointer(start).assumingMemoryBound(to: UInt8.self), count: count)
        }
        while leveldb_iter_valid(iterator) != 0 {
            var keyLength = 0
            let key = bytes(leveldb_iter_key(iterator, &keyLength)!, keyLength)
            let goOn = body(key) {
                var valueLength = 0
                return bytes(leveldb_iter_value(iterator, &valueLength)!, valueLength)
            }
            guard goOn else { break }
            leveldb_iter_next(iterator)
        }
        var error: UnsafeMutablePointer<CChar>?
        leveldb_iter_get_error(iterator, &error)
        if let error {
            let reason = String(cString: error)
            leveldb_free(error)
            throw HistoryReadError(reason: reason)
        }
    }

    private func get(_ key: [UInt8]) throws(HistoryReadError) -> [UInt8]? {
        var error: UnsafeMutablePointer<CChar>?
        var length = 0
        let value = key.withUnsafeBufferPointer { k in
            k.withMemoryRebound(to: CChar.self) { kc in
                leveldb_get(database, readOptions, kc.baseAddress, k.count, &length, &error)
            }
        }
        if let error {
            let reason = String(cString: error)
            leveldb_free(error)
            throw HistoryReadError(reason: reason)
        }
        guard let value else { return nil }
        defer { leveldb_free(value) }
        return Array(UnsafeRawBufferPointer(start: value, count: length))
    }
}
