import BankCore
import BankProtocol
import DequeModule
import Storage

public enum GatewayEvent: Hashable, Sendable {
    /// A client message: its envelope and the frames after it (a valid request has exactly one).
    case clientRequest(ClientEnvelope, frames: [[UInt8]])
    case received(from: NodeID, PeerMessage)
    case tick
}

public enum GatewayAction: Hashable, Sendable {
    case reply(to: ClientEnvelope, body: [UInt8])
    case send(to: NodeID, PeerMessage)
    /// Write the configuration durably before carrying out any later action.
    case persistConfig(ClusterConfig)
    /// Something an operator wants in the log (elections, failovers).
    case log(String)
}

/// The gateway as a pure state machine: it heartbeats both ledgers, elects the leader, forwards client requests
/// to it and, when the leader is lost, promotes the in-sync follower and sends every unanswered request again.
///
/// Requests wait here while there is no leader; they are re-sent with the same bytes (so the same request id) to
/// the new leader, whose idempotency makes that safe. Replies are taken only from the current leader of the
/// current epoch, so a replaced leader that wakes up can never answer a client.
///
/// Overload: the gateway admits at most `maxInflightRequests` (and `maxInflightBytes`) requests at once, at most
/// `maxInflightRequestsPerClient` per client connection; beyond that a request is answered `overloaded` at once
/// and never forwarded. Admitted requests go to the leader through a window (`maxForwardedRequests`,
/// `maxForwardedBytes` unanswered at the leader); the rest wait here in arrival order. After a failover the
/// backlog goes to the new leader through the same window.
public struct GatewayCore {
    public let settings: GatewaySettings
    /// The ledger pair (the topology's), in order of preference between equal journals.
    public let ledgers: [NodeID]
    public private(set) var config: ClusterConfig
    /// The leader has reported that it leads `config.epoch`.
    public private(set) var leaderConfirmed = false
    /// Elections since start (promotions and re-elections, not the first election).
    public private(set) var leaderChanges = 0

    private var nodes: [NodeID: NodeHealth] = [:]
    private var pending: [UInt64: PendingRequest] = [:]
    /// Tokens of requests not yet forwarded under the current epoch, oldest first.
    private var waiting = Deque<UInt64>()
    /// Bytes of the bodies in `pending`, and its requests per client connection (for admission).
    private var pendingBytes = 0
    private var pendingByClient: [[UInt8]: Int] = [:]
    /// Requests forwarded under the current epoch and not yet answered (the forward window), and their bytes.
    public private(set) var forwardedCount = 0
    public private(set) var forwardedBytes = 0
    /// Requests answered `overloaded` since start.
    public private(set) var overloadedReplies = 0
    /// When the current leader was confirmed (admission is wider until `failoverGraceNanos` after it).
    private var leaderConfirmedNanos: UInt64 = 0
    /// When `bootstrap` last said why it waits (nil: not waiting); said again every 10 s, not on every report.
    private var bootstrapWaitLoggedNanos: UInt64?
    static let bootstrapWaitLogIntervalNanos: UInt64 = .milliseconds(10_000)
    /// When the leader last answered a forwarded request.
    private var lastLeaderReplyNanos: UInt64 = 0
    private var nextToken: UInt64 = 1
    private var lastHeartbeatNanos: UInt64?
    private var switchoverWaiters: [SwitchoverWaiter] = []
    private var actions: [GatewayAction] = []
    /// The requests answered in the last step: what, how, after how long (for the driver's metrics).
    public private(set) var answered: [AnsweredRequest] = []
    private var now = Instant(monotonicNanos: 0, wallMillis: 0)

