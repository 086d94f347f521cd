import DequeModule

/// The bank's books: accounts, holds, statements and idempotency receipts, as a plain value.
///
/// The leader calls `execute` for each client request; the journal stores the `Entry` it returns; followers and
/// restarted nodes call `apply` with the same entries in the same order and reach exactly the same state and the
/// same stored receipts: the state is a deterministic function of the journal. Nothing here reads a clock or does
/// I/O; the leader's clock reaches the ledger only as `timeMillis`, which the entry carries to the followers.
///
/// Decisions:
/// - Refused requests change nothing and are not journaled, so their request id is not consumed: a later retry
///   with the same id is evaluated afresh (it may succeed once the account has funds). Only successes are
///   remembered for idempotency.
/// - Replays (a repeated request id with the same operation) return the stored receipt with `replayed = true`,
///   change nothing and are not journaled either.
/// - Every mutation validates everything before it writes anything, so a refused mutation needs no undo; only an
///   atomic batch, whose *earlier* items succeeded, keeps an `UndoLog`.
public struct Ledger: Sendable {
    /// Accounts live in an array and `slots` maps an id to its index: an operation hashes each id once and then
    /// works on slots (hashing id strings was the ledger's largest cost). Slots are handed out in creation order,
    /// which the journal fixes, so they are the same on every replica.
    var accounts: [Account] = []
    var slots: [AccountID: Int] = [:]
    /// The slot of each currency's settlement account, once it exists.
    var settlementSlots: [CurrencyCode: Int] = [:]
    /// Statement lines of the customer accounts (none for settlement accounts).
    var book = StatementBook()
    var holds: [HoldID: Hold] = [:]
    var receipts = ReceiptTable()
    /// Undo logs of the uncommitted entries, oldest first, while `keepsUndo` is on (see TailUndo.swift).
    var undoTail: Deque<EntryUndo>?
    /// Receipts and closed holds that may have left memory for the history store (see Archive.swift); nil: none do.
    var archive: ArchiveState?
    /// Whether ids missing from memory are looked up in the history store: on the leader (`execute`), not when
    /// applying entries the leader already decided (`apply`).
    var consultsHistory = false
    /// A history read failed (the request was refused as unavailable): the node treats it as a storage failure.
    public internal(set) var historyReadFailed = false

    /// The seq of the last entry this ledger produced (`execute`) or applied (`apply`); 0 before the first.
    /// Entries arrive in journal order, each exactly once: a seq that does not grow is a broken invariant.
    public internal(set) var lastAppliedSeq: Seq = 0

    /// Test-only, for the simulator's bug injection: treat every request as new, so retries apply twice.
    public var forgetsRequestIDs = false

    public init() {}

    /// Before replaying a journal of `records` entries: size the request-id table once instead of growing it a
    /// million times (growing re-hashes every key).
    public mutating func reserveCapacity(records: Int) {
        receipts.reserveCapacity(records)
    }

    /// Successful requests remembered for idempotency (one receipt each): the bulk of the state.
    public var receiptCount: Int { receipts.count }

    /// Customer accounts; the implicit settlement accounts are not counted.
    public var accountCount: Int { accounts.count - settlementSlots.count }

    /// The stored receipt of a successful request (with `replayed == false`), or nil; one that left memory is read
    /// from the history store (nil too when that read fails). For tests and the simulator.
    public func receipt(for requestID: RequestID) -> Receipt? {
        if let stored = receipts[requestID] { return expand(stored, requestID: requestID) }
        return archive.flatMap { try? $0.reader.receipt(for: requestID)?.receipt }
    }

    // MARK: - Leader and follower entry points

    /// Executes a client request on the leader. `seq` is the journal seq the entry will get if anything changes.
    ///
    /// Successful mutations are applied at once and returned, in order, as the entry to journal; nil when nothing
    /// changed (reads, refusals, replays, a failed atomic batch, an empty batch).
    public mutating func execute(_ request: LedgerRequest, seq: Seq,
                                 timeMillis: Int64) -> (response: LedgerResponse, entry: Entry?) {
        invariant(seq > lastAppliedSeq, "execute at seq \(seq), but seq \(lastAppliedSeq) is already applied")
        consultsHistory = true
        defer { consultsHistory = false }
        switch request {
        case let .mutation(mutation):
            var undo: UndoLog? = keepsUndo ? UndoLog() : nil
            let result = perform(mutation, seq: seq, timeMillis: timeMillis, &undo)
            guard case let .success(receipt) = result, !receipt.replayed else { return (.mutation(result), nil) }
            lastAppliedSeq = seq
            keepUndo(undo, seq: seq)
            return (.mutation(result), Entry(timeMillis: timeMillis, mutations: [mutation]))
        case let .query(query):
            return (.query(self.query(query)), nil)
        case let .batch(items, atomic):
            return executeBatch(items, atomic: atomic, seq: seq, timeMillis: timeMillis)
        }
    }

