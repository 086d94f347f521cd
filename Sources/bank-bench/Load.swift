import BankProtocol
import Dispatch
import Foundation
import SeededRandom
import Synchronization
import ZeroMQ

/// Counters shared by the load threads and the main thread (which prints progress and stops the load).
final class LoadShared: Sendable {
    let stop = Atomic<Bool>(false)
    /// Transfers answered: ok or refused by the rules (`insufficient_funds`).
    let answered = Atomic<Int>(0)
    let ok = Atomic<Int>(0)
    let refused = Atomic<Int>(0)
    /// Error replies (anything but ok and `insufficient_funds`), counted per transfer.
    let errors = Atomic<Int>(0)
    /// Of the errors: `overloaded` (refused at the gateway, nothing applied) and `unavailable` replies.
    let overloaded = Atomic<Int>(0)
    let unavailable = Atomic<Int>(0)
    /// Requests that fell due while their connection was backing off after `overloaded`, and were not sent.
    let shed = Atomic<Int>(0)
    /// No reply within the client's per-request timeout, counted per transfer.
    let timeouts = Atomic<Int>(0)
    let sent = Atomic<Int>(0)
    /// Replies that came after their request had timed out on the client.
    let late = Atomic<Int>(0)
    let results = Mutex<[WorkerResult]>([])
    /// Batch phase: send-to-reply time of every batch, ns.
    let batchLatencies = Mutex<[UInt64]>([])
    let errorSamples = Mutex<[String]>([])
    private let finished = DispatchSemaphore(value: 0)
    private let threadCount = Atomic<Int>(0)

    func noteError(_ text: String) {
        errorSamples.withLock { if $0.count < 10 { $0.append(text) } }
    }

    func spawn(_ body: @escaping @Sendable () -> Void) {
        threadCount.add(1, ordering: .relaxed)
        let thread = Thread { [self] in
            body()
            finished.signal()
        }
        thread.stackSize = 1 << 22
        thread.start()
    }

    /// Sets the stop flag and waits for every thread (each drains its requests in flight, bounded by the timeout).
    func stopAndJoin(timeoutSeconds: Double) -> Bool {
        stop.store(true, ordering: .relaxed)
        let deadline = DispatchTime.now() + timeoutSeconds
        for _ in 0..<threadCount.load(ordering: .relaxed) {
            if finished.wait(timeout: deadline) == .timedOut { return false }
        }
        return true
    }

    struct Snapshot {
        var answered, ok, refused, errors, timeouts, sent, late: Int
        var overloaded = 0, unavailable = 0, shed = 0
    }

    func snapshot() -> Snapshot {
        Snapshot(answered: answered.load(ordering: .relaxed), ok: ok.load(ordering: .relaxed),
                 refused: refused.load(ordering: .relaxed), errors: errors.load(ordering: .relaxed),
                 timeouts: timeouts.load(ordering: .relaxed), sent: sent.load(ordering: .relaxed),
                 late: late.load(ordering: .relaxed), overloaded: overloaded.load(ordering: .relaxed),
                 unavailable: unavailable.load(ordering: .relaxed), shed: shed.load(ordering: .relaxed))
    }
}

/// What one load thread recorded, when asked to (`record`): every request's intended start and end.
struct WorkerResult: Sendable {
    /// Answered requests: intended send time and reply time (monotonic ns).
    var starts: [UInt64] = []
    var ends: [UInt64] = []
}

