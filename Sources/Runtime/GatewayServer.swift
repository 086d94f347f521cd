import BankCore
import BankProtocol
import Cluster
import Foundation
import Logging
import Membership
import Storage
import ZeroMQ

/// The gateway process: a client ROUTER socket, the peer inbox, and one loop on one thread that feeds
/// `GatewayCore` and carries out its actions. The configuration it decides is written durably (atomically
/// replaced, fsync'd) before anything acts on it.
public final class GatewayServer {
    private let file: ClusterFile
    private let logger: Logger
    private let context: ZMQContext
    private let clients: ZMQSocket
    private let links: PeerLinks
    private let statePath: String
    private var core: GatewayCore
    private var tickIntervalNanos: UInt64 = .milliseconds(5)
    /// Replies dropped because a client's queue was full (it does not read them), since the last log line about it:
    /// logged at most once a second, since a flooding client can cause thousands a second.
    private var droppedReplies = 0
    private var droppedRepliesLoggedNanos: UInt64 = 0
    private var droppedRepliesTotal: Int64 = 0
    private let metrics: GatewayMetrics?
    private let security: LinkSecurity?

    /// - Parameter name: which gateway of the topology this is (nil: its only gateway).
    public init(file: ClusterFile, name: String? = nil, logger: Logger) throws {
        self.file = file
        self.logger = logger
        let topology = file.topology
        guard let me = name.map({ topology.process(named: $0)?.node }) ?? topology.gateways.first, me.isGateway,
              let spec = topology.process(me) else {
            throw ServerStartError("\(name ?? "?") is not a gateway of the cluster file (gateways: "
                + topology.gateways.map(\.name).joined(separator: ", ") + ")")
        }
        let directory = file.dataDirectory(of: me)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        statePath = directory + "/config.json"
        var config = ClusterConfig.initial
        if let bytes = try DurableFile.read(path: statePath) {
            config = try JSONDecoder().decode(ClusterConfig.self, from: Data(bytes))
            logger.info("gateway: resuming with \(config)")
            for ledger in [config.leader, config.follower].compactMap({ $0 }) where !topology.ledgers.contains(ledger) {
                throw ServerStartError("the saved configuration (\(statePath)) names ledger \(ledger), which the cluster "
                    + "file does not list (ledgers: " + topology.ledgers.map(\.name).joined(separator: ", ") + ")")
            }
        } else {
            logger.info("gateway: no saved configuration; electing once both ledgers answer")
        }
        core = GatewayCore(config: config, ledgers: topology.ledgers, settings: file.gatewaySettings,
                           startedAt: SystemClock.now(), firstToken: UInt64.random(in: 1...(1 << 62)))
        context = try ZMQContext()
        security = try LinkSecurity.start(for: me, file: file, context: context, logger: logger)
        clients = try context.makeSocket(.router)
        try security?.serve(clients, domain: ZAPDomain.clients)
        // Replies to a vanished client fail loudly instead of disappearing; we drop them ourselves.
        try clients.setRouterMandatory(true)
        try clients.setSendHighWaterMark(1_000_000)
        try clients.setReceiveHighWaterMark(1_000_000)
        // Far above the 1 MiB request limit, so oversized requests are answered `too_large`, not cut off.
        try clients.setMaximumMessageSizeBytes(64 << 20)
        // A client machine that vanishes silently is let go of after a minute without a sound (clients' ZeroMQ
        // answers PINGs on its own); its pending requests still end by their deadline.
        try clients.setHeartbeatIntervalMilliseconds(10_000)
        try clients.setHeartbeatTimeoutMilliseconds(60_000)
        try clients.bind(spec.clientBind!)
        links = try PeerLinks(context: context, me: me, file: file, security: security, logger: logger)
        metrics = try ProcessMetrics.start(for: me, file: file, logger: logger)
            .map { GatewayMetrics(process: $0, ledgers: topology.ledgers) }
        logger.info("gateway \(me): clients at \(spec.clientBind!) (reached at \(spec.clientEndpoint!))")
    }

