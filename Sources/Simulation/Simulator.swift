import BankCore
import BankProtocol
import Cluster
import HeapModule
import SeededRandom
import Storage

/// Runs the real `GatewayCore` and two real `LedgerNode`s against a simulated network, disk and clock, on one
/// thread, with faults chosen from a seed (after TigerBeetle's VOPR). Same seed, same run: every choice comes from
/// `SplitMix64`, and time is virtual.
public final class Simulator {
    enum Endpoint: Hashable, CustomStringConvertible {
        case node(NodeID)
        case client(Int)
        var description: String {
            switch self {
            case let .node(id): return id.name
            case let .client(index): return "client\(index)"
            }
        }
    }

    enum Payload {
        case peer(PeerMessage)
        case request([UInt8])
        case reply([UInt8])
    }

    enum Event {
        case deliver(from: Endpoint, to: Endpoint, incarnation: Int, Payload)
        case tick(NodeID, incarnation: Int)
        case syncDone(NodeID, incarnation: Int)
        /// The node asked for another turn (`wantsAnotherTurn`): it goes on with work it does a piece at a time.
        case turn(NodeID, incarnation: Int)
        /// The process is free again: handle what queued while it was busy.
        case process(NodeID, incarnation: Int)
        /// A checkpoint write the node asked for ends (it is lost if the node crashed meanwhile).
        case checkpointDone(NodeID, incarnation: Int, CheckpointImage)
        /// The install of a checkpoint received from the leader ends.
        case installDone(NodeID, incarnation: Int, CheckpointFile.Position)
        /// The oldest history store write the node asked for ends.
        case historyWritten(NodeID, incarnation: Int)
        /// A ledger whose storage failed finds its disk working again: it is rebuilt from what the disk holds.
        case diskRecovered(NodeID, incarnation: Int)
        case clientWake(Int)
        /// Clients stop starting new requests (they still finish what they started).
        case stopClients
        case restart(NodeID)
        case resume(NodeID)
        case heal(NodeID, NodeID)
        case injectFault
        case endFaults
    }

    struct Scheduled: Comparable {
        var time: UInt64
        var order: UInt64
        var event: Event
        static func < (a: Scheduled, b: Scheduled) -> Bool { (a.time, a.order) < (b.time, b.order) }
        static func == (a: Scheduled, b: Scheduled) -> Bool { (a.time, a.order) == (b.time, b.order) }
    }

    /// A ledger process and what survives its crashes (journal, metadata, checkpoints, commit floor).
    /// A class, so that stepping its node mutates it in place (a struct in a dictionary is copied out and back,
    /// which would copy the whole ledger on every step).
    final class LedgerHost {
        var node: LedgerNode?
        let journal = MemoryJournal()
        var metadata: NodeMetadata
        var paused = false
        var incarnation = 0
        var syncInFlight = false
        var turnScheduled = false
        var held: [Event] = []
        var highestEpoch: UInt64 = 0
        /// Oldest first; the newest `CheckpointFile.retainedCount` are kept.
        var checkpoints: [StoredCheckpoint] = []
        var commitFloor: Seq = 0
        /// The checkpoint file being received from the leader (lost in a crash).
        var staged: [UInt8] = []
        /// Records below the journal's floor, kept (retention `keep`) for the end-of-run checks.
        var archive: [JournalRecord] = []
        /// Where the history starts: an installed checkpoint's position and state (none: at the beginning).
        var historyBase: (position: CheckpointFile.Position, state: Ledger)?
        /// What the node reads to send a checkpoint.
        lazy var checkpointReader = SimulatedCheckpointReader(host: self)
        /// Receipts and closed holds the node archived (survives crashes), and the writes not yet done.
        let history = SimulatedHistoryStore()
        var historyQueue: [HistoryJob] = []

        init(metadata: NodeMetadata) { self.metadata = metadata }
    }

    let options: SimulationOptions
    var random: SplitMix64
    var now: UInt64 = 0
    var queue = Heap<Scheduled>()
    var order: UInt64 = 0
    var stats = SimulationStats()
    var trace = TraceBuffer()

    var ledgers: [NodeID: LedgerHost] = [:]
    var gateway: GatewayCore?
    var gatewayDisk: ClusterConfig?
    var gatewayIncarnation = 0
    var gatewayLeaderChangesBefore = 0
    /// Cut links, each as `link(a, b)`.
    var partitions: Set<[NodeID]> = []
    var faultsActive = true
    var clientsActive = true

