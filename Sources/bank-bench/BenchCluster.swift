import Foundation
import Runtime
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A fresh cluster of the three real processes on free ports, with its own data directory below `directory`
/// (`var/bench/` by default), like `Tests/EndToEndTests/ClusterHarness.swift`. Logs go to `directory/<node>.log`.
final class BenchCluster {
    enum Node: String, CaseIterable { case gateway, primary, backup }

    let directory: URL
    let binDirectory: URL
    let file: ClusterFile
    private var processes: [Node: Process] = [:]

    init(directory: URL, binDirectory: URL, template: ClusterFile) throws {
        self.directory = directory
        self.binDirectory = binDirectory
        for executable in ["bank-gateway", "bank-ledger"] {
            let path = binDirectory.appendingPathComponent(executable).path
            guard FileManager.default.isExecutableFile(atPath: path) else {
                throw BenchError.setup("\(path) not found; build with `swift build -c release` first")
            }
        }
        let data = directory.appendingPathComponent("data")
        try? FileManager.default.removeItem(at: data)
        try FileManager.default.createDirectory(at: data, withIntermediateDirectories: true)
        var file = template
        file.host = "127.0.0.1"
        file.portBase = try Self.freePortBase()
        file.dataRoot = data.path
        self.file = file
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(file).write(to: configURL)
        for node in Node.allCases {
            // Fresh logs for every run.
            _ = FileManager.default.createFile(atPath: logURL(node).path, contents: nil)
        }
    }

    var configURL: URL { directory.appendingPathComponent("cluster.json") }
    var gatewayEndpoint: String { file.clientEndpoint }
    func logURL(_ node: Node) -> URL { directory.appendingPathComponent("\(node.rawValue).log") }

    func start(_ node: Node) throws {
        precondition(processes[node]?.isRunning != true, "\(node) already runs")
        let process = Process()
        var arguments = ["--config", configURL.path]
        switch node {
        case .gateway:
            process.executableURL = binDirectory.appendingPathComponent("bank-gateway")
        case .primary, .backup:
            process.executableURL = binDirectory.appendingPathComponent("bank-ledger")
            arguments += ["--node", node.rawValue]
        }
        process.arguments = arguments
        let handle = try FileHandle(forWritingTo: logURL(node))
        handle.seekToEndOfFile()
        process.standardOutput = handle
        process.standardError = handle
        process.standardInput = FileHandle.nullDevice
        try process.run()
        processes[node] = process
        ChildGuard.register(process.processIdentifier, slot: node.slot)
    }

    func startAll() throws {
        for node in [Node.primary, .backup, .gateway] { try start(node) }
    }

    func isRunning(_ node: Node) -> Bool { processes[node]?.isRunning == true }

    /// Pids of the running processes, by node name.
    var pids: [String: Int32] {
        var out: [String: Int32] = [:]
        for (node, process) in processes where process.isRunning { out[node.rawValue] = process.processIdentifier }
        return out
    }

    /// SIGKILL, and waits until it is gone.
    func kill9(_ node: Node) {
        guard let process = processes[node], process.isRunning else { return }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        ChildGuard.register(0, slot: node.slot)
    }

    /// SIGTERM to everyone, SIGKILL to whoever is still there after `graceSeconds`.
    func stopAll(graceSeconds: Double = 3) {
        for process in processes.values where process.isRunning {
            kill(process.processIdentifier, SIGCONT)
            kill(process.processIdentifier, SIGTERM)
        }
        let deadline = monoNanos() + UInt64(graceSeconds * 1e9)
        while processes.values.contains(where: \.isRunning) && monoNanos() < deadline { usleep(20_000) }
        for process in processes.values where process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        for node in Node.allCases { ChildGuard.register(0, slot: node.slot) }
    }

    /// The current size of a node's log (to read only what a restart wrote).
    func logSize(_ node: Node) -> UInt64 {
        ((try? FileManager.default.attributesOfItem(atPath: logURL(node).path))?[.size] as? NSNumber)?.uint64Value ?? 0
    }

    func log(_ node: Node, from offset: UInt64 = 0) -> String {
        guard let handle = try? FileHandle(forReadingFrom: logURL(node)) else { return "" }
        defer { try? handle.close() }
        try? handle.seek(toOffset: offset)
        let data = (try? handle.readToEnd()) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }

    /// Lines of the node's log that contain any of `needles` (for the report of something odd).
    func logLines(_ node: Node, containing needles: [String], limit: Int = 20) -> [String] {
        let lines = log(node).split(separator: "\n").map(String.init)
        return Array(lines.filter { line in needles.contains { line.contains($0) } }.suffix(limit))
    }

    // MARK: - Ports

    /// Four consecutive free TCP ports on loopback, from a random base below the kernel's ephemeral port range:
    /// while a ledger is down its peers keep reconnecting to its port, and an outgoing connection given that very
    /// port as its local port would keep the restarted ledger from binding it ("Address already in use").
    private static func freePortBase() throws -> Int {
        var generator = SystemRandomNumberGenerator()
        var range = 20_000..<60_000
        if let text = try? String(contentsOfFile: "/proc/sys/net/ipv4/ip_local_port_range", encoding: .utf8),
           let low = text.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }).first.flatMap({ Int($0) }),
           low - 4 > 10_000 {
            range = 10_000..<(low - 4)
        }
        for _ in 0..<200 {
            let base = Int.random(in: range, using: &generator)
            if (0..<4).allSatisfy({ isFree(port: base + $0) }) { return base }
        }
        throw BenchError.setup("no four consecutive free ports found")
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

extension BenchCluster.Node {
    var slot: Int {
        switch self {
        case .gateway: return 0
        case .primary: return 1
        case .backup: return 2
        }
    }
}

/// Kills the cluster's processes when the bench is interrupted (SIGINT, SIGTERM, SIGHUP) or crashes (a trap), so
/// no ledger or gateway outlives it. The pids live in fixed slots that a signal handler can read safely.
enum ChildGuard {
    nonisolated(unsafe) static let slots: UnsafeMutablePointer<Int32> = {
        let pointer = UnsafeMutablePointer<Int32>.allocate(capacity: 3)
        pointer.initialize(repeating: 0, count: 3)
        return pointer
    }()

    static func register(_ pid: Int32, slot: Int) {
        slots[slot] = pid
    }

    static func install() {
        _ = slots
        for number in [SIGINT, SIGTERM, SIGHUP, SIGILL, SIGTRAP, SIGABRT, SIGBUS, SIGSEGV, SIGFPE] {
            var action = sigaction()
            action.__sigaction_handler.sa_handler = { number in
                for index in 0..<3 where ChildGuard.slots[index] > 0 { kill(ChildGuard.slots[index], SIGKILL) }
                let message = "\nbank-bench: signal \(number); cluster processes killed\n"
                message.withCString { _ = write(STDERR_FILENO, $0, strlen($0)) }
                if number == SIGINT || number == SIGTERM || number == SIGHUP { _exit(128 + number) }
                signal(number, SIG_DFL)
                raise(number)
            }
            sigemptyset(&action.sa_mask)
            action.sa_flags = 0
            sigaction(number, &action, nil)
        }
    }
}
