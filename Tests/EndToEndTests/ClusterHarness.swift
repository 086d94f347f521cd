import BankProtocol
import Foundation
import Testing
import ZeroMQ
#if canImport(Glibc)
import Glibc
#endif

/// Runs a real cluster (three processes built by `swift build`) on free ports with its own data directory, and
/// cleans up after itself. Every wait polls a condition with a deadline; nothing sleeps to synchronise.
final class ClusterHarness {
    enum Node: String, CaseIterable { case gateway, primary, backup }

    let root: URL
    let portBase: Int
    let binDirectory: URL
    private var processes: [Node: Process] = [:]

    init(failureTimeoutMilliseconds: Int = 400) throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("bank-e2e-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        portBase = try Self.freePortBase()
        binDirectory = Self.findBinDirectory()
        let config = """
        {"host":"127.0.0.1","port_base":\(portBase),"data_root":"\(root.path)/data",
         "heartbeat_interval_ms":50,"failure_timeout_ms":\(failureTimeoutMilliseconds),"request_deadline_ms":8000}
        """
        try config.write(to: root.appendingPathComponent("cluster.json"), atomically: true, encoding: .utf8)
    }

    deinit {
        for process in processes.values where process.isRunning {
            kill(process.processIdentifier, SIGCONT)
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(at: root)
    }

    var gatewayEndpoint: String { "tcp://127.0.0.1:\(portBase)" }

    // MARK: - Processes

    func start(_ node: Node) throws {
        precondition(processes[node]?.isRunning != true, "\(node) already runs")
        let process = Process()
        var arguments = ["--config", root.appendingPathComponent("cluster.json").path]
        switch node {
        case .gateway:
            process.executableURL = binDirectory.appendingPathComponent("bank-gateway")
        case .primary, .backup:
            process.executableURL = binDirectory.appendingPathComponent("bank-ledger")
            arguments += ["--node", node.rawValue]
        }
        process.arguments = arguments
        let log = root.appendingPathComponent("\(node.rawValue).log")
        if !FileManager.default.fileExists(atPath: log.path) {
            FileManager.default.createFile(atPath: log.path, contents: nil)
        }
        let handle = try FileHandle(forWritingTo: log)
        handle.seekToEndOfFile()
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        processes[node] = process
    }

    func startAll() throws {
        for node in Node.allCases { try start(node) }
    }

    func signal(_ node: Node, _ signalNumber: Int32) {
        guard let process = processes[node], process.isRunning else { return }
        kill(process.processIdentifier, signalNumber)
        if signalNumber == SIGKILL {
            process.waitUntilExit()
        }
    }

    func kill9(_ node: Node) { signal(node, SIGKILL) }

    func isRunning(_ node: Node) -> Bool { processes[node]?.isRunning == true }

    func log(of node: Node) -> String {
        (try? String(contentsOf: root.appendingPathComponent("\(node.rawValue).log"), encoding: .utf8)) ?? ""
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

    // MARK: - Set-up helpers

    private static func findBinDirectory() -> URL {
        // The test bundle lives in .build/<triple>/debug/; the executables sit beside it.
        var url = URL(fileURLWithPath: CommandLine.arguments.first ?? ".").deletingLastPathComponent()
        for _ in 0..<4 {
            if FileManager.default.isExecutableFile(atPath: url.appendingPathComponent("bank-ledger").path) { return url }
            url.deleteLastPathComponent()
        }
        let fallback = URL(fileURLWithPath: FileManager.default.currentDirectoryPath).appendingPathComponent(".build/debug")
        return fallback
    }

    /// Four consecutive free TCP ports on loopback.
    private static func freePortBase() throws -> Int {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<200 {
            let base = Int.random(in: 20_000..<60_000, using: &generator)
            if (0..<4).allSatisfy({ isFree(port: base + $0) }) { return base }
        }
        throw HarnessError.noFreePorts
    }

    private static func isFree(port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
    }
}

enum HarnessError: Error, CustomStringConvertible {
    case timedOut(String, logs: String)
    case noFreePorts
    case noReply(String)

    var description: String {
        switch self {
        case let .timedOut(what, logs): return "timed out waiting for \(what)\n\(logs)"
        case .noFreePorts: return "no free ports"
        case let .noReply(what): return "no reply: \(what)"
        }
    }
}
