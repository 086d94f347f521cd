import Cluster
import Logging
import Membership
import ZeroMQ

/// A process's links to the others: one ROUTER inbox that every peer connects to, and two DEALERs per peer for
/// sending: one for data (forwards, replies, appends) and one for control (heartbeats, reports, acknowledgements;
/// `PeerMessage.isControl`). Messages are fire-and-forget; the protocols above tolerate loss (they retry on
/// timers), so a send that would block — peer down, or its queue full — drops the message instead of stalling the
/// loop.
///
/// Why two connections: the inbox ROUTER fair-queues between its connections, one message from each in turn, so a
/// heartbeat on the control connection is received at once even when thousands of data messages wait on the data
/// connection of the same peer; on a single connection it would wait behind all of them (first in, first out).
///
/// Messages queued during one loop iteration go out together as bundles per destination and kind.
///
/// Silent networks (`PeerLinkSettings`): a peer that vanishes without a TCP reset (packets dropped) is noticed by
/// ZeroMQ's own heartbeats within `heartbeatTimeout`; the connection is then dropped with what it had queued, and
/// connect attempts are cut short so that a healed network is used at once. What can queue for one peer is
/// bounded in bytes: bundles are cut at a size bound, and the high-water marks (which count messages) are that
/// many bundles. Bundles that a partition held back are dropped on arrival (`StaleBundleFilter`).
final class PeerLinks {
    let me: NodeID
    let inbox: ZMQSocket
    private var dealers: [NodeID: ZMQSocket] = [:]
    private var controlDealers: [NodeID: ZMQSocket] = [:]
    private var outbox: [NodeID: [PeerMessage]] = [:]
    private var controlOutbox: [NodeID: [PeerMessage]] = [:]
    private let logger: Logger
    private let settings: PeerLinkSettings
    /// This run of the process, in every bundle's stamp.
    private let incarnation = UInt64.random(in: 1...UInt64.max)
    private var staleFilter: StaleBundleFilter
    private(set) var droppedBundles = 0
    private var staleLoggedNanos: UInt64 = 0
    /// Messages only from these (the topology's peers of `me`): a bundle from anyone else is dropped.
    private let known: Set<NodeID>
    /// What went to and came from each peer (for metrics).
    private(set) var traffic: [NodeID: PeerTraffic] = [:]
    /// Bundles dropped on arrival as stale, since start.
    var staleBundles: Int { staleFilter.droppedCount }

    /// CURVE on the inbox and the dealers, and the per-bundle check of the sender; nil: plaintext (`insecure`).
    private let security: LinkSecurity?
    /// Each peer's user id, as the bundles it sends must arrive under.
    private let userIDs: [NodeID: String]

    init(context: ZMQContext, me: NodeID, file: ClusterFile, security: LinkSecurity?, logger: Logger) throws {
        self.me = me
        self.logger = logger
        self.security = security
        settings = file.peerLinkSettings
        staleFilter = StaleBundleFilter(maxAgeMilliseconds: settings.maxMessageAgeMilliseconds)
        let peers = file.topology.peers(of: me)
        known = Set(peers)
        userIDs = Dictionary(uniqueKeysWithValues: peers.map { ($0, Member.userID(of: $0)) })
        inbox = try context.makeSocket(.router)
        try security?.serve(inbox, domain: ZAPDomain.peers)
        // The inbox reads whatever arrives (its senders' marks bound it): a receiving mark that stopped reading
        // would leave PINGs unanswered and get healthy connections cut while this process works through a
        // backlog (seen: a follower catching up after a full disk stalled again and again).
        try inbox.setReceiveHighWaterMark(1_000_000)
        // No heartbeat timeout on the receiving side: a connection whose input is stopped because this process's
        // inbox is full cannot read PINGs' answers, and would be cut while healthy (and libzmq 4.3 can trip its
        // `_input_stopped` assertion when such a connection is replaced). The senders detect dead links; the
        // kernel's keepalive frees what a vanished sender left here.
        try inbox.setTCPKeepalive(true, idleSeconds: 10, intervalSeconds: 2, probeCount: 3)
        try inbox.bind(file.inboxBind(of: me))
        func makeDealer(to peer: NodeID, highWaterMark: Int32) throws -> ZMQSocket {
            let dealer = try context.makeSocket(.dealer)
            // Queue only to live connections: a message for a dead peer is dropped, not delivered much later.
            try dealer.setImmediate(true)
            try dealer.setSendHighWaterMark(highWaterMark)
            try dealer.setReconnectIntervalMilliseconds(20)
            try dealer.setConnectTimeoutMilliseconds(Int32(clamping: settings.heartbeatTimeoutMilliseconds))
            try settings.detectSilentPeers(on: dealer)
            try security?.connect(dealer, to: peer)
            try dealer.connect(file.inboxEndpoint(of: peer))
            return dealer
        }
        for peer in peers {
            dealers[peer] = try makeDealer(to: peer, highWaterMark: settings.dataHighWaterMark)
            controlDealers[peer] = try makeDealer(to: peer, highWaterMark: settings.controlHighWaterMark)
            outbox[peer] = []
            controlOutbox[peer] = []
            traffic[peer] = PeerTraffic()
        }
    }