struct PipelineSettings: Sendable {
    var endpoint: String
    var accounts: [String]
    /// Request ids are `<prefix><thread>-<n>`: unique over the run, so no request is ever a replay.
    var prefix: String
    var index: Int
    /// Most requests in flight on this socket.
    var window: Int
    /// nil: as fast as the window allows. Otherwise requests are due at a fixed rate and latency counts from the
    /// time a request was due (so a stall is not hidden by sending less: no coordinated omission).
    var ratePerSecond: Double?
    var timeoutNanos: UInt64
    var record: Bool
    /// Latency counts from the actual send instead of the due time: for offered loads the client itself cannot
    /// keep up with (the overload phase), where the due time would measure the client's lag.
    var latencyFromSend = false
    /// After an `overloaded` reply, send nothing for its `retry_after_ms` (as the protocol asks of clients);
    /// requests falling due meanwhile are counted as shed. Only with a rate.
    var backOffOnOverload = false
    /// Send a request answered `overloaded` again, same bytes, after its `retry_after_ms`, as a careful client
    /// does: it counts (in `overloaded`) but is not a failure; its latency runs from the first attempt.
    var retryOverloaded = false
}

/// One DEALER socket on one thread, pipelining single `transfer` requests and matching replies by `request_id`.
func runPipelinedWorker(context: ZMQContext, settings: PipelineSettings, shared: LoadShared) {
    let socket: ZMQSocket
    do {
        socket = try context.makeSocket(.dealer)
        try socket.setSendHighWaterMark(0)
        try socket.setReceiveHighWaterMark(0)
        try socket.connectAsBenchClient(settings.endpoint)
    } catch {
        shared.noteError("worker \(settings.index): \(error)")
        return
    }
    defer { socket.close() }
    let poller = ZMQPoller()
    poller.add(socket)
    var rng = SplitMix64(seed: UInt64(settings.index + 1) &* 0x9E37_79B9 &+ monoNanos())
    var result = WorkerResult()
    // In flight: id → position in the FIFO (absolute); the FIFO holds send order for timeouts.
    var pending: [String: Int] = [:]
    pending.reserveCapacity(settings.window * 2)
    var fifoIDs: [String] = [], fifoIntended: [UInt64] = [], fifoSent: [UInt64] = []
    var fifoHead = 0, fifoBase = 0
    var sequence = 0
    let interval = settings.ratePerSecond.map { 1e9 / $0 }
    var nextDue = Double(monoNanos())
    var pausedUntil: UInt64 = 0
    /// With `retryOverloaded`: the bodies of requests in flight, and the ones due again (in order of due time).
    var bodies: [String: [UInt8]] = [:]
    var attempts: [String: Int] = [:]
    // One queue per attempt: within one, due times only grow (same delay for all), so each is drained from its head.
    var retries = [[(due: UInt64, id: String)]](repeating: [], count: 8)
    var retryHeads = [Int](repeating: 0, count: 8)

    func finish(id: String, outcome: TransferOutcome, now: UInt64) {
        bodies[id] = nil
        attempts[id] = nil
        guard let position = pending.removeValue(forKey: id) else {
            shared.late.add(1, ordering: .relaxed)
            return
        }
        let intended = settings.latencyFromSend ? fifoSent[position - fifoBase] : fifoIntended[position - fifoBase]
        switch outcome {
        case .ok:
            shared.ok.add(1, ordering: .relaxed)
            shared.answered.add(1, ordering: .relaxed)
        case .refused:
            shared.refused.add(1, ordering: .relaxed)
            shared.answered.add(1, ordering: .relaxed)
        case let .error(text):
            shared.errors.add(1, ordering: .relaxed)
            if text.hasPrefix("overloaded") {
                shared.overloaded.add(1, ordering: .relaxed)
            } else {
                if text.hasPrefix("unavailable") { shared.unavailable.add(1, ordering: .relaxed) }
                shared.noteError(text)
            }
        }
        // Failed requests are counted above; only answers go into the timelines.
        guard settings.record else { return }
        if case .error = outcome { return }
        result.starts.append(intended)
        result.ends.append(now)
    }

    /// The oldest request still in flight (the gateway answers its own deadline errors oldest first).
    func oldestPending() -> String? {
        while fifoHead - fifoBase < fifoIDs.count {
            let id = fifoIDs[fifoHead - fifoBase]
            if pending[id] != nil { return id }
            fifoHead += 1
        }
        return nil
    }

    do {
        while true {
            let stopping = shared.stop.load(ordering: .relaxed)
            if stopping && pending.isEmpty { break }
            var now = monoNanos()
            for level in retries.indices {
                while retryHeads[level] < retries[level].count, retries[level][retryHeads[level]].due <= now {
                    let id = retries[level][retryHeads[level]].id
                    if pending[id] != nil, let body = bodies[id] {
                        guard try socket.send([body], dontWait: true) else { break }
                    }
                    retryHeads[level] += 1
                }
                if retryHeads[level] > 1024 && retryHeads[level] * 2 > retries[level].count {
                    retries[level].removeFirst(retryHeads[level])
                    retryHeads[level] = 0
                }
            }
            if !stopping, let interval, settings.backOffOnOverload, now < pausedUntil {
                var shed = 0
                while nextDue <= Double(now) {
                    nextDue += interval
                    shed += 1
                }
                shared.shed.add(shed, ordering: .relaxed)
            } else if !stopping {
                while pending.count < settings.window {
                    var intended = now
                    if interval != nil {
                        if nextDue > Double(now) { break }
                        intended = UInt64(nextDue)
                    }
                    sequence += 1
                    let id = "\(settings.prefix)\(settings.index)-\(sequence)"
                    let (from, to, amount) = Requests.randomPair(settings.accounts, &rng)
                    let body = Requests.transfer(id: id, from: from, to: to, amount: amount)
                    guard try socket.send([body], dontWait: true) else { break }
                    if settings.retryOverloaded { bodies[id] = body }
                    if let interval { nextDue += interval }
                    pending[id] = fifoBase + fifoIDs.count
                    fifoIDs.append(id)
                    fifoIntended.append(intended)
                    fifoSent.append(now)
                    shared.sent.add(1, ordering: .relaxed)
                }
            }
            _ = try poller.poll(timeoutMilliseconds: interval == nil ? 10 : 1)
            now = monoNanos()
            while let frames = try socket.receive(dontWait: true) {
                guard frames.count == 1, let reply = try? JSONValue.parse(frames[0]) else {
                    shared.noteError("malformed reply (\(frames.count) frames)")
                    if let id = oldestPending() { finish(id: id, outcome: .error("malformed reply"), now: now) }
                    continue
                }
                let (outcome, echoed) = Replies.classify(reply)
                if settings.backOffOnOverload, let retryAfter = reply["retry_after_ms"]?.intValue {
                    pausedUntil = max(pausedUntil, now + UInt64(max(0, retryAfter)) * 1_000_000)
                }
                if settings.retryOverloaded, let echoed, pending[echoed] != nil,
                   reply["error"]?.stringValue == "overloaded" {
                    shared.overloaded.add(1, ordering: .relaxed)
                    // retry_after_ms, doubling with each refusal of the same request, at most 1 s (as bankctl).
                    let attempt = attempts[echoed, default: 0]
                    attempts[echoed] = attempt + 1
                    let hint = UInt64(max(1, reply["retry_after_ms"]?.intValue ?? 20))
                    let retryAfter = min(1000, hint << UInt64(min(attempt, 10)))
                    retries[min(attempt, retries.count - 1)].append((now + retryAfter * 1_000_000, echoed))
                    continue
                }
                if let echoed {
                    finish(id: echoed, outcome: outcome, now: now)
                } else if let id = oldestPending() {
                    // The gateway's own errors (e.g. `unavailable` at its deadline) carry no request id.
                    finish(id: id, outcome: outcome, now: now)
                }
            }
            // Client-side timeouts, oldest first.
            while fifoHead - fifoBase < fifoIDs.count {
                let offset = fifoHead - fifoBase
                let id = fifoIDs[offset]
                if pending[id] == nil { fifoHead += 1; continue }
                guard now &- fifoSent[offset] > settings.timeoutNanos else { break }
                pending[id] = nil
                bodies[id] = nil
                attempts[id] = nil
                fifoHead += 1
                shared.timeouts.add(1, ordering: .relaxed)
            }
            // Compact the FIFO now and then.
            let consumed = fifoHead - fifoBase
            if consumed > 4096 && consumed * 2 > fifoIDs.count {
                fifoIDs.removeFirst(consumed)
                fifoIntended.removeFirst(consumed)
                fifoSent.removeFirst(consumed)
                fifoBase = fifoHead
            }
        }
    } catch {
        shared.noteError("worker \(settings.index): \(error)")
        shared.errors.add(pending.count, ordering: .relaxed)
    }
    shared.results.withLock { $0.append(result) }
}

