import Foundation

extension BenchRunner {
    // MARK: - report.json (Foundation, off the hot path)

    func writeReport() throws {
        let file = cluster?.file
        var report: [String: Any] = [
            "started_at": ISO8601DateFormatter().string(from: startedAt),
            "duration_s": Date().timeIntervalSince(startedAt),
            "machine": machine(),
            "settings": [
                "quick": settings.quick,
                "inflight": settings.inflight,
                "sockets": settings.sockets,
                "throughput_s": settings.throughputSeconds,
                "warmup_s": settings.warmupSeconds,
                "batch_s": settings.batchSeconds,
                "batch_size": settings.batchSize,
                "batch_inflight": settings.batchInflight,
                "latency_s": settings.latencySeconds,
                "failover_kill_after_s": settings.killAfter,
                "failover_down_s": settings.downSeconds,
                "failover_after_sync_s": settings.afterSeconds,
                "failover_window_s": settings.failoverWindowSeconds,
                "failover_sockets": settings.failoverSockets,
                "failover_rate": (results.failover["offered_rate"] as? Double) ?? NSNull(),
                "overload_s": settings.overloadSeconds,
                "overload_multiples": settings.overloadMultiples,
                "overload_sockets": settings.overloadSockets,
                "overload_clients_back_off": !settings.overloadNoBackoff,
                "overload_reference": settings.overloadReference,
                "failover_admission_factor": file?.failoverAdmissionFactor ?? NSNull(),
                "max_inflight_requests": file?.maxInflightRequests ?? NSNull(),
                "max_inflight_requests_per_client": file?.maxInflightRequestsPerClient ?? NSNull(),
                "max_forwarded_requests": file?.maxForwardedRequests ?? NSNull(),
                "archive_receipt_window": file?.archiveReceiptWindow ?? NSNull(),
                "metrics": file?.metrics ?? NSNull(),
                "checkpoint_interval_mutations": file.map { Int($0.checkpointIntervalMutations) } ?? NSNull(),
                "accounts": settings.accounts,
                "initial_balance": settings.initialBalance,
                "client_timeout_ms": settings.timeoutMs,
                "heartbeat_interval_ms": file.map { Int($0.heartbeatIntervalMilliseconds) } ?? NSNull(),
                "failure_timeout_ms": file.map { Int($0.failureTimeoutMilliseconds) } ?? NSNull(),
                "request_deadline_ms": file.map { Int($0.requestDeadlineMilliseconds) } ?? NSNull(),
                "port_base": file?.portBase ?? NSNull(),
            ] as [String: Any],
            "single_tps": results.singleTPS ?? NSNull(),
            "batch_tps": results.batchTPS ?? NSNull(),
            "latency_ms": results.latency ?? NSNull(),
            "latency_samples": results.latencyCount,
            "latency_errors": results.latencyErrors,
            "failover": results.failover.isEmpty ? NSNull() : results.failover,
            "catchup": results.catchup.isEmpty ? NSNull() : results.catchup,
            "overload": results.overload,
            "overload_reference": results.overloadReference ?? NSNull(),
            "rss_anon_unloaded_kb": results.rssAnonUnloadedKB,
            // The replication rate once the restarted ledger is up; its restart is reported apart (catchup.*).
            "catchup_records_per_s": results.catchup["replication_records_per_s"] ?? NSNull(),
            "kills": results.kills,
            "unexpected_epoch_changes": results.unexpectedEpochChanges ?? NSNull(),
            "leader_changes": results.leaderChanges ?? NSNull(),
            "false_failovers": results.leaderChanges.map { Int($0) - results.kills } ?? NSNull(),
            "money_checks": results.moneyChecks.map {
                ["after": $0.phase, "total": $0.total, "expected": $0.expected, "ok": $0.total == $0.expected] as [String: Any]
            },
            "money_ok": !results.moneyChecks.isEmpty && results.moneyChecks.allSatisfy { $0.total == $0.expected },
            "error_samples": results.errorSamples.filter { !$0.value.isEmpty },
            "failure": results.failure ?? NSNull(),
        ]
        report["cpu_cores_by_phase"] = results.cpu
        report["wait_for_healthy_cluster_ms_before_phase"] = results.recoveryWaitsMs
        report["machine_probe_by_phase"] = probe.summary()
        report["max_heartbeat_age_ms_by_phase"] = monitor.maxHeartbeatAge.withLock { $0 }
        report["max_status_round_trip_ms_by_phase"] = monitor.maxStatusRoundTripMs.withLock { $0 }
        if let batchLatency = results.batchLatencyMs { report["batch_round_trip_ms"] = batchLatency }
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        report["leader_timeline"] = monitor.changes.withLock { $0 }.map { change -> [String: Any] in
            if let event = change.event {
                return ["t_s": change.seconds, "wall": formatter.string(from: change.wall), "phase": change.phase,
                        "bench_action": event]
            }
            return ["t_s": change.seconds, "wall": formatter.string(from: change.wall), "phase": change.phase,
                    "epoch": change.epoch, "leader": change.leader ?? NSNull(), "leader_changes": change.leaderChanges]
        }
        if let s = results.single { report["single"] = counts(s, cpu: results.singleCPU) }
        if let s = results.batch { report["batch"] = counts(s, cpu: results.batchCPU) }
        if let cluster {
            report["gateway_events"] = cluster.logLines(.gateway, containing: ["lost", "promoting", "electing", "leads epoch",
                                                                             "in sync", "stalled", "restarted"])
        }
        // The history phase (`make bench-history`) writes its own section; keep it.
        let url = directory.appendingPathComponent("report.json")
        if let data = try? Data(contentsOf: url),
           let previous = try? JSONSerialization.jsonObject(with: data) as? [String: Any], let history = previous["history"] {
            report["history"] = history
        }
        let data = try JSONSerialization.data(withJSONObject: report, options: [.prettyPrinted, .sortedKeys])
        try data.write(to: url)
    }

