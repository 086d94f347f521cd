import Cluster
import Foundation
import Storage
import Topology

/// The cluster configuration file (`deploy/local/cluster.json`): the processes, data directories and timeouts.
///
/// With a `processes` list (`Topology`; `deploy/three-hosts/cluster.json`), every process is named with its
/// endpoints. Without one, the file describes the local cluster: ports derived from one base, so two clusters can
/// run side by side: the gateway's client endpoint is `port_base`, its inbox `port_base + 1`, the primary's inbox
/// `+ 2` and the backup's `+ 3`; the processes serve metrics at `+ 4`, `+ 5` and `+ 6`.
public struct ClusterFile: Codable, Hashable, Sendable {
    public var host: String = "127.0.0.1"
    public var portBase: Int = 5555
    /// The named processes; nil: the local cluster on `host` from `portBase`.
    public var processes: [ProcessSpec]?
    /// Data, logs and pid files live below this directory (relative to the working directory).
    public var dataRoot: String = "var"
    public var heartbeatIntervalMilliseconds: UInt64 = 50
    public var failureTimeoutMilliseconds: UInt64 = 250
    public var requestDeadlineMilliseconds: UInt64 = 5000
    /// Admission at the gateway (see `GatewaySettings`): requests held in total and per client connection.
    public var maxInflightRequests = GatewaySettings().maxInflightRequests
    public var maxInflightRequestsPerClient = GatewaySettings().maxInflightRequestsPerClient
    public var overloadRetryAfterMilliseconds = GatewaySettings().overloadRetryAfterMilliseconds
    /// During a failover (and 1 s after), admission bounds are this many times wider: its backlog is held, not refused.
    public var failoverAdmissionFactor = GatewaySettings().failoverAdmissionFactor
    /// The forward window: requests unanswered at the leader.
    public var maxForwardedRequests = GatewaySettings().maxForwardedRequests
    /// A ledger writes a checkpoint each time this many more records, or mutations, have been written.
    public var checkpointIntervalRecords: UInt64 = LedgerSettings().checkpointIntervalRecords
    public var checkpointIntervalMutations: UInt64 = LedgerSettings().checkpointIntervalMutations
    /// A ledger stores its commit floor at most this often.
    public var commitFloorIntervalMilliseconds: UInt64 = LedgerSettings().commitFloorIntervalNanos / 1_000_000
    /// A journal segment holding at least this many bytes is finished and the next one started.
    public var journalSegmentBytes: UInt64 = FileJournal.defaultSegmentByteLimit
    /// What becomes of journal segments below the floor (the oldest kept checkpoint): kept on disk, or deleted.
    public var journalRetention: FileJournal.Retention = .keep
    /// Receipts kept in memory once the history store holds them (`archive_receipt_window`, 65,536 when absent);
    /// `null`: no archive — every receipt, closed hold and statement line stays in memory, and a ledger's memory
    /// grows with its history.
    public var archiveReceiptWindow: Int? = ClusterFile.defaultArchiveReceiptWindow
    public static let defaultArchiveReceiptWindow = 65_536
    /// The id filter's size in bytes (a power of two).
    public var idFilterBytes = LedgerSettings().idFilterByteCount
    /// Statement lines kept in memory once archived, and how many leave memory together (a power of two).
    public var archiveLineWindow = LedgerSettings().archiveLineWindow
    /// Receipts beyond the window a follower copying the leader's store holds before it archives its own.
    public var archiveCopyHeldReceipts = LedgerSettings().copyHeldReceipts
    public var statementChunkLines = 1 << LedgerSettings().statementChunkShift
    /// Committed history goes to the store at most this often (or once a batch is full).
    public var archiveIntervalMilliseconds: UInt64 = LedgerSettings().archiveIntervalNanos / 1_000_000

    /// Links between processes on a real network (`PeerLinkSettings`).
    public var peerHeartbeatIntervalMilliseconds = PeerLinkSettings().heartbeatIntervalMilliseconds
    public var peerHeartbeatTimeoutMilliseconds = PeerLinkSettings().heartbeatTimeoutMilliseconds
    public var peerQueueBytes = PeerLinkSettings().queueBytesPerPeer
    public var peerMessageMaxAgeMilliseconds = PeerLinkSettings().maxMessageAgeMilliseconds
    /// Whether the processes serve Prometheus metrics (where `metrics_bind` says; in the local layout, from the
    /// port base). `false` turns them off everywhere.
    public var metrics = true
    /// Where the processes' and clients' CURVE keys are (`keys_dir`; nil: `<data_root>/keys`): see `KeyDirectory`.
    public var keysDirectory: String?
    /// `true`: no CURVE anywhere — every link in plaintext, anyone who reaches a port may speak. Only for a test
    /// bed; each process says so loudly in its log. Absent or `false`: CURVE on every socket.
    public var insecure = false

