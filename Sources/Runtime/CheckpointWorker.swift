import BankCore
import Cluster
import Foundation
import Logging
import Storage
import ZeroMQ
#if canImport(Glibc)
import Glibc
#endif

/// Writes checkpoints and the commit floor, and installs checkpoints received from the leader, on its own thread,
/// so the ledger's loop never waits for them: a checkpoint of a large ledger takes seconds to write or load, and
/// the loop must keep answering heartbeats meanwhile.
///
/// The loop hands over a `CheckpointImage` (a copy of the ledger that shares storage with the live one until either
/// writes); this thread rolls the copy back to the image's committed seq, streams it to a checkpoint file and
/// reports `.checkpointWritten` or `.checkpointFailed`, waking the loop through its inproc PULL socket (the same
/// one the journal's sync thread wakes). A newer floor replaces an older one not yet written.
final class CheckpointWorker: @unchecked Sendable {
    /// A finished job. The loop acts on it (floor advance, journal reset) before the node hears of it.
    enum Outcome {
        case written(seq: UInt64, floorCandidate: UInt64?)
        case writeFailed(seq: UInt64)
        case installed(CheckpointImage)
        case installFailed(seq: UInt64)
        /// The disk failed (a write, a sync, no space): the ledger treats it as a crash of its storage.
        case storageFailed(StorageError)
    }

    private let life = WorkerThread<Outcome>()
    private var condition: NSCondition { life.condition }
    // Guarded by `condition`.
    private var pendingImage: CheckpointImage?
    private var pendingFloor: UInt64?
    private var pendingInstall: CheckpointFile.Position?

    private let directory: String
    private let logger: Logger