    /// Items run in order, each seeing the effects of the earlier ones; all mutations applied share one entry.
    ///
    /// Non-atomic: each item succeeds or fails on its own. Atomic: the first failing item (a query too) undoes
    /// everything the earlier items did; the response then lists the results up to and including that item
    /// (for diagnosis: none took effect) and there is no entry.
    private mutating func executeBatch(_ items: [BatchItem], atomic: Bool, seq: Seq,
                                       timeMillis: Int64) -> (response: LedgerResponse, entry: Entry?) {
        // An atomic batch needs the log to undo a failing item; any batch keeps it when the tail is undoable.
        var undo: UndoLog? = atomic || keepsUndo ? UndoLog() : nil
        var results: [ItemResult] = []
        results.reserveCapacity(items.count)
        var applied: [Mutation] = []
        for (index, item) in items.enumerated() {
            let failed: Bool
            switch item {
            case let .mutation(mutation):
                let result = perform(mutation, seq: seq, timeMillis: timeMillis, &undo)
                results.append(.mutation(result))
                switch result {
                case let .success(receipt):
                    if !receipt.replayed { applied.append(mutation) }
                    failed = false
                case .failure:
                    failed = true
                }
            case let .query(query):
                let result = self.query(query)
                results.append(.query(result))
                if case .failure = result { failed = true } else { failed = false }
            }
            if atomic && failed {
                rollBack(undo!)
                // Nothing of this batch stays, so nothing of it needs undoing later.
                return (.batch(results, atomic: true, failedIndex: index), nil)
            }
        }
        guard !applied.isEmpty else { return (.batch(results, atomic: atomic, failedIndex: nil), nil) }
        lastAppliedSeq = seq
        keepUndo(undo, seq: seq)
        return (.batch(results, atomic: atomic, failedIndex: nil), Entry(timeMillis: timeMillis, mutations: applied))
    }

    /// Applies an entry the leader produced (follower, or replay at start-up). Every mutation must succeed as a
    /// new request: the leader journals only what succeeded, so anything else means the replicas have diverged,
    /// and the node stops rather than serve balances that differ from the leader's.
    public mutating func apply(_ entry: Entry, seq: Seq) {
        invariant(seq > lastAppliedSeq, "entry \(seq) applied after entry \(lastAppliedSeq)")
        invariant(entry.source == .clients, "entry \(seq) holds stand-in advice, which this version cannot apply: "
            + "upgrade the ledger before replaying this journal")
        var undo: UndoLog? = keepsUndo ? UndoLog() : nil
        for mutation in entry.mutations {
            let result = perform(mutation, seq: seq, timeMillis: entry.timeMillis, &undo)
            guard case let .success(receipt) = result, !receipt.replayed else {
                invariantFailure("journal entry \(seq) does not apply: \(mutation) gave \(result)")
            }
        }
        lastAppliedSeq = seq
        keepUndo(undo, seq: seq)
    }

    // MARK: - Idempotency

    /// One mutation with its idempotency check: a known request id is a replay (same operation) or a conflict
    /// (different operation) and changes nothing; a new one runs the rules and, on success, stores its receipt.
    private mutating func perform(_ mutation: Mutation, seq: Seq, timeMillis: Int64,
                                  _ undo: inout UndoLog?) -> Result<Receipt, LedgerError> {
        let requestID = mutation.requestID
        // With an archive, the id filter holds every id ever stored: one it has never seen is new, and neither the
        // receipt table nor the store is asked (the table's lookup was the largest cost of a new request).
        let mayBeKnown = !forgetsRequestIDs && mayHaveStored(requestID)
        if mayBeKnown, let stored = receipts[requestID] {
            guard stored.operation == mutation.operation else { return .failure(.idempotencyConflict(requestID)) }
            var receipt = expand(stored, requestID: requestID)
            receipt.replayed = true
            return .success(receipt)
        }
        do throws(LedgerError) {
            if mayBeKnown, let archived = try archivedReceipt(for: requestID) {
                guard archived.operation == mutation.operation else { throw .idempotencyConflict(requestID) }
                var receipt = archived.receipt
                receipt.replayed = true
                return .success(receipt)
            }
            let context = MutationContext(seq: seq, requestID: requestID, timeMillis: timeMillis)
            let receipt = try run(mutation.operation, context, &undo)
            // Only under the injected bug can the id already hold a receipt; normally it was looked up above.
            let previous = forgetsRequestIDs ? receipts[requestID] : nil
            undo?.record(.receipt(requestID, previous))
            let stored = StoredReceipt(operation: mutation.operation, receipt: receipt)
            if previous == nil {
                receipts.insertNew(requestID, stored)
                noteStored(requestID, stored)
            } else {
                receipts[requestID] = stored
            }
            assert(expand(receipts[requestID]!, requestID: requestID) == receipt, "a stored receipt lost information")
            return .success(receipt)
        } catch {
            if case .historyUnavailable = error { historyReadFailed = true }
            return .failure(error)
        }
    }

    /// Puts back everything an atomic batch (or an entry of the undoable tail) changed, newest change first.
    mutating func rollBack(_ log: UndoLog) {
        for change in log.changes.reversed() {
            switch change {
            case let .account(slot, previous):
                accounts[slot] = previous
            case .addedAccount:
                let account = accounts.removeLast()
                book.removeLastAccount()
                slots[account.id] = nil
                if account.isSettlement { settlementSlots[account.currency] = nil }
            case let .hold(id, previous):
                if let previous, previous.isOpen, holds[id]?.isOpen == false { unnoteClosed(id) }
                holds[id] = previous
            case let .receipt(id, previous):
                if let previous {
                    receipts.restore(id, previous)
                } else if receipts.remove(id) != nil {
                    unnoteStored(id)
                }
            case let .line(slot):
                book.removeNewestLine(of: slot)
            }
        }
    }
}

/// Where and when a mutation happens: every receipt and statement line it writes carries these.
struct MutationContext {
    var seq: Seq
    var requestID: RequestID
    var timeMillis: Int64
}
