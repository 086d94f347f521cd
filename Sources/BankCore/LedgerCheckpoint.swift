/// The ledger's whole state as bytes: what a checkpoint file holds, so that a restart loads the state at a committed
/// seq and replays only the journal after it.
///
/// ```
/// state    = version:u8 (= 4) | lastAppliedSeq:u64
///            archive                                  (version 3: first; version 2: last)
///            accountCount:u32 | account*
///            lineCount:u64    | line*        (statement lines in journal order)
///            holdCount:u64    | hold*
///            receiptCount:u64 | receipt*
///            archive                                  (version 2 only)
/// account  = id:str | currency:str | balance:i64 | held:i64 | overdraftLimit:i64 | flags:u8 (1 frozen, 2 settlement)
///            | evictedLines:u32 | markCount:u32 | markSeq:u64*   (version 2: lines that left memory, and the
///                                                              seqs of every 256th of them)
/// line     = owner:u32 | seq:u64 | amount:i64 | balanceAfter:i64 | time:i64 | requestID:str
///            | clientKey:optional key (version 4) | reference:optional str
///            | counterparty:u32 | kind:u8
/// hold     = id:str | account:str | amount:i64 | open:u8 | closedSeq:u64 (version 2)
/// receipt  = requestID:str | clientKey:optional key (the id's scope) | operation (as in a journal entry) | seq:u64 | balance:i64
///            | available:i64 | held:i64 | captured:i64 | released:i64 | frozen:u8
/// archive  = 0:u8 (none) | filterLayout:u8 (1 spread, 2 blocked: IDFilter.Layout) | evictedThrough:u64
///            | filterInserted:u64 | filterWords:u64 | word:u64*
/// ```
///
/// With an archive (Archive.swift), receipts, holds and statement lines are those still in memory, less those the
/// writer was told the history store holds (`leavingOutThrough`): the ones up to `evictedThrough` may be only in
/// the history store. Version 3 writes the id filter first, so that the writer
/// lets go of its pages early (`drainIntoCheckpoint`). Versions 1 (no closing seqs, no archive) and 2 still load.
///
/// A request id is scoped to its client's key (`RequestID.scope`): receipts and (version 4) lines keep it. Versions 1
/// to 3 still load (their lines without keys).
///
/// Only the state goes in: undo logs belong to uncommitted entries, and a checkpoint is taken at a committed seq
/// (`settled(at:)` rolls a copy back to it). Slot tables, settlement slots and statement links are rebuilt on
/// load, exactly as the journal built them (slots in creation order, lines appended in journal order).
///
/// Decoding checks every value as a journal entry's decoding does, and the rebuilt state against the ledger's
/// invariants; the file around it carries a checksum (Storage's `CheckpointFile`), so damage is caught before here.
public struct CheckpointDecodingError: Error, Hashable, Sendable, CustomStringConvertible {
    public let reason: String
    public init(reason: String) { self.reason = reason }
    public var description: String { "undecodable checkpoint: \(reason)" }
}

extension Ledger {
    static let checkpointFormatVersion: UInt8 = 4

    /// A copy of this ledger as it was right after `seq`, without undo logs: the state a checkpoint at `seq` holds.
    /// `seq` must be reachable by rolling back (every entry after it is uncommitted and keeps its undo log).
    ///
    /// Cheap on the caller's thread: the copy shares storage with `self` until either side writes (copy on
    /// write), and the roll-back touches only the entries after `seq`.
    public func settled(at seq: Seq) -> Ledger {
        var copy = self
        if seq < copy.lastAppliedSeq { copy.rollBack(to: seq) }
        copy.keepsUndo = false
        return copy
    }

    /// Writes the state (see the format above) in pieces of about `chunkByteCount` bytes to `emit`, so a large
    /// ledger never needs its whole encoding in memory at once. A ledger with undo logs must be `settled` first.
    ///
    /// `leavingOutThrough`: with an archive, the history store durably holds everything up to this seq, and what of
    /// it memory still holds (the windows of receipts and statement lines, closed holds) is left out: the checkpoint
    /// records it as evicted (`evictedThrough`), and a ledger loaded from it reads those items from the store. A
    /// checkpoint is then the id filter, the accounts, the open holds and what is not yet stored.
    public func writeCheckpoint(chunkByteCount: Int = 1 << 20, leavingOutThrough storedSeq: Seq = 0,
                                to emit: (UnsafeRawBufferPointer) throws -> Void) rethrows {
        var copy = self
        try copy.drainIntoCheckpoint(chunkByteCount: chunkByteCount, leavingOutThrough: storedSeq, to: emit)
    }

