import BankProtocol
import Foundation
import SeededRandom
import Synchronization
import Testing

/// Concurrent clients sending transfers through the gateway while a scenario kills, pauses or restarts nodes,
/// then a check of the books that holds whatever happened:
/// every acknowledged transfer is applied exactly once, no refused one is applied, money is conserved, no balance
/// breaks its limit.
final class TransferLoad: Sendable {
    enum Outcome: Equatable, Sendable {
        case applied(seq: Int64)
        case refused(String)
        /// Timed out or `unavailable`: to be settled by retrying with the same request id.
        case unknown
    }

    struct Transfer: Sendable {
        let requestID: String
        let from: String
        let to: String
        let amount: Int64
    }

    let accounts: [String]
    let initialBalanceMinor: Int64 = 10_000
    private let endpoint: String
    private let keys: ClientKeys?
    private let results = Mutex<[(Transfer, Outcome)]>([])
    private let stopFlag = Atomic<Bool>(false)
    private let acknowledged = Atomic<Int>(0)
    private let unknown = Atomic<Int>(0)

    init(endpoint: String, keys: ClientKeys?, accountCount: Int = 8, prefix: String = "acct") {
        self.endpoint = endpoint
        self.keys = keys
        accounts = (0..<accountCount).map { "\(prefix)\($0)" }
    }

    var acknowledgedCount: Int { acknowledged.load(ordering: .relaxed) }
    /// Requests that got no definite answer (timeout or `unavailable`) while the load ran.
    var unknownCount: Int { unknown.load(ordering: .relaxed) }

    /// Opens the accounts and funds them.
    func setUp() throws {
        let client = try BankClient(endpoint: endpoint, keys: keys)
        for account in accounts {
            let opened = try client.call(["op": "open_account", "request_id": .string("open-\(account)"),
                                          "account": .string(account)])
            #expect(opened.isOK, "\(opened)")
            let funded = try client.call(["op": "deposit", "request_id": .string("fund-\(account)"),
                                          "account": .string(account), "amount": .int(initialBalanceMinor)])
            #expect(funded.isOK, "\(funded)")
        }
    }

    /// Starts `clients` threads, each sending transfers one at a time until `stop()`.
    func start(clients: Int) -> [Thread] {
        (0..<clients).map { index in
            let thread = Thread { [self] in runClient(index) }
            thread.start()
            return thread
        }
    }

    func stop(_ threads: [Thread]) throws {
        stopFlag.store(true, ordering: .relaxed)
        let deadline = Date().addingTimeInterval(30)
        while threads.contains(where: { !$0.isFinished }) && Date() < deadline { usleep(10_000) }
        let allStopped = threads.allSatisfy { $0.isFinished }
        #expect(allStopped, "load threads did not stop")
    }

    private func runClient(_ index: Int) {
        guard let client = try? BankClient(endpoint: endpoint, keys: keys) else { return }
        var generator = SplitMix64(seed: UInt64(index + 1) &* 0x9E37_79B9)
        var sequence = 0
        while !stopFlag.load(ordering: .relaxed) {
            sequence += 1
            let from = accounts[Int(generator.next() % UInt64(accounts.count))]
            var to = from
            while to == from { to = accounts[Int(generator.next() % UInt64(accounts.count))] }
            // Occasionally more than an account holds, so that refusals happen too.
            let amount = Int64(generator.next() % 100 == 0 ? 50_000 : 1 + generator.next() % 500)
            let transfer = Transfer(requestID: "c\(index)-\(sequence)", from: from, to: to, amount: amount)
            let outcome = Self.send(transfer, with: client, timeoutMilliseconds: 3_000)
            if case .applied = outcome { acknowledged.add(1, ordering: .relaxed) }
            if outcome == .unknown { unknown.add(1, ordering: .relaxed) }
            results.withLock { $0.append((transfer, outcome)) }
        }
    }

