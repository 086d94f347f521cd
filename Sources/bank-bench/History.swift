import BankProtocol
import Foundation
import Runtime
import SeededRandom
import Synchronization
import ZeroMQ
#if canImport(Glibc)
import Glibc
#endif

/// `make bench-history`: a long life in a few minutes. Drives `transfers` transfers (in batches of 1,000) into
/// 10,000 accounts plus one hot account that takes a twentieth of them, so that it reaches 1,000,000 statement
/// lines in the full run. At each tenth it records both ledgers' anonymous resident memory (`RssAnon`), their
/// journal and checkpoint sizes and the throughput of that tenth. At the end: how long each kind of restart takes,
/// how long a wiped follower needs to be the in-sync follower again, a 50-line statement page deep in the hot
/// account's history and the replay of an old request id. The results go to `report.json` under "history".
final class HistoryBench {
    struct Options: Sendable {
        var transfers: Int
        var accounts = 10_000
        var hotShare = 0.05
        var clients = 8
        var batchSize = 1_000
        var directory: URL
        var reportURL: URL
        var binDirectory: URL
        var template: ClusterFile
    }

    let options: Options
    let context: ZMQContext
    var cluster: BenchCluster?
    var report: [String: Any] = [:]
    var tenths: [[String: Any]] = []
    let accountIDs: [String]
    static let hotAccount = "hot"
    static let balance: Int64 = 1_000_000_000_000

    init(options: Options) throws {
        self.options = options
        context = try ZMQContext()
        let width = String(options.accounts - 1).count
        accountIDs = (0..<options.accounts).map { "h" + String(repeating: "0", count: width - String($0).count) + String($0) }
    }

    /// Runs the phase; returns the exit code.
    func run() -> Int32 {
        ChildGuard.install()
        var code: Int32 = 0
        do {
            try runPhases()
        } catch {
            report["failure"] = "\(error)"
            say("\nFAILED: \(error)")
            if let cluster {
                for node in BenchCluster.Node.allCases {
                    say("--- \(cluster.logURL(node).path) (last lines)")
                    for line in cluster.log(node).split(separator: "\n").suffix(10) { say("    \(line)") }
                }
            }
            code = 1
        }
        cluster?.stopAll()
        report["tenths"] = tenths
        do { try mergeIntoReport() } catch {
            say("could not write the report: \(error)")
            code = 1
        }
        return code
    }

