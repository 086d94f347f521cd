import DequeModule

/// Idempotency history on disk: receipts and closed holds leave memory once the history store holds them.
///
/// Every successful request leaves a receipt, remembered for ever (docs/PROTOCOL.md), and every hold id stays taken
/// for ever; kept in memory they made the ledger grow with its history. With an archive, the node hands committed
/// receipts and closed holds to the history store (`archiveBatch`), and once the store reports them durable it
/// evicts all but the newest `receiptWindow` receipts (`evict(archivedThrough:)`). What left memory is found again
/// through `HistoryReading`.
///
/// How a new id is known to be new without reading the disk: the `IDFilter` holds every request id and hold id ever
/// stored. An id that is not in memory and not in the filter is new, certainly; only a "maybe" (a real old id, or a
/// false positive) reads the store. Only the leader's `execute` reads: a follower applies what the leader decided.
///
/// Why a synchronous read, on the node's thread, is acceptable here: it happens only for a "maybe" (a retried old
/// request or about 0.1% of new ones), it is a point read of a key-value store whose recent blocks are cached, and
/// the node's heartbeat answers do not wait behind it for more than that read.
///
/// The rule that makes eviction safe: an item leaves memory only after the store reported it durable, and
/// `evictedThrough` (persisted in checkpoints) says up to where memory may be missing items. A ledger restored from
/// a checkpoint is complete only together with a store whose watermark reaches that seq.
public protocol HistoryReading: Sendable {
    /// The archived receipt of a request id, or nil when the store has none.
    func receipt(for id: RequestID) throws(HistoryReadError) -> ArchivedReceipt?
    /// The archived (closed) hold, or nil.
    func hold(_ id: HoldID) throws(HistoryReadError) -> ArchivedHold?
    /// The account's archived statement lines numbered below `number` (at most the account's line count), newest
    /// first, at most `limit` of them.
    func lines(of slot: UInt32, below number: UInt32, limit: Int) throws(HistoryReadError) -> [ArchivedLine]
    /// The stored items after `afterKey` (empty: from the first) in the store's own order, about `maxBytes` of
    /// them, and whether none follow: how a follower copies the store (`afterKey` is the last key of the previous
    /// piece). Nothing stored is removed or changed, so a scan in pieces sees every item that was there when it
    /// began. An item may be a whole chunk of the store's (`LevelHistoryStore`); the importing store takes it apart.
    func items(after afterKey: [UInt8], maxBytes: Int) throws(HistoryReadError) -> (items: PackedHistoryItems, complete: Bool)
}

/// One key and value of the history store, as stored (see ArchiveCodec).
public struct HistoryItem: Hashable, Sendable {
    public var key: [UInt8]
    public var value: [UInt8]
    public init(key: [UInt8], value: [UInt8]) {
        self.key = key
        self.value = value
    }
}

/// Items of the history store back to back, as a copy of the store carries them: `(keyLength:u32 | key |
/// valueLength:u32 | value)*`, lengths little-endian. One buffer for a piece of a copy, read from the store, sent,
/// received and written without an array per item (a megabyte holds some 15,000 items).
public struct PackedHistoryItems: Hashable, Sendable, ExpressibleByArrayLiteral {
    public private(set) var bytes: [UInt8] = []
    public private(set) var count = 0
    /// Where the last item starts in `bytes`.
    private var lastStart = 0

    public init() {}

    public init(_ items: [HistoryItem]) {
        for item in items {
            item.key.withUnsafeBufferPointer { k in item.value.withUnsafeBufferPointer { v in append(key: k, value: v) } }
        }
    }

    public init(arrayLiteral items: HistoryItem...) { self.init(items) }

    /// Takes a buffer received from a peer, after checking that it holds exactly `count` items.
    public init?(validating bytes: [UInt8], count: Int) {
        var offset = 0
        var lastStart = 0
        func length(at offset: Int) -> Int? {
            guard offset + 4 <= bytes.count else { return nil }
            return bytes.withUnsafeBufferPointer { Self.length(in: $0, at: offset) }
        }
        for _ in 0..<max(0, count) {
            lastStart = offset
            guard let keyLength = length(at: offset), let valueLength = length(at: offset + 4 + keyLength) else {
                return nil
            }
            offset += 8 + keyLength + valueLength
            guard offset <= bytes.count else { return nil }
        }
        guard count >= 0, offset == bytes.count else { return nil }
        self.bytes = bytes
        self.count = count
        self.lastStart = lastStart
    }