    func queue(_ message: PeerMessage, to node: NodeID) {
        if message.isControl {
            controlOutbox[node, default: []].append(message)
        } else {
            outbox[node, default: []].append(message)
        }
    }

    /// Sends everything queued, bundles per destination and kind, control first.
    func flush() {
        let stamp = BundleStamp(incarnation: incarnation, sentMilliseconds: SystemClock.now().monotonicNanos / 1_000_000)
        flush(&controlOutbox, through: controlDealers, stamp: stamp, maxBundleBytes: PeerLinkSettings.controlBundleBytes)
        flush(&outbox, through: dealers, stamp: stamp, maxBundleBytes: PeerLinkSettings.dataBundleBytes)
    }

    private func flush(_ box: inout [NodeID: [PeerMessage]], through sockets: [NodeID: ZMQSocket], stamp: BundleStamp,
                       maxBundleBytes: Int) {
        for (node, messages) in box where !messages.isEmpty {
            box[node]!.removeAll(keepingCapacity: true)
            guard let dealer = sockets[node] else { continue }
            for bundle in PeerCodec.encodeBundles(from: me, stamp: stamp, messages, maxBytes: maxBundleBytes) {
                do {
                    if try dealer.send([bundle], dontWait: true) {
                        traffic[node]?.sentBytes += Int64(bundle.count)
                    } else {
                        droppedBundles += 1
                        traffic[node]?.droppedBundles += 1
                    }
                } catch {
                    logger.warning("sending to \(node) failed: \(error)")
                }
            }
        }
    }

    /// Reads what has arrived, up to `limit` bundles, without blocking.
    func drain(limit: Int, _ body: (NodeID, PeerMessage) -> Void) {
        for _ in 0..<limit {
            let frames: [[UInt8]]
            var userID: String?
            do {
                if let security {
                    guard let received = try inbox.receiveWithUserID(dontWait: true) else { return }
                    guard security.admit(userID: received.userID, descriptor: received.connectionDescriptor) else {
                        continue
                    }
                    frames = received.frames
                    userID = received.userID
                } else {
                    guard let received = try inbox.receive(dontWait: true) else { return }
                    frames = received
                }
            } catch {
                logger.warning("inbox receive failed: \(error)")
                return
            }
            guard frames.count == 2 else {
                logger.warning("inbox: dropped a message of \(frames.count) frames")
                continue
            }
            do {
                let (sender, stamp) = try PeerCodec.decodeBundleHeader(frames[1])
                guard known.contains(sender) else {
                    logger.warning("inbox: dropped a bundle from \(sender) (\(sender.kind)), not a peer in the cluster file")
                    continue
                }
                // The sender a bundle names must be the key it came with: a backup's key claiming to be the
                // primary, or a gateway's, is not heard.
                if let security, userID != userIDs[sender] {
                    security.noteDropped("inbox: a bundle naming \(sender) under the key of \(userID ?? "nobody")")
                    continue
                }
                let now = SystemClock.now().monotonicNanos
                traffic[sender]?.receivedBytes += Int64(frames[1].count)
                traffic[sender]?.lastHeardNanos = now
                guard settings.maxMessageAgeMilliseconds == 0
                        || staleFilter.admit(from: sender, stamp, arrivalMilliseconds: now / 1_000_000) else {
                    if now - staleLoggedNanos >= 1_000_000_000 {
                        staleLoggedNanos = now
                        logger.info("""
                            inbox: dropped a bundle from \(sender) that travelled over \(settings.maxMessageAgeMilliseconds) \
                            ms longer than the fastest (\(staleFilter.droppedCount) stale bundle(s) since start)
                            """)
                    }
                    continue
                }
                for message in try PeerCodec.decodeBundle(frames[1]).messages { body(sender, message) }
            } catch {
                logger.warning("inbox: dropped an undecodable bundle: \(error)")
            }
        }
    }

