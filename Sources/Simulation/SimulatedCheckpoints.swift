import BankCore
import Cluster
import Storage

/// Checkpoints on the simulated disk: written in the background, sometimes failed or damaged; the journal's floor
/// following the oldest one kept; a checkpoint sent to a follower below the floor and installed there, with a
/// crash sometimes landing between making it the newest checkpoint and resetting the journal.
extension Simulator {
    /// A checkpoint file on the simulated disk (the real file format, so the codec and the checksum are exercised),
    /// and whether the disk still holds it whole: a damaged one is found by its checksum at the next restart.
    struct StoredCheckpoint {
        var position: CheckpointFile.Position
        var bytes: [UInt8]
        var intact: Bool
    }

    /// A checkpoint write ends: usually whole; sometimes failed outright (the node hears of it), or damaged on disk
    /// later (found at the next restart; never every kept one, which retention `keep` would survive by reading the
    /// older segments, but the simulated journal does not keep them readable).
    func finishCheckpoint(_ id: NodeID, _ image: CheckpointImage) {
        let host = ledgers[id]!
        if random.chance(1, in: 20) {
            stats.faults["checkpoint write failed", default: 0] += 1
            stepLedger(id, .checkpointFailed(seq: image.position.seq))
            return
        }
        var body: [UInt8] = []
        // As the checkpoint thread writes it: a settled copy that lets go of the id filter's pages as it writes them
        // (the live node's filter, which shared them, must be untouched).
        var settled = image.settledLedger()
        settled.drainIntoCheckpoint(leavingOutThrough: image.storedThrough) { body.append(contentsOf: $0) }
        host.checkpoints.removeAll { $0.position.seq == image.position.seq }
        host.checkpoints.append(StoredCheckpoint(position: image.position,
                                                 bytes: CheckpointFile.encode(position: image.position, body: body),
                                                 intact: true))
        // Ordered by seq, as the files are: a write that ends after an install of a newer checkpoint (its image was
        // taken before) is an older checkpoint, not the newest. (Seed 102640: taken as the newest, it made a
        // restart reset the journal below acknowledged records.)
        host.checkpoints.sort { $0.position.seq < $1.position.seq }
        host.checkpoints = Array(host.checkpoints.suffix(CheckpointFile.retainedCount))
        if host.checkpoints.filter(\.intact).count > 1, random.chance(1, in: 10) {
            stats.faults["damaged checkpoint", default: 0] += 1
            let victim = random.below(host.checkpoints.count)
            host.checkpoints[victim].intact = false
        }
        // The floor follows the oldest checkpoint kept, once two are, as the ledger process does.
        if let candidate = CheckpointFile.floorCandidate(keptSeqs: host.checkpoints.map(\.position.seq)),
           case let floor = min(candidate, host.node!.commitSeq), floor > host.journal.floorSeq {
            host.archive += host.journal.records.prefix(Int(floor - host.journal.floorSeq))
            host.journal.advanceFloor(to: floor)
        }
        stepLedger(id, .checkpointWritten(seq: image.position.seq))
    }

    /// As the ledger process does at start: the newest checkpoint that verifies wins; a journal that does not hold
    /// its position (an install interrupted before the journal reset) restarts after it.
    func restartFromNewestCheckpoint(_ id: NodeID) -> Ledger? {
        let host = ledgers[id]!
        for stored in host.checkpoints.reversed() {
            guard stored.intact else {
                trace.note(now, "\(id): checkpoint at seq \(stored.position.seq) damaged; trying an older one")
                continue
            }
            let ledger: Ledger
            do {
                ledger = try stored.bytes.withUnsafeBytes { file in
                    let (_, body) = try CheckpointFile.verify(file, path: "simulated checkpoint")
                    return try Ledger(checkpoint: body)
                }
            } catch {
                fail("\(id): a checkpoint written whole does not load: \(error)")
                return nil
            }
            if host.journal.hash(at: stored.position.seq) != stored.position.hash {
                trace.note(now, "\(id): the journal does not hold the newest checkpoint \(stored.position); it restarts after it")
                stats.faults["journal reset at restart", default: 0] += 1
                resetJournal(host, after: stored.position, state: ledger)
            }
            return ledger
        }
        if host.journal.floorSeq > 0 { fail("\(id): no usable checkpoint, and the journal starts after seq \(host.journal.floorSeq)") }
        return nil
    }

