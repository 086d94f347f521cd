/// The bank's books: accounts, holds, statements and idempotency receipts, as a plain value.
///
/// The leader calls `execute` for each client request; the journal stores the `Entry` it returns; followers and
/// restarted nodes call `apply` with the same entries in the same order and reach exactly the same state — the
/// state is a deterministic function of the journal. Refused requests change nothing and produce no entry, so a
/// refused request id is not consumed: a later retry is evaluated afresh.
public struct Ledger: Sendable {
    var accounts: [AccountID: Account] = [:]
    var holds: [HoldID: Hold] = [:]
    var receipts: [RequestID: StoredReceipt] = [:]
    var lines: [AccountID: [StatementEntry]] = [:]

    struct StoredReceipt: Hashable, Sendable {
        var operation: Operation
        var receipt: Receipt
    }

    /// Test-only, for the simulator's bug injection: treat every request as new, so retries apply twice.
    public var forgetsRequestIDs = false

    public init() {}

    /// Before replaying a journal of `records` entries: size the request-id table once instead of growing it a
    /// million times (growing re-hashes every key).
    public mutating func reserveCapacity(records: Int) {
        receipts.reserveCapacity(records)
    }

    public var accountCount: Int { accounts.values.count { !$0.isSettlement } }

    // MARK: - Leader and follower entry points

    /// Executes a client request on the leader. `seq` is the journal seq the entry will get if anything changes.
    public mutating func execute(_ request: LedgerRequest, seq: Seq, timeMillis: Int64) -> (response: LedgerResponse, entry: Entry?) {
        switch request {
        case let .mutation(mutation):
            var undo: UndoLog?
            let result = perform(mutation, seq: seq, timeMillis: timeMillis, undo: &undo)
            let applied = (try? result.get()).map { !$0.replayed } ?? false
            return (.mutation(result), applied ? Entry(timeMillis: timeMillis, mutations: [mutation]) : nil)
        case let .query(query):
            return (.query(self.query(query)), nil)
        case let .batch(items, atomic):
            return executeBatch(items, atomic: atomic, seq: seq, timeMillis: timeMillis)
        }
    }

    private mutating func executeBatch(_ items: [BatchItem], atomic: Bool, seq: Seq,
                                       timeMillis: Int64) -> (response: LedgerResponse, entry: Entry?) {
        var undo: UndoLog? = atomic ? UndoLog() : nil
        var results: [ItemResult] = []
        results.reserveCapacity(items.count)
        var applied: [Mutation] = []
        var failedIndex: Int?
        for (index, item) in items.enumerated() {
            let failed: Bool
            switch item {
            case let .mutation(mutation):
                let result = perform(mutation, seq: seq, timeMillis: timeMillis, undo: &undo)
                if case let .success(receipt) = result, !receipt.replayed { applied.append(mutation) }
                results.append(.mutation(result))
                failed = (try? result.get()) == nil
            case let .query(query):
                let result = self.query(query)
                results.append(.query(result))
                failed = (try? result.get()) == nil
            }
            if atomic && failed {
                failedIndex = index
                break
            }
        }
        if let failedIndex, let log = undo {
            rollBack(log)
            return (.batch(results, atomic: true, failedIndex: failedIndex), nil)
        }
        let entry = applied.isEmpty ? nil : Entry(timeMillis: timeMillis, mutations: applied)
        return (.batch(results, atomic: atomic, failedIndex: nil), entry)
    }

    /// Applies an entry the leader produced (follower, or replay at start-up). Every mutation must succeed: the
    /// leader only journals what succeeded, so anything else means the replicas have diverged.
    public mutating func apply(_ entry: Entry, seq: Seq) {
        var undo: UndoLog?
        for mutation in entry.mutations {
            let result = perform(mutation, seq: seq, timeMillis: entry.timeMillis, undo: &undo)
            guard case let .success(receipt) = result, !receipt.replayed else {
                fatalError("journal entry \(seq) does not apply: \(mutation) gave \(result)")
            }
        }
    }

