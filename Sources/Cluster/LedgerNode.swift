import BankCore
import BankProtocol
import DequeModule
import Storage

/// Inputs to a ledger node.
public enum LedgerEvent: Hashable, Sendable {
    case received(from: NodeID, PeerMessage)
    /// The journal is durable (fdatasync'd) up to this seq.
    case persisted(through: Seq)
    /// Time passed; check timers.
    case tick
    /// The checkpoint asked for with `.writeCheckpoint` at this seq is durable (or could not be written).
    case checkpointWritten(seq: Seq)
    case checkpointFailed(seq: Seq)
    /// The checkpoint received from the leader is installed (`.installCheckpoint` was carried out): the file is the
    /// newest checkpoint, the journal continues its position, and this is its state.
    case checkpointInstalled(CheckpointImage)
    case checkpointInstallFailed(seq: Seq)
    /// The history store holds everything archived up to this seq, durably (`.archive` was carried out).
    case archived(through: Seq)
    /// A piece of a copy of the leader's history store is stored (`.importHistory` was carried out); the last
    /// piece carries the copy's watermark and is durable.
    case historyImported(watermark: Seq?)
    /// Nothing happened: the node asked for another turn (`wantsAnotherTurn`) to go on with work it does a
    /// bounded piece at a time.
    case turn
    /// The node's storage failed (a write, a sync, a full disk): what it holds in memory may be ahead of its disk.
    /// It stops leading, acknowledging and writing at once, and only answers heartbeats (as recovering) until the
    /// driver replaces it by a node rebuilt from disk.
    case storageFailed
}

/// What the driver must do. Actions are carried out in order; `truncate` and `storeMetadata` complete (durably)
/// before the next action; `append` only writes, and the driver reports `.persisted` after its next sync — one
/// sync for everything appended in a step is the group commit.
public enum LedgerAction: Hashable, Sendable {
    case send(to: NodeID, PeerMessage)
    case append([JournalRecord])
    case truncate(after: Seq)
    case storeMetadata(NodeMetadata)
    /// Write this state durably as a checkpoint, in the background (the node goes on stepping); report the outcome
    /// with `.checkpointWritten` or `.checkpointFailed`.
    case writeCheckpoint(CheckpointImage)
    /// Records up to this seq are committed: store it as the commit floor, in the background. A floor is a lower
    /// bound, so a late or lost write is harmless.
    case storeCommitFloor(Seq)
    /// Write this piece of the checkpoint the leader is sending into the staging file (offset 0 starts it afresh).
    case stageCheckpointChunk(CheckpointChunk)
    /// The staged checkpoint is complete: verify it, make it the newest checkpoint (durably, replacing the others),
    /// store its seq as the commit floor, load its state, reset the journal to continue its position, and report
    /// `.checkpointInstalled` (or `.checkpointInstallFailed`). The node waits meanwhile.
    case installCheckpoint(CheckpointFile.Position)
    /// Write these committed receipts and closed holds to the history store, with `throughSeq` as its watermark, in
    /// the background; report `.archived` (a failure is a storage failure: `.storageFailed`).
    case archive(ArchiveBatch)
    /// Store items copied from the leader's history store, in the background, after any batch queued before; with
    /// a watermark (the copy is complete), durably; report `.historyImported` for every piece.
    case importHistory(HistoryImport)
}

/// A piece of the leader's history store, for this node's store.
public struct HistoryImport: Hashable, Sendable {
    public var items: PackedHistoryItems
    /// Set on the last piece: the store then holds everything archived up to here.
    public var watermark: Seq?
    /// The first piece of a copy (which may start over, under another leader): the store places what follows
    /// beside what it holds, not over it.
    public var startsCopy: Bool
    public init(items: PackedHistoryItems, watermark: Seq?, startsCopy: Bool = false) {
        self.items = items
        self.watermark = watermark
        self.startsCopy = startsCopy
    }
}

/// The ledger at a committed journal position, for a checkpoint. `ledger` may still hold entries after `position`
/// (with their undo logs): `settledLedger()` rolls them back, off the node's thread. The copy shares storage with
/// the node's ledger until either side writes.
///
/// Two images of one journal at the same position hold the same state (the state is a function of the journal), so
/// an image is identified by its position.
public struct CheckpointImage: Hashable, Sendable {
    public let position: CheckpointFile.Position
    let ledger: Ledger
    /// The history store durably holds everything up to here (0: nothing, or no archive): the checkpoint leaves
    /// that out (`Ledger.drainIntoCheckpoint(leavingOutThrough:)`).
    public let storedThrough: Seq

    public init(position: CheckpointFile.Position, ledger: Ledger, storedThrough: Seq = 0) {
        self.position = position
        self.ledger = ledger
        self.storedThrough = storedThrough
    }

    /// The state exactly at `position`.
    public func settledLedger() -> Ledger { ledger.settled(at: position.seq) }

    public static func == (a: CheckpointImage, b: CheckpointImage) -> Bool { a.position == b.position }
    public func hash(into hasher: inout Hasher) { hasher.combine(position) }
}

/// A ledger process as a pure state machine: the bank's state (`Ledger`), its position in the journal and its
/// part in replication. Events and the current time go in, actions come out; it touches no socket, file or clock.
/// It reads older journal records through `JournalReading`, as etcd's raft reads its `Storage`.
///
/// Safety rests on three rules, checked by the simulator:
/// - The leader answers a client only when the records the answer depends on are durable on itself and, when a
///   peer is required (the in-sync follower), on the peer too.
/// - A ledger accepts nothing from an epoch older than the highest it has accepted, and it persists that epoch
///   before acting on it.
/// - Once a leader has made its peer synchronous in an epoch it never drops it on its own; only the gateway can,
///   by starting a new epoch, and it records that decision first.
public struct LedgerNode {
    public enum Role: Hashable, Sendable {
        case recovering
        case follower(leader: NodeID)
        case leader
    }

    public let id: NodeID
    /// The other ledger of the pair: the only sender of appends, checkpoints and history this node accepts.
    public let peerID: NodeID
    public private(set) var metadata: NodeMetadata
    public private(set) var ledger: Ledger
    public private(set) var role: Role = .recovering
    public let settings: LedgerSettings

    /// The journal's end, including records appended but not yet durable.
    public private(set) var lastSeq: Seq
    public private(set) var lastHash: RecordHash
    public private(set) var lastEpoch: UInt64
    public private(set) var durableSeq: Seq
    /// Everything up to here is durable on every copy the cluster requires; answers depend only on this.
    public private(set) var commitSeq: Seq = 0
    /// The newest durable checkpoint's seq (0: none), the one being written, and the last one tried.
    public private(set) var checkpointSeq: Seq
    private var checkpointInFlight: Seq?
    private var lastCheckpointAttemptSeq: Seq
    /// The newest checkpoint could not be read for a follower: write one now, whatever the interval.
    private var freshCheckpointWanted = false
    /// Mutations written since the last checkpoint was asked for.
    private var mutationsSinceCheckpoint: UInt64 = 0
    /// The commit floor last handed to the driver to store, and when.
    private var storedCommitFloor: Seq
    private var storedCommitFloorNanos: UInt64 = 0

