import Foundation
import Histogram

extension BenchRunner {
    /// Offered load at several multiples of the measured single-transfer throughput, each for `overloadSeconds`,
    /// from `overloadSockets` pipelined connections at a fixed rate. Requests answered `overloaded` are not
    /// retried (they are counted); the connection that got one sends nothing for its `retry_after_ms`, as the
    /// protocol asks, and what falls due meanwhile is counted as shed (`--overload-no-backoff`: keep flooding). Measures goodput (ok + refused per second),
    /// p50/p99 of accepted requests from their send, the `overloaded` and `unavailable` counts, leader changes,
    /// and each process's RssAnon (peak, sampled every 250 ms).
    func overloadPhase() throws {
        guard let cluster, let admin else { return }
        enter("overload")
        let capacity = max(1000, results.singleTPS ?? 10_000)
        let multiples = settings.overloadMultiples.map { format($0, decimals: 0) + "×" }.joined(separator: ", ")
        say("\n[5/6] overload: \(multiples) the measured \(formatInt(capacity)) transfers/s offered over "
            + "\(settings.overloadSockets) DEALER sockets, \(format(settings.overloadSeconds, decimals: 0)) s each")
        let unloaded = rssAnonKB(cluster.pids)
        results.rssAnonUnloadedKB = unloaded
        say("  RssAnon unloaded: " + describeRSS(unloaded))
        // The reference: what each process holds under load at capacity, once its windows (history not yet in the
        // store, the store's batch, a checkpoint being written, the forwarding and replication windows) have
        // filled. Memory climbs for a while under any sustained load, so the first step at 1× only fills them and
        // the second is the reference; overload must not cost more than 10% beyond it.
        if settings.overloadReference {
            say("  reference: 1× (the measured capacity) for \(format(settings.overloadSeconds, decimals: 0)) s to fill "
                + "the windows, then \(format(settings.overloadSeconds, decimals: 0)) s measured")
            _ = try overloadStep(0, multiple: 1, label: "1× (filling the windows)", capacity: capacity)
            try waitHealthy(before: "overload reference")
            results.overloadReference = try overloadStep(1, multiple: 1, label: "1× (reference)", capacity: capacity)
            try waitHealthy(before: "overload")
        }
        for (step, multiple) in settings.overloadMultiples.enumerated() {
            if step > 0 { try waitHealthy(before: "overload \(format(multiple, decimals: 0))x") }
            let entry = try overloadStep(step + 2, multiple: multiple, label: format(multiple, decimals: 0) + "×",
                                         capacity: capacity)
            results.overload.append(entry)
        }
    }

