import BankCore
import CLevelDB
import CZstd
import Glibc

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

/// The history store: receipts, closed holds and statement lines that left the ledger's memory, in LevelDB
/// (Debian's libleveldb), as two databases in one directory:
///
/// - `chunks/`: the items themselves (`ArchiveCodec`), packed in chunks of about `chunkBytes` in the order they were
///   written, compressed with Zstandard, under keys that only grow (`c` + chunk number, big-endian);
/// - `index/`: each item's key → the number of the chunk that holds it (8 bytes), the watermark and the format.
///
/// Why compressed: every byte the store writes is written twice (LevelDB's log, then its table), and the disk is
/// shared with the journal, whose `fdatasync` waits for whatever else is being written. Uncompressed, the store
/// wrote about four times the journal's bytes; Zstandard (level 2) packs a chunk of receipts and statement
/// lines about five times smaller, at a small part of the archive's CPU. The index's entries are left as they are
/// (LevelDB reads them one at a time, and they are mostly the keys themselves).
///
/// Why two: history arrives in seq order, but its keys (request ids chosen by clients, accounts) land at random
/// places. A log-structured merge tree rewrites what is inserted at random keys again at each level it sinks
/// through; what arrives in key order it moves between levels without rewriting (a file that overlaps nothing below
/// it). Stored under their own keys, receipts and lines cost LevelDB about 4 µs of CPU per transfer, most of it
/// compactions (measured in-process, 2.4 M transfers); in chunks, with only the small pointers at random keys, about
/// a third of that. A read costs one more point read (the chunk, then a scan of its items).
///
/// Why LevelDB (docs/DESIGN.md): SQLite fell to about 20 k receipts (with their statement lines) per second once its
/// table outgrew the cache, and LMDB to 25 k — a B-tree rewrites a page per random insert. RocksDB was as fast as
/// LevelDB, but Debian builds it with assertions on, and a write to a full disk aborted the process: a ledger must
/// survive a full disk. LevelDB answers it with an error, and writes again once space returns.
///
/// Writes come from one thread (the archive worker), a batch at a time: its chunks first, synced, then its pointers
/// and the watermark, synced, so the watermark is durable together with everything below it. A crash between the
/// two leaves chunks nothing points to (written again, under new numbers, from the journal). Reads come from the
/// ledger's thread, concurrently (LevelDB allows it). Memory is bounded by the options below (16 MiB write buffers, a
/// 16 MiB block cache shared by both, 256 open files each), not by history.
public final class LevelHistoryStore: HistoryReading, @unchecked Sendable {
    /// LevelDB's option objects, destroyed with this value (after the databases that use them are closed).
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

    private let index: OpaquePointer
    private let chunks: OpaquePointer
    private let settings = Settings()
    private var readOptions: OpaquePointer { settings.readOptions }
    public let directory: String
    /// Everything the ledger archived up to this seq is durable here.
    public private(set) var watermark: Seq
    /// The number the next chunk is written under.
    private var nextChunk: UInt64
    /// Where the chunks of the copy under way (or the last one) start: the leader's chunk n is stored as base + n.
    private var copyBase: UInt64 = 0
    /// The end of the chunks copied so far by the copy under way (a copy starts over after a restart).
    private var copyEnd: UInt64 = 0
    /// A copy's chunks go this far above the store's own, so that batches the store writes while the copy is under
    /// way (`ArchiveBatch.advancesWatermark` false) never take a number a later piece of the copy brings: 2^32
    /// chunks of 32 KiB, far more than any copy lasts; and 2^16 copies of copies fit below `largestImportedChunk`.
    static let copyGap: UInt64 = 1 << 32
    /// About how many bytes of items a chunk holds (a read decodes one whole chunk).
    private let chunkBytes: Int

