import Cluster
import Foundation
import Logging
import Storage
import ZeroMQ

/// Writes checkpoints and the commit floor on its own thread, so the ledger's loop never waits for them: a
/// checkpoint of a large ledger takes seconds, and the loop must keep answering heartbeats meanwhile.
///
/// The loop hands over a `CheckpointImage` (a copy of the ledger that shares storage with the live one until either
/// writes); this thread rolls the copy back to the image's committed seq, streams it to a checkpoint file and
/// reports `.checkpointWritten` or `.checkpointFailed`, waking the loop through its inproc PULL socket (the same
/// one the journal's sync thread wakes). A newer floor replaces an older one not yet written.
final class CheckpointWorker: @unchecked Sendable {
    private let condition = NSCondition()
    // Guarded by `condition`.
    private var pendingImage: CheckpointImage?
    private var pendingFloor: UInt64?
    private var results: [LedgerEvent] = []
    private var stopping = false
    private var finished = false

    private let directory: String
    private let logger: Logger

    /// Starts the worker; `endpoint` must already be bound by the loop's PULL socket.
    init(directory: String, context: ZMQContext, endpoint: String, logger: Logger) {
        self.directory = directory
        self.logger = logger
        let thread = Thread { [self] in run(context: context, endpoint: endpoint) }
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

    func storeCommitFloor(_ seq: UInt64) {
        condition.lock()
        pendingFloor = max(pendingFloor ?? 0, seq)
        condition.signal()
        condition.unlock()
    }

    /// The outcomes since the last call, for the node.
    func takeResults() -> [LedgerEvent] {
        condition.lock()
        defer { condition.unlock() }
        let taken = results
        results.removeAll()
        return taken
    }

    /// Stops the thread; a checkpoint being written is abandoned (its temporary file removed), since the journal
    /// holds everything it would have held.
    func stop() {
        condition.lock()
        stopping = true
        condition.broadcast()
        while !finished { condition.wait() }
        condition.unlock()
    }

    private var isStopping: Bool {
        condition.lock()
        defer { condition.unlock() }
        return stopping
    }

    private struct Abandoned: Error {}

    private func run(context: ZMQContext, endpoint: String) {
        let wakeup: ZMQSocket
        do {
            wakeup = try context.makeSocket(.push)
            try wakeup.connect(endpoint)
        } catch {
            fatalError("checkpoint thread: cannot reach the loop at \(endpoint): \(error)")
        }
        condition.lock()
        while true {
            while !stopping && pendingImage == nil && pendingFloor == nil { condition.wait() }
            if stopping { break }
            let floor = pendingFloor
            let image = pendingImage
            pendingFloor = nil
            pendingImage = nil
            condition.unlock()
            if let floor {
                do { try CommitFloorFile.store(floor, directory: directory) } catch {
                    logger.error("cannot store the commit floor \(floor): \(error)")
                }
            }
            var outcome: LedgerEvent?
            if let image {
                outcome = write(image) ? .checkpointWritten(seq: image.position.seq)
                    : .checkpointFailed(seq: image.position.seq)
            }
            condition.lock()
            if let outcome { results.append(outcome) }
            condition.unlock()
            // A wake-up already queued is as good as a new one, so a full queue is fine.
            if outcome != nil { _ = try? wakeup.send([[2]], dontWait: true) }
            condition.lock()
        }
        condition.unlock()
        wakeup.close()
        condition.lock()
        finished = true
        condition.broadcast()
        condition.unlock()
    }

    /// Settles the image, writes it, and logs the outcome.
    private func write(_ image: CheckpointImage) -> Bool {
        let started = SystemClock.now()
        do {
            let ledger = image.settledLedger()
            let byteCount = try CheckpointFile.write(in: directory, at: image.position) { put in
                try ledger.writeCheckpoint { chunk in
                    if self.isStopping { throw Abandoned() }
                    try put(chunk)
                }
            }
            let elapsedMillis = (SystemClock.now().monotonicNanos - started.monotonicNanos) / 1_000_000
            logger.info("checkpoint at seq \(image.position.seq) written: \(byteCount >> 20) MiB in \(elapsedMillis) ms")
            return true
        } catch is Abandoned {
            logger.info("checkpoint at seq \(image.position.seq) abandoned: the ledger is stopping")
            return false
        } catch {
            logger.error("checkpoint at seq \(image.position.seq) failed: \(error)")
            return false
        }
    }
}
