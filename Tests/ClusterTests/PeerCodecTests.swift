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

    @Test func everyMessageSurvivesARoundTrip() throws {
        for message in Self.messages {
            let bytes = PeerCodec.encodeBundle(from: .primary, [message])
            let (sender, decoded) = try PeerCodec.decodeBundle(bytes)
            #expect(sender == .primary && decoded == [message], "\(message)")
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
