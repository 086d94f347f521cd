import SeededRandom
import Storage
import Testing

@Suite struct JournalRecordTests {
    /// The expected hash was computed outside Swift (Python's hashlib over the documented layout), so this pins the
    /// format itself, not just encode/decode agreeing with each other.
    @Test func hashMatchesTheDocumentedLayout() {
        let record = JournalRecord(epoch: 3, seq: 1, prevHash: .zero, payload: Array("hello".utf8))
        #expect(record.hash.hex == "3d8846bbd6506d7344dad6aa5a44e04aa02e0ae69dc22fc83ad85c459ad46922")
        let bytes = record.encoded
        #expect(bytes.count == record.encodedCount)
        #expect(bytes.count == JournalRecord.overheadByteCount + 5)
        #expect(Array(bytes[0..<4]) == Array("BKJ1".utf8))
        #expect(Array(bytes[4..<8]) == [93, 0, 0, 0]) // total length, little-endian
        #expect(Array(bytes[8..<16]) == [3, 0, 0, 0, 0, 0, 0, 0])
        #expect(Array(bytes[16..<24]) == [1, 0, 0, 0, 0, 0, 0, 0])
        #expect(Array(bytes[56..<61]) == Array("hello".utf8))
        #expect(Array(bytes[61...]) == record.hash.bytes)
        #expect(record.isSelfConsistent)
    }

    @Test func encodeDecodeRoundTrip() throws {
        for record in makeChain(count: 5, epoch: 9, payloadSize: { [0, 1, 100, 5000, 7][$0] }) {
            var buffer: [UInt8] = [1, 2, 3] // decode must work from a slice that does not start at index 0
            record.encode(into: &buffer)
            buffer.append(contentsOf: [9, 9])
            let result = JournalRecord.decode(buffer[3...])
            #expect(result == .record(record, byteCount: record.encodedCount))
            #expect(JournalRecord.decode(record.encoded) == .record(record, byteCount: record.encodedCount))
        }
    }

    @Test func everyFlippedByteIsDetected() {
        let record = JournalRecord(epoch: 2, seq: 7, prevHash: makeChain(count: 1)[0].hash, payload: [1, 2, 3, 4])
        let bytes = record.encoded
        for index in bytes.indices {
            var damaged = bytes
            damaged[index] ^= 0x40
            let result = JournalRecord.decode(damaged)
            if case .record = result {
                Issue.record("flipping byte \(index) went unnoticed")
            }
        }
    }

    @Test func everyPrefixIsIncomplete() {
        let bytes = JournalRecord(epoch: 1, seq: 1, prevHash: .zero, payload: [5, 6, 7]).encoded
        for count in 0..<bytes.count {
            #expect(JournalRecord.decode(bytes[0..<count]) == .incomplete, "prefix of \(count) bytes")
        }
    }

    @Test func impossibleLengthsAreCorrupt() {
        var bytes = JournalRecord(epoch: 1, seq: 1, prevHash: .zero, payload: []).encoded
        bytes.replaceSubrange(4..<8, with: [10, 0, 0, 0]) // shorter than the header
        guard case .corrupt = JournalRecord.decode(bytes) else { Issue.record("short length accepted"); return }
        let tooBig = UInt32(JournalRecord.overheadByteCount + JournalRecord.maxPayloadByteCount + 1)
        withUnsafeBytes(of: tooBig.littleEndian) { bytes.replaceSubrange(4..<8, with: $0) }
        guard case .corrupt = JournalRecord.decode(bytes) else { Issue.record("oversized length accepted"); return }
        guard case .corrupt = JournalRecord.decode([0x42, 0x4B, 0x00]) else {
            Issue.record("a wrong magic prefix must be corrupt, not incomplete")
            return
        }
    }

    @Test func verifyFalseSkipsTheHashCheck() {
        let record = JournalRecord(epoch: 1, seq: 1, prevHash: .zero, payload: [1, 2, 3])
        var bytes = record.encoded
        bytes[JournalRecord.headerByteCount] = 99
        guard case .corrupt = JournalRecord.decode(bytes, verify: true) else { Issue.record("not detected"); return }
        guard case let .record(unverified, _) = JournalRecord.decode(bytes, verify: false) else {
            Issue.record("decode without verification failed")
            return
        }
        #expect(unverified.payload == [99, 2, 3])
        #expect(!unverified.isSelfConsistent)
    }

    @Test func randomBytesNeverTrap() {
        var random = SplitMix64(seed: 42)
        let valid = JournalRecord(epoch: 1, seq: 1, prevHash: .zero, payload: [1]).encoded
        for round in 0..<5000 {
            var bytes = (0..<Int(random.next() % 200)).map { _ in UInt8.random(in: 0...255, using: &random) }
            if round % 2 == 0 { bytes.replaceSubrange(0..<min(4, bytes.count), with: valid[0..<min(4, bytes.count)]) }
            if case .record = JournalRecord.decode(bytes) { Issue.record("random bytes decoded as a record") }
        }
    }

    @Test func chainHelpers() {
        let chain = makeChain(count: 3)
        #expect(chain[1].follows(chain[0]))
        #expect(chain[2].follows(chain[1]))
        #expect(!chain[2].follows(chain[0]))
        let other = makeChain(count: 2, salt: 1)
        #expect(!other[1].follows(chain[0])) // same seq, wrong prevHash
        let olderEpoch = JournalRecord(epoch: 0, seq: 2, prevHash: chain[0].hash, payload: [])
        #expect(!olderEpoch.follows(chain[0]))
    }

    @Test func batchRoundTrip() throws {
        let records = makeChain(count: 50, after: 10, hash: makeChain(count: 1)[0].hash, epoch: 4,
                                payloadSize: { $0 * 3 })
        let bytes = JournalRecord.encodeBatch(records)
        #expect(try JournalRecord.decodeBatch(bytes) == records)
        #expect(try JournalRecord.decodeBatch([0, 0, 0, 0]) == [])
    }

    @Test func badBatchesThrow() {
        let records = makeChain(count: 5)
        let bytes = JournalRecord.encodeBatch(records)
        #expect(throws: BinaryReadError.self) { try JournalRecord.decodeBatch(Array(bytes.dropLast(1))) }
        #expect(throws: BinaryReadError.self) { try JournalRecord.decodeBatch(bytes + [0]) }
        #expect(throws: BinaryReadError.self) { try JournalRecord.decodeBatch([0xFF, 0xFF, 0xFF, 0xFF, 1, 2]) }
        var damaged = bytes
        damaged[4 + JournalRecord.headerByteCount] ^= 1 // first record's payload
        #expect(throws: BinaryReadError.self) { try JournalRecord.decodeBatch(damaged) }
        // Records that are each valid but do not form one chain.
        let gap = JournalRecord.encodeBatch([records[0], records[2]])
        let error = #expect(throws: BinaryReadError.self) { try JournalRecord.decodeBatch(gap) }
        #expect(error?.description.contains("does not continue") == true)
    }
}