    /// `writeCheckpoint`, letting go of the id filter's pages as they are written: this ledger is left without
    /// its filter and is to be dropped afterwards. The checkpoint thread writes a copy that shares the live
    /// ledger's pages; each page it lets go of is then the live ledger's alone, which writes to it without copying
    /// it (with the filter written first, a checkpoint copies a few of its 512 pages instead of all 32 MiB).
    public mutating func drainIntoCheckpoint(chunkByteCount: Int = 1 << 20, leavingOutThrough storedSeq: Seq = 0,
                                             to emit: (UnsafeRawBufferPointer) throws -> Void) rethrows {
        try drainIntoCheckpoint(chunkByteCount: chunkByteCount, leavingOutThrough: storedSeq,
                                formatVersion: Self.checkpointFormatVersion, to: emit)
    }

    /// For the tests of older formats: `formatVersion` 3 writes lines without client keys (none may have one).
    mutating func drainIntoCheckpoint(chunkByteCount: Int = 1 << 20, leavingOutThrough storedSeq: Seq = 0,
                                      formatVersion: UInt8,
                                      to emit: (UnsafeRawBufferPointer) throws -> Void) rethrows {
        precondition((3...Self.checkpointFormatVersion).contains(formatVersion), "only versions 3 and 4 are written")
        invariant(undoableEntryCount == 0, "a checkpoint holds committed state only: settle the ledger first")
        // What the store holds and memory need not repeat (nothing without an archive).
        let stored = archive == nil ? 0 : min(storedSeq, lastAppliedSeq)
        // Per account, its oldest lines in memory that the store holds (lines are in journal order).
        var linesLeftOut = [UInt32](repeating: 0, count: stored > 0 ? accounts.count : 0)
        var lineCountLeftOut = 0
        if stored > 0 {
            book.forEachLine { line in
                guard line.seq <= stored else { return }
                linesLeftOut[Int(line.owner)] += 1
                lineCountLeftOut += 1
            }
        }
        func leftOut(_ receipt: StoredReceipt) -> Bool { receipt.seq <= stored }
        func leftOut(_ hold: Hold) -> Bool { !hold.isOpen && hold.closedSeq > 0 && hold.closedSeq <= stored }
        var out = GrowingByteSink(capacity: chunkByteCount + IDFilter.pageWords * 8 + 4096)
        func flushIfFull() throws {
            if out.bytes.count >= chunkByteCount {
                try out.bytes.withUnsafeBytes(emit)
                out.bytes.removeAll(keepingCapacity: true)
            }
        }
        out.put(formatVersion)
        out.put(lastAppliedSeq)
        if archive != nil {
            out.put(archive!.filter.layout.rawValue)
            out.put(max(archive!.evictedThrough, stored))
            out.put(archive!.filter.insertedCount)
            out.put(UInt64(archive!.filter.wordCount))
            try archive!.filter.drainPages { page in
                for word in page { out.put(word) }
                try flushIfFull()
            }
        } else {
            out.put(UInt8(0))
        }
        out.put(UInt32(accounts.count))
        for (slot, account) in accounts.enumerated() {
            out.put(account.id.rawValue)
            out.put(account.currency.rawValue)
            out.put(account.balanceMinor)
            out.put(account.heldMinor)
            out.put(account.overdraftLimitMinor)
            out.put(UInt8((account.frozen ? 1 : 0) | (account.isSettlement ? 2 : 0)))
            let evicted = book.evictedPart(of: slot, plusInMemory: linesLeftOut.isEmpty ? 0 : linesLeftOut[slot])
            out.put(evicted.count)
            out.put(UInt32(evicted.markSeqs.count))
            for seq in evicted.markSeqs { out.put(seq) }
            try flushIfFull()
        }
        out.put(UInt64(book.linesInMemory - lineCountLeftOut))
        try book.forEachLine { line in
            guard line.seq > stored else { return }
            out.put(UInt32(line.owner))
            precondition(formatVersion >= 4 || line.requestID.scope == nil, "version 3 has no client keys")
            out.putLine(seq: line.seq, amountMinor: line.amountMinor, balanceAfterMinor: line.balanceAfterMinor,
                        timeMillis: line.timeMillis, requestID: line.requestID, reference: line.reference,
                        counterpartySlot: UInt32(line.counterpartySlot), kind: line.kind,
                        withClientKey: formatVersion >= 4)
            try flushIfFull()
        }
        out.put(UInt64(stored > 0 ? holds.values.count { !leftOut($0) } : holds.count))
        for (id, hold) in holds where !leftOut(hold) {
            out.put(id.rawValue)
            out.put(hold.account.rawValue)
            out.put(hold.amountMinor)
            out.put(UInt8(hold.isOpen ? 1 : 0))
            out.put(hold.closedSeq)
            try flushIfFull()
        }
        var receiptsKept = receipts.count
        if stored > 0 { receipts.forEach { _, receipt in if leftOut(receipt) { receiptsKept -= 1 } } }
        out.put(UInt64(receiptsKept))
        try receipts.forEach { id, receipt in
            guard !leftOut(receipt) else { return }
            out.put(id.rawValue)
            out.put(optional: id.scope)
            out.put(receipt.operation)
            out.put(receipt.seq)
            out.put(receipt.balanceMinor)
            out.put(receipt.availableMinor)
            out.put(receipt.heldMinor)
            out.put(receipt.capturedMinor)
            out.put(receipt.releasedMinor)
            out.put(UInt8(receipt.frozen ? 1 : 0))
            try flushIfFull()
        }
        if !out.bytes.isEmpty { try out.bytes.withUnsafeBytes(emit) }
    }

