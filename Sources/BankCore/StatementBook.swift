/// Every customer account's statement lines, in one append-only store in journal order; each line links to the
/// previous line of its account.
///
/// Why not an array per account: with a million movements the per-account arrays scatter over hundreds of
/// megabytes, and every append first misses the cache on its account's array and then copies it when it grows —
/// that made replaying a journal memory-bound (perf: the array header load was half of `transfer`'s own time).
/// Here an append writes at the store's end, where the previous append wrote, and touches the account's two
/// counters. The store grows in fixed chunks, so no append ever copies the whole history.
///
/// A statement page walks an account's lines newest first, as statements are read. Every 256th line of an account
/// is marked (its seq and store index), so a page deep in a long history starts its walk within 256 lines of where
/// it begins instead of walking past every newer line.
///
/// With an archive (Archive.swift), the oldest chunks leave memory once the history store holds their lines: each
/// line has a number within its account (0, 1, …), and the lines numbered below `evictedCount(of:)` are read from
/// the store by number. Marks stay for every line (16 bytes per 256 lines); a mark of an evicted line says where
/// the store's walk starts.
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
        /// The line's number within its account, from 0 (set by `append`): its key in the history store.
        var number: UInt32 = 0
    }

    /// 2^16 lines per chunk; smaller in the simulator, so that chunks leave memory within its short runs.
    private(set) var chunkShift = 16
    private var chunkSize: Int { 1 << chunkShift }
    private var chunks: [[StoredLine]] = []
    /// Chunks that left memory: the store index of the first line in memory is `droppedChunks << chunkShift`.
    private var droppedChunks = 0
    /// Per account slot: the store index of its newest line (-1: none), its line count, and how many of its
    /// oldest lines left memory.
    private var newest: [Int32] = []
    private var counts: [Int32] = []
    private var evicted: [UInt32] = []
    /// Per account slot, oldest first: every `markInterval`-th line (the 0th, 256th, …), by seq and store index.
    private var marks: [[Mark]] = []
    static let markInterval: Int32 = 256

    struct Mark: Sendable {
        var seq: Seq
        var index: Int32
    }
    /// Lines ever appended (store indices run from 0 to here); those below `firstIndexInMemory` left memory.
    private(set) var lineCount = 0

    var accountCount: Int { newest.count }
    var firstIndexInMemory: Int { droppedChunks << chunkShift }
    var linesInMemory: Int { lineCount - firstIndexInMemory }

    mutating func addAccount() {
        newest.append(-1)
        counts.append(0)
        evicted.append(0)
        marks.append([])
    }

    /// Removes the newest account slot, which must have no lines (an undo removes its lines first).
    mutating func removeLastAccount() {
        invariant(counts.last == 0, "removing an account that still has statement lines")
        newest.removeLast()
        counts.removeLast()
        evicted.removeLast()
        marks.removeLast()
    }

    func lineCount(of slot: Int) -> Int { Int(counts[slot]) }
    func evictedCount(of slot: Int) -> Int { Int(evicted[slot]) }

    /// The account's newest line, when it is in memory.
    func newestLine(of slot: Int) -> StoredLine? {
        Int(newest[slot]) < firstIndexInMemory ? nil : line(at: Int(newest[slot]))
    }

    /// Whether the account has lines and its newest one left memory.
    func newestLineLeftMemory(of slot: Int) -> Bool { counts[slot] > 0 && Int(newest[slot]) < firstIndexInMemory }

    mutating func append(_ line: StoredLine, to slot: Int) {
        invariant(lineCount < Int(Int32.max), "statement store full")
        var line = line
        line.previous = newest[slot]
        line.owner = Int32(slot)
        line.number = UInt32(counts[slot])
        if chunks.isEmpty || chunks[chunks.count - 1].count == chunkSize {
            var chunk: [StoredLine] = []
            // The first chunk grows on demand (small ledgers stay small); later ones are sized once.
            if !chunks.isEmpty { chunk.reserveCapacity(chunkSize) }
            chunks.append(chunk)
        }
        chunks[chunks.count - 1].append(line)
        if counts[slot] % Self.markInterval == 0 { marks[slot].append(Mark(seq: line.seq, index: Int32(lineCount))) }
        newest[slot] = Int32(lineCount)
        counts[slot] += 1
        lineCount += 1
    }

    /// Undoes the newest append, which must have been to `slot` (undo runs newest first; undone lines are
    /// uncommitted, so never archived or evicted).
    mutating func removeNewestLine(of slot: Int) {
        invariant(linesInMemory > 0 && Int(newest[slot]) == lineCount - 1, "undoing a statement line out of order")
        let removed = chunks[chunks.count - 1].removeLast()
        if chunks[chunks.count - 1].isEmpty { chunks.removeLast() }
        newest[slot] = removed.previous
        counts[slot] -= 1
        lineCount -= 1
        if counts[slot] % Self.markInterval == 0 {
            invariant(marks[slot].last?.index == Int32(lineCount), "statement marks out of step")
            marks[slot].removeLast()
        }
    }

    /// Every line in memory in store order (journal order), for checkpoints.
    func forEachLine(_ body: (StoredLine) throws -> Void) rethrows {
        for chunk in chunks {
            for line in chunk { try body(line) }
        }
    }

    mutating func reserveAccounts(_ count: Int) {
        newest.reserveCapacity(count)
        counts.reserveCapacity(count)
        evicted.reserveCapacity(count)
    }

    func line(at index: Int) -> StoredLine {
        chunks[(index >> chunkShift) - droppedChunks][index & (chunkSize - 1)]
    }

    // MARK: - Archive

    /// A new chunk size (the simulator's small ones); the lines are laid out again. Only before anything left memory.
    mutating func setChunkShift(_ shift: Int) {
        guard shift != chunkShift else { return }
        invariant(droppedChunks == 0, "changing the chunk size after chunks left memory")
        let lines = chunks.flatMap { $0 }
        chunkShift = shift
        chunks = stride(from: 0, to: lines.count, by: chunkSize).map { Array(lines[$0..<min(lines.count, $0 + chunkSize)]) }
    }

    /// The store index of the first line in memory with a seq above `seq` (`lineCount` when none).
    func firstIndex(after seq: Seq) -> Int {
        var low = firstIndexInMemory, high = lineCount
        while low < high {
            let middle = (low + high) / 2
            if line(at: middle).seq <= seq { low = middle + 1 } else { high = middle }
        }
        return low
    }

    /// Drops the oldest chunks whose lines are all archived (seq ≤ `seq`), keeping at least `keepLines` lines and
    /// always the chunk being appended to. Returns the seq of the newest line dropped (0: none).
    mutating func dropArchivedChunks(through seq: Seq, keepLines: Int) -> Seq {
        var newestDropped: Seq = 0
        while chunks.count > 1, let last = chunks[0].last, last.seq <= seq, linesInMemory - chunks[0].count >= keepLines {
            for line in chunks[0] {
                invariant(evicted[Int(line.owner)] == line.number, "lines leave memory out of order")
                evicted[Int(line.owner)] += 1
            }
            newestDropped = last.seq
            chunks.removeFirst()
            droppedChunks += 1
        }
        return newestDropped
    }

    /// For a checkpoint: the account's evicted line count and the seqs of the marks of its evicted lines.
    func evictedPart(of slot: Int) -> (count: UInt32, markSeqs: [Seq]) {
        (evicted[slot], marks[slot].prefix { Int($0.index) < firstIndexInMemory }.map(\.seq))
    }

    /// The evicted part as a checkpoint that also leaves out the account's `extra` oldest lines in memory records it
    /// (the history store holds them): the count and the seqs of every `markInterval`-th line below it.
    func evictedPart(of slot: Int, plusInMemory extra: UInt32) -> (count: UInt32, markSeqs: [Seq]) {
        guard extra > 0 else { return evictedPart(of: slot) }
        let count = evicted[slot] + extra
        invariant(Int(count) <= Int(counts[slot]), "more lines left out than the account has")
        let markCount = (Int(count) + Int(Self.markInterval) - 1) / Int(Self.markInterval)
        return (count, marks[slot].prefix(markCount).map(\.seq))
    }

    /// Loading a checkpoint: the account's evicted lines, before its lines in memory are appended.
    mutating func restoreEvictedPart(of slot: Int, count: UInt32, markSeqs: [Seq]) {
        invariant(counts[slot] == 0, "evicted lines restored after lines were appended")
        evicted[slot] = count
        counts[slot] = Int32(count)
        marks[slot] = markSeqs.map { Mark(seq: $0, index: -1) }
    }

    // MARK: - Reading

    /// Where an account's newest-first walk starts: the line number and, when that line is in memory, its store
    /// index. With `beforeSeq`, within `markInterval` lines of the newest line below it (older lines are not
    /// skipped: the caller still filters by seq).
    func walkStart(of slot: Int, before beforeSeq: Seq?) -> (number: Int, index: Int?) {
        var number = Int(counts[slot]) - 1
        var index: Int? = Int(newest[slot])
        if let beforeSeq {
            // The first mark at or above `beforeSeq`: every line from it on is too new; the walk starts there.
            let marks = marks[slot]
            var low = 0, high = marks.count
            while low < high {
                let middle = (low + high) / 2
                if marks[middle].seq < beforeSeq { low = middle + 1 } else { high = middle }
            }
            if low < marks.count {
                number = low * Int(Self.markInterval)
                index = Int(marks[low].index)
            }
        }
        if let current = index, current < firstIndexInMemory { index = nil }
        return (number, number < 0 ? nil : index)
    }

    /// The account's lines in memory, newest first, from store index `index` (the line numbered `number`), until
    /// the lines that left memory.
    func linesInMemory(from index: Int?) -> some Sequence<StoredLine> {
        var next = index.map(Int32.init) ?? -1
        let first = firstIndexInMemory
        return AnyIterator<StoredLine> {
            guard next >= 0, Int(next) >= first else { return nil }
            let line = self.line(at: Int(next))
            next = line.previous
            return line
        }.lazy
    }

    /// All the account's lines in memory, newest first (for tests and state comparisons).
    func linesNewestFirst(of slot: Int) -> some Sequence<StoredLine> {
        linesInMemory(from: Int(newest[slot]) >= firstIndexInMemory ? Int(newest[slot]) : nil)
    }
}