    /// - Parameter config: the configuration persisted by an earlier run, or `.initial` for a new cluster.
    ///   A new gateway elects only once it has heard both ledgers, so it can pick the most complete journal.
    /// - Parameter ledgers: the two ledgers; by default the local pair.
    /// - Parameter firstToken: where this run's request tokens start. A leader may still hold replies to the
    ///   previous run's tokens (waiting for their commit) and sends them to this gateway under the same epoch; each
    ///   run must start far from the last, or such a reply would answer a new request (the driver draws it at
    ///   random; the simulator from the run's number).
    public init(config: ClusterConfig, ledgers: [NodeID] = NodeID.ledgers, settings: GatewaySettings = GatewaySettings(),
                startedAt: Instant, firstToken: UInt64 = 1) {
        invariant(ledgers.count == 2 && ledgers.allSatisfy(\.isLedger) && ledgers[0] != ledgers[1],
                  "a gateway serves a pair of ledgers")
        self.config = config
        self.ledgers = ledgers
        nextToken = firstToken
        self.settings = settings
        for node in ledgers {
            // Until a failure timeout has passed since start, nobody is presumed dead: no needless failover.
            nodes[node] = NodeHealth(lastHeardNanos: startedAt.monotonicNanos, report: nil)
        }
        now = startedAt
    }

    public var pendingRequestCount: Int { pending.count }

    public mutating func step(_ event: GatewayEvent, now: Instant) -> [GatewayAction] {
        step(CollectionOfOne(event), now: now)
    }

    public mutating func step(_ events: some Sequence<GatewayEvent>, now: Instant) -> [GatewayAction] {
        self.now = now
        answered.removeAll(keepingCapacity: true)
        for event in events {
            handle(event)
        }
        evaluate()
        forwardWaiting()
        assert(windowCountsAreRight(), "forward window or admission counts out of step with the pending table")
        assert(answered.count == actions.count { if case .reply = $0 { true } else { false } },
               "every answer to a client is noted once in `answered`")
        defer { actions.removeAll(keepingCapacity: true) }
        return actions
    }

    /// Answers a client, noting the request's kind, outcome and time at the gateway.
    private mutating func answer(_ envelope: ClientEnvelope, body: [UInt8], kind: RequestKind, receivedNanos: UInt64) {
        actions.append(.reply(to: envelope, body: body))
        answered.append(AnsweredRequest(kind: kind, outcome: ReplyOutcome(reply: body),
                                        latencyNanos: now.nanos(since: receivedNanos)))
    }

    private mutating func handle(_ event: GatewayEvent) {
        switch event {
        case let .clientRequest(envelope, frames):
            receiveClient(envelope, frames: frames)
        case let .received(from: node, message):
            receive(message, from: node)
        case .tick:
            tick()
        }
    }

    // MARK: - Clients

    private mutating func receiveClient(_ envelope: ClientEnvelope, frames: [[UInt8]]) {
        let receivedNanos = now.monotonicNanos
        guard frames.count == 1 else {
            answer(envelope, body: ReplyEncoder.badFrames(count: frames.count), kind: .invalid,
                   receivedNanos: receivedNanos)
            return
        }
        let body = frames[0]
        guard body.count <= ClientLimits.maximumRequestBytes else {
            answer(envelope, body: ReplyEncoder.tooLarge(byteCount: body.count), kind: .invalid,
                   receivedNanos: receivedNanos)
            return
        }
        let kind = envelope.role == nil ? RequestPeek.kind(of: body) : RequestPeek.authoritativeKind(of: body)
        if let role = envelope.role, !role.allows(kind) {
            answer(envelope, body: ReplyEncoder.error(
                code: .forbidden, message: "a client with the \(role.rawValue) role may not send \(kind.rawValue); nothing was applied",
                requestID: RequestPeek.requestID(in: body)), kind: kind, receivedNanos: receivedNanos)
            return
        }
        switch RequestPeek.gatewayOperation(in: body) {
        case .status:
            answer(envelope, body: statusReply(), kind: .status, receivedNanos: receivedNanos)
            return
        case .switchover:
            switchover(for: envelope)
            return
        case nil:
            break
        }
        if let refusal = admissionRefusal(envelope, byteCount: body.count) {
            overloadedReplies += 1
            answer(envelope, body: ReplyEncoder.overloaded(
                refusal + "; the request was not forwarded and nothing was applied",
                retryAfterMilliseconds: settings.overloadRetryAfterMilliseconds,
                requestID: RequestPeek.requestID(in: body)), kind: kind, receivedNanos: receivedNanos)
            return
        }
        let token = nextToken
        nextToken += 1
        pending[token] = PendingRequest(envelope: envelope, body: body, kind: kind, receivedNanos: receivedNanos)
        pendingBytes += body.count
        pendingByClient[envelope.identity, default: 0] += 1
        // Forwarded after the events of this step, in arrival order, as the window allows.
        waiting.append(token)
    }

