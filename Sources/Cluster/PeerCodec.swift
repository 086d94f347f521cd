import BankCore
import Storage

/// The binary wire format between gateway and ledgers. Several messages for one destination travel together in
/// one ZeroMQ message (a bundle), so that a busy loop pays the per-message cost once per iteration, not per
/// request. Journal records travel in their on-disk encoding, which carries its own hash.
public enum PeerCodec {
    /// 2: nodes by kind and name (1 had three fixed node numbers), and the sender's stamp.
    static let bundleVersion: UInt8 = 3

    public enum DecodingError: Error, Hashable, Sendable {
        case malformed(String)
    }

    public static func encodeBundle(from sender: NodeID, stamp: BundleStamp = .none, _ messages: [PeerMessage]) -> [UInt8] {
        var writer = BinaryWriter()
        let countOffset = writeHeader(sender: sender, stamp: stamp, into: &writer)
        for message in messages {
            encode(message, into: &writer)
        }
        patchCount(UInt32(messages.count), at: countOffset, in: &writer)
        return writer.bytes
    }

    /// The messages in as few bundles as hold them within `maxBytes` each, in order; a message larger than that
    /// travels alone. Bounding a bundle's size bounds, with the sockets' high-water marks (which count messages),
    /// the bytes that can queue for a peer.
    public static func encodeBundles(from sender: NodeID, stamp: BundleStamp = .none, _ messages: [PeerMessage],
                                     maxBytes: Int) -> [[UInt8]] {
        var bundles: [[UInt8]] = []
        var writer = BinaryWriter()
        var countOffset = writeHeader(sender: sender, stamp: stamp, into: &writer)
        var headerBytes = writer.bytes.count
        var count: UInt32 = 0
        for message in messages {
            let before = writer.bytes.count
            encode(message, into: &writer)
            if count > 0, writer.bytes.count > maxBytes {
                // Too big with this message: close the bundle before it and start the next one with it.
                let encoded = Array(writer.bytes[before...])
                writer.bytes.removeSubrange(before...)
                patchCount(count, at: countOffset, in: &writer)
                bundles.append(writer.bytes)
                writer = BinaryWriter(reservingCapacity: max(256, encoded.count + headerBytes))
                countOffset = writeHeader(sender: sender, stamp: stamp, into: &writer)
                headerBytes = writer.bytes.count
                writer.write(bytes: encoded)
                count = 0
            }
            count += 1
        }
        if count > 0 {
            patchCount(count, at: countOffset, in: &writer)
            bundles.append(writer.bytes)
        }
        return bundles
    }

    /// Returns the offset of the message count, written once the count is known.
    private static func writeHeader(sender: NodeID, stamp: BundleStamp, into writer: inout BinaryWriter) -> Int {
        writer.write(bundleVersion)
        writeNode(sender, into: &writer)
        writer.write(stamp.incarnation)
        writer.write(stamp.sentMilliseconds)
        let offset = writer.bytes.count
        writer.write(UInt32(0))
        return offset
    }

    private static func patchCount(_ count: UInt32, at offset: Int, in writer: inout BinaryWriter) {
        withUnsafeBytes(of: count.littleEndian) { raw in
            for (index, byte) in raw.enumerated() { writer.bytes[offset + index] = byte }
        }
    }

    /// The sender and stamp alone, so that a bundle can be judged before its messages are decoded (and journal
    /// records hashed).
    public static func decodeBundleHeader(_ bytes: [UInt8]) throws(DecodingError) -> (sender: NodeID, stamp: BundleStamp) {
        var reader = BinaryReader(bytes)
        do {
            guard try reader.readU8() == bundleVersion else { throw DecodingError.malformed("unknown bundle version") }
            guard let sender = try readNode(&reader) else { throw DecodingError.malformed("a bundle without a sender") }
            return (sender, BundleStamp(incarnation: try reader.readU64(), sentMilliseconds: try reader.readU64()))
        } catch let error as DecodingError {
            throw error
        } catch {
            throw DecodingError.malformed("\(error)")
        }
    }