struct BatchSettings: Sendable {
    var endpoint: String
    var accounts: [String]
    var prefix: String
    var batchSize: Int
    /// Batches in flight: one per socket.
    var sockets: Int
    var timeoutNanos: UInt64
}

/// One thread, `sockets` DEALERs, each with one `batch` of `batchSize` transfers (atomic: false) in flight.
func runBatchWorker(context: ZMQContext, settings: BatchSettings, shared: LoadShared) {
    var rng = SplitMix64(seed: 0xBA7C4 &+ monoNanos())
    var sockets: [ZMQSocket] = []
    var poller = ZMQPoller()
    func makeSocket() throws -> ZMQSocket {
        let socket = try context.makeSocket(.dealer)
        try socket.connectAsBenchClient(settings.endpoint)
        return socket
    }
    func rebuildPoller() {
        poller = ZMQPoller()
        for socket in sockets { poller.add(socket) }
    }
    defer { for socket in sockets { socket.close() } }
    var inFlight: [UInt64?] = Array(repeating: nil, count: settings.sockets)
    var batchNumber = 0
    do {
        for _ in 0..<settings.sockets { sockets.append(try makeSocket()) }
        rebuildPoller()
        while true {
            let stopping = shared.stop.load(ordering: .relaxed)
            if stopping && inFlight.allSatisfy({ $0 == nil }) { break }
            if !stopping {
                for index in sockets.indices where inFlight[index] == nil {
                    batchNumber += 1
                    var w = JSONWriter(reservingCapacity: settings.batchSize * 96 + 64)
                    w.beginObject()
                    w.field("op", "batch")
                    w.field("atomic", false)
                    w.key("requests")
                    w.beginArray()
                    for item in 0..<settings.batchSize {
                        let (from, to, amount) = Requests.randomPair(settings.accounts, &rng)
                        Requests.writeTransfer(&w, id: "\(settings.prefix)\(batchNumber)-\(item)", from: from, to: to,
                                               amount: amount)
                    }
                    w.endArray()
                    w.endObject()
                    guard try sockets[index].send([w.bytes], dontWait: true) else { continue }
                    inFlight[index] = monoNanos()
                    shared.sent.add(settings.batchSize, ordering: .relaxed)
                }
            }
            let ready = try poller.poll(timeoutMilliseconds: 10)
            let now = monoNanos()
            for index in ready {
                guard let frames = try sockets[index].receive(dontWait: true) else { continue }
                guard let started = inFlight[index] else { shared.late.add(1, ordering: .relaxed); continue }
                inFlight[index] = nil
                shared.batchLatencies.withLock { $0.append(now &- started) }
                guard frames.count == 1, let reply = try? JSONValue.parse(frames[0]) else {
                    shared.errors.add(settings.batchSize, ordering: .relaxed)
                    shared.noteError("malformed batch reply")
                    continue
                }
                guard reply["ok"]?.boolValue == true, let results = reply["results"]?.arrayValue else {
                    shared.errors.add(settings.batchSize, ordering: .relaxed)
                    shared.noteError("batch: \(reply["error"]?.stringValue ?? "?"): \(reply["message"]?.stringValue ?? "")")
                    continue
                }
                var ok = 0, refused = 0, errors = 0
                for item in results {
                    switch Replies.classify(item).0 {
                    case .ok: ok += 1
                    case .refused: refused += 1
                    case let .error(text):
                        errors += 1
                        shared.noteError("batch item: \(text)")
                    }
                }
                errors += max(0, settings.batchSize - results.count)
                shared.ok.add(ok, ordering: .relaxed)
                shared.refused.add(refused, ordering: .relaxed)
                shared.answered.add(ok + refused, ordering: .relaxed)
                shared.errors.add(errors, ordering: .relaxed)
            }
            for index in sockets.indices {
                guard let started = inFlight[index], now &- started > settings.timeoutNanos else { continue }
                // A late reply must not be taken for the next batch's: a new socket.
                shared.timeouts.add(settings.batchSize, ordering: .relaxed)
                inFlight[index] = nil
                sockets[index].close()
                sockets[index] = try makeSocket()
                rebuildPoller()
            }
        }
    } catch {
        shared.noteError("batch worker: \(error)")
    }
}