    static func send(_ transfer: Transfer, with client: BankClient, timeoutMilliseconds: Int) -> Outcome {
        let request: JSONValue = ["op": "transfer", "request_id": .string(transfer.requestID),
                                  "from": .string(transfer.from), "to": .string(transfer.to),
                                  "amount": .int(transfer.amount)]
        guard let reply = try? client.call(request, timeoutMilliseconds: timeoutMilliseconds) else { return .unknown }
        if reply.isOK, let seq = reply["seq"]?.intValue { return .applied(seq: seq) }
        if reply["retryable"]?.boolValue == true { return .unknown }
        return .refused(reply.errorCode ?? "?")
    }

    /// Settles unknown outcomes by retrying them, then checks the books against every outcome.
    func verifyBooks() throws {
        let client = try BankClient(endpoint: endpoint, keys: keys)
        var outcomes = results.withLock { $0 }
        #expect(!outcomes.isEmpty)
        for index in outcomes.indices where outcomes[index].1 == .unknown {
            var settled = Outcome.unknown
            for _ in 0..<20 where settled == .unknown {
                settled = Self.send(outcomes[index].0, with: client, timeoutMilliseconds: 10_000)
            }
            #expect(settled != .unknown, "could not settle \(outcomes[index].0.requestID)")
            outcomes[index].1 = settled
        }

        let applied = outcomes.count { if case .applied = $0.1 { true } else { false } }
        print("transfer load: \(outcomes.count) sent, \(applied) applied, \(outcomes.count - applied) refused, "
              + "\(unknownCount) settled by retrying")
        var expected = Dictionary(uniqueKeysWithValues: accounts.map { ($0, initialBalanceMinor) })
        var appliedIDs: [String: Int64] = [:]
        for (transfer, outcome) in outcomes {
            guard case let .applied(seq) = outcome else { continue }
            expected[transfer.from]! -= transfer.amount
            expected[transfer.to]! += transfer.amount
            appliedIDs[transfer.requestID] = seq
        }
        // Acknowledged transfers are still there, under the same seq: a replay says so.
        for (transfer, outcome) in outcomes.prefix(300) {
            guard case let .applied(seq) = outcome else { continue }
            let reply = try client.call(["op": "transfer", "request_id": .string(transfer.requestID),
                                         "from": .string(transfer.from), "to": .string(transfer.to),
                                         "amount": .int(transfer.amount)])
            #expect(reply["replayed"]?.boolValue == true && reply["seq"]?.intValue == seq,
                    "acknowledged \(transfer.requestID) at seq \(seq), replay says \(reply)")
        }
        var total: Int64 = 0
        var seenIDs: [String: Int] = [:]
        for account in accounts {
            let balance = try client.call(["op": "balance", "account": .string(account)])
            let balanceMinor = balance["balance"]?.intValue ?? .min
            #expect(balanceMinor == expected[account], "\(account): balance \(balanceMinor), expected \(expected[account]!)")
            #expect(balanceMinor >= 0 && (balance["available"]?.intValue ?? -1) >= 0, "\(account) below its limit")
            total += balanceMinor
            for entry in try statement(of: account, client: client) where entry.kind == "transfer" && entry.amount < 0 {
                seenIDs[entry.requestID, default: 0] += 1
            }
        }
        #expect(total == initialBalanceMinor * Int64(accounts.count), "money was created or destroyed")
        // Exactly once: each applied transfer debits once; refused ones never appear.
        #expect(Set(seenIDs.keys) == Set(appliedIDs.keys), "debits in statements differ from applied transfers")
        #expect(seenIDs.values.allSatisfy { $0 == 1 }, "a transfer was applied twice")
    }

    struct Line { let requestID: String; let kind: String; let amount: Int64 }

    func statement(of account: String, client: BankClient) throws -> [Line] {
        var lines: [Line] = []
        var before: Int64?
        while true {
            var request: JSONObject = ["op": "statement", "account": .string(account), "limit": 1000]
            if let before { request.updateValue(.int(before), forKey: "before_seq") }
            let reply = try client.call(.object(request))
            #expect(reply.isOK, "\(reply)")
            for entry in reply["entries"]?.arrayValue ?? [] {
                lines.append(Line(requestID: entry["request_id"]?.stringValue ?? "",
                                  kind: entry["kind"]?.stringValue ?? "", amount: entry["amount"]?.intValue ?? 0))
            }
            guard let next = reply["next_before_seq"]?.intValue else { return lines }
            before = next
        }
    }
}

