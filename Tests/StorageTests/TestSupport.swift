import Foundation
import Storage

/// A fresh directory under the system temporary directory, removed when the test is done with it.
final class TemporaryDirectory {
    let path: String

    init() throws {
        path = FileManager.default.temporaryDirectory
            .appendingPathComponent("storage-tests-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    /// The journal's first segment (seq 1 on).
    static let firstSegment = "journal/segment-00000000000000000001.dat"
    var journalPath: String { path + "/" + Self.firstSegment }
    /// Segment files start with a header; the tests below look at the records after it.
    static let segmentHeaderBytes = 64

    /// The records' bytes in the first segment (after its header).
    func journalBytes() throws -> [UInt8] {
        Array(try fileBytes(Self.firstSegment).dropFirst(Self.segmentHeaderBytes))
    }

    /// Replaces the first segment's records (its header kept as a fresh journal writes it).
    func writeJournal(_ records: [UInt8]) throws {
        try FileManager.default.createDirectory(atPath: path + "/journal", withIntermediateDirectories: true)
        try writeFile(Self.emptySegmentHeader + records, Self.firstSegment)
    }

    /// The header of a segment that starts at seq 1.
    static let emptySegmentHeader: [UInt8] = {
        var bytes: [UInt8] = []
        for word in [UInt32(0x4753_4B42), 1] { withUnsafeBytes(of: word.littleEndian) { bytes.append(contentsOf: $0) } }
        for word in [UInt64(1), 0] { withUnsafeBytes(of: word.littleEndian) { bytes.append(contentsOf: $0) } }
        bytes += [UInt8](repeating: 0, count: 32 + 8)
        return bytes
    }()

    func fileBytes(_ name: String) throws -> [UInt8] {
        Array(try Data(contentsOf: URL(fileURLWithPath: path + "/" + name)))
    }

    func writeFile(_ bytes: [UInt8], _ name: String) throws {
        try Data(bytes).write(to: URL(fileURLWithPath: path + "/" + name))
    }
}


/// `count` records continuing after (`seq`, `hash`), all in `epoch`; payload `i` is `payloadSize(i)` bytes derived
/// from `salt`, so two chains with different salts differ everywhere.
func makeChain(count: Int, after seq: UInt64 = 0, hash: RecordHash = .zero, epoch: UInt64 = 1, salt: UInt8 = 0,
               payloadSize: (Int) -> Int = { _ in 20 }) -> [JournalRecord] {
    var records: [JournalRecord] = []
    var previous = hash
    for index in 0..<count {
        let nextSeq = seq + UInt64(index) + 1
        let payload = (0..<payloadSize(index)).map { UInt8(truncatingIfNeeded: $0 &+ Int(nextSeq) &* 7) ^ salt }
        let record = JournalRecord(epoch: epoch, seq: nextSeq, prevHash: previous, payload: payload)
        records.append(record)
        previous = record.hash
    }
    return records
}

func encodeAll(_ records: [JournalRecord]) -> [UInt8] {
    var bytes: [UInt8] = []
    for record in records { record.encode(into: &bytes) }
    return bytes
}
