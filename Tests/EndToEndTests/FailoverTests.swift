import BankProtocol
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Process-level fault tests: real gateway and ledgers, transfers from several clients, one fault each.
/// Every test ends with the same checks: every acknowledged transfer applied exactly once, no refused one applied,
/// money conserved, no balance below its limit, and both journals converged to the same hash.
@Suite(.serialized) struct FailoverTests {
    /// Starts a cluster, waits for two in-sync ledgers, runs `fault` while transfers flow, then checks everything.
    /// - Parameter clientsSeeNoErrors: the fault must show clients nothing but a delay (no timeout, no
    ///   `unavailable`).
    func scenario(clientsSeeNoErrors: Bool = true, checkpointIntervalRecords: Int = 200_000,
                  archive: ClusterHarness.Archive = .asShipped,
                  _ fault: (ClusterHarness, BankClient, TransferLoad) throws -> Void) throws {
        let harness = try ClusterHarness(checkpointIntervalRecords: checkpointIntervalRecords,
                                         archive: archive)
        try harness.runUnderLoad(clientsSeeNoErrors: clientsSeeNoErrors, fault)
    }

    func waitForProgress(_ load: TransferLoad, _ harness: ClusterHarness, atLeast count: Int) throws {
        try harness.waitForProgress(load, atLeast: count)
    }

    static func leader(_ admin: BankClient, _ harness: ClusterHarness) throws -> ClusterHarness.Node {
        ClusterHarness.Node(rawValue: try harness.waitForLeader(client: admin))!
    }

    static func follower(of leader: ClusterHarness.Node) -> ClusterHarness.Node {
        leader == .primary ? .backup : .primary
    }

    @Test func killingTheLeaderLosesNothing() throws {
        try scenario { harness, admin, _ in
            let leader = try Self.leader(admin, harness)
            harness.kill9(leader)
            try harness.waitUntil("a new leader") { (try? harness.waitForLeader(client: admin, seconds: 1)) == Self.follower(of: leader).rawValue }
            try harness.start(leader)
        }
    }

