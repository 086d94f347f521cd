import BankCore
import BankProtocol
import Cluster
import Foundation
import FuzzTargets
import Runtime
import Storage
import Testing

/// Every fuzz target on its seeds and on the committed corpus (Tests/FuzzTargetsTests/Corpus/TARGET: what the
/// fuzzer kept, and every input that ever crashed a decoder, named crash-*): none may trap, and what decodes must
/// survive its round trip. A crash found by `make fuzz` is fixed and its input added here.
@Suite struct FuzzRegressionTests {
    static let corpusRoot: URL = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Corpus")

    static func corpus(_ target: FuzzTarget) -> [(name: String, bytes: [UInt8])] {
        let directory = corpusRoot.appendingPathComponent(target.rawValue)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return names.sorted().compactMap { name in
            FileManager.default.contents(atPath: directory.appendingPathComponent(name).path).map { (name, Array($0)) }
        }
    }

    @Test(arguments: FuzzTarget.allCases)
    func seedsAndCorpusRunClean(target: FuzzTarget) {
        #expect(!target.seeds.isEmpty)
        for seed in target.seeds { target.run(seed) }
        let corpus = Self.corpus(target)
        #expect(!corpus.isEmpty, "no committed corpus for \(target.rawValue)")
        for (_, bytes) in corpus { target.run(bytes) }
    }

    /// The seeds decode (a target whose seeds its decoder refused would fuzz nothing but the door).
    @Test func seedsAreAccepted() throws {
        for seed in FuzzTarget.request.seeds.prefix(13) {
            if case .failure(let error) = RequestDecoder.decode(seed) { Issue.record("request seed refused: \(error)") }
        }
        for seed in FuzzTarget.peer.seeds { _ = try PeerCodec.decodeBundle(seed) }
        let records = FuzzTarget.journal.seeds.prefix { if case .record = JournalRecord.decode($0) { true } else { false } }
        #expect(records.count >= 10)
        for seed in FuzzTarget.clusterFile.seeds { _ = try JSONDecoder().decode(ClusterFile.self, from: Data(seed)) }
        // Bodies and whole files alternate: every body loads, every file verifies.
        for (index, seed) in FuzzTarget.checkpoint.seeds.enumerated() {
            try seed.withUnsafeBytes { raw in
                if index % 2 == 0 { _ = try Ledger(checkpoint: raw) } else { _ = try CheckpointFile.verify(raw, path: "seed") }
            }
        }
    }
}
