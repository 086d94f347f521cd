#if canImport(CMalloc)
import CMalloc
#endif

/// Gives freed heap memory back to the system, so that a ledger's resident memory follows what it holds rather
/// than the highest it ever held.
///
/// A checkpoint is written from a copy of the ledger that shares storage with the live one: while it is written,
/// every part the loop changes is copied (the id filter, the newest statement chunk, the receipt tables it touches),
/// and the old parts are freed when the checkpoint is done. glibc would keep those pages: it serves large
/// allocations from `mmap` only below a threshold that it raises to the largest block ever freed (up to 32 MiB), and
/// it returns the middle of its heap only when asked. Measured by `make bench-history`, that made a ledger's
/// `RssAnon` jump at its first checkpoint and creep at each later one.
enum HeapReturn {
    /// Allocations of this size or more come from `mmap` and go back to the system when freed: the large parts of
    /// the state (the id filter, statement chunks, the archive's lists). Not lower: each such allocation costs page
    /// faults on first touch, and a store copy's 1 MiB pieces paid them on every piece at 256 KiB.
    static let mmapThresholdBytes: Int32 = 4 << 20

    /// At process start: a fixed threshold (which also turns glibc's raising of it off).
    static func configure() {
        #if canImport(CMalloc)
        _ = mallopt(M_MMAP_THRESHOLD, mmapThresholdBytes)
        #endif
    }

    /// After a large piece of state was freed (a checkpoint written or installed): free pages inside the heap go
    /// back to the system.
    static func trim() {
        #if canImport(CMalloc)
        _ = malloc_trim(0)
        #endif
    }
}
