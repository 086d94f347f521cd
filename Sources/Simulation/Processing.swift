import BankProtocol
import Cluster
import DequeModule

/// What handling a message costs its receiver, in virtual nanoseconds: roughly this machine's figures (a forward
/// is about what the cluster's ~33,000 single transfers per second leave to one request).
enum MessageCosts {
    static let clientRequestAtGateway: UInt64 = 2_000
    static let forwardAtLeader: UInt64 = 30_000
    static let appendBase: UInt64 = 2_000
    static let appendPerRecord: UInt64 = 4_000
    static let otherPeerMessage: UInt64 = 1_000
    /// Data messages handled per loop iteration, at most (the drivers drain a bounded number per iteration).
    static let maxDataPerStep = 256
}

extension Simulator {
    /// A process's messages that arrived while it was busy: control (heartbeats, reports, acknowledgements) and
    /// data (client requests, forwards, replies, appends), and when its current step ends.
    final class Inbox {
        var control = Deque<(Endpoint, Payload)>()
        var data = Deque<(Endpoint, Payload)>()
        var busyUntil: UInt64 = 0
        var processScheduled = false
    }

    func cost(_ payload: Payload) -> UInt64 {
        switch payload {
        case .request: return MessageCosts.clientRequestAtGateway
        case .reply: return 0
        case let .peer(message):
            switch message {
            case .forward: return MessageCosts.forwardAtLeader
            case let .append(append):
                return MessageCosts.appendBase + MessageCosts.appendPerRecord * UInt64(append.records.count)
            default: return MessageCosts.otherPeerMessage
            }
        }
    }

    private func isControl(_ payload: Payload) -> Bool {
        if case let .peer(message) = payload { return message.isControl }
        return false
    }

    /// A message reaches a live process: handled at once if the process is idle, else queued until it is free.
    func arrive(at id: NodeID, from: Endpoint, _ payload: Payload) {
        let inbox = inboxes[id]!
        if !inbox.processScheduled && inbox.busyUntil <= now {
            handleMessage(at: id, from: from, payload)
            inbox.busyUntil = now + cost(payload)
            return
        }
        if options.controlFirst && isControl(payload) {
            inbox.control.append((from, payload))
        } else {
            inbox.data.append((from, payload))
        }
        if !inbox.processScheduled {
            inbox.processScheduled = true
            schedule(inbox.busyUntil > now ? inbox.busyUntil - now : 0, .process(id, incarnation: incarnation(of: id)))
        }
    }

    private func incarnation(of id: NodeID) -> Int {
        id == .gateway ? gatewayIncarnation : ledgers[id]!.incarnation
    }

    /// One loop iteration of a busy process: every queued control message first, then a bounded share of data.
    func process(_ id: NodeID, incarnation: Int, _ event: Event) {
        if id == .gateway {
            guard incarnation == gatewayIncarnation, gateway != nil else { return }
        } else {
            guard let host = ledgers[id], host.incarnation == incarnation, host.node != nil else { return }
            if host.paused { ledgers[id]!.held.append(event); return }
        }
        let inbox = inboxes[id]!
        inbox.processScheduled = false
        var spent: UInt64 = 0
        while let message = inbox.control.popFirst() {
            handleMessage(at: id, from: message.0, message.1)
            spent += cost(message.1)
        }
        var handled = 0
        while handled < MessageCosts.maxDataPerStep, let message = inbox.data.popFirst() {
            handleMessage(at: id, from: message.0, message.1)
            spent += cost(message.1)
            handled += 1
        }
        inbox.busyUntil = now + spent
        if !inbox.control.isEmpty || !inbox.data.isEmpty {
            inbox.processScheduled = true
            schedule(spent, .process(id, incarnation: incarnation))
        }
    }

    // MARK: - Bursts

    /// First client index of the burst connections (their replies are counted, not modelled).
    static let burstClientBase = 100

    /// A fault of load alone: many `balance` requests at once from several connections.
    func burst() {
        stats.faults["burst", default: 0] += 1
        trace.note(now, "BURST \(options.burstRequests) requests over \(options.burstConnections) connections")
        let body = Array(#"{"op":"balance","account":"a0"}"#.utf8)
        for index in 0..<options.burstRequests {
            send(.request(body), from: .client(Self.burstClientBase + index % options.burstConnections),
                 to: .node(.gateway))
        }
    }

    func burstReceive(_ body: [UInt8]) {
        guard let reply = try? JSONValue.parse(body) else {
            fail("a burst connection got an unparsable reply")
            return
        }
        switch reply["error"]?.stringValue {
        case "overloaded"?:
            stats.overloadedReplies += 1
        case "unavailable"?:
            stats.burstUnavailableReplies += 1
            if options.loadOnly { fail("load alone: a burst request was answered unavailable") }
        default:
            break
        }
    }
}
