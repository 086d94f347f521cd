import BankProtocol
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import LocalCluster
import Synchronization
import Testing

/// One scrape of a process's /metrics: each series (`name{labels}`) and its value.
struct Scrape {
    let series: [String: Double]

    /// The metric names present (histograms by their base name, as dashboards use them).
    var names: Set<String> {
        Set(series.keys.map { key in
            let name = String(key.prefix { $0 != "{" })
            for suffix in ["_bucket", "_sum", "_count"] where name.hasSuffix(suffix) && key.contains("_seconds") {
                return String(name.dropLast(suffix.count))
            }
            return name
        })
    }

    subscript(_ key: String) -> Double? { series[key] }

    /// Parses the text exposition format: `# …` lines are comments; a sample is `series value`.
    init(text: String) {
        var series: [String: Double] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else {
                continue
            }
            series[String(line[..<space])] = value
        }
        self.series = series
    }

    /// GET http://host:port/path, synchronously (URLSession), or nil if nothing answered.
    static func get(host: String = "127.0.0.1", port: Int, path: String = "/metrics") -> String? {
        let result = Mutex<String?>(nil)
        let done = DispatchSemaphore(value: 0)
        var request = URLRequest(url: URL(string: "http://\(host):\(port)\(path)")!)
        request.timeoutInterval = 5
        URLSession.shared.dataTask(with: request) { data, response, _ in
            if let data, (response as? HTTPURLResponse)?.statusCode == 200 {
                result.withLock { $0 = String(decoding: data, as: UTF8.self) }
            }
            done.signal()
        }.resume()
        done.wait()
        return result.withLock { $0 }
    }

    static func of(port: Int) -> Scrape? { get(port: port).map(Scrape.init(text:)) }
}

/// Every process serves its metrics, and they tell the truth: the gateway counts each answered request by
/// operation and code, with its latency; the ledgers' roles, positions, fsyncs and peers match what the cluster
/// did; a failover shows as a new leader, a new epoch and one leader change.
@Suite(.serialized) struct MetricsTests {
    static func metricsPort(_ harness: ClusterHarness, _ node: ClusterHarness.Node) -> Int {
        harness.portBase + ["gateway": 4, "primary": 5, "backup": 6][node.rawValue]!
    }

    /// Polls until a scrape of `node` satisfies `condition`; returns that scrape.
    @discardableResult
    static func scrape(_ harness: ClusterHarness, _ node: ClusterHarness.Node, until description: String,
                       _ condition: (Scrape) -> Bool) throws -> Scrape {
        var last: Scrape?
        try harness.waitUntil("\(node)'s metrics: \(description)", seconds: 20) {
            last = Scrape.of(port: metricsPort(harness, node))
            return last.map(condition) ?? false
        }
        return last!
    }