    public func run(until stop: StopSignal) throws {
        let poller = ZMQPoller()
        poller.add(clients)
        poller.add(links.inbox)
        var events: [GatewayEvent] = []
        events.reserveCapacity(4096)
        var lastTickNanos: UInt64 = 0
        while !stop.isRaised {
            _ = try poller.poll(timeoutMilliseconds: 5)
            let now = SystemClock.now()
            events.removeAll(keepingCapacity: true)
            // Ledgers first (reports, replies: they free room), then a bounded number of client requests, so an
            // iteration stays short under a flood and heartbeats go out on time. Requests beyond the admission
            // bounds are answered `overloaded` in this same step.
            links.drain(limit: 1024) { sender, message in events.append(.received(from: sender, message)) }
            drainClients(into: &events, limit: 2048)
            if now.nanos(since: lastTickNanos) >= tickIntervalNanos {
                events.append(.tick)
                lastTickNanos = now.monotonicNanos
            }
            security?.housekeeping(now: now)
            if let metrics, metrics.process.isDue(now: now) {
                metrics.export(core, links: links, droppedReplies: droppedRepliesTotal, now: now)
            }
            if events.isEmpty { continue }
            try carryOut(core.step(events, now: now))
            metrics?.record(core.answered)
            links.flush()
        }
        clients.close()
        links.close()
        security?.stop()
        metrics?.process.close()
        logger.info("gateway: stopped")
    }

    private func drainClients(into events: inout [GatewayEvent], limit: Int) {
        for _ in 0..<limit {
            let frames: [[UInt8]]
            var role: ClientRole?
            var clientKey: ClientKey?
            do {
                if let security {
                    guard let received = try clients.receiveWithUserID(dontWait: true) else { return }
                    guard security.admit(userID: received.userID, descriptor: received.connectionDescriptor) else {
                        continue
                    }
                    // The handler admits only clients' keys here, so a role and key are always there.
                    guard let client = security.client(received.userID) else {
                        security.noteDropped("a client message under \(received.userID ?? "no user id")")
                        continue
                    }
                    frames = received.frames
                    role = client.role
                    clientKey = client.key
                } else {
                    guard let received = try clients.receive(dontWait: true) else { return }
                    frames = received
                }
            } catch {
                logger.warning("client receive failed: \(error)")
                return
            }
            guard let identity = frames.first else { continue }
            let delimited = frames.count >= 2 && frames[1].isEmpty
            let body = Array(frames.dropFirst(delimited ? 2 : 1))
            events.append(.clientRequest(ClientEnvelope(identity: identity, delimited: delimited, role: role,
                                                        clientKey: clientKey), frames: body))
        }
    }

    private func carryOut(_ actions: [GatewayAction]) throws {
        for action in actions {
            switch action {
            case let .reply(to: envelope, body: body):
                let frames = envelope.delimited ? [envelope.identity, [], body] : [envelope.identity, body]
                do {
                    if try !clients.send(frames, dontWait: true) {
                        droppedReplies += 1
                        droppedRepliesTotal += 1
                        let now = SystemClock.now().monotonicNanos
                        if now - droppedRepliesLoggedNanos >= 1_000_000_000 {
                            logger.warning("client queue full: \(droppedReplies) repl(ies) dropped (a client not reading)")
                            droppedReplies = 0
                            droppedRepliesLoggedNanos = now
                        }
                    }
                } catch {
                    // The client went away (EHOSTUNREACH with ROUTER_MANDATORY): nobody to answer.
                    logger.debug("reply to a departed client dropped: \(error)")
                }
            case let .send(to: node, message):
                links.queue(message, to: node)
            case let .persistConfig(config):
                let bytes = try JSONEncoder().encode(config)
                try DurableFile.write(Array(bytes), to: statePath)
            case let .log(line):
                logger.info("gateway: \(line)")
            }
        }
    }
}
