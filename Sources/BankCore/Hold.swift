/// A card authorisation: reserves `amountMinor` of the account's available funds until captured or released.
///
/// Closed holds are kept (not deleted) because a hold id is unique for ever: reusing the id of a captured hold is
/// refused with `holdExists`, so a client's retried `hold` can never silently open a second authorisation.
struct Hold: Hashable, Sendable {
    var account: AccountID
    var amountMinor: Int64
    var isOpen = true
    /// The seq of the capture or release that closed it (0 while open, and for holds closed before this was kept).
    var closedSeq: Seq = 0
}