    /// The journal restarts after `position`, whose state is `state`: the node's whole history is now that state
    /// and what follows it.
    func resetJournal(_ host: LedgerHost, after position: CheckpointFile.Position, state: Ledger) {
        host.archive.removeAll() // the history it replaces (the leader keeps its own)
        host.historyBase = (position, state)
        host.journal.reset(afterSeq: position.seq, epoch: position.epoch, hash: position.hash)
    }

    /// The node's state computed from its whole history — the installed checkpoint it started from, if any, and
    /// every record since, below the floor or not — with no checkpoint of its own: what every restore must equal.
    func replayWholeHistory(_ host: LedgerHost) -> Ledger {
        let history = MemoryJournal()
        if let (position, _) = host.historyBase {
            history.reset(afterSeq: position.seq, epoch: position.epoch, hash: position.hash)
        }
        history.append(host.archive + host.journal.records)
        history.sync()
        return LedgerRecovery.restore(checkpoint: host.historyBase?.state, journal: history,
                                      commitFloor: history.lastSeq,
                                      forgettingRequestIDs: ledgerSettings.injectedBugs.contains(.forgetIdempotency))
    }

    /// A piece of the leader's checkpoint arrives in the staging file.
    func stage(_ id: NodeID, _ chunk: CheckpointChunk) {
        let host = ledgers[id]!
        if chunk.offset == 0 { host.staged = [] }
        guard chunk.offset == UInt64(host.staged.count) else {
            fail("\(id) staged a checkpoint piece at \(chunk.offset) after \(host.staged.count) bytes")
            return
        }
        host.staged += chunk.bytes
    }

    /// The install the node asked for: verify, make it the newest checkpoint (the others go) and the commit floor;
    /// then — unless a crash strikes right there — load it, reset the journal to continue it, and tell the node.
    func finishInstall(_ id: NodeID, _ position: CheckpointFile.Position) {
        let host = ledgers[id]!
        let loaded: Ledger? = try? host.staged.withUnsafeBytes { file in
            let (found, body) = try CheckpointFile.verify(file, path: "staged checkpoint")
            guard found == position else { return nil }
            return try Ledger(checkpoint: body)
        }
        guard let loaded, !random.chance(1, in: 20) else {
            stats.faults["checkpoint install failed", default: 0] += 1
            stepLedger(id, .checkpointInstallFailed(seq: position.seq))
            return
        }
        stats.checkpointInstalls += 1
        host.checkpoints = [StoredCheckpoint(position: position, bytes: host.staged, intact: true)]
        host.staged = []
        host.commitFloor = max(host.commitFloor, position.seq)
        if random.chance(1, in: 8) {
            stats.faults["crash during checkpoint install", default: 0] += 1
            trace.note(now, "CRASH \(id) between installing checkpoint \(position.seq) and resetting its journal")
            crash(id)
            schedule(random.between(20_000_000, 300_000_000), .restart(id))
            return
        }
        resetJournal(host, after: position, state: loaded)
        stepLedger(id, .checkpointInstalled(CheckpointImage(position: position, ledger: loaded)))
    }
}

/// The simulated disk's checkpoint files, as the node reads them to send one to a follower.
final class SimulatedCheckpointReader: CheckpointReading {
    unowned let host: Simulator.LedgerHost

    init(host: Simulator.LedgerHost) { self.host = host }

    func checkpointBytes(seq: UInt64, offset: UInt64, maxBytes: Int) -> (totalBytes: UInt64, bytes: [UInt8])? {
        guard let stored = host.checkpoints.last(where: { $0.position.seq == seq }), stored.intact,
              offset < UInt64(stored.bytes.count) else { return nil }
        let end = min(stored.bytes.count, Int(offset) + max(1, maxBytes))
        return (UInt64(stored.bytes.count), Array(stored.bytes[Int(offset)..<end]))
    }
}