    /// Checkpoints every 100 records: the killed ledgers come back from their newest checkpoint plus the journal
    /// after it, rejoin, and the books still check out; the leader's loss shows clients nothing but a delay.
    @Test func ledgersRestartFromTheirCheckpoints() throws {
        try scenario(checkpointIntervalRecords: 100) { harness, admin, load in
            try waitForProgress(load, harness, atLeast: 400)
            let leader = try Self.leader(admin, harness)
            let follower = Self.follower(of: leader)
            try harness.waitUntil("a checkpoint on each ledger") {
                [leader, follower].allSatisfy { harness.log(of: $0).contains("written:") }
            }
            harness.kill9(follower)
            try harness.start(follower)
            try harness.waitForConvergence(client: admin, seconds: 40)
            let followerRestored = try Self.restartLine(of: follower, harness)
            #expect(!followerRestored.contains("checkpoint at seq 0,"),
                    "restored from a checkpoint: \(followerRestored)\n\(harness.log(of: follower).suffix(3000))")
            harness.kill9(leader)
            try harness.waitUntil("the follower takes over") {
                (try? harness.waitForLeader(client: admin, seconds: 1)) == follower.rawValue
            }
            try harness.start(leader)
            try harness.waitForConvergence(client: admin, seconds: 40)
            let restored = try Self.restartLine(of: leader, harness)
            #expect(!restored.contains("checkpoint at seq 0,"), "restored from a checkpoint: \(restored)")
            let checkpoints = try CheckpointFileCount.count(in: harness.dataDirectory(of: leader))
            #expect((1...3).contains(checkpoints), "at most three checkpoints are kept, found \(checkpoints)")
        }
    }

    /// A follower whose disk was wiped comes back empty, below the leader's floor: it gets the leader's checkpoint
    /// while transfers go on, becomes the in-sync follower, and then takes over from the killed leader with every
    /// acknowledged transfer (the scenario's checks replay every acknowledged request id on it).
    ///
    /// Run twice: with every receipt in memory, and with the idempotency archive (receipts beyond the newest 10
    /// leave memory for the history store): the wiped follower then also copies the leader's store before it is
    /// recorded in sync, and after the failover it answers old request ids from it.
    @Test(arguments: [.off, .window(10)] as [ClusterHarness.Archive])
    func aWipedFollowerIsBroughtUpFromTheLeadersCheckpointAndCanTakeOver(archive: ClusterHarness.Archive) throws {
        try scenario(checkpointIntervalRecords: 100, archive: archive) { harness, admin, load in
            try waitForProgress(load, harness, atLeast: 300)
            let leader = try Self.leader(admin, harness)
            let follower = Self.follower(of: leader)
            harness.kill9(follower)
            try FileManager.default.removeItem(atPath: harness.dataDirectory(of: follower))
            let reached = load.acknowledgedCount
            try harness.waitUntil("writes to go on without the follower") { load.acknowledgedCount >= reached + 200 }
            // The floor moves once two checkpoints are kept: then the empty follower is below it.
            try harness.waitUntil("two checkpoints on the leader") {
                harness.log(of: leader).components(separatedBy: "written:").count > 2
            }
            try harness.start(follower)
            try harness.waitForConvergence(client: admin, seconds: 40)
            #expect(harness.log(of: follower).contains("installed the leader's checkpoint"),
                    "caught up by a checkpoint:\n\(harness.log(of: follower).suffix(3000))")
            if case .window = archive {
                #expect(harness.log(of: follower).contains("the copy of the leader's history store is complete"),
                        "copied the leader's history:\n\(harness.log(of: follower).suffix(3000))")
            }
            harness.kill9(leader)
            try harness.waitUntil("the once-wiped follower takes over") {
                (try? harness.waitForLeader(client: admin, seconds: 1)) == follower.rawValue
            }
            try harness.start(leader)
        }
    }

    /// The start-up line of the ledger's second start, which says where its state came from.
    static func restartLine(of node: ClusterHarness.Node, _ harness: ClusterHarness) throws -> String {
        var lines: [Substring] = []
        try harness.waitUntil("\(node)'s restart line in its log") {
            lines = harness.log(of: node).split(separator: "\n").filter { $0.contains("state restored in") }
            return lines.count >= 2
        }
        return String(lines[1])
    }

    @Test func aPausedLeaderIsReplacedAndNeverAcknowledgesAgain() throws {
        try scenario { harness, admin, _ in
            let leader = try Self.leader(admin, harness)
            harness.signal(leader, SIGSTOP)
            try harness.waitUntil("the follower to take over") {
                (try? harness.waitForLeader(client: admin, seconds: 1)) == Self.follower(of: leader).rawValue
            }
            harness.signal(leader, SIGCONT)
        }
    }

    @Test func aKilledFollowerCatchesUpAfterRestart() throws {
        try scenario { harness, admin, load in
            let follower = Self.follower(of: try Self.leader(admin, harness))
            harness.kill9(follower)
            let reached = load.acknowledgedCount
            try harness.waitUntil("writes to go on without the follower") { load.acknowledgedCount >= reached + 100 }
            try harness.start(follower)
            try harness.waitForConvergence(client: admin, seconds: 40)
        }
    }

    @Test func restartingTheGatewayKeepsTheLeader() throws {
        // Requests in flight inside the killed gateway are lost with it: those clients time out and retry.
        try scenario(clientsSeeNoErrors: false) { harness, admin, _ in
            let leader = try Self.leader(admin, harness)
            harness.kill9(.gateway)
            try harness.start(.gateway)
            #expect(try Self.leader(admin, harness) == leader)
        }
    }

    @Test func killingTheLeaderRightAfterTheOldOneRestarted() throws {
        // With no in-sync copy for a moment, writes wait (and may time out) until a ledger returns.
        try scenario(clientsSeeNoErrors: false) { harness, admin, load in
            let first = try Self.leader(admin, harness)
            let second = Self.follower(of: first)
            harness.kill9(first)
            try harness.waitUntil("\(second) to lead") { (try? harness.waitForLeader(client: admin, seconds: 1)) == second.rawValue }
            // Before the old leader has caught up: writes stop until it is back, nothing is lost.
            try harness.start(first)
            harness.kill9(second)
            try harness.start(second)
            try harness.waitForConvergence(client: admin, seconds: 40)
            // After it has caught up: a clean failover.
            let leader = try Self.leader(admin, harness)
            let reached = load.acknowledgedCount
            try harness.waitUntil("more transfers") { load.acknowledgedCount >= reached + 30 }
            harness.kill9(leader)
            try harness.start(leader)
        }
    }

    @Test func switchoverUnderLoadFailsNoRequest() throws {
        try scenario { harness, admin, _ in
            let leader = try Self.leader(admin, harness)
            let reply = try admin.call(["op": "switchover"])
            #expect(reply.isOK, "\(reply)")
            #expect(reply["leader"]?.stringValue == Self.follower(of: leader).rawValue)
        }
    }
}

enum CheckpointFileCount {
    static func count(in dataDirectory: String) throws -> Int {
        try FileManager.default.contentsOfDirectory(atPath: dataDirectory + "/checkpoints")
            .filter { $0.hasSuffix(".ckpt") }.count
    }
}
