import CoreMetrics
import Foundation
import Prometheus

/// One process's metrics: a Prometheus registry, and the swift-metrics factory that makes counters, gauges and
/// timers in it. Every metric is made with this factory explicitly (not through the global `MetricsSystem`), so
/// each server has its own registry — a test may run several in one process.
///
/// Names follow Prometheus's conventions: `bank_` first, the unit last (`_seconds`, `_bytes`), `_total` on
/// counters. Labels take only values from small fixed sets (operations, result codes, process names), never ids.
public final class MetricsRegistry: @unchecked Sendable {
    public let prometheus: PrometheusCollectorRegistry
    public let factory: PrometheusMetricsFactory
    /// Held while a batch of values is exported (`exporting`) and while a scrape renders: a scrape sees one export
    /// whole, never a leader's new positions beside its old role. (Per-request counters are outside it: they only
    /// grow.)
    private let snapshotLock = NSLock()

    /// Histogram buckets for every timer: request latencies (0.1 ms on loopback, several ms across machines, the
    /// 5 s deadline) and fsyncs (0.1 ms on a fast disk, seconds on a sick one).
    public static let durationBuckets: [Duration] = [
        .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2),
        .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
        .milliseconds(250), .milliseconds(500), .seconds(1), .milliseconds(2500), .seconds(5), .seconds(10),
    ]

    public init() {
        prometheus = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: prometheus)
        factory.defaultDurationHistogramBuckets = Self.durationBuckets
        self.factory = factory
    }

    public func counter(_ name: String, _ labels: [(String, String)] = []) -> CoreMetrics.Counter {
        CoreMetrics.Counter(label: name, dimensions: labels, factory: factory)
    }

    public func gauge(_ name: String, _ labels: [(String, String)] = []) -> CoreMetrics.Gauge {
        CoreMetrics.Gauge(label: name, dimensions: labels, factory: factory)
    }

    public func timer(_ name: String, _ labels: [(String, String)] = []) -> CoreMetrics.Timer {
        CoreMetrics.Timer(label: name, dimensions: labels, factory: factory)
    }

    /// The Prometheus text exposition of everything registered, between exports.
    public func exposition() -> [UInt8] { snapshotLock.withLock { prometheus.emitToBuffer() } }

    /// Runs `body`, which updates several values that belong together, with no scrape in between.
    public func exporting<T>(_ body: () throws -> T) rethrows -> T { try snapshotLock.withLock(body) }
}

/// A counter fed from a running total kept elsewhere (a pure core counts; the driver exports now and then):
/// each export adds what the total grew by. A total that went down (the core was rebuilt, counting from zero)
/// starts a new baseline; the exported counter never goes down.
public struct TotalCounter {
    public let counter: CoreMetrics.Counter
    private var exported: Int64 = 0

    public init(_ counter: CoreMetrics.Counter) { self.counter = counter }

    public mutating func export(_ total: Int64) {
        if total > exported { counter.increment(by: total - exported) }
        exported = total
    }
}
