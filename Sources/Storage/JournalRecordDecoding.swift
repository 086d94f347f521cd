extension JournalRecord {
    /// What `decode` found at the start of a buffer.
    public enum DecodeResult: Hashable, Sendable {
        /// A whole record, and how many bytes it took.
        case record(JournalRecord, byteCount: Int)
        /// The buffer ends before the record does: read more, or — at the end of a file — a torn write.
        case incomplete
        /// These bytes are not a valid record (bad magic, impossible length, hash mismatch).
        case corrupt(String)
    }

    /// Decodes the record at the start of `bytes`. With `verify`, recomputes the hash and reports a mismatch as
    /// `.corrupt`; skip it only for bytes that were verified before (the journal's own file after `open`).
    /// Never traps on bad bytes.
    public static func decode(_ bytes: UnsafeRawBufferPointer, verify: Bool = true) -> DecodeResult {
        switch RecordFrame.parse(bytes, verify: verify) {
        case let .frame(frame):
            return .record(frame.record(in: bytes), byteCount: frame.byteCount)
        case .incomplete:
            return .incomplete
        case let .corrupt(reason):
            return .corrupt(reason)
        }
    }

    /// Decodes the record at the start of `bytes`; see `decode(_:verify:)` for raw buffers.
    public static func decode(_ bytes: ArraySlice<UInt8>, verify: Bool = true) -> DecodeResult {
        bytes.withUnsafeBytes { decode($0, verify: verify) }
    }

    /// Decodes the record at the start of `bytes`; see `decode(_:verify:)` for raw buffers.
    public static func decode(_ bytes: [UInt8], verify: Bool = true) -> DecodeResult {
        bytes.withUnsafeBytes { decode($0, verify: verify) }
    }
}