    private let journal: any JournalReading
    private let checkpoints: any CheckpointReading
    /// Appended records not yet reported durable, kept for replication reads.
    private var unstable: [JournalRecord] = []

    // Leader state.
    private var peer = PeerProgress()
    private var pendingReplies = Deque<PendingReply>()

    // Follower state: the highest seq known to match the current leader's journal.
    private var matchedSeq: Seq = 0
    private var leaderCommitSeq: Seq = 0
    private var ackedSeq: Seq = 0
    private var ackOwed = false
    /// A checkpoint being received from the leader, and whether it is complete and being installed.
    private var staging: (position: CheckpointFile.Position, totalBytes: UInt64, receivedBytes: UInt64)?
    private var installing = false
    /// Storage failed: nothing is written or acknowledged any more (see `.storageFailed`).
    public private(set) var storageFailed = false

    // The history store (see BankCore's Archive.swift): its durable watermark, how far batches were handed out,
    // whether one is being written, and whether the store holds everything the ledger evicted. A ledger that
    // installed a checkpoint whose evicted items its store lacks is incomplete: it is never reported ready to be
    // promoted until the copy of the leader's store is done. Meanwhile it archives its own commits without moving
    // the watermark (a restart must still know the store lacks what the copy brings), and lets go of what they
    // stored, so that its memory stays bounded however long the copy takes.
    public private(set) var archivedSeq: Seq
    /// History up to here is durably in the store by the node's own batches (those that moved the watermark and
    /// those that did not, while incomplete): what an incomplete node may let go of.
    private var ownStoredSeq: Seq
    /// Whether the batch being written moves the store's watermark.
    private var archiveInFlightAdvances = true
    /// History up to here is gathered for the store: in `pendingArchive`, handed over, or stored.
    private var archiveFedSeq: Seq
    /// History up to here was handed to the store (one batch at a time).
    private var archiveSentSeq: Seq
    /// The batch being gathered, a slice per turn, until it is due.
    private var pendingArchive: ArchiveBatch?
    private var archiveInFlight = false
    /// Leader: the pieces of its store a follower asked for, sent one per turn.
    private var historyStream: HistoryStream?
    /// The store holds more than memory let go of: evict, a slice per turn.
    private var evictionDue = false
    private var lastArchiveNanos: UInt64 = 0
    private let history: any HistoryReading
    public private(set) var historyComplete = true
    /// While incomplete, as a follower: the copy of the leader's store under way.
    private var historyCopy: HistoryCopy?

    private var actions: [LedgerAction] = []
    private var now = Instant(monotonicNanos: 0, wallMillis: 0)

    /// - Parameters:
    ///   - ledger: the state after every record of `journal` (`LedgerRecovery.restore`), keeping undo logs for the
    ///     records after `commitFloor`.
    ///   - commitFloor: the stored commit floor (or the checkpoint's seq, if higher): records up to it are committed.
    ///   - checkpointSeq: the newest durable checkpoint's seq, 0 for none.
    ///   - checkpoints: the checkpoint files, read to send one to a follower below the floor.
    ///   - history: the history store's reader, and `archivedSeq` its durable watermark.
    ///   - peerID: the other ledger (the topology's); by default the other of the local pair.
    public init(id: NodeID, peerID: NodeID? = nil, metadata: NodeMetadata, ledger: Ledger, journal: any JournalReading,
                checkpoints: any CheckpointReading = NoCheckpoints(), settings: LedgerSettings = LedgerSettings(),
                commitFloor: Seq = 0, checkpointSeq: Seq = 0, history: any HistoryReading = NoHistory(),
                archivedSeq: Seq = 0) {
        invariant(id.isLedger, "a ledger node must be a ledger")
        self.id = id
        let peerID = peerID ?? NodeID.ledgers.first { $0 != id }!
        invariant(peerID.isLedger && peerID != id, "a ledger's peer must be the other ledger")
        self.peerID = peerID
        self.metadata = metadata
        self.ledger = ledger
        self.journal = journal
        self.checkpoints = checkpoints
        self.settings = settings
        self.ledger.forgetsRequestIDs = settings.injectedBugs.contains(.forgetIdempotency)
        // Uncommitted entries keep undo logs, so cutting them is a rollback rather than a rebuild.
        self.ledger.keepsUndo = true
        lastSeq = journal.lastSeq
        lastHash = journal.lastHash
        lastEpoch = journal.lastEpoch
        durableSeq = journal.lastSeq
        invariant(commitFloor <= journal.lastSeq, "commit floor \(commitFloor) beyond the journal's end \(journal.lastSeq)")
        invariant(commitFloor >= journal.floorSeq, "commit floor \(commitFloor) below the journal's floor \(journal.floorSeq)")
        invariant(ledger.canRollBack(to: commitFloor), "records after the commit floor must keep undo logs")
        commitSeq = commitFloor
        storedCommitFloor = commitFloor
        self.checkpointSeq = checkpointSeq
        lastCheckpointAttemptSeq = checkpointSeq
        self.history = history
        self.archivedSeq = archivedSeq
        ownStoredSeq = archivedSeq
        archiveFedSeq = archivedSeq
        archiveSentSeq = archivedSeq
        configureArchive()
    }

    /// Archiving follows the settings; a ledger that already evicted items keeps looking them up even when the
    /// settings turned archiving off (it then evicts nothing more).
    private mutating func configureArchive() {
        guard settings.configureArchive(of: &ledger, reader: history) else { return }
        historyComplete = archivedSeq >= ledger.evictedThrough
    }

    // MARK: - Stepping

    public mutating func step(_ event: LedgerEvent, now: Instant) -> [LedgerAction] {
        step(CollectionOfOne(event), now: now)
    }

    /// Handles several events that arrived together, then replicates and answers once for all of them.
    public mutating func step(_ events: some Sequence<LedgerEvent>, now: Instant) -> [LedgerAction] {
        self.now = now
        for event in events {
            handle(event)
        }
        afterEvents()
        defer { actions.removeAll(keepingCapacity: true) }
        return actions
    }

