/// Statements: one line per movement of a customer account's balance (deposit, withdrawal, transfer in or out,
/// capture). Opening, freezing, holds and releases move no balance and write no line. Settlement accounts keep no
/// statement: theirs would hold a line for every deposit, withdrawal and capture in the bank.
///
/// Lines live in one array per account, appended in journal order, so they are sorted by seq and a page is a
/// binary search plus a short backwards walk.
extension Ledger {
    mutating func addLine(_ slot: Int, _ amount: Int64, counterparty: AccountID, kind: EntryKind,
                          reference: String?, _ c: MutationContext, _ undo: inout UndoLog?) {
        guard !accounts[slot].isSettlement else { return }
        invariant(lines[slot].last.map { $0.seq <= c.seq } ?? true, "statement lines out of seq order")
        undo?.record(.lines(slot: slot, count: lines[slot].count))
        lines[slot].append(StatementEntry(
            seq: c.seq, requestID: c.requestID, kind: kind, amountMinor: amount, counterparty: counterparty,
            balanceAfterMinor: accounts[slot].balanceMinor, reference: reference, timeMillis: c.timeMillis))
    }

    /// Newest first: the lines with `seq < beforeSeq` (all when nil), at least `limit` of them when history has
    /// that many, and never the lines of one seq split across two pages.
    ///
    /// An atomic batch can move an account several times under one seq. Paging continues with
    /// `beforeSeq = last line's seq`, which would skip the rest of a split seq, so a page always ends on a seq
    /// boundary: it takes whole seqs until it holds `limit` lines or more, and so may exceed `limit` by the lines
    /// of its last seq. (`BankProtocol` relies on this: a page shorter than `limit` means the history ended.)
    func statementPage(of slot: Int, limit: Int, beforeSeq: Seq?) -> [StatementEntry] {
        let all = lines[slot]
        var end = all.count
        if let beforeSeq {
            // The first index whose seq is >= beforeSeq.
            var low = 0, high = all.count
            while low < high {
                let middle = (low + high) / 2
                if all[middle].seq < beforeSeq { low = middle + 1 } else { high = middle }
            }
            end = low
        }
        var page: [StatementEntry] = []
        page.reserveCapacity(min(limit, end))
        var index = end - 1
        while index >= 0 && page.count < limit {
            let seq = all[index].seq
            while index >= 0 && all[index].seq == seq {
                page.append(all[index])
                index -= 1
            }
        }
        return page
    }
}