    /// Whether a leader is serving in the steady state: confirmed for the grace period, and reporting (a leader
    /// that has missed two reports may be dead, its failure not yet declared). Reports travel on the control
    /// connections and are answered first, so a leader that is merely busy, or whose commits wait on a slow
    /// follower, keeps reporting: it is overloaded, and the steady bounds apply.
    private var leaderServesSteadily: Bool {
        guard canForward, let leader = config.leader, let health = nodes[leader] else { return false }
        return now.nanos(since: leaderConfirmedNanos) >= settings.failoverGraceNanos
            && now.nanos(since: health.lastHeardNanos) < 2 * settings.heartbeatIntervalNanos
    }

    /// Why a new request cannot be admitted now, or nil when it can. Unless a leader serves steadily (a failover,
    /// or its grace period) the bounds are `failoverAdmissionFactor` times wider (saturating: a test may set them
    /// to `.max`), so that a failover's backlog is delayed, not refused.
    private func admissionRefusal(_ envelope: ClientEnvelope, byteCount: Int) -> String? {
        let steady = leaderServesSteadily
        let factor = steady ? 1 : max(1, settings.failoverAdmissionFactor)
        func widened(_ bound: Int) -> Int {
            let (product, overflow) = bound.multipliedReportingOverflow(by: factor)
            return overflow ? .max : product
        }
        let maxRequests = widened(settings.maxInflightRequests)
        if pending.count >= maxRequests {
            return "the gateway holds \(pending.count) requests, its limit"
        }
        let maxBytes = widened(settings.maxInflightBytes)
        if !pending.isEmpty, pendingBytes + byteCount > maxBytes {
            return "the gateway holds \(pendingBytes) bytes of requests, its limit is \(maxBytes)"
        }
        let maxPerClient = widened(settings.maxInflightRequestsPerClient)
        if pendingByClient[envelope.identity, default: 0] >= maxPerClient {
            return "this connection has \(maxPerClient) requests in flight, its limit"
        }
        return nil
    }

    /// Removes an answered or expired request, keeping the admission and window counts.
    private mutating func release(_ token: UInt64) -> PendingRequest? {
        guard let request = pending.removeValue(forKey: token) else { return nil }
        pendingBytes -= request.body.count
        let identity = request.envelope.identity
        let remaining = pendingByClient[identity, default: 1] - 1
        pendingByClient[identity] = remaining == 0 ? nil : remaining
        if request.forwardedEpoch != nil {
            forwardedCount -= 1
            forwardedBytes -= request.body.count
        }
        return request
    }

    private var canForward: Bool {
        guard let leader = config.leader else { return false }
        return leaderConfirmed && isAlive(leader)
    }

    private var windowHasRoom: Bool {
        forwardedCount < settings.maxForwardedRequests && forwardedBytes < settings.maxForwardedBytes
    }

    /// Sends a request to the leader: the first time under this epoch (it enters the window), or again.
    private mutating func forward(_ token: UInt64) {
        guard let leader = config.leader, var request = pending[token] else { return }
        if request.forwardedEpoch == nil {
            forwardedCount += 1
            forwardedBytes += request.body.count
        }
        request.forwardedEpoch = config.epoch
        request.sentNanos = now.monotonicNanos
        pending[token] = request
        actions.append(.send(to: leader, .forward(epoch: config.epoch, token: token, body: request.body,
                                                  clientKey: request.envelope.clientKey)))
    }

    /// Forwards waiting requests, oldest first, while there is a confirmed leader and room in the window.
    private mutating func forwardWaiting() {
        guard canForward else { return }
        while windowHasRoom, let token = waiting.popFirst() {
            guard let request = pending[token], request.forwardedEpoch == nil else { continue }
            forward(token)
        }
    }