    public var isEmpty: Bool { count == 0 }
    public var byteCount: Int { bytes.count }

    public mutating func append(key: UnsafeBufferPointer<UInt8>, value: UnsafeBufferPointer<UInt8>) {
        lastStart = bytes.count
        withUnsafeBytes(of: UInt32(key.count).littleEndian) { bytes.append(contentsOf: $0) }
        bytes.append(contentsOf: key)
        withUnsafeBytes(of: UInt32(value.count).littleEndian) { bytes.append(contentsOf: $0) }
        bytes.append(contentsOf: value)
        count += 1
    }

    /// Each key and value, valid only during the call.
    public func forEach(_ body: (UnsafeBufferPointer<UInt8>, UnsafeBufferPointer<UInt8>) throws -> Void) rethrows {
        try bytes.withUnsafeBufferPointer { buffer in
            var offset = 0
            for _ in 0..<count {
                let key = Self.field(in: buffer, at: offset)
                let value = Self.field(in: buffer, at: offset + 4 + key.count)
                try body(key, value)
                offset += 8 + key.count + value.count
            }
        }
    }

    public var items: [HistoryItem] {
        var items: [HistoryItem] = []
        items.reserveCapacity(count)
        forEach { key, value in items.append(HistoryItem(key: Array(key), value: Array(value))) }
        return items
    }

    public var lastKey: [UInt8]? {
        guard count > 0 else { return nil }
        return bytes.withUnsafeBufferPointer { Array(Self.field(in: $0, at: lastStart)) }
    }

    /// The little-endian u32 length at `offset` (four bytes must be there).
    private static func length(in buffer: UnsafeBufferPointer<UInt8>, at offset: Int) -> Int {
        Int(buffer[offset]) | Int(buffer[offset + 1]) << 8 | Int(buffer[offset + 2]) << 16 | Int(buffer[offset + 3]) << 24
    }

    private static func field(in buffer: UnsafeBufferPointer<UInt8>, at offset: Int) -> UnsafeBufferPointer<UInt8> {
        let length = length(in: buffer, at: offset)
        return UnsafeBufferPointer(rebasing: buffer[(offset + 4)..<(offset + 4 + length)])
    }

    public static func == (lhs: Self, rhs: Self) -> Bool { lhs.count == rhs.count && lhs.bytes == rhs.bytes }
    public func hash(into hasher: inout Hasher) { hasher.combine(bytes) }
}

public struct HistoryReadError: Error, Hashable, Sendable, CustomStringConvertible {
    public let reason: String
    public init(reason: String) { self.reason = reason }
    public var description: String { "history store unreadable: \(reason)" }
}

/// No history store: nothing was ever archived.
public struct NoHistory: HistoryReading {
    public init() {}
    public func receipt(for id: RequestID) throws(HistoryReadError) -> ArchivedReceipt? { nil }
    public func hold(_ id: HoldID) throws(HistoryReadError) -> ArchivedHold? { nil }
    public func lines(of slot: UInt32, below number: UInt32, limit: Int) throws(HistoryReadError) -> [ArchivedLine] { [] }
    public func items(after afterKey: [UInt8], maxBytes: Int) throws(HistoryReadError)
        -> (items: PackedHistoryItems, complete: Bool) { ([], true) }
}

/// A receipt as archived: the operation (to tell a replay from a conflicting reuse of the id) and the full receipt.
public struct ArchivedReceipt: Hashable, Sendable {
    public var operation: Operation
    public var receipt: Receipt
    public init(operation: Operation, receipt: Receipt) {
        self.operation = operation
        self.receipt = receipt
    }
}