    var clients: [SimClient] = []
    var model = ClientModel()
    /// Which ledger answered the gateway in each epoch: at most one may.
    var answererByEpoch: [UInt64: NodeID] = [:]
    /// Each process's queue of messages that arrived while it was busy, and until when it is busy.
    var inboxes: [NodeID: Inbox] = [:]
    var failure: String?

    let ledgerSettings: LedgerSettings
    let gatewaySettings: GatewaySettings
    static let tickNanos: UInt64 = 10_000_000

    public init(options: SimulationOptions) {
        self.options = options
        random = SplitMix64(seed: options.seed)
        var ledgerSettings = LedgerSettings()
        ledgerSettings.injectedBugs = options.injectedBugs
        // Journals here hold hundreds of records: checkpoints and floors come often enough to matter.
        ledgerSettings.checkpointIntervalRecords = random.between(8, 256)
        ledgerSettings.commitFloorIntervalNanos = random.between(1_000_000, 300_000_000)
        // Half the runs archive idempotency history, with windows of a few receipts and a filter small enough to
        // answer "maybe" often (so lookups in the store are exercised, false positives included).
        if random.chance(1, in: 2) {
            ledgerSettings.archiveReceiptWindow = Int(random.between(0, 40))
            ledgerSettings.idFilterByteCount = 64 << random.between(0, 3)
            ledgerSettings.archiveIntervalNanos = random.between(0, 200_000_000)
            ledgerSettings.archiveBatchMaxItems = Int(random.between(1, 50))
            ledgerSettings.archiveSliceItems = Int(random.between(1, 20))
            ledgerSettings.archiveLineWindow = Int(random.between(0, 40))
            ledgerSettings.statementChunkShift = Int(random.between(0, 4))
            // Copies of a store in many small pieces, some waiting to be stored while the next arrive.
            ledgerSettings.historyPieceBytes = Int(random.between(100, 4_000))
            ledgerSettings.historyPiecesInFlight = Int(random.between(1, 4))
            // A copying follower holds a few receipts of its own before it archives them during the copy.
            ledgerSettings.copyHeldReceipts = Int(random.between(0, 40))
        }
        self.ledgerSettings = ledgerSettings
        var gatewaySettings = GatewaySettings()
        gatewaySettings.injectedBugs = options.injectedBugs
        if options.unboundedGateway {
            gatewaySettings.maxInflightRequests = .max
            gatewaySettings.maxInflightRequestsPerClient = .max
            gatewaySettings.maxInflightBytes = .max
            gatewaySettings.maxForwardedRequests = .max
            gatewaySettings.maxForwardedBytes = .max
        }
        gatewaySettings.requestDeadlineNanos = 3_000_000_000
        self.gatewaySettings = gatewaySettings
        trace.verbose = options.verbose
    }

    // MARK: - Running

    public func run() -> Result<SimulationStats, SimulationFailure> {
        for (index, id) in NodeID.ledgers.enumerated() {
            ledgers[id] = LedgerHost(metadata: NodeMetadata(dataID: random.next() | UInt64(index + 1), epoch: 0,
                                                            leader: nil))
            startLedger(id)
        }
        startGateway()
        clients = (0..<options.clients).map { SimClient(index: $0) }
        model.accounts = (0..<options.accounts).map { "a\($0)" }
        for index in clients.indices { schedule(random.between(1_000_000, 20_000_000), .clientWake(index)) }
        schedule(random.between(200_000_000, 600_000_000), .injectFault)
        schedule(options.faultPhaseNanos, .endFaults)

        let deadline = options.faultPhaseNanos + options.recoveryDeadlineNanos
        while failure == nil, let next = queue.popMin() {
            now = next.time
            if now > deadline {
                fail("liveness: the cluster did not return to two in-sync ledgers serving every client within "
                     + "\(options.recoveryDeadlineNanos / 1_000_000_000) s of the faults stopping")
                break
            }
            stats.events += 1
            handle(next.event)
            if failure == nil, stats.events % 64 == 0 { checkReplicas() }
            if failure == nil, !faultsActive, now > options.faultPhaseNanos + 1_000_000_000, isSettled() {
                finalChecks()
                break
            }
        }
        stats.virtualNanos = now
        stats.leaderChanges = gatewayLeaderChangesBefore + (gateway?.leaderChanges ?? 0)
        stats.acknowledgedWrites = model.acknowledged.count
        if failure == nil, options.loadOnly {
            if stats.leaderChanges > 0 {
                fail("load alone changed the leader \(stats.leaderChanges) time(s)")
            } else if let epoch = gateway?.config.epoch, epoch != 1 {
                fail("load alone reconfigured the cluster: epoch \(epoch) after the first election (1)")
            }
        }
        stats.refusedWrites = model.refusedCount
        for host in ledgers.values {
            stats.historyLookups += host.history.lookups
            stats.historyHits += host.history.hits
        }
        if let failure {
            return .failure(SimulationFailure(seed: options.seed, invariant: failure, trace: trace.lines()))
        }
        return .success(stats)
    }