    static let watermarkKey: [UInt8] = Array("w".utf8)
    static let copyBaseKey: [UInt8] = Array("b".utf8)
    /// The store's format, written when it is created: 2 = compressed chunks. A store without it that holds
    /// anything is of the first chunked format (uncompressed), and refused.
    static let formatKey: [UInt8] = Array("v".utf8)
    static let format: UInt8 = 2
    /// The writer's compression context (one thread writes).
    private let compressor = ChunkCompressor()
    static let chunkPrefix = UInt8(ascii: "c")

    public init(directory: String, chunkBytes: Int = 32 << 10) throws(HistoryStoreError) {
        self.directory = directory
        self.chunkBytes = max(1, chunkBytes)
        if access(directory + "/CURRENT", F_OK) == 0 {
            throw HistoryStoreError("the history store at \(directory) has the layout of an earlier version (every "
                + "item under its own key); this version keeps items in chunks: move that directory away (the "
                + "ledger then copies the leader's store, or refuses to serve history it cannot find)", nil)
        }
        if mkdir(directory, 0o755) != 0, errno != EEXIST {
            throw HistoryStoreError("cannot create the history store directory \(directory): "
                + String(cString: strerror(errno)), nil)
        }
        index = try Self.open(directory + "/index", settings)
        do {
            chunks = try Self.open(directory + "/chunks", settings)
        } catch {
            leveldb_close(index)
            throw error
        }
        watermark = 0
        nextChunk = 0
        do throws(HistoryReadError) {
            if let stored = try Self.get(Self.watermarkKey, from: index, settings.readOptions) {
                guard stored.count == 8 else { throw HistoryReadError(reason: "the watermark is damaged") }
                watermark = stored.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
            }
            nextChunk = try lastChunkNumber().map { $0 + 1 } ?? 0
            try checkFormat()
            if let stored = try Self.get(Self.copyBaseKey, from: index, settings.readOptions) {
                guard stored.count == 8 else { throw HistoryReadError(reason: "the copy base is damaged") }
                copyBase = Self.number(stored)
            }
        } catch {
            close()
            throw HistoryStoreError("cannot read the history store at \(directory): \(error.reason)", nil)
        }
    }

    /// Marks a new store with this version's format; refuses one of another format.
    private func checkFormat() throws(HistoryReadError) {
        if let stored = try Self.get(Self.formatKey, from: index, settings.readOptions) {
            guard stored == [Self.format] else {
                throw HistoryReadError(reason: "the store has format \(stored) and this version reads format "
                    + "\(Self.format): move that directory away (the ledger then copies the leader's store)")
            }
            return
        }
        guard watermark == 0, nextChunk == 0 else {
            throw HistoryReadError(reason: "the store is of an earlier format (uncompressed chunks): move that "
                + "directory away (the ledger then copies the leader's store)")
        }
        let batch = leveldb_writebatch_create()!
        defer { leveldb_writebatch_destroy(batch) }
        Self.formatKey.withUnsafeBufferPointer { k in [Self.format].withUnsafeBufferPointer { Self.put(k, $0, into: batch) } }
        var error: UnsafeMutablePointer<CChar>?
        leveldb_write(index, settings.writeOptions, batch, &error)
        if let error {
            let reason = String(cString: error)
            leveldb_free(error)
            throw HistoryReadError(reason: "cannot mark the store's format: \(reason)")
        }
    }

    private static func open(_ path: String, _ settings: Settings) throws(HistoryStoreError) -> OpaquePointer {
        var error: UnsafeMutablePointer<CChar>?
        let opened = leveldb_open(settings.options, path, &error)
        guard let opened, error == nil else { throw HistoryStoreError("cannot open the history store at \(path)", error) }
        return opened
    }

    private var closed = false

    public func close() {
        guard !closed else { return }
        closed = true
        leveldb_close(chunks)
        leveldb_close(index)
    }

    deinit { close() }

    // MARK: - Writing

