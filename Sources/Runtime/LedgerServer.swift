import BankCore
import Cluster
import Foundation
import HistoryStore
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
///
/// A storage failure — a write or sync that fails, a full disk — is treated as a crash of the node, not of the
/// process: the node stops leading and acknowledging at once (`.storageFailed`), one error is logged, the journal
/// is closed (a failed `fdatasync` is never retried on the same file: the kernel may have dropped the pages, as
/// PostgreSQL learnt), and the ledger probes its disk every second while it answers heartbeats as recovering. Once
/// a probe write and sync succeed, the node is rebuilt from what the disk holds, exactly as after a restart, and
/// rejoins as a follower.
public final class LedgerServer {
    private let id: NodeID
    private let file: ClusterFile
    private let logger: Logger
    private let context: ZMQContext
    private let links: PeerLinks
    private var journal: FileJournal
    private let directory: String
    private var node: LedgerNode
    private var history: LevelHistoryStore
    private let metrics: LedgerMetrics?
    private let security: LinkSecurity?
    private var tickIntervalNanos: UInt64 = .milliseconds(10)
    private static let diskProbeIntervalNanos: UInt64 = .milliseconds(1000)
    private static let diskProbeByteCount = 1 << 20

    public init(id: NodeID, file: ClusterFile, logger: Logger) throws {
        HeapReturn.configure()
        self.id = id
        self.file = file
        self.logger = logger
        directory = file.dataDirectory(of: id)
        let storage = try LedgerStorage.open(id: id, file: file, logger: logger)
        journal = storage.journal
        node = storage.node
        history = storage.history
        context = try ZMQContext()
        security = try LinkSecurity.start(for: id, file: file, context: context, logger: logger)
        links = try PeerLinks(context: context, me: id, file: file, security: security, logger: logger)
        metrics = try ProcessMetrics.start(for: id, file: file, logger: logger)
            .map { LedgerMetrics(process: $0, me: id, peers: file.topology.peers(of: id)) }
    }

    private func periodicChores(now: Instant) {
        security?.housekeeping(now: now)
        guard let metrics, metrics.process.isDue(now: now) else { return }
        metrics.export(node, links: links, now: now)
    }

    /// Runs until `stop` is raised.
    public func run(until stop: StopSignal) throws {
        let wakeups = try context.makeSocket(.pull)
        let wakeupEndpoint = "inproc://ledger-wakeups-\(id.name)"
        try wakeups.bind(wakeupEndpoint)
        defer {
            wakeups.close()
            links.close()
            journal.close()
            history.close()
            security?.stop()
            metrics?.process.close()
            logger.info("\(id): stopped")
        }
        while !stop.isRaised {
            do {
                try serve(until: stop, wakeups: wakeups, wakeupEndpoint: wakeupEndpoint)
            } catch let failure as StorageError {
                logger.error("\(id): storage failed, so this ledger stops leading and acknowledging until its disk works again: \(failure)")
                journal.close()
                history.close()
                try waitForWorkingDisk(until: stop, failure: failure)
                guard !stop.isRaised else { return }
                let storage = try LedgerStorage.open(id: id, file: file, logger: logger)
                journal = storage.journal
                node = storage.node
                history = storage.history
                logger.info("\(id): the disk works again; the node was rebuilt from it and rejoins")
            }
        }
    }

    /// While storage is failed: the node (told `.storageFailed`) answers heartbeats as recovering and nothing
    /// else; every `diskProbeIntervalNanos` a probe file is written and synced. Returns once one succeeds.
    private func waitForWorkingDisk(until stop: StopSignal, failure: StorageError) throws {
        carryOutDegraded(node.step(.storageFailed, now: SystemClock.now()))
        links.flush()
        let poller = ZMQPoller()
        poller.add(links.inbox)
        var lastProbeNanos = SystemClock.now().monotonicNanos
        var events: [LedgerEvent] = []
        while !stop.isRaised {
            // Work the node does a piece per turn (a store copy it streams) goes on at once.
            _ = try poller.poll(timeoutMilliseconds: node.wantsAnotherTurn ? 0 : 10)
            let now = SystemClock.now()
            events.removeAll(keepingCapacity: true)
            links.drain(limit: 1024) { sender, message in events.append(.received(from: sender, message)) }
            if !events.isEmpty {
                carryOutDegraded(node.step(events, now: now))
                links.flush()
            }
            periodicChores(now: now)
            if now.nanos(since: lastProbeNanos) >= Self.diskProbeIntervalNanos {
                lastProbeNanos = now.monotonicNanos
                if (try? DiskProbe.writeAndSync(in: directory, byteCount: Self.diskProbeByteCount)) != nil { return }
            }
        }
    }

    /// A node whose storage failed only sends.
    private func carryOutDegraded(_ actions: [LedgerAction]) {
        for case let .send(to: destination, message) in actions { links.queue(message, to: destination) }
    }