    func schedule(_ delay: UInt64, _ event: Event) {
        order += 1
        queue.insert(Scheduled(time: now + delay, order: order, event: event))
    }

    func fail(_ invariant: String) {
        if failure == nil { failure = invariant }
    }

    var instant: Instant { Instant(monotonicNanos: now + 1_000_000_000, wallMillis: 1_760_000_000_000 + Int64(now / 1_000_000)) }

    // MARK: - Events

    func handle(_ event: Event) {
        switch event {
        case let .deliver(from, to, incarnation, payload):
            deliver(from: from, to: to, incarnation: incarnation, payload)
        case let .tick(id, incarnation):
            if id == .gateway {
                guard incarnation == gatewayIncarnation, gateway != nil else { return }
                stepGateway(.tick)
                schedule(Self.tickNanos, .tick(.gateway, incarnation: incarnation))
            } else {
                guard let host = ledgers[id], host.incarnation == incarnation, host.node != nil else { return }
                if host.paused { ledgers[id]!.held.append(event); return }
                stepLedger(id, .tick)
                schedule(Self.tickNanos, .tick(id, incarnation: incarnation))
            }
        case let .turn(id, incarnation):
            guard let host = ledgers[id], host.incarnation == incarnation, host.node != nil else { return }
            ledgers[id]!.turnScheduled = false
            if host.paused { ledgers[id]!.held.append(event); return }
            stepLedger(id, .turn)
        case let .syncDone(id, incarnation):
            guard let host = ledgers[id], host.incarnation == incarnation, host.node != nil else { return }
            if host.paused { ledgers[id]!.held.append(event); return }
            host.journal.sync()
            ledgers[id]!.syncInFlight = false
            stepLedger(id, .persisted(through: host.journal.lastSeq))
        case let .process(id, incarnation):
            process(id, incarnation: incarnation, event)
        case let .checkpointDone(id, incarnation, image):
            guard let host = ledgers[id], host.incarnation == incarnation, host.node != nil else { return }
            if host.paused { ledgers[id]!.held.append(event); return }
            finishCheckpoint(id, image)
        case let .diskRecovered(id, incarnation):
            guard let host = ledgers[id], host.incarnation == incarnation, host.node != nil else { return }
            trace.note(now, "\(id)'s disk works again: rebuilt from it")
            // What was written but not synced may or may not be there, as after a crash.
            crash(id)
            startLedger(id)
        case let .historyWritten(id, incarnation):
            finishHistoryWrite(id, incarnation: incarnation)
        case let .installDone(id, incarnation, position):
            guard let host = ledgers[id], host.incarnation == incarnation, host.node != nil else { return }
            if host.paused { ledgers[id]!.held.append(event); return }
            finishInstall(id, position)
        case .stopClients:
            clientsActive = false
        case let .clientWake(index):
            clientWake(index)
        case let .restart(id):
            guard id == .gateway ? gateway == nil : ledgers[id]!.node == nil else { return }
            trace.note(now, "restart \(id)")
            if id == .gateway { startGateway() } else { startLedger(id) }
        case let .resume(id):
            guard ledgers[id]?.paused == true else { return }
            trace.note(now, "resume \(id)")
            ledgers[id]!.paused = false
            let held = ledgers[id]!.held
            ledgers[id]!.held = []
            for event in held { handle(event) }
        case let .heal(a, b):
            trace.note(now, "heal \(a)–\(b)")
            partitions.remove(Self.link(a, b))
        case .injectFault:
            guard faultsActive else { return }
            injectFault()
            schedule(random.between(150_000_000, 900_000_000), .injectFault)
        case .endFaults:
            endFaults()
        }
    }

