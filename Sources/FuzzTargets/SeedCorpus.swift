import BankCore
import BankProtocol
import Cluster
import Foundation
import Storage

extension FuzzTarget {
    /// Valid inputs made with the real encoders, for the fuzzer to start from (`make fuzz` writes them into the
    /// run's corpus; the committed corpus holds them too).
    public var seeds: [[UInt8]] {
        switch self {
        case .request: return Self.requests.map { Array($0.utf8) }
        case .peer: return Self.peerSeeds()
        case .journal: return Self.journalSeeds()
        case .checkpoint: return Self.checkpointSeeds()
        case .clusterFile: return Self.clusterFiles.map { Array($0.utf8) }
        }
    }

    static let requests = [
        #"{"op":"open_account","request_id":"o1","account":"alice","currency":"GBP","overdraft_limit":2000}"#,
        #"{"op":"open_account","request_id":"o2","account":"bob"}"#,
        #"{"op":"deposit","request_id":"d1","account":"alice","amount":10000}"#,
        #"{"op":"withdraw","request_id":"w1","account":"alice","amount":500}"#,
        #"{"op":"transfer","request_id":"t1","from":"alice","to":"bob","amount":2550,"reference":"lunch \u00e9"}"#,
        #"{"op":"hold","request_id":"h1","account":"alice","hold_id":"card-1","amount":700}"#,
        #"{"op":"capture","request_id":"c1","hold_id":"card-1","amount":600}"#,
        #"{"op":"release","request_id":"r1","hold_id":"card-1"}"#,
        #"{"op":"freeze","request_id":"f1","account":"bob"}"#,
        #"{"op":"unfreeze","request_id":"u1","account":"bob"}"#,
        #"{"op":"balance","account":"alice"}"#,
        #"{"op":"statement","account":"alice","limit":10,"before_seq":100}"#,
        #"{"op":"batch","atomic":true,"requests":[{"op":"deposit","request_id":"b1","account":"alice","amount":1},{"op":"transfer","request_id":"b2","from":"alice","to":"bob","amount":1}]}"#,
        #"{"op":"status"}"#,
        #"{"op":"switchover"}"#,
    ]

    /// Entries a ledger makes from the request seeds, in order.
    static let seedClientKey = ClientKey(words: (0x0123_4567_89AB_CDEF, 42, .max, 7))

