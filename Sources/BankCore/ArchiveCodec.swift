/// The history store's keys and values: how an archived receipt or closed hold is written as bytes.
///
/// ```
/// key      = "r" [0xFF clientKey:32 bytes, for a scoped id] request id (UTF-8)  |  "h" hold id (UTF-8)
/// receipt  = version:u8 (= 1) | clientKey:optional key (the id's scope) | operation (as in a journal entry) | seq:u64 | account:str
///            | balance:i64 | available:i64 | held:i64 | frozen:u8 | captured:optional i64 | released:optional i64
/// hold     = version:u8 (= 1) | account:str | amount:i64 | closedSeq:u64
/// key      = "l" slot:u32 lastNumber:u32 firstNumber:u32 (big-endian, so an account's groups sort by number;
///            stores written before the first number was in the key hold groups under "l" slot lastNumber, and are
///            read alike)
/// lines    = version:u8 (= 2; 1 still reads) | firstNumber:u32 | line*     (consecutive lines of an account, of one batch, at most
///                                                          `maxLinesPerGroup`)
/// line     = seq:u64 | amount:i64 | balanceAfter:i64 | time:i64 | requestID:str | clientKey:optional key (version 2)
///            | reference:optional str
///            | counterparty slot:u32 | kind:u8
/// ```
/// An account's lines of one batch are one item: a key-value store pays per item (its skip list, its compactions'
/// comparisons), and a batch holds several lines of busy accounts. A line is found by seeking the first group whose
/// last number is at or above it. Groups of a copied store may overlap the node's own (another batching of the same
/// lines): a reader passes over groups that start above the line it looks for. Two batchings never take each other's
/// key, since a key names both ends of its group: with the last number alone, a follower archiving its own lines
/// while it copies the leader's store would overwrite a copied group ending at the same line with one starting
/// elsewhere, and the lines only the overwritten group held would be lost.
/// Slots are the same on every replica (the journal fixes the order accounts are opened in), so a follower can
/// copy the leader's lines as they are.
/// A request id is scoped to its client's key (`RequestID.scope`): the receipt's key holds it, so two clients' equal
/// ids are two receipts, and the lines keep it for audit.
public enum ArchiveCodec {
    static let version: UInt8 = 1
    /// Lines: version 2 adds the client key after the request id.
    static let lineVersion: UInt8 = 2
    public static let receiptPrefix = UInt8(ascii: "r")
    public static let holdPrefix = UInt8(ascii: "h")
    public static let linePrefix = UInt8(ascii: "l")
    /// An account's lines of one batch go in groups of at most this many (a batch of half a second holds thousands
    /// of a busy account's lines; a statement page decodes the groups it reads whole).
    public static let maxLinesPerGroup = 128

    public static func key(for id: RequestID) -> [UInt8] {
        var key = GrowingByteSink(capacity: 1 + 33 + id.rawValue.utf8.count)
        putKey(for: id, into: &key)
        return key.bytes
    }

    /// "r", then for a scoped id 0xFF (never a byte of UTF-8, so no unscoped id's key starts so) and the client
    /// key's 32 bytes, then the id's text.
    static func putKey(for id: RequestID, into key: inout GrowingByteSink) {
        key.put(receiptPrefix)
        if let scope = id.scope {
            key.put(UInt8(0xFF))
            key.bytes.append(contentsOf: scope.bytes)
        }
        key.bytes.append(contentsOf: id.rawValue.utf8)
    }
    public static func key(for id: HoldID) -> [UInt8] { [holdPrefix] + Array(id.rawValue.utf8) }

    public static func key(forLinesOf slot: UInt32, lastNumber: UInt32) -> [UInt8] {
        var key = GrowingByteSink(capacity: 9)
        putLinesKey(slot: slot, lastNumber: lastNumber, into: &key)
        return key.bytes
    }