    /// The normal loop, until `stop` or a storage failure (thrown).
    private func serve(until stop: StopSignal, wakeups: ZMQSocket, wakeupEndpoint: String) throws {
        let sync = SyncWorker(context: context, endpoint: wakeupEndpoint, durableSeq: journal.lastSeq,
                              duration: metrics?.fsyncDuration)
        let checkpoints = CheckpointWorker(directory: directory, context: context, endpoint: wakeupEndpoint,
                                           logger: logger)
        let archive = ArchiveWorker(store: history, context: context, endpoint: wakeupEndpoint, logger: logger)
        defer {
            // The worker threads first: the journal must not close under a running fdatasync.
            archive.stop()
            checkpoints.stop()
            sync.stop()
        }
        let poller = ZMQPoller()
        poller.add(links.inbox)
        poller.add(wakeups)
        var events: [LedgerEvent] = []
        events.reserveCapacity(4096)
        var controlEvents: [LedgerEvent] = []
        var lastTickNanos: UInt64 = 0
        while !stop.isRaised {
            // Work the node does a piece per turn (a store copy it streams) goes on at once.
            _ = try poller.poll(timeoutMilliseconds: node.wantsAnotherTurn ? 0 : 10)
            let now = SystemClock.now()
            events.removeAll(keepingCapacity: true)
            controlEvents.removeAll(keepingCapacity: true)
            while try wakeups.receive(dontWait: true) != nil {} // wake-ups carry nothing; the workers have the news
            if let durable = try sync.takeDurableSeq() { events.append(.persisted(through: durable)) }
            for outcome in checkpoints.takeResults() { events.append(try complete(outcome, sync: sync)) }
            for outcome in archive.takeResults() {
                switch outcome {
                case let .archived(through: seq):
                    events.append(.archived(through: seq))
                case let .imported(watermark):
                    events.append(.historyImported(watermark: watermark))
                case let .failed(reason):
                    throw StorageError.systemCall("history store write (\(reason))", path: "\(directory)/history",
                                                  errno: EIO)
                }
            }
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
                wrote = try carryOut(node.step(controlEvents, now: now), sync: sync, checkpoints: checkpoints,
                                     archive: archive)
                links.flush()
            }
            periodicChores(now: now)
            if events.isEmpty && node.wantsAnotherTurn { events.append(.turn) }
            if events.isEmpty && !wrote { continue }
            // Replication goes out before the sync is asked for, so the follower's sync overlaps ours.
            if !events.isEmpty {
                wrote = try carryOut(node.step(events, now: now), sync: sync, checkpoints: checkpoints,
                                     archive: archive) || wrote
            }
            links.flush()
            if wrote {
                sync.request(through: journal.lastSeq, fileDescriptor: journal.activeDescriptor, path: journal.activePath)
            }
        }
    }

    /// What the loop does when the checkpoint thread finishes a job, before the node hears of it.
    private func complete(_ outcome: CheckpointWorker.Outcome, sync: SyncWorker) throws -> LedgerEvent {
        switch outcome {
        case let .written(seq, floorCandidate):
            // Nothing below the oldest kept checkpoint (of two or more) is read again: a restart starts at a
            // checkpoint, a follower that needs older records gets one. No sync may run on a segment that is about to
            // close.
            if let floorCandidate {
                try sync.waitUntilIdle(thenCutAt: journal.lastSeq)
                try journal.advanceFloor(to: min(floorCandidate, node.commitSeq))
            }
            return .checkpointWritten(seq: seq)
        case let .writeFailed(seq):
            return .checkpointFailed(seq: seq)
        case let .storageFailed(failure):
            throw failure
        case let .installed(image):
            try sync.waitUntilIdle(thenCutAt: image.position.seq)
            try journal.reset(after: image.position)
            logger.info("\(id): installed the leader's checkpoint at \(image.position); the journal continues it")
            return .checkpointInstalled(image)
        case let .installFailed(seq):
            return .checkpointInstallFailed(seq: seq)
        }
    }

    /// Returns whether records were written that still need a sync.
    private func carryOut(_ actions: [LedgerAction], sync: SyncWorker, checkpoints: CheckpointWorker,
                          archive: ArchiveWorker) throws -> Bool {
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
            case let .writeCheckpoint(image):
                checkpoints.write(image)
            case let .storeCommitFloor(seq):
                checkpoints.storeCommitFloor(seq)
            case let .stageCheckpointChunk(chunk):
                if chunk.offset == 0 {
                    logger.info("\(id): receiving the leader's checkpoint at \(chunk.position) (\(chunk.totalBytes >> 20) MiB)")
                }
                try CheckpointFile.stage(in: directory, offset: chunk.offset, bytes: chunk.bytes)
            case let .installCheckpoint(position):
                checkpoints.install(position)
            case let .archive(batch):
                archive.write(batch)
            case let .importHistory(imported):
                archive.importItems(imported)
            }
        }
        try writeBatch()
        return wrote
    }
}
