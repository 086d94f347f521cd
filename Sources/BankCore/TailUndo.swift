import DequeModule

/// Undo logs of the newest entries, so that a replica can drop entries that were never committed by rolling them
/// back, instead of rebuilding its whole state from the journal.
///
/// Why: a follower whose journal ran ahead of a new leader's (or a restarted old leader) must cut its uncommitted
/// tail. Rebuilding from the journal costs seconds with a million records and stalls catch-up; the tail is short
/// (what was in flight when the old leader died), so rolling back costs microseconds. The cluster forgets the logs
/// of committed entries (`forgetUndo(through:)`): committed entries are never cut.
struct EntryUndo {
    var seq: Seq
    var log: UndoLog
}

extension Ledger {
    /// Whether entries from now on keep an undo log (the replication layer turns this on).
    public var keepsUndo: Bool {
        get { undoTail != nil }
        set {
            if newValue, undoTail == nil { undoTail = Deque() }
            if !newValue { undoTail = nil }
        }
    }

    /// The entries that can be rolled back: none when `keepsUndo` is off.
    public var undoableEntryCount: Int { undoTail?.count ?? 0 }

    /// Entries at or below `seq` are committed and will never be cut: drops their undo logs.
    public mutating func forgetUndo(through seq: Seq) {
        guard undoTail != nil else { return }
        while let first = undoTail!.first, first.seq <= seq {
            undoTail!.removeFirst()
        }
    }

    /// Whether `rollBack(to:)` can reach `seq`: every entry after it still has its undo log.
    public func canRollBack(to seq: Seq) -> Bool {
        if seq >= lastAppliedSeq { return true }
        guard let tail = undoTail, let first = tail.first else { return false }
        return first.seq <= seq + 1
    }

    /// Undoes every entry after `seq`, newest first, leaving the state exactly as applying the journal up to
    /// `seq` would have.
    public mutating func rollBack(to seq: Seq) {
        invariant(canRollBack(to: seq), "cannot roll back to \(seq): undo logs start later")
        while let last = undoTail?.last, last.seq > seq {
            undoTail!.removeLast()
            rollBack(last.log)
        }
        lastAppliedSeq = min(lastAppliedSeq, seq)
    }

    /// Called when an entry has been applied at `seq` with `log` recording its changes.
    mutating func keepUndo(_ log: UndoLog?, seq: Seq) {
        guard undoTail != nil, let log else { return }
        invariant(undoTail!.last.map { $0.seq < seq } ?? true, "undo logs out of order at \(seq)")
        undoTail!.append(EntryUndo(seq: seq, log: log))
    }
}
