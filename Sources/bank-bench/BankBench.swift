import ArgumentParser
import BankProtocol
import Dispatch
import Foundation
import LocalCluster
import Histogram
import Runtime
import SeededRandom
import ZeroMQ
#if canImport(Glibc)
import Glibc
#endif

@main
struct BankBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bank-bench",
        abstract: "Benchmarks a fresh cluster: throughput, batched throughput, latency, failover, catch-up, stability.",
        discussion: """
        Starts its own gateway and two ledgers (from the directory bank-bench lives in) on free ports with a fresh \
        data directory under --dir, opens --accounts funded accounts, runs the phases, checks after each that the \
        total of all balances is unchanged, writes <dir>/report.json and stops the cluster. Exits non-zero when a \
        money check fails or the run cannot complete.
        """)

    @Flag(help: "Shorter phases (about a minute in all).")
    var quick = false

    @Flag(help: "Run only the history phase (make bench-history): a long life of transfers, memory, restarts.")
    var history = false

    @Option(help: "History phase: transfers to drive (default 20,000,000; quick 2,000,000).")
    var historyTransfers: Int?

    @Option(help: "Throughput phase: requests in flight in all.")
    var inflight = 64

    @Option(help: "Throughput phase: DEALER sockets, one thread each, sharing --inflight.")
    var sockets = 4

    @Option(help: "Throughput phase length, seconds (default 10, quick 3).")
    var throughputSeconds: Double?

    @Option(help: "Batch phase length, seconds (default 10, quick 3).")
    var batchSeconds: Double?

    @Option(help: "Transfers per batch request.")
    var batchSize = 1000

    @Option(help: "Batch requests in flight.")
    var batchInflight = 8

    @Option(help: "Latency phase length, seconds (default 10, quick 3).")
    var latencySeconds: Double?

    @Option(help: "Failover phase: seconds of steady load before the leader is killed (default 5, quick 2).")
    var killAfter: Double?

    @Option(help: "Failover phase: seconds the killed ledger stays down, under load (default 5, quick 3).")
    var downSeconds: Double?

    @Option(help: "Failover phase: seconds of load after the restarted ledger is back in sync (default 2, quick 1).")
    var afterSeconds: Double?

    @Option(help: "Failover phase: transfers/s offered (default: half the measured single-transfer throughput).")
    var failoverRate: Double?

    @Option(help: "Failover phase: pipelined DEALER sockets sharing the rate.")
    var failoverSockets = 4

    @Option(help: "Overload phase: seconds at each offered load (default 20, quick 3).")
    var overloadSeconds: Double?

    @Option(help: "Overload phase: offered loads, as multiples of the measured single-transfer throughput.")
    var overloadMultiples = "2,5,10"

    @Option(help: "Overload phase: pipelined DEALER sockets (one thread each) sharing the offered load.")
    var overloadSockets = 8

    @Flag(help: "Overload phase: clients ignore retry_after_ms and keep sending at the offered rate.")
    var overloadNoBackoff = false

    @Flag(inversion: .prefixedNo, help: "Overload phase: first measure each process's memory at 1× (after as long again filling its windows), the reference the overload steps' memory is held to.")
    var overloadReference = true

    @Option(help: "Accounts to open and fund.")
    var accounts = 10_000

    @Option(help: "Opening balance of every account, minor units.")
    var initialBalance: Int64 = 1_000_000

    @Option(help: "Client-side timeout of every request, milliseconds.")
    var timeoutMs = 5000

    @Option(help: "Working directory: cluster.json, data/, logs and report.json.")
    var dir = "var/bench"

    @Option(help: "Where bank-gateway and bank-ledger are (default: beside bank-bench).")
    var binDir: String?

    @Option(help: "Cluster file whose timeouts the bench cluster uses (ports and data directory are the bench's own).")
    var clusterTemplate = "deploy/local/cluster.json"

    @Option(help: "Keep this many receipts in memory with the history archive (make bench[-history] ARCHIVE=n).")
    var archiveReceiptWindow: Int?

    @Flag(help: "Run the cluster on a network-namespace test bed of its own (root; make bench NETNS=1).")
    var netns = false

    @Option(help: "With --netns: delay on every link, e.g. 0.5ms or 2ms (tc netem, or deploy/netns/netdelay.c).")
    var delay = "0ms"

    @Flag(help: "The processes serve no Prometheus metrics (make bench METRICS=0), to measure what serving them costs.")
    var noMetrics = false

    @Flag(help: "Plaintext links: no CURVE (make bench CURVE=0), to measure what encryption and authentication cost.")
    var insecure = false

    @Flag(help: "Turn the history archive off: every receipt and statement line in memory, and checkpoints every 20 M mutations as before the archive (ARCHIVE=off).")
    var noArchive = false

    /// The cluster file the bench's cluster starts from: the template, with the archive as asked for.
    func loadTemplate() throws -> ClusterFile {
        var template = FileManager.default.fileExists(atPath: clusterTemplate)
            ? try ClusterFile.load(path: clusterTemplate) : ClusterFile()
        if let archiveReceiptWindow { template.archiveReceiptWindow = archiveReceiptWindow }
        if noMetrics { template.metrics = false }
        if insecure { template.insecure = true }
        if noArchive {
            // Without the archive each checkpoint writes the whole state; compare with the cluster as it was then.
            template.archiveReceiptWindow = nil
            template.checkpointIntervalMutations = max(template.checkpointIntervalMutations, 20_000_000)
        }
        return template
    }

    /// Where this executable lives (bank-gateway and bank-ledger are built beside it).
    static func executableDirectory() -> URL {
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return URL(fileURLWithPath: exe).deletingLastPathComponent()
    }

    func validate() throws {
        guard inflight >= 1, sockets >= 1, sockets <= inflight else { throw ValidationError("need 1 ≤ --sockets ≤ --inflight") }
        guard (1...1000).contains(batchSize) else { throw ValidationError("--batch-size must be 1…1000") }
        guard accounts >= 2, batchInflight >= 1, failoverSockets >= 1, overloadSockets >= 1 else {
            throw ValidationError("bad counts")
        }
        let multiples = overloadMultiples.split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces)) }
        guard !multiples.isEmpty, multiples.allSatisfy({ ($0 ?? 0) > 0 }) else {
            throw ValidationError("--overload-multiples takes positive numbers separated by commas, e.g. 2,5,10")
        }
    }

    func run() throws {
        if history {
            let directory = URL(fileURLWithPath: dir, isDirectory: true)
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            let template = try loadTemplate()
            let options = HistoryBench.Options(
                transfers: historyTransfers ?? (quick ? 2_000_000 : 20_000_000),
                directory: directory.appendingPathComponent("history"),
                reportURL: directory.appendingPathComponent("report.json"),
                binDirectory: binDir.map { URL(fileURLWithPath: $0, isDirectory: true) } ?? Self.executableDirectory(),
                template: template)
            let code = try HistoryBench(options: options).run()
            if code != 0 { throw ExitCode(code) }
            return
        }
        let settings = try Settings(self)
        let runner = try BenchRunner(settings: settings)
        let exitCode = runner.runAll()
        if exitCode != 0 { throw ExitCode(exitCode) }
    }
}

