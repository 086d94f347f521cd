/// Every customer account's statement lines, in one append-only store in journal order; each line links to the
/// previous line of its account.
///
/// Why not an array per account: with a million movements the per-account arrays scatter over hundreds of
/// megabytes, and every append first misses the cache on its account's array and then copies it when it grows —
/// that made replaying a journal memory-bound (perf: the array header load was half of `transfer`'s own time).
/// Here an append writes at the store's end, where the previous append wrote, and touches the account's two
/// counters. The store grows in fixed chunks, so no append ever copies the whole history.
///
/// A statement page walks an account's lines newest first, as statements are read.
struct StatementBook: Sendable {
    /// One line, as stored: the counterparty as its slot; the account's previous line as a store index (-1: none).
    struct StoredLine: Sendable {
        var seq: Seq
        var amountMinor: Int64
        var balanceAfterMinor: Int64
        var timeMillis: Int64
        var requestID: RequestID
        var reference: String?
        var counterpartySlot: Int32
        var previous: Int32
        var kind: EntryKind
        /// The account slot the line belongs to (set by `append`); fits the padding, and lets a checkpoint write
        /// the store in its own order.
        var owner: Int32 = -1
    }

    private static let chunkShift = 16
    private static let chunkSize = 1 << chunkShift
    private var chunks: [[StoredLine]] = []
    /// Per account slot: the store index of its newest line (-1: none), and its line count.
    private var newest: [Int32] = []
    private var counts: [Int32] = []
    /// Lines in the store.
    private(set) var lineCount = 0

    var accountCount: Int { newest.count }

    mutating func addAccount() {
        newest.append(-1)
        counts.append(0)
    }

    /// Removes the newest account slot, which must have no lines (an undo removes its lines first).
    mutating func removeLastAccount() {
        invariant(counts.last == 0, "removing an account that still has statement lines")
        newest.removeLast()
        counts.removeLast()
    }

    func lineCount(of slot: Int) -> Int { Int(counts[slot]) }

    func newestLine(of slot: Int) -> StoredLine? {
        newest[slot] < 0 ? nil : line(at: Int(newest[slot]))
    }

    mutating func append(_ line: StoredLine, to slot: Int) {
        invariant(lineCount < Int(Int32.max), "statement store full")
        var line = line
        line.previous = newest[slot]
        line.owner = Int32(slot)
        if chunks.isEmpty || chunks[chunks.count - 1].count == Self.chunkSize {
            var chunk: [StoredLine] = []
            // The first chunk grows on demand (small ledgers stay small); later ones are sized once.
            if !chunks.isEmpty { chunk.reserveCapacity(Self.chunkSize) }
            chunks.append(chunk)
        }
        chunks[chunks.count - 1].append(line)
        newest[slot] = Int32(lineCount)
        counts[slot] += 1
        lineCount += 1
    }

    /// Undoes the newest append, which must have been to `slot` (undo runs newest first).
    mutating func removeNewestLine(of slot: Int) {
        invariant(lineCount > 0 && Int(newest[slot]) == lineCount - 1, "undoing a statement line out of order")
        let removed = chunks[chunks.count - 1].removeLast()
        if chunks[chunks.count - 1].isEmpty { chunks.removeLast() }
        newest[slot] = removed.previous
        counts[slot] -= 1
        lineCount -= 1
    }

    /// Every line in store order (journal order), for checkpoints.
    func forEachLine(_ body: (StoredLine) throws -> Void) rethrows {
        for chunk in chunks {
            for line in chunk { try body(line) }
        }
    }

    mutating func reserveAccounts(_ count: Int) {
        newest.reserveCapacity(count)
        counts.reserveCapacity(count)
    }

    func line(at index: Int) -> StoredLine {
        chunks[index >> Self.chunkShift][index & (Self.chunkSize - 1)]
    }

    /// The account's lines, newest first.
    func linesNewestFirst(of slot: Int) -> some Sequence<StoredLine> {
        var next = newest[slot]
        return AnyIterator<StoredLine> {
            guard next >= 0 else { return nil }
            let line = self.line(at: Int(next))
            next = line.previous
            return line
        }.lazy
    }
}
