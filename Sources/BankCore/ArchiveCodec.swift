/// The history store's keys and values: how an archived receipt or closed hold is written as bytes.
///
/// ```
/// key      = "r" request id (UTF-8)  |  "h" hold id (UTF-8)
/// receipt  = version:u8 (= 1) | clientKey:optional key | operation (as in a journal entry) | seq:u64 | account:str
///            | balance:i64 | available:i64 | held:i64 | frozen:u8 | captured:optional i64 | released:optional i64
/// hold     = version:u8 (= 1) | account:str | amount:i64 | closedSeq:u64
/// key      = "l" slot:u32 number:u32 (big-endian, so an account's lines sort by number)
/// line     = version:u8 (= 1) | seq:u64 | amount:i64 | balanceAfter:i64 | time:i64 | requestID:str
///            | reference:optional str | counterparty slot:u32 | kind:u8
/// ```
/// Slots are the same on every replica (the journal fixes the order accounts are opened in), so a follower can
/// copy the leader's lines as they are.
/// The client key is reserved for authenticated clients (their receipts will be answered only to them); none yet.
public enum ArchiveCodec {
    static let version: UInt8 = 1
    public static let receiptPrefix = UInt8(ascii: "r")
    public static let holdPrefix = UInt8(ascii: "h")
    public static let linePrefix = UInt8(ascii: "l")

    public static func key(for id: RequestID) -> [UInt8] { [receiptPrefix] + Array(id.rawValue.utf8) }
    public static func key(for id: HoldID) -> [UInt8] { [holdPrefix] + Array(id.rawValue.utf8) }

    public static func key(forLineOf slot: UInt32, number: UInt32) -> [UInt8] {
        var key: [UInt8] = [linePrefix]
        key.reserveCapacity(9)
        withUnsafeBytes(of: slot.bigEndian) { key.append(contentsOf: $0) }
        withUnsafeBytes(of: number.bigEndian) { key.append(contentsOf: $0) }
        return key
    }

    /// The slot and number a line key names, or nil.
    public static func lineKey(_ key: [UInt8]) -> (slot: UInt32, number: UInt32)? {
        guard key.count == 9, key[0] == linePrefix else { return nil }
        let slot = key[1..<5].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        let number = key[5..<9].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        return (slot, number)
    }

    /// Whether a key names a receipt, a hold or a line (the store keeps its watermark under another key).
    public static func isItemKey(_ key: [UInt8]) -> Bool {
        key.count >= 2 && (key[0] == receiptPrefix || key[0] == holdPrefix || key[0] == linePrefix)
    }

    public static func encode(_ line: ArchivedLine) -> [UInt8] {
        var out = GrowingByteSink(capacity: 80)
        out.put(version)
        out.put(line.seq)
        out.put(line.amountMinor)
        out.put(line.balanceAfterMinor)
        out.put(line.timeMillis)
        out.put(line.requestID.rawValue)
        out.put(optional: line.reference)
        out.put(line.counterpartySlot)
        out.put(line.kind.checkpointCode)
        return out.bytes
    }

    public static func decodeLine(_ bytes: [UInt8], key: [UInt8]) throws(EntryDecodingError) -> ArchivedLine {
        guard let (slot, number) = lineKey(key) else { throw EntryDecodingError(reason: "not a line key") }
        return try bytes.withUnsafeBufferPointer { buffer throws(EntryDecodingError) in
            var reader = EntryReader(bytes: buffer)
            guard try reader.byte() == version else { throw EntryDecodingError(reason: "unknown archived line version") }
            let seq = try reader.u64()
            let amount = Int64(bitPattern: try reader.u64())
            let balanceAfter = Int64(bitPattern: try reader.u64())
            let time = Int64(bitPattern: try reader.u64())
            guard let requestID = RequestID(try reader.string()) else { throw EntryDecodingError(reason: "bad request id") }
            let reference = try reader.flag() ? try reader.string() : nil
            let counterparty = try reader.u32()
            guard let kind = EntryKind(checkpointCode: try reader.byte()) else {
                throw EntryDecodingError(reason: "bad line kind")
            }
            guard reader.remaining == 0 else { throw EntryDecodingError(reason: "trailing bytes in an archived line") }
            return ArchivedLine(slot: slot, number: number, seq: seq, amountMinor: amount, balanceAfterMinor: balanceAfter,
                                timeMillis: time, requestID: requestID, reference: reference,
                                counterpartySlot: counterparty, kind: kind)
        }
    }