/// The options with their quick/full defaults resolved.
struct Settings {
    var quick: Bool
    var inflight, sockets: Int
    var throughputSeconds, batchSeconds, latencySeconds: Double
    var batchSize, batchInflight: Int
    var killAfter, downSeconds, afterSeconds: Double
    var failoverRate: Double?
    var failoverSockets: Int
    var overloadSeconds: Double
    var overloadMultiples: [Double]
    var overloadSockets: Int
    var overloadNoBackoff: Bool
    var overloadReference: Bool
    var accounts: Int
    var initialBalance: Int64
    var timeoutMs: Int
    var dir: String
    var binDir: String?
    var netns: Bool
    var delay: String
    var clusterTemplate: String
    /// The cluster file the bench's cluster starts from (the template, with the archive when asked for).
    var template: ClusterFile
    let warmupSeconds = 0.5
    /// The failover window for the p99: from the kill to this many seconds after.
    let failoverWindowSeconds = 2.0

    init(_ o: BankBench) throws {
        quick = o.quick
        inflight = o.inflight
        sockets = o.sockets
        throughputSeconds = o.throughputSeconds ?? (o.quick ? 3 : 10)
        batchSeconds = o.batchSeconds ?? (o.quick ? 3 : 10)
        latencySeconds = o.latencySeconds ?? (o.quick ? 3 : 10)
        batchSize = o.batchSize
        batchInflight = o.batchInflight
        killAfter = o.killAfter ?? (o.quick ? 2 : 5)
        downSeconds = o.downSeconds ?? (o.quick ? 3 : 5)
        afterSeconds = o.afterSeconds ?? (o.quick ? 1 : 2)
        failoverRate = o.failoverRate
        failoverSockets = o.failoverSockets
        overloadSeconds = o.overloadSeconds ?? (o.quick ? 3 : 20)
        overloadMultiples = o.overloadMultiples.split(separator: ",").compactMap {
            Double($0.trimmingCharacters(in: .whitespaces))
        }
        overloadSockets = o.overloadSockets
        overloadNoBackoff = o.overloadNoBackoff
        overloadReference = o.overloadReference
        accounts = o.accounts
        initialBalance = o.initialBalance
        timeoutMs = o.timeoutMs
        dir = o.dir
        binDir = o.binDir
        netns = o.netns
        delay = o.delay
        clusterTemplate = o.clusterTemplate
        template = try o.loadTemplate()
    }

    var timeoutNanos: UInt64 { UInt64(timeoutMs) * 1_000_000 }
    /// How long load threads may take to finish: their last requests may each wait a full timeout.
    var drainSeconds: Double { Double(timeoutMs) / 1000 * 2 + 5 }
}

/// Everything measured, for the table and report.json.
struct Results {
    var singleTPS: Double?
    var single: LoadShared.Snapshot?
    var singleCPU: Double?
    var batchTPS: Double?
    var batch: LoadShared.Snapshot?
    var batchCPU: Double?
    var latency: [String: Double]?
    var latencyCount = 0
    var latencyErrors = 0
    var failover: [String: Any] = [:]
    var catchup: [String: Any] = [:]
    var moneyChecks: [(phase: String, total: Int64, expected: Int64)] = []
    var leaderChanges: Int64?
    var kills = 0
    var errorSamples: [String: [String]] = [:]
    /// Cores used during each phase, by whom.
    var cpu: [String: [String: Double]] = [:]
    var batchLatencyMs: [String: Double]?
    var epochAfterSetUp: Int64?
    /// Before each phase: how long until the cluster was healthy again (ms).
    var recoveryWaitsMs: [String: Int] = [:]
    var unexpectedEpochChanges: Int64?
    /// Overload phase: one entry per offered load, and each process's RssAnon (kB) before it.
    var overload: [[String: Any]] = []
    /// The overload phase's step at 1× after the windows filled (nil: not measured).
    var overloadReference: [String: Any]?
    var rssAnonUnloadedKB: [String: Int] = [:]
    var failure: String?
}

