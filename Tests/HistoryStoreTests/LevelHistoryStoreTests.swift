import BankCore
import CLevelDB
import Foundation
import Testing
@testable import HistoryStore

/// The LevelDB history store: what is written is read back, the watermark survives a reopen, a scan in pieces sees
/// every item in key order, and imports refuse what is not a history item.
@Suite struct LevelHistoryStoreTests {
    final class Directory {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("history-\(UUID().uuidString)").path
        deinit { try? FileManager.default.removeItem(atPath: path) }
    }

    static func receipt(_ id: String, seq: Seq) -> ArchivedReceipt {
        ArchivedReceipt(operation: .deposit(AccountID("alice")!, amountMinor: 5),
                        receipt: Receipt(seq: seq, requestID: RequestID(id)!, account: AccountID("alice")!,
                                         balanceMinor: 5, availableMinor: 5, heldMinor: 0, frozen: false))
    }

    static func batch(after: Seq, through: Seq, ids: [String]) -> ArchiveBatch {
        ArchiveBatch(afterSeq: after, throughSeq: through, receipts: ids.enumerated().map {
            receipt($0.element, seq: after + 1 + Seq($0.offset) % (through - after))
        }, closedHolds: [ArchivedHold(id: HoldID("h-\(through)")!, account: AccountID("alice")!, amountMinor: 3,
                                      closedSeq: through)])
    }

    @Test func writtenItemsAreReadBackAndTheWatermarkSurvivesAReopen() throws {
        let directory = Directory()
        do {
            let store = try LevelHistoryStore(directory: directory.path)
            #expect(store.watermark == 0)
            try store.write(Self.batch(after: 0, through: 10, ids: ["a", "b", "c"]))
            try store.write(Self.batch(after: 10, through: 20, ids: ["d"]))
            #expect(store.watermark == 20)
            #expect(try store.receipt(for: RequestID("b")!) == Self.receipt("b", seq: 2))
            #expect(try store.receipt(for: RequestID("zz")!) == nil)
            #expect(try store.hold(HoldID("h-10")!)?.closedSeq == 10)
            store.close()
        }
        let reopened = try LevelHistoryStore(directory: directory.path)
        defer { reopened.close() }
        #expect(reopened.watermark == 20)
        #expect(try reopened.receipt(for: RequestID("d")!)?.receipt.seq == 11)
        // A batch below the watermark (written again after a restart) never lowers it.
        try reopened.write(Self.batch(after: 0, through: 10, ids: ["a"]))
        #expect(reopened.watermark == 20)
        // A batch without items still moves the watermark (its sync is an empty chunk), and reads go on.
        try reopened.write(ArchiveBatch(afterSeq: 20, throughSeq: 25, receipts: [], closedHolds: []))
        #expect(reopened.watermark == 25)
        try reopened.write(Self.batch(after: 25, through: 30, ids: ["e"]))
        #expect(try reopened.receipt(for: RequestID("e")!)?.receipt.seq == 26)
        #expect(try reopened.receipt(for: RequestID("b")!) == Self.receipt("b", seq: 2))
    }

    /// Copies `source` into `target` in pieces of about `maxBytes`, as a follower does; returns the keys read.
    static func copy(_ source: LevelHistoryStore, into target: LevelHistoryStore, maxBytes: Int) throws -> [[UInt8]] {
        var after: [UInt8] = []
        var seen: [[UInt8]] = []
        while true {
            let (items, complete) = try source.items(after: after, maxBytes: maxBytes)
            seen += items.items.map(\.key)
            try target.importItems(items, watermark: complete ? source.watermark : nil, startsCopy: after.isEmpty)
            if complete { return seen }
            after = items.lastKey!
        }
    }

