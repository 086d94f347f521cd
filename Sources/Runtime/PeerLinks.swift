import Cluster
import Logging
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
/// Messages queued during one loop iteration go out together as one bundle per destination and kind.
final class PeerLinks {
    let me: NodeID
    let inbox: ZMQSocket
    private var dealers: [NodeID: ZMQSocket] = [:]
    private var controlDealers: [NodeID: ZMQSocket] = [:]
    private var outbox: [NodeID: [PeerMessage]] = [:]
    private var controlOutbox: [NodeID: [PeerMessage]] = [:]
    private let logger: Logger
    private(set) var droppedBundles = 0

    init(context: ZMQContext, me: NodeID, file: ClusterFile, peers: [NodeID], logger: Logger) throws {
        self.me = me
        self.logger = logger
        inbox = try context.makeSocket(.router)
        try inbox.setReceiveHighWaterMark(1_000_000)
        try inbox.bind(file.inboxEndpoint(of: me))
        func makeDealer(to peer: NodeID) throws -> ZMQSocket {
            let dealer = try context.makeSocket(.dealer)
            // Queue only to live connections: a message for a dead peer is dropped, not delivered much later.
            try dealer.setImmediate(true)
            try dealer.setSendHighWaterMark(1_000_000)
            try dealer.setReconnectIntervalMilliseconds(20)
            try dealer.connect(file.inboxEndpoint(of: peer))
            return dealer
        }
        for peer in peers {
            dealers[peer] = try makeDealer(to: peer)
            controlDealers[peer] = try makeDealer(to: peer)
            outbox[peer] = []
            controlOutbox[peer] = []
        }
    }

    func queue(_ message: PeerMessage, to node: NodeID) {
        if message.isControl {
            controlOutbox[node, default: []].append(message)
        } else {
            outbox[node, default: []].append(message)
        }
    }

    /// Sends everything queued, one bundle per destination and kind, control first.
    func flush() {
        flush(&controlOutbox, through: controlDealers)
        flush(&outbox, through: dealers)
    }

    private func flush(_ box: inout [NodeID: [PeerMessage]], through sockets: [NodeID: ZMQSocket]) {
        for (node, messages) in box where !messages.isEmpty {
            box[node]!.removeAll(keepingCapacity: true)
            guard let dealer = sockets[node] else { continue }
            let bundle = PeerCodec.encodeBundle(from: me, messages)
            do {
                if try !dealer.send([bundle], dontWait: true) {
                    droppedBundles += 1
                }
            } catch {
                logger.warning("sending to \(node) failed: \(error)")
            }
        }
    }

    /// Reads what has arrived, up to `limit` bundles, without blocking.
    func drain(limit: Int, _ body: (NodeID, PeerMessage) -> Void) {
        for _ in 0..<limit {
            let frames: [[UInt8]]
            do {
                guard let received = try inbox.receive(dontWait: true) else { return }
                frames = received
            } catch {
                logger.warning("inbox receive failed: \(error)")
                return
            }
            guard frames.count == 2 else {
                logger.warning("inbox: dropped a message of \(frames.count) frames")
                continue
            }
            do {
                let (sender, messages) = try PeerCodec.decodeBundle(frames[1])
                for message in messages { body(sender, message) }
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