final class BenchRunner {
    let settings: Settings
    let directory: URL
    let context: ZMQContext
    let accountIDs: [String]
    var results = Results()
    var cluster: BenchCluster?
    var admin: SimpleClient?
    let startedAt = Date()
    let startNanos = monoNanos()
    let loadAtStart: String
    let monitor = StatusMonitor()
    var monitorStarted = false
    let probe = MachineProbe()
    /// Load of the phase running now, stopped if the run fails half-way.
    var activeLoad: LoadShared?

    init(settings: Settings) throws {
        self.settings = settings
        directory = URL(fileURLWithPath: settings.dir, isDirectory: true)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        context = try ZMQContext()
        let width = String(settings.accounts - 1).count
        accountIDs = (0..<settings.accounts).map { "b" + String(repeating: "0", count: width - String($0).count) + String($0) }
        loadAtStart = Self.loadAverage()
    }

    var expectedTotal: Int64 { Int64(settings.accounts) * settings.initialBalance }
    var freshMs: Int64 { Int64(max(150, 3 * Int(cluster?.file.heartbeatIntervalMilliseconds ?? 50))) }

    /// Runs every phase; returns the process's exit code.
    func runAll() -> Int32 {
        ChildGuard.install()
        var code: Int32 = 0
        do {
            try setUp()
            try throughputPhase()
            try checkMoney(after: "throughput")
            try waitHealthy(before: "batch")
            try batchPhase()
            try checkMoney(after: "batch")
            try waitHealthy(before: "latency")
            try latencyPhase()
            try checkMoney(after: "latency")
            try waitHealthy(before: "failover")
            try failoverPhase()
            try checkMoney(after: "failover")
            try waitHealthy(before: "overload")
            try overloadPhase()
            try checkMoney(after: "overload")
            try stabilityCheck()
        } catch {
            results.failure = "\(error)"
            say("\nFAILED: \(error)")
            if let cluster {
                for node in BenchCluster.Node.allCases {
                    let tail = cluster.log(node).split(separator: "\n").suffix(15)
                    say("--- \(cluster.logURL(node).path) (last lines)")
                    for line in tail { say("    \(line)") }
                }
            }
            code = 1
        }
        if let load = activeLoad { _ = load.stopAndJoin(timeoutSeconds: settings.drainSeconds) }
        if monitorStarted {
            monitor.stop()
            probe.stop()
        }
        admin?.close()
        admin = nil
        cluster?.stopAll()
        if results.moneyChecks.contains(where: { $0.total != $0.expected }) { code = 1 }
        do {
            try writeReport()
        } catch {
            say("could not write the report: \(error)")
            code = 1
        }
        printTable()
        return code
    }

    // MARK: - Set-up

    private func binDirectory() -> URL {
        if let binDir = settings.binDir { return URL(fileURLWithPath: binDir, isDirectory: true) }
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
            ?? CommandLine.arguments[0]
        return URL(fileURLWithPath: exe).deletingLastPathComponent()
    }

    private func setUp() throws {
        var bed: NetnsBed?
        if settings.netns {
            if let reason = NetnsBed.unavailableReason { throw BenchError.setup("no test bed here: \(reason)") }
            bed = try NetnsBed()
        }
        let cluster = try BenchCluster(directory: directory, binDirectory: binDirectory(), template: settings.template,
                                       bed: bed)
        self.cluster = cluster
        let f = cluster.file
        if let bed {
            let shaped = try bed.shape(lossPercent: "0", delay: settings.delay)
            say("network-namespace test bed \(bed.name) on \(bed.subnet).0/24: "
                + shaped.trimmingCharacters(in: .whitespacesAndNewlines))
        }
        say("bank-bench\(settings.quick ? " (quick)" : ""): \(ProcessInfo.processInfo.activeProcessorCount) cores, "
            + "load average \(loadAtStart); cluster on \(f.clientEndpoint) (+1…+3), data \(f.dataRoot); metrics "
            + (f.metrics ? "served" : "off"))
        say("  heartbeat \(f.heartbeatIntervalMilliseconds) ms, failure timeout \(f.failureTimeoutMilliseconds) ms, "
            + "request deadline \(f.requestDeadlineMilliseconds) ms; binaries from \(cluster.binDirectory.path)")
        say("  history archive: " + (f.archiveReceiptWindow.map { "on, \(formatInt($0)) receipts kept in memory" }
            ?? "off (every receipt and statement line in memory)")
            + "; a checkpoint every \(formatInt(Int(f.checkpointIntervalMutations))) mutations")
        try cluster.startAll()
        let admin = try SimpleClient(context: context, endpoint: cluster.gatewayEndpoint)
        self.admin = admin
        let t0 = monoNanos()
        try waitFor("a leader and both ledgers in sync", seconds: 60) {
            admin.status()?.converged(freshMs: freshMs) == true
        }
        say("  leader elected, both ledgers in sync after \(ms(since: t0)) ms")
        monitor.start(context: context, endpoint: cluster.gatewayEndpoint, startNanos: startNanos)
        probe.start(path: directory.appendingPathComponent("probe.dat").path, phase: monitor)
        monitorStarted = true

        // Open and fund the accounts: batches of 1000 items (open + deposit per account).
        let t1 = monoNanos()
        try Requests.openAndFund(accountIDs, balanceMinor: settings.initialBalance, through: admin)
        say("  opened and funded \(formatInt(accountIDs.count)) accounts in \(ms(since: t1)) ms")
        try checkMoney(after: "set-up")
        if let status = admin.status() {
            results.epochAfterSetUp = status.epoch
            if status.leaderChanges != 0 {
                say("  note: the gateway already counts \(status.leaderChanges) leader change(s) after set-up")
            }
        }
    }

