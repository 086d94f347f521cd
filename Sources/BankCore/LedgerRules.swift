/// The bank's rules, one function per operation.
///
/// Each function first checks everything that can refuse the request (throwing a `LedgerError`) and only then
/// writes. So a refused mutation never leaves a partial change behind, with or without an undo log, and the
/// leader's state after a refusal is exactly the state the followers (who never see the refusal) have.
///
/// Everything accepted here must also survive the journal: the entry codec refuses amounts outside
/// `Money.isValidAmount`, overdrafts outside `0...Money.maximumOverdraftMinor`, strings longer than 65535 bytes and
/// settlement ids (they are not valid `AccountID`s). The rules refuse the same things, so an accepted mutation
/// always encodes, decodes and re-applies.
extension Ledger {
    mutating func run(_ operation: Operation, _ c: MutationContext,
                      _ undo: inout UndoLog?) throws(LedgerError) -> Receipt {
        try Self.requireEncodable(c.requestID.rawValue, "request id")
        switch operation {
        case let .openAccount(id, currency, overdraft):
            return try openAccount(id, currency: currency, overdraftLimitMinor: overdraft, c, &undo)
        case let .deposit(id, amount):
            return try deposit(id, amount, c, &undo)
        case let .withdraw(id, amount):
            return try withdraw(id, amount, c, &undo)
        case let .transfer(from, to, amount, reference):
            return try transfer(from: from, to: to, amount, reference: reference, c, &undo)
        case let .hold(id, amount, holdID):
            return try hold(id, amount, holdID: holdID, c, &undo)
        case let .capture(holdID, amount):
            return try capture(holdID, amount, c, &undo)
        case let .release(holdID):
            return try release(holdID, c, &undo)
        case let .freeze(id):
            return try setFrozen(id, true, c, &undo)
        case let .unfreeze(id):
            return try setFrozen(id, false, c, &undo)
        }
    }

    // MARK: - Operations

    /// A settlement id always "exists" (it is created on first use), so opening one is `accountExists`.
    private mutating func openAccount(_ id: AccountID, currency: CurrencyCode, overdraftLimitMinor overdraft: Int64,
                                      _ c: MutationContext, _ undo: inout UndoLog?) throws(LedgerError) -> Receipt {
        guard slots[id] == nil, !id.isSettlement else { throw .accountExists(id) }
        guard (0...Money.maximumOverdraftMinor).contains(overdraft) else {
            throw .invalid("overdraft limit must be between 0 and \(Money.maximumOverdraftMinor) minor units")
        }
        let slot = append(Account(id: id, currency: currency, overdraftLimitMinor: overdraft), &undo)
        return receipt(c, slot)
    }

    /// Credits the account, debits the currency's settlement account. A frozen account accepts credits.
    private mutating func deposit(_ id: AccountID, _ amount: Int64, _ c: MutationContext,
                                  _ undo: inout UndoLog?) throws(LedgerError) -> Receipt {
        try Self.requireValidAmount(amount)
        let slot = try customer(id)
        let currency = accounts[slot].currency
        try move(amount, from: settlementSlots[currency], to: slot, currency: currency, kind: .deposit,
                 reference: nil, c, &undo)
        return receipt(c, slot)
    }

    /// Debits the account (not frozen, enough available), credits the settlement account.
    private mutating func withdraw(_ id: AccountID, _ amount: Int64, _ c: MutationContext,
                                   _ undo: inout UndoLog?) throws(LedgerError) -> Receipt {
        try Self.requireValidAmount(amount)
        let slot = try customer(id)
        try checkDebitable(slot, amount)
        let currency = accounts[slot].currency
        try move(amount, from: slot, to: settlementSlots[currency], currency: currency, kind: .withdrawal,
                 reference: nil, c, &undo)
        return receipt(c, slot)
    }

    /// Checks in this order: amount, `from != to`, `from` exists, `to` exists, same currency, `from` not frozen,
    /// funds. The recipient may be frozen (credits are allowed). The receipt reports the sender only.
    private mutating func transfer(from: AccountID, to: AccountID, _ amount: Int64, reference: String?,
                                   _ c: MutationContext, _ undo: inout UndoLog?) throws(LedgerError) -> Receipt {
        try Self.requireValidAmount(amount)
        guard from != to else { throw .invalid("'from' and 'to' must be different accounts") }
        if let reference { try Self.requireEncodable(reference, "reference") }
        let source = try customer(from)
        let target = try customer(to)
        let currency = accounts[source].currency
        guard currency == accounts[target].currency else {
            throw .currencyMismatch(from: currency, to: accounts[target].currency)
        }
        try checkDebitable(source, amount)
        try move(amount, from: source, to: target, currency: currency, kind: .transfer, reference: reference, c,
                 &undo)
        return receipt(c, source)
    }

