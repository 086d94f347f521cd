/// What an atomic batch changed, so that a failing item can put everything back without copying the whole state.
///
/// Each change records the *previous* value of one key just before it is overwritten; rolling back replays the log
/// backwards, so a key touched several times ends at its oldest (pre-batch) value. Statement lines only ever grow,
/// so undoing newest-first always removes the book's newest line, and accounts are only ever appended, so undoing
/// newest-first always removes the last slot.
struct UndoLog {
    enum Change {
        /// The account in this slot was overwritten; here is its previous value.
        case account(slot: Int, Account)
        /// An account (customer or settlement) was appended: undone by removing the last slot.
        case addedAccount
        case hold(HoldID, Hold?)
        case receipt(RequestID, StoredReceipt?)
        /// A statement line was appended to this account: undone by removing the book's newest line.
        case line(slot: Int)
    }

    private(set) var changes: [Change] = []

    mutating func record(_ change: Change) { changes.append(change) }
}
