import Foundation
import Runtime
import Testing

/// The cluster file's settings reach the ledger's, and a value out of range is refused with its key named.
@Suite struct ClusterFileTests {
    static func decode(_ json: String) throws -> ClusterFile {
        try JSONDecoder().decode(ClusterFile.self, from: Data(json.utf8))
    }

    /// The history archive is on unless the file says `null`; its window reaches the ledger.
    @Test func theArchiveIsOnByDefaultAndOffOnlyWhenSaid() throws {
        #expect(try Self.decode("{}").ledgerSettings.archiveReceiptWindow == 65_536)
        #expect(try Self.decode(#"{"archive_receipt_window": null}"#).ledgerSettings.archiveReceiptWindow == nil)
        #expect(try Self.decode(#"{"archive_receipt_window": 0}"#).ledgerSettings.archiveReceiptWindow == 0)
        #expect(throws: DecodingError.self) { _ = try Self.decode(#"{"archive_receipt_window": "off"}"#) }
        #expect(throws: DecodingError.self) { _ = try Self.decode(#"{"archive_receipt_window": -5}"#) }
        let shipped = try ClusterFile.load(path: "deploy/local/cluster.json")
        #expect(shipped.archiveReceiptWindow == 65_536)
    }

    /// What the bench writes for its cluster reads back the same, the archive turned off included (an absent key
    /// would read as the default, on).
    @Test func aClusterFileReadsBackAsWritten() throws {
        var file = ClusterFile()
        file.portBase = 17_000
        file.archiveIntervalMilliseconds = 750
        file.journalRetention = .delete
        for window in [nil, 0, 4096] as [Int?] {
            file.archiveReceiptWindow = window
            let decoded = try JSONDecoder().decode(ClusterFile.self, from: JSONEncoder().encode(file))
            #expect(decoded == file)
            #expect(decoded.ledgerSettings.archiveReceiptWindow == window)
        }
    }

    @Test func theArchiveIntervalReachesTheLedgerAndIsBounded() throws {
        #expect(try Self.decode("{}").ledgerSettings.archiveIntervalNanos == 2_000_000_000)
        let file = try Self.decode(#"{"archive_receipt_window": 1000, "archive_interval_ms": 250}"#)
        #expect(file.ledgerSettings.archiveIntervalNanos == 250_000_000)
        #expect(file.ledgerSettings.archiveReceiptWindow == 1000)
        #expect {
            _ = try Self.decode(#"{"archive_interval_ms": 3600000}"#)
        } throws: { error in
            "\(error)".contains("archive_interval_ms must be at most 60000")
        }
        #expect(throws: DecodingError.self) { _ = try Self.decode(#"{"archive_interval_ms": -1}"#) }
    }

    /// CURVE is on unless the file says `"insecure": true`; the keys are below the data root unless `keys_dir`
    /// says where.
    @Test func keysAreOnByDefaultBelowTheDataRoot() throws {
        let plain = try Self.decode(#"{"data_root": "/srv/bank"}"#)
        #expect(!plain.insecure && plain.keysPath == "/srv/bank/keys")
        let placed = try Self.decode(#"{"keys_dir": "/etc/bank/keys", "insecure": true}"#)
        #expect(placed.insecure && placed.keysPath == "/etc/bank/keys")
        #expect(try JSONDecoder().decode(ClusterFile.self, from: JSONEncoder().encode(placed)) == placed)
        #expect { _ = try Self.decode(#"{"keys_dir": ""}"#) } throws: { "\($0)".contains("keys_dir must name a directory") }
        #expect(throws: DecodingError.self) { _ = try Self.decode(#"{"insecure": "yes"}"#) }
        let shipped = try ClusterFile.load(path: "deploy/local/cluster.json")
        #expect(!shipped.insecure)
    }
}