    /// Stores a batch and its end as the watermark, durably. A batch that ends at or below the watermark is stored
    /// again harmlessly (same keys, same values).
    /// While a copy from the leader is under way (`advancesWatermark` false), the batch is stored durably but the
    /// watermark stays: the store lacks what the copy brings. Its chunks go below the copy's (`copyGap`).
    public func write(_ batch: ArchiveBatch) throws(HistoryStoreError) {
        // Outside a copy, above every chunk held, an abandoned copy's included: a copy of this store reads chunks in
        // number order while it is written, and must never find a new chunk below where it has read.
        if batch.advancesWatermark { nextChunk = max(nextChunk, copyEnd) }
        var writer = ChunkWriter(firstChunk: nextChunk, chunkBytes: chunkBytes, compressor: compressor)
        ArchiveCodec.forEachItem(of: batch) { key, value in writer.add(key, value) }
        try commit(&writer, watermark: batch.advancesWatermark ? batch.throughSeq : nil, synced: true, copying: false)
    }

    /// Stores a piece of a copy of the leader's store (`items(after:maxBytes:)`): its chunks and index entries as
    /// they are, the chunks under the leader's numbers plus the base this store chose when the copy started
    /// (`startsCopy`) — above every chunk it held, so nothing of its own, nor of an earlier copy that started over, is
    /// overwritten; an entry is repointed only once its chunk is stored. Single items (not from a store) are indexed into chunks of this store's own. With `watermark` (the
    /// copy is complete), durably and with it.
    public func importItems(_ items: PackedHistoryItems, watermark: Seq?,
                            startsCopy: Bool = false) throws(HistoryStoreError) {
        var refusal: String?
        items.forEach { key, value in
            guard refusal == nil else { return }
            switch Self.exported(key) {
            case let .pointer(itemKey):
                if !ArchiveCodec.isItemKey(itemKey) || value.count != 8 || Self.number(value) > Self.largestImportedChunk {
                    refusal = "a damaged index entry"
                }
            case let .chunk(chunkKey):
                guard let number = Self.chunkNumber(chunkKey), number <= Self.largestImportedChunk,
                      let inner = Self.chunkItems(value) else {
                    refusal = "a chunk that does not decode"
                    return
                }
                inner.forEach { innerKey, _ in
                    if refusal == nil, !ArchiveCodec.isItemKey(innerKey) { refusal = "key \(Array(innerKey.prefix(8)))" }
                }
            case nil:
                if !ArchiveCodec.isItemKey(key) { refusal = "key \(Array(key.prefix(8)))" }
            }
        }
        // Above every chunk held, the store's own and those of a copy that started over (its index entries stay).
        let base = startsCopy ? max(nextChunk, copyEnd) + Self.copyGap : copyBase
        if base > Self.largestImportedChunk << 8 { refusal = "a copy into a store of \(base) chunks" }
        if let refusal { throw HistoryStoreError("refusing to import \(refusal): not a history item", nil) }
        if startsCopy { copyEnd = base }
        var copiedChunksEnd = max(copyEnd, base)
        var writer = ChunkWriter(firstChunk: copiedChunksEnd, chunkBytes: chunkBytes, compressor: compressor)
        if startsCopy {
            withUnsafeBytes(of: base.bigEndian) { v in
                Self.copyBaseKey.withUnsafeBufferPointer { k in Self.put(k, v.bindMemory(to: UInt8.self), into: writer.indexBatch) }
            }
        }
        items.forEach { key, value in
            switch Self.exported(key) {
            case let .pointer(itemKey):
                // A chunk not copied (written during the copy) holds items above the copy's watermark, which this
                // store archives itself: pointing at it would point at a chunk of its own later.
                let number = Self.number(value) + base
                if number < copiedChunksEnd { writer.putPointer(itemKey, to: number) }
            case let .chunk(chunkKey):
                let number = Self.chunkNumber(chunkKey)! + base
                writer.putChunk(number, value)
                copiedChunksEnd = max(copiedChunksEnd, number + 1)
            case nil:
                break
            }
        }
        // Chunks of this store's own go after every copied one.
        writer.number = copiedChunksEnd
        items.forEach { key, value in
            if Self.exported(key) == nil { writer.add(key, value) }
        }
        try commit(&writer, watermark: watermark, synced: watermark != nil, copying: true)
        if startsCopy { copyBase = base }
    }