    // MARK: - Phases

    func enter(_ phase: String) {
        monitor.phase.withLock { $0 = phase }
    }

    func cpuSample() -> CPUSample { CPUSample.take(pids: cluster?.pids ?? [:]) }

    private func recordCPU(_ phase: String, since start: CPUSample) {
        let cores = cpuSample().cores(since: start)
        results.cpu[phase] = cores
        say("  " + CPUSample.describe(cores) + probeLine(phase))
    }

    /// The machine probe's worst fdatasync and scheduling delay in `phase` so far, and the longest the gateway
    /// went without hearing each live ledger.
    func probeLine(_ phase: String) -> String {
        var line = ""
        if let p = probe.summary()[phase] {
            line += "\n  probe: fdatasync max \(format(p["fdatasync_max_ms"] ?? 0, decimals: 1)) ms, "
                + "wake-up delay max \(format(p["sched_delay_max_ms"] ?? 0, decimals: 1)) ms"
        }
        if let ages = monitor.maxHeartbeatAge.withLock({ $0[phase] }) {
            line += "; longest heartbeat silence seen by the gateway: "
                + ages.sorted { $0.key > $1.key }.map { "\($0.key) \($0.value) ms" }.joined(separator: ", ")
        }
        if let roundTrip = monitor.maxStatusRoundTripMs.withLock({ $0[phase] }) {
            line += "; slowest status answer \(format(roundTrip, decimals: 1)) ms"
        }
        return line
    }

    private func throughputPhase() throws {
        guard let cluster else { return }
        enter("throughput")
        say("\n[1/6] throughput: single transfers, \(settings.inflight) in flight over \(settings.sockets) DEALER sockets, "
            + "\(format(settings.throughputSeconds, decimals: 0)) s")
        let shared = LoadShared()
        activeLoad = shared
        let base = settings.inflight / settings.sockets, extra = settings.inflight % settings.sockets
        for index in 0..<settings.sockets {
            let worker = PipelineSettings(endpoint: cluster.gatewayEndpoint, accounts: accountIDs, prefix: "t",
                                          index: index, window: base + (index < extra ? 1 : 0), ratePerSecond: nil,
                                          timeoutNanos: settings.timeoutNanos, record: false)
            let context = self.context
            shared.spawn { runPipelinedWorker(context: context, settings: worker, shared: shared) }
        }
        let (tps, snapshot, cpu) = try measure(shared, name: "throughput", seconds: settings.throughputSeconds)
        results.singleTPS = tps
        results.single = snapshot
        results.singleCPU = cpu
        results.errorSamples["throughput"] = shared.errorSamples.withLock { $0 }
        say("  → \(formatInt(tps)) transfers/s answered (errors \(snapshot.errors), timeouts \(snapshot.timeouts))")
    }

    private func batchPhase() throws {
        guard let cluster else { return }
        enter("batch")
        say("\n[2/6] batch: batches of \(settings.batchSize) transfers (atomic: false), \(settings.batchInflight) in flight, "
            + "\(format(settings.batchSeconds, decimals: 0)) s")
        let shared = LoadShared()
        activeLoad = shared
        let worker = BatchSettings(endpoint: cluster.gatewayEndpoint, accounts: accountIDs, prefix: "bt",
                                   batchSize: settings.batchSize, sockets: settings.batchInflight,
                                   timeoutNanos: settings.timeoutNanos * 2)
        let context = self.context
        shared.spawn { runBatchWorker(context: context, settings: worker, shared: shared) }
        let (tps, snapshot, cpu) = try measure(shared, name: "batch", seconds: settings.batchSeconds)
        results.batchTPS = tps
        results.batch = snapshot
        results.batchCPU = cpu
        results.errorSamples["batch"] = shared.errorSamples.withLock { $0 }
        var latencies = shared.batchLatencies.withLock { $0 }
        latencies.sort()
        if !latencies.isEmpty {
            func at(_ p: Double) -> Double { Double(latencies[min(latencies.count - 1, Int(Double(latencies.count) * p))]) / 1e6 }
            results.batchLatencyMs = ["p50": at(0.5), "p99": at(0.99), "max": Double(latencies.last!) / 1e6,
                                      "count": Double(latencies.count)]
            say("  batch round trips: p50 \(format(at(0.5), decimals: 1)) ms, p99 \(format(at(0.99), decimals: 1)) ms, "
                + "max \(format(Double(latencies.last!) / 1e6, decimals: 1)) ms over \(latencies.count) batches")
        }
        say("  → \(formatInt(tps)) transfers/s answered (errors \(snapshot.errors), timeouts \(snapshot.timeouts))")
    }

