import BankCore
import Storage
import Testing
@testable import Cluster

/// The peer codec: every message survives a round trip, and damaged bundles are refused, never trapped on.
@Suite struct PeerCodecTests {
    static let messages: [PeerMessage] = {
        let record = JournalRecord(epoch: 2, seq: 7, prevHash: .zero, payload: [1, 2, 3])
        let position = CheckpointFile.Position(seq: 7, epoch: 2, hash: record.hash)
        return [
            .heartbeat(ClusterConfig(epoch: 3, leader: .primary, leaderDataID: 11, follower: .backup, followerDataID: 12)),
            .report(NodeReport(node: .backup, dataID: 5, epoch: 3, role: .follower, lastSeq: 9, lastEpoch: 2,
                               lastHash: record.hash, commitSeq: 8, peerInSync: true, peerMatchSeq: 4,
                               peerStalled: true, historyComplete: false)),
            .report(NodeReport(node: .primary, dataID: 6, epoch: 3, role: .leader, lastSeq: 1, lastEpoch: 1,
                               lastHash: .zero, commitSeq: 1)),
            .forward(epoch: 3, token: 99, body: Array("{}".utf8)),
            .forward(epoch: 3, token: 100, body: Array("{}".utf8), clientKey: ClientKey(words: (1, .max, 3, 0))),
            .reply(epoch: 3, token: 99, body: Array("{\"ok\":true}".utf8)),
            .redirect(epoch: 3, token: 98),
            .append(Append(epoch: 3, prevSeq: 6, prevHash: .zero, commitSeq: 5, leaderLastSeq: 7, records: [record])),
            .appendAck(AppendAck(epoch: 3, success: true, matchSeq: 7, lastSeq: 7)),
            .checkpointChunk(CheckpointChunk(epoch: 3, position: position, totalBytes: 10, offset: 4, bytes: [9, 9])),
            .checkpointAck(CheckpointAck(epoch: 3, seq: 7, receivedBytes: 6)),
            .historyRequest(HistoryRequest(epoch: 3, afterKey: Array("rabc".utf8), pieces: 4)),
            .historyRequest(HistoryRequest(epoch: 3, afterKey: [])),
            .historyChunk(HistoryChunk(epoch: 3, afterKey: [], watermark: 42, complete: false, items: [
                HistoryItem(key: Array("ra".utf8), value: [1]), HistoryItem(key: Array("hb".utf8), value: []),
            ])),
            .historyChunk(HistoryChunk(epoch: 3, afterKey: Array("hb".utf8), watermark: 42, complete: true, items: [])),
        ]
    }()

    /// Nodes travel by kind and name; a name the codec cannot hold or a kind it does not know is refused.
    @Test func namedNodesSurviveARoundTripAndBadOnesAreRefused() throws {
        let sender = NodeID(kind: .gateway, name: "gw-east.2")!
        let leader = NodeID(kind: .ledger, name: "ledger-a")!
        let message = PeerMessage.heartbeat(ClusterConfig(epoch: 1, leader: leader, leaderDataID: 3))
        let bytes = PeerCodec.encodeBundle(from: sender, [message])
        let bundle = try PeerCodec.decodeBundle(bytes)
        #expect(bundle.sender == sender && bundle.sender.kind == .gateway && bundle.messages == [message])
        var unknownKind = bytes
        unknownKind[1] = 7
        #expect(throws: PeerCodec.DecodingError.self) { try PeerCodec.decodeBundle(unknownKind) }
        var badName = bytes
        badName[3] = UInt8(ascii: " ")
        #expect(throws: PeerCodec.DecodingError.self) { try PeerCodec.decodeBundle(badName) }
        #expect(NodeID(kind: .ledger, name: "") == nil && NodeID(kind: .ledger, name: String(repeating: "a", count: 33)) == nil)
    }

