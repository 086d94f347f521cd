import DequeModule

/// A first-in first-out list stored in chunks of `chunkSize` elements, for the ledger's long queues (the archive's
/// receipts in seq order): a copy on write copies the chunk written to, not the queue.
///
/// Why: a checkpoint's image shares the live ledger's storage, and a `Deque` of 300,000 receipts was copied whole
/// — tens of megabytes, a retain per element — by the first append after each checkpoint was asked for, in one turn
/// of the ledger's loop. Here that append copies the chunk list (a pointer per 4,096 elements) and one chunk.
/// Removing from the front drops whole chunks; the elements before `head` in the first chunk are already removed.
struct ChunkedQueue<Element>: RandomAccessCollection {
    static var chunkSize: Int { 4096 }
    private var chunks = Deque<[Element]>()
    /// Elements of the first chunk that were removed (still stored until the chunk goes).
    private var head = 0
    private(set) var count = 0

    init() {}

    init(_ elements: some Sequence<Element>) {
        for element in elements { append(element) }
    }

    var startIndex: Int { 0 }
    var endIndex: Int { count }

    subscript(position: Int) -> Element {
        precondition(position >= 0 && position < count, "index out of range")
        let index = position + head
        return chunks[index / Self.chunkSize][index % Self.chunkSize]
    }

    mutating func append(_ element: Element) {
        if chunks.isEmpty || chunks[chunks.count - 1].count == Self.chunkSize {
            var chunk: [Element] = []
            chunk.reserveCapacity(Self.chunkSize)
            chunks.append(chunk)
        }
        chunks[chunks.count - 1].append(element)
        count += 1
    }

    @discardableResult
    mutating func removeLast() -> Element {
        precondition(count > 0, "removeLast from an empty queue")
        let element = chunks[chunks.count - 1].removeLast()
        count -= 1
        if chunks[chunks.count - 1].count == (chunks.count == 1 ? head : 0) {
            chunks.removeLast()
            if chunks.isEmpty { head = 0 }
        }
        return element
    }

    @discardableResult
    mutating func removeFirst() -> Element {
        let element = self[0]
        removeFirst(1)
        return element
    }

    mutating func removeFirst(_ n: Int) {
        precondition(n >= 0 && n <= count, "cannot remove \(n) of \(count) elements")
        guard n > 0 else { return }
        count -= n
        head += n
        // Every chunk but the last is full, so a first chunk wholly removed is followed by the rest (or, when it
        // was the only one, the queue is empty).
        while let first = chunks.first, head >= first.count {
            head -= first.count
            chunks.removeFirst()
        }
        invariant(!chunks.isEmpty || (head == 0 && count == 0), "chunked queue out of step")
    }
}

extension ChunkedQueue: Sendable where Element: Sendable {}