    /// What an exported key names: an index entry (item key → the leader's chunk number) or a chunk.
    private enum Exported {
        case pointer(UnsafeBufferPointer<UInt8>)
        case chunk(UnsafeBufferPointer<UInt8>)
    }

    private static let exportedChunk: UInt8 = 1
    private static let exportedPointer: UInt8 = 2
    /// Chunk numbers beyond this are refused on import (no store writes that many; keeps base + n from overflowing).
    private static let largestImportedChunk: UInt64 = 1 << 48

    private static func exported(_ key: UnsafeBufferPointer<UInt8>) -> Exported? {
        guard let first = key.first else { return nil }
        let rest = UnsafeBufferPointer(rebasing: key[1...])
        switch first {
        case exportedPointer: return .pointer(rest)
        case exportedChunk: return .chunk(rest)
        default: return nil
        }
    }

    private static func number(_ bytes: some Collection<UInt8>) -> UInt64 {
        bytes.reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
    }

    /// Gathers items into chunks and each item's pointer into the index's write batch.
    private struct ChunkWriter: ~Copyable {
        let chunkBatch = leveldb_writebatch_create()!
        let indexBatch = leveldb_writebatch_create()!
        var chunk = PackedHistoryItems()
        var number: UInt64
        /// Whether the chunk batch holds a chunk.
        private(set) var wroteChunk = false
        let chunkBytes: Int
        let compressor: ChunkCompressor

        init(firstChunk: UInt64, chunkBytes: Int, compressor: ChunkCompressor) {
            number = firstChunk
            self.chunkBytes = chunkBytes
            self.compressor = compressor
        }

        deinit {
            leveldb_writebatch_destroy(chunkBatch)
            leveldb_writebatch_destroy(indexBatch)
        }

        mutating func add(_ key: UnsafeBufferPointer<UInt8>, _ value: UnsafeBufferPointer<UInt8>) {
            if !chunk.isEmpty, chunk.byteCount + key.count + value.count + 8 > chunkBytes { finishChunk() }
            chunk.append(key: key, value: value)
            putPointer(key, to: number)
        }

        func putPointer(_ key: UnsafeBufferPointer<UInt8>, to chunkNumber: UInt64) {
            withUnsafeBytes(of: chunkNumber.bigEndian) { pointer in
                LevelHistoryStore.put(key, pointer.bindMemory(to: UInt8.self), into: indexBatch)
            }
        }

        /// A whole chunk as another store wrote it.
        mutating func putChunk(_ chunkNumber: UInt64, _ value: UnsafeBufferPointer<UInt8>) {
            let key = LevelHistoryStore.chunkKey(chunkNumber)
            key.withUnsafeBufferPointer { LevelHistoryStore.put($0, value, into: chunkBatch) }
            wroteChunk = true
        }

        /// Puts the chunk being filled into the chunk batch (nothing when it is empty).
        mutating func finishChunk() {
            guard !chunk.isEmpty else { return }
            let key = LevelHistoryStore.chunkKey(number)
            compressor.withChunk(chunk) { value in
                key.withUnsafeBufferPointer { LevelHistoryStore.put($0, value, into: chunkBatch) }
            }
            number += 1
            chunk = PackedHistoryItems()
            wroteChunk = true
        }
    }

