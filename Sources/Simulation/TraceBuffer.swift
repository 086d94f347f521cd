import Cluster

/// The last events of a run, kept cheaply and described only when a run fails (or as they happen, verbosely).
struct TraceBuffer {
    enum Item {
        case ledger(NodeID, LedgerEvent)
        case gateway(GatewayEvent)
        case note(String)
    }

    var verbose = false
    private var items: [(UInt64, Item)] = []
    private var next = 0
    static let capacity = 80

    mutating func record(_ time: UInt64, _ node: NodeID, _ event: LedgerEvent) {
        if case .tick = event { return }
        add(time, .ledger(node, event))
    }

    mutating func record(_ time: UInt64, _ event: GatewayEvent) {
        if case .tick = event { return }
        add(time, .gateway(event))
    }

    mutating func note(_ time: UInt64, _ text: String) { add(time, .note(text)) }

    private mutating func add(_ time: UInt64, _ item: Item) {
        if verbose { print(Self.describe(time, item)) }
        if items.count < Self.capacity { items.append((time, item)) } else { items[next] = (time, item) }
        next = (next + 1) % Self.capacity
    }

    func lines() -> [String] {
        let ordered = items.count < Self.capacity ? items : Array(items[next...] + items[..<next])
        return ordered.map { Self.describe($0.0, $0.1) }
    }

    static func describe(_ time: UInt64, _ item: Item) -> String {
        let stamp = "\(time / 1_000_000).\(String(format3(time / 1_000 % 1_000)))ms"
        switch item {
        case let .note(text): return "\(stamp) ** \(text)"
        case let .ledger(node, event): return "\(stamp) \(node) ← \(describe(event))"
        case let .gateway(event):
            switch event {
            case let .clientRequest(envelope, frames):
                return "\(stamp) gateway ← client\(envelope.identity.first ?? 0): \(String(decoding: frames.first ?? [], as: UTF8.self).prefix(120))"
            case let .received(from, message): return "\(stamp) gateway ← \(from): \(describe(message))"
            case .tick: return "\(stamp) gateway tick"
            }
        }
    }

    static func describe(_ event: LedgerEvent) -> String {
        switch event {
        case let .received(from, message): return "\(from): \(describe(message))"
        case let .persisted(through): return "persisted through \(through)"
        case .tick: return "tick"
        case .turn: return "turn"
        case let .checkpointWritten(seq): return "checkpoint at \(seq) written"
        case let .checkpointFailed(seq): return "checkpoint at \(seq) failed"
        case let .checkpointInstalled(image): return "checkpoint at \(image.position.seq) installed"
        case let .checkpointInstallFailed(seq): return "checkpoint install at \(seq) failed"
        case .storageFailed: return "STORAGE FAILED"
        case let .archived(through): return "archived through \(through)"
        case let .historyImported(watermark): return "history piece stored" + (watermark.map { ", copy complete through \($0)" } ?? "")
        }
    }

    static func describe(_ message: PeerMessage) -> String {
        switch message {
        case let .heartbeat(config): return "heartbeat [\(config)]"
        case let .report(r):
            return "report \(r.node) epoch \(r.epoch) \(r.role) last \(r.lastSeq)/e\(r.lastEpoch) commit \(r.commitSeq)"
                + (r.peerInSync ? " peer-in-sync" : "") + (r.peerStalled ? " peer-stalled" : "")
        case let .forward(epoch, token, body, _):
            return "forward e\(epoch) #\(token) \(String(decoding: body, as: UTF8.self).prefix(100))"
        case let .reply(epoch, token, body):
            return "reply e\(epoch) #\(token) \(String(decoding: body, as: UTF8.self).prefix(100))"
        case let .redirect(epoch, token): return "redirect e\(epoch) #\(token)"
        case let .append(a):
            return "append e\(a.epoch) prev \(a.prevSeq) commit \(a.commitSeq) leaderLast \(a.leaderLastSeq) records \(a.records.first?.seq ?? 0)…\(a.records.last?.seq ?? 0)"
        case let .appendAck(ack):
            return "ack e\(ack.epoch) \(ack.success ? "ok" : "NO") match \(ack.matchSeq) last \(ack.lastSeq)"
        case let .checkpointChunk(chunk):
            return "checkpoint e\(chunk.epoch) at \(chunk.position.seq) bytes \(chunk.offset)+\(chunk.bytes.count)/\(chunk.totalBytes)"
        case let .checkpointAck(ack):
            return "checkpoint ack e\(ack.epoch) at \(ack.seq) received \(ack.receivedBytes)"
        case let .historyRequest(request):
            return "history request e\(request.epoch) for \(request.pieces) after \(String(decoding: request.afterKey, as: UTF8.self))"
        case let .historyChunk(chunk):
            return "history e\(chunk.epoch) after \(String(decoding: chunk.afterKey, as: UTF8.self)): \(chunk.items.count) items"
                + " watermark \(chunk.watermark)" + (chunk.complete ? " complete" : "")
        }
    }

    private static func format3(_ value: UInt64) -> String {
        let text = String(value)
        return String(repeating: "0", count: max(0, 3 - text.count)) + text
    }
}
