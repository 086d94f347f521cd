import Foundation
import Storage
import Testing

@Suite struct MetadataTests {
    @Test func aFreshDirectoryHasNoMetadata() throws {
        let directory = try TemporaryDirectory()
        #expect(try MetadataFile.load(directory: directory.path) == nil)
    }

    @Test func storeLoadRoundTripAndOverwrite() throws {
        let directory = try TemporaryDirectory()
        // A data id above 2^53 must survive JSON exactly.
        let first = NodeMetadata(dataID: 0xFEDC_BA98_7654_3211, epoch: 0, leader: nil)
        try MetadataFile.store(first, directory: directory.path)
        #expect(try MetadataFile.load(directory: directory.path) == first)

        let second = NodeMetadata(dataID: first.dataID, epoch: 7, leader: "backup")
        try MetadataFile.store(second, directory: directory.path)
        #expect(try MetadataFile.load(directory: directory.path) == second)
        let names = try FileManager.default.contentsOfDirectory(atPath: directory.path)
        #expect(names == ["meta.json"]) // no temporary file left behind
    }

    @Test func unreadableMetadataThrowsWithThePath() throws {
        let directory = try TemporaryDirectory()
        try directory.writeFile(Array("{\"epoch\": ".utf8), "meta.json")
        let error = #expect(throws: StorageError.self) { try MetadataFile.load(directory: directory.path) }
        #expect(error?.description.contains(directory.path + "/meta.json") == true)
    }

    @Test func durableFileRoundTrip() throws {
        let directory = try TemporaryDirectory()
        let path = directory.path + "/state.bin"
        #expect(try DurableFile.read(path: path) == nil)
        try DurableFile.write([1, 2, 3], to: path)
        #expect(try DurableFile.read(path: path) == [1, 2, 3])
        let big = (0..<100_000).map { UInt8(truncatingIfNeeded: $0) }
        try DurableFile.write(big, to: path)
        #expect(try DurableFile.read(path: path) == big)
        try DurableFile.write([], to: path)
        #expect(try DurableFile.read(path: path) == [])
        #expect(!FileManager.default.fileExists(atPath: path + ".tmp"))
    }

    @Test func durableFileErrorsCarryStrerror() throws {
        let directory = try TemporaryDirectory()
        let path = directory.path + "/missing/state.bin"
        let error = #expect(throws: StorageError.self) { try DurableFile.write([1], to: path) }
        #expect(error == .systemCall("open", path: path + ".tmp", errno: ENOENT))
        #expect(error?.description.contains("No such file or directory") == true)
    }
}
