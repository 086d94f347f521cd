import ArgumentParser
import Cluster
import Foundation
import Simulation

/// `make simulate`: runs seeds of the deterministic simulation and reports, or replays one seed verbosely.
@main
struct BankSim: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bank-sim",
        abstract: "Deterministic simulation of the cluster protocol under faults.")

    @Option(help: "Replay this one seed, printing every event.")
    var seed: UInt64?

    @Option(help: "How many seeds to run.")
    var seeds: UInt64 = 500

    @Option(help: "The first seed.")
    var first: UInt64 = 1

    @Option(help: "Break a rule on purpose: \(InjectedBugs.named.map(\.0).joined(separator: ", ")).")
    var bug: [String] = []

    @Flag(help: "Print every event (implied by --seed).")
    var verbose = false

    @Flag(help: "Load alone: bursts and network noise, no crash, pause or partition; any leader change fails the seed.")
    var loadOnly = false

    @Flag(help: "Model the old drivers: control messages wait in the same queue as data.")
    var fifoControl = false

    @Flag(help: "Model the old gateway: no admission bounds, no forward window.")
    var unboundedGateway = false

    @Option(help: "Requests in one burst fault.")
    var burstRequests = SimulationOptions(seed: 0).burstRequests

    func options(seed: UInt64, bugs: InjectedBugs) -> SimulationOptions {
        var options = SimulationOptions(seed: seed)
        options.burstRequests = burstRequests
        options.injectedBugs = bugs
        options.loadOnly = loadOnly
        options.controlFirst = !fifoControl
        options.unboundedGateway = unboundedGateway
        return options
    }

    func run() throws {
        var bugs: InjectedBugs = []
        for name in bug {
            guard let match = InjectedBugs.named.first(where: { $0.0 == name }) else {
                throw ValidationError("unknown bug '\(name)'")
            }
            bugs.insert(match.1)
        }
        if let seed {
            var options = options(seed: seed, bugs: bugs)
            options.verbose = true
            switch Simulator(options: options).run() {
            case let .success(stats):
                print("seed \(seed) passed: \(stats.events) events, \(stats.leaderChanges) leader changes, "
                      + "\(stats.acknowledgedWrites) acknowledged writes")
            case let .failure(failure):
                print("FAILED \(failure)")
                throw ExitCode(1)
            }
            return
        }
        let started = Date()
        var total = SimulationStats()
        var lastReport = Date()
        for offset in 0..<seeds {
            let seed = first + offset
            CrashReporter.current = seed
            var options = options(seed: seed, bugs: bugs)
            options.verbose = verbose
            switch Simulator(options: options).run() {
            case let .success(stats):
                total.merge(stats)
            case let .failure(failure):
                print("FAILED \(failure)")
                fflush(nil)
                throw ExitCode(1)
            }
            if Date().timeIntervalSince(lastReport) >= 20 {
                lastReport = Date()
                print("… \(offset + 1)/\(seeds) seeds, \(Int(Double(offset + 1) / Date().timeIntervalSince(started))) seeds/s")
                fflush(nil) // through a pipe stdout is block-buffered: progress must show while the run lasts
            }
        }
        let elapsed = Date().timeIntervalSince(started)
        print("\(seeds) seeds passed (\(first)…\(first + seeds - 1)) in \(String(format: "%.1f", elapsed)) s, "
              + "\(String(format: "%.0f", Double(seeds) / elapsed)) seeds/s")
        print("events \(total.events), virtual time \(total.virtualNanos / 1_000_000_000) s, leader changes "
              + "\(total.leaderChanges), acknowledged writes \(total.acknowledgedWrites), refused \(total.refusedWrites), "
              + "overloaded replies \(total.overloadedReplies), "
              + "restarts from a checkpoint \(total.checkpointRestores), checkpoints installed from the leader "
              + "\(total.checkpointInstalls), history batches \(total.archiveBatches) (\(total.archiveBatchesWhileCopying) while "
              + "copying), history copies "
              + "\(total.historyCopies), history lookups \(total.historyLookups) (found \(total.historyHits))")
        print("faults: " + total.faults.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
    }
}