    /// Debug check: the incremental counts equal what the pending table says.
    private func windowCountsAreRight() -> Bool {
        var forwarded = 0, forwardedBytes = 0, bytes = 0
        for request in pending.values {
            bytes += request.body.count
            if request.forwardedEpoch != nil {
                guard request.forwardedEpoch == config.epoch else { return false }
                forwarded += 1
                forwardedBytes += request.body.count
            }
        }
        return forwarded == forwardedCount && forwardedBytes == self.forwardedBytes && bytes == pendingBytes
            && pendingByClient.values.reduce(0, +) == pending.count
    }

    // MARK: - Ledgers

    private mutating func receive(_ message: PeerMessage, from node: NodeID) {
        guard nodes[node] != nil else { return }
        switch message {
        case let .report(report):
            guard report.node == node else { return }
            nodes[node] = NodeHealth(lastHeardNanos: now.monotonicNanos, report: report)
        case let .reply(epoch: epoch, token: token, body: body):
            guard node == config.leader, epoch == config.epoch, let request = pending[token],
                  request.forwardedEpoch == epoch, let answered = release(token) else { return }
            lastLeaderReplyNanos = now.monotonicNanos
            answer(answered.envelope, body: body, kind: answered.kind, receivedNanos: answered.receivedNanos)
        case let .redirect(epoch: _, token: token):
            guard var request = pending[token], request.forwardedEpoch != nil else { return }
            request.forwardedEpoch = nil
            pending[token] = request
            forwardedCount -= 1
            forwardedBytes -= request.body.count
            waiting.append(token)
        case .heartbeat, .forward, .append, .appendAck, .checkpointChunk, .checkpointAck, .historyRequest, .historyChunk:
            break
        }
    }

    private mutating func tick() {
        if lastHeartbeatNanos.map({ now.nanos(since: $0) >= settings.heartbeatIntervalNanos }) ?? true {
            sendHeartbeats()
        }
        // Loss protection and deadlines. The table holds the requests in flight, bounded by admission.
        // The deadline means "no leader could serve the request in time": while the leader is answering, a request
        // past it waits on (the queue ahead of it is bounded and draining), so load alone never yields
        // `unavailable`, whose outcome the client would have to find out.
        let leaderServing = canForward && now.nanos(since: lastLeaderReplyNanos) < settings.failureTimeoutNanos
        var expired: [UInt64] = []
        // In token order: the simulator must see the same actions on every run (dictionary order varies).
        for token in pending.keys.sorted() {
            let request = pending[token]!
            if !leaderServing, now.nanos(since: request.receivedNanos) >= settings.requestDeadlineNanos {
                expired.append(token)
            } else if request.forwardedEpoch == config.epoch, canForward,
                      now.nanos(since: request.sentNanos) >= settings.resendIntervalNanos {
                forward(token)
            }
        }
        for token in expired {
            guard let request = release(token) else { continue }
            answer(request.envelope, body: ReplyEncoder.error(
                code: .unavailable, message: "no leader could serve the request in time; retry with the same request_id",
                requestID: RequestPeek.requestID(in: request.body)), kind: request.kind, receivedNanos: request.receivedNanos)
        }
        if !expired.isEmpty { waiting.removeAll { pending[$0] == nil } }
        let late = switchoverWaiters.filter { now.nanos(since: $0.startedNanos) >= settings.requestDeadlineNanos }
        if !late.isEmpty {
            switchoverWaiters.removeAll { now.nanos(since: $0.startedNanos) >= settings.requestDeadlineNanos }
            for waiter in late {
                answer(waiter.envelope, body: ReplyEncoder.error(
                    code: .unavailable, message: "the new leader did not take over in time"), kind: .switchover,
                    receivedNanos: waiter.startedNanos)
            }
        }
    }

    private mutating func sendHeartbeats() {
        lastHeartbeatNanos = now.monotonicNanos
        for node in ledgers {
            actions.append(.send(to: node, .heartbeat(config)))
        }
    }