    private func counts(_ s: LoadShared.Snapshot, cpu: Double?) -> [String: Any] {
        ["sent": s.sent, "ok": s.ok, "refused": s.refused, "errors": s.errors, "timeouts": s.timeouts,
         "late_replies": s.late, "bench_cpu_cores": cpu ?? NSNull()]
    }

    private func machine() -> [String: Any] {
        var info: [String: Any] = ["cores": ProcessInfo.processInfo.activeProcessorCount,
                                   "load_average_at_start": loadAtStart,
                                   "load_average_at_end": Self.loadAverage()]
        if let cpuinfo = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
           let line = cpuinfo.split(separator: "\n").first(where: { $0.hasPrefix("model name") }),
           let colon = line.firstIndex(of: ":") {
            info["cpu"] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        info["memory_gb"] = Double(ProcessInfo.processInfo.physicalMemory) / 1_073_741_824
        info["os"] = ProcessInfo.processInfo.operatingSystemVersionString
        return info
    }

    // MARK: - The table

    func printTable() {
        func ms(_ value: Double?) -> String { value.map { format($0) + " ms" } ?? "-" }
        func verdict(_ ok: Bool?) -> String { ok.map { $0 ? "met" : "MISSED" } ?? "-" }
        var rows: [(String, String, String, String)] = []
        let single = results.singleTPS
        rows.append(("single transfers/s (\(settings.inflight) in flight)", single.map(formatInt) ?? "-", "≥ 50,000",
                     verdict(single.map { $0 >= 50_000 })))
        let batch = results.batchTPS
        rows.append(("batched transfers/s (\(settings.batchSize)/batch)", batch.map(formatInt) ?? "-", "≥ 250,000",
                     verdict(batch.map { $0 >= 250_000 })))
        let lat = results.latency
        rows.append(("latency p50", ms(lat?["p50"]), "≤ 0.6 ms", verdict(lat?["p50"].map { $0 <= 0.6 })))
        rows.append(("latency p90", ms(lat?["p90"]), "", ""))
        rows.append(("latency p99", ms(lat?["p99"]), "≤ 2 ms", verdict(lat?["p99"].map { $0 <= 2 })))
        rows.append(("latency p99.9", ms(lat?["p999"]), "", ""))
        rows.append(("latency max", ms(lat?["max"]), "", ""))
        let gap = results.failover["gap_ms"] as? Double
        rows.append(("failover gap (longest, no acknowledgement)", ms(gap), "≤ 300 ms", verdict(gap.map { $0 <= 300 })))
        rows.append(("  of which the gap at the kill", ms(results.failover["kill_gap_ms"] as? Double), "", ""))
        let failed = results.failover["failed_requests"] as? Int
        rows.append(("failover failed requests", failed.map(String.init) ?? "-", "0", verdict(failed.map { $0 == 0 })))
        rows.append(("failover p99 (kill → +2 s)", ms(results.failover["p99_ms"] as? Double), "", ""))
        let catchup = results.catchup["replication_records_per_s"] as? Double
        rows.append(("catch-up records/s (once restarted)", catchup.map(formatInt) ?? "-", "≥ 200,000",
                     verdict(catchup.map { $0 >= 200_000 })))
        rows.append(("catch-up records/s, restart included",
                     (results.catchup["records_per_s_including_restart"] as? Double).map(formatInt) ?? "-", "", ""))
        rows.append(("catch-up: time until in sync", ms(results.catchup["time_to_sync_ms"] as? Double), "", ""))
        let restartPerMillion = results.catchup["restart_ms_per_million_records"] as? Double
        rows.append(("restart: state rebuild per 1M records (under load)", ms(restartPerMillion), "≤ 2 s",
                     verdict(restartPerMillion.map { $0 <= 2000 })))
        if let reference = results.overloadReference {
            // A failover during the reference would distort it.
            let unavailable = reference["unavailable"] as? Int
            let changes = reference["leader_changes"] as? Int64
            rows.append(("overload reference 1×: unavailable; leader changes",
                         "\(unavailable.map(String.init) ?? "-"); \(changes.map { String($0) } ?? "-")", "0; 0",
                         verdict(unavailable.flatMap { u in changes.map { u == 0 && $0 == 0 } })))
        }
        for step in results.overload {
            let multiple = format((step["multiple"] as? Double) ?? 0, decimals: 0) + "×"
            let atMax = (step["multiple"] as? Double) == settings.overloadMultiples.max()
            let share = step["goodput_of_capacity"] as? Double
            rows.append(("overload \(multiple): goodput of capacity", share.map { format($0 * 100, decimals: 0) + " %" } ?? "-",
                         atMax ? "≥ 90 %" : "", atMax ? verdict(share.map { $0 >= 0.9 }) : ""))
            let p99 = step["p99_ms"] as? Double
            rows.append(("overload \(multiple): p99 of accepted", ms(p99), atMax ? "≤ 50 ms" : "",
                         atMax ? verdict(p99.map { $0 <= 50 }) : ""))
            let unavailable = step["unavailable"] as? Int
            let changes = step["leader_changes"] as? Int64
            rows.append(("overload \(multiple): unavailable; leader changes",
                         "\(unavailable.map(String.init) ?? "-"); \(changes.map { String($0) } ?? "-")", "0; 0",
                         verdict(unavailable.flatMap { u in changes.map { u == 0 && $0 == 0 } })))
            if let peak = step["rss_anon_peak_kb"] as? [String: Int], let gateway = peak["gateway"] {
                rows.append(("overload \(multiple): gateway RssAnon peak", formatInt(Double(gateway) / 1024) + " MB",
                             "≤ 300 MB", verdict(gateway <= 300 * 1024)))
                if let reference = results.overloadReference?["rss_anon_peak_kb"] as? [String: Int] {
                    let ratios = ["primary", "backup"].compactMap { name -> Double? in
                        guard let kb = peak[name], let base = reference[name], base > 0 else { return nil }
                        return Double(kb) / Double(base)
                    }
                    rows.append(("overload \(multiple): ledgers' RssAnon peak / at 1×",
                                 ratios.map { format($0, decimals: 2) + "×" }.joined(separator: "; "), "≤ 1.10×",
                                 verdict(ratios.count == 2 ? ratios.allSatisfy { $0 <= 1.10 } : nil)))
                }
            }
        }
        let falseFailovers = results.leaderChanges.map { Int($0) - results.kills }
        rows.append(("false failovers", falseFailovers.map(String.init) ?? "-", "0",
                     verdict(falseFailovers.map { $0 == 0 })))
        rows.append(("new epochs not caused by the bench", results.unexpectedEpochChanges.map { String($0) } ?? "-", "", ""))
        let moneyOK = results.moneyChecks.allSatisfy { $0.total == $0.expected }
        rows.append(("money checks", "\(results.moneyChecks.filter { $0.total == $0.expected }.count)/"
                     + "\(results.moneyChecks.count) passed", "all", verdict(results.moneyChecks.isEmpty ? nil : moneyOK)))

        let widths = [rows.map(\.0.count).max()!, rows.map(\.1.count).max()!, rows.map(\.2.count).max()!, 6]
        func pad(_ s: String, _ width: Int, right: Bool = false) -> String {
            let fill = String(repeating: " ", count: max(0, width - s.count))
            return right ? fill + s : s + fill
        }
        let rule = "+" + widths.map { String(repeating: "-", count: $0 + 2) }.joined(separator: "+") + "+"
        say("\n" + rule)
        say("| " + pad("metric", widths[0]) + " | " + pad("result", widths[1], right: true) + " | "
            + pad("target", widths[2]) + " | " + pad("", widths[3]) + " |")
        say(rule)
        for row in rows {
            say("| " + pad(row.0, widths[0]) + " | " + pad(row.1, widths[1], right: true) + " | " + pad(row.2, widths[2])
                + " | " + pad(row.3, widths[3]) + " |")
        }
        say(rule)
        var notes: [String] = []
        if let s = results.single {
            notes.append("throughput: \(formatInt(s.ok)) ok, \(formatInt(s.refused)) insufficient_funds, \(s.errors) errors, "
                         + "\(s.timeouts) timeouts; bench used \(format(results.singleCPU ?? 0, decimals: 2)) cores")
        }
        if let s = results.batch {
            notes.append("batch: \(formatInt(s.ok)) ok, \(formatInt(s.refused)) insufficient_funds, \(s.errors) errors, "
                         + "\(s.timeouts) timeouts; bench used \(format(results.batchCPU ?? 0, decimals: 2)) cores")
        }
        if !results.failover.isEmpty {
            let f = results.failover
            notes.append("failover: offered \(formatInt((f["offered_rate"] as? Double) ?? 0))/s, achieved "
                         + "\(formatInt((f["achieved_rate"] as? Double) ?? 0))/s; new leader seen "
                         + "\(format((f["new_leader_seen_ms"] as? Double) ?? 0, decimals: 0)) ms after the kill; gap at the kill "
                         + "\(format((f["kill_gap_ms"] as? Double) ?? 0, decimals: 1)) ms; "
                         + "\(f["errors"] ?? 0) errors, \(f["timeouts"] ?? 0) timeouts")
        }
        if let records = results.catchup["records"] as? Int64 {
            var line = "catch-up: \(formatInt(Int(records))) records behind at restart"
            if let rebuild = results.catchup["state_rebuild_ms"] as? Int { line += ", its state rebuilt in \(rebuild) ms" }
            if let up = results.catchup["up_after_restart_ms"] as? Double,
               let rate = results.catchup["replication_records_per_s"] as? Double,
               let replicated = results.catchup["replication_records"] as? Int64 {
                line += "; first heard \(format(up, decimals: 0)) ms after the restart, then \(formatInt(Int(replicated))) "
                    + "records replicated at \(formatInt(rate))/s"
            }
            notes.append(line)
        }
        if let reference = results.overloadReference?["rss_anon_peak_kb"] as? [String: Int] {
            notes.append("overload reference, 1× once the windows filled: RssAnon peak \(describeRSS(reference)), goodput "
                         + "\(formatInt((results.overloadReference?["goodput_per_s"] as? Double) ?? 0))/s")
        }
        for step in results.overload {
            let peak = (step["rss_anon_peak_kb"] as? [String: Int]) ?? [:]
            notes.append("overload \(format((step["multiple"] as? Double) ?? 0, decimals: 0))×: offered "
                         + "\(formatInt((step["offered_per_s"] as? Double) ?? 0))/s, sent \(formatInt((step["sent_per_s"] as? Double) ?? 0))/s, "
                         + "goodput \(formatInt((step["goodput_per_s"] as? Double) ?? 0))/s, p50 "
                         + "\(format((step["p50_ms"] as? Double) ?? 0, decimals: 2)) ms, overloaded \(step["overloaded"] ?? 0), "
                         + "timeouts \(step["timeouts"] ?? 0), RssAnon peak \(describeRSS(peak)) (unloaded "
                         + "\(describeRSS(results.rssAnonUnloadedKB)))")
        }
        notes.append("machine: \(ProcessInfo.processInfo.activeProcessorCount) cores, load average \(loadAtStart) at start, "
                     + "\(Self.loadAverage()) at end")
        for note in notes { say("  " + note) }
        say("  report: \(directory.appendingPathComponent("report.json").path); logs: \(directory.path)/*.log")
    }
}