    public func receipt(for requestID: RequestID) -> Receipt? { receipts[requestID]?.receipt }

    // MARK: - Mutations

    private mutating func perform(_ mutation: Mutation, seq: Seq, timeMillis: Int64,
                                  undo: inout UndoLog?) -> Result<Receipt, LedgerError> {
        if !forgetsRequestIDs, let stored = receipts[mutation.requestID] {
            guard stored.operation == mutation.operation else {
                return .failure(.idempotencyConflict(mutation.requestID))
            }
            var receipt = stored.receipt
            receipt.replayed = true
            return .success(receipt)
        }
        var context = MutationContext(seq: seq, requestID: mutation.requestID, timeMillis: timeMillis)
        let result = run(mutation.operation, &context, &undo)
        if case let .success(receipt) = result {
            undo?.record(.receipt(mutation.requestID))
            receipts[mutation.requestID] = StoredReceipt(operation: mutation.operation, receipt: receipt)
        }
        return result
    }

    struct MutationContext {
        var seq: Seq
        var requestID: RequestID
        var timeMillis: Int64
    }

    private mutating func run(_ operation: Operation, _ c: inout MutationContext,
                              _ undo: inout UndoLog?) -> Result<Receipt, LedgerError> {
        do {
            switch operation {
            case let .openAccount(id, currency, overdraft):
                guard accounts[id] == nil else { throw LedgerError.accountExists(id) }
                guard overdraft >= 0 && overdraft <= Money.maximumOverdraftMinor else {
                    throw LedgerError.invalid("overdraft limit out of range")
                }
                save(id, &undo)
                accounts[id] = Account(currency: currency, overdraftLimitMinor: overdraft)
                return .success(receipt(c, id))

            case let .deposit(id, amount):
                let account = try customer(id)
                let settlement = settlementAccount(for: account.currency, &undo)
                try move(amount, from: settlement, to: id, kind: .deposit, reference: nil, c, &undo)
                return .success(receipt(c, id))

            case let .withdraw(id, amount):
                let account = try debitable(id, amount)
                try move(amount, from: id, to: settlementAccount(for: account.currency, &undo), kind: .withdrawal,
                         reference: nil, c, &undo)
                return .success(receipt(c, id))

            case let .transfer(from, to, amount, reference):
                guard from != to else { throw LedgerError.invalid("'from' and 'to' must be different accounts") }
                let source = try customer(from)
                let target = try customer(to)
                guard source.currency == target.currency else {
                    throw LedgerError.currencyMismatch(from: source.currency, to: target.currency)
                }
                _ = try debitable(from, amount)
                try move(amount, from: from, to: to, kind: .transfer, reference: reference, c, &undo)
                return .success(receipt(c, from))

            case let .hold(id, amount, holdID):
                guard holds[holdID] == nil else { throw LedgerError.holdExists(holdID) }
                _ = try debitable(id, amount)
                save(id, &undo)
                accounts[id]!.heldMinor += amount
                undo?.record(.hold(holdID, nil))
                holds[holdID] = Hold(account: id, amountMinor: amount)
                return .success(receipt(c, id, holdID: holdID))

            case let .capture(holdID, amount):
                let hold = try openHold(holdID)
                let captured = amount ?? hold.amountMinor
                guard captured <= hold.amountMinor else {
                    throw LedgerError.invalid("capture amount \(captured) exceeds the held amount \(hold.amountMinor)")
                }
                let account = try customer(hold.account)
                guard !account.frozen else { throw LedgerError.accountFrozen(hold.account) }
                closeHold(holdID, hold, &undo)
                let settlement = settlementAccount(for: account.currency, &undo)
                try move(captured, from: hold.account, to: settlement, kind: .capture, reference: nil, c, &undo)
                return .success(receipt(c, hold.account, holdID: holdID, captured: captured,
                                        released: hold.amountMinor - captured))

            case let .release(holdID):
                let hold = try openHold(holdID)
                closeHold(holdID, hold, &undo)
                return .success(receipt(c, hold.account, holdID: holdID, released: hold.amountMinor))

            case let .freeze(id), let .unfreeze(id):
                _ = try customer(id)
                save(id, &undo)
                if case .freeze = operation { accounts[id]!.frozen = true } else { accounts[id]!.frozen = false }
                return .success(receipt(c, id))
            }
        } catch let error as LedgerError {
            return .failure(error)
        } catch {
            fatalError("unexpected error \(error)")
        }
    }

