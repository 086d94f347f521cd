/// Statements: one line per movement of a customer account's balance (deposit, withdrawal, transfer in or out,
/// capture). Opening, freezing, holds and releases move no balance and write no line. Settlement accounts keep no
/// statement: theirs would hold a line for every deposit, withdrawal and capture in the bank.
///
/// Lines live in the `StatementBook`, appended in journal order and linked per account newest first, which is the
/// order a statement is read in.
extension Ledger {
    mutating func addLine(_ slot: Int, _ amount: Int64, counterparty: Int, kind: EntryKind,
                          reference: String?, _ c: MutationContext, _ undo: inout UndoLog?) {
        guard !accounts[slot].isSettlement else { return }
        // Entries arrive in seq order (checked by `execute` and `apply`); reading the account's previous line to
        // check again would cost the cache miss the book exists to avoid, so only debug builds do.
        assert(book.newestLine(of: slot).map { $0.seq <= c.seq } ?? true, "statement lines out of seq order")
        undo?.record(.line(slot: slot))
        book.append(StatementBook.StoredLine(
            seq: c.seq, amountMinor: amount, balanceAfterMinor: accounts[slot].balanceMinor, timeMillis: c.timeMillis,
            requestID: c.requestID, reference: reference, counterpartySlot: Int32(counterparty), previous: -1,
            kind: kind), to: slot)
    }

    /// Newest first: the lines with `seq < beforeSeq` (all when nil), at least `limit` of them when history has
    /// that many, and never the lines of one seq split across two pages.
    ///
    /// An atomic batch can move an account several times under one seq. Paging continues with
    /// `beforeSeq = last line's seq`, which would skip the rest of a split seq, so a page always ends on a seq
    /// boundary: it takes whole seqs until it holds `limit` lines or more, and so may exceed `limit` by the lines
    /// of its last seq. (`BankProtocol` relies on this: a page shorter than `limit` means the history ended.)
    ///
    /// Cost: the page, plus at most 256 newer lines walked past (the book marks every 256th line of an account).
    /// Lines that left memory for the history store are read from it by number, a page's worth at a time.
    func statementPage(of slot: Int, limit: Int, beforeSeq: Seq?) throws(LedgerError) -> [StatementEntry] {
        var page: [StatementEntry] = []
        page.reserveCapacity(min(limit, book.lineCount(of: slot)))
        var pageEndSeq: Seq?
        /// Takes a line (or skips one too new); false once the page is complete.
        func take(seq: Seq, requestID: RequestID, kind: EntryKind, amountMinor: Int64, counterparty: Int,
                  balanceAfterMinor: Int64, reference: String?, timeMillis: Int64) -> Bool {
            if let beforeSeq, seq >= beforeSeq { return true }
            if page.count >= limit, seq != pageEndSeq { return false }
            pageEndSeq = seq
            page.append(StatementEntry(
                seq: seq, requestID: requestID, kind: kind, amountMinor: amountMinor,
                counterparty: accounts[counterparty].id, balanceAfterMinor: balanceAfterMinor,
                reference: reference, timeMillis: timeMillis))
            return true
        }
        let start = book.walkStart(of: slot, before: beforeSeq)
        var next = start.number // the number of the next line to take
        for line in book.linesInMemory(from: start.index) {
            guard take(seq: line.seq, requestID: line.requestID, kind: line.kind, amountMinor: line.amountMinor,
                       counterparty: Int(line.counterpartySlot), balanceAfterMinor: line.balanceAfterMinor,
                       reference: line.reference, timeMillis: line.timeMillis) else { return page }
            next = Int(line.number) - 1
        }
        while next >= 0 {
            let lines = try archivedLines(of: slot, below: next + 1, limit: max(limit, 64) + 16)
            guard let first = lines.first, Int(first.number) == next else {
                // Damage, not a rule: the read is refused (as unavailable) rather than answered with a gap.
                throw .historyUnavailable("the history store lacks line \(next) of \(accounts[slot].id)")
            }
            for line in lines {
                guard accounts.indices.contains(Int(line.counterpartySlot)), take(
                    seq: line.seq, requestID: line.requestID, kind: line.kind, amountMinor: line.amountMinor,
                    counterparty: Int(line.counterpartySlot), balanceAfterMinor: line.balanceAfterMinor,
                    reference: line.reference, timeMillis: line.timeMillis) else { return page }
                next = Int(line.number) - 1
            }
        }
        return page
    }
}