    enum CodingKeys: String, CodingKey {
        case host
        case portBase = "port_base"
        case processes
        case dataRoot = "data_root"
        case heartbeatIntervalMilliseconds = "heartbeat_interval_ms"
        case failureTimeoutMilliseconds = "failure_timeout_ms"
        case requestDeadlineMilliseconds = "request_deadline_ms"
        case maxInflightRequests = "max_inflight_requests"
        case maxInflightRequestsPerClient = "max_inflight_requests_per_client"
        case overloadRetryAfterMilliseconds = "overload_retry_after_ms"
        case failoverAdmissionFactor = "failover_admission_factor"
        case maxForwardedRequests = "max_forwarded_requests"
        case checkpointIntervalRecords = "checkpoint_interval_records"
        case checkpointIntervalMutations = "checkpoint_interval_mutations"
        case commitFloorIntervalMilliseconds = "commit_floor_interval_ms"
        case journalSegmentBytes = "journal_segment_bytes"
        case journalRetention = "journal_retention"
        case archiveReceiptWindow = "archive_receipt_window"
        case idFilterBytes = "id_filter_bytes"
        case archiveLineWindow = "archive_line_window"
        case archiveCopyHeldReceipts = "archive_copy_held_receipts"
        case statementChunkLines = "statement_chunk_lines"
        case archiveIntervalMilliseconds = "archive_interval_ms"
        case peerHeartbeatIntervalMilliseconds = "peer_heartbeat_interval_ms"
        case peerHeartbeatTimeoutMilliseconds = "peer_heartbeat_timeout_ms"
        case peerQueueBytes = "peer_queue_bytes"
        case peerMessageMaxAgeMilliseconds = "peer_message_max_age_ms"
        case metrics
        case keysDirectory = "keys_dir"
        case insecure
    }

    public init() {}