/// Polls the gateway's status every `intervalMs` on its own thread and keeps every change of epoch, leader or
/// leader-change count, with the phase it happened in: shows when a failover the bench did not cause happened.
final class StatusMonitor: Sendable {
    struct Change: Sendable {
        var seconds: Double
        var wall: Date
        var phase: String
        var epoch: Int64
        var leader: String?
        var leaderChanges: Int64
        /// Something the bench did (kill, restart), instead of a status change.
        var event: String? = nil
    }

    private let startNanos = Mutex<UInt64>(0)

    func note(_ event: String) {
        let change = Change(seconds: Double(monoNanos() - startNanos.withLock { $0 }) / 1e9, wall: Date(),
                            phase: phase.withLock { $0 }, epoch: 0, leader: nil, leaderChanges: 0, event: event)
        changes.withLock { $0.append(change) }
    }

    let phase = Mutex<String>("set-up")
    let changes = Mutex<[Change]>([])
    /// Per phase, per ledger: the largest `heartbeat_age_ms` the gateway reported (how long it had not heard that
    /// ledger). Above the failure timeout, the gateway takes the ledger for dead.
    let maxHeartbeatAge = Mutex<[String: [String: Int64]]>([:])
    /// Per phase: the slowest answer to our own `status` request, ms. A gateway that stalls answers late; a
    /// ledger that stalls shows as heartbeat silence while status still answers quickly.
    let maxStatusRoundTripMs = Mutex<[String: Double]>([:])
    /// Ledgers the bench killed: their silence is expected until they are heard again. The value is 0 while
    /// the ledger is down, then the (monotonic) time it was first heard after its restart.
    let killed = Mutex<[String: UInt64]>([:])
    private let stopFlag = Atomic<Bool>(false)
    private let done = DispatchSemaphore(value: 0)

