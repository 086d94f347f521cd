import BankProtocol
import Foundation
import Testing

/// The client protocol end to end, through a real gateway and ledgers, and durability across `kill -9`.
@Suite(.serialized) struct ProtocolTests {
    @Test func everyOperationAndErrorThroughTheGateway() throws {
        let harness = try ClusterHarness()
        try harness.startAll()
        let client = try harness.client()
        try harness.waitForLeader(client: client)

        func call(_ request: JSONValue) throws -> JSONValue { try client.call(request) }
        func expectError(_ request: JSONValue, _ code: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
            let reply = try call(request)
            #expect(reply["ok"]?.boolValue == false && reply.errorCode == code, "\(reply)", sourceLocation: sourceLocation)
            #expect(reply["message"]?.stringValue?.isEmpty == false, sourceLocation: sourceLocation)
            #expect(reply["retryable"]?.boolValue == false, sourceLocation: sourceLocation)
        }

        let opened = try call(["op": "open_account", "request_id": "o1", "account": "alice", "overdraft_limit": 1000])
        #expect(opened.isOK && opened["seq"]?.intValue != nil, "\(opened)")
        #expect(try call(["op": "open_account", "request_id": "o2", "account": "bob"]).isOK)
        #expect(try call(["op": "open_account", "request_id": "o3", "account": "eur", "currency": "EUR"]).isOK)
        try expectError(["op": "open_account", "request_id": "o4", "account": "alice"], "account_exists")

        let deposit = try call(["op": "deposit", "request_id": "d1", "account": "alice", "amount": 10_000])
        #expect(deposit["balance"]?.intValue == 10_000)
        let replay = try call(["op": "deposit", "request_id": "d1", "account": "alice", "amount": 10_000])
        #expect(replay["replayed"]?.boolValue == true && replay["seq"] == deposit["seq"], "\(replay)")
        try expectError(["op": "deposit", "request_id": "d1", "account": "alice", "amount": 1], "idempotency_conflict")

        let transfer = try call(["op": "transfer", "request_id": "t1", "from": "alice", "to": "bob", "amount": 2_500,
                                 "reference": "rent"])
        #expect(transfer.isOK && transfer["balance"]?.intValue == 7_500, "\(transfer)")
        try expectError(["op": "transfer", "request_id": "t2", "from": "alice", "to": "bob", "amount": 9_000],
                        "insufficient_funds")
        try expectError(["op": "transfer", "request_id": "t3", "from": "alice", "to": "eur", "amount": 1],
                        "currency_mismatch")
        try expectError(["op": "transfer", "request_id": "t4", "from": "alice", "to": "nobody", "amount": 1],
                        "unknown_account")
        #expect(try call(["op": "withdraw", "request_id": "w1", "account": "alice", "amount": 8_000])["balance"]?.intValue
                == -500) // Within the overdraft limit of 1000.

        let hold = try call(["op": "hold", "request_id": "h1", "account": "bob", "amount": 1_000, "hold_id": "card-1"])
        #expect(hold["available"]?.intValue == 1_500 && hold["balance"]?.intValue == 2_500, "\(hold)")
        try expectError(["op": "hold", "request_id": "h2", "account": "bob", "amount": 1, "hold_id": "card-1"],
                        "hold_exists")
        let capture = try call(["op": "capture", "request_id": "c1", "hold_id": "card-1", "amount": 400])
        #expect(capture["balance"]?.intValue == 2_100 && capture["available"]?.intValue == 2_100, "\(capture)")
        try expectError(["op": "release", "request_id": "r1", "hold_id": "card-1"], "hold_closed")
        try expectError(["op": "release", "request_id": "r2", "hold_id": "card-9"], "unknown_hold")

        #expect(try call(["op": "freeze", "request_id": "f1", "account": "bob"]).isOK)
        try expectError(["op": "withdraw", "request_id": "w2", "account": "bob", "amount": 1], "account_frozen")
        #expect(try call(["op": "deposit", "request_id": "d2", "account": "bob", "amount": 1]).isOK)
        #expect(try call(["op": "unfreeze", "request_id": "f2", "account": "bob"]).isOK)