    /// The state a checkpoint holds. Throws on anything malformed; never traps on bad bytes.
    public init(checkpoint bytes: UnsafeRawBufferPointer) throws(CheckpointDecodingError) {
        self.init()
        do throws(EntryDecodingError) {
            try decodeCheckpoint(EntryReader(bytes: bytes.assumingMemoryBound(to: UInt8.self)))
        } catch {
            throw CheckpointDecodingError(reason: error.reason)
        }
    }

    private mutating func decodeCheckpoint(_ reader: EntryReader) throws(EntryDecodingError) {
        var reader = reader
        func fail(_ reason: String) -> EntryDecodingError { EntryDecodingError(reason: reason) }
        let version = try reader.byte()
        guard (1...Self.checkpointFormatVersion).contains(version) else { throw fail("unknown checkpoint version") }
        lastAppliedSeq = try reader.u64()
        // The archive section: the id filter and how far items left memory (first in version 3, last in 2).
        func archiveSection() throws(EntryDecodingError) -> (filter: IDFilter, evictedThrough: Seq)? {
            let flag = try reader.byte()
            guard flag != 0 else { return nil }
            guard let layout = IDFilter.Layout(rawValue: flag) else { throw fail("unknown id filter layout") }
            let evicted = try reader.u64()
            let inserted = try reader.u64()
            let wordCount = try reader.u64()
            guard evicted <= lastAppliedSeq, wordCount >= UInt64(layout == .blocked ? IDFilter.blockWords : 1),
                  wordCount & (wordCount - 1) == 0,
                  wordCount <= UInt64(reader.remaining / 8) else { throw fail("bad archive section") }
            let perPage = min(IDFilter.pageWords, Int(wordCount))
            var pages: [[UInt64]] = []
            pages.reserveCapacity(Int(wordCount) / perPage)
            for _ in 0..<Int(wordCount) / perPage {
                var page = [UInt64](repeating: 0, count: perPage)
                for index in page.indices { page[index] = try reader.u64() }
                pages.append(page)
            }
            return (IDFilter(layout: layout, pages: pages, insertedCount: inserted), evicted)
        }
        var archived = version >= 3 ? try archiveSection() : nil

        let accountCount = Int(try reader.u32())
        guard accountCount <= reader.remaining / 30 else { throw fail("\(accountCount) accounts cannot fit") }
        accounts.reserveCapacity(accountCount)
        slots.reserveCapacity(accountCount)
        book.reserveAccounts(accountCount)
        for slot in 0..<accountCount {
            let id = try reader.string()
            guard let currency = CurrencyCode(try reader.string()) else { throw fail("bad currency") }
            let balance = Int64(bitPattern: try reader.u64())
            let held = Int64(bitPattern: try reader.u64())
            let overdraft = Int64(bitPattern: try reader.u64())
            let flags = try reader.byte()
            guard flags & ~3 == 0 else { throw fail("bad account flags") }
            let isSettlement = flags & 2 != 0
            let accountID: AccountID
            if isSettlement {
                guard id == AccountID.settlement(currency).rawValue, settlementSlots[currency] == nil else {
                    throw fail("bad settlement account \(id)")
                }
                accountID = .settlement(currency)
                settlementSlots[currency] = slot
            } else {
                guard let customer = AccountID(id) else { throw fail("bad account id") }
                accountID = customer
            }
            guard held >= 0, (0...Money.maximumOverdraftMinor).contains(overdraft) else {
                throw fail("account \(id) has impossible figures")
            }
            guard slots.updateValue(slot, forKey: accountID) == nil else { throw fail("account \(id) twice") }
            accounts.append(Account(id: accountID, currency: currency, balanceMinor: balance, heldMinor: held,
                                    overdraftLimitMinor: overdraft, frozen: flags & 1 != 0,
                                    isSettlement: isSettlement))
            book.addAccount()
            if version >= 2 {
                let evicted = try reader.u32()
                let markCount = Int(try reader.u32())
                let expectedMarks = (Int(evicted) + Int(StatementBook.markInterval) - 1) / Int(StatementBook.markInterval)
                // Lines leave memory only with an archive (version 3 says so before the accounts), and a line
                // number fits an Int32.
                guard markCount == expectedMarks, markCount <= reader.remaining / 8, !isSettlement || evicted == 0,
                      evicted <= UInt32(Int32.max), version < 3 || archived != nil || evicted == 0 else {
                    throw fail("account \(id) has impossible evicted lines")
                }
                var seqs: [Seq] = []
                seqs.reserveCapacity(markCount)
                for _ in 0..<markCount {
                    let seq = try reader.u64()
                    guard seq <= lastAppliedSeq, seqs.last.map({ $0 <= seq }) ?? true else { throw fail("bad marks") }
                    seqs.append(seq)
                }
                if evicted > 0 { book.restoreEvictedPart(of: slot, count: evicted, markSeqs: seqs) }
            }
        }

        let lineCount = try reader.u64()
        guard lineCount <= UInt64(reader.remaining / 50) else { throw fail("\(lineCount) lines cannot fit") }
        for _ in 0..<lineCount {
            let owner = Int(try reader.u32())
            let seq = try reader.u64()
            let amount = Int64(bitPattern: try reader.u64())
            let balanceAfter = Int64(bitPattern: try reader.u64())
            let time = Int64(bitPattern: try reader.u64())
            let text = try reader.string()
            var scope: ClientKey?
            if version >= 4, try reader.flag() { scope = try reader.clientKey() }
            guard let requestID = RequestID(text, scope: scope) else { throw fail("bad request id in a line") }
            let reference = try reader.flag() ? try reader.string() : nil
            let counterparty = Int(try reader.u32())
            guard let kind = EntryKind(checkpointCode: try reader.byte()) else { throw fail("bad line kind") }
            guard accounts.indices.contains(owner), accounts.indices.contains(counterparty),
                  !accounts[owner].isSettlement, seq <= lastAppliedSeq,
                  book.newestLine(of: owner).map({ $0.seq <= seq }) ?? true
            else { throw fail("statement line out of place") }
            book.append(StatementBook.StoredLine(
                seq: seq, amountMinor: amount, balanceAfterMinor: balanceAfter, timeMillis: time,
                requestID: requestID, reference: reference, counterpartySlot: Int32(counterparty), previous: -1,
                kind: kind), to: owner)
        }

        let holdCount = try reader.u64()
        guard holdCount <= UInt64(reader.remaining / 14) else { throw fail("\(holdCount) holds cannot fit") }
        holds.reserveCapacity(Int(holdCount))
        for _ in 0..<holdCount {
            let id = try reader.holdID()
            let account = try reader.account()
            let amount = try reader.amount()
            let open = try reader.flag()
            let closedSeq = version >= 2 ? try reader.u64() : 0
            guard slots[account] != nil else { throw fail("hold \(id) on unknown account") }
            guard closedSeq <= lastAppliedSeq, !open || closedSeq == 0 else { throw fail("hold \(id) closed oddly") }
            guard holds.updateValue(Hold(account: account, amountMinor: amount, isOpen: open, closedSeq: closedSeq),
                                    forKey: id) == nil
            else { throw fail("hold \(id) twice") }
        }

        let receiptCount = try reader.u64()
        guard receiptCount <= UInt64(reader.remaining / 60) else { throw fail("\(receiptCount) receipts cannot fit") }
        receipts.reserveCapacity(Int(receiptCount))
        for _ in 0..<receiptCount {
            let text = try reader.string()
            let scope = try reader.flag() ? try reader.clientKey() : nil
            guard let requestID = RequestID(text, scope: scope) else { throw fail("bad request id") }
            let operation = try reader.operation()
            var stored = StoredReceipt(operation: operation, seq: try reader.u64())
            stored.balanceMinor = Int64(bitPattern: try reader.u64())
            stored.availableMinor = Int64(bitPattern: try reader.u64())
            stored.heldMinor = Int64(bitPattern: try reader.u64())
            stored.capturedMinor = Int64(bitPattern: try reader.u64())
            stored.releasedMinor = Int64(bitPattern: try reader.u64())
            stored.frozen = try reader.flag()
            guard stored.seq <= lastAppliedSeq else { throw fail("receipt \(requestID) from the future") }
            guard receipts[requestID] == nil else { throw fail("request \(requestID) twice") }
            receipts[requestID] = stored
        }
        if version == 2 { archived = try archiveSection() }
        if let archived {
            archive = ArchiveState(filter: archived.filter, receiptWindow: .max)
            archive!.evictedThrough = archived.evictedThrough
            rebuildArchiveOrder()
        }
        guard reader.remaining == 0 else { throw fail("trailing bytes") }
    }