    private mutating func handle(_ event: LedgerEvent) {
        if storageFailed {
            // Only heartbeats are answered (as recovering); anything else would need the disk.
            if case let .received(from: gateway, .heartbeat) = event, gateway.isGateway {
                send(.report(report()), to: gateway)
            } else if case let .received(from: gateway, .forward(_, token, _, _)) = event, gateway.isGateway {
                send(.redirect(epoch: metadata.epoch, token: token), to: gateway)
            }
            return
        }
        switch event {
        case .turn:
            break
        case .tick:
            break
        case let .persisted(through: seq):
            invariant(seq <= lastSeq, "persisted beyond the journal's end")
            if seq > durableSeq {
                durableSeq = seq
                if let first = unstable.first, first.seq <= seq {
                    unstable.removeFirst(Int(min(seq - first.seq + 1, UInt64(unstable.count))))
                }
            }
        case let .received(from: sender, message):
            receive(message, from: sender)
        case let .checkpointWritten(seq):
            invariant(checkpointInFlight == seq, "checkpoint \(seq) reported, \(String(describing: checkpointInFlight)) in flight")
            checkpointInFlight = nil
            checkpointSeq = max(checkpointSeq, seq)
        case let .checkpointFailed(seq):
            invariant(checkpointInFlight == seq, "checkpoint \(seq) reported, \(String(describing: checkpointInFlight)) in flight")
            checkpointInFlight = nil // tried again once another interval of records has committed
        case let .checkpointInstalled(image):
            finishInstall(image)
        case .storageFailed:
            failStorage()
        case let .archived(through: seq):
            archiveInFlight = false
            if archiveInFlightAdvances { archivedSeq = max(archivedSeq, seq) }
            ownStoredSeq = max(ownStoredSeq, seq)
            evictionDue = true
        case let .historyImported(watermark: nil):
            if historyCopy != nil { historyCopy!.piecesInFlight = max(0, historyCopy!.piecesInFlight - 1) }
        case let .historyImported(watermark: seq?):
            // The copy of the leader's store is durable: from here the node's own batches move the watermark.
            archivedSeq = max(archivedSeq, seq)
            if historyCopy?.finished == true, historyCopy?.watermark == seq { historyCopy = nil }
            if !historyComplete, archivedSeq >= ledger.evictedThrough {
                historyComplete = true
                ackOwed = true // the leader learns it from the acknowledgement
                if pendingArchive == nil, !archiveInFlight {
                    // What the copy brought need not be stored again (batches gathered meanwhile go as they are).
                    archiveFedSeq = max(archiveFedSeq, archivedSeq)
                    archiveSentSeq = max(archiveSentSeq, archivedSeq)
                }
                evictionDue = true
            }
        case let .checkpointInstallFailed(seq):
            invariant(installing && staging?.position.seq == seq, "an install of \(seq) failed, none was asked for")
            // Start over: the leader's next piece (not at offset 0) is answered with "received nothing".
            installing = false
            staging = nil
        }
    }

    private mutating func failStorage() {
        storageFailed = true
        role = .recovering
        pendingReplies.removeAll()
        staging = nil
    }

    private mutating func receive(_ message: PeerMessage, from sender: NodeID) {
        switch message {
        case let .heartbeat(config):
            guard sender.isGateway else { return }
            adopt(config)
            send(.report(report()), to: sender)
        case let .forward(epoch: epoch, token: token, body: body, clientKey: clientKey):
            // Tokens are the forwarding gateway's: its reply goes back to it.
            guard sender.isGateway else { return }
            guard role == .leader, epoch == metadata.epoch else {
                send(.redirect(epoch: metadata.epoch, token: token), to: sender)
                return
            }
            serve(token: token, body: body, clientKey: clientKey, from: sender)
        case let .append(append):
            guard sender == peerID else { return }
            receiveAppend(append, from: sender)
        case let .appendAck(ack):
            guard sender == peerID else { return }
            receiveAck(ack)
        case let .checkpointChunk(chunk):
            guard sender == peerID else { return }
            receiveCheckpointChunk(chunk, from: sender)
        case let .checkpointAck(ack):
            guard sender == peerID else { return }
            receiveCheckpointAck(ack)
        case let .historyRequest(request):
            guard sender == peerID else { return }
            answerHistoryRequest(request)
        case let .historyChunk(chunk):
            guard sender == peerID else { return }
            receiveHistoryChunk(chunk, from: sender)
        case .report, .reply, .redirect:
            break // Meant for the gateway.
        }
    }

    // MARK: - Configuration

    private mutating func adopt(_ config: ClusterConfig) {
        if config.epoch > metadata.epoch {
            raiseEpoch(to: config.epoch, leader: config.leader)
            if config.leader == id && config.leaderDataID == metadata.dataID {
                becomeLeader(peerRequired: config.follower == peerID)
            } else if let leader = config.leader, leader != id {
                becomeFollower(of: leader)
            } else {
                stepDown()
            }
        } else if config.epoch == metadata.epoch {
            switch role {
            case .leader:
                if config.leader == id, config.follower == peerID, !peer.required {
                    // The gateway recorded our peer as in sync; it may be promoted, so it must stay required.
                    peer.required = true
                    peer.syncBaseline = commitSeq
                }
            case .recovering:
                // A restarted ledger follows a known leader of its current epoch, but never resumes leading on
                // its own: the gateway starts a new epoch for that.
                if let leader = config.leader, leader != id { becomeFollower(of: leader) }
            case .follower:
                break
            }
        }
    }

    private mutating func raiseEpoch(to epoch: UInt64, leader: NodeID?) {
        invariant(epoch > metadata.epoch, "epochs only grow")
        metadata.epoch = epoch
        metadata.leader = leader?.name
        // What matched the leader of an older epoch says nothing about the new leader's journal, even when the
        // same node leads both: it may have lost unsynced records in a crash and written others at those seqs.
        // (Simulation seed 50971: a stale match made the follower commit a record the leader did not have.)
        matchedSeq = 0
        ackedSeq = 0
        // A checkpoint half received from the old leader is dropped; one being installed is committed state and
        // finishes.
        if !installing { staging = nil }
        actions.append(.storeMetadata(metadata))
    }

    private mutating func becomeLeader(peerRequired: Bool) {
        // Only the in-sync follower is ever promoted, and a node installing a checkpoint is far behind.
        invariant(!installing, "asked to lead while installing a checkpoint from the old leader")
        staging = nil
        role = .leader
        peer = PeerProgress()
        peer.nextSeq = lastSeq + 1
        peer.required = peerRequired
        peer.syncBaseline = commitSeq
        peer.lastProgressNanos = now.monotonicNanos
        matchedSeq = 0
    }

    private mutating func becomeFollower(of leader: NodeID) {
        if role != .follower(leader: leader) {
            matchedSeq = 0
            ackedSeq = 0
        }
        pendingReplies.removeAll() // The gateway sends these requests again to whoever leads now.
        role = .follower(leader: leader)
    }

    private mutating func stepDown() {
        pendingReplies.removeAll()
        role = .recovering
    }

    // MARK: - Serving client requests (leader)