    @Test func everyProcessServesMetricsThatMatchWhatHappened() throws {
        let harness = try ClusterHarness()
        try harness.startAll()
        let admin = try harness.client()
        let leader = try FailoverTests.leader(admin, harness)
        let follower = FailoverTests.follower(of: leader)
        try harness.waitForConvergence(client: admin)
        // Known traffic: 2 accounts opened, 1 deposit, 20 transfers of which 5 are refused, 1 malformed request.
        for account in ["m-a", "m-b"] {
            #expect(try admin.call(["op": "open_account", "request_id": .string("open-\(account)"),
                                    "account": .string(account)])["ok"] == .bool(true))
        }
        #expect(try admin.call(["op": "deposit", "request_id": "fund", "account": "m-a",
                                "amount": .int(15_000)])["ok"] == .bool(true))
        for index in 0..<20 {
            let amountMinor: Int64 = index % 4 == 3 ? 100_000 : 100
            _ = try admin.call(["op": "transfer", "request_id": .string("mt-\(index)"), "from": "m-a", "to": "m-b",
                                "amount": .int(amountMinor)])
        }
        _ = try admin.callRaw(Array("not json".utf8))

        // Gauges are copied into the registry twice a second: poll until the export after the traffic.
        let gateway = try Self.scrape(harness, .gateway, until: "the transfers counted, the leader shown") {
            $0[#"bank_requests_total{op="transfer",code="ok"}"#] == 15
                && $0[#"bank_gateway_leader{ledger="\#(leader.rawValue)"}"#] == 1
                && ($0[#"bank_peer_sent_bytes_total{peer="\#(leader.rawValue)"}"#] ?? 0) > 0
        }
        #expect(gateway[#"bank_requests_total{op="transfer",code="insufficient_funds"}"#] == 5)
        #expect(gateway[#"bank_requests_total{op="open_account",code="ok"}"#] == 2)
        #expect(gateway[#"bank_requests_total{op="deposit",code="ok"}"#] == 1)
        #expect(gateway[#"bank_requests_total{op="invalid",code="bad_request"}"#] == 1)
        #expect(gateway[#"bank_request_duration_seconds_count{op="transfer"}"#] == 20)
        #expect(gateway[#"bank_request_duration_seconds_bucket{op="transfer",le="+Inf"}"#] == 20)
        #expect((gateway[#"bank_request_duration_seconds_sum{op="transfer"}"#] ?? 0) > 0)
        #expect(gateway[#"bank_gateway_leader{ledger="\#(follower.rawValue)"}"#] == 0)
        #expect(gateway["bank_gateway_leader_changes_total"] == 0)
        #expect(gateway["bank_gateway_pending_requests"] == 0)
        #expect((gateway[#"bank_peer_heartbeat_age_seconds{peer="\#(leader.rawValue)"}"#] ?? 99) < 1)
        #expect((gateway[#"bank_peer_sent_bytes_total{peer="\#(leader.rawValue)"}"#] ?? 0) > 0)
        #expect((gateway["bank_process_resident_anonymous_bytes"] ?? 0) > 0)

        // At least 18 records (2 opens, 1 deposit, 15 transfers; a refusal writes none): the leader's commit has
        // reached its journal's end, and the follower holds as much.
        let leaderScrape = try Self.scrape(harness, leader, until: "commit at the journal's end") {
            ($0["bank_ledger_last_seq"] ?? 0) >= 18 && $0["bank_ledger_commit_seq"] == $0["bank_ledger_last_seq"]
        }
        // A scrape sees one export whole (MetricsRegistry.exporting): the positions that satisfied the wait come
        // with the role and epoch of the same moment, never the first export's.
        let lastSeq = leaderScrape["bank_ledger_last_seq"]!
        #expect(leaderScrape[#"bank_ledger_role{role="leader"}"#] == 1)
        #expect(leaderScrape["bank_ledger_durable_seq"] == lastSeq)
        #expect(leaderScrape["bank_ledger_replication_lag_records"] == 0)
        #expect(leaderScrape[#"bank_ledger_pending_replies{gateway="gateway"}"#] == 0)
        #expect((leaderScrape["bank_ledger_fsync_duration_seconds_count"] ?? 0) >= 1)
        #expect(leaderScrape["bank_ledger_storage_failed"] == 0)
        #expect(leaderScrape["bank_ledger_history_complete"] == 1)
        let followerScrape = try Self.scrape(harness, follower, until: "the follower at the leader's seq") {
            $0["bank_ledger_last_seq"] == lastSeq && $0["bank_ledger_commit_seq"] == lastSeq
        }
        #expect(followerScrape[#"bank_ledger_role{role="follower"}"#] == 1)
        #expect(followerScrape["bank_ledger_epoch"] == leaderScrape["bank_ledger_epoch"])
        #expect(gateway["bank_gateway_epoch"] == leaderScrape["bank_ledger_epoch"])
        #expect((followerScrape[#"bank_peer_heartbeat_age_seconds{peer="gateway"}"#] ?? 99) < 1)

        // The dashboard and the alerts use only metrics that some process serves.
        let served = gateway.names.union(leaderScrape.names).union(followerScrape.names)
        for file in ["deploy/grafana/bank-dashboard.json", "deploy/prometheus/alerts.yml"] {
            let text = try String(contentsOfFile: Self.repositoryRoot + "/" + file, encoding: .utf8)
            let used = Set(text.matches(of: /bank_[a-z_]+/).map { String($0.output) })
                .map { name in ["_bucket", "_sum", "_count"].reduce(name) { $0.hasSuffix($1) ? String($0.dropLast($1.count)) : $0 } }
            #expect(!used.isEmpty)
            for name in used where !["bank_cluster"].contains(name) {
                #expect(served.contains(name), "\(file) uses \(name), which no process serves")
            }
        }

        // A failover: the follower leads under a new epoch, one leader change.
        harness.kill9(leader)
        let after = try Self.scrape(harness, .gateway, until: "the follower leads") {
            $0[#"bank_gateway_leader{ledger="\#(follower.rawValue)"}"#] == 1
        }
        #expect(after["bank_gateway_leader_changes_total"] == 1)
        #expect((after["bank_gateway_epoch"] ?? 0) > (gateway["bank_gateway_epoch"] ?? 0))
        try Self.scrape(harness, follower, until: "it leads") { $0[#"bank_ledger_role{role="leader"}"#] == 1 }
    }

    /// The metrics endpoint stays up under a partial failure and a bad scrape: a wrong path is 404, the
    /// metrics are served again at once.
    @Test func aWrongPathIsRefusedAndMetricsStillServe() throws {
        let harness = try ClusterHarness()
        try harness.startAll()
        let admin = try harness.client()
        try harness.waitForLeader(client: admin)
        let port = Self.metricsPort(harness, .primary)
        try harness.waitUntil("primary's metrics") { Scrape.get(port: port) != nil }
        #expect(Scrape.get(port: port, path: "/") == nil)
        #expect(Scrape.get(port: port, path: "/metrics")?.contains("bank_ledger_role") == true)
    }

    static let repositoryRoot: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()
}
