import BankProtocol
import Cluster
import CoreMetrics
import Logging
import Telemetry
import Topology

/// What every process exports, and its HTTP endpoint (`metrics_bind`): traffic per peer, heartbeat ages, memory.
/// The loop calls `exportIfDue` every iteration; values are copied into the registry twice a second, so a scrape
/// sees them at most 0.5 s old and the loop pays nothing per message for them.
final class ProcessMetrics {
    let registry = MetricsRegistry()
    private let server: MetricsServer
    private var lastExportNanos: UInt64 = 0
    static let exportIntervalNanos: UInt64 = .milliseconds(500)

    private struct PeerSeries {
        var sentBytes: TotalCounter
        var receivedBytes: TotalCounter
        var droppedBundles: TotalCounter
        var heartbeatAge: Gauge
    }
    private var peers: [NodeID: PeerSeries] = [:]
    private var staleBundles: TotalCounter
    private let residentBytes: Gauge

    /// nil when the cluster file gives `me` no metrics endpoint.
    static func start(for me: NodeID, file: ClusterFile, logger: Logger) throws -> ProcessMetrics? {
        guard let address = file.metricsBind(of: me) else { return nil }
        let metrics = try ProcessMetrics(address: address, peers: file.topology.peers(of: me))
        logger.info("\(me): metrics at http://\(HTTPBindAddress(host: address.host, port: metrics.server.port))/metrics")
        return metrics
    }

    private init(address: HTTPBindAddress, peers: [NodeID]) throws {
        server = try MetricsServer(host: address.host, port: address.port, registry: registry)
        for peer in peers {
            let labels = [("peer", peer.name)]
            self.peers[peer] = PeerSeries(
                sentBytes: TotalCounter(registry.counter("bank_peer_sent_bytes_total", labels)),
                receivedBytes: TotalCounter(registry.counter("bank_peer_received_bytes_total", labels)),
                droppedBundles: TotalCounter(registry.counter("bank_peer_dropped_bundles_total", labels)),
                heartbeatAge: registry.gauge("bank_peer_heartbeat_age_seconds", labels))
        }
        staleBundles = TotalCounter(registry.counter("bank_peer_stale_bundles_total"))
        residentBytes = registry.gauge("bank_process_resident_anonymous_bytes")
    }

    /// Whether the interval has passed since the last export (and, if so, starts a new one).
    func isDue(now: Instant) -> Bool {
        guard now.nanos(since: lastExportNanos) >= Self.exportIntervalNanos else { return false }
        lastExportNanos = now.monotonicNanos
        return true
    }

    /// The links' counts. A peer never heard from has no age (the series stays absent, not a made-up number).
    func export(_ links: PeerLinks, now: Instant) {
        for (peer, traffic) in links.traffic {
            guard var series = peers[peer] else { continue }
            series.sentBytes.export(traffic.sentBytes)
            series.receivedBytes.export(traffic.receivedBytes)
            series.droppedBundles.export(traffic.droppedBundles)
            if let heard = traffic.lastHeardNanos {
                series.heartbeatAge.record(Double(now.nanos(since: heard)) / 1e9)
            }
            peers[peer] = series
        }
        staleBundles.export(Int64(links.staleBundles))
        if let bytes = ProcessMemory.residentAnonymousBytes() { residentBytes.record(bytes) }
    }

    func close() { server.close() }
}

/// The gateway's metrics: every answered request by operation and outcome, with its time at the gateway; who
/// leads under which epoch; the requests it holds.
final class GatewayMetrics {
    let process: ProcessMetrics
    private var registry: MetricsRegistry { process.registry }
    private struct RequestKey: Hashable {
        var kind: RequestKind
        var outcome: ReplyOutcome
    }
    private var requests: [RequestKey: Counter] = [:]
    private var durations: [RequestKind: Timer] = [:]
    private let epoch: Gauge
    private var leader: [NodeID: Gauge] = [:]
    private var leaderChanges: TotalCounter
    private let pendingRequests: Gauge
    private let forwardedRequests: Gauge
    private var queuedBytes: [NodeID: Gauge] = [:]
    private var droppedReplies: TotalCounter

    init(process: ProcessMetrics, ledgers: [NodeID]) {
        self.process = process
        let registry = process.registry
        epoch = registry.gauge("bank_gateway_epoch")
        for ledger in ledgers {
            leader[ledger] = registry.gauge("bank_gateway_leader", [("ledger", ledger.name)])
            queuedBytes[ledger] = registry.gauge("bank_peer_queued_bytes", [("peer", ledger.name)])
        }
        leaderChanges = TotalCounter(registry.counter("bank_gateway_leader_changes_total"))
        pendingRequests = registry.gauge("bank_gateway_pending_requests")
        forwardedRequests = registry.gauge("bank_gateway_forwarded_requests")
        droppedReplies = TotalCounter(registry.counter("bank_gateway_dropped_replies_total"))
    }

