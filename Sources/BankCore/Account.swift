/// An account's figures. Statement lines are kept apart (`Ledger.lines`) so that updating a balance never copies them.
struct Account: Hashable, Sendable {
    var currency: CurrencyCode
    var balanceMinor: Int64 = 0
    var heldMinor: Int64 = 0
    var overdraftLimitMinor: Int64
    var frozen = false
    /// The bank's settlement account for this currency: no limit, never frozen, no statement.
    var isSettlement = false

    /// What may still be spent: `balance − held + overdraft limit`. Never negative for a customer account.
    var availableMinor: Int64 {
        balanceMinor - heldMinor + overdraftLimitMinor
    }
}

/// A card authorisation: reserves `amountMinor` of the account's available funds until captured or released.
struct Hold: Hashable, Sendable {
    var account: AccountID
    var amountMinor: Int64
    var isOpen = true
}