    public static func encode(_ archived: ArchivedReceipt) -> [UInt8] {
        var out = GrowingByteSink(capacity: 96)
        let receipt = archived.receipt
        out.put(version)
        out.put(optional: nil as ClientKey?)
        out.put(archived.operation)
        out.put(receipt.seq)
        out.put(receipt.account.rawValue)
        out.put(receipt.balanceMinor)
        out.put(receipt.availableMinor)
        out.put(receipt.heldMinor)
        out.put(UInt8(receipt.frozen ? 1 : 0))
        out.put(optional: receipt.capturedMinor)
        out.put(optional: receipt.releasedMinor)
        return out.bytes
    }

    public static func decodeReceipt(_ bytes: [UInt8], requestID: RequestID) throws(EntryDecodingError) -> ArchivedReceipt {
        try bytes.withUnsafeBufferPointer { buffer throws(EntryDecodingError) in
            var reader = EntryReader(bytes: buffer)
            guard try reader.byte() == version else { throw EntryDecodingError(reason: "unknown archived receipt version") }
            if try reader.flag() { _ = try reader.clientKey() }
            let operation = try reader.operation()
            let seq = try reader.u64()
            let account = try reader.account()
            let balance = Int64(bitPattern: try reader.u64())
            let available = Int64(bitPattern: try reader.u64())
            let held = Int64(bitPattern: try reader.u64())
            let frozen = try reader.flag()
            let captured = try reader.flag() ? Int64(bitPattern: try reader.u64()) : nil
            let released = try reader.flag() ? Int64(bitPattern: try reader.u64()) : nil
            guard reader.remaining == 0 else { throw EntryDecodingError(reason: "trailing bytes in an archived receipt") }
            var holdID: HoldID?
            switch operation {
            case let .hold(_, _, hold), let .capture(hold, _), let .release(hold): holdID = hold
            default: break
            }
            let receipt = Receipt(seq: seq, requestID: requestID, account: account, balanceMinor: balance,
                                  availableMinor: available, heldMinor: held, frozen: frozen, holdID: holdID,
                                  capturedMinor: captured, releasedMinor: released)
            return ArchivedReceipt(operation: operation, receipt: receipt)
        }
    }

    public static func encode(_ hold: ArchivedHold) -> [UInt8] {
        var out = GrowingByteSink(capacity: 48)
        out.put(version)
        out.put(hold.account.rawValue)
        out.put(hold.amountMinor)
        out.put(hold.closedSeq)
        return out.bytes
    }

    public static func decodeHold(_ bytes: [UInt8], id: HoldID) throws(EntryDecodingError) -> ArchivedHold {
        try bytes.withUnsafeBufferPointer { buffer throws(EntryDecodingError) in
            var reader = EntryReader(bytes: buffer)
            guard try reader.byte() == version else { throw EntryDecodingError(reason: "unknown archived hold version") }
            let account = try reader.account()
            let amount = try reader.amount()
            let closedSeq = try reader.u64()
            guard reader.remaining == 0 else { throw EntryDecodingError(reason: "trailing bytes in an archived hold") }
            return ArchivedHold(id: id, account: account, amountMinor: amount, closedSeq: closedSeq)
        }
    }
}

extension ByteSink {
    mutating func put(optional value: Int64?) {
        if let value {
            put(UInt8(1))
            put(value)
        } else {
            put(UInt8(0))
        }
    }
}