    /// Split by size, the messages arrive in order, every bundle within the bound unless one message alone is
    /// larger, each carrying the sender's stamp.
    @Test func bundlesSplitBySizeKeepOrderAndStamp() throws {
        let stamp = BundleStamp(incarnation: 77, sentMilliseconds: 123_456)
        let messages: [PeerMessage] = (0..<50).map { index in
            .forward(epoch: 1, token: UInt64(index), body: [UInt8](repeating: 7, count: index == 20 ? 5_000 : 100))
        }
        let bundles = PeerCodec.encodeBundles(from: .gateway, stamp: stamp, messages, maxBytes: 1_000)
        var decoded: [PeerMessage] = []
        for bytes in bundles {
            let bundle = try PeerCodec.decodeBundle(bytes)
            #expect(bundle.stamp == stamp && bundle.sender == .gateway)
            #expect(bytes.count <= 1_000 || bundle.messages.count == 1)
            decoded += bundle.messages
        }
        #expect(decoded == messages)
        #expect(bundles.count > 5)
        #expect(PeerCodec.encodeBundles(from: .gateway, [], maxBytes: 1_000).isEmpty)
        #expect(try PeerCodec.decodeBundle(PeerCodec.encodeBundles(from: .gateway, messages, maxBytes: 1 << 20)[0])
            .messages == messages)
    }

    /// A bundle that travelled more than the age longer than the fastest trip of its sender's run is dropped;
    /// clocks need not agree, another run is judged on its own, and slow drift between the clocks is allowed for.
    @Test func staleBundlesAreDroppedOnArrival() {
        var filter = StaleBundleFilter(maxAgeMilliseconds: 1_000)
        // The sender's clock reads 10,000 when the receiver's reads 500,000: offsets are 490,000 plus the trip.
        var admitted: [Bool] = []
        for (sender, run, sent, arrived) in [
            (NodeID.primary, 1, 10_000, 490_000 + 10_000 + 1),  // a 1 ms trip
            (.primary, 1, 10_100, 490_000 + 10_100 + 600),      // 600 ms: queued, within the age
            (.primary, 1, 10_200, 490_000 + 10_200 + 1_500),    // held back 1.5 s by a partition: dropped
            (.primary, 1, 10_300, 490_000 + 10_300 + 2),        // after the heal: taken
            (.backup, 3, 7, 502_000),                           // another sender, its own clock
            (.primary, 2, 5, 502_000),                          // the primary restarted: judged on its own
            (.primary, 1, 10_400, 490_000 + 10_400 + 1_200),    // a late bundle of the old run: still judged
        ] as [(NodeID, UInt64, UInt64, UInt64)] {
            admitted.append(filter.admit(from: sender, BundleStamp(incarnation: run, sentMilliseconds: sent),
                                         arrivalMilliseconds: arrived))
        }
        #expect(admitted == [true, true, false, true, true, true, false])
        #expect(filter.droppedCount == 2)
        // A day later, with the sender's clock 50 ppm slow (4.3 s behind), a fast trip is still taken.
        let day: UInt64 = 86_400_000
        let dayLater = filter.admit(from: .primary, BundleStamp(incarnation: 1, sentMilliseconds: 10_300 + day - 4_320),
                                    arrivalMilliseconds: 490_000 + 10_300 + day + 2)
        #expect(dayLater)
        let unstamped = filter.admit(from: .primary, .none, arrivalMilliseconds: 0)
        #expect(unstamped)
    }

    @Test func everyMessageSurvivesARoundTrip() throws {
        for message in Self.messages {
            let bytes = PeerCodec.encodeBundle(from: .primary, [message])
            let bundle = try PeerCodec.decodeBundle(bytes)
            #expect(bundle.sender == .primary && bundle.messages == [message], "\(message)")
        }
        let bundle = PeerCodec.encodeBundle(from: .gateway, Self.messages)
        #expect(try PeerCodec.decodeBundle(bundle).messages == Self.messages)
    }

    @Test func everyTruncationOfABundleIsRefused() {
        let bundle = PeerCodec.encodeBundle(from: .backup, Self.messages)
        for length in 0..<bundle.count {
            #expect(throws: PeerCodec.DecodingError.self) { try PeerCodec.decodeBundle(Array(bundle.prefix(length))) }
        }
    }

    @Test func aHistoryChunkClaimingMoreItemsThanItHoldsIsRefused() {
        var bytes = PeerCodec.encodeBundle(from: .primary, [.historyChunk(HistoryChunk(
            epoch: 1, afterKey: [], watermark: 1, complete: true, items: [HistoryItem(key: [0x72, 1], value: [2])]))])
        // The item count sits before the single item (4 + 2 key bytes + 4 + 1 value byte from the end).
        let countOffset = bytes.count - 4 - 2 - 4 - 1 - 4
        bytes[countOffset] = 0xFF
        bytes[countOffset + 1] = 0xFF
        #expect(throws: PeerCodec.DecodingError.self) { try PeerCodec.decodeBundle(bytes) }
    }
}