    /// Warm-up, then `seconds` of measurement with a progress line each second; stops and drains the load.
    private func measure(_ shared: LoadShared, name: String, seconds: Double) throws
        -> (Double, LoadShared.Snapshot, Double) {
        sleepSeconds(settings.warmupSeconds)
        let start = shared.snapshot(), t0 = monoNanos(), cpu0 = cpuSample()
        var last = start, tLast = t0
        let end = t0 + UInt64(seconds * 1e9)
        while monoNanos() < end {
            let next = min(end, tLast + 1_000_000_000)
            let now = monoNanos()
            if next > now { usleep(UInt32((next - now) / 1000)) }
            let snap = shared.snapshot(), t = monoNanos()
            let rate = Double(snap.answered - last.answered) / (Double(t - tLast) / 1e9)
            say("  \(name) \(format(Double(t - t0) / 1e9, decimals: 1)) s: \(formatInt(rate)) transfers/s, "
                + "answered \(formatInt(snap.answered - start.answered)), errors \(snap.errors - start.errors), "
                + "timeouts \(snap.timeouts - start.timeouts)")
            last = snap
            tLast = t
        }
        let final = shared.snapshot(), t1 = monoNanos()
        let cores = cpuSample().cores(since: cpu0)
        results.cpu[name] = cores
        say("  " + CPUSample.describe(cores) + probeLine(name))
        guard shared.stopAndJoin(timeoutSeconds: settings.drainSeconds) else {
            throw BenchError.timeout("\(name) load threads did not finish")
        }
        let drained = shared.snapshot()
        activeLoad = nil
        let elapsed = Double(t1 - t0) / 1e9
        let tps = Double(final.answered - start.answered) / elapsed
        // Errors and timeouts over the whole phase, including the warm-up and the drain.
        return (tps, drained, cores["bench"] ?? 0)
    }

    private func latencyPhase() throws {
        guard let cluster else { return }
        enter("latency")
        say("\n[3/6] latency: one client, one transfer at a time, \(format(settings.latencySeconds, decimals: 0)) s")
        let socket = try context.makeSocket(.dealer)
        defer { socket.close() }
        try socket.connectAsBenchClient(cluster.gatewayEndpoint)
        let poller = ZMQPoller()
        poller.add(socket)
        var histogram = Histogram<UInt64>(lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000_000,
                                          numberOfSignificantValueDigits: .three)
        var rng = SplitMix64(seed: monoNanos())
        var errors = 0, sequence = 0
        var samples: [String] = []
        let cpu0 = cpuSample()
        let t0 = monoNanos()
        let end = t0 + UInt64(settings.latencySeconds * 1e9)
        var nextProgress = t0 + 1_000_000_000
        while monoNanos() < end {
            sequence += 1
            let id = "l-\(sequence)"
            let (from, to, amount) = Requests.randomPair(accountIDs, &rng)
            let body = Requests.transfer(id: id, from: from, to: to, amount: amount)
            let sent = monoNanos()
            guard try socket.send([body], dontWait: false) else { throw BenchError.check("latency: send failed") }
            var answered = false
            while !answered {
                if monoNanos() - sent > settings.timeoutNanos { errors += 1; break }
                _ = try poller.poll(timeoutMilliseconds: 100)
                while let frames = try socket.receive(dontWait: true) {
                    guard frames.count == 1, let reply = try? JSONValue.parse(frames[0]) else { continue }
                    let (outcome, echoed) = Replies.classify(reply)
                    guard echoed == nil || echoed == id else { continue } // a late reply to an earlier request
                    let done = monoNanos()
                    if case let .error(text) = outcome {
                        errors += 1
                        if samples.count < 10 { samples.append(text) }
                    } else {
                        histogram.record(done - sent)
                    }
                    answered = true
                }
            }
            let now = monoNanos()
            if now >= nextProgress {
                nextProgress += 1_000_000_000
                say("  latency \(format(Double(now - t0) / 1e9, decimals: 1)) s: \(formatInt(Int(histogram.totalCount))) "
                    + "samples, p50 \(format(Double(histogram.valueAtPercentile(50)) / 1e6)) ms, "
                    + "p99 \(format(Double(histogram.valueAtPercentile(99)) / 1e6)) ms")
            }
        }
        recordCPU("latency", since: cpu0)
        func ms(_ p: Double) -> Double { Double(histogram.valueAtPercentile(p)) / 1e6 }
        results.latency = ["p50": ms(50), "p90": ms(90), "p99": ms(99), "p999": ms(99.9),
                           "max": Double(histogram.max) / 1e6, "mean": histogram.mean / 1e6]
        results.latencyCount = Int(histogram.totalCount)
        results.latencyErrors = errors
        results.errorSamples["latency"] = samples
        say("  → p50 \(format(ms(50))) ms, p90 \(format(ms(90))) ms, p99 \(format(ms(99))) ms, "
            + "p99.9 \(format(ms(99.9))) ms, max \(format(Double(histogram.max) / 1e6)) ms "
            + "(\(formatInt(Int(histogram.totalCount))) samples, \(errors) errors)")
    }