    /// A copy reads the source's chunks in the order written, then its index in key order, in pieces, and the copy
    /// answers every read as the source does.
    @Test func aCopyInPiecesReadsTheChunksThenTheIndexAndReproducesTheStore() throws {
        let source = Directory()
        let copy = Directory()
        let store = try LevelHistoryStore(directory: source.path, chunkBytes: 1_000)
        defer { store.close() }
        let ids = (0..<500).map { "request-\(($0 * 7919) % 500)" }
        try store.write(Self.batch(after: 0, through: 1_000, ids: ids))
        let target = try LevelHistoryStore(directory: copy.path)
        defer { target.close() }
        let seen = try Self.copy(store, into: target, maxBytes: 2_000)
        #expect(seen.count > 520, "every receipt and the hold, and the chunks, in more than one piece")
        #expect(seen == seen.sorted { $0.lexicographicallyPrecedes($1) } && Set(seen).count == seen.count)
        #expect(seen.filter { $0.first == 2 }.count == 501, "each item's index entry, not the watermark")
        #expect(seen.filter { $0.first == 1 }.allSatisfy { LevelHistoryStore.chunkNumber($0.dropFirst()) != nil })
        #expect(seen.firstIndex { $0.first == 2 }! > seen.lastIndex { $0.first == 1 }!, "chunks first, then the index")
        #expect(target.watermark == 1_000)
        for id in ids { #expect(try target.receipt(for: RequestID(id)!) == store.receipt(for: RequestID(id)!)) }
        #expect(try target.hold(HoldID("h-1000")!)?.closedSeq == 1_000)
    }

    /// While a copy is under way the store writes batches of its own (a follower archiving its commits): they are
    /// durable and readable but do not move the watermark, their chunks never take a number a later piece of the
    /// copy brings, and after the copy (and a reopen) everything reads back — the copy's items and its own.
    @Test func batchesWrittenDuringACopyNeitherMoveTheWatermarkNorCollideWithTheCopy() throws {
        let source = Directory(), target = Directory()
        let leader = try LevelHistoryStore(directory: source.path, chunkBytes: 300)
        defer { leader.close() }
        try leader.write(Self.batch(after: 0, through: 100, ids: (0..<60).map { "leader-\($0)" }))
        do {
            let follower = try LevelHistoryStore(directory: target.path, chunkBytes: 300)
            var after: [UInt8] = []
            var pieces = 0
            while true {
                let (piece, complete) = try leader.items(after: after, maxBytes: 400)
                if complete {
                    // The last piece's watermark covers the follower's own batches too (the node passes the higher).
                    try follower.importItems(piece, watermark: 130, startsCopy: after.isEmpty)
                    break
                }
                try follower.importItems(piece, watermark: nil, startsCopy: after.isEmpty)
                after = piece.lastKey!
                // Between pieces, a batch of its own commits, as many chunks as a piece brings.
                var own = Self.batch(after: 100 + Seq(pieces), through: 101 + Seq(pieces),
                                     ids: (0..<6).map { "own-\(pieces)-\($0)" })
                own.advancesWatermark = false
                try follower.write(own)
                #expect(follower.watermark == 0, "a batch written during the copy leaves the watermark")
                pieces += 1
            }
            #expect(pieces > 3, "the copy came in several pieces, with batches of the follower's own between them")
            #expect(follower.watermark == 130)
            try follower.write(Self.batch(after: 130, through: 140, ids: ["after-copy"]))
            #expect(follower.watermark == 140)
            follower.close()
        }
        let reopened = try LevelHistoryStore(directory: target.path, chunkBytes: 300)
        defer { reopened.close() }
        #expect(reopened.watermark == 140)
        for index in 0..<60 {
            let id = RequestID("leader-\(index)")!
            #expect(try reopened.receipt(for: id) == leader.receipt(for: id))
        }
        var ownFound = 0
        for piece in 0..<100 {
            for index in 0..<6 where try reopened.receipt(for: RequestID("own-\(piece)-\(index)")!) != nil { ownFound += 1 }
        }
        #expect(ownFound >= 6 * 4 && ownFound % 6 == 0, "every batch of its own reads back (\(ownFound) receipts)")
        #expect(try reopened.receipt(for: RequestID("after-copy")!) != nil)
        #expect(try reopened.hold(HoldID("h-100")!)?.closedSeq == 100)
    }

    /// A copy abandoned halfway (its chunks stay, numbered high) and then batches that move the watermark again (the
    /// follower became complete another way): their chunks go above the abandoned copy's, so a copy of this store —
    /// which reads chunks in number order while the store is written — never finds a new chunk below where it read.
    @Test func batchesAfterAnAbandonedCopyGoAboveItsChunks() throws {
        let source = Directory(), target = Directory()
        let leader = try LevelHistoryStore(directory: source.path, chunkBytes: 300)
        defer { leader.close() }
        try leader.write(Self.batch(after: 0, through: 50, ids: (0..<40).map { "leader-\($0)" }))
        let store = try LevelHistoryStore(directory: target.path, chunkBytes: 300)
        defer { store.close() }
        try store.write(Self.batch(after: 0, through: 5, ids: ["own-before"]))
        let (piece, complete) = try leader.items(after: [], maxBytes: 600)
        #expect(!complete)
        try store.importItems(piece, watermark: nil, startsCopy: true) // then abandoned
        try store.write(Self.batch(after: 5, through: 60, ids: ["own-after"]))
        var chunkNumbers: [UInt64] = []
        var pointer: UInt64?
        let (all, _) = try store.items(after: [], maxBytes: 1 << 20)
        all.forEach { key, value in
            if key.first == 1 { chunkNumbers.append(LevelHistoryStore.chunkNumber(key.dropFirst())!) }
            if Array(key) == [2] + ArchiveCodec.key(for: RequestID("own-after")!) {
                pointer = value.reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            }
        }
        #expect(chunkNumbers.count > 2, "the store's own chunk, the abandoned copy's and the new one")
        #expect(pointer == chunkNumbers.max(), "the new batch's chunk is the highest")
        #expect(try store.receipt(for: RequestID("own-after")!) != nil)
        #expect(try store.receipt(for: RequestID("own-before")!) != nil)
    }

    /// A copy onto a store that holds items of its own, started over from another source halfway (a new leader):
    /// its chunks go above everything the store held, so its own items, the second copy's and what it writes
    /// afterwards all read back.
    @Test func aCopyThatStartsOverNeverOverwritesWhatTheStoreHolds() throws {
        let first = Directory(), second = Directory(), target = Directory()
        let leaderA = try LevelHistoryStore(directory: first.path, chunkBytes: 300)
        defer { leaderA.close() }
        let leaderB = try LevelHistoryStore(directory: second.path, chunkBytes: 300)
        defer { leaderB.close() }
        try leaderA.write(Self.batch(after: 0, through: 50, ids: (0..<40).map { "a-\($0)" }))
        try leaderB.write(Self.batch(after: 0, through: 60, ids: (0..<40).map { "b-\($0)" }))
        let follower = try LevelHistoryStore(directory: target.path, chunkBytes: 300)
        defer { follower.close() }
        try follower.write(Self.batch(after: 0, through: 5, ids: (0..<20).map { "own-\($0)" }))
        // The copy from A stops halfway through its index; B's copy starts over.
        var after: [UInt8] = []
        var piecesOfA = 0
        while true {
            let (piece, complete) = try leaderA.items(after: after, maxBytes: 500)
            try follower.importItems(piece, watermark: nil, startsCopy: after.isEmpty)
            piecesOfA += 1
            after = piece.lastKey!
            if after.first == 2 || complete { break }
        }
        #expect(after.first == 2 && piecesOfA > 1, "stopped within the index")
        for index in 0..<40 {
            let copied = try follower.receipt(for: RequestID("a-\(index)")!)
            let original = try leaderA.receipt(for: RequestID("a-\(index)")!)
            #expect(copied == nil || copied == original)
        }
        _ = try Self.copy(leaderB, into: follower, maxBytes: 500)
        try follower.write(Self.batch(after: 60, through: 70, ids: (0..<20).map { "after-\($0)" }))
        #expect(follower.watermark == 70)
        for index in 0..<20 {
            #expect(try follower.receipt(for: RequestID("own-\(index)")!) != nil)
            #expect(try follower.receipt(for: RequestID("after-\(index)")!) != nil)
        }
        for index in 0..<40 {
            #expect(try follower.receipt(for: RequestID("b-\(index)")!) == leaderB.receipt(for: RequestID("b-\(index)")!))
        }
    }

    /// A store of the first layout (every item under its own key, LevelDB files at the top of the directory) is not
    /// read as if it were empty.
    @Test func aStoreOfTheEarlierLayoutIsRefusedWithAClearError() throws {
        let directory = Directory()
        try FileManager.default.createDirectory(atPath: directory.path, withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: directory.path + "/CURRENT", contents: Data("MANIFEST-000001\n".utf8))
        #expect {
            _ = try LevelHistoryStore(directory: directory.path)
        } throws: { error in
            (error as? HistoryStoreError)?.description.contains("earlier version") == true
        }
    }