    /// The leader that serves now: elected, confirmed, heard within the failure timeout (what `status` names).
    public var servingLeader: NodeID? {
        guard let leader = config.leader, leaderConfirmed, isAlive(leader) else { return nil }
        return leader
    }

    private func isAlive(_ node: NodeID) -> Bool {
        guard let health = nodes[node] else { return false }
        return now.nanos(since: health.lastHeardNanos) < settings.failureTimeoutNanos
    }

    private func report(_ node: NodeID) -> NodeReport? {
        isAlive(node) ? nodes[node]?.report : nil
    }

    // MARK: - Election

    /// Decides, from what the ledgers last said, whether the configuration must change.
    private mutating func evaluate() {
        let reports = ledgers.compactMap(report)
        if let newest = reports.map(\.epoch).max(), newest > config.epoch {
            // A ledger knows a newer epoch than our state: our state is older than the cluster's. Elect afresh.
            actions.append(.log("a ledger reports epoch \(newest), newer than ours (\(config.epoch)); electing anew"))
            config = ClusterConfig(epoch: newest, leader: nil, leaderDataID: 0)
            leaderConfirmed = false
        }
        guard let leader = config.leader else {
            bootstrap(reports)
            return
        }
        let follower = ledgers[0] == leader ? ledgers[1] : ledgers[0]
        let leaderReport = report(leader)
        if !leaderConfirmed, let r = leaderReport, r.epoch == config.epoch, r.role == .leader,
           r.dataID == config.leaderDataID {
            leaderConfirmed = true
            leaderConfirmedNanos = now.monotonicNanos
            lastLeaderReplyNanos = now.monotonicNanos
            actions.append(.log("\(leader) leads epoch \(config.epoch)"))
            answerSwitchoverWaiters()
        }
        let leaderLost: Bool
        if !isAlive(leader) {
            leaderLost = true
        } else if let r = leaderReport {
            leaderLost = r.dataID != config.leaderDataID || (r.epoch == config.epoch && r.role != .leader)
        } else {
            leaderLost = false
        }
        if leaderLost {
            leaderConfirmed = false
            if config.follower == follower, let r = report(follower), r.dataID == config.followerDataID,
               r.historyComplete {
                actions.append(.log("leader \(leader) lost; promoting in-sync \(follower)"))
                change(to: ClusterConfig(epoch: config.epoch + 1, leader: follower, leaderDataID: r.dataID))
            } else if settings.injectedBugs.contains(.promoteStaleFollower), let r = report(follower) {
                change(to: ClusterConfig(epoch: config.epoch + 1, leader: follower, leaderDataID: r.dataID))
            } else if let r = leaderReport, r.dataID == config.leaderDataID, r.role == .recovering, r.historyComplete {
                // Not with its history store incomplete (lost or replaced): receipts that left memory would be
                // missing, and a retry of an acknowledged request would be applied again. Better no leader.
                actions.append(.log("leader \(leader) restarted; it leads again under a new epoch"))
                change(to: ClusterConfig(epoch: config.epoch + 1, leader: leader, leaderDataID: r.dataID))
            }
            // Otherwise nobody holds every acknowledged record: wait for the leader to return.
            return
        }
        guard leaderConfirmed, let lr = leaderReport else { return }
        if let recorded = config.follower {
            // Silent for the failure timeout, wiped (new data id), or holding up the leader's commits.
            let wiped = report(recorded).map { $0.dataID != config.followerDataID } ?? false
            let lost = !isAlive(recorded) || wiped || lr.peerStalled
            if lost {
                actions.append(.log("in-sync follower \(recorded) lost; \(leader) goes on alone under a new epoch"))
                change(to: ClusterConfig(epoch: config.epoch + 1, leader: leader, leaderDataID: config.leaderDataID))
            }
        } else if lr.epoch == config.epoch, lr.peerInSync, let fr = report(follower), fr.epoch == config.epoch,
                  fr.role == .follower, fr.historyComplete {
            actions.append(.log("\(follower) is in sync with \(leader)"))
            var next = config
            next.follower = follower
            next.followerDataID = fr.dataID
            change(to: next)
        } else if lr.peerStalled {
            // The leader made the peer synchronous, then lost it, before we recorded it: release the leader.
            actions.append(.log("\(follower) stalled while catching up; \(leader) goes on alone under a new epoch"))
            change(to: ClusterConfig(epoch: config.epoch + 1, leader: leader, leaderDataID: config.leaderDataID))
        }
    }