    /// Writes the chunks, then the pointers to them with the watermark when given; both synced when `synced`.
    /// `copying`: chunks of a copy from the leader, numbered in the copy's range (above `copyEnd`); the store's own
    /// chunks continue below it until the copy is complete.
    private func commit(_ writer: inout ChunkWriter, watermark newWatermark: Seq?, synced: Bool,
                        copying: Bool) throws(HistoryStoreError) {
        writer.finishChunk()
        let options = synced ? settings.writeOptions : settings.unsyncedWriteOptions
        let stored = max(watermark, newWatermark ?? 0)
        if synced, !writer.wroteChunk {
            // Synced even without chunks of its own: unsynced chunks of earlier pieces must be durable before the
            // pointers to them are. An empty chunk, not a marker under a fixed key: a fixed key would make every
            // file of the database overlap every other, and LevelDB would rewrite them all again and again.
            [UInt8](repeating: 0, count: 4).withUnsafeBufferPointer { writer.putChunk(writer.number, $0) }
            writer.number += 1
        }
        var error: UnsafeMutablePointer<CChar>?
        if writer.wroteChunk {
            leveldb_write(chunks, options, writer.chunkBatch, &error)
            if error != nil { throw HistoryStoreError("history store write failed", error) }
            if copying {
                copyEnd = max(copyEnd, writer.number)
                if newWatermark != nil { nextChunk = max(nextChunk, copyEnd) } // the copy is complete
            } else {
                nextChunk = max(nextChunk, writer.number)
            }
        }
        if newWatermark != nil {
            let value = withUnsafeBytes(of: stored.littleEndian) { Array($0) }
            Self.watermarkKey.withUnsafeBufferPointer { k in
                value.withUnsafeBufferPointer { v in Self.put(k, v, into: writer.indexBatch) }
            }
        }
        leveldb_write(index, options, writer.indexBatch, &error)
        if error != nil { throw HistoryStoreError("history store write failed", error) }
        watermark = stored
    }

    fileprivate static func put(_ key: UnsafeBufferPointer<UInt8>, _ value: UnsafeBufferPointer<UInt8>,
                                into batch: OpaquePointer) {
        key.withMemoryRebound(to: CChar.self) { k in
            value.withMemoryRebound(to: CChar.self) { v in
                leveldb_writebatch_put(batch, k.baseAddress, k.count, v.baseAddress, v.count)
            }
        }
    }

    // MARK: - Chunks

    fileprivate static func chunkKey(_ number: UInt64) -> [UInt8] {
        [chunkPrefix] + withUnsafeBytes(of: number.bigEndian) { Array($0) }
    }

    static func chunkNumber(_ key: some Collection<UInt8>) -> UInt64? {
        guard key.count == 9, key.first == chunkPrefix else { return nil }
        return number(key.dropFirst())
    }

    /// A chunk's items, or nil when it does not decode. A chunk is `count:u32` (little-endian; 0: an empty chunk,
    /// nothing follows), then `length:u32`, the packed items' length, and the packed items as one Zstandard frame
    /// (with a checksum of its content).
    static func chunkItems(_ value: some Collection<UInt8>) -> PackedHistoryItems? {
        // Read in place (LevelDB's value, or a piece of a copy), not copied first.
        value.withContiguousStorageIfAvailable { chunkItems(UnsafeRawBufferPointer($0)) } ?? Array(value).withUnsafeBytes(chunkItems)
    }

    private static func chunkItems(_ value: UnsafeRawBufferPointer) -> PackedHistoryItems? {
        guard value.count >= 4 else { return nil }
        let count = Int(UInt32(littleEndian: value.loadUnaligned(as: UInt32.self)))
        if count == 0 { return value.count == 4 ? PackedHistoryItems() : nil }
        guard value.count >= 8 else { return nil }
        let length = Int(UInt32(littleEndian: value.loadUnaligned(fromByteOffset: 4, as: UInt32.self)))
        guard length <= ChunkCompressor.largestChunk else { return nil }
        var bytes = [UInt8](repeating: 0, count: length)
        let produced = bytes.withUnsafeMutableBytes { out in
            ZSTD_decompress(out.baseAddress, out.count, value.baseAddress! + 8, value.count - 8)
        }
        guard ZSTD_isError(produced) == 0, produced == length else { return nil }
        return PackedHistoryItems(validating: bytes, count: count)
    }

    private func lastChunkNumber() throws(HistoryReadError) -> UInt64? {
        let iterator = leveldb_create_iterator(chunks, readOptions)!
        defer { leveldb_iter_destroy(iterator) }
        leveldb_iter_seek_to_last(iterator)
        var last: UInt64?
        if leveldb_iter_valid(iterator) != 0 {
            var length = 0
            let key = leveldb_iter_key(iterator, &length)!
            last = Self.chunkNumber(UnsafeRawBufferPointer(start: key, count: length))
        }
        try Self.check(iterator)
        return last
    }

