import Foundation

/// What every worker thread beside a ledger's loop shares (sync, checkpoint, archive): a condition guarding the
/// worker's state, a stop flag its thread checks, the handshake that makes `stop()` return only once the thread
/// has exited (so what it works on — the journal, the store — can be closed after), and the outcomes it posts for
/// the loop to take.
final class WorkerThread<Outcome>: @unchecked Sendable {
    let condition = NSCondition()
    /// Read with `condition` held.
    private(set) var stopping = false
    private var finished = false
    private var results: [Outcome] = []

    /// Called with `condition` held.
    func post(_ outcome: Outcome) { results.append(outcome) }

    /// The outcomes posted since the last call.
    func takeResults() -> [Outcome] {
        condition.lock()
        defer { condition.unlock() }
        let taken = results
        results.removeAll()
        return taken
    }

    /// Raises the stop flag and waits until the thread has called `finish()`.
    func stop() {
        condition.lock()
        stopping = true
        condition.broadcast()
        while !finished { condition.wait() }
        condition.unlock()
    }

    /// The thread's last call.
    func finish() {
        condition.lock()
        finished = true
        condition.broadcast()
        condition.unlock()
    }
}
