import CoreMetrics
import Foundation
import Storage
import ZeroMQ
#if canImport(Glibc)
import Glibc
#endif

/// Runs the journal's `fdatasync` on its own thread, so the ledger's loop keeps going while the disk works.
///
/// Why: with the sync on the loop thread, a follower's acknowledgement that arrived during the leader's sync of
/// the next batch waited for that sync to end before the leader could answer — every answer paid about one extra
/// sync. Now the loop writes a batch, asks for a sync, and goes back to polling: acknowledgements and new requests
/// are handled while the disk works, and the loop hears "durable through seq N" as soon as the sync returns.
///
/// Correctness rests on ordering only: a sync started after the records up to N were written (`pwrite` returned)
/// makes them durable, so the worker reports the seq that had been written when it started. Each request names the
/// journal's active segment at that moment (earlier segments were synced when the next one started). The loop
/// waits for any sync in flight before cutting the journal or closing segments (`waitUntilIdle`), so a report never
/// names a record that was cut and no sync runs on a closed file.
///
/// The wake-up goes through an inproc PUSH/PULL pair: the worker owns the PUSH end (made on its own thread), the
/// loop polls the PULL end with its other sockets.
final class SyncWorker: @unchecked Sendable {
    private let life = WorkerThread<Never>()
    private var condition: NSCondition { life.condition }
    // Guarded by `condition`.
    private var requestedSeq: UInt64 = 0
    private var syncedSeq: UInt64 = 0
    private var reportedSeq: UInt64 = 0
    private var failure: Int32?
    /// The active segment when the newest request was made.
    private var fileDescriptor: Int32 = -1
    private var path = ""
    /// Each fdatasync's duration goes here (the metrics' histogram), when given.
    private let duration: CoreMetrics.Timer?

    /// Starts the worker; `endpoint` must already be bound by the loop's PULL socket.
    init(context: ZMQContext, endpoint: String, durableSeq: UInt64, duration: CoreMetrics.Timer? = nil) {
        self.duration = duration
        syncedSeq = durableSeq
        requestedSeq = durableSeq
        reportedSeq = durableSeq
        let thread = Thread { [self] in run(context: context, endpoint: endpoint) }
        thread.name = "journal-sync"
        thread.start()
    }

    /// Asks for everything written up to `seq`, which ends in the segment open as `fileDescriptor`, to be made
    /// durable.
    func request(through seq: UInt64, fileDescriptor: Int32, path: String) {
        condition.lock()
        if seq > requestedSeq {
            requestedSeq = seq
            self.fileDescriptor = fileDescriptor
            self.path = path
            condition.signal()
        }
        condition.unlock()
    }

    /// The seq durable since the last call, if it advanced. Throws if a sync failed: durability is then unknown
    /// and the node must stop.
    func takeDurableSeq() throws -> UInt64? {
        condition.lock()
        defer { condition.unlock() }
        if let failure { throw StorageError.systemCall("fdatasync", path: path, errno: failure) }
        guard syncedSeq > reportedSeq else { return nil }
        reportedSeq = syncedSeq
        return syncedSeq
    }

    /// Blocks until no sync is running or wanted (one runs exactly while `requestedSeq > syncedSeq`), then treats
    /// everything after `seq` as gone (the journal is about to be cut there; pass the journal's end when nothing is
    /// cut).
    func waitUntilIdle(thenCutAt seq: UInt64) throws {
        condition.lock()
        defer { condition.unlock() }
        while failure == nil && requestedSeq > syncedSeq { condition.wait() }
        if let failure { throw StorageError.systemCall("fdatasync", path: path, errno: failure) }
        requestedSeq = min(requestedSeq, seq)
        syncedSeq = min(syncedSeq, seq)
        reportedSeq = min(reportedSeq, seq)
    }

    /// Stops the thread after any sync in flight; returns once it has exited.
    func stop() { life.stop() }

    /// The PUSH end of a worker thread's wake-ups to the loop, made on the worker's own thread (one socket per
    /// thread). Failing to reach an inproc endpoint the loop has bound is a bug.
    static func connectWakeup(context: ZMQContext, endpoint: String, thread: String) -> ZMQSocket {
        do {
            let wakeup = try context.makeSocket(.push)
            try wakeup.connect(endpoint)
            return wakeup
        } catch {
            fatalError("\(thread): cannot reach the loop at \(endpoint): \(error)")
        }
    }

    private func run(context: ZMQContext, endpoint: String) {
        let wakeup = Self.connectWakeup(context: context, endpoint: endpoint, thread: "journal sync thread")
        condition.lock()
        while true {
            while !life.stopping && requestedSeq <= syncedSeq { condition.wait() }
            if life.stopping { break }
            let target = requestedSeq
            let fd = fileDescriptor
            condition.unlock()
            let startNanos = SystemClock.now().monotonicNanos
            let result = fdatasync(fd)
            let code = result == 0 ? 0 : errno
            duration?.recordNanoseconds(Int64(SystemClock.now().monotonicNanos - startNanos))
            condition.lock()
            if code == 0 { syncedSeq = max(syncedSeq, target) } else { failure = code }
            condition.broadcast()
            condition.unlock()
            // A wake-up already queued is as good as a new one, so a full queue is fine.
            _ = try? wakeup.send([[1]], dontWait: true)
            condition.lock()
            if failure != nil { break }
        }
        condition.unlock()
        wakeup.close()
        life.finish()
    }
}