    private func failoverPhase() throws {
        guard let cluster, let admin else { return }
        enter("failover")
        let rate = settings.failoverRate ?? max(100, (results.singleTPS ?? 2000) / 2)
        say("\n[4/6] failover: steady \(formatInt(rate)) transfers/s over \(settings.failoverSockets) pipelined sockets; "
            + "kill -9 the leader after \(format(settings.killAfter, decimals: 0)) s, restart it "
            + "\(format(settings.downSeconds, decimals: 0)) s later")
        guard admin.status()?.leader != nil else { throw BenchError.check("failover: no leader before the phase") }
        let shared = LoadShared()
        activeLoad = shared
        let perSocket = rate / Double(settings.failoverSockets)
        for index in 0..<settings.failoverSockets {
            let worker = PipelineSettings(endpoint: cluster.gatewayEndpoint, accounts: accountIDs, prefix: "f",
                                          index: index, window: max(1000, Int(perSocket * 8)),
                                          ratePerSecond: perSocket, timeoutNanos: settings.timeoutNanos, record: true,
                                          retryOverloaded: true)
            let context = self.context
            shared.spawn { runPipelinedWorker(context: context, settings: worker, shared: shared) }
        }
        let phaseStart = monoNanos()
        let cpu0 = cpuSample()
        func progress(_ label: String) {
            let snap = shared.snapshot()
            say("  failover \(format(Double(monoNanos() - phaseStart) / 1e9, decimals: 1)) s \(label): "
                + "answered \(formatInt(snap.answered)), errors \(snap.errors), timeouts \(snap.timeouts), "
                + "in flight \(snap.sent - snap.answered - snap.errors - snap.timeouts)")
        }
        var nextProgress = phaseStart + 1_000_000_000
        func tick(until deadline: UInt64, _ label: @autoclosure () -> String = "", poll: () -> Bool = { false }) {
            while monoNanos() < deadline {
                if poll() { return }
                if monoNanos() >= nextProgress {
                    nextProgress += 1_000_000_000
                    progress(label())
                }
                usleep(10_000)
            }
        }
        tick(until: phaseStart + UInt64(settings.killAfter * 1e9), "steady")

        // Kill whoever leads now (a fresh look: leadership may have moved during the phase).
        var current: ClusterStatus?
        let lookStart = monoNanos()
        tick(until: lookStart + 30_000_000_000, "waiting for a leader with an in-sync follower to kill") {
            current = admin.status(timeoutMilliseconds: 500)
            return current?.hasLeaderAndFollower(freshMs: freshMs) == true
        }
        if monoNanos() - lookStart > 200_000_000 {
            say("  note: waited \(ms(since: lookStart)) ms for a leader with an in-sync follower before the kill")
        }
        guard let before = current, let leaderName = before.leader, let leader = BenchCluster.Node(rawValue: leaderName),
              before.hasLeaderAndFollower(freshMs: freshMs) else {
            throw BenchError.check("failover: no leader with an in-sync follower to kill (\(current?.summary ?? "no status"))")
        }
        let follower: BenchCluster.Node = leader == .primary ? .backup : .primary
        monitor.killed.withLock { $0[leader.rawValue] = 0 }
        let killNanos = monoNanos()
        cluster.kill9(leader)
        results.kills += 1
        monitor.note("bench: kill -9 \(leader.rawValue) (leader)")
        say("  killed \(leader.rawValue) (leader, epoch \(before.epoch), leader changes so far \(before.leaderChanges)) "
            + "with SIGKILL")
        var promotedNanos: UInt64?
        var newEpoch: Int64 = 0
        tick(until: killNanos + 30_000_000_000, "waiting for a new leader") {
            guard let status = admin.status(timeoutMilliseconds: 500), status.leader == follower.rawValue else { return false }
            promotedNanos = monoNanos()
            newEpoch = status.epoch
            return true
        }
        guard let promotedNanos else { throw BenchError.timeout("no new leader within 30 s of the kill") }
        say("  \(follower.rawValue) leads epoch \(newEpoch), seen \(format(ms(from: killNanos, to: promotedNanos), decimals: 0)) "
            + "ms after the kill")

        // Stay down a while under load, so the restarted ledger has a backlog to catch up.
        tick(until: killNanos + UInt64(settings.downSeconds * 1e9), "\(leader.rawValue) down")
        let atRestart = admin.status(timeoutMilliseconds: 1000)
        let leaderSeqAtRestart = atRestart?.node(follower.rawValue)?.lastSeq
        let staleSeq = atRestart?.node(leader.rawValue)?.lastSeq
        let logOffset = cluster.logSize(leader)
        let restartNanos = monoNanos()
        try cluster.start(leader)
        monitor.note("bench: restarted \(leader.rawValue)")
        say("  restarted \(leader.rawValue); leader \(follower.rawValue) at seq \(leaderSeqAtRestart.map(formatInt) ?? "?")")
        var syncedNanos: UInt64?
        // When the restarted ledger is first heard (journal scanned, state rebuilt) and the leader's seq then.
        var upNanos: UInt64?
        var leaderSeqAtUp: Int64?
        // The leader's seq when the restarted ledger was in sync: everything from its own end to here streamed.
        var leaderSeqAtSync: Int64?
        tick(until: restartNanos + 120_000_000_000, "\(leader.rawValue) catching up") {
            guard let status = admin.status(timeoutMilliseconds: 500), status.leader == follower.rawValue,
                  let node = status.node(leader.rawValue), (node.heartbeatAgeMs ?? .max) <= freshMs,
                  node.role != "down" else { return false }
            if upNanos == nil {
                upNanos = monoNanos()
                monitor.note("bench: \(leader.rawValue) heard again (\(node.role))")
                let heard = monoNanos()
                monitor.killed.withLock { $0[leader.rawValue] = heard }
                leaderSeqAtUp = status.node(follower.rawValue)?.lastSeq
            }
            guard node.role == "follower" else { return false }
            syncedNanos = monoNanos()
            leaderSeqAtSync = status.node(follower.rawValue)?.lastSeq
            monitor.note("bench: \(leader.rawValue) is the in-sync follower again")
            return true
        }
        guard let syncedNanos else { throw BenchError.timeout("the restarted ledger was not in sync within 120 s") }
        // The restarted ledger's journal end, as it logged on start ("journal holds N records").
        let startLog = cluster.log(leader, from: logOffset)
        let restartedSeq = Self.firstInt(after: "journal holds ", in: startLog).map(Int64.init) ?? staleSeq
        let rebuildMs = Self.firstInt(after: "state restored in ", in: startLog)
        say("  \(leader.rawValue) back in sync \(format(ms(from: restartNanos, to: syncedNanos), decimals: 0)) ms after the restart "
            + "(its journal ended at seq \(restartedSeq.map(formatInt) ?? "?"))")
        tick(until: syncedNanos + UInt64(settings.afterSeconds * 1e9), "after catch-up")

        let stopNanos = monoNanos()
        recordCPU("failover", since: cpu0)
        guard shared.stopAndJoin(timeoutSeconds: settings.drainSeconds) else {
            throw BenchError.timeout("failover load threads did not finish")
        }
        activeLoad = nil
        let snap = shared.snapshot()
        let workers = shared.results.withLock { $0 }
        results.errorSamples["failover"] = shared.errorSamples.withLock { $0 }

        // The longest time with no acknowledgement, over the whole phase.
        var ends = workers.flatMap(\.ends)
        ends.sort()
        var gap: UInt64 = 0, gapStart: UInt64 = phaseStart
        // And the longest one that began around the kill (the failover itself), in case another was longer.
        var killGap: UInt64 = 0
        for i in ends.indices.dropFirst() {
            let length = ends[i] - ends[i - 1]
            if length > gap {
                gap = length
                gapStart = ends[i - 1]
            }
            if ends[i] > killNanos && ends[i - 1] < killNanos + 1_000_000_000 && length > killGap { killGap = length }
        }
        // Latency of every request in flight during the window [kill, kill + 2 s].
        let windowEnd = killNanos + UInt64(settings.failoverWindowSeconds * 1e9)
        var window = Histogram<UInt64>(lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000_000,
                                       numberOfSignificantValueDigits: .three)
        var all = window
        for worker in workers {
            for i in worker.starts.indices {
                let latency = worker.ends[i] &- worker.starts[i]
                all.record(latency)
                if worker.starts[i] < windowEnd && worker.ends[i] > killNanos { window.record(latency) }
            }
        }
        let failed = snap.errors + snap.timeouts
        let loadSeconds = Double(stopNanos - phaseStart) / 1e9
        results.failover = [
            "gap_ms": Double(gap) / 1e6,
            "gap_started_ms_after_kill": (Double(gapStart) - Double(killNanos)) / 1e6,
            "kill_gap_ms": Double(killGap) / 1e6,
            "failed_requests": failed,
            "errors": snap.errors,
            "timeouts": snap.timeouts,
            // Answered `overloaded` and sent again after retry_after_ms (not failures: nothing was applied).
            "overloaded_retries": snap.overloaded,
            "late_replies": snap.late,
            "p99_ms": Double(window.valueAtPercentile(99)) / 1e6,
            "window_max_ms": Double(window.max) / 1e6,
            "window_requests": Int(window.totalCount),
            "phase_p50_ms": Double(all.valueAtPercentile(50)) / 1e6,
            "phase_p99_ms": Double(all.valueAtPercentile(99)) / 1e6,
            "offered_rate": rate,
            "achieved_rate": Double(snap.answered) / loadSeconds,
            "answered": snap.answered,
            "killed": leader.rawValue,
            "new_leader": follower.rawValue,
            "new_leader_seen_ms": ms(from: killNanos, to: promotedNanos),
        ]
        var catchup: [String: Any] = [
            "time_to_sync_ms": ms(from: restartNanos, to: syncedNanos),
            "restarted": leader.rawValue,
        ]
        if let rebuildMs { catchup["state_rebuild_ms"] = rebuildMs }
        if let leaderSeqAtRestart, let restartedSeq {
            let records = max(0, leaderSeqAtRestart - restartedSeq)
            catchup["records"] = records
            catchup["leader_seq_at_restart"] = leaderSeqAtRestart
            catchup["restarted_seq_at_restart"] = restartedSeq
            catchup["records_per_s_including_restart"] = Double(records) / (Double(syncedNanos - restartNanos) / 1e9)
        }
        if let rebuildMs, let restartedSeq, restartedSeq > 0 {
            catchup["restart_ms_per_million_records"] = Double(rebuildMs) / (Double(restartedSeq) / 1e6)
        }
        if let upNanos, let leaderSeqAtUp, let restartedSeq {
            // The replication part alone: from the restarted ledger first being heard to in sync.
            let records = max(0, (leaderSeqAtSync ?? leaderSeqAtUp) - restartedSeq)
            catchup["up_after_restart_ms"] = ms(from: restartNanos, to: upNanos)
            catchup["replication_records"] = records
            catchup["replication_ms"] = ms(from: upNanos, to: syncedNanos)
            catchup["replication_records_per_s"] = Double(records) / max(1e-3, Double(syncedNanos - upNanos) / 1e9)
        }
        results.catchup = catchup
        if gapStart + 1_000_000_000 < killNanos || gapStart > killNanos + 1_000_000_000 {
            say("  note: the longest gap began \(format((Double(gapStart) - Double(killNanos)) / 1e6, decimals: 0)) ms "
                + "after the kill, not at it; the gap at the kill itself was \(format(Double(killGap) / 1e6, decimals: 1)) ms")
        }
        say("  → gap \(format(Double(gap) / 1e6, decimals: 1)) ms, failed requests \(failed) "
            + "(errors \(snap.errors), timeouts \(snap.timeouts)), p99 in [kill, kill+2 s] "
            + "\(format(Double(window.valueAtPercentile(99)) / 1e6, decimals: 1)) ms; catch-up "
            + "\(formatInt((catchup["replication_records_per_s"] as? Double) ?? 0)) records/s once up (restart included: "
            + "\(formatInt((catchup["records_per_s_including_restart"] as? Double) ?? 0))/s)")

        // Idle now: both journals must end at the same seq with the same hash.
        let t = monoNanos()
        try waitFor("both ledgers converged after the failover", seconds: 60) {
            admin.status()?.converged(freshMs: freshMs) == true
        }
        say("  both journals equal (same last seq and hash) \(ms(since: t)) ms after the load stopped")
    }

