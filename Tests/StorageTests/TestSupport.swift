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

    var journalPath: String { path + "/" + FileJournal.fileName }

    func fileBytes(_ name: String = FileJournal.fileName) throws -> [UInt8] {
        Array(try Data(contentsOf: URL(fileURLWithPath: path + "/" + name)))
    }

    func writeFile(_ bytes: [UInt8], _ name: String = FileJournal.fileName) throws {
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
