import BankCore
import Cluster
import Foundation
import HistoryStore
import Logging
import Storage

/// A ledger's disk opened for serving: the newest usable checkpoint, the journal after it, and the node rebuilt
/// from both. Used at start and again after a storage failure (the node is then rebuilt from what the disk holds,
/// as after a crash).
struct LedgerStorage {
    let journal: FileJournal
    let node: LedgerNode
    /// The history store (empty while the ledger does not archive).
    let history: LevelHistoryStore

    static func open(id: NodeID, file: ClusterFile, logger: Logger) throws -> LedgerStorage {
        let directory = file.dataDirectory(of: id)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let started = SystemClock.now()
        let newest = try loadNewestCheckpoint(directory: directory, id: id, logger: logger)
        let checkpoint = newest?.ledger
        let journal = try FileJournal.open(directory: directory, floor: checkpoint?.lastAppliedSeq ?? 0,
                                           segmentByteLimit: file.journalSegmentBytes, retention: file.journalRetention,
                                           logger: { logger.warning("\(id): \($0)") })
        let commitFloor = try reconcile(journal: journal, with: newest?.position, directory: directory, id: id,
                                        logger: logger)
        let history: LevelHistoryStore
        do {
            history = try LevelHistoryStore(directory: historyDirectory(in: directory))
        } catch {
            journal.close()
            throw StorageError.invalidContent(path: historyDirectory(in: directory), reason: error.description)
        }
        let ledger = LedgerRecovery.restore(checkpoint: checkpoint, journal: journal, commitFloor: commitFloor,
                                            archive: .init(settings: file.ledgerSettings, store: history,
                                                           watermark: history.watermark))
        HeapReturn.trim() // what the replay evicted
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
        if ledger.archives || file.archiveReceiptWindow != nil {
            logger.info("\(id): the history store holds everything archived up to seq \(history.watermark); memory lacks what was archived up to seq \(ledger.evictedThrough)")
        }
        let node = LedgerNode(id: id, peerID: file.topology.peerLedger(of: id), metadata: metadata, ledger: ledger, journal: journal,
                              checkpoints: FileCheckpointReader(dataDirectory: directory), settings: file.ledgerSettings,
                              commitFloor: commitFloor, checkpointSeq: checkpointSeq,
                              history: history, archivedSeq: history.watermark)
        if !node.historyComplete {
            logger.warning("\(id): the history store (up to seq \(history.watermark)) lacks what the state left out of memory (up to seq \(ledger.evictedThrough)): it copies the leader's before it may be promoted")
        }
        return LedgerStorage(journal: journal, node: node, history: history)
    }

    static func historyDirectory(in directory: String) -> String { "\(directory)/history" }

    /// The state in the newest checkpoint that verifies (an older one when the newest is damaged).
    private static func loadNewestCheckpoint(directory: String, id: NodeID,
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
    private static func reconcile(journal: FileJournal, with checkpoint: CheckpointFile.Position?, directory: String,
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

}