/// A closed hold as archived: its id stays taken for ever.
public struct ArchivedHold: Hashable, Sendable {
    public var id: HoldID
    public var account: AccountID
    public var amountMinor: Int64
    public var closedSeq: Seq
    public init(id: HoldID, account: AccountID, amountMinor: Int64, closedSeq: Seq) {
        self.id = id
        self.account = account
        self.amountMinor = amountMinor
        self.closedSeq = closedSeq
    }
}

/// A statement line as archived: keyed by its account's slot and its number within the account.
public struct ArchivedLine: Hashable, Sendable {
    public var slot: UInt32
    public var number: UInt32
    public var seq: Seq
    public var amountMinor: Int64
    public var balanceAfterMinor: Int64
    public var timeMillis: Int64
    public var requestID: RequestID
    public var reference: String?
    public var counterpartySlot: UInt32
    public var kind: EntryKind

    public init(slot: UInt32, number: UInt32, seq: Seq, amountMinor: Int64, balanceAfterMinor: Int64, timeMillis: Int64,
                requestID: RequestID, reference: String?, counterpartySlot: UInt32, kind: EntryKind) {
        self.slot = slot
        self.number = number
        self.seq = seq
        self.amountMinor = amountMinor
        self.balanceAfterMinor = balanceAfterMinor
        self.timeMillis = timeMillis
        self.requestID = requestID
        self.reference = reference
        self.counterpartySlot = counterpartySlot
        self.kind = kind
    }
}

/// Committed receipts, closed holds and statement lines of the seqs after `afterSeq` up to `throughSeq`, for the
/// history store.
public struct ArchiveBatch: Hashable, Sendable {
    public var afterSeq: Seq
    public var throughSeq: Seq
    /// Whether the store takes `throughSeq` as its new watermark (it then holds everything up to there). Not while
    /// it is being copied from the leader: it lacks what the copy brings, and a restart must know that.
    public var advancesWatermark = true
    public var receipts: [ArchivedReceipt]
    public var closedHolds: [ArchivedHold]
    public var lines: [ArchivedLine]
    public init(afterSeq: Seq, throughSeq: Seq, receipts: [ArchivedReceipt], closedHolds: [ArchivedHold],
                lines: [ArchivedLine] = []) {
        self.afterSeq = afterSeq
        self.throughSeq = throughSeq
        self.receipts = receipts
        self.closedHolds = closedHolds
        self.lines = lines
    }
}

extension ArchiveBatch {
    /// Receipts, holds and lines in the batch.
    public var itemCount: Int { receipts.count + closedHolds.count + lines.count }

    /// Leaves out what is at or below `seq` (the store already holds it): the batch then starts after `seq`.
    public mutating func dropThrough(_ seq: Seq) {
        guard seq > afterSeq else { return }
        receipts.removeAll { $0.receipt.seq <= seq }
        closedHolds.removeAll { $0.closedSeq <= seq }
        lines.removeAll { $0.seq <= seq } // a prefix of each account's lines: the rest stay consecutive
        afterSeq = min(seq, throughSeq)
    }

    /// Adds the batch that follows this one (its `afterSeq` is this one's `throughSeq`).
    public mutating func append(_ next: ArchiveBatch) {
        invariant(next.afterSeq == throughSeq, "archive batches must follow each other")
        receipts += next.receipts
        closedHolds += next.closedHolds
        lines += next.lines
        throughSeq = next.throughSeq
    }
}

/// The archive's bookkeeping inside the ledger.
struct ArchiveState: Sendable {
    struct Stamp<ID: Sendable>: Sendable {
        var seq: Seq
        var id: ID
    }

    /// A receipt in memory, with its figures: `archiveBatch` reads receipts in seq order from here instead of
    /// looking each up in the receipt table (three cache misses apiece, the batch's largest cost).
    struct ReceiptStamp: Sendable {
        var id: RequestID
        var stored: StoredReceipt
        var seq: Seq { stored.seq }
    }