    /// Every key, `archive_receipt_window` as `null` when the archive is off: left out, it would mean the default
    /// (on) to whoever reads the file (the bench writes its cluster's file from this).
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(host, forKey: .host)
        try c.encode(portBase, forKey: .portBase)
        try c.encodeIfPresent(processes, forKey: .processes)
        try c.encode(dataRoot, forKey: .dataRoot)
        try c.encode(heartbeatIntervalMilliseconds, forKey: .heartbeatIntervalMilliseconds)
        try c.encode(failureTimeoutMilliseconds, forKey: .failureTimeoutMilliseconds)
        try c.encode(requestDeadlineMilliseconds, forKey: .requestDeadlineMilliseconds)
        try c.encode(maxInflightRequests, forKey: .maxInflightRequests)
        try c.encode(maxInflightRequestsPerClient, forKey: .maxInflightRequestsPerClient)
        try c.encode(overloadRetryAfterMilliseconds, forKey: .overloadRetryAfterMilliseconds)
        try c.encode(failoverAdmissionFactor, forKey: .failoverAdmissionFactor)
        try c.encode(maxForwardedRequests, forKey: .maxForwardedRequests)
        try c.encode(checkpointIntervalRecords, forKey: .checkpointIntervalRecords)
        try c.encode(checkpointIntervalMutations, forKey: .checkpointIntervalMutations)
        try c.encode(commitFloorIntervalMilliseconds, forKey: .commitFloorIntervalMilliseconds)
        try c.encode(journalSegmentBytes, forKey: .journalSegmentBytes)
        try c.encode(journalRetention.rawValue, forKey: .journalRetention)
        if let archiveReceiptWindow {
            try c.encode(archiveReceiptWindow, forKey: .archiveReceiptWindow)
        } else {
            try c.encodeNil(forKey: .archiveReceiptWindow)
        }
        try c.encode(idFilterBytes, forKey: .idFilterBytes)
        try c.encode(archiveLineWindow, forKey: .archiveLineWindow)
        try c.encode(archiveCopyHeldReceipts, forKey: .archiveCopyHeldReceipts)
        try c.encode(statementChunkLines, forKey: .statementChunkLines)
        try c.encode(archiveIntervalMilliseconds, forKey: .archiveIntervalMilliseconds)
        try c.encode(peerHeartbeatIntervalMilliseconds, forKey: .peerHeartbeatIntervalMilliseconds)
        try c.encode(peerHeartbeatTimeoutMilliseconds, forKey: .peerHeartbeatTimeoutMilliseconds)
        try c.encode(peerQueueBytes, forKey: .peerQueueBytes)
        try c.encode(peerMessageMaxAgeMilliseconds, forKey: .peerMessageMaxAgeMilliseconds)
        try c.encode(metrics, forKey: .metrics)
        try c.encodeIfPresent(keysDirectory, forKey: .keysDirectory)
        try c.encode(insecure, forKey: .insecure)
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let defaults = ClusterFile()
        host = try c.decodeIfPresent(String.self, forKey: .host) ?? defaults.host
        portBase = try c.decodeIfPresent(Int.self, forKey: .portBase) ?? defaults.portBase
        dataRoot = try c.decodeIfPresent(String.self, forKey: .dataRoot) ?? defaults.dataRoot
        if let listed = try c.decodeIfPresent([ProcessSpec].self, forKey: .processes) {
            do {
                _ = try Topology(processes: listed)
            } catch {
                throw DecodingError.dataCorruptedError(forKey: .processes, in: c, debugDescription: "\(error)")
            }
            processes = listed
        }
        heartbeatIntervalMilliseconds = try c.decodeIfPresent(UInt64.self, forKey: .heartbeatIntervalMilliseconds)
            ?? defaults.heartbeatIntervalMilliseconds
        failureTimeoutMilliseconds = try c.decodeIfPresent(UInt64.self, forKey: .failureTimeoutMilliseconds)
            ?? defaults.failureTimeoutMilliseconds
        requestDeadlineMilliseconds = try c.decodeIfPresent(UInt64.self, forKey: .requestDeadlineMilliseconds)
            ?? defaults.requestDeadlineMilliseconds
        maxInflightRequests = try c.decodeIfPresent(Int.self, forKey: .maxInflightRequests) ?? defaults.maxInflightRequests
        maxInflightRequestsPerClient = try c.decodeIfPresent(Int.self, forKey: .maxInflightRequestsPerClient)
            ?? defaults.maxInflightRequestsPerClient
        overloadRetryAfterMilliseconds = try c.decodeIfPresent(Int.self, forKey: .overloadRetryAfterMilliseconds)
            ?? defaults.overloadRetryAfterMilliseconds
        maxForwardedRequests = try c.decodeIfPresent(Int.self, forKey: .maxForwardedRequests)
            ?? defaults.maxForwardedRequests
        failoverAdmissionFactor = try c.decodeIfPresent(Int.self, forKey: .failoverAdmissionFactor)
            ?? defaults.failoverAdmissionFactor
        for (name, value) in [("max_inflight_requests", maxInflightRequests),
                              ("max_inflight_requests_per_client", maxInflightRequestsPerClient),
                              ("max_forwarded_requests", maxForwardedRequests),
                              ("failover_admission_factor", failoverAdmissionFactor)] where value < 1 {
            throw DecodingError.dataCorruptedError(forKey: .maxInflightRequests, in: c,
                                                   debugDescription: "\(name) must be at least 1 (got \(value))")
        }
        checkpointIntervalRecords = try c.decodeIfPresent(UInt64.self, forKey: .checkpointIntervalRecords)
            ?? defaults.checkpointIntervalRecords
        checkpointIntervalMutations = try c.decodeIfPresent(UInt64.self, forKey: .checkpointIntervalMutations)
            ?? defaults.checkpointIntervalMutations
        commitFloorIntervalMilliseconds = try c.decodeIfPresent(UInt64.self, forKey: .commitFloorIntervalMilliseconds)
            ?? defaults.commitFloorIntervalMilliseconds
        journalSegmentBytes = try c.decodeIfPresent(UInt64.self, forKey: .journalSegmentBytes)
            ?? defaults.journalSegmentBytes
        if let retention = try c.decodeIfPresent(String.self, forKey: .journalRetention) {
            guard let parsed = FileJournal.Retention(rawValue: retention) else {
                throw DecodingError.dataCorruptedError(forKey: .journalRetention, in: c,
                    debugDescription: "journal_retention must be \"keep\" or \"delete\", not \"\(retention)\"")
            }
            journalRetention = parsed
        }
        if !c.contains(.archiveReceiptWindow) {
            archiveReceiptWindow = defaults.archiveReceiptWindow
        } else if try c.decodeNil(forKey: .archiveReceiptWindow) {
            archiveReceiptWindow = nil
        } else {
            archiveReceiptWindow = try c.decode(Int.self, forKey: .archiveReceiptWindow)
        }
        if let window = archiveReceiptWindow, window < 0 {
            throw DecodingError.dataCorruptedError(forKey: .archiveReceiptWindow, in: c,
                debugDescription: "archive_receipt_window must be at least 0 (got \(window))")
        }
        idFilterBytes = try c.decodeIfPresent(Int.self, forKey: .idFilterBytes) ?? defaults.idFilterBytes
        guard idFilterBytes >= 64, idFilterBytes & (idFilterBytes - 1) == 0 else {
            throw DecodingError.dataCorruptedError(forKey: .idFilterBytes, in: c,
                debugDescription: "id_filter_bytes must be a power of two of at least 64 (got \(idFilterBytes))")
        }
        archiveLineWindow = try c.decodeIfPresent(Int.self, forKey: .archiveLineWindow) ?? defaults.archiveLineWindow
        archiveCopyHeldReceipts = try c.decodeIfPresent(Int.self, forKey: .archiveCopyHeldReceipts)
            ?? defaults.archiveCopyHeldReceipts
        guard archiveCopyHeldReceipts >= 0 else {
            throw DecodingError.dataCorruptedError(forKey: .archiveCopyHeldReceipts, in: c,
                                                   debugDescription: "archive_copy_held_receipts must be at least 0")
        }
        statementChunkLines = try c.decodeIfPresent(Int.self, forKey: .statementChunkLines) ?? defaults.statementChunkLines
        guard archiveLineWindow >= 0, statementChunkLines >= 1, statementChunkLines & (statementChunkLines - 1) == 0,
              statementChunkLines <= 1 << 20 else {
            throw DecodingError.dataCorruptedError(forKey: .statementChunkLines, in: c, debugDescription:
                "archive_line_window must be at least 0 and statement_chunk_lines a power of two up to 1048576")
        }
        archiveIntervalMilliseconds = try c.decodeIfPresent(UInt64.self, forKey: .archiveIntervalMilliseconds)
            ?? defaults.archiveIntervalMilliseconds
        guard archiveIntervalMilliseconds <= 60_000 else {
            throw DecodingError.dataCorruptedError(forKey: .archiveIntervalMilliseconds, in: c, debugDescription:
                "archive_interval_ms must be at most 60000 (got \(archiveIntervalMilliseconds))")
        }
        peerHeartbeatIntervalMilliseconds = try c.decodeIfPresent(UInt64.self, forKey: .peerHeartbeatIntervalMilliseconds)
            ?? defaults.peerHeartbeatIntervalMilliseconds
        peerHeartbeatTimeoutMilliseconds = try c.decodeIfPresent(UInt64.self, forKey: .peerHeartbeatTimeoutMilliseconds)
            ?? defaults.peerHeartbeatTimeoutMilliseconds
        guard (10...60_000).contains(peerHeartbeatIntervalMilliseconds),
              (max(100, peerHeartbeatIntervalMilliseconds)...600_000).contains(peerHeartbeatTimeoutMilliseconds) else {
            // ZeroMQ sends the timeout to the far end in tenths of a second: below 100 ms it would be 0 (off).
            throw DecodingError.dataCorruptedError(forKey: .peerHeartbeatTimeoutMilliseconds, in: c, debugDescription:
                "peer_heartbeat_interval_ms must be 10 to 60000, and peer_heartbeat_timeout_ms at least the interval "
                    + "and 100, at most 600000")
        }
        peerQueueBytes = try c.decodeIfPresent(Int.self, forKey: .peerQueueBytes) ?? defaults.peerQueueBytes
        guard peerQueueBytes >= 1 << 20 else {
            throw DecodingError.dataCorruptedError(forKey: .peerQueueBytes, in: c, debugDescription:
                "peer_queue_bytes must be at least 1048576 (got \(peerQueueBytes))")
        }
        peerMessageMaxAgeMilliseconds = try c.decodeIfPresent(UInt64.self, forKey: .peerMessageMaxAgeMilliseconds)
            ?? defaults.peerMessageMaxAgeMilliseconds
        guard peerMessageMaxAgeMilliseconds == 0 || peerMessageMaxAgeMilliseconds >= 500 else {
            throw DecodingError.dataCorruptedError(forKey: .peerMessageMaxAgeMilliseconds, in: c, debugDescription:
                "peer_message_max_age_ms must be 0 (off) or at least 500 (got \(peerMessageMaxAgeMilliseconds))")
        }
        metrics = try c.decodeIfPresent(Bool.self, forKey: .metrics) ?? defaults.metrics
        keysDirectory = try c.decodeIfPresent(String.self, forKey: .keysDirectory)
        if keysDirectory?.isEmpty == true {
            throw DecodingError.dataCorruptedError(forKey: .keysDirectory, in: c, debugDescription:
                "keys_dir must name a directory (leave it out for <data_root>/keys)")
        }
        insecure = try c.decodeIfPresent(Bool.self, forKey: .insecure) ?? defaults.insecure
        guard checkpointIntervalRecords >= 1, checkpointIntervalMutations >= 1 else {
            throw DecodingError.dataCorruptedError(forKey: .checkpointIntervalRecords, in: c,
                debugDescription: "checkpoint_interval_records and checkpoint_interval_mutations must be at least 1")
        }
    }

    public static func load(path: String) throws -> ClusterFile {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        return try JSONDecoder().decode(ClusterFile.self, from: data)
    }

    /// The processes, from `processes` or the local layout (a list is validated when the file is read; one set in
    /// code must be valid).
    public var topology: Topology {
        guard var processes else { return .local(host: host, portBase: portBase, metrics: metrics) }
        if !metrics {
            for index in processes.indices { processes[index].metricsBind = nil }
        }
        do {
            return try Topology(processes: processes)
        } catch {
            preconditionFailure("\(error)")
        }
    }

    /// Where clients reach the (first) gateway.
    public var clientEndpoint: String { topology.process(topology.gateways[0])!.clientEndpoint! }

    /// Where the others reach `node`'s inbox.
    public func inboxEndpoint(of node: NodeID) -> String { spec(node).peerEndpoint }

    /// Where `node` binds its inbox.
    public func inboxBind(of node: NodeID) -> String { spec(node).peerBind }

    /// Where `node` serves metrics; nil: it does not.
    public func metricsBind(of node: NodeID) -> HTTPBindAddress? { spec(node).metricsBind }

    /// Where the CURVE keys are.
    public var keysPath: String { keysDirectory ?? "\(dataRoot)/keys" }

    public func dataDirectory(of node: NodeID) -> String { spec(node).dataDirectory ?? "\(dataRoot)/\(node.name)" }

    private func spec(_ node: NodeID) -> ProcessSpec {
        guard let spec = topology.process(node) else { preconditionFailure("\(node) is not a process of this cluster") }
        return spec
    }

    public var gatewaySettings: GatewaySettings {
        var settings = GatewaySettings()
        settings.heartbeatIntervalNanos = .milliseconds(heartbeatIntervalMilliseconds)
        settings.failureTimeoutNanos = .milliseconds(failureTimeoutMilliseconds)
        settings.requestDeadlineNanos = .milliseconds(requestDeadlineMilliseconds)
        settings.maxInflightRequests = maxInflightRequests
        settings.maxInflightRequestsPerClient = maxInflightRequestsPerClient
        settings.overloadRetryAfterMilliseconds = max(0, overloadRetryAfterMilliseconds)
        settings.maxForwardedRequests = maxForwardedRequests
        settings.failoverAdmissionFactor = failoverAdmissionFactor
        return settings
    }

    public var peerLinkSettings: PeerLinkSettings {
        var settings = PeerLinkSettings()
        settings.heartbeatIntervalMilliseconds = peerHeartbeatIntervalMilliseconds
        settings.heartbeatTimeoutMilliseconds = peerHeartbeatTimeoutMilliseconds
        settings.queueBytesPerPeer = peerQueueBytes
        settings.maxMessageAgeMilliseconds = peerMessageMaxAgeMilliseconds
        return settings
    }

    public var ledgerSettings: LedgerSettings {
        var settings = LedgerSettings()
        settings.peerStallTimeoutNanos = .milliseconds(failureTimeoutMilliseconds)
        settings.checkpointIntervalRecords = checkpointIntervalRecords
        settings.checkpointIntervalMutations = checkpointIntervalMutations
        settings.commitFloorIntervalNanos = .milliseconds(commitFloorIntervalMilliseconds)
        settings.archiveReceiptWindow = archiveReceiptWindow
        settings.idFilterByteCount = idFilterBytes
        settings.archiveLineWindow = archiveLineWindow
        settings.copyHeldReceipts = archiveCopyHeldReceipts
        settings.statementChunkShift = statementChunkLines.trailingZeroBitCount
        settings.archiveIntervalNanos = .milliseconds(archiveIntervalMilliseconds)
        return settings
    }
}
