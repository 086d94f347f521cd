/// The start-up check of a journal segment's records: verifies every record (its own hash, consecutive seqs, the
/// hash chain, epochs never decreasing) from the position the segment starts after, and builds the index, then
/// classifies whatever stops the scan.
///
/// The classification is what keeps recovery both available and safe:
/// - A bad or incomplete record with nothing valid after it is a torn write — the last write before a crash, never
///   synced, so never acknowledged. Cutting it off loses nothing anyone was promised.
/// - A bad record with any self-verifying record somewhere after it cannot be a torn tail: bytes that were synced
///   are damaged. So is a chain break between two self-verifying records. Both are corruption.
struct JournalScan {
    /// The position the scanned bytes continue: the record before their first one.
    let baseSeq: UInt64
    let baseHash: RecordHash
    let baseEpoch: UInt64
    /// `offsets[i]`, `epochs[i]`, `hashes[i]`: where the record with seq `baseSeq + i + 1` starts (counted from
    /// the start of the scanned bytes), its epoch, its hash.
    var offsets: [UInt64] = []
    var epochs: [UInt64] = []
    var hashes: [RecordHash] = []
    /// The bytes covered by valid records: the file's size once a torn tail is cut off.
    var validByteCount = 0
    var outcome = Outcome.clean

    enum Outcome: Hashable {
        case clean
        case tornTail(reason: String)
        case corrupted(offset: Int, seq: UInt64, reason: String)
    }

    init(scanning bytes: UnsafeRawBufferPointer, after baseSeq: UInt64 = 0, hash baseHash: RecordHash = .zero,
         epoch baseEpoch: UInt64 = 0) {
        self.baseSeq = baseSeq
        self.baseHash = baseHash
        self.baseEpoch = baseEpoch
        var offset = 0
        var damage: String?
        scanning: while offset < bytes.count {
            let rest = UnsafeRawBufferPointer(rebasing: bytes[offset...])
            switch RecordFrame.parse(rest, verify: true) {
            case let .frame(frame):
                if let reason = chainBreak(frame) {
                    validByteCount = offset
                    outcome = .corrupted(offset: offset, seq: nextSeq, reason: reason)
                    return
                }
                offsets.append(UInt64(offset))
                epochs.append(frame.epoch)
                hashes.append(frame.hash)
                offset += frame.byteCount
            case .incomplete:
                damage = "incomplete record (the file ends \(rest.count) bytes into it)"
                break scanning
            case let .corrupt(reason):
                damage = reason
                break scanning
            }
        }
        validByteCount = offset
        guard let damage else { return }
        if let (laterOffset, laterFrame) = Self.firstValidRecord(in: bytes, after: offset) {
            outcome = .corrupted(offset: offset, seq: nextSeq, reason: "\(damage); yet a valid record (seq "
                + "\(laterFrame.seq), epoch \(laterFrame.epoch)) follows at byte offset \(laterOffset)")
        } else {
            outcome = .tornTail(reason: damage)
        }
    }

    var nextSeq: UInt64 { baseSeq + UInt64(offsets.count) + 1 }
    var lastHash: RecordHash { hashes.last ?? baseHash }
    var lastEpoch: UInt64 { epochs.last ?? baseEpoch }

    /// Why `frame`, self-valid, cannot follow the records scanned so far; nil if it can.
    private func chainBreak(_ frame: RecordFrame) -> String? {
        let previousSeq = nextSeq - 1
        if frame.seq != nextSeq {
            return "chain break: a valid record claims seq \(frame.seq) where seq \(nextSeq) belongs"
        }
        let previousHash = lastHash
        if frame.prevHash != previousHash {
            return "chain break: record seq \(frame.seq) names prevHash \(frame.prevHash), but seq \(previousSeq) "
                + "has hash \(previousHash)"
        }
        let previousEpoch = lastEpoch
        if frame.epoch < previousEpoch {
            return "chain break: record seq \(frame.seq) has epoch \(frame.epoch), below epoch \(previousEpoch) of "
                + "seq \(previousSeq)"
        }
        return nil
    }

    /// The first self-verifying record starting after `offset`, searching byte by byte for the magic. Runs only
    /// when something is already wrong, so its cost (a pass over the rest of the file) does not matter.
    static func firstValidRecord(in bytes: UnsafeRawBufferPointer, after offset: Int) -> (Int, RecordFrame)? {
        let magic = JournalRecord.magic.littleEndian
        var candidate = offset + 1
        while candidate + JournalRecord.overheadByteCount <= bytes.count {
            if bytes.loadUnaligned(fromByteOffset: candidate, as: UInt32.self) == magic,
               case let .frame(frame) = RecordFrame.parse(UnsafeRawBufferPointer(rebasing: bytes[candidate...]),
                                                          verify: true) {
                return (candidate, frame)
            }
            candidate += 1
        }
        return nil
    }
}