    var filter: IDFilter
    /// Receipts kept in memory beyond what is archived (the newest ones: retries come soon after the original).
    var receiptWindow: Int
    /// Statement lines kept in memory beyond what is archived (the newest ones: statements are read newest first).
    var lineWindow = Int.max
    /// Receipts and closed holds in memory, in seq order, for archiving and eviction.
    var receiptOrder = ChunkedQueue<ReceiptStamp>()
    var closedHoldOrder = ChunkedQueue<Stamp<HoldID>>()
    /// Items of seqs up to here may have left memory: the store must hold them.
    var evictedThrough: Seq = 0
    var reader: any HistoryReading = NoHistory()
}

extension Ledger {
    /// Whether receipts and closed holds are archived (and may have left memory).
    public var archives: Bool {
        // A pattern, not `!= nil`: comparing the optional copied the whole archive state (a retain of each part).
        if case .none = archive { return false }
        return true
    }

    /// Items of seqs up to here may be only in the history store (0: none left memory).
    public var evictedThrough: Seq { archive?.evictedThrough ?? 0 }

    /// The id filter, for reports (nil without an archive).
    public var idFilter: IDFilter? { archive?.filter }

    /// Receipts held in memory.
    public var receiptsInMemory: Int { receipts.count }

    /// Statement lines held in memory.
    public var linesInMemory: Int { book.linesInMemory }

    /// Turns archiving on (a ledger restored from a checkpoint that archived keeps its filter and `evictedThrough`;
    /// otherwise the filter is built from everything in memory). `receiptWindow`, `lineWindow`: receipts and
    /// statement lines kept in memory once archived; lines leave memory in chunks of 2^`lineChunkShift`.
    /// `reader`: where evicted items are found.
    public mutating func configureArchive(filterByteCount: Int, receiptWindow: Int, lineWindow: Int = .max,
                                          lineChunkShift: Int? = nil, reader: any HistoryReading) {
        invariant(receiptWindow >= 0 && lineWindow >= 0, "negative archive window")
        if let lineChunkShift, book.firstIndexInMemory == 0 { book.setChunkShift(lineChunkShift) }
        if archive == nil {
            var state = ArchiveState(filter: IDFilter(byteCount: filterByteCount), receiptWindow: receiptWindow)
            receipts.forEach { id, _ in state.filter.insert(.request, id.rawValue) }
            for id in holds.keys { state.filter.insert(.hold, id.rawValue) }
            archive = state
            rebuildArchiveOrder()
        }
        archive!.receiptWindow = receiptWindow
        archive!.lineWindow = lineWindow
        archive!.reader = reader
        if !receipts.isGenerational, receiptWindow < .max {
            // Generations of an eighth of the window: memory holds at most that much beyond it. (Without a window —
            // a ledger restored from an archiving checkpoint whose settings turned the archive off — nothing
            // leaves, and the shards serve lookups better than a growing list of generations.)
            let capacity = min(max(receiptWindow / 8, 1), ReceiptTable.largestGeneration)
            receipts.useGenerations(capacity: capacity, order: archive!.receiptOrder.lazy.map { ($0.id, $0.stored) })
        }
    }

    /// The archive's seq-ordered lists, from what memory holds (after loading a checkpoint, or when turned on).
    mutating func rebuildArchiveOrder() {
        guard archive != nil else { return }
        var stamps: [ArchiveState.ReceiptStamp] = []
        stamps.reserveCapacity(receipts.count)
        receipts.forEach { id, stored in stamps.append(.init(id: id, stored: stored)) }
        stamps.sort { $0.seq < $1.seq }
        archive!.receiptOrder = ChunkedQueue(stamps)
        // A hold closed before holds recorded when (a version-1 checkpoint) counts as closed now: it leaves memory
        // only after every receipt held now, so a capture's receipt always finds its hold.
        var closed = holds.compactMap { id, hold in
            hold.isOpen ? nil : ArchiveState.Stamp(seq: hold.closedSeq == 0 ? lastAppliedSeq : hold.closedSeq, id: id)
        }
        closed.sort { $0.seq < $1.seq }
        archive!.closedHoldOrder = ChunkedQueue(closed)
    }