    private func customer(_ id: AccountID) throws -> Account {
        guard let account = accounts[id], !account.isSettlement else { throw LedgerError.unknownAccount(id) }
        return account
    }

    /// The account exists, is not frozen, and can spend `amount`.
    private func debitable(_ id: AccountID, _ amount: Int64) throws -> Account {
        let account = try customer(id)
        guard !account.frozen else { throw LedgerError.accountFrozen(id) }
        guard account.availableMinor >= amount else {
            throw LedgerError.insufficientFunds(id, availableMinor: account.availableMinor, requestedMinor: amount)
        }
        return account
    }

    private func openHold(_ id: HoldID) throws -> Hold {
        guard let hold = holds[id] else { throw LedgerError.unknownHold(id) }
        guard hold.isOpen else { throw LedgerError.holdClosed(id) }
        return hold
    }

    private mutating func closeHold(_ id: HoldID, _ hold: Hold, _ undo: inout UndoLog?) {
        undo?.record(.hold(id, hold))
        holds[id]!.isOpen = false
        save(hold.account, &undo)
        accounts[hold.account]!.heldMinor -= hold.amountMinor
        invariant(accounts[hold.account]!.heldMinor >= 0, "held amount went negative")
    }

    private mutating func settlementAccount(for currency: CurrencyCode, _ undo: inout UndoLog?) -> AccountID {
        let id = AccountID.settlement(currency)
        if accounts[id] == nil {
            save(id, &undo)
            accounts[id] = Account(currency: currency, overdraftLimitMinor: 0, isSettlement: true)
        }
        return id
    }

    /// Moves money between two accounts of one currency, refusing overflow, and writes statement lines.
    private mutating func move(_ amount: Int64, from debit: AccountID, to credit: AccountID, kind: EntryKind,
                               reference: String?, _ c: MutationContext, _ undo: inout UndoLog?) throws {
        invariant(amount > 0, "amounts are positive")
        let (debited, debitOverflow) = accounts[debit]!.balanceMinor.subtractingReportingOverflow(amount)
        let (credited, creditOverflow) = accounts[credit]!.balanceMinor.addingReportingOverflow(amount)
        guard !debitOverflow && !creditOverflow else { throw LedgerError.invalid("the balance would overflow") }
        save(debit, &undo)
        save(credit, &undo)
        accounts[debit]!.balanceMinor = debited
        accounts[credit]!.balanceMinor = credited
        addLine(debit, -amount, counterparty: credit, kind: kind, reference: reference, c, &undo)
        addLine(credit, amount, counterparty: debit, kind: kind, reference: reference, c, &undo)
    }

    private mutating func addLine(_ id: AccountID, _ amount: Int64, counterparty: AccountID, kind: EntryKind,
                                  reference: String?, _ c: MutationContext, _ undo: inout UndoLog?) {
        guard let account = accounts[id], !account.isSettlement else { return }
        undo?.record(.lines(id, count: lines[id]?.count ?? 0))
        lines[id, default: []].append(StatementEntry(
            seq: c.seq, requestID: c.requestID, kind: kind, amountMinor: amount, counterparty: counterparty,
            balanceAfterMinor: account.balanceMinor, reference: reference, timeMillis: c.timeMillis))
    }

    private mutating func save(_ id: AccountID, _ undo: inout UndoLog?) {
        undo?.record(.account(id, accounts[id]))
    }

