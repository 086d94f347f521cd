import BankProtocol
import Foundation
import SeededRandom
import ZeroMQ
#if canImport(Glibc)
import Glibc
#endif

// MARK: - Clock

/// CLOCK_MONOTONIC in nanoseconds: cheap, never jumps.
@inline(__always)
func monoNanos() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
}

func sleepSeconds(_ seconds: Double) {
    guard seconds > 0 else { return }
    usleep(UInt32(min(seconds, 4000) * 1_000_000))
}

// MARK: - Requests (hot path: JSONWriter)

enum Requests {
    static func transfer(id: String, from: String, to: String, amount: Int64) -> [UInt8] {
        var w = JSONWriter(reservingCapacity: 128)
        writeTransfer(&w, id: id, from: from, to: to, amount: amount)
        return w.bytes
    }

    static func writeTransfer(_ w: inout JSONWriter, id: String, from: String, to: String, amount: Int64) {
        w.beginObject()
        w.field("op", "transfer")
        w.field("request_id", id)
        w.field("from", from)
        w.field("to", to)
        w.field("amount", amount)
        w.endObject()
    }

    static let status: [UInt8] = Array(#"{"op":"status"}"#.utf8)

    /// Opens and funds `accounts` in non-atomic batches of 500 accounts (an open and a deposit each).
    static func openAndFund(_ accounts: [String], balanceMinor: Int64, through client: SimpleClient) throws {
        for start in stride(from: 0, to: accounts.count, by: 500) {
            let chunk = accounts[start..<min(start + 500, accounts.count)]
            var w = JSONWriter(reservingCapacity: chunk.count * 160)
            w.beginObject()
            w.field("op", "batch")
            w.field("atomic", false)
            w.key("requests")
            w.beginArray()
            for account in chunk {
                w.beginObject()
                w.field("op", "open_account"); w.field("request_id", "open-" + account); w.field("account", account)
                w.endObject()
                w.beginObject()
                w.field("op", "deposit"); w.field("request_id", "fund-" + account); w.field("account", account)
                w.field("amount", balanceMinor)
                w.endObject()
            }
            w.endArray()
            w.endObject()
            guard let reply = try client.call(w.bytes, timeoutMilliseconds: 60_000) else {
                throw BenchError.setup("no reply to an account-opening batch")
            }
            guard reply["ok"]?.boolValue == true, let items = reply["results"]?.arrayValue, items.count == chunk.count * 2,
                  items.allSatisfy({ $0["ok"]?.boolValue == true }) else {
                throw BenchError.setup("opening accounts: \(String(describing: reply).prefix(300))")
            }
        }
    }

    /// A random transfer between two different accounts, 1–1000 minor units.
    static func randomPair(_ accounts: [String], _ rng: inout SplitMix64) -> (String, String, Int64) {
        let n = UInt64(accounts.count)
        let a = Int(rng.next() % n)
        var b = Int(rng.next() % (n - 1))
        if b >= a { b += 1 }
        return (accounts[a], accounts[b], Int64(1 + rng.next() % 1000))
    }
}

/// What a reply to one transfer means for the benchmark.
enum TransferOutcome {
    case ok
    /// Refused by the ledger's rules (`insufficient_funds`): answered, not an error.
    case refused
    case error(String)
}

enum Replies {
    /// Classifies a single-transfer reply and returns the request id it echoes (when it has one).
    static func classify(_ reply: JSONValue) -> (TransferOutcome, String?) {
        let id = reply["request_id"]?.stringValue
        if reply["ok"]?.boolValue == true { return (.ok, id) }
        let code = reply["error"]?.stringValue ?? "malformed"
        if code == "insufficient_funds" { return (.refused, id) }
        return (.error(code + ": " + (reply["message"]?.stringValue ?? "")), id)
    }
}

// MARK: - A one-call-at-a-time client (admin, set-up, checks)

enum BenchError: Error, CustomStringConvertible {
    case setup(String)
    case timeout(String)
    case check(String)

    var description: String {
        switch self {
        case let .setup(text): return "set-up failed: \(text)"
        case let .timeout(text): return "timed out: \(text)"
        case let .check(text): return "check failed: \(text)"
        }
    }
}

/// A DEALER used by one thread for one request at a time; replies to calls that timed out are dropped.
final class SimpleClient {
    private let socket: ZMQSocket
    private let poller = ZMQPoller()