    /// Committed receipts, closed holds and statement lines after `afterSeq` up to `throughSeq`, whole seqs only, at
    /// most about `maxItems` receipts (a single seq may exceed it). `throughSeq` of the result is where it really
    /// ends.
    public func archiveBatch(after afterSeq: Seq, through throughSeq: Seq, maxItems: Int) -> ArchiveBatch {
        guard let archive, throughSeq > afterSeq else {
            return ArchiveBatch(afterSeq: afterSeq, throughSeq: afterSeq, receipts: [], closedHolds: [])
        }
        invariant(throughSeq <= lastAppliedSeq, "archiving beyond the applied state")
        var end = throughSeq
        var receiptsOut: [ArchivedReceipt] = []
        var index = Self.firstIndex(after: afterSeq, count: archive.receiptOrder.count) { archive.receiptOrder[$0].seq }
        while index < archive.receiptOrder.count {
            let stamp = archive.receiptOrder[index]
            if stamp.seq > end { break }
            if receiptsOut.count >= maxItems, stamp.seq != receiptsOut.last?.receipt.seq {
                end = receiptsOut.last!.receipt.seq
                break
            }
            receiptsOut.append(ArchivedReceipt(operation: stamp.stored.operation,
                                               receipt: expand(stamp.stored, requestID: stamp.id)))
            index += 1
        }
        var holdsOut: [ArchivedHold] = []
        var holdIndex = Self.firstIndex(after: afterSeq, count: archive.closedHoldOrder.count) {
            archive.closedHoldOrder[$0].seq
        }
        while holdIndex < archive.closedHoldOrder.count, archive.closedHoldOrder[holdIndex].seq <= end {
            let stamp = archive.closedHoldOrder[holdIndex]
            let hold = holds[stamp.id]!
            holdsOut.append(ArchivedHold(id: stamp.id, account: hold.account, amountMinor: hold.amountMinor,
                                         closedSeq: stamp.seq))
            holdIndex += 1
        }
        var linesOut: [ArchivedLine] = []
        var lineIndex = book.firstIndex(after: afterSeq)
        while lineIndex < book.lineCount {
            let line = book.line(at: lineIndex)
            if line.seq > end { break }
            linesOut.append(ArchivedLine(
                slot: UInt32(line.owner), number: line.number, seq: line.seq, amountMinor: line.amountMinor,
                balanceAfterMinor: line.balanceAfterMinor, timeMillis: line.timeMillis, requestID: line.requestID,
                reference: line.reference, counterpartySlot: UInt32(line.counterpartySlot), kind: line.kind))
            lineIndex += 1
        }
        return ArchiveBatch(afterSeq: afterSeq, throughSeq: end, receipts: receiptsOut, closedHolds: holdsOut,
                            lines: linesOut)
    }

    /// The store holds everything up to `seq` durably: receipts beyond the newest `receiptWindow` and closed holds
    /// no receipt in memory still needs leave memory, at most about `limit` of them per call (so that a large
    /// batch's eviction is spread over several turns of the node's loop). Returns whether all that may leave has.
    @discardableResult
    public mutating func evict(archivedThrough seq: Seq, limit: Int = .max) -> Bool {
        guard archives else { return true }
        var newestEvicted: Seq = 0
        var budget = limit
        defer { archive!.evictedThrough = max(archive!.evictedThrough, newestEvicted) }
        if receipts.isGenerational {
            // A generation leaves whole, once the store holds all of it and the window is kept without it.
            while let oldest = receipts.oldestGenerationCount,
                  archive!.receiptOrder.count - oldest >= archive!.receiptWindow,
                  oldest == 0 || archive!.receiptOrder[oldest - 1].seq <= seq {
                guard budget > 0 else { return false }
                if oldest > 0 { newestEvicted = max(newestEvicted, archive!.receiptOrder[oldest - 1].seq) }
                receipts.dropOldestGeneration()
                archive!.receiptOrder.removeFirst(oldest)
                budget -= max(oldest, 1)
            }
        } else {
            while archive!.receiptOrder.count > archive!.receiptWindow, let first = archive!.receiptOrder.first,
                  first.seq <= seq {
                guard budget > 0 else { return false }
                receipts[first.id] = nil
                archive!.receiptOrder.removeFirst()
                newestEvicted = max(newestEvicted, first.seq)
                budget -= 1
            }
        }
        // A capture's or release's receipt names its hold's account through the hold: the hold stays while a
        // receipt of its closing seq is in memory.
        let firstKept = archive!.receiptOrder.first?.seq ?? .max
        while let first = archive!.closedHoldOrder.first, first.seq <= seq, first.seq < firstKept {
            guard budget > 0 else { return false }
            holds[first.id] = nil
            archive!.closedHoldOrder.removeFirst()
            newestEvicted = max(newestEvicted, first.seq)
            budget -= 1
        }
        newestEvicted = max(newestEvicted, book.dropArchivedChunks(through: seq, keepLines: archive!.lineWindow))
        return true
    }

