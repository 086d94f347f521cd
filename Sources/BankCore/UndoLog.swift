/// What an atomic batch changed, so that a failing item can put everything back without copying the whole state.
struct UndoLog {
    enum Change {
        case account(AccountID, Account?)
        case hold(HoldID, Hold?)
        case receipt(RequestID)
        case lines(AccountID, count: Int)
    }

    private(set) var changes: [Change] = []

    mutating func record(_ change: Change) { changes.append(change) }
}
