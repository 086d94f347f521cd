import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Synchronization
import Telemetry
import Testing

/// The metrics endpoint: what the registry holds is served at /metrics in Prometheus's text format; other paths
/// and methods are refused; running totals export as counters that never go down.
@Suite struct MetricsServerTests {
    static func fetch(_ port: Int, _ path: String, method: String = "GET") async throws -> (status: Int, body: String) {
        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)\(path)")!)
        request.httpMethod = method
        let (data, response) = try await URLSession.shared.data(for: request)
        return ((response as! HTTPURLResponse).statusCode, String(decoding: data, as: UTF8.self))
    }

    @Test func servesWhatTheRegistryHolds() async throws {
        let registry = MetricsRegistry()
        let server = try MetricsServer(host: "127.0.0.1", port: 0, registry: registry)
        defer { server.close() }
        registry.counter("bank_requests_total", [("op", "transfer"), ("code", "ok")]).increment(by: 3)
        registry.gauge("bank_ledger_commit_seq").record(42)
        registry.timer("bank_request_duration_seconds", [("op", "transfer")]).recordMilliseconds(3)
        let (status, body) = try await Self.fetch(server.port, "/metrics")
        #expect(status == 200)
        #expect(body.contains(#"bank_requests_total{op="transfer",code="ok"} 3"#))
        #expect(body.contains("bank_ledger_commit_seq 42"))
        // 3 ms falls in the 5 ms bucket and every one above it, not in the 2 ms one.
        #expect(body.contains(#"bank_request_duration_seconds_bucket{op="transfer",le="0.005"} 1"#))
        #expect(body.contains(#"bank_request_duration_seconds_bucket{op="transfer",le="0.002"} 0"#))
        #expect(body.contains(#"bank_request_duration_seconds_count{op="transfer"} 1"#))
        // Later values show on the next scrape.
        registry.gauge("bank_ledger_commit_seq").record(43)
        #expect(try await Self.fetch(server.port, "/metrics").body.contains("bank_ledger_commit_seq 43"))
    }

    @Test func refusesOtherPathsAndMethods() async throws {
        let server = try MetricsServer(host: "127.0.0.1", port: 0, registry: MetricsRegistry())
        defer { server.close() }
        #expect(try await Self.fetch(server.port, "/").status == 404)
        #expect(try await Self.fetch(server.port, "/metrics", method: "POST").status == 405)
        #expect(try await Self.fetch(server.port, "/metrics?x=1").status == 200)
    }

    @Test func aTakenPortIsAClearError() throws {
        let first = try MetricsServer(host: "127.0.0.1", port: 0, registry: MetricsRegistry())
        defer { first.close() }
        #expect(throws: MetricsServerError.self) {
            try MetricsServer(host: "127.0.0.1", port: first.port, registry: MetricsRegistry())
        }
    }

    @Test func totalsExportAsCountersThatNeverGoDown() async throws {
        let registry = MetricsRegistry()
        let server = try MetricsServer(host: "127.0.0.1", port: 0, registry: registry)
        defer { server.close() }
        var total = TotalCounter(registry.counter("bank_leader_changes_total"))
        total.export(2)
        total.export(5)
        total.export(1) // the core was rebuilt and counts from zero: a new baseline
        total.export(3)
        #expect(try await Self.fetch(server.port, "/metrics").body.contains("bank_leader_changes_total 7"))
    }

    /// Values exported together are scraped together: a scrape never shows half an export.
    @Test func aScrapeSeesOneExportWhole() async throws {
        let registry = MetricsRegistry()
        let server = try MetricsServer(host: "127.0.0.1", port: 0, registry: registry)
        defer { server.close() }
        let first = registry.gauge("bank_test_first"), second = registry.gauge("bank_test_second")
        let done = Atomic<Bool>(false)
        let writer = Thread {
            var value: Int64 = 0
            while !done.load(ordering: .relaxed) {
                value += 1
                registry.exporting {
                    first.record(value)
                    // A pause between the two, as a real export has (a dozen values): a scrape in it would tear.
                    for _ in 0..<2_000 { _ = done.load(ordering: .relaxed) }
                    second.record(value)
                }
            }
        }
        writer.start()
        defer { done.store(true, ordering: .relaxed) }
        for _ in 0..<50 {
            let body = try await Self.fetch(server.port, "/metrics").body
            let values = ["bank_test_first", "bank_test_second"].map { name in
                body.split(separator: "\n").first { $0.hasPrefix(name + " ") }.flatMap { Double($0.split(separator: " ")[1]) }
            }
            #expect(values[0] == values[1], "torn scrape: \(values)")
        }
    }

    @Test func residentMemoryIsRead() throws {
        let bytes = try #require(ProcessMemory.residentAnonymousBytes())
        #expect(bytes > 1 << 20)
    }
}