    /// The first index whose seq is above `seq`, in a list of `count` in seq order.
    private static func firstIndex(after seq: Seq, count: Int, seqAt: (Int) -> Seq) -> Int {
        var low = 0, high = count
        while low < high {
            let middle = (low + high) / 2
            if seqAt(middle) <= seq { low = middle + 1 } else { high = middle }
        }
        return low
    }

    // MARK: - Used by the rules

    /// Whether a receipt of `id` may exist, in memory or in the store: false only when the id filter has never seen
    /// it (without an archive there is no filter, and every id may be known).
    func mayHaveStored(_ id: RequestID) -> Bool {
        // Borrowed, not bound: a copy of the archive state on every new request cost a retain of each of its parts.
        archive?.filter.mayContain(.request, id.rawValue) ?? true
    }

    /// A request id not in memory that the filter may have seen (`mayHaveStored`): archived (a replay or a
    /// conflict), or new. Reads the store on the leader only.
    func archivedReceipt(for id: RequestID) throws(LedgerError) -> ArchivedReceipt? {
        guard consultsHistory, archives else { return nil }
        do {
            return try archive!.reader.receipt(for: id)
        } catch {
            throw .historyUnavailable(error.reason)
        }
    }

    /// A hold id not in memory: an archived (closed) hold, or never used.
    func archivedHold(_ id: HoldID) throws(LedgerError) -> ArchivedHold? {
        // Borrowed, not bound: a copy of the archive state on every new request cost a retain of each of its parts.
        guard consultsHistory, archive?.filter.mayContain(.hold, id.rawValue) == true else { return nil }
        do {
            return try archive!.reader.hold(id)
        } catch {
            throw .historyUnavailable(error.reason)
        }
    }

    // These run for every mutation: optional chaining changes the archive state in place.
    mutating func noteStored(_ id: RequestID, _ stored: StoredReceipt) {
        archive?.filter.insert(.request, id.rawValue)
        archive?.receiptOrder.append(.init(id: id, stored: stored))
    }

    mutating func noteNewHold(_ id: HoldID) {
        archive?.filter.insert(.hold, id.rawValue)
    }

    mutating func noteClosed(_ id: HoldID, seq: Seq) {
        archive?.closedHoldOrder.append(.init(seq: seq, id: id))
    }

    /// The account's archived lines numbered below `number`, newest first (queries read them on any node).
    func archivedLines(of slot: Int, below number: Int, limit: Int) throws(LedgerError) -> [ArchivedLine] {
        guard let archive, number > 0 else { return [] }
        do {
            return try archive.reader.lines(of: UInt32(slot), below: UInt32(number), limit: limit)
        } catch {
            throw .historyUnavailable(error.reason)
        }
    }

    /// Undo of `noteStored` / `noteClosed` (the filter keeps the id: it cannot forget).
    mutating func unnoteStored(_ id: RequestID) {
        guard archives else { return }
        invariant(archive!.receiptOrder.last?.id == id, "archive order out of step with an undo")
        archive!.receiptOrder.removeLast()
    }

    mutating func unnoteClosed(_ id: HoldID) {
        guard archives else { return }
        invariant(archive!.closedHoldOrder.last?.id == id, "archive order out of step with an undo")
        archive!.closedHoldOrder.removeLast()
    }
}
