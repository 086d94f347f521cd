import Foundation
import LocalCluster
import Membership
import Runtime
import Topology
import Synchronization
import ZeroMQ
#if canImport(Glibc)
import Glibc
#endif

/// A fresh cluster of the three real processes on free ports, with its own data directory below `directory`
/// (`var/bench/` by default), run by `LocalCluster` as the process-level tests run theirs. Logs go to
/// `directory/<node>.log`.
final class BenchCluster {
    typealias Node = LocalCluster.Node

    let directory: URL
    let file: ClusterFile
    private let processes: LocalCluster

    /// The test bed the processes run in (nil: all on loopback).
    let bed: NetnsBed?

    init(directory: URL, binDirectory: URL, template: ClusterFile, bed: NetnsBed? = nil) throws {
        self.bed = bed
        self.directory = directory
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
        file.portBase = try LocalCluster.freePortBase()
        file.dataRoot = data.path
        if let bed {
            file.processes = try JSONDecoder().decode([ProcessSpec].self, from: Data(bed.processesJSON.utf8))
        }
        self.file = file
        if file.insecure {
            BenchClientKeys.current.withLock { $0 = nil }
        } else {
            // A key set like make cluster's, made fresh for every run; the bench's clients use the app key.
            let keys = file.keysPath
            try? FileManager.default.removeItem(atPath: keys)
            var publicKeys: [String: String] = [:]
            for node in file.topology.processes.map(\.node) {
                let pair = try CurveKeyPair.generate()
                try KeyFile.write(pair, name: node.name, directory: keys, comment: "bench")
                publicKeys[node.name] = pair.publicKey
            }
            let app = try CurveKeyPair.generate()
            try KeyFile.write(app, name: "bench", directory: keys + "/clients/app", comment: "bench")
            let gateway = file.topology.gateways[0].name
            BenchClientKeys.current.withLock { $0 = (app, publicKeys[gateway]!) }
        }
        let configURL = directory.appendingPathComponent("cluster.json")
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(file).write(to: configURL)
        processes = LocalCluster(configPath: configURL.path, binDirectory: binDirectory, logDirectory: directory)
        processes.onPidChange = { node, pid in ChildGuard.register(pid, slot: node.slot) }
        processes.launcher = bed?.launcher
        for node in Node.allCases {
            // Fresh logs for every run.
            _ = FileManager.default.createFile(atPath: logURL(node).path, contents: nil)
        }
    }

    var gatewayEndpoint: String { file.clientEndpoint }
    var binDirectory: URL { processes.binDirectory }
    func logURL(_ node: Node) -> URL { processes.logURL(node) }

    func start(_ node: Node) throws { try processes.start(node) }
    func startAll() throws { try processes.startAll() }
    func isRunning(_ node: Node) -> Bool { processes.isRunning(node) }
    var pids: [String: Int32] { processes.pids }
    /// SIGKILL, and waits until it is gone.
    func kill9(_ node: Node) { processes.kill9(node) }
    func stopAll(graceSeconds: Double = 3) { processes.stopAll(graceSeconds: graceSeconds) }

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
}

extension LocalCluster.Node {
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

/// The bench clients' CURVE keys (their pair and the gateway's public key), for the cluster of this run; nil: plaintext.
enum BenchClientKeys {
    static let current = Mutex<(pair: CurveKeyPair, gatewayKey: String)?>(nil)
}

extension ZMQSocket {
    /// Connects to the bench cluster's gateway as its clients do: with the app key when the cluster uses CURVE.
    func connectAsBenchClient(_ endpoint: String) throws {
        if let keys = BenchClientKeys.current.withLock({ $0 }) {
            try setCurveClient(keys.pair, serverKey: keys.gatewayKey)
        }
        try connect(endpoint)
    }
}