    private func runPhases() throws {
        var template = options.template
        template.journalRetention = .delete // the history bench measures what a ledger must keep, not an archive
        // With the archive, checkpoints come at the cluster file's interval (the shipped one unless the template
        // says otherwise). Without it each checkpoint writes the whole history: four over the run, as before.
        if template.archiveReceiptWindow == nil {
            template.checkpointIntervalMutations = UInt64(max(100_000, options.transfers / 4))
        }
        let cluster = try BenchCluster(directory: options.directory, binDirectory: options.binDirectory,
                                       template: template)
        self.cluster = cluster
        say("bench-history: \(formatInt(options.transfers)) transfers into \(formatInt(options.accounts)) accounts "
            + "and one hot account (\(Int(options.hotShare * 100))% of transfers), batches of \(options.batchSize), "
            + "\(options.clients) clients; data in \(cluster.file.dataRoot)")
        try cluster.startAll()
        let admin = try SimpleClient(context: context, endpoint: cluster.gatewayEndpoint)
        try waitFor("a leader and both ledgers in sync", seconds: 60) { admin.status()?.converged(freshMs: 150) == true }
        try Requests.openAndFund(accountIDs + [Self.hotAccount], balanceMinor: Self.balance, through: admin)

        let progress = HistoryProgress()
        let perClient = options.transfers / options.clients
        let started = monoNanos()
        let (context, endpoint, options, accounts) = (context, cluster.gatewayEndpoint, options, accountIDs)
        let threads = (0..<options.clients).map { client in
            Thread {
                Self.drive(client: client, batches: 0..<(perClient / options.batchSize), options: options,
                           accounts: accounts, context: context, endpoint: endpoint, progress: progress)
            }
        }
        threads.forEach { $0.start() }
        let total = (perClient / options.batchSize) * options.batchSize * options.clients
        var nextTenth = 1
        var lastCount = 0
        var lastNanos = started
        // The highest RssAnon of each ledger within the tenth, sampled every 100 ms: a checkpoint being written
        // holds a copy of what the live ledger changes meanwhile, so one sample may or may not catch it.
        var peaks: [String: Int] = [:]
        while nextTenth <= 10 {
            usleep(100_000)
            if let failure = progress.failures.withLock({ $0.first }) { throw BenchError.check(failure) }
            for node in [BenchCluster.Node.primary, .backup] {
                if let rss = cluster.pids[node.rawValue].flatMap(Self.rssAnonMegabytes) {
                    peaks[node.rawValue] = max(peaks[node.rawValue] ?? 0, rss)
                }
            }
            let count = progress.done.load(ordering: .relaxed)
            guard count >= total * nextTenth / 10 else { continue }
            let now = monoNanos()
            var row = sample(cluster)
            for (name, peak) in peaks {
                if var node = row[name] as? [String: Any] {
                    node["rss_anon_peak_mb"] = max(peak, node["rss_anon_mb"] as? Int ?? 0)
                    row[name] = node
                }
            }
            peaks = [:]
            row["tenth"] = nextTenth
            row["transfers"] = count
            row["tps"] = Double(count - lastCount) / (Double(now - lastNanos) / 1e9)
            row["seconds"] = Double(now - started) / 1e9
            tenths.append(row)
            say(describe(row))
            lastCount = count
            lastNanos = now
            nextTenth += 1
        }
        report["transfers"] = total
        report["tps_overall"] = Double(total) / (Double(monoNanos() - started) / 1e9)
        reportMemoryGrowth()
        report["hot_lines"] = progress.hotLines.load(ordering: .relaxed)
        try waitFor("both ledgers in sync after the load", seconds: 120) { admin.status()?.converged(freshMs: 150) == true }
        report["leader_changes"] = admin.status()?.leaderChanges ?? -1
        try waitFor("no checkpoint being written", seconds: 600) {
            [BenchCluster.Node.primary, .backup].allSatisfy { node in
                let names = (try? FileManager.default.contentsOfDirectory(atPath: cluster.file.dataRoot + "/"
                    + node.rawValue + "/checkpoints")) ?? []
                return !names.contains { $0.hasSuffix(".tmp") }
            }
        }

        try measureReads(admin, hotSeqs: progress.hotSeqs.withLock { $0 },
                         hotLines: progress.hotLines.load(ordering: .relaxed))
        try driveRestartTail(cluster, admin, firstBatch: perClient / options.batchSize)
        try measureRestarts(cluster, admin)
        try measureWipedFollowerUnderLoad(cluster, admin)
    }