    /// Reserves funds: `held` grows, `available` shrinks, the balance does not move (so no statement line).
    /// A hold id is unique for ever: an id used by any hold, open or closed, is `holdExists`.
    private mutating func hold(_ id: AccountID, _ amount: Int64, holdID: HoldID, _ c: MutationContext,
                               _ undo: inout UndoLog?) throws(LedgerError) -> Receipt {
        try Self.requireValidAmount(amount)
        guard holds[holdID] == nil, try archivedHold(holdID) == nil else { throw .holdExists(holdID) }
        let slot = try customer(id)
        try checkDebitable(slot, amount)
        // Cannot overflow: amount ≤ available = balance − held + limit, so held + amount ≤ balance + limit, which
        // the movement rules keep representable.
        let (held, overflow) = accounts[slot].heldMinor.addingReportingOverflow(amount)
        invariant(!overflow, "held amount of \(id) overflowed although funds were available")
        undo?.record(.account(slot: slot, accounts[slot]))
        accounts[slot].heldMinor = held
        undo?.record(.hold(holdID, nil))
        holds[holdID] = Hold(account: id, amountMinor: amount)
        noteNewHold(holdID)
        return receipt(c, slot, holdID: holdID)
    }

    /// Settles `amount` (nil: the whole hold) from the hold's account to settlement, releases the rest, and
    /// closes the hold. A debit, so a frozen account refuses it. Needs no funds check: the money was reserved.
    private mutating func capture(_ holdID: HoldID, _ amount: Int64?, _ c: MutationContext,
                                  _ undo: inout UndoLog?) throws(LedgerError) -> Receipt {
        let hold = try openHold(holdID)
        if let amount { try Self.requireValidAmount(amount) }
        let captured = amount ?? hold.amountMinor
        guard captured <= hold.amountMinor else {
            throw .invalid("capture amount \(captured) exceeds the held amount \(hold.amountMinor)")
        }
        let slot = slot(of: hold)
        guard !accounts[slot].frozen else { throw .accountFrozen(hold.account) }
        let currency = accounts[slot].currency
        try move(captured, from: slot, to: settlementSlots[currency], currency: currency, kind: .capture,
                 reference: nil, c, &undo)
        close(holdID, hold, slot, c, &undo)
        return receipt(c, slot, holdID: holdID, captured: captured, released: hold.amountMinor - captured)
    }

    /// Cancels the hold: the whole amount becomes available again. Allowed on a frozen account (it is no debit).
    private mutating func release(_ holdID: HoldID, _ c: MutationContext,
                                  _ undo: inout UndoLog?) throws(LedgerError) -> Receipt {
        let hold = try openHold(holdID)
        let slot = slot(of: hold)
        close(holdID, hold, slot, c, &undo)
        return receipt(c, slot, holdID: holdID, released: hold.amountMinor)
    }

    /// Freezing a frozen account (or unfreezing an unfrozen one) succeeds and changes nothing.
    private mutating func setFrozen(_ id: AccountID, _ frozen: Bool, _ c: MutationContext,
                                    _ undo: inout UndoLog?) throws(LedgerError) -> Receipt {
        let slot = try customer(id)
        if accounts[slot].frozen != frozen {
            undo?.record(.account(slot: slot, accounts[slot]))
            accounts[slot].frozen = frozen
        }
        return receipt(c, slot)
    }

    // MARK: - Checks (no writes)

    static func requireValidAmount(_ amount: Int64) throws(LedgerError) {
        guard Money.isValidAmount(amount) else {
            throw .invalid("amount must be between 1 and \(Money.maximumAmountMinor) minor units")
        }
    }

    /// The journal stores strings with a 16-bit length.
    static func requireEncodable(_ string: String, _ what: String) throws(LedgerError) {
        guard string.utf8.count <= Int(UInt16.max) else { throw .invalid("\(what) is longer than 65535 bytes") }
    }

    /// The slot of a customer account that exists. Settlement accounts are the bank's own: no request may name
    /// them.
    private func customer(_ id: AccountID) throws(LedgerError) -> Int {
        if let slot = slots[id], !accounts[slot].isSettlement { return slot }
        if id.isSettlement { throw .invalid("'\(id)' is the bank's settlement account: requests cannot name it") }
        throw .unknownAccount(id)
    }

    /// The account is not frozen and can spend `amount`.
    private func checkDebitable(_ slot: Int, _ amount: Int64) throws(LedgerError) {
        let account = accounts[slot]
        guard !account.frozen else { throw .accountFrozen(account.id) }
        guard account.availableMinor >= amount else {
            throw .insufficientFunds(account.id, availableMinor: account.availableMinor, requestedMinor: amount)
        }
    }

