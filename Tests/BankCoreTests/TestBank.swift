import Testing
@testable import BankCore

func acct(_ raw: String) -> AccountID { AccountID(raw)! }
func req(_ raw: String) -> RequestID { RequestID(raw)! }
func hid(_ raw: String) -> HoldID { HoldID(raw)! }
let eur = CurrencyCode("EUR")!

/// A ledger driven the way the leader drives it: seqs grow by one per entry, the clock ticks, every entry is kept
/// as the journal would keep it (encoded), and the invariants are checked after every request.
struct TestBank {
    var ledger = Ledger()
    /// The journal: encoded entries with their seqs.
    var journal: [(seq: Seq, bytes: [UInt8])] = []
    var clock: Int64 = 1_700_000_000_000
    private var generatedIDs = 0

    var nextSeq: Seq { Seq(journal.count + 1) }

    /// Executes a request at the next seq; returns the response and the entry, if any.
    @discardableResult
    mutating func execute(_ request: LedgerRequest) -> (response: LedgerResponse, entry: Entry?) {
        clock += 7
        let seq = nextSeq
        let (response, entry) = ledger.execute(request, seq: seq, timeMillis: clock)
        if let entry {
            #expect(!entry.mutations.isEmpty, "an entry always changes something")
            #expect(entry.timeMillis == clock)
            journal.append((seq, entry.encoded()))
        }
        ledger.checkInvariants()
        return (response, entry)
    }

    /// Runs one mutation (request id generated unless given).
    @discardableResult
    mutating func run(_ operation: Operation, id: String? = nil) -> Result<Receipt, LedgerError> {
        let requestID: String
        if let id { requestID = id } else {
            generatedIDs += 1
            requestID = "gen-\(generatedIDs)"
        }
        let (response, _) = execute(.mutation(Mutation(requestID: req(requestID), operation: operation)))
        guard case let .mutation(result) = response else {
            Issue.record("a mutation got \(response)")
            return .failure(.invalid("not a mutation response"))
        }
        return result
    }

    /// Runs one mutation that must succeed.
    @discardableResult
    mutating func must(_ operation: Operation, id: String? = nil) throws -> Receipt {
        try run(operation, id: id).get()
    }

    /// Runs a batch; returns its results, failed index and entry.
    mutating func batch(_ items: [BatchItem],
                        atomic: Bool) -> (results: [ItemResult], failedIndex: Int?, entry: Entry?) {
        let (response, entry) = execute(.batch(items, atomic: atomic))
        guard case let .batch(results, responseAtomic, failedIndex) = response else {
            Issue.record("a batch got \(response)")
            return ([], nil, nil)
        }
        #expect(responseAtomic == atomic)
        return (results, failedIndex, entry)
    }

    mutating func open(_ account: String, overdraft: Int64 = 0, currency: CurrencyCode = .gbp) {
        let result = run(.openAccount(acct(account), currency: currency, overdraftLimitMinor: overdraft))
        #expect(throws: Never.self) { try result.get() }
    }

    mutating func deposit(_ account: String, _ amount: Int64) {
        let result = run(.deposit(acct(account), amountMinor: amount))
        #expect(throws: Never.self) { try result.get() }
    }

    /// Opens and funds an account.
    mutating func open(_ account: String, funded amount: Int64, overdraft: Int64 = 0,
                       currency: CurrencyCode = .gbp) {
        open(account, overdraft: overdraft, currency: currency)
        deposit(account, amount)
    }

    func balance(_ account: AccountID) throws -> BalanceView {
        guard case let .balance(view) = try ledger.query(.balance(account)).get() else {
            throw TestFailure("not a balance")
        }
        return view
    }

    func balance(_ account: String) throws -> BalanceView { try balance(acct(account)) }

    func statement(_ account: String, limit: Int = 1000, beforeSeq: Seq? = nil) throws -> [StatementEntry] {
        guard case let .statement(id, entries) = try ledger.query(
            .statement(acct(account), limit: limit, beforeSeq: beforeSeq)).get() else {
            throw TestFailure("not a statement")
        }
        #expect(id == acct(account))
        return entries
    }

    /// A fresh ledger that applied the whole journal, decoded from its bytes as a follower would.
    func replica() throws -> Ledger {
        var replica = Ledger()
        for (seq, bytes) in journal { replica.apply(try Entry(decoding: bytes), seq: seq) }
        replica.checkInvariants()
        return replica
    }
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

