import Storage
import Testing

@Suite struct BinaryCodingTests {
    @Test func roundTrip() throws {
        var writer = BinaryWriter()
        writer.write(UInt8(0xAB))
        writer.write(UInt16(0xBEEF))
        writer.write(UInt32(0xDEAD_BEEF))
        writer.write(UInt64.max - 1)
        writer.write(Int64(-42))
        writer.write(true)
        writer.writeString16("grüß dich")
        writer.writeString32("")
        writer.writeBytes32([9, 8, 7])
        writer.write(bytes: [1, 2])
        let record = makeChain(count: 1)[0]
        writer.write(record.hash)
        writer.write(record)
        #expect(Array(writer.bytes[1..<3]) == [0xEF, 0xBE]) // little-endian

        var reader = BinaryReader(writer.bytes)
        #expect(try reader.readU8() == 0xAB)
        #expect(try reader.readU16() == 0xBEEF)
        #expect(try reader.readU32() == 0xDEAD_BEEF)
        #expect(try reader.readU64() == UInt64.max - 1)
        #expect(try reader.readI64() == -42)
        #expect(try reader.readBool() == true)
        #expect(try reader.readString16() == "grüß dich")
        #expect(try reader.readString32() == "")
        #expect(try reader.readBytes32() == [9, 8, 7])
        #expect(try reader.readBytes(count: 2) == [1, 2])
        #expect(try reader.readHash() == record.hash)
        #expect(try reader.readRecord() == record)
        #expect(reader.isAtEnd)
        try reader.expectEnd()
    }

    @Test func shortInputThrowsForEveryReader() throws {
        let cases: [(String, (inout BinaryReader) throws -> Void)] = [
            ("u8", { _ = try $0.readU8() }),
            ("u16", { _ = try $0.readU16() }),
            ("u32", { _ = try $0.readU32() }),
            ("u64", { _ = try $0.readU64() }),
            ("i64", { _ = try $0.readI64() }),
            ("hash", { _ = try $0.readHash() }),
            ("bytes", { _ = try $0.readBytes(count: 1) }),
            ("string16", { _ = try $0.readString16() }),
            ("record", { _ = try $0.readRecord() }),
        ]
        for (name, read) in cases {
            var reader = BinaryReader([UInt8]())
            #expect(throws: BinaryReadError.self, "\(name) on empty input") { try read(&reader) }
        }
        var reader = BinaryReader([1, 2, 3])
        #expect(throws: BinaryReadError.shortInput(offset: 0, needed: 4, available: 3)) { try reader.readU32() }
        #expect(try reader.readU16() == 0x0201) // a failed read consumes nothing
    }

    @Test func lengthFieldsAreCheckedBeforeAllocating() {
        var writer = BinaryWriter()
        writer.write(UInt32.max) // claims 4 GiB follow
        var reader = BinaryReader(writer.bytes)
        #expect(throws: BinaryReadError.self) { try reader.readBytes32() }
        var negative = BinaryReader([1, 2, 3])
        #expect(throws: BinaryReadError.self) { try negative.readBytes(count: -1) }
    }

    @Test func malformedInputThrows() {
        var utf8 = BinaryReader([2, 0, 0xC3, 0x28])
        #expect(throws: BinaryReadError.invalidUTF8(offset: 2)) { try utf8.readString16() }
        var boolean = BinaryReader([7])
        #expect(throws: BinaryReadError.self) { try boolean.readBool() }
        var trailing = BinaryReader([1, 2])
        _ = try? trailing.readU8()
        #expect(throws: BinaryReadError.trailingBytes(offset: 1, count: 1)) { try trailing.expectEnd() }
    }

    @Test func readsFromASliceWithItsOwnIndices() throws {
        let bytes: [UInt8] = [0xFF, 0xFF, 5, 0, 1, 2, 3, 4, 5]
        var reader = BinaryReader(bytes[2...])
        #expect(try reader.readU16() == 5)
        #expect(reader.offset == 2)
        #expect(try reader.readSlice(count: 5) == [1, 2, 3, 4, 5])
        #expect(reader.isAtEnd)
    }
}