    private func openHold(_ id: HoldID) throws(LedgerError) -> Hold {
        guard let hold = holds[id] else {
            throw try archivedHold(id) == nil ? .unknownHold(id) : .holdClosed(id)
        }
        guard hold.isOpen else { throw .holdClosed(id) }
        return hold
    }

    private func slot(of hold: Hold) -> Int {
        guard let slot = slots[hold.account] else {
            invariantFailure("a hold belongs to a missing account \(hold.account)")
        }
        return slot
    }

    /// The balance of the account in `slot` after adding `delta`, or `.invalid` when it would not be
    /// representable. For a customer account `balance + overdraftLimit` must stay representable too, so that
    /// `available` can always be computed. A nil slot is the settlement account of `currency` before its first
    /// use: balance 0.
    private func balance(_ slot: Int?, adding delta: Int64) throws(LedgerError) -> Int64 {
        guard let slot else { return delta }
        let account = accounts[slot]
        let (balance, overflow) = account.balanceMinor.addingReportingOverflow(delta)
        guard !overflow,
              account.isSettlement || !balance.addingReportingOverflow(account.overdraftLimitMinor).overflow else {
            throw .invalid("the balance of '\(account.id)' would overflow")
        }
        return balance
    }

    // MARK: - Writes (cannot fail)

    /// Double entry: moves `amount` between two accounts of `currency` (a nil slot: the currency's settlement
    /// account, not created yet) and writes each customer side a statement line. Checks for overflow first and
    /// writes only when both sides fit, creating the settlement account on its first use. Funds and freezes are
    /// the caller's checks.
    private mutating func move(_ amount: Int64, from debit: Int?, to credit: Int?, currency: CurrencyCode,
                               kind: EntryKind, reference: String?, _ c: MutationContext,
                               _ undo: inout UndoLog?) throws(LedgerError) {
        invariant(amount > 0 && debit != credit, "a movement is a positive amount between two accounts")
        let debited = try balance(debit, adding: -amount)
        let credited = try balance(credit, adding: amount)
        // Nothing was written above: a refusal leaves the state as it was.
        let debit = debit ?? appendSettlement(currency, &undo)
        let credit = credit ?? appendSettlement(currency, &undo)
        setBalance(debit, debited, currency: currency, &undo)
        setBalance(credit, credited, currency: currency, &undo)
        addLine(debit, -amount, counterparty: credit, kind: kind, reference: reference, c, &undo)
        addLine(credit, amount, counterparty: debit, kind: kind, reference: reference, c, &undo)
    }

    private mutating func setBalance(_ slot: Int, _ balance: Int64, currency: CurrencyCode, _ undo: inout UndoLog?) {
        invariant(accounts[slot].currency == currency, "a movement in \(currency) touched \(accounts[slot].id)")
        undo?.record(.account(slot: slot, accounts[slot]))
        accounts[slot].balanceMinor = balance
    }

    /// Adds an account in the next slot.
    private mutating func append(_ account: Account, _ undo: inout UndoLog?) -> Int {
        let slot = accounts.count
        invariant(slots.updateValue(slot, forKey: account.id) == nil, "account \(account.id) added twice")
        accounts.append(account)
        book.addAccount()
        if account.isSettlement { settlementSlots[account.currency] = slot }
        undo?.record(.addedAccount)
        return slot
    }

    private mutating func appendSettlement(_ currency: CurrencyCode, _ undo: inout UndoLog?) -> Int {
        invariant(settlementSlots[currency] == nil, "settlement account of \(currency) created twice")
        return append(Account(id: .settlement(currency), currency: currency, overdraftLimitMinor: 0, isSettlement: true),
                      &undo)
    }

    private mutating func close(_ id: HoldID, _ hold: Hold, _ slot: Int, _ c: MutationContext,
                                _ undo: inout UndoLog?) {
        undo?.record(.hold(id, hold))
        holds[id]!.isOpen = false
        holds[id]!.closedSeq = c.seq
        noteClosed(id, seq: c.seq)
        undo?.record(.account(slot: slot, accounts[slot]))
        accounts[slot].heldMinor -= hold.amountMinor
        invariant(accounts[slot].heldMinor >= 0, "held amount of \(hold.account) went negative")
    }

    /// The receipt reports one account's figures after the operation (for a transfer, the sender's).
    private func receipt(_ c: MutationContext, _ slot: Int, holdID: HoldID? = nil, captured: Int64? = nil,
                         released: Int64? = nil) -> Receipt {
        let account = accounts[slot]
        return Receipt(seq: c.seq, requestID: c.requestID, account: account.id, balanceMinor: account.balanceMinor,
                       availableMinor: account.availableMinor, heldMinor: account.heldMinor, frozen: account.frozen,
                       holdID: holdID, capturedMinor: captured, releasedMinor: released)
    }
}