    static func entries() -> [Entry] {
        var ledger = Ledger()
        var entries: [Entry] = []
        for (index, text) in requests.enumerated() {
            guard case let .success(request) = RequestDecoder.decode(Array(text.utf8)) else { continue }
            // Every other request, and the batch (one key for all its mutations, written once: entry version 3), in
            // a client's scope, as a gateway with keys forwards it.
            let scoped = index % 2 == 0 || text.contains(#""op":"batch""#)
            let (_, entry) = ledger.execute(request.scoped(to: scoped ? seedClientKey : nil),
                                            seq: UInt64(entries.count + 1), timeMillis: 1_700_000_000_000 + Int64(index))
            if let entry { entries.append(entry) }
        }
        return entries
    }

    static func records() -> [JournalRecord] {
        var previous = RecordHash.zero
        return entries().enumerated().map { index, entry in
            let record = JournalRecord(epoch: 1, seq: UInt64(index + 1), prevHash: previous, payload: entry.encoded())
            previous = record.hash
            return record
        }
    }

    static func journalSeeds() -> [[UInt8]] {
        var seeds = records().map { record -> [UInt8] in
            var bytes: [UInt8] = []
            record.encode(into: &bytes)
            return bytes
        }
        seeds += entries().map { $0.encoded() }
        seeds.append(JournalRecord.encodeBatch(records()))
        return seeds
    }

    static func peerSeeds() -> [[UInt8]] {
        let config = ClusterConfig(epoch: 3, leader: .primary, leaderDataID: 7, follower: .backup, followerDataID: 9)
        let records = records()
        let report = NodeReport(node: .primary, dataID: 7, epoch: 3, role: .leader, lastSeq: 12, lastEpoch: 3,
                                lastHash: records.last?.hash ?? .zero, commitSeq: 11, peerInSync: true, peerMatchSeq: 11)
        let stamp = BundleStamp(incarnation: 42, sentMilliseconds: 1_000)
        let messages: [[PeerMessage]] = [
            [.heartbeat(config)],
            [.report(report)],
            [.forward(epoch: 3, token: 1, body: Array(requests[4].utf8)), .redirect(epoch: 3, token: 2),
             .forward(epoch: 3, token: 3, body: Array(requests[5].utf8), clientKey: seedClientKey)],
            [.reply(epoch: 3, token: 1, body: Array(#"{"ok":true,"seq":5}"#.utf8))],
            [.append(Append(epoch: 3, prevSeq: 0, prevHash: .zero, commitSeq: 0, leaderLastSeq: UInt64(records.count),
                            records: records))],
            [.appendAck(AppendAck(epoch: 3, success: true, matchSeq: 4, lastSeq: 4))],
            [.checkpointChunk(CheckpointChunk(epoch: 3, position: CheckpointFile.Position(seq: 4, epoch: 3, hash: .zero),
                                              totalBytes: 8, offset: 0, bytes: [1, 2, 3, 4, 5, 6, 7, 8])),
             .checkpointAck(CheckpointAck(epoch: 3, seq: 4, receivedBytes: 8))],
            [.historyRequest(HistoryRequest(epoch: 3, afterKey: [1, 2], pieces: 2))],
        ]
        return messages.enumerated().map { index, batch in
            PeerCodec.encodeBundle(from: index % 2 == 0 ? .gateway : .primary, stamp: stamp, batch)
        }
    }

    static func checkpointSeeds() -> [[UInt8]] {
        var ledger = Ledger()
        for (index, text) in requests.enumerated() {
            guard case let .success(request) = RequestDecoder.decode(Array(text.utf8)) else { continue }
            _ = ledger.execute(request.scoped(to: index % 2 == 0 ? seedClientKey : nil), seq: UInt64(index + 1),
                               timeMillis: 1_700_000_000_000)
        }
        var archived = ledger
        archived.configureArchive(filterByteCount: 64, receiptWindow: 2, lineWindow: 2, lineChunkShift: 1,
                                  reader: NoHistory())
        var seeds: [[UInt8]] = []
        for state in [ledger, archived] {
            var body: [UInt8] = []
            state.writeCheckpoint { body.append(contentsOf: $0) }
            seeds.append(body)
            seeds.append(CheckpointFile.encode(position: CheckpointFile.Position(seq: ledger.lastAppliedSeq, epoch: 1,
                                                                                 hash: .zero), body: body))
        }
        return seeds
    }

    static let clusterFiles = [
        #"{"host":"127.0.0.1","port_base":5555,"data_root":"var","heartbeat_interval_ms":50,"failure_timeout_ms":250,"archive_receipt_window":null}"#,
        """
        {"data_root":"/var/lib/bank","metrics":true,"processes":[
         {"name":"gateway","kind":"gateway","metrics_bind":"0.0.0.0:9464","client_bind":"tcp://0.0.0.0:5555",
          "client_endpoint":"tcp://10.0.0.1:5555","peer_bind":"tcp://0.0.0.0:5556","peer_endpoint":"tcp://10.0.0.1:5556"},
         {"name":"primary","kind":"ledger","peer_bind":"tcp://0.0.0.0:5557","peer_endpoint":"tcp://10.0.0.2:5557","data_dir":"/d"},
         {"name":"backup","kind":"ledger","peer_bind":"tcp://0.0.0.0:5557","peer_endpoint":"tcp://10.0.0.3:5557"}],
         "journal_retention":"delete","peer_queue_bytes":1048576,"peer_message_max_age_ms":500}
        """,
    ]
}
