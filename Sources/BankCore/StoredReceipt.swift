/// What idempotency remembers about a successful request: the operation, to tell a replay from a conflicting
/// reuse of the id, and the receipt's figures, to hand the original answer back.
///
/// Kept compact (120 bytes, where operation and full receipt took 192): there is one per request ever served,
/// and writing them into the table was the largest memory cost of replaying a journal. What the operation already
/// says is not stored again: the request id is the table's key, the account and hold id follow from the operation
/// (for a capture or release, through the hold), and which amounts a receipt carries follows from its kind.
struct StoredReceipt: Hashable, Sendable {
    var operation: Operation
    var seq: Seq
    var balanceMinor: Int64
    var availableMinor: Int64
    var heldMinor: Int64
    /// A capture's settled amount; 0 otherwise.
    var capturedMinor: Int64
    /// The amount a capture or release returned to the account; 0 otherwise.
    var releasedMinor: Int64
    var frozen: Bool

    init(operation: Operation, receipt: Receipt) {
        self.operation = operation
        seq = receipt.seq
        balanceMinor = receipt.balanceMinor
        availableMinor = receipt.availableMinor
        heldMinor = receipt.heldMinor
        capturedMinor = receipt.capturedMinor ?? 0
        releasedMinor = receipt.releasedMinor ?? 0
        frozen = receipt.frozen
    }
}

extension Ledger {
    /// The full receipt of a stored one (with `replayed == false`).
    func expand(_ stored: StoredReceipt, requestID: RequestID) -> Receipt {
        let account: AccountID
        var holdID: HoldID?
        var captured: Int64?
        var released: Int64?
        switch stored.operation {
        case let .openAccount(id, _, _), let .deposit(id, _), let .withdraw(id, _), let .freeze(id),
             let .unfreeze(id):
            account = id
        case let .transfer(from, _, _, _):
            account = from
        case let .hold(id, _, hold):
            account = id
            holdID = hold
        case let .capture(hold, _):
            account = accountOfHold(hold)
            holdID = hold
            captured = stored.capturedMinor
            released = stored.releasedMinor
        case let .release(hold):
            account = accountOfHold(hold)
            holdID = hold
            released = stored.releasedMinor
        }
        return Receipt(seq: stored.seq, requestID: requestID, account: account, balanceMinor: stored.balanceMinor,
                       availableMinor: stored.availableMinor, heldMinor: stored.heldMinor, frozen: stored.frozen,
                       holdID: holdID, capturedMinor: captured, releasedMinor: released)
    }

    /// Holds are never deleted (a closed hold stays, so its id cannot be reused), so a capture's or release's
    /// hold is always there.
    private func accountOfHold(_ id: HoldID) -> AccountID {
        guard let hold = holds[id] else {
            invariantFailure("a stored receipt names hold \(id), which does not exist")
        }
        return hold.account
    }
}