    /// Leaves the restarts a journal tail just short of a checkpoint interval, the most a restart replays: batches
    /// until the leader's records after its newest checkpoint hold 90% of `checkpoint_interval_mutations`.
    private func driveRestartTail(_ cluster: BenchCluster, _ admin: SimpleClient, firstBatch: Int) throws {
        guard let leader = admin.status()?.leader, let lastSeq = admin.status()?.node(leader)?.lastSeq else {
            throw BenchError.check("no leader before the restarts")
        }
        let names = (try? FileManager.default.contentsOfDirectory(atPath: cluster.file.dataRoot + "/" + leader
            + "/checkpoints")) ?? []
        let checkpointSeq = names.compactMap { name -> Int64? in
            guard name.hasPrefix("checkpoint-"), name.hasSuffix(".ckpt") else { return nil }
            return Int64(name.dropFirst("checkpoint-".count).dropLast(".ckpt".count))
        }.max() ?? 0
        let interval = Int(cluster.file.checkpointIntervalMutations)
        let already = Int(max(0, lastSeq - checkpointSeq)) * options.batchSize
        let batches = max(0, (interval * 9 / 10 - already) / options.batchSize)
        let progress = HistoryProgress()
        let perClient = (batches + options.clients - 1) / options.clients
        let (context, endpoint, options, accounts) = (context, cluster.gatewayEndpoint, options, accountIDs)
        let threads = (0..<options.clients).map { client in
            Thread {
                let mine = min(perClient, max(0, batches - client * perClient))
                Self.drive(client: client, batches: firstBatch..<(firstBatch + mine), options: options,
                           accounts: accounts, context: context, endpoint: endpoint, progress: progress)
            }
        }
        threads.forEach { $0.start() }
        try waitFor("the restart tail of \(formatInt(batches * options.batchSize)) transfers", seconds: 300) {
            if let failure = progress.failures.withLock({ $0.first }) { throw BenchError.check(failure) }
            return progress.done.load(ordering: .relaxed) >= batches * options.batchSize
        }
        try waitFor("both ledgers in sync after the tail", seconds: 120) { admin.status()?.converged(freshMs: 150) == true }
        report["restart_tail_transfers"] = already + batches * options.batchSize
        say("  restart tail: \(formatInt(already + batches * options.batchSize)) transfers after the newest checkpoint "
            + "(interval \(formatInt(interval)) mutations)")
    }

    /// Each ledger's RssAnon at the last tenth over its value at the first (the issue's "≤ 1.2× its value after
    /// 2 M" in the full run), both as sampled at the tenth and as the tenth's peak.
    private func reportMemoryGrowth() {
        guard let first = tenths.first, let last = tenths.last, tenths.count == 10 else { return }
        var growth: [String: Any] = [:]
        var parts: [String] = []
        for name in ["primary", "backup"] {
            guard let a = first[name] as? [String: Any], let b = last[name] as? [String: Any],
                  let rssA = a["rss_anon_mb"] as? Int, let rssB = b["rss_anon_mb"] as? Int, rssA > 0,
                  let peakA = a["rss_anon_peak_mb"] as? Int, let peakB = b["rss_anon_peak_mb"] as? Int, peakA > 0
            else { continue }
            let sampled = Double(rssB) / Double(rssA)
            let peak = Double(peakB) / Double(peakA)
            growth[name] = ["sampled": sampled, "peak": peak]
            parts.append("\(name) \(format(sampled, decimals: 2))× (peaks \(format(peak, decimals: 2))×)")
        }
        report["rss_anon_last_over_first_tenth"] = growth
        say("  RssAnon at the last tenth over the first: " + parts.joined(separator: ", "))
    }

    // MARK: - Load

    /// One client: batches of transfers of 1 minor unit, one at a time; a twentieth touch the hot account.
    private static func drive(client: Int, batches: Range<Int>, options: Options, accounts accountIDs: [String],
                              context: ZMQContext, endpoint: String, progress: HistoryProgress) {
        guard let connection = try? SimpleClient(context: context, endpoint: endpoint) else {
            progress.failures.withLock { $0.append("client \(client) cannot connect") }
            return
        }
        var random = SplitMix64(seed: seed(client: client))
        for batch in batches {
            var w = JSONWriter(reservingCapacity: options.batchSize * 110)
            w.beginObject()
            w.field("op", "batch")
            w.field("atomic", false)
            w.key("requests")
            w.beginArray()
            var hot = 0
            for item in 0..<options.batchSize {
                var (from, to, _) = Requests.randomPair(accountIDs, &random)
                if random.chance(Int(options.hotShare * 100)) {
                    if random.chance(50) { from = Self.hotAccount } else { to = Self.hotAccount }
                    hot += 1
                }
                Requests.writeTransfer(&w, id: requestID(client: client, batch: batch, item: item),
                                       from: from, to: to, amount: 1)
            }
            w.endArray()
            w.endObject()
            guard let reply = try? connection.call(w.bytes, timeoutMilliseconds: 60_000),
                  reply["ok"]?.boolValue == true, let results = reply["results"]?.arrayValue,
                  results.count == options.batchSize, let seq = results.first?["seq"]?.intValue else {
                progress.failures.withLock { $0.append("client \(client): batch \(batch) failed") }
                return
            }
            if hot > 0 {
                progress.hotSeqs.withLock { $0.append((seq, hot)) }
                progress.hotLines.add(hot, ordering: .relaxed)
            }
            progress.done.add(options.batchSize, ordering: .relaxed)
        }
    }