    /// Whether two ledgers hold the same state: accounts, holds, receipts and every statement line (not undo logs).
    /// For tests and the simulator; O(history).
    ///
    /// Receipts and closed holds up to either side's `evictedThrough` may have left memory for the history store,
    /// so only newer ones are compared (the simulator compares the stores on their own).
    public func hasSameState(as other: Ledger) -> Bool {
        guard lastAppliedSeq == other.lastAppliedSeq, accounts == other.accounts, slots == other.slots,
              settlementSlots == other.settlementSlots,
              accounts.indices.allSatisfy({ book.lineCount(of: $0) == other.book.lineCount(of: $0) }) else { return false }
        let evicted = max(evictedThrough, other.evictedThrough)
        if evicted == 0 {
            guard holds == other.holds, receipts.count == other.receipts.count else { return false }
        } else {
            func recentHolds(_ ledger: Ledger) -> [HoldID: Hold] {
                ledger.holds.filter { $0.value.isOpen || $0.value.closedSeq > evicted }
            }
            guard recentHolds(self) == recentHolds(other) else { return false }
        }
        var same = true
        func compare(_ a: Ledger, _ b: Ledger) {
            a.receipts.forEach { id, receipt in
                if same && receipt.seq > evicted && b.receipts[id] != receipt { same = false }
            }
        }
        compare(self, other)
        if evicted > 0 { compare(other, self) }
        guard same else { return false }
        // Lines that left memory on either side are the store's business: compare what both hold.
        for slot in accounts.indices {
            let common = min(book.lineCount(of: slot) - book.evictedCount(of: slot),
                             other.book.lineCount(of: slot) - other.book.evictedCount(of: slot))
            guard book.linesNewestFirst(of: slot).prefix(common).elementsEqual(
                other.book.linesNewestFirst(of: slot).prefix(common), by: {
                $0.seq == $1.seq && $0.amountMinor == $1.amountMinor && $0.balanceAfterMinor == $1.balanceAfterMinor
                    && $0.timeMillis == $1.timeMillis && $0.requestID == $1.requestID && $0.reference == $1.reference
                    && $0.counterpartySlot == $1.counterpartySlot && $0.kind == $1.kind
            }) else { return false }
        }
        return true
    }
}

