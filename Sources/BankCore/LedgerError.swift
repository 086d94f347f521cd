/// Why the ledger refused a request. A refused request changes nothing.
public enum LedgerError: Error, Hashable, Sendable {
    case unknownAccount(AccountID)
    case accountExists(AccountID)
    case insufficientFunds(AccountID, availableMinor: Int64, requestedMinor: Int64)
    case accountFrozen(AccountID)
    case currencyMismatch(from: CurrencyCode, to: CurrencyCode)
    case unknownHold(HoldID)
    case holdClosed(HoldID)
    case holdExists(HoldID)
    /// The request id was used before with different parameters.
    case idempotencyConflict(RequestID)
    /// A rule about the request's own fields that needs state to check (capture above the held amount,
    /// a transfer to the same account, a balance that would overflow).
    case invalid(String)
    /// The history store could not be read to tell whether an id was used before: nothing was applied; retryable.
    case historyUnavailable(String)
}