    /// The chunks read during one call, by number (a page of lines often finds several in one chunk).
    private final class ChunkCache {
        var chunks: [UInt64: PackedHistoryItems] = [:]
    }

    /// The value an item key points to: its chunk, then the item in it.
    private func value(of key: some Collection<UInt8>, pointer: some Collection<UInt8>,
                       cache: ChunkCache? = nil) throws(HistoryReadError) -> [UInt8] {
        guard pointer.count == 8 else { throw HistoryReadError(reason: "a damaged pointer in the history index") }
        let number = Self.number(pointer)
        let items: PackedHistoryItems
        if let cached = cache?.chunks[number] {
            items = cached
        } else {
            guard let bytes = try Self.get(Self.chunkKey(number), from: chunks, readOptions) else {
                throw HistoryReadError(reason: "history chunk \(number) is missing")
            }
            guard let decoded = Self.chunkItems(bytes) else {
                throw HistoryReadError(reason: "history chunk \(number) is damaged")
            }
            items = decoded
            cache?.chunks[number] = decoded
        }
        var found: [UInt8]?
        items.forEach { itemKey, itemValue in
            if found == nil, itemKey.elementsEqual(key) { found = Array(itemValue) }
        }
        guard let found else { throw HistoryReadError(reason: "history chunk \(number) lacks an item it should hold") }
        return found
    }

    private func get(_ key: [UInt8]) throws(HistoryReadError) -> [UInt8]? {
        guard let pointer = try Self.get(key, from: index, readOptions) else { return nil }
        return try value(of: key, pointer: pointer)
    }

    // MARK: - Reading

    public func receipt(for id: RequestID) throws(HistoryReadError) -> ArchivedReceipt? {
        let key = ArchiveCodec.key(for: id)
        guard let bytes = try get(key) else { return nil }
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
        let cache = ChunkCache()
        // The scan yields pointers; only the groups the page needs are read from their chunks.
        return try ArchiveCodec.lines(of: slot, below: number, limit: limit, scan: { (from: [UInt8]) throws(HistoryReadError) in
            var pointers: [HistoryItem] = []
            try Self.iterate(index, readOptions, from: from) { key, value in
                pointers.append(HistoryItem(key: Array(key), value: Array(value())))
                return pointers.count < 64
            }
            return pointers
        }, resolve: { (pointer: HistoryItem) throws(HistoryReadError) in
            try value(of: pointer.key, pointer: pointer.value, cache: cache)
        })
    }

    /// The store as a copy takes it, in pieces: first its chunks in the order written (1 + chunk key → chunk), then
    /// its index in key order (2 + item key → chunk number). Both arrive at the copy in key order, which LevelDB
    /// stores without rewriting; the chunks go first, so the copy never points an item at a chunk it lacks (an entry
    /// written during the copy may point past the chunks copied: its item is above the copy's watermark, and the copy
    /// skips it). `afterKey`: the last key of the previous piece (empty: from the start).
    public func items(after afterKey: [UInt8], maxBytes: Int) throws(HistoryReadError)
        -> (items: PackedHistoryItems, complete: Bool) {
        var items = PackedHistoryItems()
        var more = false
        var prefixed = [UInt8](repeating: 0, count: 1)
        func take(_ prefix: UInt8, from database: OpaquePointer, after: [UInt8],
                  where wanted: (UnsafeBufferPointer<UInt8>) -> Bool) throws(HistoryReadError) {
            try Self.iterate(database, readOptions, from: after) { key, value in
                guard wanted(key), !key.elementsEqual(after) else { return true }
                guard items.byteCount < max(1, maxBytes) else {
                    more = true
                    return false
                }
                prefixed.removeAll(keepingCapacity: true)
                prefixed.append(prefix)
                prefixed.append(contentsOf: key)
                prefixed.withUnsafeBufferPointer { items.append(key: $0, value: value()) }
                return true
            }
        }
        let position = afterKey.first
        if position == nil || position == Self.exportedChunk {
            try take(Self.exportedChunk, from: chunks, after: Array(afterKey.dropFirst()),
                     where: { Self.chunkNumber($0) != nil })
            if more { return (items, false) }
        }
        try take(Self.exportedPointer, from: index,
                 after: position == Self.exportedPointer ? Array(afterKey.dropFirst()) : [],
                 where: { ArchiveCodec.isItemKey($0) })
        return (items, !more)
    }