    private func deliver(from: Endpoint, to: Endpoint, incarnation: Int, _ payload: Payload) {
        switch to {
        case let .client(index):
            guard case let .reply(body) = payload else { return }
            if index < clients.count { clientReceive(index, body) } else { burstReceive(body) }
        case let .node(id):
            if id == .gateway {
                guard incarnation == gatewayIncarnation, gateway != nil else { return }
            } else {
                guard let host = ledgers[id], host.incarnation == incarnation, host.node != nil else { return }
                if host.paused {
                    ledgers[id]!.held.append(.deliver(from: from, to: to, incarnation: incarnation, payload))
                    return
                }
            }
            arrive(at: id, from: from, payload)
        }
    }

    /// Handles one message at a process (the cost of it is the caller's business).
    func handleMessage(at node: NodeID, from: Endpoint, _ payload: Payload) {
        switch node {
        case .gateway:
            guard gateway != nil else { return }
            switch payload {
            case let .request(body):
                guard case let .client(index) = from else { return }
                stepGateway(.clientRequest(ClientEnvelope(identity: [UInt8(index)], delimited: true,
                                                          clientKey: Self.clientKey(index)), frames: [body]))
            case let .peer(message):
                guard case let .node(sender) = from else { return }
                stepGateway(.received(from: sender, message))
            case .reply:
                break
            }
        case let id:
            guard ledgers[id]?.node != nil, case let .peer(message) = payload, case let .node(sender) = from else { return }
            stepLedger(id, .received(from: sender, message))
        }
    }

    // MARK: - Stepping the state machines

    func stepLedger(_ id: NodeID, _ event: LedgerEvent) {
        trace.record(now, id, event)
        let wasLeader = ledgers[id]!.node!.role == .leader
        let actions = ledgers[id]!.node!.step(event, now: instant)
        for action in actions {
            switch action {
            case let .send(to: destination, message):
                if case let .reply(epoch, _, _) = message {
                    if let other = answererByEpoch[epoch], other != id {
                        fail("two ledgers answered clients in epoch \(epoch): \(other) and \(id)")
                    }
                    answererByEpoch[epoch] = id
                }
                send(.peer(message), from: .node(id), to: .node(destination))
            case let .append(records):
                ledgers[id]!.journal.append(records)
                if !ledgers[id]!.syncInFlight {
                    ledgers[id]!.syncInFlight = true
                    // Mostly fast, sometimes an fsync stall.
                    let latency = random.chance(1, in: 10) ? random.between(2_000_000, 40_000_000)
                        : random.between(50_000, 400_000)
                    schedule(latency, .syncDone(id, incarnation: ledgers[id]!.incarnation))
                }
            case let .truncate(after: seq):
                ledgers[id]!.journal.truncate(after: seq)
                ledgers[id]!.journal.sync() // ftruncate + fsync makes everything written durable.
            case let .writeCheckpoint(image):
                // Written in the background: the node goes on; a crash before the end loses it.
                schedule(random.between(1_000_000, 80_000_000),
                         .checkpointDone(id, incarnation: ledgers[id]!.incarnation, image))
            case let .storeCommitFloor(seq):
                ledgers[id]!.commitFloor = max(ledgers[id]!.commitFloor, seq)
            case let .stageCheckpointChunk(chunk):
                stage(id, chunk)
            case let .installCheckpoint(position):
                schedule(random.between(1_000_000, 60_000_000),
                         .installDone(id, incarnation: ledgers[id]!.incarnation, position))
            case let .archive(batch):
                writeHistory(id, .batch(batch))
            case let .importHistory(imported):
                writeHistory(id, .import(imported))
            case let .storeMetadata(metadata):
                if metadata.epoch < ledgers[id]!.highestEpoch {
                    fail("\(id) stored epoch \(metadata.epoch) after \(ledgers[id]!.highestEpoch): epochs only grow")
                }
                ledgers[id]!.highestEpoch = metadata.epoch
                ledgers[id]!.metadata = metadata
            }
        }
        let node = ledgers[id]!.node!
        node.ledger.checkInvariants()
        checkArchive(id)
        if node.wantsAnotherTurn, !ledgers[id]!.turnScheduled {
            ledgers[id]!.turnScheduled = true
            schedule(random.between(20_000, 200_000), .turn(id, incarnation: ledgers[id]!.incarnation))
        }
        if !wasLeader, node.role == .leader { checkLeaderHoldsAcknowledged(id) }
    }