    func close() {
        inbox.close()
        for dealer in dealers.values { dealer.close() }
        for dealer in controlDealers.values { dealer.close() }
    }
}

/// Traffic with one peer, since start.
struct PeerTraffic {
    var sentBytes: Int64 = 0
    var receivedBytes: Int64 = 0
    /// Bundles not sent because the peer's queue was full or its connection down.
    var droppedBundles: Int64 = 0
    /// When a bundle from it last arrived (nil: never).
    var lastHeardNanos: UInt64?
}

/// How the links behave on a real network (the cluster file's `peer_*` keys).
public struct PeerLinkSettings: Hashable, Sendable {
    /// ZeroMQ PINGs on an idle connection this often; answered by the peer's I/O thread, so a busy process still
    /// answers them.
    public var heartbeatIntervalMilliseconds: UInt64 = 100
    /// A connection that hears nothing (no message, no PONG) for this long is dropped, with what it queued, and
    /// connected again; also the limit of one connect attempt.
    public var heartbeatTimeoutMilliseconds: UInt64 = 1_000
    /// Bytes that may queue for one peer, per kind (data, control): the high-water marks are this many bundles.
    public var queueBytesPerPeer = 64 << 20
    /// A bundle that travelled this much longer than the fastest from its sender is dropped on arrival; 0: off
    /// (the default). The trip as the receiver sees it includes its own backlog, so a receiver working through one
    /// (a follower catching up) would drop what it needs; see docs/DESIGN.md, "Silent networks".
    public var maxMessageAgeMilliseconds: UInt64 = 0

    public init() {}

    /// Data bundles are cut at this size; a single message may be larger (a request up to 1 MiB, a history
    /// piece), and those are few: the protocols' windows bound them.
    static let dataBundleBytes = 256 << 10
    /// Control messages are small (a heartbeat, a report, an acknowledgement: under 200 bytes).
    static let controlBundleBytes = 16 << 10

    var dataHighWaterMark: Int32 { Int32(clamping: max(16, queueBytesPerPeer / Self.dataBundleBytes)) }
    var controlHighWaterMark: Int32 { Int32(clamping: max(16, queueBytesPerPeer / Self.controlBundleBytes)) }

    func detectSilentPeers(on socket: ZMQSocket) throws {
        try socket.setHeartbeatIntervalMilliseconds(Int32(clamping: heartbeatIntervalMilliseconds))
        try socket.setHeartbeatTimeoutMilliseconds(Int32(clamping: heartbeatTimeoutMilliseconds))
        try socket.setHeartbeatTTLMilliseconds(Int32(clamping: heartbeatTimeoutMilliseconds))
        // A backstop for whatever the heartbeats miss: the kernel's probes after 10 s of silence.
        try socket.setTCPKeepalive(true, idleSeconds: 10, intervalSeconds: 2, probeCount: 3)
    }
}