    func start(context: ZMQContext, endpoint: String, startNanos: UInt64, intervalMs: Int = 50) {
        self.startNanos.withLock { $0 = startNanos }
        let thread = Thread { [self] in
            defer { done.signal() }
            guard let client = try? SimpleClient(context: context, endpoint: endpoint) else { return }
            defer { client.close() }
            var last: (Int64, String?, Int64)?
            while !stopFlag.load(ordering: .relaxed) {
                let asked = monoNanos()
                let reply = client.status(timeoutMilliseconds: 2000)
                let roundTrip = Double(monoNanos() - asked) / 1e6
                let phaseName = phase.withLock { $0 }
                maxStatusRoundTripMs.withLock { $0[phaseName] = max($0[phaseName] ?? 0, roundTrip) }
                if let status = reply {
                    let name = phaseName
                    let killedNodes = killed.withLock { $0 }
                    let now = monoNanos()
                    maxHeartbeatAge.withLock { ages in
                        for node in status.nodes {
                            guard let age = node.heartbeatAgeMs else { continue }
                            // A silence that began before the killed ledger was heard again is the kill's.
                            if let heard = killedNodes[node.name],
                               heard == 0 || now &- UInt64(max(0, age)) * 1_000_000 < heard { continue }
                            ages[name, default: [:]][node.name] = max(ages[name]?[node.name] ?? 0, age)
                        }
                    }
                    let key = (status.epoch, status.leader, status.leaderChanges)
                    if last.map({ $0.0 != key.0 || $0.1 != key.1 || $0.2 != key.2 }) ?? true {
                        last = key
                        let change = Change(seconds: Double(monoNanos() - startNanos) / 1e9, wall: Date(),
                                            phase: phase.withLock { $0 }, epoch: status.epoch, leader: status.leader,
                                            leaderChanges: status.leaderChanges)
                        changes.withLock { $0.append(change) }
                    }
                }
                usleep(UInt32(intervalMs * 1000))
            }
        }
        thread.start()
    }