    static func requestID(client: Int, batch: Int, item: Int) -> String { "hist-\(client)-\(batch)-\(item)" }
    static func seed(client: Int) -> UInt64 { UInt64(client) &+ 0x5EED }

    // MARK: - Measurements

    /// Both ledgers' RssAnon and on-disk sizes now.
    private func sample(_ cluster: BenchCluster) -> [String: Any] {
        var row: [String: Any] = [:]
        for node in [BenchCluster.Node.primary, .backup] {
            let directory = cluster.file.dataRoot + "/" + node.rawValue
            row[node.rawValue] = [
                "rss_anon_mb": cluster.pids[node.rawValue].flatMap(Self.rssAnonMegabytes) ?? NSNull(),
                "journal_mb": Self.megabytes(in: directory + "/journal"),
                "checkpoints_mb": Self.megabytes(in: directory + "/checkpoints"),
            ] as [String: Any]
        }
        return row
    }

    private func describe(_ row: [String: Any]) -> String {
        func node(_ name: String) -> String {
            guard let n = row[name] as? [String: Any] else { return "-" }
            let peak = (n["rss_anon_peak_mb"] as? Int).map { " (peak \($0))" } ?? ""
            return "\(name) RssAnon \(n["rss_anon_mb"] as? Int ?? -1) MB\(peak), journal \(n["journal_mb"] as? Int ?? -1) MB, "
                + "checkpoints \(n["checkpoints_mb"] as? Int ?? -1) MB"
        }
        return "  \(row["tenth"] as? Int ?? 0)/10: \(formatInt(row["transfers"] as? Int ?? 0)) transfers, "
            + "\(formatInt(row["tps"] as? Double ?? 0))/s; \(node("primary")); \(node("backup"))"
    }