    private func stabilityCheck() throws {
        guard let admin else { return }
        enter("end")
        say("\n[6/6] stability")
        guard let status = admin.status() else { throw BenchError.check("no status at the end") }
        results.leaderChanges = status.leaderChanges
        say("  leader changes \(status.leaderChanges), kills of the leader by the bench \(results.kills): "
            + "false failovers \(status.leaderChanges - Int64(results.kills))")
        if let first = results.epochAfterSetUp {
            // Each kill costs one epoch (the promotion); any other new epoch is the cluster reconfiguring on its
            // own, e.g. dropping its in-sync follower ("goes on alone") without a change of leader.
            let unexpected = status.epoch - first - Int64(results.kills)
            results.unexpectedEpochChanges = unexpected
            say("  epochs \(first) → \(status.epoch): \(unexpected) reconfiguration(s) not caused by the bench")
        }
        say("  timeline (gateway status polled every 50 ms, and the bench's own actions):")
        for change in monitor.changes.withLock({ $0 }) {
            if let event = change.event {
                say("    t=\(format(change.seconds, decimals: 2)) s (\(change.phase)): \(event)")
            } else {
                say("    t=\(format(change.seconds, decimals: 2)) s (\(change.phase)): epoch \(change.epoch), "
                    + "leader \(change.leader ?? "none"), leader changes \(change.leaderChanges)")
            }
        }
    }