    func stepGateway(_ event: GatewayEvent) {
        trace.record(now, event)
        guard let actions = gateway?.step(event, now: instant) else { return }
        if options.loadOnly, let changes = gateway?.leaderChanges, changes > 0 {
            fail("load alone changed the leader (\(changes) change(s) so far)")
        }
        for action in actions {
            switch action {
            case let .reply(to: envelope, body: body):
                send(.reply(body), from: .node(.gateway), to: .client(Int(envelope.identity[0])))
            case let .send(to: destination, message):
                send(.peer(message), from: .node(.gateway), to: .node(destination))
            case let .persistConfig(config):
                if let previous = gatewayDisk, config.epoch < previous.epoch {
                    fail("the gateway stored epoch \(config.epoch) after \(previous.epoch)")
                }
                // Only a ledger whose history store holds what its state left out of memory may be promoted.
                for id in [config.follower, config.leader].compactMap({ $0 }) where id != gatewayDisk?.leader
                    && id != gatewayDisk?.follower {
                    if let node = ledgers[id]?.node, !node.historyComplete {
                        fail("the gateway made \(id) \(id == config.leader ? "leader" : "in-sync follower") while its history store lacks what its state evicted")
                    }
                }
                gatewayDisk = config
            case let .log(line):
                trace.note(now, "gateway: \(line)")
            }
        }
    }

    /// The network: loss, duplication, delay and reordering while faults are on; partitions between processes.
    func send(_ payload: Payload, from: Endpoint, to: Endpoint) {
        if case let .node(a) = from, case let .node(b) = to,
           partitions.contains(Self.link(a, b)) {
            return
        }
        let incarnation: Int
        switch to {
        case .client: incarnation = 0
        case .node(.gateway): incarnation = gatewayIncarnation
        case let .node(id): incarnation = ledgers[id]!.incarnation
        }
        var copies = 1
        let betweenNodes = { if case .node = from, case .node = to { return true } else { return false } }()
        if faultsActive && betweenNodes {
            // Loss stands for a reconnect (a crash, a partition healing): not part of a run of load alone.
            if random.chance(1, in: 100) { copies = options.loadOnly ? 1 : 0 }
            else if random.chance(1, in: 100) { copies = 2 }
        }
        for _ in 0..<copies {
            var delay = random.between(20_000, 150_000)
            if faultsActive && betweenNodes && random.chance(3, in: 100) { delay += random.between(1_000_000, 30_000_000) }
            schedule(delay, .deliver(from: from, to: to, incarnation: incarnation, payload))
        }
    }

    // MARK: - Processes

    func startLedger(_ id: NodeID) {
        let host = ledgers[id]!
        host.incarnation += 1
        host.turnScheduled = false
        host.paused = false
        host.held = []
        host.syncInFlight = false
        inboxes[id] = Inbox()
        let forgetting = ledgerSettings.injectedBugs.contains(.forgetIdempotency)
        let checkpoint = restartFromNewestCheckpoint(id)
        let floor = min(max(host.commitFloor, checkpoint?.lastAppliedSeq ?? 0), host.journal.lastSeq)
        let ledger = LedgerRecovery.restore(checkpoint: checkpoint, journal: host.journal, commitFloor: floor,
                                            archive: .init(settings: ledgerSettings, store: host.history,
                                                           watermark: host.history.watermark,
                                                           evictionIntervalRecords: random.between(1, 8)),
                                            forgettingRequestIDs: forgetting)
        if checkpoint != nil {
            stats.checkpointRestores += 1
            if !ledger.hasSameState(as: replayWholeHistory(host)) {
                fail("\(id) restored from its checkpoint at seq \(checkpoint!.lastAppliedSeq) differs from its journal replayed in full")
            }
        }
        host.journal.sync()
        host.node = LedgerNode(id: id, metadata: host.metadata, ledger: ledger, journal: host.journal,
                               checkpoints: host.checkpointReader, settings: ledgerSettings, commitFloor: floor,
                               checkpointSeq: checkpoint?.lastAppliedSeq ?? 0, history: host.history,
                               archivedSeq: host.history.watermark)
        schedule(random.between(1, Self.tickNanos), .tick(id, incarnation: host.incarnation))
    }