    /// - Parameter clientKey: the key the client's connection proved: its request ids are in its scope.
    private mutating func serve(token: UInt64, body: [UInt8], clientKey: ClientKey?, from gateway: NodeID) {
        let request: LedgerRequest
        switch RequestDecoder.decode(body) {
        case let .failure(error):
            // Decided without looking at any state: nothing to wait for.
            send(.reply(epoch: metadata.epoch, token: token, body: ReplyEncoder.error(error)), to: gateway)
            return
        case let .success(decoded):
            request = decoded.scoped(to: clientKey)
        }
        let (response, entry) = ledger.execute(request, seq: lastSeq + 1, timeMillis: now.wallMillis)
        if ledger.historyReadFailed {
            // The request was refused as unavailable (nothing applied); the store is treated as a failed disk.
            send(.reply(epoch: metadata.epoch, token: token, body: ReplyEncoder.encode(response, for: request)),
                 to: gateway)
            failStorage()
            return
        }
        if let entry {
            mutationsSinceCheckpoint += UInt64(entry.mutations.count)
            appendLocally(JournalRecord(epoch: metadata.epoch, seq: lastSeq + 1, prevHash: lastHash,
                                        payload: entry.encoded()))
        }
        let replyBody = ReplyEncoder.encode(response, for: request)
        // Every answer, a refusal or a read included, may reflect records not yet committed; it waits for them.
        if commitSeq >= lastSeq {
            send(.reply(epoch: metadata.epoch, token: token, body: replyBody), to: gateway)
        } else {
            pendingReplies.append(PendingReply(requiredSeq: lastSeq, gateway: gateway, token: token, body: replyBody))
        }
    }

    private mutating func appendLocally(_ record: JournalRecord) {
        invariant(record.seq == lastSeq + 1 && record.prevHash == lastHash, "journal chain broken")
        invariant(record.epoch >= lastEpoch, "epochs never decrease along the journal")
        unstable.append(record)
        lastSeq = record.seq
        lastHash = record.hash
        lastEpoch = record.epoch
        actions.append(.append([record]))
    }

    // MARK: - Replication, leader side

    private mutating func receiveAck(_ ack: AppendAck) {
        if ack.epoch > metadata.epoch, !settings.injectedBugs.contains(.skipEpochCheck) {
            // Someone newer leads: stop acknowledging anything at once.
            raiseEpoch(to: ack.epoch, leader: nil)
            stepDown()
            return
        }
        guard role == .leader, ack.epoch == metadata.epoch || settings.injectedBugs.contains(.skipEpochCheck) else {
            return
        }
        if ack.success {
            invariant(ack.matchSeq <= lastSeq, "peer claims records the leader never wrote")
            // Only an acknowledgement at least as new as the last one speaks for the peer's history: a delayed one
            // from before it installed a checkpoint still says "complete". (Simulation seed 119668: the gateway
            // recorded a follower that was still copying the store.) Installing moves its match forward, so a
            // stale claim never carries the match of a newer one.
            if ack.matchSeq >= peer.matchSeq { peer.historyComplete = ack.historyComplete }
            if ack.matchSeq > peer.matchSeq {
                peer.matchSeq = ack.matchSeq
                peer.lastProgressNanos = now.monotonicNanos
            }
            if peer.state == .probing || (peer.state == .sendingCheckpoint
                                           && ack.matchSeq >= (peer.transfer?.position.seq ?? .max)) {
                peer.state = .replicating
                peer.transfer = nil
                peer.nextSeq = peer.matchSeq + 1
            }
            peer.nextSeq = max(peer.nextSeq, peer.matchSeq + 1)
            peer.probeSentNanos = nil
            peer.failedProbes = 0
        } else if peer.state != .sendingCheckpoint {
            // The peer's journal does not match at prevSeq: step back and probe again at once.
            peer.state = .probing
            peer.failedProbes += 1
            let stepBack = UInt64(1) << UInt64(min(peer.failedProbes, 20))
            // Never below the floor: a peer that needs older records gets the checkpoint (see `replicate`).
            let probeFrom = max(peer.nextSeq > stepBack ? peer.nextSeq - stepBack : 1, journal.floorSeq + 1)
            peer.nextSeq = max(1, min(ack.lastSeq + 1, probeFrom))
            if ack.lastSeq < journal.floorSeq { peer.nextSeq = ack.lastSeq + 1 } // below the floor: checkpoint
            peer.matchSeq = min(peer.matchSeq, peer.nextSeq - 1)
            peer.probeSentNanos = nil
        }
    }

    private mutating func replicate() {
        guard role == .leader else { return }
        let nowNanos = now.monotonicNanos
        if peer.state != .sendingCheckpoint, peer.nextSeq - 1 < journal.floorSeq,
           peer.probeSentNanos.map({ now.nanos(since: $0) >= settings.probeIntervalNanos }) ?? true {
            // The peer needs records below the floor, which are no longer read: it gets the newest checkpoint.
            startCheckpointTransfer()
        }
        switch peer.state {
        case .sendingCheckpoint:
            sendCheckpointChunks()
        case .probing where peer.nextSeq - 1 < journal.floorSeq:
            break // waiting to try the checkpoint again
        case .probing:
            let due = peer.probeSentNanos.map { now.nanos(since: $0) >= settings.probeIntervalNanos } ?? true
            if due {
                sendAppend(from: peer.nextSeq, records: [])
                peer.probeSentNanos = nowNanos
            }
        case .replicating:
            if peer.matchSeq < peer.nextSeq - 1, now.nanos(since: peer.lastProgressNanos) >= settings.resendIntervalNanos,
               now.nanos(since: peer.lastSendNanos) >= settings.resendIntervalNanos {
                // Sent records went unanswered: messages may have been lost. Find out where the peer is.
                peer.state = .probing
                peer.nextSeq = peer.matchSeq + 1
                if peer.matchSeq < journal.floorSeq {
                    // Checkpoints moved the floor past the peer meanwhile: it gets the newest checkpoint (above, on
                    // the next turn), never a probe into records no longer read.
                    peer.probeSentNanos = nil
                    return
                }
                sendAppend(from: peer.nextSeq, records: [])
                peer.probeSentNanos = nowNanos
                return
            }
            var sentAny = false
            peer.forgetAcknowledged()
            while peer.nextSeq <= lastSeq, peer.nextSeq - 1 - peer.matchSeq < settings.maxInflightRecords,
                  peer.inflightBytes < settings.maxInflightBytes {
                let records = readRecords(from: peer.nextSeq, maxCount: settings.maxRecordsPerAppend,
                                          maxBytes: settings.maxBytesPerAppend)
                invariant(!records.isEmpty, "journal has no record at \(peer.nextSeq)")
                sendAppend(from: peer.nextSeq, records: records)
                peer.nextSeq += UInt64(records.count)
                peer.noteSent(through: peer.nextSeq - 1, bytes: records.reduce(0) { $0 + $1.encodedCount })
                sentAny = true
            }
            if !sentAny, now.nanos(since: peer.lastSendNanos) >= settings.idleAppendIntervalNanos {
                sendAppend(from: peer.nextSeq, records: [])
            }
            if peer.matchSeq == lastSeq { peer.lastProgressNanos = nowNanos }
        }
        // A peer that has caught up becomes synchronous (sticky for this epoch).
        if !peer.required, peer.state == .replicating,
           peer.matchSeq + settings.syncLagThresholdRecords >= durableSeq {
            peer.required = true
            peer.syncBaseline = commitSeq
        }
    }

    private mutating func sendAppend(from nextSeq: Seq, records: [JournalRecord]) {
        let prevSeq = nextSeq - 1
        let append = Append(epoch: metadata.epoch, prevSeq: prevSeq, prevHash: hash(at: prevSeq),
                            commitSeq: commitSeq, leaderLastSeq: lastSeq, records: records)
        peer.lastSendNanos = now.monotonicNanos
        send(.append(append), to: peerID)
    }