    /// A 50-line statement page of the hot account as deep as its history allows (1,000,000 lines in the full run),
    /// and an old request id's replay: medians of 5.
    private func measureReads(_ admin: SimpleClient, hotSeqs: [(seq: Int64, lines: Int)], hotLines: Int) throws {
        // A batch writes up to ~50 hot lines under one seq, so aim a little short of the bottom to leave a full page.
        let depth = min(1_000_000, max(0, hotLines - 200))
        var newerLines = 0
        var beforeSeq: Int64 = 0
        for entry in hotSeqs.sorted(by: { $0.seq > $1.seq }) {
            newerLines += entry.lines
            beforeSeq = entry.seq
            if newerLines >= depth { break }
        }
        let page = Array(#"{"op":"statement","account":"hot","limit":50,"before_seq":\#(beforeSeq)}"#.utf8)
        let pageMs = try median(5) {
            guard let reply = try admin.call(page, timeoutMilliseconds: 60_000), reply["ok"]?.boolValue == true,
                  (reply["entries"]?.arrayValue?.count ?? 0) >= 50 else {
                throw BenchError.check("deep statement page failed: \(String(describing: try admin.call(page)).prefix(300))")
            }
        }
        // The very first transfer, sent again as it was: the answer is its original receipt.
        var random = SplitMix64(seed: Self.seed(client: 0))
        var (from, to, _) = Requests.randomPair(accountIDs, &random)
        if random.chance(Int(options.hotShare * 100)) {
            if random.chance(50) { from = Self.hotAccount } else { to = Self.hotAccount }
        }
        let old = Requests.transfer(id: Self.requestID(client: 0, batch: 0, item: 0), from: from, to: to, amount: 1)
        let replayMs = try median(5) {
            guard let reply = try admin.call(old, timeoutMilliseconds: 60_000), reply["replayed"]?.boolValue == true
            else { throw BenchError.check("the first transfer's request id was not replayed") }
        }
        report["statement_page_depth"] = newerLines
        report["statement_page_ms"] = pageMs
        report["old_request_id_ms"] = replayMs
        say("  statement page of 50 at depth \(formatInt(newerLines)): \(format(pageMs)) ms; old request id: "
            + "\(format(replayMs)) ms")
    }

    /// Follower restart to in sync; whole-cluster restart (both ledgers killed) to the first answered request;
    /// a wiped follower to in sync. Each ledger's own restore time comes from its log.
    private func measureRestarts(_ cluster: BenchCluster, _ admin: SimpleClient) throws {
        guard let leaderName = admin.status()?.leader, let leader = BenchCluster.Node(rawValue: leaderName) else {
            throw BenchError.check("no leader")
        }
        let follower: BenchCluster.Node = leader == .primary ? .backup : .primary

        var offset = cluster.logSize(follower)
        cluster.kill9(follower)
        var t0 = monoNanos()
        try cluster.start(follower)
        try waitForInSync(follower, logOffset: offset, cluster, admin)
        report["follower_restart_to_in_sync_ms"] = Double(monoNanos() - t0) / 1e6
        report["follower_restore_ms"] = Self.restoreMillis(cluster.log(follower, from: offset)) ?? NSNull()

        let offsets = [leader: cluster.logSize(leader), follower: cluster.logSize(follower)]
        cluster.kill9(leader)
        cluster.kill9(follower)
        t0 = monoNanos()
        try cluster.start(leader)
        try cluster.start(follower)
        let balance = Array(#"{"op":"balance","account":"hot"}"#.utf8)
        try waitFor("a request answered after both ledgers restarted", seconds: 300) {
            (try? admin.call(balance, timeoutMilliseconds: 500))??["ok"]?.boolValue == true
        }
        report["leader_restart_to_serving_ms"] = Double(monoNanos() - t0) / 1e6
        try waitFor("both in sync again", seconds: 300) { admin.status()?.converged(freshMs: 150) == true }
        // Whichever restored first may have been promoted; both restore times, read once both have logged them.
        report["leader_restore_ms"] = Self.restoreMillis(cluster.log(leader, from: offsets[leader]!)) ?? NSNull()
        report["follower_restore_after_both_killed_ms"] =
            Self.restoreMillis(cluster.log(follower, from: offsets[follower]!)) ?? NSNull()

        guard let currentLeader = admin.status()?.leader.flatMap(BenchCluster.Node.init(rawValue:)) else {
            throw BenchError.check("no leader after the restart")
        }
        let wiped: BenchCluster.Node = currentLeader == .primary ? .backup : .primary
        offset = cluster.logSize(wiped)
        cluster.kill9(wiped)
        try FileManager.default.removeItem(atPath: cluster.file.dataRoot + "/" + wiped.rawValue)
        t0 = monoNanos()
        try cluster.start(wiped)
        try waitForInSync(wiped, logOffset: offset, cluster, admin)
        report["wiped_follower_to_in_sync_ms"] = Double(monoNanos() - t0) / 1e6
        report["wiped_follower_installed_checkpoint"] = cluster.log(wiped, from: offset).contains("installed the leader's checkpoint")
        var after = sample(cluster)
        after.removeValue(forKey: "tenth")
        report["after_restarts"] = after
        say("  follower restart → in sync \(formatInt(report["follower_restart_to_in_sync_ms"] as? Double ?? 0)) ms "
            + "(restore \(report["follower_restore_ms"] as? Int ?? -1) ms); both restarted → serving "
            + "\(formatInt(report["leader_restart_to_serving_ms"] as? Double ?? 0)) ms (leader restore "
            + "\(report["leader_restore_ms"] as? Int ?? -1) ms); wiped follower → in sync "
            + "\(formatInt(report["wiped_follower_to_in_sync_ms"] as? Double ?? 0)) ms")
        say("  after: \(describe(after.merging(["tenth": 0, "transfers": 0, "tps": 0.0]) { a, _ in a }))")
    }

    /// A wiped follower brought back while the leader serves a steady load (20,000 transfers/s from 4 connections):
    /// how long until it is the in-sync follower again, and the highest RssAnon it reaches meanwhile — it installs
    /// the leader's checkpoint and copies the history store while it replicates what the load adds, and it must
    /// let go of that history as it goes rather than hold it until the copy is done.
    private func measureWipedFollowerUnderLoad(_ cluster: BenchCluster, _ admin: SimpleClient) throws {
        guard let leader = admin.status()?.leader.flatMap(BenchCluster.Node.init(rawValue:)) else {
            throw BenchError.check("no leader before the wipe under load")
        }
        let wiped: BenchCluster.Node = leader == .primary ? .backup : .primary
        let ratePerSecond = 20_000.0, sockets = 4
        let shared = LoadShared()
        for index in 0..<sockets {
            let worker = PipelineSettings(endpoint: cluster.gatewayEndpoint, accounts: accountIDs, prefix: "wl-",
                                          index: index, window: 1024, ratePerSecond: ratePerSecond / Double(sockets),
                                          timeoutNanos: 30_000_000_000, record: false)
            let context = self.context
            shared.spawn { runPipelinedWorker(context: context, settings: worker, shared: shared) }
        }
        defer { _ = shared.stopAndJoin(timeoutSeconds: 60) }
        sleepSeconds(2)
        let beforeMB = cluster.pids[wiped.rawValue].flatMap(Self.rssAnonMegabytes)
        let offset = cluster.logSize(wiped)
        cluster.kill9(wiped)
        try FileManager.default.removeItem(atPath: cluster.file.dataRoot + "/" + wiped.rawValue)
        let start = shared.snapshot(), t0 = monoNanos()
        try cluster.start(wiped)
        var peakMB = 0
        var restoredAt: UInt64?
        while true {
            if let mb = cluster.pids[wiped.rawValue].flatMap(Self.rssAnonMegabytes) { peakMB = max(peakMB, mb) }
            if restoredAt == nil, cluster.log(wiped, from: offset).contains("state restored in") { restoredAt = monoNanos() }
            if let restoredAt, let status = admin.status(), status.hasLeaderAndFollower(freshMs: 150),
               let age = status.node(wiped.rawValue)?.heartbeatAgeMs, UInt64(age) * 1_000_000 < monoNanos() - restoredAt {
                break
            }
            guard monoNanos() - t0 < 600_000_000_000 else {
                throw BenchError.timeout("the wiped follower did not get in sync under load within 600 s")
            }
            usleep(100_000)
        }
        let elapsedMs = Double(monoNanos() - t0) / 1e6
        let during = shared.snapshot()
        report["wiped_follower_under_load"] = [
            "offered_per_s": ratePerSecond,
            "to_in_sync_ms": elapsedMs,
            "transfers_answered_meanwhile": during.answered - start.answered,
            "errors_meanwhile": during.errors - start.errors,
            "rss_anon_peak_mb": peakMB,
            "rss_anon_before_wipe_mb": beforeMB ?? NSNull(),
            "installed_checkpoint": cluster.log(wiped, from: offset).contains("installed the leader's checkpoint"),
        ] as [String: Any]
        say("  wiped follower under \(formatInt(ratePerSecond)) transfers/s → in sync \(formatInt(elapsedMs)) ms, "
            + "\(formatInt(Double(during.answered - start.answered))) transfers answered meanwhile; its RssAnon peak "
            + "\(peakMB) MB (before the wipe \(beforeMB.map(String.init) ?? "?") MB)")
    }

    // MARK: - Helpers

    /// Waits until the restarted `node` is the in-sync follower by reports it sent after it started (right after a
    /// kill the gateway still shows the dead process's last, fresh-looking report).
    private func waitForInSync(_ node: BenchCluster.Node, logOffset: UInt64, _ cluster: BenchCluster,
                               _ admin: SimpleClient) throws {
        var restoredAt: UInt64 = 0
        try waitFor("\(node) to restore its state", seconds: 600) {
            guard cluster.log(node, from: logOffset).contains("state restored in") else { return false }
            restoredAt = monoNanos()
            return true
        }
        try waitFor("\(node) in sync", seconds: 600) {
            guard let status = admin.status(), status.converged(freshMs: 150),
                  let age = status.node(node.rawValue)?.heartbeatAgeMs else { return false }
            return UInt64(age) * 1_000_000 < monoNanos() - restoredAt
        }
    }

    /// "state restored in N ms" from a ledger's start-up line.
    static func restoreMillis(_ log: String) -> Int? {
        guard let line = log.split(separator: "\n").last(where: { $0.contains("state restored in") }),
              let range = line.range(of: "state restored in ") else { return nil }
        return Int(line[range.upperBound...].prefix { $0.isNumber })
    }

    static func rssAnonMegabytes(pid: Int32) -> Int? {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("RssAnon:") }),
              let kilobytes = Int(line.split(separator: " ").dropFirst().first { !$0.isEmpty } ?? "") else { return nil }
        return kilobytes / 1024
    }