    // MARK: - LevelDB

    /// Walks a database in key order from the first key at or after `from` while `body` says so; `body` gets each
    /// key and a way to its value, both valid only during the call.
    private static func iterate(_ database: OpaquePointer, _ readOptions: OpaquePointer, from: [UInt8],
                                _ body: (UnsafeBufferPointer<UInt8>, () -> UnsafeBufferPointer<UInt8>) -> Bool)
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
        try check(iterator)
    }

    private static func check(_ iterator: OpaquePointer) throws(HistoryReadError) {
        var error: UnsafeMutablePointer<CChar>?
        leveldb_iter_get_error(iterator, &error)
        if let error {
            let reason = String(cString: error)
            leveldb_free(error)
            throw HistoryReadError(reason: reason)
        }
    }

    private static func get(_ key: [UInt8], from database: OpaquePointer,
                            _ readOptions: OpaquePointer) throws(HistoryReadError) -> [UInt8]? {
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

/// Compresses chunks for the store's writer (a Zstandard context, reused: making one per chunk costs more than the
/// compression).
private final class ChunkCompressor {
    /// No chunk is larger (a chunk holds about `chunkBytes`, or one item larger than that): a longer length in a
    /// stored chunk means damage, and is not allocated.
    static let largestChunk = 64 << 20
    /// About five times smaller for receipts and statement lines; on them level 2 compressed faster than level 1
    /// (`zstd -b1 -e3 -B32768` on a dump of 240,000 transfers' items: 475, 540 and 470 MB/s, ratios 5.10, 5.13 and
    /// 5.12; LZ4 1,010 MB/s at 2.8).
    static let level: Int32 = 2
    private let context: OpaquePointer
    private var output: [UInt8] = []

    init() {
        context = ZSTD_createCCtx()!
        _ = ZSTD_CCtx_setParameter(context, ZSTD_c_compressionLevel, Self.level)
        // Each frame carries a checksum of its content: a damaged chunk is refused on reading, never misread.
        _ = ZSTD_CCtx_setParameter(context, ZSTD_c_checksumFlag, 1)
    }

    deinit { ZSTD_freeCCtx(context) }

    /// The stored form of `chunk`, valid only during `body`.
    func withChunk(_ chunk: PackedHistoryItems, _ body: (UnsafeBufferPointer<UInt8>) -> Void) {
        precondition(chunk.byteCount <= Self.largestChunk, "a history chunk beyond \(Self.largestChunk) bytes")
        let bound = ZSTD_compressBound(chunk.byteCount)
        if output.count < 8 + bound { output = [UInt8](repeating: 0, count: 8 + bound) }
        let written = output.withUnsafeMutableBytes { out in
            out.storeBytes(of: UInt32(chunk.count).littleEndian, toByteOffset: 0, as: UInt32.self)
            out.storeBytes(of: UInt32(chunk.byteCount).littleEndian, toByteOffset: 4, as: UInt32.self)
            return chunk.bytes.withUnsafeBytes { input in
                ZSTD_compress2(context, out.baseAddress! + 8, out.count - 8, input.baseAddress, input.count)
            }
        }
        // With a destination of the bound's size, compression cannot fail.
        precondition(ZSTD_isError(written) == 0, "Zstandard: " + String(cString: ZSTD_getErrorName(written)))
        output.withUnsafeBufferPointer { body(UnsafeBufferPointer(rebasing: $0[..<(8 + written)])) }
    }
}