    private mutating func bootstrap(_ reports: [NodeReport]) {
        guard reports.count == ledgers.count else {
            bootstrapWaitLoggedNanos = nil
            return
        }
        // The most up-to-date journal (by last record's epoch, then length) holds every committed record; between
        // equal journals, one whose history store is complete.
        let best = reports.max { a, b in
            (a.lastEpoch, a.lastSeq, a.historyComplete ? 1 : 0, a.node == ledgers[0] ? 1 : 0)
                < (b.lastEpoch, b.lastSeq, b.historyComplete ? 1 : 0, b.node == ledgers[0] ? 1 : 0)
        }!
        // Not with its history store incomplete: receipts that left memory would be missing, and a retry of an
        // acknowledged request would be applied again. Nor the other, whose shorter journal may lack acknowledged
        // records. An incomplete store completes only by copying a leader's, so this wait lasts until an operator
        // decides (docs/DESIGN.md, "Election"); it is said again every `bootstrapWaitLogInterval`.
        guard best.historyComplete else {
            if bootstrapWaitLoggedNanos.map({ now.nanos(since: $0) >= Self.bootstrapWaitLogIntervalNanos }) ?? true {
                bootstrapWaitLoggedNanos = now.monotonicNanos
                let others = reports.filter { $0.node != best.node }
                    .map { "\($0.node) holds seq \($0.lastSeq) (epoch \($0.lastEpoch))" }.joined(separator: ", ")
                actions.append(.log("not electing: \(best.node) holds the newest journal (seq \(best.lastSeq), epoch "
                    + "\(best.lastEpoch)) but its history store is incomplete (receipts that left its memory are missing; "
                    + "it completes only by copying a leader's store); \(others). Electing either could lose an "
                    + "acknowledged movement or apply one twice: an operator must decide (docs/DESIGN.md, \"Election\")"))
            }
            return
        }
        bootstrapWaitLoggedNanos = nil
        let epoch = max(config.epoch, reports.map(\.epoch).max() ?? 0) + 1
        actions.append(.log("electing \(best.node) (journal at seq \(best.lastSeq)) for epoch \(epoch)"))
        change(to: ClusterConfig(epoch: epoch, leader: best.node, leaderDataID: best.dataID))
        leaderChanges -= 1 // The first election is not a change of leader.
    }

    private mutating func change(to next: ClusterConfig) {
        invariant(next.epoch >= config.epoch, "epochs only grow")
        let newEpoch = next.epoch > config.epoch
        if newEpoch && next.leader != config.leader { leaderChanges += 1 }
        config = next
        actions.append(.persistConfig(next))
        if newEpoch {
            leaderConfirmed = false
            // Everything in flight goes again to whoever leads the new epoch, oldest first.
            // The window starts empty under the new epoch; the backlog goes through it, not all at once.
            for token in pending.keys.sorted() where pending[token]!.forwardedEpoch != nil {
                pending[token]!.forwardedEpoch = nil
                waiting.append(token)
            }
            forwardedCount = 0
            forwardedBytes = 0
            waiting = Deque(waiting.sorted())
        }
        sendHeartbeats()
    }

    // MARK: - Switchover

    private mutating func switchover(for envelope: ClientEnvelope) {
        guard let leader = config.leader, leaderConfirmed, let follower = config.follower,
              let r = report(follower), r.dataID == config.followerDataID else {
            answer(envelope, body: ReplyEncoder.error(
                code: .unavailable, message: "switchover needs a leader and an in-sync follower; there is none now"),
                kind: .switchover, receivedNanos: now.monotonicNanos)
            return
        }
        actions.append(.log("switchover requested: \(follower) takes over from \(leader)"))
        change(to: ClusterConfig(epoch: config.epoch + 1, leader: follower, leaderDataID: r.dataID))
        switchoverWaiters.append(SwitchoverWaiter(envelope: envelope, epoch: config.epoch,
                                                  startedNanos: now.monotonicNanos))
    }