    init(context: ZMQContext, endpoint: String) throws {
        socket = try context.makeSocket(.dealer)
        try socket.setReceiveHighWaterMark(100_000)
        try socket.setSendHighWaterMark(100_000)
        try socket.connectAsBenchClient(endpoint)
        poller.add(socket)
    }

    deinit { socket.close() }

    func close() { socket.close() }

    func callRaw(_ body: [UInt8], timeoutMilliseconds: Int) throws -> [UInt8]? {
        while try socket.receive(dontWait: true) != nil {}
        guard try socket.send([body], dontWait: false) else { return nil }
        let deadline = monoNanos() + UInt64(timeoutMilliseconds) * 1_000_000
        while monoNanos() < deadline {
            let ready = try poller.poll(timeoutMilliseconds: 20)
            guard !ready.isEmpty, let frames = try socket.receive(dontWait: true) else { continue }
            guard frames.count == 1 else { continue }
            return frames[0]
        }
        return nil
    }

    func call(_ body: [UInt8], timeoutMilliseconds: Int = 10_000) throws -> JSONValue? {
        guard let reply = try callRaw(body, timeoutMilliseconds: timeoutMilliseconds) else { return nil }
        return try? JSONValue.parse(reply)
    }

    func status(timeoutMilliseconds: Int = 1000) -> ClusterStatus? {
        guard let reply = try? call(Requests.status, timeoutMilliseconds: timeoutMilliseconds) else { return nil }
        return ClusterStatus(reply)
    }
}

// MARK: - The gateway's status

struct NodeStatus {
    var name: String
    var role: String
    var heartbeatAgeMs: Int64?
    var lastSeq: Int64?
    var lastHash: String?
}

struct ClusterStatus {
    var leader: String?
    var epoch: Int64
    var leaderChanges: Int64
    var nodes: [NodeStatus]

    init?(_ reply: JSONValue) {
        guard reply["ok"]?.boolValue == true, let nodes = reply["nodes"]?.arrayValue else { return nil }
        leader = reply["leader"]?.stringValue
        epoch = reply["epoch"]?.intValue ?? 0
        leaderChanges = reply["leader_changes"]?.intValue ?? 0
        self.nodes = nodes.map {
            NodeStatus(name: $0["name"]?.stringValue ?? "?", role: $0["role"]?.stringValue ?? "?",
                       heartbeatAgeMs: $0["heartbeat_age_ms"]?.intValue, lastSeq: $0["last_seq"]?.intValue,
                       lastHash: $0["last_hash"]?.stringValue)
        }
    }

    func node(_ name: String) -> NodeStatus? { nodes.first { $0.name == name } }

    /// A leader and a recorded in-sync follower, both heard from recently.
    func hasLeaderAndFollower(freshMs: Int64) -> Bool {
        guard leader != nil, nodes.count == 2 else { return false }
        guard Set(nodes.map(\.role)) == ["leader", "follower"] else { return false }
        return nodes.allSatisfy { ($0.heartbeatAgeMs ?? .max) <= freshMs }
    }

    /// As above, and both journals end at the same seq with the same hash (only reachable when idle).
    func converged(freshMs: Int64) -> Bool {
        guard hasLeaderAndFollower(freshMs: freshMs) else { return false }
        let seqs = nodes.compactMap(\.lastSeq), hashes = nodes.compactMap(\.lastHash)
        return seqs.count == 2 && seqs[0] == seqs[1] && hashes.count == 2 && hashes[0] == hashes[1]
    }

