import Foundation
import Testing
@testable import Storage

/// Checkpoint files: written whole or not at all, verified on load, the newest usable one chosen, three kept.
@Suite struct CheckpointFileTests {
    static func position(_ seq: UInt64) -> CheckpointFile.Position {
        CheckpointFile.Position(seq: seq, epoch: 2, hash: makeChain(count: 1, salt: UInt8(seq % 256))[0].hash)
    }

    /// A body of `count` bytes derived from `seq`, written in pieces of 1,000.
    static func write(_ directory: TemporaryDirectory, seq: UInt64, count: Int = 5_000) throws {
        let body = (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ Int(seq)) }
        try CheckpointFile.write(in: directory.path, at: position(seq)) { put in
            for start in stride(from: 0, to: body.count, by: 1_000) {
                try body[start..<min(body.count, start + 1_000)].withUnsafeBytes(put)
            }
        }
    }

    static func loadNewest(_ directory: TemporaryDirectory) throws -> (UInt64, [UInt8], [String])? {
        var logged: [String] = []
        let loaded = try CheckpointFile.loadNewest(in: directory.path, logger: { logged.append($0) }) {
            position, body in (position, Array(body))
        }
        return loaded.map { ($0.0.seq, $0.1, logged) }
    }

    static func path(_ directory: TemporaryDirectory, seq: UInt64) -> String {
        CheckpointFile.directory(in: directory.path) + "/" + CheckpointFile.fileName(seq: seq)
    }

    @Test func aCheckpointReadsBackWithItsPosition() throws {
        let directory = try TemporaryDirectory()
        #expect(try Self.loadNewest(directory) == nil, "none yet")
        try Self.write(directory, seq: 42)
        var seen: CheckpointFile.Position?
        let body = try CheckpointFile.loadNewest(in: directory.path, logger: { _ in }) { position, body in
            seen = position
            return Array(body)
        }
        #expect(seen == Self.position(42))
        #expect(body == (0..<5_000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 42) })
    }

    @Test func aCheckpointOfSeveralWriteBackPiecesReadsBackWhole() throws {
        let directory = try TemporaryDirectory()
        let count = Int(CheckpointFile.flushIntervalBytes) * 3 + 12_345
        try Self.write(directory, seq: 7, count: count)
        let loaded = try #require(try Self.loadNewest(directory))
        #expect(loaded.0 == 7)
        #expect(loaded.1 == (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) })
    }

    @Test func aStagedCheckpointOfSeveralWriteBackPiecesInstallsWhole() throws {
        let directory = try TemporaryDirectory()
        // A whole checkpoint file as a leader would stream it: written, then read back as bytes.
        let source = try TemporaryDirectory()
        let count = Int(CheckpointFile.flushIntervalBytes) * 2 + 777
        try Self.write(source, seq: 9, count: count)
        let file = try Array(Data(contentsOf: URL(fileURLWithPath: Self.path(source, seq: 9))))
        for start in stride(from: 0, to: file.count, by: 300_000) {
            try CheckpointFile.stage(in: directory.path, offset: UInt64(start),
                                     bytes: Array(file[start..<min(file.count, start + 300_000)]))
        }
        let body = try CheckpointFile.installStaged(in: directory.path, at: Self.position(9)) { _, body in Array(body) }
        #expect(body == (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 9) })
        #expect(try Self.loadNewest(directory)?.0 == 9)
    }

    @Test func onlyTheNewestThreeAreKeptAndTemporaryFilesGo() throws {
        let directory = try TemporaryDirectory()
        let leftover = CheckpointFile.directory(in: directory.path) + "/checkpoint-00000000000000000009.tmp"
        try FileManager.default.createDirectory(atPath: CheckpointFile.directory(in: directory.path),
                                                withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: leftover, contents: Data([1, 2, 3]))
        for seq in [10, 20, 30, 40, 50] as [UInt64] { try Self.write(directory, seq: seq) }
        #expect(try CheckpointFile.seqs(in: directory.path) == [50, 40, 30])
        #expect(!FileManager.default.fileExists(atPath: leftover), "a torn write's temporary file is removed")
        #expect(try Self.loadNewest(directory)?.0 == 50)
    }

    @Test(arguments: ["flip", "truncate", "empty"])
    func aDamagedNewestCheckpointFallsBackToThePreviousOne(damage: String) throws {
        let directory = try TemporaryDirectory()
        try Self.write(directory, seq: 100)
        try Self.write(directory, seq: 200)
        let newest = Self.path(directory, seq: 200)
        var bytes = Array(try Data(contentsOf: URL(fileURLWithPath: newest)))
        switch damage {
        case "flip": bytes[bytes.count / 2] ^= 0x40
        case "truncate": bytes.removeLast(bytes.count / 3)
        default: bytes = []
        }
        try Data(bytes).write(to: URL(fileURLWithPath: newest))
        let loaded = try #require(try Self.loadNewest(directory))
        #expect(loaded.0 == 100)
        #expect(loaded.2.count == 1 && loaded.2[0].contains("checkpoint-00000000000000000200.ckpt"),
                "the damaged file is reported: \(loaded.2)")
    }

    @Test func aCheckpointTheReaderRejectsFallsBackToo() throws {
        let directory = try TemporaryDirectory()
        try Self.write(directory, seq: 1)
        try Self.write(directory, seq: 2)
        var logged: [String] = []
        let seq = try CheckpointFile.loadNewest(in: directory.path, logger: { logged.append($0) }) { position, _ in
            guard position.seq == 1 else { throw StorageError.invalidContent(path: "x", reason: "not in the journal") }
            return position.seq
        }
        #expect(seq == 1 && logged.count == 1)
    }

    @Test func theCommitFloorIsStoredDurablyAndRead() throws {
        let directory = try TemporaryDirectory()
        #expect(try CommitFloorFile.load(directory: directory.path) == nil)
        try CommitFloorFile.store(123_456, directory: directory.path)
        #expect(try CommitFloorFile.load(directory: directory.path) == 123_456)
        try directory.writeFile(Array("garbage".utf8), CommitFloorFile.fileName)
        #expect(throws: StorageError.self) { try CommitFloorFile.load(directory: directory.path) }
    }
}