    func startGateway() {
        gatewayIncarnation += 1
        inboxes[.gateway] = Inbox()
        gateway = GatewayCore(config: gatewayDisk ?? .initial, settings: gatewaySettings, startedAt: instant,
                              firstToken: UInt64(gatewayIncarnation) << 40 | 1)
        schedule(random.between(1, Self.tickNanos), .tick(.gateway, incarnation: gatewayIncarnation))
    }

    func crash(_ id: NodeID) {
        if id == .gateway {
            gatewayLeaderChangesBefore += gateway?.leaderChanges ?? 0
            gateway = nil
            gatewayIncarnation += 1
            inboxes[.gateway] = Inbox()
        } else {
            // The page cache may have written some of what was not synced; a torn record would be cut off.
            let keep = random.below(ledgers[id]!.journal.unsyncedCount + 1)
            ledgers[id]!.journal.crash(keepingUnsynced: keep)
            crashHistory(id)
            ledgers[id]!.node = nil
            ledgers[id]!.staged = []
            ledgers[id]!.incarnation += 1
            ledgers[id]!.turnScheduled = false
            ledgers[id]!.paused = false
            ledgers[id]!.held = []
            inboxes[id] = Inbox()
        }
    }

    /// A link between two processes, the same whichever end names it.
    static func link(_ a: NodeID, _ b: NodeID) -> [NodeID] { [a, b].sorted() }

    func injectFault() {
        let targets: [NodeID] = [.primary, .backup, .gateway]
        let target = random.pick(targets)
        if options.loadOnly {
            burst()
            return
        }
        switch random.below(11) {
        case 10:
            burst()
        case 9:
            // The disk fails (full, or an I/O error): the ledger stops serving until it works again.
            guard target != .gateway, let node = ledgers[target]!.node, !node.storageFailed,
                  !ledgers[target]!.paused else { return }
            stats.faults["storage failure", default: 0] += 1
            trace.note(now, "STORAGE FAILURE \(target)")
            stepLedger(target, .storageFailed)
            schedule(random.between(50_000_000, 1_500_000_000),
                     .diskRecovered(target, incarnation: ledgers[target]!.incarnation))
        case 8:
            // Power loss: both ledgers at once, each losing what it had not synced.
            guard ledgers[.primary]!.node != nil, ledgers[.backup]!.node != nil else { return }
            stats.faults["power loss", default: 0] += 1
            trace.note(now, "POWER LOSS primary+backup")
            for id in NodeID.ledgers {
                crash(id)
                schedule(random.between(20_000_000, 600_000_000), .restart(id))
            }
        case 0, 1:
            guard target == .gateway ? gateway != nil : ledgers[target]!.node != nil else { return }
            let kind = target == .gateway ? "crash gateway" : "crash ledger"
            stats.faults[kind, default: 0] += 1
            trace.note(now, "CRASH \(target)")
            crash(target)
            schedule(random.between(20_000_000, 900_000_000), .restart(target))
        case 2, 3:
            guard target != .gateway, ledgers[target]!.node != nil, !ledgers[target]!.paused else { return }
            stats.faults["pause ledger", default: 0] += 1
            trace.note(now, "PAUSE \(target)")
            ledgers[target]!.paused = true
            schedule(random.between(50_000_000, 1_500_000_000), .resume(target))
        case 4, 5:
            let other = random.pick(targets)
            guard other != target else { return }
            stats.faults["partition", default: 0] += 1
            trace.note(now, "PARTITION \(target)–\(other)")
            partitions.insert(Self.link(target, other))
            schedule(random.between(50_000_000, 1_500_000_000), .heal(target, other))
        default:
            stats.faults["network noise", default: 0] += 1 // Loss, duplication and delay are always on.
        }
    }

    func endFaults() {
        trace.note(now, "faults stop; everything heals")
        faultsActive = false
        partitions.removeAll()
        for id in NodeID.ledgers {
            if ledgers[id]!.node == nil { startLedger(id) }
            handle(.resume(id))
        }
        if gateway == nil { startGateway() }
        schedule(2_000_000_000, .stopClients)
    }
}
