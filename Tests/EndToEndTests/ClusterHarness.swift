import BankProtocol
import Foundation
import LocalCluster
import Membership
import Testing
import ZeroMQ
#if canImport(Glibc)
import Glibc
#endif

/// Runs a real cluster (three processes built by `swift build`) on free ports with its own data directory, and
/// cleans up after itself. Every wait polls a condition with a deadline; nothing sleeps to synchronise.
final class ClusterHarness {
    typealias Node = LocalCluster.Node

    let root: URL
    let portBase: Int
    private let processes: LocalCluster

    /// - Parameter checkpointIntervalRecords: small values make the ledgers write checkpoints (and commit floors)
    ///   within a test's few hundred records.
    /// How a test's ledgers keep their history.
    enum Archive {
        /// As a cluster file without archive keys: the history archive on, with its default windows.
        case asShipped
        /// Off (`"archive_receipt_window": null`): everything stays in memory.
        case off
        /// On, with receipts beyond this many and statement lines beyond 16, in chunks of 64, leaving memory for
        /// the history store, and a tiny id filter so that lookups in the store happen all the time.
        case window(Int)

        var clusterFileKeys: String {
            switch self {
            case .asShipped: ""
            case .off: ",\"archive_receipt_window\":null"
            case let .window(receipts):
                ",\"archive_receipt_window\":\(receipts),\"archive_interval_ms\":100,\"id_filter_bytes\":64,"
                    + "\"archive_line_window\":16,\"statement_chunk_lines\":64,\"archive_copy_held_receipts\":16"
            }
        }
    }

    /// - Parameter bed: run each process in its own network namespace of this test bed (nil: all on loopback).
    /// - Parameter insecure: `"insecure": true` (no CURVE); otherwise, as shipped, every link uses CURVE with a key
    ///   set made here: one per process, one client per role (`client(_:)`).
    init(failureTimeoutMilliseconds: Int = 400, checkpointIntervalRecords: Int = 200_000,
         archive: Archive = .asShipped, requestDeadlineMilliseconds: Int = 8000, bed: NetnsBed? = nil,
         insecure: Bool = false, extraConfig: String = "") throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("bank-e2e-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        self.bed = bed
        self.insecure = insecure
        portBase = bed == nil ? try LocalCluster.freePortBase() : 5555
        let keysPath = root.path + "/data/keys"
        var processKeys: [String: CurveKeyPair] = [:], clientPairs: [ClientRole: CurveKeyPair] = [:]
        if !insecure {
            for name in ["gateway", "primary", "backup"] {
                let pair = try CurveKeyPair.generate()
                try KeyFile.write(pair, name: name, directory: keysPath, comment: "test")
                processKeys[name] = pair
            }
            for role in ClientRole.allCases {
                let pair = try CurveKeyPair.generate()
                try KeyFile.write(pair, name: "test-\(role.rawValue)", directory: "\(keysPath)/clients/\(role.rawValue)",
                                  comment: "test")
                clientPairs[role] = pair
            }
        }
        self.processKeys = processKeys
        self.clientPairs = clientPairs
        let config = """
        {"host":"127.0.0.1","port_base":\(portBase),"data_root":"\(root.path)/data",\(bed.map { "\"processes\":\($0.processesJSON)," } ?? "")
         "insecure":\(insecure),\(extraConfig)
         "heartbeat_interval_ms":50,"failure_timeout_ms":\(failureTimeoutMilliseconds),
         "request_deadline_ms":\(requestDeadlineMilliseconds),
         "checkpoint_interval_records":\(checkpointIntervalRecords),
         "commit_floor_interval_ms":20\(archive.clusterFileKeys)}
        """
        let configURL = root.appendingPathComponent("cluster.json")
        try config.write(to: configURL, atomically: true, encoding: .utf8)
        processes = LocalCluster(configPath: configURL.path, binDirectory: Self.findBinDirectory(), logDirectory: root)
        processes.launcher = bed?.launcher
    }

    deinit {
        processes.killAll()
        try? FileManager.default.removeItem(at: root)
    }

    let bed: NetnsBed?
    let insecure: Bool
    /// The processes' key pairs by name, and a client key pair per role (empty when `insecure`).
    let processKeys: [String: CurveKeyPair]
    let clientPairs: [ClientRole: CurveKeyPair]

    /// The cluster's key directory (`<data_root>/keys`, the default).
    var keysDirectory: String { root.path + "/data/keys" }

    /// A client's keys for `role` (nil when `insecure`).
    func clientKeys(_ role: ClientRole = .app) -> ClientKeys? {
        clientPairs[role].map { ClientKeys(pair: $0, gatewayKey: processKeys["gateway"]!.publicKey) }
    }

    /// A client of the gateway with the key of `role` (no key when `insecure`).
    func client(_ role: ClientRole = .app) throws -> BankClient {
        try BankClient(endpoint: gatewayEndpoint, keys: clientKeys(role))
    }

    /// A transfer load whose clients use the `app` key.
    func transferLoad(accountCount: Int = 8, prefix: String = "acct") -> TransferLoad {
        TransferLoad(endpoint: gatewayEndpoint, keys: clientKeys(.app), accountCount: accountCount, prefix: prefix)
    }

    var gatewayEndpoint: String { bed?.gatewayEndpoint ?? "tcp://127.0.0.1:\(portBase)" }

    func dataDirectory(of node: Node) -> String { root.path + "/data/" + node.rawValue }

    // MARK: - Processes

