import Foundation
import LocalCluster
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Debian's Prometheus server scrapes every process of a running cluster (the deploy/ scrape configuration with
/// this cluster's targets) and answers queries over what it scraped. Skipped, saying why, where `prometheus` is
/// not installed (`make test` installs it when it can).
@Suite(.serialized) struct PrometheusTests {
    static let prometheus = ["/usr/bin/prometheus", "/usr/local/bin/prometheus"]
        .first { FileManager.default.isExecutableFile(atPath: $0) }
    static let promtool = ["/usr/bin/promtool", "/usr/local/bin/promtool"]
        .first { FileManager.default.isExecutableFile(atPath: $0) }

    /// The shipped configuration and alert rules are valid for Prometheus itself.
    @Test(.enabled(if: promtool != nil, "promtool is not installed (Debian's prometheus package; make test installs it as root)"))
    func theShippedConfigurationIsValid() throws {
        let root = MetricsTests.repositoryRoot
        let config = try LocalCluster.run([Self.promtool!, "check", "config", root + "/deploy/prometheus/prometheus.yml"])
        #expect(config.status == 0, "\(config.output)")
        let rules = try LocalCluster.run([Self.promtool!, "check", "rules", root + "/deploy/prometheus/alerts.yml"])
        #expect(rules.status == 0, "\(rules.output)")
    }

    @Test(.enabled(if: prometheus != nil, "prometheus is not installed (Debian's prometheus package; make test installs it as root)"))
    func prometheusScrapesEveryProcess() throws {
        let harness = try ClusterHarness()
        try harness.startAll()
        let admin = try harness.client()
        try harness.waitForLeader(client: admin)
        let webPort = try LocalCluster.freePortBase(count: 1)
        let directory = harness.root.appendingPathComponent("prometheus")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        // The shipped configuration, pointed at this cluster's three endpoints and scraping every second.
        var config = try String(contentsOfFile: MetricsTests.repositoryRoot + "/deploy/prometheus/prometheus.yml",
                                encoding: .utf8)
        for (host, node) in [("10.0.0.1", ClusterHarness.Node.gateway), ("10.0.0.2", .primary), ("10.0.0.3", .backup)] {
            config = config.replacingOccurrences(of: "\(host):9464", with: "127.0.0.1:\(MetricsTests.metricsPort(harness, node))")
        }
        config = config.replacingOccurrences(of: "scrape_interval: 5s", with: "scrape_interval: 1s")
        try config.write(to: directory.appendingPathComponent("prometheus.yml"), atomically: true, encoding: .utf8)
        try FileManager.default.copyItem(atPath: MetricsTests.repositoryRoot + "/deploy/prometheus/alerts.yml",
                                         toPath: directory.appendingPathComponent("alerts.yml").path)
        let server = Process()
        server.executableURL = URL(fileURLWithPath: Self.prometheus!)
        server.arguments = ["--config.file=\(directory.path)/prometheus.yml", "--storage.tsdb.path=\(directory.path)/data",
                            "--web.listen-address=127.0.0.1:\(webPort)", "--log.level=warn"]
        let log = FileHandle(forWritingAtPath: "/dev/null")
        server.standardOutput = log
        server.standardError = log
        try server.run()
        defer {
            server.terminate()
            server.waitUntilExit()
        }

        func query(_ expression: String) -> [(labels: [String: String], value: Double)]? {
            let encoded = expression.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
            guard let text = Scrape.get(port: webPort, path: "/api/v1/query?query=\(encoded)"),
                  let json = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any],
                  let data = json["data"] as? [String: Any], let results = data["result"] as? [[String: Any]] else {
                return nil
            }
            return results.compactMap { result in
                guard let metric = result["metric"] as? [String: String], let pair = result["value"] as? [Any],
                      pair.count == 2, let text = pair[1] as? String, let value = Double(text) else { return nil }
                return (metric, value)
            }
        }

        try harness.waitUntil("Prometheus scraping all three processes", seconds: 60) {
            let up = query(#"up{job="bank"}"#) ?? []
            return up.count == 3 && up.allSatisfy { $0.value == 1 }
        }
        for index in 0..<10 {
            _ = try admin.call(["op": "open_account", "request_id": .string("prom-\(index)"),
                                "account": .string("prom-\(index)")])
        }
        try harness.waitUntil("the ten openings in Prometheus", seconds: 30) {
            query(#"sum(bank_requests_total{op="open_account",code="ok"})"#)?.first?.value == 10
        }
        // One ledger leads, one follows, as each says of itself; the gateway names the same leader.
        try harness.waitUntil("roles in Prometheus", seconds: 30) {
            let leaders = query(#"bank_ledger_role{role="leader"} == 1"#) ?? []
            let followers = query(#"bank_ledger_role{role="follower"} == 1"#) ?? []
            let named = query("bank_gateway_leader == 1") ?? []
            return leaders.count == 1 && followers.count == 1 && named.count == 1
                && named[0].labels["ledger"] == leaders[0].labels["node"]
        }
        #expect(server.isRunning)
    }
}
