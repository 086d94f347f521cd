import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A ledger whose disk fills up: the leader stops leading and acknowledging, the gateway fails over, nothing
/// acknowledged is lost, and once space returns the ledger rebuilds itself from disk and rejoins.
///
/// The leader's data directory is a tmpfs of a few megabytes that the test mounts (root only: elsewhere the test is
/// skipped with its reason) and fills with a file.
@Suite(.serialized) struct DiskFullTests {
    static var canMountTmpfs: Bool { getuid() == 0 }

    /// Run with every receipt in memory, and with the history archive (its LevelDB store on the full disk too).
    @Test(.enabled(if: DiskFullTests.canMountTmpfs, "mounting a size-limited tmpfs needs root"),
          arguments: [.off, .window(10)] as [ClusterHarness.Archive])
    func aFullDiskMovesLeadershipAndLosesNothing(archive: ClusterHarness.Archive) throws {
        let harness = try ClusterHarness(archive: archive)
        let leaderDirectory = harness.dataDirectory(of: .primary)
        try FileManager.default.createDirectory(atPath: leaderDirectory, withIntermediateDirectories: true)
        try Self.run("/bin/mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", leaderDirectory)
        defer {
            harness.stopAll()
            _ = try? Self.run("/bin/umount", "-l", leaderDirectory)
        }
        try harness.startAll()
        let admin = try harness.client(.operator)
        #expect(try harness.waitForLeader(client: admin) == "primary", "the fresh cluster elects the primary")
        let load = harness.transferLoad()
        try load.setUp()
        try harness.waitForConvergence(client: admin)
        let threads = load.start(clients: 3)
        try harness.waitUntil("transfers flowing") { load.acknowledgedCount >= 100 }
        let epoch = try harness.epoch(client: admin)

        // Fill the leader's disk to the last byte.
        let filler = leaderDirectory + "/filler"
        Self.fill(filler)
        try harness.waitForEpoch(after: epoch, client: admin)
        try harness.waitUntil("the backup to lead") { (try? harness.waitForLeader(client: admin, seconds: 1)) == "backup" }
        try harness.waitUntil("the primary to say its storage failed") {
            harness.log(of: .primary).contains("storage failed")
        }
        let reached = load.acknowledgedCount
        try harness.waitUntil("transfers to go on on the backup") { load.acknowledgedCount >= reached + 100 }
        #expect(harness.isRunning(.primary), "a full disk does not end the process")

        // Space returns: the primary rebuilds itself from disk and catches up.
        try FileManager.default.removeItem(atPath: filler)
        try harness.waitUntil("the primary to rebuild itself") {
            harness.log(of: .primary).contains("the disk works again")
        }
        try harness.waitForConvergence(client: admin, seconds: 40)
        try load.stop(threads)
        #expect(load.unknownCount == 0, "clients saw \(load.unknownCount) timeouts or unavailable replies")
        try load.verifyBooks()
        let errors = harness.log(of: .primary).split(separator: "\n").filter { $0.contains("storage failed") }
        #expect(errors.count <= 2, "one clear error per failure, not a flood: \(errors.count)")
    }

    /// Writes until the file system is full.
    static func fill(_ path: String) {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { return }
        defer { close(fd) }
        let chunk = [UInt8](repeating: 0xAB, count: 64 << 10)
        var size = chunk.count
        while size > 0 {
            let written = chunk.withUnsafeBytes { write(fd, $0.baseAddress, size) }
            if written < 0 { size /= 2 } // ENOSPC: try smaller pieces until not even one byte fits
        }
    }

    @discardableResult
    static func run(_ executable: String, _ arguments: String...) throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw HarnessError.noReply("\(executable) \(arguments.joined(separator: " ")) exited \(process.terminationStatus)")
        }
        return process.terminationStatus
    }
}