    var summary: String {
        let parts = nodes.map { n in
            "\(n.name)=\(n.role) seq \(n.lastSeq.map(String.init) ?? "-") age \(n.heartbeatAgeMs.map(String.init) ?? "-")ms"
        }
        return "leader \(leader ?? "none"), epoch \(epoch), changes \(leaderChanges); " + parts.joined(separator: ", ")
    }
}

// MARK: - Formatting

func formatInt(_ value: Int) -> String {
    let digits = String(value.magnitude)
    var out = ""
    for (i, ch) in digits.enumerated() {
        if i > 0 && (digits.count - i) % 3 == 0 { out.append(",") }
        out.append(ch)
    }
    return value < 0 ? "-" + out : out
}

func formatInt(_ value: Double) -> String { formatInt(Int(value.rounded())) }

func format(_ value: Double, decimals: Int = 3) -> String { String(format: "%.\(decimals)f", value) }

/// Prints a line at once (stdout is a pipe under make).
func say(_ line: String) {
    var text = line
    text.append("\n")
    text.withCString { pointer in _ = write(STDOUT_FILENO, pointer, strlen(pointer)) }
}

func formatInt(_ value: Int64) -> String { formatInt(Int(value)) }

// MARK: - CPU accounting (from /proc), to see who had the two cores during a phase

struct CPUSample {
    var nanos: UInt64
    /// Jiffies of the whole machine: busy (everything but idle and iowait) and total.
    var machineBusy: UInt64
    var machineTotal: UInt64
    /// utime + stime jiffies of each cluster process (by node name), and of this process.
    var processes: [String: UInt64]
    var pids: [String: Int32] = [:]
    var bench: UInt64

    static func take(pids: [String: Int32]) -> CPUSample {
        var busy: UInt64 = 0, total: UInt64 = 0
        if let stat = try? String(contentsOfFile: "/proc/stat", encoding: .utf8),
           let line = stat.split(separator: "\n").first, line.hasPrefix("cpu ") {
            let fields = line.split(separator: " ").dropFirst().compactMap { UInt64($0) }
            // user nice system idle iowait irq softirq steal (guest fields are already in user)
            let counted = Array(fields.prefix(8))
            total = counted.reduce(0, +)
            busy = total - (counted.count > 4 ? counted[3] + counted[4] : 0)
        }
        var processes: [String: UInt64] = [:]
        for (name, pid) in pids { processes[name] = processJiffies("/proc/\(pid)/stat") }
        return CPUSample(nanos: monoNanos(), machineBusy: busy, machineTotal: total, processes: processes,
                         pids: pids, bench: processJiffies("/proc/self/stat") ?? 0)
    }

    private static func processJiffies(_ path: String) -> UInt64? {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8),
              let close = text.lastIndex(of: ")") else { return nil }
        // Fields after "pid (comm)": state is field 3; utime and stime are fields 14 and 15.
        let rest = text[text.index(after: close)...].split(separator: " ")
        guard rest.count > 12, let utime = UInt64(rest[11]), let stime = UInt64(rest[12]) else { return nil }
        return utime + stime
    }

    /// Cores used between `earlier` and `self`: machine, each cluster process, the bench, and everything else.
    func cores(since earlier: CPUSample) -> [String: Double] {
        let seconds = Double(nanos - earlier.nanos) / 1e9
        guard seconds > 0 else { return [:] }
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        let cpus = Double(ProcessInfo.processInfo.activeProcessorCount)
        var out: [String: Double] = [:]
        let machineTicks = Double(machineTotal &- earlier.machineTotal)
        let machine = machineTicks > 0 ? Double(machineBusy &- earlier.machineBusy) / machineTicks * cpus : 0
        out["machine"] = machine
        var cluster = 0.0
        for (name, value) in processes {
            // A process started during the interval (a restarted ledger) counts from zero; the CPU of one that
            // was killed during it is not known and lands in "other".
            let sameProcess = earlier.pids[name] == pids[name]
            let before = sameProcess ? (earlier.processes[name] ?? 0) : 0
            guard value >= before else { continue }
            let cores = Double(value - before) / ticks / seconds
            out[name] = cores
            cluster += cores
        }
        let bench = Double(bench &- earlier.bench) / ticks / seconds
        out["bench"] = bench
        out["other"] = max(0, machine - cluster - bench)
        return out
    }

    static func describe(_ cores: [String: Double]) -> String {
        let order = ["gateway", "primary", "backup", "bench", "other"]
        return "cores used: " + order.compactMap { key in cores[key].map { "\(key) \(format($0, decimals: 2))" } }
            .joined(separator: ", ") + " (machine \(format(cores["machine"] ?? 0, decimals: 2)))"
    }
}