    func stop() {
        stopFlag.store(true, ordering: .relaxed)
        _ = done.wait(timeout: .now() + 3)
    }
}

/// A small probe of the machine's own hiccups during each phase, to tell a cluster stall from a starved machine:
/// every 20 ms it writes 4 KiB and `fdatasync`s it (as the ledgers do for their journals) and measures how late a
/// 1 ms sleep wakes up (CPU scheduling delay).
final class MachineProbe: Sendable {
    struct Stats: Sendable {
        var fsyncs: [UInt64] = []
        var oversleeps: [UInt64] = []
    }

    let byPhase = Mutex<[String: Stats]>([:])
    private let stopFlag = Atomic<Bool>(false)
    private let done = DispatchSemaphore(value: 0)

    func start(path: String, phase: StatusMonitor) {
        let thread = Thread { [self] in
            defer { done.signal() }
            let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
            guard fd >= 0 else { return }
            defer { close(fd); unlink(path) }
            let block = [UInt8](repeating: 0x5A, count: 4096)
            var writes = 0
            while !stopFlag.load(ordering: .relaxed) {
                if writes == 256 { _ = ftruncate(fd, 0); _ = lseek(fd, 0, SEEK_SET); writes = 0 }
                _ = block.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
                writes += 1
                let t0 = monoNanos()
                _ = fdatasync(fd)
                let t1 = monoNanos()
                usleep(1000)
                let t2 = monoNanos()
                let name = phase.phase.withLock { $0 }
                byPhase.withLock {
                    $0[name, default: Stats()].fsyncs.append(t1 - t0)
                    $0[name, default: Stats()].oversleeps.append((t2 - t1) > 1_000_000 ? t2 - t1 - 1_000_000 : 0)
                }
                usleep(19_000)
            }
        }
        thread.start()
    }

    func stop() {
        stopFlag.store(true, ordering: .relaxed)
        _ = done.wait(timeout: .now() + 3)
    }

    /// Per phase: fdatasync p50/p99/max and scheduling delay p99/max, milliseconds.
    func summary() -> [String: [String: Double]] {
        byPhase.withLock { phases in
            var out: [String: [String: Double]] = [:]
            for (name, stats) in phases {
                let f = stats.fsyncs.sorted(), o = stats.oversleeps.sorted()
                func at(_ a: [UInt64], _ p: Double) -> Double {
                    a.isEmpty ? 0 : Double(a[min(a.count - 1, Int(Double(a.count) * p))]) / 1e6
                }
                out[name] = ["fdatasync_p50_ms": at(f, 0.5), "fdatasync_p99_ms": at(f, 0.99),
                             "fdatasync_max_ms": Double(f.last ?? 0) / 1e6, "sched_delay_p99_ms": at(o, 0.99),
                             "sched_delay_max_ms": Double(o.last ?? 0) / 1e6, "samples": Double(f.count)]
            }
            return out
        }
    }
}
