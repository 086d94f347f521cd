import BankProtocol
import Foundation
import SeededRandom
import Testing
import ZeroMQ

/// A flood far beyond the cluster's capacity, from several pipelining connections at once: it must cost no leader,
/// and every request must get a definite answer — applied, refused, or `overloaded` (never forwarded, nothing
/// applied) — never `unavailable` or silence. The books must then match exactly what the clients were told.
@Suite(.serialized) struct OverloadTests {
    static let connections = 4
    /// The flood lasts this long: many failure timeouts (400 ms in the harness) of sustained overload.
    static let floodSeconds = 5.0
    /// Each connection sends this many at once, again and again: far above the per-connection bound (256).
    static let burst = 300
    static let accounts = (0..<16).map { "flood\($0)" }
    static let initialBalanceMinor: Int64 = 1_000_000

    struct Transfer {
        let requestID: String
        let from: String
        let to: String
        let amount: Int64
    }

    @Test func aFloodCostsNoLeaderAndEveryRequestGetsADefiniteAnswer() throws {
        let harness = try ClusterHarness()
        try harness.startAll()
        let admin = try harness.client()
        try harness.waitForLeader(client: admin)
        for account in Self.accounts {
            let opened = try admin.call(["op": "open_account", "request_id": .string("open-\(account)"),
                                         "account": .string(account)])
            #expect(opened.isOK, "\(opened)")
            let funded = try admin.call(["op": "deposit", "request_id": .string("fund-\(account)"),
                                         "account": .string(account), "amount": .int(Self.initialBalanceMinor)])
            #expect(funded.isOK, "\(funded)")
        }
        try harness.waitForConvergence(client: admin)
        let before = try #require(try harness.status(client: admin))
        let epochBefore = before["epoch"]?.intValue

        let (transfers, outcomes) = try flood(endpoint: harness.gatewayEndpoint, harness: harness, admin: admin)

        let codes = outcomes.values.reduce(into: [String: Int]()) { $0[$1.errorCode ?? "ok", default: 0] += 1 }
        print("flood: \(codes.sorted { $0.key < $1.key })")
        let total = transfers.count
        #expect(outcomes.count == total, "\(total - outcomes.count) requests got no answer")
        #expect(Set(codes.keys).isSubset(of: ["ok", "insufficient_funds", "overloaded"]), "\(codes)")
        #expect(codes["overloaded", default: 0] > 0, "the flood never reached the admission bound: \(codes)")
        #expect(codes["ok", default: 0] > 0, "nothing was applied: \(codes)")
        for (requestID, reply) in outcomes where reply.errorCode == "overloaded" {
            #expect(reply["retryable"]?.boolValue == true && (reply["retry_after_ms"]?.intValue ?? -1) >= 0,
                    "\(requestID): \(reply)")
        }

        let after = try #require(try harness.status(client: admin))
        #expect(after["epoch"]?.intValue == epochBefore, "the flood changed the epoch: \(after)")
        #expect(after["leader_changes"]?.intValue == before["leader_changes"]?.intValue, "\(after)")