    /// The slot and last number a line group's key names, or nil.
    public static func lineKey(_ key: [UInt8]) -> (slot: UInt32, lastNumber: UInt32)? {
        lineKeyParts(key).map { ($0.slot, $0.lastNumber) }
    }

    /// The slot, last number and (in keys that name it) first number of a line group's key, or nil.
    static func lineKeyParts(_ key: [UInt8]) -> (slot: UInt32, lastNumber: UInt32, firstNumber: UInt32?)? {
        guard key.count == 9 || key.count == 13, key[0] == linePrefix else { return nil }
        let slot = key[1..<5].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        let number = key[5..<9].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        let first = key.count == 13 ? key[9..<13].reduce(UInt32(0)) { $0 << 8 | UInt32($1) } : nil
        return (slot, number, first)
    }

    /// Whether a key names a receipt, a hold or a line group (the store keeps its watermark under another key).
    public static func isItemKey(_ key: some Collection<UInt8>) -> Bool {
        guard key.count >= 2, let first = key.first else { return false }
        return first == receiptPrefix || first == holdPrefix || first == linePrefix
    }

    /// A batch as the store's items: one per receipt and closed hold, one per account's lines.
    public static func items(for batch: ArchiveBatch) -> [HistoryItem] {
        var items: [HistoryItem] = []
        items.reserveCapacity(batch.receipts.count + batch.closedHolds.count + batch.lines.count / 2)
        forEachItem(of: batch) { key, value in items.append(HistoryItem(key: Array(key), value: Array(value))) }
        return items
    }

    /// Hands each of a batch's items to `body` as bytes that are valid only during the call: what the history
    /// store writes, without an array per item (the archive thread spent most of its time allocating, copying and
    /// freeing those).
    public static func forEachItem(of batch: ArchiveBatch,
                                   _ body: (UnsafeBufferPointer<UInt8>, UnsafeBufferPointer<UInt8>) -> Void) {
        var key = GrowingByteSink(capacity: 256)
        var value = GrowingByteSink(capacity: 4096)
        func emit() {
            key.bytes.withUnsafeBufferPointer { k in value.bytes.withUnsafeBufferPointer { v in body(k, v) } }
            key.bytes.removeAll(keepingCapacity: true)
            value.bytes.removeAll(keepingCapacity: true)
        }
        // Read in place (a copy of each receipt and line retained and released every string in it).
        batch.receipts.withUnsafeBufferPointer { receipts in
            for index in receipts.indices {
                putKey(for: receipts[index].receipt.requestID, into: &key)
                put(receipts[index], into: &value)
                emit()
            }
        }
        for hold in batch.closedHolds {
            key.put(holdPrefix)
            key.bytes.append(contentsOf: hold.id.rawValue.utf8)
            put(hold, into: &value)
            emit()
        }
        // An account's lines in batch order (which is number order), accounts in slot order: a stable counting
        // sort of the lines' positions. Reading the lines in that order misses the cache at each one (a batch's
        // lines are megabytes), so they are read a block at a time: first a tight loop that only loads each line's
        // slot and counterparty (its two ends, on two cache lines), whose misses the processor overlaps, then the
        // encoding, from the cache.
        // (Walking a chain of positions instead, each load waiting for the one before, was most of this thread's
        // time under load.)
        batch.lines.withUnsafeBufferPointer { lines in
            let order = linesBySlot(lines)
            var slots = [UInt32](repeating: 0, count: order.count)
            var counterparties = [UInt32](repeating: 0, count: order.count)
            var lastSlot: UInt32 = 0
            var groupFirst: UInt32 = 0
            var groupCount = 0
            func finishGroup() {
                guard groupCount > 0 else { return }
                putLinesKey(slot: lastSlot, lastNumber: groupFirst &+ UInt32(groupCount) &- 1, into: &key)
                withUnsafeBytes(of: groupFirst.bigEndian) { key.bytes.append(contentsOf: $0) }
                emit()
                groupCount = 0
            }
            var blockStart = 0
            while blockStart < order.count {
                let blockEnd = min(blockStart + 32, order.count)
                for position in blockStart..<blockEnd {
                    let line = Int(order[position])
                    slots[position] = lines[line].slot
                    counterparties[position] = lines[line].counterpartySlot
                }
                for position in blockStart..<blockEnd {
                    let line = lines[Int(order[position])]
                    // A group of at most `maxLinesPerGroup`: a deep statement page decodes one or two of them.
                    if groupCount == 0 || slots[position] != lastSlot || groupCount == maxLinesPerGroup {
                        finishGroup()
                        lastSlot = slots[position]
                        groupFirst = line.number
                        value.put(lineVersion)
                        value.put(groupFirst)
                    } else {
                        invariant(line.number == groupFirst &+ UInt32(groupCount),
                                  "an account's lines in a batch must be consecutive")
                    }
                    value.putLine(seq: line.seq, amountMinor: line.amountMinor, balanceAfterMinor: line.balanceAfterMinor,
                                  timeMillis: line.timeMillis, requestID: line.requestID, reference: line.reference,
                                  counterpartySlot: counterparties[position], kind: line.kind)
                    groupCount += 1
                }
                blockStart = blockEnd
            }
            finishGroup()
        }
    }

