/// An account's figures. Statement lines are kept apart (`Ledger.book`) so that updating a balance never copies
/// them, and so that an undo-log snapshot of an account stays a few words long.
struct Account: Hashable, Sendable {
    var id: AccountID
    var currency: CurrencyCode
    var balanceMinor: Int64 = 0
    /// The sum of the account's open holds.
    var heldMinor: Int64 = 0
    var overdraftLimitMinor: Int64
    var frozen = false
    /// The bank's settlement account for this currency: the other side of deposits, withdrawals and captures.
    /// Unlimited overdraft, never frozen, no holds, no statement.
    var isSettlement = false

    /// What may still be spent: `balance − held + overdraft limit`. Never negative for a customer account.
    ///
    /// Cannot overflow: the ledger refuses any credit that would make `balance + overdraftLimit` unrepresentable,
    /// and `held ≥ 0`, `balance − held ≥ −overdraftLimit`. Not meaningful for a settlement account.
    var availableMinor: Int64 {
        balanceMinor - heldMinor + overdraftLimitMinor
    }
}