    public static func decodeBundle(_ bytes: [UInt8]) throws(DecodingError) -> PeerBundle {
        var reader = BinaryReader(bytes)
        do {
            guard try reader.readU8() == bundleVersion else { throw DecodingError.malformed("unknown bundle version") }
            guard let sender = try readNode(&reader) else { throw DecodingError.malformed("a bundle without a sender") }
            let stamp = BundleStamp(incarnation: try reader.readU64(), sentMilliseconds: try reader.readU64())
            let count = try reader.readU32()
            var messages: [PeerMessage] = []
            // Every message takes at least one byte: a count beyond what is left is a lie, not a reason to allocate.
            messages.reserveCapacity(min(Int(count), reader.remaining, 65_536))
            for _ in 0..<count {
                messages.append(try decodeMessage(&reader))
            }
            guard reader.isAtEnd else { throw DecodingError.malformed("trailing bytes") }
            return PeerBundle(sender: sender, stamp: stamp, messages: messages)
        } catch let error as DecodingError {
            throw error
        } catch {
            throw DecodingError.malformed("\(error)")
        }
    }

    // MARK: - Messages

    private enum Tag: UInt8 {
        case heartbeat = 1, report, forward, reply, redirect, append, appendAck, checkpointChunk, checkpointAck,
             historyRequest, historyChunk
    }

    static func encode(_ message: PeerMessage, into writer: inout BinaryWriter) {
        switch message {
        case let .heartbeat(config):
            writer.write(Tag.heartbeat.rawValue)
            writer.write(config.epoch)
            writeNode(config.leader, into: &writer)
            writer.write(config.leaderDataID)
            writeNode(config.follower, into: &writer)
            writer.write(config.followerDataID)
        case let .report(r):
            writer.write(Tag.report.rawValue)
            writeNode(r.node, into: &writer)
            writer.write(r.dataID)
            writer.write(r.epoch)
            writer.write(r.role.rawValue)
            writer.write(r.lastSeq)
            writer.write(r.lastEpoch)
            r.lastHash.append(to: &writer.bytes)
            writer.write(r.commitSeq)
            writer.write(UInt8((r.peerInSync ? 1 : 0) | (r.peerStalled ? 2 : 0) | (r.historyComplete ? 0 : 4)))
            writer.write(r.peerMatchSeq)
        case let .forward(epoch, token, body, clientKey):
            writer.write(Tag.forward.rawValue)
            writer.write(epoch)
            writer.write(token)
            writer.write(UInt32(body.count))
            writer.write(bytes: body)
            if let clientKey {
                writer.write(UInt8(1))
                writer.write(bytes: clientKey.bytes)
            } else {
                writer.write(UInt8(0))
            }
        case let .reply(epoch, token, body):
            writer.write(Tag.reply.rawValue)
            writer.write(epoch)
            writer.write(token)
            writer.write(UInt32(body.count))
            writer.write(bytes: body)
        case let .redirect(epoch, token):
            writer.write(Tag.redirect.rawValue)
            writer.write(epoch)
            writer.write(token)
        case let .append(a):
            writer.write(Tag.append.rawValue)
            writer.write(a.epoch)
            writer.write(a.prevSeq)
            a.prevHash.append(to: &writer.bytes)
            writer.write(a.commitSeq)
            writer.write(a.leaderLastSeq)
            writer.write(UInt32(a.records.count))
            for record in a.records {
                record.encode(into: &writer.bytes)
            }
        case let .appendAck(ack):
            writer.write(Tag.appendAck.rawValue)
            writer.write(ack.epoch)
            writer.write(UInt8((ack.success ? 1 : 0) | (ack.historyComplete ? 0 : 2)))
            writer.write(ack.matchSeq)
            writer.write(ack.lastSeq)
        case let .checkpointChunk(chunk):
            writer.write(Tag.checkpointChunk.rawValue)
            writer.write(chunk.epoch)
            writer.write(chunk.position.seq)
            writer.write(chunk.position.epoch)
            chunk.position.hash.append(to: &writer.bytes)
            writer.write(chunk.totalBytes)
            writer.write(chunk.offset)
            writer.write(UInt32(chunk.bytes.count))
            writer.write(bytes: chunk.bytes)
        case let .checkpointAck(ack):
            writer.write(Tag.checkpointAck.rawValue)
            writer.write(ack.epoch)
            writer.write(ack.seq)
            writer.write(ack.receivedBytes)
        case let .historyRequest(request):
            writer.write(Tag.historyRequest.rawValue)
            writer.write(request.epoch)
            writer.write(UInt32(request.afterKey.count))
            writer.write(bytes: request.afterKey)
            writer.write(request.pieces)
        case let .historyChunk(chunk):
            writer.write(Tag.historyChunk.rawValue)
            writer.write(chunk.epoch)
            writer.write(UInt32(chunk.afterKey.count))
            writer.write(bytes: chunk.afterKey)
            writer.write(chunk.watermark)
            writer.write(UInt8(chunk.complete ? 1 : 0))
            writer.write(UInt32(chunk.items.count))
            // The packed items are already laid out as the wire wants them: (u32 length, key, u32 length, value)*.
            writer.write(bytes: chunk.items.bytes)
        }
    }