    private mutating func advanceCommit() {
        let candidate: Seq
        switch role {
        case .leader:
            candidate = peer.required ? min(durableSeq, peer.matchSeq) : durableSeq
        case .follower:
            candidate = min(leaderCommitSeq, min(durableSeq, matchedSeq))
        case .recovering:
            candidate = commitSeq
        }
        if candidate > commitSeq {
            commitSeq = candidate
            ledger.forgetUndo(through: commitSeq)
        }
        guard role == .leader else { return }
        while let first = pendingReplies.first, first.requiredSeq <= commitSeq {
            pendingReplies.removeFirst()
            send(.reply(epoch: metadata.epoch, token: first.token, body: first.body), to: first.gateway)
        }
    }

    // MARK: - Replication, follower side

    /// A message from the peer as leader of `epoch` (an append or a checkpoint piece): refused with a failed
    /// acknowledgement naming our epoch when it is older; otherwise we follow its sender, first raising our epoch if
    /// it is newer. Returns whether to go on with the message.
    private mutating func acceptLeader(epoch: UInt64, from leader: NodeID) -> Bool {
        if epoch < metadata.epoch, settings.injectedBugs.contains(.skipEpochCheck) {
            // Broken on purpose: obey whoever sends, whatever its epoch.
            stepDown()
            role = .follower(leader: leader)
        } else if epoch < metadata.epoch {
            send(.appendAck(AppendAck(epoch: metadata.epoch, success: false, matchSeq: 0, lastSeq: lastSeq)),
                 to: leader)
            return false
        }
        if epoch > metadata.epoch {
            // Only the gateway makes epochs and it gives each one leader: this sender leads it.
            raiseEpoch(to: epoch, leader: leader)
            becomeFollower(of: leader)
        } else {
            invariant(role != .leader, "two leaders in epoch \(metadata.epoch)")
            becomeFollower(of: leader)
        }
        return true
    }

    private mutating func receiveAppend(_ append: Append, from leader: NodeID) {
        guard acceptLeader(epoch: append.epoch, from: leader) else { return }
        leaderCommitSeq = max(leaderCommitSeq, append.commitSeq)
        // The leader moved on to sending a checkpoint: an append still in flight is stale; so is any while installing.
        if installing || staging != nil { return }

        // Committed records are the same on every copy (the leader holds them all), so a position at or below our
        // commit seq matches without a look — it may be below our floor, where nothing is read.
        guard append.prevSeq <= lastSeq,
              append.prevSeq <= commitSeq || hash(at: append.prevSeq) == append.prevHash else {
            send(.appendAck(AppendAck(epoch: metadata.epoch, success: false, matchSeq: 0,
                                      lastSeq: min(lastSeq, append.prevSeq > 0 ? append.prevSeq - 1 : 0))),
                 to: leader)
            return
        }
        var matched = append.prevSeq
        for record in append.records {
            invariant(record.seq == matched + 1, "append records are not consecutive")
            if record.seq <= lastSeq {
                if record.seq <= commitSeq || hash(at: record.seq) == record.hash {
                    matched = record.seq
                    continue
                }
                truncate(after: matched)
            }
            appendLocally(record)
            apply(record)
            matched = record.seq
        }
        if matched == append.leaderLastSeq, lastSeq > matched, matched >= commitSeq,
           epoch(at: matched + 1) < append.epoch {
            // We hold records beyond the leader's end, written under an older epoch: the leader holds every
            // committed record, so these were never committed. (Records of the leader's own epoch beyond
            // `leaderLastSeq` are newer ones from this leader, met again through a delayed duplicate; so are
            // committed ones, which every leader holds.)
            truncate(after: matched)
        }
        matchedSeq = max(matchedSeq, matched)
        // Nothing new to make durable: answer now. Otherwise the answer follows the next sync.
        if matched <= durableSeq || settings.injectedBugs.contains(.acknowledgeBeforeSync) { ackOwed = true }
    }

    private mutating func apply(_ record: JournalRecord) {
        let entry: Entry
        do {
            entry = try Entry(decoding: record.payload[...])
        } catch {
            fatalError("record \(record.seq) holds an undecodable entry: \(error)")
        }
        ledger.apply(entry, seq: record.seq)
        mutationsSinceCheckpoint += UInt64(entry.mutations.count)
    }

    /// Drops records after `seq`: rolls their entries back (they keep undo logs until committed).
    private mutating func truncate(after seq: Seq) {
        invariant(seq >= commitSeq, "refusing to drop committed records (commit \(commitSeq), cut after \(seq))")
        invariant(role != .leader, "a leader never truncates its journal")
        let hashAtCut = hash(at: seq)
        let epochAtCut = epoch(at: seq)
        // Every entry after the commit seq keeps its undo log (see `LedgerRecovery`), and cuts never go below it.
        ledger.rollBack(to: seq)
        invariant(ledger.lastAppliedSeq == seq, "ledger at \(ledger.lastAppliedSeq) after cutting to \(seq)")
        unstable.removeAll { $0.seq > seq }
        lastSeq = seq
        lastHash = hashAtCut
        lastEpoch = epochAtCut
        durableSeq = min(durableSeq, seq)
        matchedSeq = min(matchedSeq, seq)
        ackedSeq = min(ackedSeq, seq)
        actions.append(.truncate(after: seq))
    }

    // MARK: - After every step

    private mutating func afterEvents() {
        if storageFailed { return }
        replicate()
        advanceCommit()
        keepCheckpointsAndFloor()
        keepArchive()
        keepHistoryCopy()
        keepHistoryStream()
        if case let .follower(leader) = role {
            let durable = settings.injectedBugs.contains(.acknowledgeBeforeSync) ? lastSeq : durableSeq
            let match = min(durable, matchedSeq)
            if ackOwed || match > ackedSeq {
                send(.appendAck(AppendAck(epoch: metadata.epoch, success: true, matchSeq: match, lastSeq: lastSeq,
                                          historyComplete: historyComplete)), to: leader)
                ackedSeq = match
                ackOwed = false
            }
        }
    }

    // MARK: - Checkpoint transfer, leader side

    /// Starts sending the newest checkpoint (which the floor never passes) to the peer.
    private mutating func startCheckpointTransfer() {
        guard checkpointSeq > 0, checkpointSeq >= journal.floorSeq else {
            invariantFailure("the peer needs records below the floor \(journal.floorSeq) and there is no checkpoint")
        }
        let position = CheckpointFile.Position(seq: checkpointSeq, epoch: epoch(at: checkpointSeq),
                                               hash: hash(at: checkpointSeq))
        peer.state = .sendingCheckpoint
        peer.transfer = CheckpointTransfer(position: position)
        peer.lastProgressNanos = now.monotonicNanos
        peer.probeSentNanos = nil
    }