    private func receipt(_ c: MutationContext, _ id: AccountID, holdID: HoldID? = nil, captured: Int64? = nil,
                         released: Int64? = nil) -> Receipt {
        let account = accounts[id]!
        return Receipt(seq: c.seq, requestID: c.requestID, account: id, balanceMinor: account.balanceMinor,
                       availableMinor: account.availableMinor, heldMinor: account.heldMinor, frozen: account.frozen,
                       holdID: holdID, capturedMinor: captured, releasedMinor: released)
    }

    private mutating func rollBack(_ log: UndoLog) {
        for change in log.changes.reversed() {
            switch change {
            case let .account(id, previous): accounts[id] = previous
            case let .hold(id, previous): holds[id] = previous
            case let .receipt(id): receipts[id] = nil
            case let .lines(id, count):
                if count == 0 { lines[id] = nil } else { lines[id]!.removeSubrange(count...) }
            }
        }
    }

    // MARK: - Queries

    public func query(_ query: Query) -> Result<QueryResult, LedgerError> {
        switch query {
        case let .balance(id):
            guard let account = accounts[id], !account.isSettlement else { return .failure(.unknownAccount(id)) }
            return .success(.balance(BalanceView(
                account: id, balanceMinor: account.balanceMinor, availableMinor: account.availableMinor,
                heldMinor: account.heldMinor, currency: account.currency,
                overdraftLimitMinor: account.overdraftLimitMinor, frozen: account.frozen)))
        case let .statement(id, limit, beforeSeq):
            guard let account = accounts[id], !account.isSettlement else { return .failure(.unknownAccount(id)) }
            _ = account
            return .success(.statement(account: id, entries: statement(of: id, limit: limit, beforeSeq: beforeSeq)))
        }
    }

    /// Newest first. A page never splits the lines of one seq (an atomic batch can move an account several times
    /// in one seq), so it may hold a few more lines than `limit`; it holds fewer only when history runs out.
    private func statement(of id: AccountID, limit: Int, beforeSeq: Seq?) -> [StatementEntry] {
        guard let all = lines[id], limit > 0 else { return [] }
        var end = all.count
        if let beforeSeq {
            var low = 0, high = all.count
            while low < high {
                let middle = (low + high) / 2
                if all[middle].seq < beforeSeq { low = middle + 1 } else { high = middle }
            }
            end = low
        }
        var page: [StatementEntry] = []
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

    // MARK: - Invariants

    /// Sum of every balance per currency, settlement accounts included: always zero (double entry).
    public func balanceTotals() -> [CurrencyCode: Int64] {
        var totals: [CurrencyCode: Int64] = [:]
        for account in accounts.values { totals[account.currency, default: 0] &+= account.balanceMinor }
        return totals
    }

    /// Crashes on a broken invariant: better than serving wrong balances.
    public func checkInvariants() {
        for (currency, total) in balanceTotals() {
            invariant(total == 0, "books do not balance in \(currency): \(total)")
        }
        var heldByAccount: [AccountID: Int64] = [:]
        for hold in holds.values where hold.isOpen { heldByAccount[hold.account, default: 0] += hold.amountMinor }
        for (id, account) in accounts where !account.isSettlement {
            invariant(account.availableMinor >= 0, "\(id) is beyond its limit: available \(account.availableMinor)")
            invariant(account.heldMinor == heldByAccount[id, default: 0], "\(id): held differs from its open holds")
        }
    }

    /// A cheap fingerprint of every account's figures (FNV-1a over sorted ids), to compare replicas.
    public var stateDigest: UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        func mix(_ value: UInt64) {
            for shift in stride(from: 0, to: 64, by: 8) {
                hash = (hash ^ ((value >> UInt64(shift)) & 0xFF)) &* 0x100_0000_01b3
            }
        }
        for id in accounts.keys.sorted() {
            let account = accounts[id]!
            for byte in id.rawValue.utf8 { mix(UInt64(byte)) }
            mix(UInt64(bitPattern: account.balanceMinor))
            mix(UInt64(bitPattern: account.heldMinor))
            mix(account.frozen ? 1 : 0)
        }
        mix(UInt64(receipts.count))
        return hash
    }
}
