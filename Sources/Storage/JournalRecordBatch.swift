/// Many records in one buffer, for shipping a stretch of the journal in one network message.
///
/// Format: `count u32 | record | record | …`, each record in its journal encoding. The receiver can write the
/// record bytes to its own journal as they are (`FileJournal.appendEncoded`), since they are the on-disk encoding.
extension JournalRecord {
    /// Encodes `records` as a batch.
    public static func encodeBatch(_ records: [JournalRecord]) -> [UInt8] {
        var writer = BinaryWriter(reservingCapacity: 4 + records.reduce(0) { $0 + $1.encodedCount })
        writeBatch(records, to: &writer)
        return writer.bytes
    }

    /// Appends `records` as a batch to `writer` (to embed one in a larger message).
    public static func writeBatch(_ records: [JournalRecord], to writer: inout BinaryWriter) {
        precondition(records.count <= Int(UInt32.max), "batch of \(records.count) records is too large")
        writer.write(UInt32(records.count))
        for record in records {
            record.encode(into: &writer.bytes)
        }
    }

    /// Decodes a whole buffer made by `encodeBatch`, verifying every record's hash and that the records form one
    /// chain (consecutive seqs, each `prevHash` the hash before, epochs not decreasing). Bytes off the network
    /// therefore cannot make a journal's `append` precondition trip inside the batch; whether the first record
    /// continues the receiver's journal is the receiver's check. Throws on anything else, including trailing bytes.
    public static func decodeBatch(_ bytes: ArraySlice<UInt8>) throws(BinaryReadError) -> [JournalRecord] {
        var reader = BinaryReader(bytes)
        let records = try readBatch(from: &reader)
        try reader.expectEnd()
        return records
    }

    /// Decodes a whole buffer made by `encodeBatch`; see the `ArraySlice` variant.
    public static func decodeBatch(_ bytes: [UInt8]) throws(BinaryReadError) -> [JournalRecord] {
        try decodeBatch(bytes[...])
    }

    /// Reads a batch written by `writeBatch` from `reader`, with the checks of `decodeBatch`.
    public static func readBatch(from reader: inout BinaryReader) throws(BinaryReadError) -> [JournalRecord] {
        let start = reader.offset
        let count = Int(try reader.readU32())
        // A hostile count must not reserve gigabytes: each record takes at least `overheadByteCount` bytes.
        guard count <= reader.remaining / overheadByteCount else {
            throw .malformed(offset: start, reason: "batch claims \(count) records but only \(reader.remaining) bytes follow")
        }
        var records: [JournalRecord] = []
        records.reserveCapacity(count)
        for _ in 0..<count {
            let offset = reader.offset
            let record = try reader.readRecord(verify: true)
            if let previous = records.last, !record.follows(previous) {
                throw .malformed(offset: offset, reason: "record seq \(record.seq) (epoch \(record.epoch)) does not "
                    + "continue seq \(previous.seq) (epoch \(previous.epoch), hash \(previous.hash)) in the batch")
            }
            records.append(record)
        }
        return records
    }
}