    /// Sends the next pieces within the window; starts over from what the peer holds when it stays silent, and
    /// with a newer checkpoint when the file is gone (replaced by newer ones).
    private mutating func sendCheckpointChunks() {
        guard var transfer = peer.transfer else { return }
        if let total = transfer.totalBytes, transfer.ackedBytes == total,
           now.nanos(since: peer.lastProgressNanos) >= settings.resendIntervalNanos {
            // The peer has the whole file but has not said it installed it (it may have restarted meanwhile, or
            // still be loading it): ask where it stands, from the checkpoint's position on.
            peer.state = .probing
            peer.nextSeq = transfer.position.seq + 1
            peer.transfer = nil
            peer.probeSentNanos = nil
            return
        }
        if transfer.sentBytes > transfer.ackedBytes, now.nanos(since: peer.lastProgressNanos) >= settings.resendIntervalNanos,
           now.nanos(since: peer.lastSendNanos) >= settings.resendIntervalNanos {
            transfer.sentBytes = transfer.ackedBytes
        }
        while transfer.totalBytes.map({ transfer.sentBytes < $0 }) ?? true,
              transfer.sentBytes - transfer.ackedBytes < UInt64(settings.maxInflightBytes) {
            guard let (total, bytes) = checkpoints.checkpointBytes(seq: transfer.position.seq, offset: transfer.sentBytes,
                                                                   maxBytes: settings.maxBytesPerAppend),
                  transfer.totalBytes == nil || transfer.totalBytes == total, !bytes.isEmpty
            else {
                // The file is gone (newer ones replaced it) or unreadable: try again shortly with the newest, and
                // if the newest is the one that failed, write a fresh one now.
                if transfer.position.seq == checkpointSeq { freshCheckpointWanted = true }
                peer.transfer = nil
                peer.state = .probing
                peer.probeSentNanos = now.monotonicNanos
                return
            }
            transfer.totalBytes = total
            send(.checkpointChunk(CheckpointChunk(epoch: metadata.epoch, position: transfer.position, totalBytes: total,
                                                  offset: transfer.sentBytes, bytes: bytes)), to: peerID)
            transfer.sentBytes += UInt64(bytes.count)
            peer.lastSendNanos = now.monotonicNanos
        }
        peer.transfer = transfer
    }

    private mutating func receiveCheckpointAck(_ ack: CheckpointAck) {
        guard role == .leader, ack.epoch == metadata.epoch, peer.state == .sendingCheckpoint,
              var transfer = peer.transfer, transfer.position.seq == ack.seq else { return }
        if ack.receivedBytes > transfer.ackedBytes { peer.lastProgressNanos = now.monotonicNanos }
        if ack.receivedBytes < transfer.ackedBytes || ack.receivedBytes < transfer.sentBytes && ack.receivedBytes == 0 {
            // The peer lost what it had staged (it restarted, or the install failed): from the start.
            transfer.sentBytes = ack.receivedBytes
        }
        transfer.ackedBytes = ack.receivedBytes
        transfer.sentBytes = max(transfer.sentBytes, transfer.ackedBytes)
        peer.transfer = transfer
    }

    // MARK: - Checkpoint transfer, follower side

    private mutating func receiveCheckpointChunk(_ chunk: CheckpointChunk, from leader: NodeID) {
        guard acceptLeader(epoch: chunk.epoch, from: leader) else { return }
        if installing { return } // the whole file is here; the answer follows the install
        if staging == nil, holds(chunk.position) {
            // We already hold the checkpoint's record (the leader started the transfer on a stale answer):
            // installing it would take us back. Say how far we match instead.
            matchedSeq = max(matchedSeq, chunk.position.seq)
            ackOwed = true
            return
        }
        if staging?.position != chunk.position || staging?.totalBytes != chunk.totalBytes {
            staging = chunk.offset == 0 ? (chunk.position, chunk.totalBytes, 0) : nil
        }
        guard var current = staging else {
            send(.checkpointAck(CheckpointAck(epoch: metadata.epoch, seq: chunk.position.seq, receivedBytes: 0)),
                 to: leader)
            return
        }
        if chunk.offset == current.receivedBytes {
            actions.append(.stageCheckpointChunk(chunk))
            current.receivedBytes += UInt64(chunk.bytes.count)
            staging = current
            if current.receivedBytes == current.totalBytes {
                installing = true
                actions.append(.installCheckpoint(current.position))
            }
        }
        send(.checkpointAck(CheckpointAck(epoch: metadata.epoch, seq: current.position.seq,
                                          receivedBytes: current.receivedBytes)), to: leader)
    }

    /// Whether our journal holds the record at `position` (and so, by the hash chain, everything before it).
    private func holds(_ position: CheckpointFile.Position) -> Bool {
        guard position.seq <= lastSeq else { return false }
        return position.seq <= commitSeq || hash(at: position.seq) == position.hash
    }

    /// Takes the installed checkpoint as the whole state: the journal now continues its position (the driver reset
    /// it), and everything up to it is committed.
    private mutating func finishInstall(_ image: CheckpointImage) {
        let position = image.position
        invariant(installing && staging?.position == position, "installed checkpoint \(position) was not asked for")
        invariant(ackedSeq <= position.seq, "installing checkpoint \(position) would undo records acknowledged up to \(ackedSeq)")
        invariant(journal.lastSeq == position.seq && journal.lastHash == position.hash,
                  "the journal does not continue the installed checkpoint")
        installing = false
        staging = nil
        var installed = image.settledLedger()
        installed.forgetsRequestIDs = settings.injectedBugs.contains(.forgetIdempotency)
        installed.keepsUndo = true
        ledger = installed
        unstable.removeAll()
        lastSeq = position.seq
        lastHash = position.hash
        lastEpoch = position.epoch
        durableSeq = position.seq
        commitSeq = position.seq
        matchedSeq = position.seq
        ackedSeq = 0
        checkpointSeq = position.seq
        lastCheckpointAttemptSeq = position.seq
        storedCommitFloor = position.seq
        ackOwed = true
        // The store still holds what it held; the new state continues from its watermark when that reaches what
        // the checkpoint left out of memory.
        // What was gathered came from the replaced state: gathered again from the new one.
        pendingArchive = nil
        if !archiveInFlight { archiveSentSeq = archivedSeq }
        archiveFedSeq = archiveSentSeq
        configureArchive()
    }

    // MARK: - Checkpoints and the commit floor