    /// The positions of `lines`, ordered by slot and, within a slot, as they come.
    static func linesBySlot(_ lines: UnsafeBufferPointer<ArchivedLine>) -> [Int32] {
        invariant(lines.count < Int(Int32.max), "an archive batch of more than 2^31 lines")
        var largestSlot: UInt32 = 0
        for line in lines { largestSlot = max(largestSlot, line.slot) }
        guard Int(largestSlot) <= 4 * lines.count + 1024 else {
            // Few lines of far-apart accounts: a comparison sort costs less than counting every slot.
            return lines.indices.map { Int32($0) }.sorted { (lines[Int($0)].slot, $0) < (lines[Int($1)].slot, $1) }
        }
        var starts = [Int32](repeating: 0, count: Int(largestSlot) + 2)
        for line in lines { starts[Int(line.slot) + 1] += 1 }
        for slot in 1..<starts.count { starts[slot] += starts[slot - 1] }
        var order = [Int32](repeating: 0, count: lines.count)
        for index in lines.indices {
            let slot = Int(lines[index].slot)
            order[Int(starts[slot])] = Int32(index)
            starts[slot] += 1
        }
        return order
    }

    private static func putLinesKey(slot: UInt32, lastNumber: UInt32, into key: inout GrowingByteSink) {
        key.put(linePrefix)
        withUnsafeBytes(of: slot.bigEndian) { key.bytes.append(contentsOf: $0) }
        withUnsafeBytes(of: lastNumber.bigEndian) { key.bytes.append(contentsOf: $0) }
    }