    private static func readSizedBytes(_ reader: inout BinaryReader) throws -> [UInt8] {
        let count = try reader.readU32()
        guard Int(count) <= reader.remaining else { throw DecodingError.malformed("a byte string beyond the message's end") }
        return try reader.readBytes(count: Int(count))
    }

    /// A node: its kind (0xFF: none) and its name (u8 length, UTF-8).
    private static func writeNode(_ node: NodeID?, into writer: inout BinaryWriter) {
        guard let node else {
            writer.write(UInt8(0xFF))
            return
        }
        writer.write(node.kind.rawValue)
        let name = Array(node.name.utf8)
        writer.write(UInt8(name.count))
        writer.write(bytes: name)
    }

    private static func readNode(_ reader: inout BinaryReader) throws -> NodeID? {
        let raw = try reader.readU8()
        if raw == 0xFF { return nil }
        guard let kind = NodeID.Kind(rawValue: raw) else { throw DecodingError.malformed("unknown node kind \(raw)") }
        let count = Int(try reader.readU8())
        guard count <= reader.remaining else { throw DecodingError.malformed("a node name beyond the message's end") }
        let bytes = try reader.readBytes(count: count)
        guard let name = String(validating: bytes, as: UTF8.self), let node = NodeID(kind: kind, name: name) else {
            throw DecodingError.malformed("an invalid node name")
        }
        return node
    }

    private static func readHash(_ reader: inout BinaryReader) throws -> RecordHash {
        RecordHash(bytes: try reader.readBytes(count: 32))!
    }