extension StoredReceipt {
    /// A receipt to be filled in field by field (checkpoint decoding).
    init(operation: Operation, seq: Seq) {
        self.operation = operation
        self.seq = seq
        balanceMinor = 0
        availableMinor = 0
        heldMinor = 0
        capturedMinor = 0
        releasedMinor = 0
        frozen = false
    }
}

extension EntryKind {
    var checkpointCode: UInt8 {
        switch self {
        case .deposit: return 1
        case .withdrawal: return 2
        case .transfer: return 3
        case .capture: return 4
        }
    }

    init?(checkpointCode: UInt8) {
        switch checkpointCode {
        case 1: self = .deposit
        case 2: self = .withdrawal
        case 3: self = .transfer
        case 4: self = .capture
        default: return nil
        }
    }
}

/// A byte buffer that grows: the sink checkpoints are written through.
struct GrowingByteSink: ByteSink {
    var bytes: [UInt8]

    init(capacity: Int) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    mutating func put(_ value: UInt8) { bytes.append(value) }
    mutating func put(_ value: UInt16) { withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) } }
    mutating func put(_ value: UInt32) { withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) } }
    mutating func put(_ value: UInt64) { withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) } }
    mutating func put(_ string: String) {
        let utf8 = string.utf8
        invariant(utf8.count <= Int(UInt16.max), "checkpoint strings are at most 65535 bytes, got \(utf8.count)")
        put(UInt16(utf8.count))
        bytes.append(contentsOf: utf8)
    }
}
