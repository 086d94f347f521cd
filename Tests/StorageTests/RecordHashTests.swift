import Storage
import Testing

@Suite struct RecordHashTests {
    @Test func bytesRoundTripInOrder() throws {
        let bytes = (0..<32).map { UInt8($0) }
        let hash = try #require(RecordHash(bytes: bytes))
        #expect(hash.bytes == bytes)
        #expect(hash.hexPrefix == "0001020304050607")
        #expect(hash.description == "0001020304050607")
        #expect(hash.hex == bytes.map { String(format2: $0) }.joined())
        var buffer: [UInt8] = [0xAA]
        hash.append(to: &buffer)
        #expect(buffer == [0xAA] + bytes)
    }

    @Test func nonContiguousCollectionsWork() throws {
        let fromRange = try #require(RecordHash(bytes: UInt8(0)..<UInt8(32)))
        let fromArray = try #require(RecordHash(bytes: Array(UInt8(0)..<UInt8(32))))
        #expect(fromRange == fromArray)
    }

    @Test func wrongByteCountsAreRejected() {
        #expect(RecordHash(bytes: [UInt8](repeating: 1, count: 31)) == nil)
        #expect(RecordHash(bytes: [UInt8](repeating: 1, count: 33)) == nil)
        #expect(RecordHash(bytes: [UInt8]()) == nil)
    }

    @Test func zeroIsAllZeroBytes() {
        #expect(RecordHash.zero.bytes == [UInt8](repeating: 0, count: 32))
        #expect(RecordHash.zero.hexPrefix == "0000000000000000")
    }
}

extension String {
    init(format2 byte: UInt8) {
        let digits = Array("0123456789abcdef")
        self = String([digits[Int(byte >> 4)], digits[Int(byte & 15)]])
    }
}