        // The books: exactly the transfers answered ok, none of the overloaded or refused ones.
        var expected = Dictionary(uniqueKeysWithValues: Self.accounts.map { ($0, Self.initialBalanceMinor) })
        for transfer in transfers where outcomes[transfer.requestID]?.isOK == true {
            expected[transfer.from]! -= transfer.amount
            expected[transfer.to]! += transfer.amount
        }
        var sum: Int64 = 0
        for account in Self.accounts {
            let balance = try admin.call(["op": "balance", "account": .string(account)])
            let minor = balance["balance"]?.intValue
            #expect(minor == expected[account], "\(account): \(balance), expected \(expected[account]!)")
            sum += minor ?? 0
        }
        #expect(sum == Self.initialBalanceMinor * Int64(Self.accounts.count), "money was created or destroyed")
        // An overloaded request was never applied: sent again, it is applied now, not replayed.
        if let retried = transfers.first(where: { outcomes[$0.requestID]?.errorCode == "overloaded" }) {
            let reply = try admin.call(["op": "transfer", "request_id": .string(retried.requestID),
                                        "from": .string(retried.from), "to": .string(retried.to),
                                        "amount": .int(retried.amount)])
            #expect(reply.isOK && reply["replayed"] == nil, "\(retried.requestID) again: \(reply)")
        }
        try harness.waitForConvergence(client: admin)
    }

    /// Sends bursts of transfers on every connection as fast as the sockets take them for `floodSeconds`, and
    /// collects the replies (matched by request id) until each has one or a generous deadline passes. Checks the
    /// gateway's status during the flood: it must keep answering, with a leader.
    private func flood(endpoint: String, harness: ClusterHarness,
                       admin: BankClient) throws -> ([Transfer], [String: JSONValue]) {
        let context = try ZMQContext()
        var sockets: [ZMQSocket] = []
        defer { for socket in sockets { socket.close() } }
        let poller = ZMQPoller()
        for _ in 0..<Self.connections {
            let socket = try context.makeSocket(.dealer)
            // Replies must never be dropped for want of room on our side.
            try socket.setReceiveHighWaterMark(0)
            try socket.setSendHighWaterMark(0)
            if let keys = harness.clientKeys(.app) { try socket.setCurveClient(keys.pair, serverKey: keys.gatewayKey) }
            try socket.connect(endpoint)
            poller.add(socket)
            sockets.append(socket)
        }
        var outcomes: [String: JSONValue] = [:]
        func receiveAll() throws {
            for socket in sockets {
                while let frames = try socket.receive(dontWait: true) {
                    guard let body = frames.last, let reply = try? JSONValue.parse(body),
                          let id = reply["request_id"]?.stringValue else {
                        Issue.record("a reply without a request id: \(frames.last.map { String(decoding: $0, as: UTF8.self) } ?? "")")
                        continue
                    }
                    #expect(outcomes[id] == nil, "two answers to \(id)")
                    outcomes[id] = reply
                }
            }
        }
        var generator = SplitMix64(seed: 12)
        var transfers: [Transfer] = []
        var lastStatusCheck = Date()
        func checkStatus() throws {
            guard Date().timeIntervalSince(lastStatusCheck) > 0.5 else { return }
            lastStatusCheck = Date()
            let status = try harness.status(client: admin)
            #expect(status?["leader"]?.stringValue != nil, "no leader during the flood: \(String(describing: status))")
        }
        // Bursts on every connection in turn, so all of them flood at once.
        let floodEnd = Date().addingTimeInterval(Self.floodSeconds)
        while Date() < floodEnd {
            for (connection, socket) in sockets.enumerated() {
                for _ in 0..<Self.burst {
                    let from = generator.pick(Self.accounts)
                    var to = from
                    while to == from { to = generator.pick(Self.accounts) }
                    // Now and then more than any account holds: refusals are definite answers too.
                    let amount: Int64 = generator.chance(1) ? 10 * Self.initialBalanceMinor
                        : Int64(generator.between(1, 100))
                    let t = Transfer(requestID: "f\(connection)-\(transfers.count)", from: from, to: to, amount: amount)
                    transfers.append(t)
                    let body: JSONValue = ["op": "transfer", "request_id": .string(t.requestID),
                                           "from": .string(t.from), "to": .string(t.to), "amount": .int(t.amount)]
                    guard try socket.send([[], body.serialized()], dontWait: false) else {
                        throw HarnessError.noReply("send would block")
                    }
                }
            }
            try receiveAll()
            try checkStatus()
        }
        let deadline = Date().addingTimeInterval(60)
        while outcomes.count < transfers.count && Date() < deadline {
            _ = try poller.poll(timeoutMilliseconds: 50)
            try receiveAll()
            try checkStatus()
        }
        return (transfers, outcomes)
    }
}
