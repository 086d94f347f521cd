import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The three processes of a cluster on this machine, run from built executables with one cluster file, each
/// logging to `<logDirectory>/<node>.log`: what the process-level tests and the benchmark start, kill and restart.
///
/// Not thread-safe: one owner drives it. Whatever still runs when it goes away is killed.
public final class LocalCluster {
    public enum Node: String, CaseIterable, Sendable {
        case gateway, primary, backup
    }

    public let configPath: String
    public let binDirectory: URL
    public let logDirectory: URL
    /// Told each node's pid when it starts and 0 once it is gone (the bench keeps them for its crash handler).
    public var onPidChange: ((Node, Int32) -> Void)?
    /// A command each node's program is run under, e.g. `ip netns exec <namespace>` (it must exec the program in
    /// its own process, so that the pid is the program's); nil: run directly.
    public var launcher: (@Sendable (Node) -> [String])?
    private var processes: [Node: Process] = [:]

    public init(configPath: String, binDirectory: URL, logDirectory: URL) {
        self.configPath = configPath
        self.binDirectory = binDirectory
        self.logDirectory = logDirectory
    }

    deinit { killAll() }

    public func logURL(_ node: Node) -> URL { logDirectory.appendingPathComponent("\(node.rawValue).log") }

    /// Starts `node`; its output is appended to its log.
    public func start(_ node: Node) throws {
        precondition(processes[node]?.isRunning != true, "\(node) already runs")
        let process = Process()
        var arguments = ["--config", configPath]
        switch node {
        case .gateway:
            process.executableURL = binDirectory.appendingPathComponent("bank-gateway")
        case .primary, .backup:
            process.executableURL = binDirectory.appendingPathComponent("bank-ledger")
            arguments += ["--node", node.rawValue]
        }
        if let prefix = launcher?(node), let command = prefix.first {
            arguments = Array(prefix.dropFirst()) + [process.executableURL!.path] + arguments
            process.executableURL = URL(fileURLWithPath: command)
        }
        process.arguments = arguments
        let log = logURL(node)
        if !FileManager.default.fileExists(atPath: log.path) {
            FileManager.default.createFile(atPath: log.path, contents: nil)
        }
        let handle = try FileHandle(forWritingTo: log)
        handle.seekToEndOfFile()
        process.standardOutput = handle
        process.standardError = handle
        process.standardInput = FileHandle.nullDevice
        try process.run()
        processes[node] = process
        onPidChange?(node, process.processIdentifier)
    }

    /// The ledgers first, then the gateway (which elects once it hears both).
    public func startAll() throws {
        for node in [Node.primary, .backup, .gateway] { try start(node) }
    }

    public func isRunning(_ node: Node) -> Bool { processes[node]?.isRunning == true }

    /// Pids of the running processes, by node name.
    public var pids: [String: Int32] {
        var out: [String: Int32] = [:]
        for (node, process) in processes where process.isRunning { out[node.rawValue] = process.processIdentifier }
        return out
    }

    /// Sends `number` to `node`; after SIGKILL, waits until it is gone.
    public func signal(_ node: Node, _ number: Int32) {
        guard let process = processes[node], process.isRunning else { return }
        kill(process.processIdentifier, number)
        if number == SIGKILL {
            process.waitUntilExit()
            onPidChange?(node, 0)
        }
    }

    public func kill9(_ node: Node) { signal(node, SIGKILL) }

    /// SIGTERM to everyone (SIGCONT first, in case one is paused), SIGKILL to whoever is still there after
    /// `graceSeconds`.
    public func stopAll(graceSeconds: Double = 3) {
        for process in processes.values where process.isRunning {
            kill(process.processIdentifier, SIGCONT)
            kill(process.processIdentifier, SIGTERM)
        }
        let deadline = Date().addingTimeInterval(graceSeconds)
        while processes.values.contains(where: \.isRunning) && Date() < deadline { usleep(20_000) }
        killAll()
    }

    /// SIGKILL to everyone still running, waiting for each.
    public func killAll() {
        for (node, process) in processes where process.isRunning {
            kill(process.processIdentifier, SIGCONT)
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            onPidChange?(node, 0)
        }
    }

    /// The first of `count` consecutive free TCP ports on loopback, from a random base below the kernel's
    /// ephemeral port range: while a ledger is down its peers keep reconnecting to its port, and an outgoing
    /// connection given that very port as its local port would keep the restarted ledger from binding it
    /// ("Address already in use").
    /// The default count is a local cluster's (`Topology.localPortCount`: endpoints and metrics).
    public static func freePortBase(count: Int = 7) throws -> Int {
        var generator = SystemRandomNumberGenerator()
        var range = 20_000..<60_000
        if let text = try? String(contentsOfFile: "/proc/sys/net/ipv4/ip_local_port_range", encoding: .utf8),
           let low = text.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }).first.flatMap({ Int($0) }),
           low - count > 10_000 {
            range = 10_000..<(low - count)
        }
        for _ in 0..<200 {
            let base = Int.random(in: range, using: &generator)
            if (0..<count).allSatisfy({ isFree(port: base + $0) }) { return base }
        }
        throw NoFreePorts(count: count)
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

extension LocalCluster {
    /// Runs a command to its end and returns its exit status and what it printed (stdout and stderr). The output
    /// goes through a file, not a pipe: what the command leaves running may inherit a pipe, and reading it to its
    /// end would wait for them.
    public static func run(_ command: [String], environment: [String: String] = [:]) throws
        -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: command[0])
        process.arguments = Array(command.dropFirst())
        var env = ProcessInfo.processInfo.environment
        for (key, value) in environment { env[key] = value }
        process.environment = env
        let outputURL = FileManager.default.temporaryDirectory.appendingPathComponent("run-\(UUID().uuidString).out")
        FileManager.default.createFile(atPath: outputURL.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: outputURL) }
        let output = try FileHandle(forWritingTo: outputURL)
        process.standardOutput = output
        process.standardError = output
        try process.run()
        process.waitUntilExit()
        try output.close()
        return (process.terminationStatus, (try? String(contentsOf: outputURL, encoding: .utf8)) ?? "")
    }
}

public struct NoFreePorts: Error, CustomStringConvertible {
    public var count: Int
    public var description: String { "no \(count) consecutive free ports found on 127.0.0.1" }
}
