import BankCore
import BankProtocol
import Cluster

/// A client of the simulated cluster: one request at a time, retried with the same bytes (hence the same
/// request id) on timeout or `unavailable`, as a careful real client would.
struct SimClient {
    let index: Int
    var outstanding: Outstanding?
    var counter = 0
    var openHolds: [String] = []

    init(index: Int) { self.index = index }

    struct Outstanding {
        var requestID: String?
        var body: [UInt8]
        var holdID: String?
        var sentAt: UInt64
        /// Set after an `unavailable` reply: try again at this time.
        var retryAt: UInt64?
    }
}

/// What clients were told: the outcomes every invariant is checked against.
struct ClientModel {
    var accounts: [String] = []
    /// Request id (with its client's scope) → the seq it was acknowledged at.
    var acknowledged: [AcknowledgedID: UInt64] = [:]
    var refusedCount = 0
}

/// A client's request id, as the ledger scopes it.
struct AcknowledgedID: Hashable, Comparable {
    var client: Int
    var requestID: String
    static func < (a: Self, b: Self) -> Bool { (a.client, a.requestID) < (b.client, b.requestID) }

    var scoped: RequestID { RequestID(requestID, scope: Simulator.clientKey(client))! }
}

extension Simulator {
    static let clientTimeoutNanos: UInt64 = 1_000_000_000

    /// The key client `index` connects with: none for client 0 (as on an insecure cluster), its own for the rest.
    static func clientKey(_ index: Int) -> ClientKey? {
        index == 0 ? nil : ClientKey(words: (0x5157_4B45_5900_0000, UInt64(index), 0, UInt64(index) &* 0x9E37_79B9))
    }

    func clientWake(_ index: Int) {
        if let outstanding = clients[index].outstanding {
            guard now >= (outstanding.retryAt ?? outstanding.sentAt + Self.clientTimeoutNanos) else { return }
            resend(index) // Timed out: maybe lost with a crashed gateway. Same bytes, same request id.
            return
        }
        guard clientsActive else { return }
        issue(index)
    }

    private func resend(_ index: Int) {
        clients[index].outstanding!.sentAt = now
        clients[index].outstanding!.retryAt = nil
        send(.request(clients[index].outstanding!.body), from: .client(index), to: .node(.gateway))
        schedule(Self.clientTimeoutNanos, .clientWake(index))
    }

    private func issue(_ index: Int) {
        var client = clients[index]
        client.counter += 1
        // Clients with keys use the same ids as each other ("r-1", "r-2", …): each client's are its own (scoped to
        // its key), so equal ids must never be taken for one request. The client without a key names its own.
        let requestID = Self.clientKey(index) == nil ? "c\(index)-\(client.counter)" : "r-\(client.counter)"
        let accounts = model.accounts
        func account() -> String { random.pick(accounts) }
        var request: JSONValue
        var holdID: String?
        if index == 0 && client.counter <= accounts.count * 2 {
            // Client 0 opens and funds the accounts first.
            let name = accounts[(client.counter - 1) % accounts.count]
            request = client.counter <= accounts.count
                ? ["op": "open_account", "request_id": .string(requestID), "account": .string(name),
                   "overdraft_limit": .int(Int64(random.below(3)) * 100)]
                : ["op": "deposit", "request_id": .string(requestID), "account": .string(name), "amount": 10_000]
        } else {
            switch random.below(10) {
            case 0:
                request = ["op": "balance", "account": .string(account())]
            case 1:
                request = ["op": "deposit", "request_id": .string(requestID), "account": .string(account()),
                           "amount": .int(Int64(random.between(1, 500)))]
            case 2:
                let id = "h\(index)-\(client.counter)"
                holdID = id
                request = ["op": "hold", "request_id": .string(requestID), "account": .string(account()),
                           "amount": .int(Int64(random.between(1, 400))), "hold_id": .string(id)]
            case 3 where !client.openHolds.isEmpty:
                let id = client.openHolds.removeFirst()
                request = random.chance(1, in: 2)
                    ? ["op": "release", "request_id": .string(requestID), "hold_id": .string(id)]
                    : ["op": "capture", "request_id": .string(requestID), "hold_id": .string(id),
                       "amount": .int(Int64(random.between(1, 50)))]
            default:
                var to = account()
                let from = account()
                while to == from { to = account() }
                let amount = random.chance(1, in: 20) ? 50_000 : Int64(random.between(1, 300))
                request = ["op": "transfer", "request_id": .string(requestID), "from": .string(from),
                           "to": .string(to), "amount": .int(amount)]
            }
        }
        let isRead = request["op"]?.stringValue == "balance"
        client.outstanding = SimClient.Outstanding(requestID: isRead ? nil : requestID, body: request.serialized(),
                                                   holdID: holdID, sentAt: now)
        clients[index] = client
        send(.request(client.outstanding!.body), from: .client(index), to: .node(.gateway))
        schedule(Self.clientTimeoutNanos, .clientWake(index))
    }

    func clientReceive(_ index: Int, _ body: [UInt8]) {
        guard let outstanding = clients[index].outstanding else { return } // A late duplicate.
        guard let reply = try? JSONValue.parse(body) else {
            fail("client \(index) got an unparsable reply")
            return
        }
        // Skip replies to earlier copies of earlier requests (the client retried one while it was still queued):
        // a mutation's answer names its request id; the gateway's `unavailable` names none but means "retry".
        let echoed = reply["request_id"]?.stringValue
        let retryable = reply["retryable"]?.boolValue == true
        if outstanding.requestID != nil ? (echoed != outstanding.requestID && !retryable) : echoed != nil { return }
        if reply["ok"]?.boolValue == true {
            if let requestID = outstanding.requestID {
                guard let seq = reply["seq"]?.intValue else {
                    fail("acknowledged mutation \(requestID) without a seq: \(reply)")
                    return
                }
                let acknowledged = AcknowledgedID(client: index, requestID: requestID)
                if let earlier = model.acknowledged[acknowledged], earlier != UInt64(seq) {
                    fail("request \(requestID) of client \(index) acknowledged at seq \(earlier) and again at seq \(seq)")
                }
                model.acknowledged[acknowledged] = UInt64(seq)
                if let holdID = outstanding.holdID { clients[index].openHolds.append(holdID) }
            }
        } else if reply["retryable"]?.boolValue == true {
            if reply["error"]?.stringValue == "overloaded" { stats.overloadedReplies += 1 }
            clients[index].outstanding!.retryAt = now + 50_000_000
            schedule(50_000_000, .clientWake(index))
            return
        } else {
            model.refusedCount += 1
        }
        clients[index].outstanding = nil
        if clientsActive { schedule(random.between(100_000, 5_000_000), .clientWake(index)) }
    }
}
