import Cluster
import Foundation
import Testing
@testable import Simulation

/// The simulator runs the real protocol code; these tests show it is deterministic, that correct code passes, and
/// that it catches each rule we break on purpose. (`make test` also runs 500 seeds of the release build.)
@Suite struct SimulationTests {
    @Test func aSeedReplaysExactly() throws {
        var options = SimulationOptions(seed: 42)
        options.faultPhaseNanos = 1_500_000_000
        let first = Simulator(options: options)
        let second = Simulator(options: options)
        let a = try first.run().get()
        let b = try second.run().get()
        #expect(a.events == b.events && a.virtualNanos == b.virtualNanos && a.faults == b.faults)
        #expect(first.trace.lines() == second.trace.lines())
        #expect(a.acknowledgedWrites > 50, "the run did real work")
    }

    @Test(arguments: [7, 8, 9] as [UInt64])
    func correctCodeKeepsEveryInvariant(seed: UInt64) throws {
        var options = SimulationOptions(seed: seed)
        options.faultPhaseNanos = 2_000_000_000
        let stats = try Simulator(options: options).run().get()
        #expect(stats.acknowledgedWrites > 0)
        #expect(!stats.faults.isEmpty)
    }

    /// Load alone — bursts far beyond what the gateway admits, every message costing its receiver virtual time —
    /// never costs a leader, never reconfigures the cluster, and every burst request gets a definite answer
    /// (the simulator fails the seed otherwise).
    @Test(arguments: [1, 2, 3] as [UInt64])
    func loadAloneNeverChangesTheLeader(seed: UInt64) throws {
        var options = SimulationOptions(seed: seed)
        options.loadOnly = true
        options.faultPhaseNanos = 2_000_000_000
        let stats = try Simulator(options: options).run().get()
        #expect(stats.faults["burst", default: 0] > 0)
        #expect(stats.overloadedReplies > 0, "the bursts never went beyond the admission bounds")
        #expect(stats.leaderChanges == 0 && stats.burstUnavailableReplies == 0)
        #expect(stats.acknowledgedWrites > 0)
    }

    /// The check can fail: with the old drivers (control messages queued behind data) and the old gateway (no
    /// admission, no forward window), a burst delays heartbeats past the failure timeout and the leader changes.
    @Test func theOldDesignLosesTheLeaderToABurst() throws {
        var options = SimulationOptions(seed: 1)
        options.loadOnly = true
        options.faultPhaseNanos = 2_000_000_000
        options.controlFirst = false
        options.unboundedGateway = true
        options.burstRequests = 12_000
        guard case let .failure(failure) = Simulator(options: options).run() else {
            Issue.record("a burst of 12,000 requests went unnoticed by the old design's model")
            return
        }
        #expect(failure.invariant.contains("load alone"), "\(failure.invariant)")
    }

    /// Seeds that found bugs in the real code, replayed exactly as `make simulate SEED=x` runs them.
    /// 50971: a follower kept its match from an older epoch under the same leader, and committed a record that
    /// leader never had. 2000238: a leader whose appends to a partitioned follower went unanswered probed it at its
    /// last match, which checkpoints had meanwhile put below the journal's floor (a record no longer read: the leader
    /// stopped on an assertion); it now sends the checkpoint. 2136102: a follower that completed its store copy while
    /// a batch was being gathered went on gathering from where it was, past items that the new watermark had let
    /// leave memory meanwhile: the batch's lines of an account had a gap (an assertion in the codec); a batch now
    /// leaves out what the store holds.
    @Test(arguments: [50971, 2_000_238, 2_136_102] as [UInt64])
    func seedsThatFoundBugsStayFixed(seed: UInt64) throws {
        let stats = try Simulator(options: SimulationOptions(seed: seed)).run().get()
        #expect(stats.acknowledgedWrites > 0)
    }

    /// Each broken rule is caught within a bounded number of seeds: by a simulator invariant, or by the state
    /// machines' own assertions stopping the process (which is what they are for).
    @Test(arguments: InjectedBugs.named.map(\.0))
    func theSimulatorCatchesABrokenRule(bug: String) throws {
        let output = try runSimulator(["--bug", bug, "--seeds", "40", "--first", "1"])
        #expect(output.status != 0, "bug \(bug) went unnoticed for 40 seeds:\n\(output.text.suffix(2000))")
        let named = output.text.contains("FAILED seed") || output.text.contains("failed assertion while running seed")
        #expect(named, "the failure does not name its seed:\n\(output.text.suffix(2000))")
    }

    private func runSimulator(_ arguments: [String]) throws -> (status: Int32, text: String) {
        var url = URL(fileURLWithPath: CommandLine.arguments.first ?? ".").deletingLastPathComponent()
        for _ in 0..<4 where !FileManager.default.isExecutableFile(atPath: url.appendingPathComponent("bank-sim").path) {
            url.deleteLastPathComponent()
        }
        let process = Process()
        process.executableURL = url.appendingPathComponent("bank-sim")
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}