    static func decodeMessage(_ reader: inout BinaryReader) throws -> PeerMessage {
        guard let tag = Tag(rawValue: try reader.readU8()) else { throw DecodingError.malformed("unknown message tag") }
        switch tag {
        case .heartbeat:
            let epoch = try reader.readU64()
            let leader = try readNode(&reader)
            let leaderDataID = try reader.readU64()
            let follower = try readNode(&reader)
            let followerDataID = try reader.readU64()
            return .heartbeat(ClusterConfig(epoch: epoch, leader: leader, leaderDataID: leaderDataID,
                                            follower: follower, followerDataID: followerDataID))
        case .report:
            guard let node = try readNode(&reader) else { throw DecodingError.malformed("report without node") }
            let dataID = try reader.readU64()
            let epoch = try reader.readU64()
            guard let role = NodeReport.Role(rawValue: try reader.readU8()) else {
                throw DecodingError.malformed("unknown role")
            }
            let lastSeq = try reader.readU64()
            let lastEpoch = try reader.readU64()
            let lastHash = try readHash(&reader)
            let commitSeq = try reader.readU64()
            let flags = try reader.readU8()
            let peerMatchSeq = try reader.readU64()
            return .report(NodeReport(node: node, dataID: dataID, epoch: epoch, role: role, lastSeq: lastSeq,
                                      lastEpoch: lastEpoch, lastHash: lastHash, commitSeq: commitSeq,
                                      peerInSync: flags & 1 != 0, peerMatchSeq: peerMatchSeq,
                                      peerStalled: flags & 2 != 0, historyComplete: flags & 4 == 0))
        case .forward, .reply:
            let epoch = try reader.readU64()
            let token = try reader.readU64()
            let count = try reader.readU32()
            let body = try reader.readBytes(count: Int(count))
            guard tag == .forward else { return .reply(epoch: epoch, token: token, body: body) }
            var clientKey: ClientKey?
            switch try reader.readU8() {
            case 0: break
            case 1: clientKey = ClientKey(bytes: try reader.readBytes(count: ClientKey.byteCount))
            default: throw DecodingError.malformed("bad client key flag")
            }
            return .forward(epoch: epoch, token: token, body: body, clientKey: clientKey)
        case .redirect:
            return .redirect(epoch: try reader.readU64(), token: try reader.readU64())
        case .append:
            let epoch = try reader.readU64()
            let prevSeq = try reader.readU64()
            let prevHash = try readHash(&reader)
            let commitSeq = try reader.readU64()
            let leaderLastSeq = try reader.readU64()
            let count = try reader.readU32()
            var records: [JournalRecord] = []
            records.reserveCapacity(Int(min(count, 65_536)))
            for _ in 0..<count {
                records.append(try reader.readRecord())
            }
            return .append(Append(epoch: epoch, prevSeq: prevSeq, prevHash: prevHash, commitSeq: commitSeq,
                                  leaderLastSeq: leaderLastSeq, records: records))
        case .appendAck:
            let epoch = try reader.readU64()
            let flags = try reader.readU8()
            let matchSeq = try reader.readU64()
            let lastSeq = try reader.readU64()
            return .appendAck(AppendAck(epoch: epoch, success: flags & 1 != 0, matchSeq: matchSeq, lastSeq: lastSeq,
                                        historyComplete: flags & 2 == 0))
        case .checkpointChunk:
            let epoch = try reader.readU64()
            let position = CheckpointFile.Position(seq: try reader.readU64(), epoch: try reader.readU64(),
                                                   hash: try readHash(&reader))
            let totalBytes = try reader.readU64()
            let offset = try reader.readU64()
            let count = try reader.readU32()
            guard UInt64(count) <= totalBytes, offset <= totalBytes - UInt64(count) else {
                throw DecodingError.malformed("checkpoint chunk beyond the file's end")
            }
            return .checkpointChunk(CheckpointChunk(epoch: epoch, position: position, totalBytes: totalBytes,
                                                    offset: offset, bytes: try reader.readBytes(count: Int(count))))
        case .checkpointAck:
            return .checkpointAck(CheckpointAck(epoch: try reader.readU64(), seq: try reader.readU64(),
                                                receivedBytes: try reader.readU64()))
        case .historyRequest:
            let epoch = try reader.readU64()
            let afterKey = try readSizedBytes(&reader)
            return .historyRequest(HistoryRequest(epoch: epoch, afterKey: afterKey, pieces: try reader.readU32()))
        case .historyChunk:
            let epoch = try reader.readU64()
            let afterKey = try readSizedBytes(&reader)
            let watermark = try reader.readU64()
            let complete = try reader.readU8() != 0
            let count = try reader.readU32()
            guard Int(count) <= reader.remaining / 8 else { throw DecodingError.malformed("too many history items") }
            // Find where the items end (a bundle may hold more messages), then take them in one copy.
            var walker = reader
            for _ in 0..<count {
                for _ in 0..<2 {
                    let length = try walker.readU32()
                    guard Int(length) <= walker.remaining else {
                        throw DecodingError.malformed("a history item beyond the message's end")
                    }
                    _ = try walker.readSlice(count: Int(length))
                }
            }
            let bytes = try reader.readBytes(count: walker.offset - reader.offset)
            guard let items = PackedHistoryItems(validating: bytes, count: Int(count)) else {
                throw DecodingError.malformed("history items that do not add up")
            }
            return .historyChunk(HistoryChunk(epoch: epoch, afterKey: afterKey, watermark: watermark,
                                              complete: complete, items: items))
        }
    }
}

/// When and by which run of its process a bundle was sent: the incarnation is drawn at random when the process
/// starts, the time is its monotonic clock's. Comparing stamps of one sender needs no shared clock.
public struct BundleStamp: Hashable, Sendable {
    public var incarnation: UInt64
    public var sentMilliseconds: UInt64

    public init(incarnation: UInt64, sentMilliseconds: UInt64) {
        self.incarnation = incarnation
        self.sentMilliseconds = sentMilliseconds
    }

    /// Not stamped (tests): never judged stale.
    public static let none = BundleStamp(incarnation: 0, sentMilliseconds: 0)
}

public struct PeerBundle: Hashable, Sendable {
    public var sender: NodeID
    public var stamp: BundleStamp
    public var messages: [PeerMessage]
}