    /// One step of the overload phase: `multiple` × `capacity` offered for `overloadSeconds`; its report entry.
    private func overloadStep(_ step: Int, multiple: Double, label: String, capacity: Double) throws -> [String: Any] {
        guard let cluster, let admin else { throw BenchError.check("overload: no cluster") }
        do {
            guard let before = admin.status() else { throw BenchError.check("overload: no status before the step") }
            let offered = capacity * multiple
            let shared = LoadShared()
            activeLoad = shared
            let perSocket = offered / Double(settings.overloadSockets)
            for index in 0..<settings.overloadSockets {
                // The window only keeps the client from queueing without bound; the gateway's admission bounds
                // (256 per connection) are what refuse.
                let worker = PipelineSettings(endpoint: cluster.gatewayEndpoint, accounts: accountIDs,
                                              prefix: "o\(step)-", index: index, window: 2048,
                                              ratePerSecond: perSocket, timeoutNanos: settings.timeoutNanos,
                                              record: true, latencyFromSend: true,
                                              backOffOnOverload: !settings.overloadNoBackoff)
                let context = self.context
                shared.spawn { runPipelinedWorker(context: context, settings: worker, shared: shared) }
            }
            sleepSeconds(settings.warmupSeconds)
            let start = shared.snapshot(), t0 = monoNanos()
            let end = t0 + UInt64(settings.overloadSeconds * 1e9)
            var peakRSS = rssAnonKB(cluster.pids)
            var nextProgress = t0 + 1_000_000_000
            var last = start, tLast = t0
            while monoNanos() < end {
                usleep(250_000)
                for (name, kb) in rssAnonKB(cluster.pids) { peakRSS[name] = max(peakRSS[name] ?? 0, kb) }
                let now = monoNanos()
                if now >= nextProgress {
                    nextProgress += 1_000_000_000
                    let snap = shared.snapshot()
                    let seconds = Double(now - tLast) / 1e9
                    say("  overload \(label) \(format(Double(now - t0) / 1e9, decimals: 1)) s: "
                        + "sent \(formatInt(Double(snap.sent - last.sent) / seconds))/s, "
                        + "goodput \(formatInt(Double(snap.answered - last.answered) / seconds))/s, "
                        + "overloaded \(formatInt(Double(snap.overloaded - last.overloaded) / seconds))/s, "
                        + "shed by back-off \(formatInt(Double(snap.shed - last.shed) / seconds))/s, "
                        + "unavailable \(snap.unavailable - start.unavailable), timeouts \(snap.timeouts - start.timeouts)")
                    last = snap
                    tLast = now
                }
            }
            let final = shared.snapshot(), t1 = monoNanos()
            guard shared.stopAndJoin(timeoutSeconds: settings.drainSeconds) else {
                throw BenchError.timeout("overload load threads did not finish")
            }
            activeLoad = nil
            let drained = shared.snapshot()
            let after = admin.status()
            let elapsed = Double(t1 - t0) / 1e9
            var histogram = Histogram<UInt64>(lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000_000,
                                              numberOfSignificantValueDigits: .three)
            for worker in shared.results.withLock({ $0 }) {
                for i in worker.starts.indices where worker.ends[i] >= t0 && worker.ends[i] <= t1 {
                    histogram.record(worker.ends[i] &- worker.starts[i])
                }
            }
            let goodput = Double(final.answered - start.answered) / elapsed
            let p50 = Double(histogram.valueAtPercentile(50)) / 1e6, p99 = Double(histogram.valueAtPercentile(99)) / 1e6
            let leaderChanges = after.map { $0.leaderChanges - before.leaderChanges }
            let epochChanges = after.map { $0.epoch - before.epoch }
            var entry: [String: Any] = [
                "multiple": multiple,
                "offered_per_s": offered,
                "sent_per_s": Double(final.sent - start.sent) / elapsed,
                "goodput_per_s": goodput,
                "goodput_of_capacity": goodput / capacity,
                "p50_ms": p50,
                "p99_ms": p99,
                "max_ms": Double(histogram.max) / 1e6,
                "accepted": Int(histogram.totalCount),
                // Over the whole step, warm-up and drain included.
                "overloaded": drained.overloaded,
                "unavailable": drained.unavailable,
                "other_errors": drained.errors - drained.overloaded - drained.unavailable,
                "timeouts": drained.timeouts,
                "shed_by_client_backoff": drained.shed,
                "clients_back_off": !settings.overloadNoBackoff,
                "rss_anon_peak_kb": peakRSS,
            ]
            entry["leader_changes"] = leaderChanges ?? NSNull()
            entry["epoch_changes"] = epochChanges ?? NSNull()
            results.errorSamples["overload \(label)"] = shared.errorSamples.withLock { $0 }
            say("  → \(label): goodput \(formatInt(goodput))/s "
                + "(\(format(goodput / capacity * 100, decimals: 0))% of capacity), accepted p50 \(format(p50, decimals: 2)) ms, "
                + "p99 \(format(p99, decimals: 2)) ms; overloaded \(formatInt(drained.overloaded)), unavailable "
                + "\(drained.unavailable), timeouts \(drained.timeouts), leader changes "
                + "\(leaderChanges.map { String($0) } ?? "?"); RssAnon peak " + describeRSS(peakRSS))
            return entry
        }
    }

    /// Each cluster process's RssAnon (anonymous resident memory), kB, from /proc/PID/status.
    func rssAnonKB(_ pids: [String: Int32]) -> [String: Int] {
        var sizes: [String: Int] = [:]
        for (name, pid) in pids {
            guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
                  let line = text.split(separator: "\n").first(where: { $0.hasPrefix("RssAnon:") }),
                  let kb = Int(line.split(whereSeparator: { $0 == " " || $0 == "\t" }).dropFirst().first ?? "")
            else { continue }
            sizes[name] = kb
        }
        return sizes
    }

    func describeRSS(_ sizes: [String: Int]) -> String {
        sizes.sorted { $0.key < $1.key }.map { "\($0.key) \(formatInt(Double($0.value) / 1024)) MB" }
            .joined(separator: ", ")
    }
}
