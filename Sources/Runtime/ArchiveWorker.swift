import BankCore
import Cluster
import Foundation
import HistoryStore
import Logging
import ZeroMQ

/// Writes the node's archive batches (committed receipts and closed holds) and the pieces of a copy of the
/// leader's store to the history store on its own thread, in the order asked, so the loop never waits for
/// LevelDB's synced writes. Reports through the loop's wake-up socket, as the sync and checkpoint threads do.
final class ArchiveWorker: @unchecked Sendable {
    enum Outcome {
        case archived(through: Seq)
        case imported(watermark: Seq?)
        case failed(String)
    }

    private enum Job {
        case batch(ArchiveBatch)
        case `import`(HistoryImport)
    }

    private let life = WorkerThread<Outcome>()
    private var condition: NSCondition { life.condition }
    // Guarded by `condition`.
    private var pending: [Job] = []
    private let store: LevelHistoryStore
    private let logger: Logger

    init(store: LevelHistoryStore, context: ZMQContext, endpoint: String, logger: Logger) {
        self.store = store
        self.logger = logger
        let thread = Thread { [self] in
            // Not lowered like the checkpoint thread: the store must keep up with commits, or the state waiting
            // to leave memory grows (the sustained rate is the slower of the two).
            run(context: context, endpoint: endpoint)
        }
        thread.name = "archive"
        thread.start()
    }

    /// Queues a batch (the node hands out one at a time: it waits for `.archived`).
    func write(_ batch: ArchiveBatch) { enqueue(.batch(batch)) }

    /// Queues a piece of the leader's store (the node asks for the next piece meanwhile).
    func importItems(_ imported: HistoryImport) { enqueue(.import(imported)) }

    private func enqueue(_ job: Job) {
        condition.lock()
        pending.append(job)
        condition.signal()
        condition.unlock()
    }

    func takeResults() -> [Outcome] { life.takeResults() }

    /// Stops the thread after the batch being written (a batch not yet written is simply not: the node hands it
    /// out again after a restart, from the store's watermark).
    func stop() { life.stop() }

    private func run(context: ZMQContext, endpoint: String) {
        let wakeup = SyncWorker.connectWakeup(context: context, endpoint: endpoint, thread: "archive thread")
        condition.lock()
        while true {
            while !life.stopping && pending.isEmpty { condition.wait() }
            if life.stopping { break }
            let job = pending.removeFirst()
            condition.unlock()
            var outcome: Outcome?
            do {
                switch job {
                case let .batch(batch):
                    try store.write(batch)
                    outcome = .archived(through: batch.throughSeq)
                case let .import(imported):
                    try store.importItems(imported.items, watermark: imported.watermark, startsCopy: imported.startsCopy)
                    outcome = .imported(watermark: imported.watermark)
                    if let seq = imported.watermark {
                        logger.info("the copy of the leader's history store is complete (up to seq \(seq))")
                    }
                }
            } catch {
                outcome = .failed(error.description)
            }
            condition.lock()
            if let outcome { life.post(outcome) }
            condition.unlock()
            if outcome != nil { _ = try? wakeup.send([[3]], dontWait: true) }
            condition.lock()
        }
        condition.unlock()
        wakeup.close()
        life.finish()
    }
}
