/// The history store's keys and values: how an archived receipt or closed hold is written as bytes.
///
/// ```
/// key      = "r" request id (UTF-8)  |  "h" hold id (UTF-8)
/// receipt  = version:u8 (= 1) | clientKey:optional key | operation (as in a journal entry) | seq:u64 | account:str
///            | balance:i64 | available:i64 | held:i64 | frozen:u8 | captured:optional i64 | released:optional i64
/// hold     = version:u8 (= 1) | account:str | amount:i64 | closedSeq:u64
/// ```
/// The client key is reserved for authenticated clients (their receipts will be answered only to them); none yet.
public enum ArchiveCodec {
    static let version: UInt8 = 1
    public static let receiptPrefix = UInt8(ascii: "r")
    public static let holdPrefix = UInt8(ascii: "h")

    public static func key(for id: RequestID) -> [UInt8] { [receiptPrefix] + Array(id.rawValue.utf8) }
    public static func key(for id: HoldID) -> [UInt8] { [holdPrefix] + Array(id.rawValue.utf8) }

    /// Whether a key names a receipt or a hold (the store keeps its watermark under another key).
    public static func isItemKey(_ key: [UInt8]) -> Bool {
        key.count >= 2 && (key[0] == receiptPrefix || key[0] == holdPrefix)
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