    /// The lines of a group item (key and value as stored).
    public static func decodeLines(_ value: [UInt8], key: [UInt8]) throws(EntryDecodingError) -> [ArchivedLine] {
        guard let (slot, lastNumber, keyFirst) = lineKeyParts(key) else { throw EntryDecodingError(reason: "not a line key") }
        return try value.withUnsafeBufferPointer { buffer throws(EntryDecodingError) in
            var reader = EntryReader(bytes: buffer)
            let lineVersion = try reader.byte()
            guard (1...Self.lineVersion).contains(lineVersion) else {
                throw EntryDecodingError(reason: "unknown archived line version")
            }
            let first = try reader.u32()
            guard first <= lastNumber, keyFirst == nil || keyFirst == first,
                  Int(lastNumber - first) < reader.remaining / 40 + 1 else {
                throw EntryDecodingError(reason: "bad line group \(first)…\(lastNumber)")
            }
            var lines: [ArchivedLine] = []
            lines.reserveCapacity(Int(lastNumber - first) + 1)
            for number in first...lastNumber {
                let seq = try reader.u64()
                let amount = Int64(bitPattern: try reader.u64())
                let balanceAfter = Int64(bitPattern: try reader.u64())
                let time = Int64(bitPattern: try reader.u64())
                let text = try reader.string()
                var scope: ClientKey?
                if lineVersion >= 2, try reader.flag() { scope = try reader.clientKey() }
                guard let requestID = RequestID(text, scope: scope) else { throw EntryDecodingError(reason: "bad request id") }
                let reference = try reader.flag() ? try reader.string() : nil
                let counterparty = try reader.u32()
                guard let kind = EntryKind(checkpointCode: try reader.byte()) else {
                    throw EntryDecodingError(reason: "bad line kind")
                }
                lines.append(ArchivedLine(slot: slot, number: number, seq: seq, amountMinor: amount,
                                          balanceAfterMinor: balanceAfter, timeMillis: time, requestID: requestID,
                                          reference: reference, counterpartySlot: counterparty, kind: kind))
            }
            guard reader.remaining == 0 else { throw EntryDecodingError(reason: "trailing bytes in archived lines") }
            return lines
        }
    }

    /// An account's lines numbered below `number`, newest first, at most `limit`, from a store that can list its
    /// items in key order: `scan(key)` returns a few items from the first key at or after `key` on, in order, and
    /// `resolve` gives the value of one of them (a store whose scan yields pointers reads it only when needed).
    public static func lines(of slot: UInt32, below number: UInt32, limit: Int,
                             scan: (_ from: [UInt8]) throws(HistoryReadError) -> [HistoryItem],
                             resolve: (HistoryItem) throws(HistoryReadError) -> [UInt8] = { $0.value })
        throws(HistoryReadError) -> [ArchivedLine] {
        var lines: [ArchivedLine] = []
        var wanted = Int64(number) - 1
        var from = wanted >= 0 ? key(forLinesOf: slot, lastNumber: UInt32(wanted)) : []
        search: while wanted >= 0, lines.count < limit {
            // The first group ending at or after the wanted line that also starts at or before it holds it.
            let items = try scan(from)
            for item in items {
                guard let parts = lineKeyParts(item.key), parts.slot == slot else { break search }
                if let first = parts.firstNumber, Int64(first) > wanted { continue } // starts above: not read
                let group: [ArchivedLine]
                let value = try resolve(item)
                do { group = try decodeLines(value, key: item.key) } catch {
                    throw HistoryReadError(reason: "lines of slot \(slot): \(error.reason)")
                }
                guard let first = group.first, Int64(first.number) <= wanted else { continue }
                for line in group.reversed() where Int64(line.number) <= wanted && lines.count < limit {
                    lines.append(line)
                }
                wanted = Int64(first.number) - 1
                if wanted >= 0 { from = key(forLinesOf: slot, lastNumber: UInt32(wanted)) }
                continue search
            }
            // Every group the scan gave starts above the wanted line (another batching's, smaller ones): look
            // further. Nothing more of this account: a gap, which the caller reports.
            guard let last = items.last else { break }
            from = last.key + [0]
        }
        return lines
    }

    public static func encode(_ archived: ArchivedReceipt) -> [UInt8] {
        var out = GrowingByteSink(capacity: 96)
        put(archived, into: &out)
        return out.bytes
    }

    static func put(_ archived: ArchivedReceipt, into out: inout GrowingByteSink) {
        let receipt = archived.receipt
        out.put(version)
        out.put(optional: receipt.requestID.scope)
        out.put(archived.operation)
        out.put(receipt.seq)
        out.put(receipt.account.rawValue)
        out.put(receipt.balanceMinor)
        out.put(receipt.availableMinor)
        out.put(receipt.heldMinor)
        out.put(UInt8(receipt.frozen ? 1 : 0))
        out.put(optional: receipt.capturedMinor)
        out.put(optional: receipt.releasedMinor)
    }

