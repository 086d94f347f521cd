/// The journal's content is wrong in a way that cannot be a torn last write.
public enum JournalError: Error, Hashable, Sendable, CustomStringConvertible {
    /// A bad record with a valid record after it, or a chain break between two valid records, at byte `offset`
    /// where the record with seq `seq` should start.
    ///
    /// Recovery may only cut off the unsynced tail of the file. A damaged record followed by valid ones means data
    /// that was synced — acknowledged to clients — is damaged; cutting there would silently drop acknowledged money
    /// movements, and keeping the records would replay wrong balances. So the node refuses to start.
    case corrupted(path: String, offset: UInt64, seq: UInt64, reason: String)

    public var description: String {
        switch self {
        case let .corrupted(path, offset, seq, reason):
            return "journal \(path) is corrupted at byte offset \(offset), where record seq \(seq) should start: "
                + "\(reason). This is not a torn last write (valid data follows the damage), so records that were "
                + "synced and acknowledged are damaged. The node refuses to start rather than serve wrong balances. "
                + "To recover: move this node's data directory aside (keep it for investigation) and restart the node "
                + "empty so that it copies the journal from its healthy peer, or restore the directory from a backup."
        }
    }
}
