import BankCore
import Cluster
import Foundation
import Logging
import Storage
import ZeroMQ

/// The ledger process: opens the journal, rebuilds the ledger, then runs one loop on one thread that feeds
/// network messages and timer ticks to `LedgerNode` and carries out its actions.
///
/// Group commit falls out of the loop's shape: everything that arrived since the last iteration is stepped
/// together, the resulting records are written, replication messages are sent (so the follower's fsync overlaps
/// ours), then the `SyncWorker` is asked for one `fdatasync` covering them all; the node hears `.persisted` when it
/// returns, while the loop has gone on receiving (acknowledgements, new requests) in the meantime.
public final class LedgerServer {
    private let id: NodeID
    private let file: ClusterFile
    private let logger: Logger
    private let context: ZMQContext
    private let links: PeerLinks
    private let journal: FileJournal
    private let directory: String
    private var node: LedgerNode
    private var tickIntervalNanos: UInt64 = .milliseconds(10)

    public init(id: NodeID, file: ClusterFile, logger: Logger) throws {
        self.id = id
        self.file = file
        self.logger = logger
        directory = file.dataDirectory(of: id)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)

        let started = SystemClock.now()
        journal = try FileJournal.open(directory: directory, logger: { logger.warning("\($0)") })
        let ledger = LedgerRecovery.rebuild(from: journal)
        let metadata: NodeMetadata
        if let stored = try MetadataFile.load(directory: directory) {
            metadata = stored
        } else {
            var generator = SystemRandomNumberGenerator()
            metadata = NodeMetadata(dataID: generator.next() | 1, epoch: 0, leader: nil)
            try MetadataFile.store(metadata, directory: directory)
        }
        let elapsedMillis = (SystemClock.now().monotonicNanos - started.monotonicNanos) / 1_000_000
        logger.info("\(id): journal holds \(journal.lastSeq) records (epoch \(journal.lastEpoch)); state rebuilt in \(elapsedMillis) ms; data id \(String(metadata.dataID, radix: 16)), epoch \(metadata.epoch)")

        node = LedgerNode(id: id, metadata: metadata, ledger: ledger, journal: journal, settings: file.ledgerSettings)
        context = try ZMQContext()
        links = try PeerLinks(context: context, me: id, file: file, peers: [.gateway, id.peer], logger: logger)
    }

    /// Runs until `stop` is raised.
    public func run(until stop: StopSignal) throws {
        let wakeups = try context.makeSocket(.pull)
        let wakeupEndpoint = "inproc://journal-sync-\(id.name)"
        try wakeups.bind(wakeupEndpoint)
        let sync = SyncWorker(fileDescriptor: journal.descriptorForSync, path: journal.path, context: context,
                              endpoint: wakeupEndpoint, durableSeq: journal.lastSeq)
        defer {
            // The sync thread first: the journal must not close under a running fdatasync.
            sync.stop()
            wakeups.close()
            links.close()
            journal.close()
            logger.info("\(id): stopped")
        }
        let poller = ZMQPoller()
        poller.add(links.inbox)
        poller.add(wakeups)
        var events: [LedgerEvent] = []
        events.reserveCapacity(4096)
        var controlEvents: [LedgerEvent] = []
        var lastTickNanos: UInt64 = 0
        while !stop.isRaised {
            _ = try poller.poll(timeoutMilliseconds: 10)
            let now = SystemClock.now()
            events.removeAll(keepingCapacity: true)
            controlEvents.removeAll(keepingCapacity: true)
            while try wakeups.receive(dontWait: true) != nil {} // wake-ups carry nothing; the worker has the seq
            if let durable = try sync.takeDurableSeq() { events.append(.persisted(through: durable)) }
            // Data per iteration is bounded by the peers' windows (the gateway's forward window, the leader's
            // replication window) as well as by this limit.
            links.drain(limit: 1024) { sender, message in
                if message.isControl {
                    controlEvents.append(.received(from: sender, message))
                } else {
                    events.append(.received(from: sender, message))
                }
            }
            if now.nanos(since: lastTickNanos) >= tickIntervalNanos {
                events.append(.tick)
                lastTickNanos = now.monotonicNanos
            }
            var wrote = false
            if !controlEvents.isEmpty {
                // Heartbeats and acknowledgements first, answered before any data work: a busy ledger still
                // reports within the heartbeat interval.
                wrote = try carryOut(node.step(controlEvents, now: now), sync: sync)
                links.flush()
            }
            if events.isEmpty && !wrote { continue }
            // Replication goes out before the sync is asked for, so the follower's sync overlaps ours.
            if !events.isEmpty { wrote = try carryOut(node.step(events, now: now), sync: sync) || wrote }
            links.flush()
            if wrote { sync.request(through: journal.lastSeq) }
        }
    }

    /// Returns whether records were written that still need a sync.
    private func carryOut(_ actions: [LedgerAction], sync: SyncWorker) throws -> Bool {
        var wrote = false
        var batch: [JournalRecord] = []
        func writeBatch() throws {
            if !batch.isEmpty {
                try journal.append(batch)
                batch.removeAll(keepingCapacity: true)
                wrote = true
            }
        }
        for action in actions {
            switch action {
            case let .send(to: node, message):
                links.queue(message, to: node)
            case let .append(records):
                batch.append(contentsOf: records)
            case let .truncate(after: seq):
                try writeBatch()
                logger.warning("\(id): dropping uncommitted records after seq \(seq) (journal ended at \(journal.lastSeq))")
                try sync.waitUntilIdle(thenCutAt: seq)
                try journal.truncate(after: seq)
            case let .storeMetadata(metadata):
                try writeBatch()
                try MetadataFile.store(metadata, directory: directory)
                logger.info("\(id): now at epoch \(metadata.epoch), leader \(metadata.leader ?? "unknown")")
            }
        }
        try writeBatch()
        return wrote
    }
}