        let balance = try call(["op": "balance", "account": "bob"])
        #expect(balance["balance"]?.intValue == 2_101 && balance["currency"]?.stringValue == "GBP"
                && balance["frozen"]?.boolValue == false && balance["held"]?.intValue == 0, "\(balance)")
        let statement = try call(["op": "statement", "account": "alice", "limit": 2])
        let entries = statement["entries"]?.arrayValue ?? []
        #expect(entries.count == 2 && entries[0]["kind"]?.stringValue == "withdrawal"
                && entries[1]["reference"]?.stringValue == "rent" && entries[1]["amount"]?.intValue == -2_500,
                "\(statement)")

        let batch = try call(["op": "batch", "atomic": true, "requests": [
            ["op": "transfer", "request_id": "b1", "from": "bob", "to": "alice", "amount": 100],
            ["op": "transfer", "request_id": "b2", "from": "bob", "to": "alice", "amount": 1_000_000],
        ]])
        #expect(batch["ok"]?.boolValue == false && batch.errorCode == "insufficient_funds"
                && batch["failed_index"]?.intValue == 1, "\(batch)")
        #expect(try call(["op": "balance", "account": "bob"])["balance"]?.intValue == 2_101, "atomic batch leaked")

        try expectError(["op": "transfer", "request_id": "x", "from": "alice", "to": "bob", "amount": 0], "bad_request")
        try expectError(["op": "teleport"], "unknown_op")
        for garbage in [[0xFF, 0xFE], Array("{".utf8), Array("[1,2]".utf8),
                        Array(String(repeating: "[", count: 10_000).utf8)] as [[UInt8]] {
            let reply = try JSONValue.parse(try client.callRaw(garbage))
            #expect(reply.errorCode == "bad_request", "\(reply)")
        }
        let oversized = try JSONValue.parse(try client.callRaw([UInt8](repeating: 0x20, count: (1 << 20) + 10)))
        #expect(oversized.errorCode == "too_large")
        let twoFrames = try JSONValue.parse(try client.callRaw(Array("{}".utf8), extraFrames: [Array("{}".utf8)]))
        #expect(twoFrames.errorCode == "bad_request")

        let status = try call(["op": "status"])
        #expect(status["nodes"]?.arrayValue?.count == 2 && status["epoch"]?.intValue ?? 0 >= 1, "\(status)")
        #expect(harness.isRunning(.gateway) && harness.isRunning(.primary) && harness.isRunning(.backup))
    }

    @Test func acknowledgedWritesSurviveKillNineOfTheServingLedger() throws {
        let harness = try ClusterHarness()
        try harness.startAll()
        let client = try harness.client()
        try harness.waitForLeader(client: client)
        #expect(try client.call(["op": "open_account", "request_id": "open", "account": "a"]).isOK)
        var acknowledged: [String: Int64] = [:]
        for index in 0..<200 {
            let reply = try client.call(["op": "deposit", "request_id": .string("dep-\(index)"), "account": "a",
                                         "amount": .int(Int64(index + 1))])
            if reply.isOK, let seq = reply["seq"]?.intValue { acknowledged["dep-\(index)"] = seq }
        }
        #expect(acknowledged.count == 200)
        let total: Int64 = 200 * 201 / 2
        try harness.waitForConvergence(client: client)

        for round in 0..<2 {
            let leader = ClusterHarness.Node(rawValue: try harness.waitForLeader(client: client))!
            let epoch = try harness.epoch(client: client)
            harness.kill9(leader)
            try harness.start(leader)
            try harness.waitForEpoch(after: epoch, client: client)
            try harness.waitForConvergence(client: client, seconds: 40)
            let balance = try client.call(["op": "balance", "account": "a"])
            #expect(balance["balance"]?.intValue == total, "round \(round): \(balance)")
            for (id, seq) in acknowledged.prefix(50) {
                let index = Int(id.dropFirst(4))!
                let replay = try client.call(["op": "deposit", "request_id": .string(id), "account": "a",
                                              "amount": .int(Int64(index + 1))])
                #expect(replay["replayed"]?.boolValue == true && replay["seq"]?.intValue == seq, "\(replay)")
            }
        }
        // Both ledgers down at once, then back: everything is still there.
        let epoch = try harness.epoch(client: client)
        harness.kill9(.primary)
        harness.kill9(.backup)
        try harness.start(.primary)
        try harness.start(.backup)
        try harness.waitForEpoch(after: epoch, client: client)
        try harness.waitForConvergence(client: client, seconds: 40)
        #expect(try client.call(["op": "balance", "account": "a"])["balance"]?.intValue == total)
    }
}