    static func megabytes(in directory: String) -> Int {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        let bytes = files.reduce(UInt64(0)) { total, name in
            let size = (try? FileManager.default.attributesOfItem(atPath: directory + "/" + name))?[.size] as? NSNumber
            return total + (size?.uint64Value ?? 0)
        }
        return Int(bytes >> 20)
    }

    private func median(_ runs: Int, _ body: () throws -> Void) throws -> Double {
        var times: [Double] = []
        for _ in 0..<runs {
            let start = monoNanos()
            try body()
            times.append(Double(monoNanos() - start) / 1e6)
        }
        return times.sorted()[runs / 2]
    }

    private func waitFor(_ what: String, seconds: Double, _ condition: () throws -> Bool) throws {
        let deadline = monoNanos() + UInt64(seconds * 1e9)
        while monoNanos() < deadline {
            if try condition() { return }
            usleep(20_000)
        }
        throw BenchError.timeout(what)
    }

    /// Puts the results under "history" in report.json, keeping what the other phases wrote.
    private func mergeIntoReport() throws {
        var whole: [String: Any] = [:]
        if let data = try? Data(contentsOf: options.reportURL),
           let existing = try? JSONSerialization.jsonObject(with: data) as? [String: Any] {
            whole = existing
        }
        report["measured_at"] = ISO8601DateFormatter().string(from: Date())
        whole["history"] = report
        let data = try JSONSerialization.data(withJSONObject: whole, options: [.prettyPrinted, .sortedKeys])
        try data.write(to: options.reportURL)
        say("report: \(options.reportURL.path) (\"history\")")
    }
}

/// What the history phase's client threads report to the main thread.
final class HistoryProgress: Sendable {
    let done = Atomic<Int>(0)
    let hotLines = Atomic<Int>(0)
    let failures = Mutex<[String]>([])
    /// The seq of every batch that moved the hot account, with how many of its lines it wrote.
    let hotSeqs = Mutex<[(seq: Int64, lines: Int)]>([])
}