    /// Every `checkpointIntervalRecords` committed records or `checkpointIntervalMutations` written mutations, a
    /// checkpoint at the commit seq (one at a time); every `commitFloorIntervalNanos`, the commit floor. Both are
    /// carried out off the loop by the driver.
    private mutating func keepCheckpointsAndFloor() {
        if checkpointInFlight == nil, commitSeq > lastCheckpointAttemptSeq || freshCheckpointWanted, commitSeq > 0,
           commitSeq >= lastCheckpointAttemptSeq + settings.checkpointIntervalRecords || freshCheckpointWanted
            || mutationsSinceCheckpoint >= max(settings.checkpointIntervalMutations, UInt64(ledger.receiptCount / 2)) {
            freshCheckpointWanted = false
            mutationsSinceCheckpoint = 0
            let position = CheckpointFile.Position(seq: commitSeq, epoch: epoch(at: commitSeq), hash: hash(at: commitSeq))
            checkpointInFlight = commitSeq
            lastCheckpointAttemptSeq = commitSeq
            // A store still being copied from the leader does not hold everything below its watermark yet.
            let stored = ledger.archives && historyComplete ? min(archivedSeq, commitSeq) : 0
            actions.append(.writeCheckpoint(CheckpointImage(position: position, ledger: ledger, storedThrough: stored)))
        }
        if commitSeq > storedCommitFloor, now.nanos(since: storedCommitFloorNanos) >= settings.commitFloorIntervalNanos {
            storedCommitFloor = commitSeq
            storedCommitFloorNanos = now.monotonicNanos
            actions.append(.storeCommitFloor(commitSeq))
        }
    }

    // MARK: - The history store

    /// Hands committed history to the store: gathers it a slice per turn (`archiveSliceItems`), and hands the
    /// gathered batch over, one at a time, every `archiveIntervalNanos` or once it holds `archiveBatchMaxItems`.
    private mutating func keepArchive() {
        guard ledger.archives, historyComplete || !installing else { return }
        if evictionDue {
            // Never beyond the commit seq: a checkpoint settles the state there, rolling back what follows, and the
            // records it rolls back need their lines in memory (after a restart, the store may be ahead of it).
            // While incomplete, what the node's own batches stored; nothing once the copy's last piece is asked to
            // be stored, whose watermark covers what was stored by then (`receiveHistoryChunk`).
            let stored = historyComplete ? archivedSeq : historyCopy?.finished == true ? 0 : ownStoredSeq
            let through = min(stored, commitSeq)
            evictionDue = !ledger.evict(archivedThrough: through, limit: settings.archiveSliceItems) || through < stored
        }
        guard let receiptWindow = settings.archiveReceiptWindow else { return }
        // While the copy runs, the store is the copy's: new history waits in memory up to `copyHeldReceipts`.
        if !historyComplete, pendingArchive == nil, ledger.receiptCount <= receiptWindow + settings.copyHeldReceipts {
            return
        }
        let gathered = pendingArchive?.itemCount ?? 0
        if commitSeq > archiveFedSeq, gathered < settings.archiveBatchMaxItems {
            let slice = ledger.archiveBatch(after: archiveFedSeq, through: commitSeq,
                                            maxItems: min(settings.archiveSliceItems, settings.archiveBatchMaxItems - gathered))
            archiveFedSeq = slice.throughSeq
            if pendingArchive == nil { pendingArchive = slice } else { pendingArchive!.append(slice) }
        }
        guard !archiveInFlight, var batch = pendingArchive, batch.throughSeq > batch.afterSeq else { return }
        // Under load the store keeps up: a batch goes as soon as the last one is stored and this one is worth a sync
        // (a store lagging seconds behind a burst writes them while later, lighter traffic waits on the disk).
        let due = batch.itemCount >= min(settings.archiveBatchMaxItems, settings.archiveEagerItems)
        guard due || now.nanos(since: lastArchiveNanos) >= settings.archiveIntervalNanos else { return }
        pendingArchive = nil
        archiveInFlight = true
        // Never written again once the store holds it (gathered during a copy that then brought it): a leader's
        // store changes no index entry a follower's copy may be reading (`HistoryReading.items(after:maxBytes:)`).
        if historyComplete { batch.dropThrough(archivedSeq) }
        batch.advancesWatermark = historyComplete
        archiveInFlightAdvances = historyComplete
        archiveSentSeq = batch.throughSeq
        lastArchiveNanos = now.monotonicNanos
        actions.append(.archive(batch))
    }

    /// A follower whose store lacks what its state left out of memory copies the leader's store: it asks for as many
    /// pieces as it may hold waiting to be stored (`historyPiecesInFlight`, so a slow disk bounds what is held in
    /// memory), which the leader streams one per turn; again from the last piece received after
    /// `resendIntervalNanos` of silence, and from the start under a new leader or epoch.
    private mutating func keepHistoryCopy() {
        guard !historyComplete, case let .follower(leader) = role, !installing else {
            if historyCopy?.finished != true { historyCopy = nil }
            return
        }
        if let copy = historyCopy, copy.finished { return } // waiting for the last piece to be durable
        if historyCopy == nil || historyCopy!.epoch != metadata.epoch || historyCopy!.leader != leader {
            historyCopy = HistoryCopy(epoch: metadata.epoch, leader: leader)
        } else if historyCopy!.piecesExpected > 0 {
            guard now.nanos(since: historyCopy!.requestSentNanos) >= settings.resendIntervalNanos else { return }
        } else if historyCopy!.piecesInFlight >= settings.historyPiecesInFlight {
            return
        }
        let pieces = max(1, settings.historyPiecesInFlight - historyCopy!.piecesInFlight)
        historyCopy!.requestSentNanos = now.monotonicNanos
        historyCopy!.piecesExpected = pieces
        send(.historyRequest(HistoryRequest(epoch: metadata.epoch, afterKey: historyCopy!.afterKey,
                                            pieces: UInt32(pieces))), to: leader)
    }

    /// Whether the node has work it does a piece per turn (a store copy to stream): the driver then steps it again
    /// at once (`.turn`) instead of waiting for the next event or tick.
    public var wantsAnotherTurn: Bool { historyStream != nil }

    private mutating func answerHistoryRequest(_ request: HistoryRequest) {
        guard role == .leader, request.epoch == metadata.epoch, historyComplete else { return }
        // A new request replaces the stream: the follower asks again from where its copy stands.
        historyStream = HistoryStream(epoch: request.epoch, afterKey: request.afterKey,
                                      remaining: Int(min(max(request.pieces, 1), 64)))
    }

    /// Leader: one piece of the stream per turn, so reading the store never holds the loop for more than a piece.
    private mutating func keepHistoryStream() {
        guard var stream = historyStream else { return }
        guard role == .leader, stream.epoch == metadata.epoch, historyComplete, stream.remaining > 0 else {
            historyStream = nil
            return
        }
        do {
            let (items, complete) = try history.items(after: stream.afterKey, maxBytes: settings.historyPieceBytes)
            send(.historyChunk(HistoryChunk(epoch: metadata.epoch, afterKey: stream.afterKey, watermark: archivedSeq,
                                            complete: complete, items: items)), to: peerID)
            stream.remaining -= 1
            if let last = items.lastKey { stream.afterKey = last }
            historyStream = complete || stream.remaining == 0 ? nil : stream
        } catch {
            historyStream = nil
            failStorage()
        }
    }

