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
        let newest = try Self.loadNewestCheckpoint(directory: directory, id: id, logger: logger)
        let checkpoint = newest?.ledger
        journal = try FileJournal.open(directory: directory, floor: checkpoint?.lastAppliedSeq ?? 0,
                                       segmentByteLimit: file.journalSegmentBytes, retention: file.journalRetention,
                                       logger: { logger.warning("\(id): \($0)") })
        let commitFloor = try Self.reconcile(journal: journal, with: newest?.position, directory: directory, id: id,
                                             logger: logger)
        let ledger = LedgerRecovery.restore(checkpoint: checkpoint, journal: journal, commitFloor: commitFloor)
        let metadata: NodeMetadata
        if let stored = try MetadataFile.load(directory: directory) {
            metadata = stored
        } else {
            var generator = SystemRandomNumberGenerator()
            metadata = NodeMetadata(dataID: generator.next() | 1, epoch: 0, leader: nil)
            try MetadataFile.store(metadata, directory: directory)
        }
        let elapsedMillis = (SystemClock.now().monotonicNanos - started.monotonicNanos) / 1_000_000
        let checkpointSeq = checkpoint?.lastAppliedSeq ?? 0
        logger.info("\(id): journal holds \(journal.lastSeq) records (epoch \(journal.lastEpoch)); state restored in \(elapsedMillis) ms (checkpoint at seq \(checkpointSeq), \(journal.lastSeq - checkpointSeq) records replayed, commit floor \(commitFloor)); data id \(String(metadata.dataID, radix: 16)), epoch \(metadata.epoch)")

        node = LedgerNode(id: id, metadata: metadata, ledger: ledger, journal: journal,
                          checkpoints: FileCheckpointReader(dataDirectory: directory), settings: file.ledgerSettings,
                          commitFloor: commitFloor, checkpointSeq: checkpointSeq)
        context = try ZMQContext()
        links = try PeerLinks(context: context, me: id, file: file, peers: [.gateway, id.peer], logger: logger)
    }

    /// The state in the newest checkpoint that verifies (an older one when the newest is damaged).
    static func loadNewestCheckpoint(directory: String, id: NodeID,
                                     logger: Logger) throws -> (position: CheckpointFile.Position, ledger: Ledger)? {
        try CheckpointFile.loadNewest(in: directory, logger: { logger.warning("\(id): \($0)") }) { position, body in
            let ledger = try Ledger(checkpoint: body)
            guard ledger.lastAppliedSeq == position.seq else {
                throw StorageError.invalidContent(path: CheckpointFile.directory(in: directory), reason:
                    "the state is at seq \(ledger.lastAppliedSeq), the header says \(position.seq)")
            }
            return (position, ledger)
        }
    }

    /// Makes the journal continue the checkpoint, and returns the commit floor: the stored one or the checkpoint's
    /// seq, whichever is higher.
    ///
    /// A valid checkpoint is committed state (one is written only at a committed seq, or received from the leader),
    /// so the newest one always wins: a journal that does not hold its position is what an install from the leader
    /// leaves when the node stops between making the file the newest checkpoint and resetting the journal. The
    /// journal then restarts after the checkpoint.
    static func reconcile(journal: FileJournal, with checkpoint: CheckpointFile.Position?, directory: String,
                          id: NodeID, logger: Logger) throws -> Seq {
        if let position = checkpoint {
            if journal.hash(at: position.seq) != position.hash {
                logger.warning("\(id): the journal (seq \(journal.floorSeq)…\(journal.lastSeq)) does not hold the newest checkpoint's position \(position): a checkpoint install from the leader was interrupted; the journal restarts after it")
                try journal.reset(after: position)
            }
        } else if journal.floorSeq > 0 {
            throw StorageError.invalidContent(path: journal.journalDirectory, reason: "the journal starts after seq "
                + "\(journal.floorSeq) (older segments were removed) and no checkpoint holds the state there; restore "
                + "a checkpoint or start this ledger empty so that it copies the state from its peer")
        }
        var floor = max(try CommitFloorFile.load(directory: directory) ?? 0, checkpoint?.seq ?? 0)
        if floor > journal.lastSeq {
            logger.error("\(id): the commit floor \(floor) is beyond the journal's end \(journal.lastSeq); using the end")
            floor = journal.lastSeq
        }
        return floor
    }

    /// Runs until `stop` is raised.
    public func run(until stop: StopSignal) throws {
        let wakeups = try context.makeSocket(.pull)
        let wakeupEndpoint = "inproc://ledger-wakeups-\(id.name)"
        try wakeups.bind(wakeupEndpoint)
        let sync = SyncWorker(context: context, endpoint: wakeupEndpoint, durableSeq: journal.lastSeq)
        let checkpoints = CheckpointWorker(directory: directory, context: context, endpoint: wakeupEndpoint,
                                           logger: logger)
        defer {
            // The worker threads first: the journal must not close under a running fdatasync.
            checkpoints.stop()
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
        var lastTickNanos: UInt64 = 0
        while !stop.isRaised {
            _ = try poller.poll(timeoutMilliseconds: 10)
            let now = SystemClock.now()
            events.removeAll(keepingCapacity: true)
            while try wakeups.receive(dontWait: true) != nil {} // wake-ups carry nothing; the workers have the news
            if let durable = try sync.takeDurableSeq() { events.append(.persisted(through: durable)) }
            for outcome in checkpoints.takeResults() { events.append(try complete(outcome, sync: sync)) }
            links.drain(limit: 1024) { sender, message in events.append(.received(from: sender, message)) }
            if now.nanos(since: lastTickNanos) >= tickIntervalNanos {
                events.append(.tick)
                lastTickNanos = now.monotonicNanos
            }
            if events.isEmpty { continue }
            // Replication goes out before the sync is asked for, so the follower's sync overlaps ours.
            let wrote = try carryOut(node.step(events, now: now), sync: sync, checkpoints: checkpoints)
            links.flush()
            if wrote {
                sync.request(through: journal.lastSeq, fileDescriptor: journal.activeDescriptor, path: journal.activePath)
            }
        }
    }

    /// What the loop does when the checkpoint thread finishes a job, before the node hears of it.
    private func complete(_ outcome: CheckpointWorker.Outcome, sync: SyncWorker) throws -> LedgerEvent {
        switch outcome {
        case let .written(seq, oldestRetainedSeq):
            // Nothing below the oldest kept checkpoint is read again: a restart starts at a checkpoint, a follower
            // that needs older records gets one. No sync may run on a segment that is about to close.
            try sync.waitUntilIdle(thenCutAt: journal.lastSeq)
            try journal.advanceFloor(to: min(oldestRetainedSeq, node.commitSeq))
            return .checkpointWritten(seq: seq)
        case let .writeFailed(seq):
            return .checkpointFailed(seq: seq)
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
    private func carryOut(_ actions: [LedgerAction], sync: SyncWorker, checkpoints: CheckpointWorker) throws -> Bool {
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
            }
        }
        try writeBatch()
        return wrote
    }
}