    /// Per answered request: a counter and a histogram observation (a dictionary lookup, two short updates).
    func record(_ answered: [AnsweredRequest]) {
        for request in answered {
            let key = RequestKey(kind: request.kind, outcome: request.outcome)
            if let counter = requests[key] {
                counter.increment()
            } else {
                let counter = registry.counter("bank_requests_total", [("op", request.kind.rawValue),
                                                                      ("code", request.outcome.label)])
                requests[key] = counter
                counter.increment()
            }
            if let timer = durations[request.kind] {
                timer.recordNanoseconds(Int64(request.latencyNanos))
            } else {
                let timer = registry.timer("bank_request_duration_seconds", [("op", request.kind.rawValue)])
                durations[request.kind] = timer
                timer.recordNanoseconds(Int64(request.latencyNanos))
            }
        }
    }

    func export(_ core: GatewayCore, links: PeerLinks, droppedReplies total: Int64, now: Instant) {
        registry.exporting { exportValues(core, links: links, droppedReplies: total, now: now) }
    }

    private func exportValues(_ core: GatewayCore, links: PeerLinks, droppedReplies total: Int64, now: Instant) {
        epoch.record(Int64(core.config.epoch))
        let serving = core.servingLeader
        for (ledger, gauge) in leader { gauge.record(ledger == serving ? 1 : 0) }
        // Bytes sent to the leader and not yet answered: requests in the forward window.
        for (ledger, gauge) in queuedBytes { gauge.record(ledger == core.config.leader ? core.forwardedBytes : 0) }
        leaderChanges.export(Int64(core.leaderChanges))
        pendingRequests.record(core.pendingRequestCount)
        forwardedRequests.record(core.forwardedCount)
        droppedReplies.export(total)
        process.export(links, now: now)
    }
}

/// A ledger's metrics: its role and epoch, its journal's positions, how far its peer is behind, replies waiting
/// for a commit per gateway, and how long its fsyncs take (`fsyncDuration`, recorded by the sync thread).
final class LedgerMetrics {
    let process: ProcessMetrics
    let fsyncDuration: Timer
    private var role: [String: Gauge] = [:]
    private let epoch, lastSeq, commitSeq, durableSeq, checkpointSeq, archivedSeq: Gauge
    private let lagRecords, lagBytes, historyComplete, storageFailed: Gauge
    private var pendingReplies: [NodeID: Gauge] = [:]
    private var queuedBytes: [NodeID: Gauge] = [:]

    init(process: ProcessMetrics, me: NodeID, peers: [NodeID]) {
        self.process = process
        let registry = process.registry
        fsyncDuration = registry.timer("bank_ledger_fsync_duration_seconds")
        for name in ["leader", "follower", "recovering"] {
            role[name] = registry.gauge("bank_ledger_role", [("role", name)])
        }
        epoch = registry.gauge("bank_ledger_epoch")
        lastSeq = registry.gauge("bank_ledger_last_seq")
        commitSeq = registry.gauge("bank_ledger_commit_seq")
        durableSeq = registry.gauge("bank_ledger_durable_seq")
        checkpointSeq = registry.gauge("bank_ledger_checkpoint_seq")
        archivedSeq = registry.gauge("bank_ledger_archived_seq")
        lagRecords = registry.gauge("bank_ledger_replication_lag_records")
        lagBytes = registry.gauge("bank_ledger_replication_lag_bytes")
        historyComplete = registry.gauge("bank_ledger_history_complete")
        storageFailed = registry.gauge("bank_ledger_storage_failed")
        for peer in peers {
            if peer.isGateway {
                pendingReplies[peer] = registry.gauge("bank_ledger_pending_replies", [("gateway", peer.name)])
            } else {
                queuedBytes[peer] = registry.gauge("bank_peer_queued_bytes", [("peer", peer.name)])
            }
        }
    }

    func export(_ node: LedgerNode, links: PeerLinks, now: Instant) {
        process.registry.exporting { exportValues(node, links: links, now: now) }
    }

    private func exportValues(_ node: LedgerNode, links: PeerLinks, now: Instant) {
        let roleName: String
        switch node.role {
        case .leader: roleName = "leader"
        case .follower: roleName = "follower"
        case .recovering: roleName = "recovering"
        }
        for (name, gauge) in role { gauge.record(name == roleName ? 1 : 0) }
        epoch.record(Int64(node.metadata.epoch))
        lastSeq.record(Int64(node.lastSeq))
        commitSeq.record(Int64(node.commitSeq))
        durableSeq.record(Int64(node.durableSeq))
        checkpointSeq.record(Int64(node.checkpointSeq))
        archivedSeq.record(Int64(node.archivedSeq))
        let lag = node.replicationLag
        lagRecords.record(Int64(lag?.records ?? 0))
        lagBytes.record(lag?.bytes ?? 0)
        // Bytes sent to the peer ledger and not yet acknowledged: the replication window in use.
        for gauge in queuedBytes.values { gauge.record(lag?.bytes ?? 0) }
        historyComplete.record(node.historyComplete ? 1 : 0)
        storageFailed.record(node.storageFailed ? 1 : 0)
        let waiting = node.pendingRepliesByGateway
        for (gateway, gauge) in pendingReplies { gauge.record(waiting[gateway] ?? 0) }
        process.export(links, now: now)
    }
}