    public static func decodeReceipt(_ bytes: [UInt8], requestID: RequestID) throws(EntryDecodingError) -> ArchivedReceipt {
        try bytes.withUnsafeBufferPointer { buffer throws(EntryDecodingError) in
            var reader = EntryReader(bytes: buffer)
            guard try reader.byte() == version else { throw EntryDecodingError(reason: "unknown archived receipt version") }
            let scope = try reader.flag() ? try reader.clientKey() : nil
            guard scope == requestID.scope else { throw EntryDecodingError(reason: "a receipt under another client's key") }
            let operation = try reader.operation()
            let seq = try reader.u64()
            let account = try reader.account()
            let balance = Int64(bitPattern: try reader.u64())
            let available = Int64(bitPattern: try reader.u64())
            let held = Int64(bitPattern: try reader.u64())
            let frozen = try reader.flag()
            let captured = try reader.flag() ? Int64(bitPattern: try reader.u64()) : nil
            let released = try reader.flag() ? Int64(bitPattern: try reader.u64()) : nil
            guard reader.remaining == 0 else { throw EntryDecodingError(reason: "trailing bytes in an archived receipt") }
            var holdID: HoldID?
            switch operation {
            case let .hold(_, _, hold), let .capture(hold, _), let .release(hold): holdID = hold
            default: break
            }
            let receipt = Receipt(seq: seq, requestID: requestID, account: account, balanceMinor: balance,
                                  availableMinor: available, heldMinor: held, frozen: frozen, holdID: holdID,
                                  capturedMinor: captured, releasedMinor: released)
            return ArchivedReceipt(operation: operation, receipt: receipt)
        }
    }

    public static func encode(_ hold: ArchivedHold) -> [UInt8] {
        var out = GrowingByteSink(capacity: 48)
        put(hold, into: &out)
        return out.bytes
    }

    static func put(_ hold: ArchivedHold, into out: inout GrowingByteSink) {
        out.put(version)
        out.put(hold.account.rawValue)
        out.put(hold.amountMinor)
        out.put(hold.closedSeq)
    }

    public static func decodeHold(_ bytes: [UInt8], id: HoldID) throws(EntryDecodingError) -> ArchivedHold {
        try bytes.withUnsafeBufferPointer { buffer throws(EntryDecodingError) in
            var reader = EntryReader(bytes: buffer)
            guard try reader.byte() == version else { throw EntryDecodingError(reason: "unknown archived hold version") }
            let account = try reader.account()
            let amount = try reader.amount()
            let closedSeq = try reader.u64()
            guard reader.remaining == 0 else { throw EntryDecodingError(reason: "trailing bytes in an archived hold") }
            return ArchivedHold(id: id, account: account, amountMinor: amount, closedSeq: closedSeq)
        }
    }
}

extension ByteSink {
    mutating func putLine(_ line: ArchivedLine) {
        putLine(seq: line.seq, amountMinor: line.amountMinor, balanceAfterMinor: line.balanceAfterMinor,
                timeMillis: line.timeMillis, requestID: line.requestID, reference: line.reference,
                counterpartySlot: line.counterpartySlot, kind: line.kind)
    }

    /// A statement line as checkpoints and the history store write it (after what each puts before it).
    mutating func putLine(seq: Seq, amountMinor: Int64, balanceAfterMinor: Int64, timeMillis: Int64, requestID: RequestID,
                          reference: String?, counterpartySlot: UInt32, kind: EntryKind, withClientKey: Bool = true) {
        put(seq)
        put(amountMinor)
        put(balanceAfterMinor)
        put(timeMillis)
        put(requestID.rawValue)
        if withClientKey { put(optional: requestID.scope) }
        put(optional: reference)
        put(counterpartySlot)
        put(kind.checkpointCode)
    }

    mutating func put(optional value: Int64?) {
        if let value {
            put(UInt8(1))
            put(value)
        } else {
            put(UInt8(0))
        }
    }
}