    /// A store of the first chunked format (chunks not compressed, no format mark) is refused, not misread; a new
    /// store is marked, and opens again.
    @Test func aStoreOfTheFirstChunkedFormatIsRefusedWithAClearError() throws {
        let directory = Directory()
        do {
            let store = try LevelHistoryStore(directory: directory.path)
            store.close()
        }
        let reopened = try LevelHistoryStore(directory: directory.path)
        reopened.close()
        // The first chunked format: a watermark in the index, and no mark.
        let options = leveldb_options_create()!
        defer { leveldb_options_destroy(options) }
        var error: UnsafeMutablePointer<CChar>?
        let index = try #require(leveldb_open(options, directory.path + "/index", &error))
        let writeOptions = leveldb_writeoptions_create()!
        leveldb_delete(index, writeOptions, "v", 1, &error)
        leveldb_put(index, writeOptions, "w", 1, [CChar](repeating: 1, count: 8), 8, &error)
        leveldb_writeoptions_destroy(writeOptions)
        leveldb_close(index)
        #expect(error == nil)
        #expect {
            _ = try LevelHistoryStore(directory: directory.path)
        } throws: { error in
            (error as? HistoryStoreError)?.description.contains("earlier format") == true
        }
    }

    /// Chunks are stored compressed (receipts of one batch are alike: several times smaller), and a chunk with any
    /// one byte of its frame damaged is refused on import (the frame carries a checksum of its content).
    @Test func chunksAreStoredCompressedAndADamagedOneIsRefused() throws {
        let source = Directory(), directory = Directory()
        let leader = try LevelHistoryStore(directory: source.path)
        defer { leader.close() }
        let ids = (0..<500).map { "payroll-2026-11-\($0)" }
        try leader.write(Self.batch(after: 0, through: 10, ids: ids))
        let (piece, _) = try leader.items(after: [], maxBytes: 1 << 20)
        var stored = 0, raw = 0, items = 0
        var chunkValue: [UInt8] = []
        piece.forEach { key, value in
            guard key.first == 1, let chunk = LevelHistoryStore.chunkItems(value) else { return }
            stored += value.count
            raw += chunk.byteCount
            items += chunk.count
            if chunkValue.isEmpty, chunk.count > 0 { chunkValue = Array(value) }
        }
        #expect(items == ids.count + 1) // the receipts and the closed hold
        #expect(stored * 3 < raw, "stored \(stored) bytes for \(raw) bytes of items")
        let store = try LevelHistoryStore(directory: directory.path)
        defer { store.close() }
        // Any bit of the frame: a flipped bit in a compressed literal (a request id's character) still decodes to
        // items of the right length, and only the checksum tells.
        let unnoticed = (8..<chunkValue.count).filter { offset in
            var damaged = chunkValue
            damaged[offset] ^= 0x04
            return LevelHistoryStore.chunkItems(damaged) != nil
        }
        #expect(unnoticed.isEmpty, "flipped bits at \(unnoticed.prefix(10)) went unnoticed")
        for offset in [8, chunkValue.count / 2, chunkValue.count - 1] {
            var damaged = chunkValue
            damaged[offset] ^= 0x01
            #expect(throws: HistoryStoreError.self) {
                try store.importItems([HistoryItem(key: [1] + Self.chunkKey(0), value: damaged)] as PackedHistoryItems,
                                      watermark: 10, startsCopy: true)
            }
        }
        #expect(store.watermark == 0)
        try store.importItems(piece, watermark: 10, startsCopy: true)
        #expect(try store.receipt(for: RequestID(ids[123])!) == leader.receipt(for: RequestID(ids[123])!))
    }

    /// Chunks keep being numbered after a reopen: nothing written before is overwritten.
    @Test func chunksWrittenAfterAReopenDoNotOverwriteEarlierOnes() throws {
        let directory = Directory()
        do {
            let store = try LevelHistoryStore(directory: directory.path, chunkBytes: 200)
            try store.write(Self.batch(after: 0, through: 10, ids: (0..<20).map { "first-\($0)" }))
            store.close()
        }
        let store = try LevelHistoryStore(directory: directory.path, chunkBytes: 200)
        defer { store.close() }
        try store.write(Self.batch(after: 10, through: 20, ids: (0..<20).map { "second-\($0)" }))
        for index in 0..<20 {
            #expect(try store.receipt(for: RequestID("first-\(index)")!) != nil)
            #expect(try store.receipt(for: RequestID("second-\(index)")!) != nil)
        }
    }

    @Test func anImportOfSomethingThatIsNoHistoryItemIsRefused() throws {
        let directory = Directory()
        let store = try LevelHistoryStore(directory: directory.path)
        defer { store.close() }
        #expect(throws: HistoryStoreError.self) {
            try store.importItems([HistoryItem(key: Array("w".utf8), value: [0, 0, 0, 0, 0, 0, 0, 1])] as PackedHistoryItems,
                                  watermark: nil)
        }
        #expect(throws: HistoryStoreError.self) {
            try store.importItems([HistoryItem(key: [1] + LevelHistoryStoreTests.chunkKey(0), value: [1, 0, 0, 0, 9])]
                                  as PackedHistoryItems, watermark: nil)
        }
        #expect(throws: HistoryStoreError.self) {
            try store.importItems([HistoryItem(key: [2] + Array("rx".utf8), value: [1, 2, 3])] as PackedHistoryItems,
                                  watermark: nil)
        }
        #expect(store.watermark == 0)
        #expect(try store.receipt(for: RequestID("x")!) == nil)
    }

    /// Chunk numbers a store could never reach are refused (base + number must not overflow), nothing written.
    @Test func anImportOfAnImpossibleChunkNumberIsRefused() throws {
        let source = Directory(), directory = Directory()
        let leader = try LevelHistoryStore(directory: source.path)
        defer { leader.close() }
        try leader.write(Self.batch(after: 0, through: 10, ids: ["a"]))
        let (piece, _) = try leader.items(after: [], maxBytes: 1 << 20)
        let store = try LevelHistoryStore(directory: directory.path)
        defer { store.close() }
        var chunkValue: [UInt8] = []
        piece.forEach { key, value in if key.first == 1, chunkValue.isEmpty { chunkValue = Array(value) } }
        for number in [UInt64.max, 1 << 60] {
            #expect(throws: HistoryStoreError.self) {
                try store.importItems([HistoryItem(key: [1] + Self.chunkKey(number), value: chunkValue)] as PackedHistoryItems,
                                      watermark: 10, startsCopy: true)
            }
            #expect(throws: HistoryStoreError.self) {
                try store.importItems([HistoryItem(key: [2] + Array("ra".utf8), value: Self.chunkKey(number).dropFirst().map { $0 })]
                                      as PackedHistoryItems, watermark: 10, startsCopy: true)
            }
        }
        #expect(store.watermark == 0)
        try store.importItems(piece, watermark: 10, startsCopy: true)
        #expect(try store.receipt(for: RequestID("a")!) == leader.receipt(for: RequestID("a")!))
    }

    static func chunkKey(_ number: UInt64) -> [UInt8] { [UInt8(ascii: "c")] + withUnsafeBytes(of: number.bigEndian) { Array($0) } }

    @Test func aSecondProcessCannotOpenTheSameStore() throws {
        let directory = Directory()
        let store = try LevelHistoryStore(directory: directory.path)
        defer { store.close() }
        #expect(throws: HistoryStoreError.self) { _ = try LevelHistoryStore(directory: directory.path) }
    }

    @Test func anAccountsLinesAreReadNewestFirstByNumberWithoutStrayingIntoOthers() throws {
        let directory = Directory()
        let store = try LevelHistoryStore(directory: directory.path)
        defer { store.close() }
        func line(_ slot: UInt32, _ number: UInt32) -> ArchivedLine {
            ArchivedLine(slot: slot, number: number, seq: Seq(number) * 3 + 1, amountMinor: -Int64(number),
                         balanceAfterMinor: 7, timeMillis: 9, requestID: RequestID("q-\(slot)-\(number)")!,
                         reference: number % 2 == 0 ? "ref" : nil, counterpartySlot: 2, kind: .transfer)
        }
        // Slot 1 sits between slots 0 and 256 in key order (big-endian slots: 256 = 00 00 01 00).
        let lines = (0..<300).map { line(1, $0) } + (0..<5).map { line(0, $0) } + (0..<5).map { line(256, $0) }
        try store.write(ArchiveBatch(afterSeq: 0, throughSeq: 1_000, receipts: [], closedHolds: [], lines: lines))
        #expect(try store.lines(of: 1, below: 300, limit: 3).map(\.number) == [299, 298, 297])
        #expect(try store.lines(of: 1, below: 2, limit: 10).map(\.number) == [1, 0])
        #expect(try store.lines(of: 1, below: 0, limit: 10).isEmpty)
        #expect(try store.lines(of: 256, below: 5, limit: 10).map(\.number) == [4, 3, 2, 1, 0])
        #expect(try store.lines(of: 7, below: 5, limit: 10).isEmpty)
        #expect(try store.lines(of: 1, below: 11, limit: 1).first == line(1, 10))
    }

    /// A copied store may batch the same lines differently from the node's own: overlapping groups still read as
    /// each line once, newest first.
    @Test func overlappingLineGroupsReadEachLineOnce() throws {
        let directory = Directory()
        let store = try LevelHistoryStore(directory: directory.path)
        defer { store.close() }
        func line(_ number: UInt32) -> ArchivedLine {
            ArchivedLine(slot: 3, number: number, seq: Seq(number) + 1, amountMinor: 1, balanceAfterMinor: Int64(number),
                         timeMillis: 0, requestID: RequestID("x\(number)")!, reference: nil, counterpartySlot: 0,
                         kind: .deposit)
        }
        for range in [0..<4, 4..<10, 2..<7, 7..<15, 15..<16] as [Range<UInt32>] {
            let batch = ArchiveBatch(afterSeq: 0, throughSeq: 0, receipts: [], closedHolds: [], lines: range.map(line))
            try store.importItems(PackedHistoryItems(ArchiveCodec.items(for: batch)), watermark: nil)
        }
        #expect(try store.lines(of: 3, below: 16, limit: 100).map(\.number) == Array((0..<16).reversed()))
        #expect(try store.lines(of: 3, below: 9, limit: 3).map(\.number) == [8, 7, 6])
        #expect(try store.lines(of: 3, below: 6, limit: 100) == (0..<6).reversed().map(line))
    }
}