    private mutating func answerSwitchoverWaiters() {
        guard !switchoverWaiters.isEmpty, let leader = config.leader else { return }
        for waiter in switchoverWaiters {
            var writer = JSONWriter()
            writer.beginObject()
            writer.key("ok"); writer.bool(true)
            writer.key("leader"); writer.string(leader.name)
            writer.key("epoch"); writer.int(Int64(config.epoch))
            writer.endObject()
            answer(waiter.envelope, body: writer.bytes, kind: .switchover, receivedNanos: waiter.startedNanos)
        }
        switchoverWaiters.removeAll()
    }

    // MARK: - Status

    /// The `status` answer: who leads, and each ledger as the gateway sees it.
    public func statusReply() -> [UInt8] {
        var writer = JSONWriter()
        writer.beginObject()
        writer.key("ok"); writer.bool(true)
        writer.key("leader")
        if let leader = servingLeader { writer.string(leader.name) } else { writer.null() }
        writer.key("epoch"); writer.int(Int64(config.epoch))
        writer.key("leader_changes"); writer.int(Int64(leaderChanges))
        writer.key("pending_requests"); writer.int(Int64(pending.count))
        writer.key("forwarded_requests"); writer.int(Int64(forwardedCount))
        writer.key("overloaded_replies"); writer.int(Int64(overloadedReplies))
        writer.key("nodes")
        writer.beginArray()
        let leaderReport = config.leader.flatMap(report)
        for node in ledgers {
            writer.beginObject()
            writer.key("name"); writer.string(node.name)
            writer.key("role"); writer.string(role(of: node))
            if let health = nodes[node] {
                writer.key("heartbeat_age_ms")
                writer.int(Int64(now.nanos(since: health.lastHeardNanos) / 1_000_000))
            }
            if let r = nodes[node]?.report {
                writer.key("epoch"); writer.int(Int64(r.epoch))
                writer.key("last_seq"); writer.int(Int64(r.lastSeq))
                writer.key("commit_seq"); writer.int(Int64(r.commitSeq))
                writer.key("last_hash"); writer.string(r.lastHash.description)
                var lag: UInt64 = 0
                if node != config.leader, let lr = leaderReport { lag = lr.lastSeq > r.lastSeq ? lr.lastSeq - r.lastSeq : 0 }
                writer.key("replication_lag"); writer.int(Int64(lag))
                writer.key("in_sync"); writer.bool(node == config.leader || node == config.follower)
            }
            writer.endObject()
        }
        writer.endArray()
        writer.endObject()
        return writer.bytes
    }

    private func role(of node: NodeID) -> String {
        guard isAlive(node), let r = nodes[node]?.report else { return "down" }
        if node == config.leader { return r.role == .leader && r.epoch == config.epoch ? "leader" : "catching_up" }
        if node == config.follower { return "follower" }
        return "catching_up"
    }
}

struct NodeHealth {
    var lastHeardNanos: UInt64
    var report: NodeReport?
}

/// A request the gateway answered: its kind, how it ended, and its time at the gateway (arrival to answer).
public struct AnsweredRequest: Hashable, Sendable {
    public var kind: RequestKind
    public var outcome: ReplyOutcome
    public var latencyNanos: UInt64
}

struct PendingRequest {
    var envelope: ClientEnvelope
    var body: [UInt8]
    var kind: RequestKind
    var receivedNanos: UInt64
    /// The epoch it was last forwarded under; nil while it waits for a leader.
    var forwardedEpoch: UInt64?
    var sentNanos: UInt64 = 0
}

struct SwitchoverWaiter {
    var envelope: ClientEnvelope
    var epoch: UInt64
    var startedNanos: UInt64
}