    func start(_ node: Node) throws { try processes.start(node) }
    func startAll() throws { try processes.startAll() }
    func signal(_ node: Node, _ signalNumber: Int32) { processes.signal(node, signalNumber) }
    func kill9(_ node: Node) { processes.kill9(node) }
    func isRunning(_ node: Node) -> Bool { processes.isRunning(node) }
    func pid(of node: Node) -> Int32? { processes.pids[node.rawValue] }
    func stopAll() { processes.killAll() }

    func log(of node: Node) -> String {
        (try? String(contentsOf: processes.logURL(node), encoding: .utf8)) ?? ""
    }

    // MARK: - Waiting

    /// Polls `condition` every 20 ms until it holds or `seconds` pass.
    func waitUntil(_ description: String, seconds: Double = 20, _ condition: () throws -> Bool) throws {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if try condition() { return }
            usleep(20_000)
        }
        throw HarnessError.timedOut(description, logs: Node.allCases.map { "--- \($0)\n\(log(of: $0).suffix(3000))" }
            .joined(separator: "\n"))
    }

    func status(client: BankClient) throws -> JSONValue? {
        try? client.call(["op": .string("status")], timeoutMilliseconds: 1000)
    }

    /// Waits for a confirmed leader and returns its name.
    @discardableResult
    func waitForLeader(client: BankClient, seconds: Double = 30) throws -> String {
        var leader = ""
        try waitUntil("a leader", seconds: seconds) {
            guard let status = try status(client: client), case let .string(name)? = status["leader"] else {
                return false
            }
            leader = name
            return true
        }
        return leader
    }

    func epoch(client: BankClient) throws -> Int64 {
        try status(client: client)?["epoch"]?.intValue ?? 0
    }

    /// Waits until the gateway has moved past `epoch`: the fault was noticed and acted on.
    func waitForEpoch(after epoch: Int64, client: BankClient, seconds: Double = 20) throws {
        try waitUntil("an epoch after \(epoch)", seconds: seconds) { try self.epoch(client: client) > epoch }
    }

    /// Waits until both ledgers are up, the follower is recorded in sync, and both journals end at the same
    /// seq with the same hash.
    func waitForConvergence(client: BankClient, seconds: Double = 30) throws {
        try waitUntil("both journals in sync with equal hashes", seconds: seconds) {
            guard let status = try status(client: client), case .string? = status["leader"],
                  case let .array(nodes)? = status["nodes"], nodes.count == 2 else { return false }
            let roles = nodes.compactMap { $0["role"]?.stringValue }
            guard Set(roles) == ["leader", "follower"] else { return false }
            // Fresh reports only: right after a kill the gateway still shows the dead node's last report.
            let ages = nodes.compactMap { $0["heartbeat_age_ms"]?.intValue }
            guard ages.count == 2, ages.allSatisfy({ $0 <= 120 }) else { return false }
            let seqs = nodes.compactMap { $0["last_seq"]?.intValue }
            let hashes = nodes.compactMap { $0["last_hash"]?.stringValue }
            return seqs.count == 2 && seqs[0] == seqs[1] && hashes.count == 2 && hashes[0] == hashes[1]
        }
    }

    // MARK: - A fault under load

    /// Starts the cluster, waits for two in-sync ledgers, runs `fault` while transfers flow from `clients` clients,
    /// then checks the books: every acknowledged transfer applied exactly once, no refused one applied, money
    /// conserved, no balance below its limit, and both journals converged to the same hash.
    /// - Parameter clientsSeeNoErrors: the fault must show clients nothing but a delay (no timeout, no
    ///   `unavailable`).
    func runUnderLoad(clientsSeeNoErrors: Bool = true, clients: Int = 3,
                      _ fault: (ClusterHarness, BankClient, TransferLoad) throws -> Void) throws {
        try startAll()
        let admin = try client(.operator)
        try waitForLeader(client: admin)
        let load = transferLoad()
        try load.setUp()
        try waitForConvergence(client: admin)
        let threads = load.start(clients: clients)
        var stopped = false
        // A fault or a wait that throws still stops the clients before the cluster goes away.
        defer { if !stopped { try? load.stop(threads) } }
        try waitForProgress(load, atLeast: 50)
        try fault(self, admin, load)
        let reached = load.acknowledgedCount
        try waitForProgress(load, atLeast: reached + 50)
        stopped = true
        try load.stop(threads)
        if clientsSeeNoErrors {
            #expect(load.unknownCount == 0, "clients saw \(load.unknownCount) timeouts or unavailable replies")
        }
        try waitForConvergence(client: admin, seconds: 40)
        try load.verifyBooks()
        try waitForConvergence(client: admin)
    }

    func waitForProgress(_ load: TransferLoad, atLeast count: Int, seconds: Double = 40) throws {
        try waitUntil("\(count) acknowledged transfers", seconds: seconds) { load.acknowledgedCount >= count }
    }

    // MARK: - Set-up helpers

    static func findBinDirectory() -> URL {
        // The test bundle lives in .build/<triple>/debug/; the executables sit beside it.
        var url = URL(fileURLWithPath: CommandLine.arguments.first ?? ".").deletingLastPathComponent()
        for _ in 0..<4 {
            if FileManager.default.isExecutableFile(atPath: url.appendingPathComponent("bank-ledger").path) { return url }
            url.deleteLastPathComponent()
        }
        let fallback = URL(fileURLWithPath: FileManager.default.currentDirectoryPath).appendingPathComponent(".build/debug")
        return fallback
    }
}

enum HarnessError: Error, CustomStringConvertible {
    case timedOut(String, logs: String)
    case noReply(String)

    var description: String {
        switch self {
        case let .timedOut(what, logs): return "timed out waiting for \(what)\n\(logs)"
        case let .noReply(what): return "no reply: \(what)"
        }
    }
}