    /// Each phase starts from a healthy cluster: a leader, an in-sync follower, equal journals. A phase that left
    /// the cluster degraded shows here as a wait (reported, with the time it took).
    func waitHealthy(before phase: String) throws {
        guard let admin else { return }
        let start = monoNanos()
        try waitFor("a leader, an in-sync follower and equal journals before the \(phase) phase", seconds: 60) {
            admin.status()?.converged(freshMs: freshMs) == true
        }
        let waited = ms(since: start)
        results.recoveryWaitsMs[phase] = waited
        if waited > 200 {
            say("  note: the cluster needed \(waited) ms to have a leader, an in-sync follower and equal journals again")
        }
    }

    // MARK: - Money

    /// The sum of every account's balance, from `balance` queries in batches of 1000, must be unchanged.
    func checkMoney(after phase: String) throws {
        guard let admin else { return }
        var total: Int64 = 0
        for start in stride(from: 0, to: accountIDs.count, by: 1000) {
            let chunk = accountIDs[start..<min(start + 1000, accountIDs.count)]
            var w = JSONWriter(reservingCapacity: chunk.count * 48)
            w.beginObject()
            w.field("op", "batch")
            w.key("requests")
            w.beginArray()
            for account in chunk {
                w.beginObject(); w.field("op", "balance"); w.field("account", account); w.endObject()
            }
            w.endArray()
            w.endObject()
            guard let reply = try admin.call(w.bytes, timeoutMilliseconds: 30_000),
                  reply["ok"]?.boolValue == true, let items = reply["results"]?.arrayValue, items.count == chunk.count else {
                throw BenchError.check("balance queries after \(phase) failed")
            }
            for (account, item) in zip(chunk, items) {
                guard item["account"]?.stringValue == account, let balance = item["balance"]?.intValue else {
                    throw BenchError.check("balance of \(account) after \(phase): \(item)")
                }
                total += balance
            }
        }
        results.moneyChecks.append((phase, total, expectedTotal))
        if total == expectedTotal {
            say("  money check after \(phase): total \(formatInt(Int(total))) = expected ✓")
        } else {
            say("  MONEY CHECK FAILED after \(phase): total \(total), expected \(expectedTotal) "
                + "(difference \(total - expectedTotal))")
        }
    }

    // MARK: - Helpers

    private func waitFor(_ what: String, seconds: Double, _ condition: () -> Bool) throws {
        let deadline = monoNanos() + UInt64(seconds * 1e9)
        while monoNanos() < deadline {
            if condition() { return }
            usleep(20_000)
        }
        let status = admin?.status().map(\.summary) ?? "no status"
        throw BenchError.timeout("\(what) within \(Int(seconds)) s (\(status))")
    }

    func ms(since start: UInt64) -> Int { Int((monoNanos() - start) / 1_000_000) }
    func ms(from start: UInt64, to end: UInt64) -> Double { (Double(end) - Double(start)) / 1e6 }

    static func firstInt(after marker: String, in text: String) -> Int? {
        guard let range = text.range(of: marker) else { return nil }
        return Int(text[range.upperBound...].prefix { $0.isNumber })
    }

    static func loadAverage() -> String {
        (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8))?.split(separator: " ").prefix(3)
            .joined(separator: " ") ?? "?"
    }
}