    private mutating func receiveHistoryChunk(_ chunk: HistoryChunk, from leader: NodeID) {
        guard var copy = historyCopy, !copy.finished, role == .follower(leader: leader), chunk.epoch == copy.epoch,
              chunk.afterKey == copy.afterKey else { return }
        // The first piece says how far the copy reaches: everything the leader archived up to then.
        if copy.watermark == nil { copy.watermark = chunk.watermark }
        if let last = chunk.items.lastKey { copy.afterKey = last }
        copy.finished = chunk.complete
        copy.piecesExpected = chunk.complete ? 0 : max(0, copy.piecesExpected - 1)
        copy.requestSentNanos = now.monotonicNanos // the resend timer measures silence
        copy.piecesInFlight += 1
        // The last piece's watermark also covers what the node's own batches stored meanwhile (from below what its
        // state left out of memory, which the copy brings): eviction stops until it is durable.
        if chunk.complete { copy.watermark = copy.watermark.map { max($0, ownStoredSeq) } }
        actions.append(.importHistory(HistoryImport(items: chunk.items, watermark: chunk.complete ? copy.watermark : nil,
                                                    startsCopy: chunk.afterKey.isEmpty)))
        historyCopy = copy // the next request goes out after the events (`keepHistoryCopy`)
    }

    // MARK: - Reading the journal

    private func hash(at seq: Seq) -> RecordHash {
        if seq == 0 { return .zero }
        if seq == lastSeq { return lastHash }
        if let first = unstable.first, seq >= first.seq {
            return unstable[Int(seq - first.seq)].hash
        }
        guard let hash = journal.hash(at: seq) else { fatalError("journal has no record at \(seq)") }
        return hash
    }

    private func epoch(at seq: Seq) -> UInt64 {
        if seq == 0 { return 0 }
        if let first = unstable.first, seq >= first.seq {
            return unstable[Int(seq - first.seq)].epoch
        }
        guard let epoch = journal.epoch(at: seq) else { fatalError("journal has no record at \(seq)") }
        return epoch
    }

    private func readRecords(from seq: Seq, maxCount: Int, maxBytes: Int) -> [JournalRecord] {
        if let first = unstable.first, seq >= first.seq {
            let start = Int(seq - first.seq)
            guard start < unstable.count else { return [] }
            return Array(unstable[start..<min(unstable.count, start + maxCount)])
        }
        var records = journal.records(from: seq, maxCount: maxCount, maxBytes: maxBytes)
        // The journal may not hold the unstable tail yet; never hand out a gap.
        if let first = unstable.first, let last = records.last, last.seq >= first.seq {
            records.removeAll { $0.seq >= first.seq }
        }
        return records
    }

    // MARK: - Reporting

    public func report() -> NodeReport {
        let reportedRole: NodeReport.Role
        switch role {
        case .leader: reportedRole = .leader
        case .follower: reportedRole = .follower
        case .recovering: reportedRole = .recovering
        }
        let leading = role == .leader
        let waiting = peer.required && peer.matchSeq < durableSeq
        return NodeReport(
            node: id, dataID: metadata.dataID, epoch: metadata.epoch, role: reportedRole, lastSeq: lastSeq,
            lastEpoch: lastEpoch, lastHash: lastHash, commitSeq: commitSeq,
            peerInSync: leading && peer.required && peer.matchSeq >= peer.syncBaseline && peer.historyComplete,
            peerMatchSeq: leading ? peer.matchSeq : 0,
            peerStalled: leading && waiting && now.nanos(since: peer.lastProgressNanos) >= settings.peerStallTimeoutNanos,
            historyComplete: historyComplete)
    }

    /// Requests answered but waiting for their records to commit.
    public var pendingReplyCount: Int { pendingReplies.count }

    /// Those replies per gateway (the gateway that forwarded each request).
    public var pendingRepliesByGateway: [NodeID: Int] {
        var counts: [NodeID: Int] = [:]
        for reply in pendingReplies { counts[reply.gateway, default: 0] += 1 }
        return counts
    }

    /// While leading: how far the peer is behind — records after the last one it acknowledged, and bytes of appends
    /// sent to it and not yet acknowledged (records not yet sent count in `records` only). nil otherwise.
    public var replicationLag: (records: UInt64, bytes: Int)? {
        guard role == .leader else { return nil }
        return (lastSeq - min(peer.matchSeq, lastSeq), peer.inflightBytes)
    }

    private mutating func send(_ message: PeerMessage, to node: NodeID) {
        actions.append(.send(to: node, message))
    }
}

/// The leader's view of its peer, after etcd raft's `Progress`: probe until the peer's position is known, then
/// stream records in a bounded window.
struct PeerProgress {
    enum State { case probing, replicating, sendingCheckpoint }
    var state = State.probing
    var matchSeq: Seq = 0
    var nextSeq: Seq = 1
    /// Commits wait for this peer.
    var required = false
    /// The peer's history store holds what its state left out of memory (from its last acknowledgement): only
    /// then is it reported in sync, i.e. fit to be promoted.
    var historyComplete = false
    /// The commit position when the peer became required: it holds every acknowledged record once it has this.
    var syncBaseline: Seq = 0
    var lastProgressNanos: UInt64 = 0
    var lastSendNanos: UInt64 = 0
    var probeSentNanos: UInt64?
    var failedProbes = 0
    /// Appends in flight: their last seq and size, oldest first.
    var inflight = Deque<(lastSeq: Seq, bytes: Int)>()
    var inflightBytes = 0
    /// While `sendingCheckpoint`.
    var transfer: CheckpointTransfer?

    mutating func noteSent(through lastSeq: Seq, bytes: Int) {
        inflight.append((lastSeq, bytes))
        inflightBytes += bytes
    }

    /// Drops what the peer has acknowledged, and everything when sending restarts from `matchSeq`.
    mutating func forgetAcknowledged() {
        while let first = inflight.first, first.lastSeq <= matchSeq {
            inflightBytes -= first.bytes
            inflight.removeFirst()
        }
        while let last = inflight.last, last.lastSeq >= nextSeq {
            inflightBytes -= last.bytes
            inflight.removeLast()
        }
    }
}

/// A follower's copy of the leader's history store, in key order.
struct HistoryCopy {
    var epoch: UInt64
    var leader: NodeID
    var afterKey: [UInt8] = []
    /// The leader's watermark when the copy began (from the first piece); with the last piece, raised to what the
    /// node's own batches had stored by then.
    var watermark: Seq?
    /// When the last request went out or the last piece came in.
    var requestSentNanos: UInt64 = 0
    /// Pieces of the last request still to come.
    var piecesExpected = 0
    /// Pieces handed to the store and not yet reported stored.
    var piecesInFlight = 0
    /// The last piece arrived; its import (with the watermark) is being made durable.
    var finished = false
}

/// Leader: the pieces of its history store a follower asked for, still to send.
struct HistoryStream {
    var epoch: UInt64
    var afterKey: [UInt8]
    var remaining: Int
}

/// A checkpoint file on its way to the peer: sent and acknowledged byte counts (the size is learnt on first read).
struct CheckpointTransfer {
    var position: CheckpointFile.Position
    var totalBytes: UInt64?
    var sentBytes: UInt64 = 0
    var ackedBytes: UInt64 = 0
}

struct PendingReply {
    var requiredSeq: Seq
    /// The gateway that forwarded the request; `token` is its own.
    var gateway: NodeID
    var token: UInt64
    var body: [UInt8]
}