    /// Starts the worker; `endpoint` must already be bound by the loop's PULL socket.
    init(directory: String, context: ZMQContext, endpoint: String, logger: Logger) {
        self.directory = directory
        self.logger = logger
        let thread = Thread { [self] in
            // Checkpoints yield the CPU to the loops that answer clients and heartbeats (2 cores, 3 processes).
            // On Linux the nice value is per thread: this lowers only the calling one.
            _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, 10)
            run(context: context, endpoint: endpoint)
        }
        thread.name = "checkpoint"
        thread.start()
    }

    /// Queues a checkpoint. The node asks for one at a time (it waits for the report before the next).
    func write(_ image: CheckpointImage) {
        condition.lock()
        precondition(pendingImage == nil, "a checkpoint is already queued")
        pendingImage = image
        condition.signal()
        condition.unlock()
    }

    /// Queues the install of the staged checkpoint (one at a time: the node waits for the outcome).
    func install(_ position: CheckpointFile.Position) {
        condition.lock()
        precondition(pendingInstall == nil, "a checkpoint install is already queued")
        pendingInstall = position
        condition.signal()
        condition.unlock()
    }

    func storeCommitFloor(_ seq: UInt64) {
        condition.lock()
        pendingFloor = max(pendingFloor ?? 0, seq)
        condition.signal()
        condition.unlock()
    }

    /// The outcomes since the last call.
    func takeResults() -> [Outcome] { life.takeResults() }

    /// Stops the thread; a checkpoint being written is abandoned (its temporary file removed), since the journal
    /// holds everything it would have held.
    func stop() { life.stop() }

    private var isStopping: Bool {
        condition.lock()
        defer { condition.unlock() }
        return life.stopping
    }

    private struct Abandoned: Error {}

    private func run(context: ZMQContext, endpoint: String) {
        let wakeup = SyncWorker.connectWakeup(context: context, endpoint: endpoint, thread: "checkpoint thread")
        condition.lock()
        while true {
            while !life.stopping && pendingImage == nil && pendingFloor == nil && pendingInstall == nil { condition.wait() }
            if life.stopping { break }
            let floor = pendingFloor
            // Taken, not copied: the image must have no other owner here, so that the pages of the id filter it
            // lets go of while writing become the live ledger's alone (see `Ledger.drainIntoCheckpoint`).
            var image = pendingImage.take()
            let installPosition = pendingInstall
            pendingFloor = nil
            pendingInstall = nil
            condition.unlock()
            var outcomes: [Outcome] = []
            if let floor {
                do { try CommitFloorFile.store(floor, directory: directory) } catch let error as StorageError {
                    outcomes.append(.storageFailed(error))
                } catch {
                    logger.error("cannot store the commit floor \(floor): \(error)")
                }
            }
            if let installPosition { outcomes.append(install(installPosition)) }
            // The image was a copy of the ledger: the parts only it still held are freed as it is written.
            if let written = image.take() { outcomes.append(write(consume written)) }
            if outcomes.contains(where: Self.freedState) { HeapReturn.trim() }
            condition.lock()
            for outcome in outcomes { life.post(outcome) }
            condition.unlock()
            // A wake-up already queued is as good as a new one, so a full queue is fine.
            if !outcomes.isEmpty { _ = try? wakeup.send([[2]], dontWait: true) }
            condition.lock()
        }
        condition.unlock()
        wakeup.close()
        life.finish()
    }

    /// Whether the job let go of a copy of the ledger's state (a written checkpoint's image, or the state a
    /// follower replaced with an installed one), so that trimming the heap returns something.
    private static func freedState(_ outcome: Outcome) -> Bool {
        switch outcome {
        case .written, .writeFailed, .installed: return true
        case .installFailed, .storageFailed: return false
        }
    }

    /// Verifies and loads the staged checkpoint, then makes it the newest checkpoint and the commit floor.
    private func install(_ position: CheckpointFile.Position) -> Outcome {
        let started = SystemClock.now()
        do {
            let ledger = try CheckpointFile.installStaged(in: directory, at: position) { _, body in
                try Ledger(checkpoint: body)
            }
            guard ledger.lastAppliedSeq == position.seq else {
                throw StorageError.invalidContent(path: CheckpointFile.directory(in: directory),
                                                  reason: "the received state is at seq \(ledger.lastAppliedSeq)")
            }
            try CommitFloorFile.store(position.seq, directory: directory)
            let elapsedMillis = (SystemClock.now().monotonicNanos - started.monotonicNanos) / 1_000_000
            logger.info("checkpoint at \(position) received from the leader: verified and loaded in \(elapsedMillis) ms")
            return .installed(CheckpointImage(position: position, ledger: ledger))
        } catch let error as StorageError where error.isDiskFailure {
            return .storageFailed(error)
        } catch {
            logger.error("the checkpoint received from the leader (\(position)) cannot be installed: \(error)")
            return .installFailed(seq: position.seq)
        }
    }

    /// Settles the image, writes it, and logs the outcome.
    private func write(_ image: consuming CheckpointImage) -> Outcome {
        let started = SystemClock.now()
        let position = image.position
        let storedThrough = image.storedThrough
        var ledger = image.settledLedger()
        _ = consume image
        do {
            let byteCount = try CheckpointFile.write(in: directory, at: position) { put in
                try ledger.drainIntoCheckpoint(leavingOutThrough: storedThrough) { chunk in
                    if self.isStopping { throw Abandoned() }
                    try put(chunk)
                }
            }
            let elapsedMillis = (SystemClock.now().monotonicNanos - started.monotonicNanos) / 1_000_000
            logger.info("checkpoint at seq \(position.seq) written: \(byteCount >> 20) MiB in \(elapsedMillis) ms")
            return .written(seq: position.seq,
                            floorCandidate: CheckpointFile.floorCandidate(keptSeqs: try CheckpointFile.seqs(in: directory)))
        } catch is Abandoned {
            logger.info("checkpoint at seq \(position.seq) abandoned: the ledger is stopping")
            return .writeFailed(seq: position.seq)
        } catch let error as StorageError where error.isDiskFailure {
            return .storageFailed(error)
        } catch {
            logger.error("checkpoint at seq \(position.seq) failed: \(error)")
            return .writeFailed(seq: position.seq)
        }
    }
}
