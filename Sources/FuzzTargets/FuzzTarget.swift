import BankCore
import BankProtocol
import Cluster
import Foundation
import Runtime
import Storage

/// The decoders of outside bytes, each as a fuzz target (`make fuzz TARGET=name`): bytes in, no trap out. A
/// decoder may refuse anything; what it accepts must survive the round trip where there is one (encode what was
/// decoded, decode again, get the same), so a target finds wrong answers as well as crashes.
///
/// The same functions run the committed corpora and every crash ever found in the unit tests
/// (`FuzzRegressionTests`), so a fixed crash stays fixed.
public enum FuzzTarget: String, CaseIterable, Sendable {
    /// A client's request: the gateway's peeks, the ledger's decoder, a reply's outcome.
    case request
    /// A peer bundle: its header, its messages; accepted bundles re-encode to themselves.
    case peer
    /// Journal bytes: records (hash checked and not), a batch of records, a record's payload (an entry).
    case journal
    /// A checkpoint: the file's framing, and a ledger state from its body (the checksum would stop the fuzzer at
    /// the door, so the body is also decoded alone).
    case checkpoint
    /// The cluster file (JSON), topology included.
    case clusterFile = "cluster-file"

    public func run(_ bytes: [UInt8]) {
        switch self {
        case .request: Self.request(bytes)
        case .peer: Self.peer(bytes)
        case .journal: Self.journal(bytes)
        case .checkpoint: Self.checkpoint(bytes)
        case .clusterFile: Self.clusterFile(bytes)
        }
    }

    static func request(_ bytes: [UInt8]) {
        _ = RequestPeek.gatewayOperation(in: bytes)
        _ = RequestPeek.requestID(in: bytes)
        _ = RequestPeek.kind(of: bytes)
        _ = ReplyOutcome(reply: bytes)
        if case let .success(request) = RequestDecoder.decode(bytes) {
            // Whatever decodes is something the ledger can answer without trapping.
            var ledger = Ledger()
            _ = ledger.execute(request, seq: 1, timeMillis: 1_700_000_000_000)
        }
    }

    static func peer(_ bytes: [UInt8]) {
        guard (try? PeerCodec.decodeBundleHeader(bytes)) != nil,
              let bundle = try? PeerCodec.decodeBundle(bytes) else { return }
        let again = PeerCodec.encodeBundle(from: bundle.sender, stamp: bundle.stamp, bundle.messages)
        let decoded = try? PeerCodec.decodeBundle(again)
        precondition(decoded?.messages == bundle.messages && decoded?.sender == bundle.sender,
                     "a decoded bundle does not survive re-encoding")
    }

    static func journal(_ bytes: [UInt8]) {
        for verify in [true, false] {
            if case let .record(record, byteCount) = JournalRecord.decode(bytes, verify: verify) {
                precondition(byteCount > 0 && byteCount <= bytes.count, "a record longer than its bytes")
                if verify {
                    var encoded: [UInt8] = []
                    record.encode(into: &encoded)
                    precondition(encoded == Array(bytes.prefix(byteCount)), "a verified record re-encodes differently")
                }
                _ = try? Entry(decoding: record.payload)
            }
        }
        _ = try? JournalRecord.decodeBatch(bytes)
        if let entry = try? Entry(decoding: bytes) {
            precondition((try? Entry(decoding: entry.encoded())) == entry, "an entry does not survive re-encoding")
        }
    }

    static func checkpoint(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { raw in
            if let (_, body) = try? CheckpointFile.verify(raw, path: "fuzz") { _ = try? Ledger(checkpoint: body) }
            _ = try? Ledger(checkpoint: raw)
        }
    }

    static func clusterFile(_ bytes: [UInt8]) {
        guard let file = try? JSONDecoder().decode(ClusterFile.self, from: Data(bytes)) else { return }
        // What a process does with a file it accepted: its topology, its settings, every process's endpoints.
        let topology = file.topology
        for process in topology.processes {
            _ = file.inboxEndpoint(of: process.node)
            _ = file.dataDirectory(of: process.node)
            _ = file.metricsBind(of: process.node)
        }
        _ = file.gatewaySettings
        _ = file.ledgerSettings
        _ = file.peerLinkSettings
        let again = try? JSONDecoder().decode(ClusterFile.self, from: JSONEncoder().encode(file))
        precondition(again == file, "an accepted cluster file does not survive re-encoding")
    }
}
