import BankProtocol
import Storage
import Testing
@testable import Cluster

/// The gateway's election and routing rules, driven event by event with no sockets or clocks.
@Suite struct GatewayCoreTests {
    var clock = TestClock()
    var gateway: GatewayCore

    init() {
        gateway = GatewayCore(config: .initial, startedAt: clock.now)
    }

    static func report(_ node: NodeID, epoch: UInt64, role: NodeReport.Role, lastSeq: UInt64 = 0, lastEpoch: UInt64 = 0,
                       dataID: UInt64? = nil, peerInSync: Bool = false, peerStalled: Bool = false) -> NodeReport {
        NodeReport(node: node, dataID: dataID ?? (node == .primary ? 100 : 200), epoch: epoch, role: role,
                   lastSeq: lastSeq, lastEpoch: lastEpoch, lastHash: .zero, commitSeq: lastSeq,
                   peerInSync: peerInSync, peerMatchSeq: lastSeq, peerStalled: peerStalled)
    }

    mutating func hear(_ report: NodeReport) -> [GatewayAction] {
        gateway.step(.received(from: report.node, .report(report)), now: clock.now)
    }

    mutating func advance(milliseconds: UInt64) -> [GatewayAction] {
        clock.advance(milliseconds: milliseconds)
        return gateway.step(.tick, now: clock.now)
    }

    static func persisted(_ actions: [GatewayAction]) -> [ClusterConfig] {
        actions.compactMap { if case let .persistConfig(c) = $0 { return c } else { return nil } }
    }

    /// Elects primary (both fresh) and lets it confirm, then records backup as in sync.
    mutating func establishSyncedCluster() {
        _ = hear(Self.report(.primary, epoch: 0, role: .recovering))
        _ = hear(Self.report(.backup, epoch: 0, role: .recovering))
        _ = hear(Self.report(.primary, epoch: 1, role: .leader))
        _ = hear(Self.report(.backup, epoch: 1, role: .follower))
        _ = hear(Self.report(.primary, epoch: 1, role: .leader, peerInSync: true))
    }

    @Test mutating func aNewGatewayElectsOnlyOnceBothLedgersAnswered() {
        let first = hear(Self.report(.primary, epoch: 0, role: .recovering))
        #expect(Self.persisted(first).isEmpty)
        let second = hear(Self.report(.backup, epoch: 0, role: .recovering))
        #expect(Self.persisted(second) == [ClusterConfig(epoch: 1, leader: .primary, leaderDataID: 100)])
        #expect(second.contains(.send(to: .backup, .heartbeat(gateway.config))))
    }

    @Test mutating func theMostCompleteJournalWinsTheFirstElection() {
        _ = hear(Self.report(.primary, epoch: 3, role: .recovering, lastSeq: 10, lastEpoch: 2))
        let actions = hear(Self.report(.backup, epoch: 3, role: .recovering, lastSeq: 8, lastEpoch: 3))
        #expect(Self.persisted(actions).first?.leader == .backup)
        #expect(Self.persisted(actions).first?.epoch == 4)
    }

    @Test mutating func requestsWaitForAConfirmedLeaderThenGoOut() {
        let envelope = ClientEnvelope(identity: [1], delimited: true)
        let body = Array(#"{"op":"balance","account":"a"}"#.utf8)
        var actions = gateway.step(.clientRequest(envelope, frames: [body]), now: clock.now)
        #expect(!actions.contains { if case .send(_, .forward) = $0 { true } else { false } })
        _ = hear(Self.report(.primary, epoch: 0, role: .recovering))
        _ = hear(Self.report(.backup, epoch: 0, role: .recovering))
        actions = hear(Self.report(.primary, epoch: 1, role: .leader))
        #expect(actions.contains(.send(to: .primary, .forward(epoch: 1, token: 1, body: body))))
        let reply = Array(#"{"ok":true}"#.utf8)
        actions = gateway.step(.received(from: .primary, .reply(epoch: 1, token: 1, body: reply)), now: clock.now)
        #expect(actions.contains(.reply(to: envelope, body: reply)))
    }

    /// Every answer is noted with the request's kind, its outcome and its time at the gateway, in the step that
    /// answers it: a forwarded request from arrival to the leader's reply, the gateway's own answers at once.
    @Test mutating func answersAreNotedWithKindOutcomeAndTime() {
        establishSyncedCluster()
        let envelope = ClientEnvelope(identity: [1], delimited: true)
        let transfer = Array(#"{"op":"transfer","request_id":"t1","from":"a","to":"b","amount":"1.00"}"#.utf8)
        _ = gateway.step(.clientRequest(envelope, frames: [transfer]), now: clock.now)
        #expect(gateway.answered.isEmpty)
        clock.advance(milliseconds: 3)
        let refusal = Array(#"{"ok":false,"error":"insufficient_funds","message":"no"}"#.utf8)
        _ = gateway.step(.received(from: .primary, .reply(epoch: 1, token: 1, body: refusal)), now: clock.now)
        #expect(gateway.answered == [AnsweredRequest(kind: .transfer, outcome: .error(.insufficientFunds),
                                                     latencyNanos: 3_000_000)])
        _ = gateway.step(.clientRequest(envelope, frames: [Array(#"{"op":"status"}"#.utf8)]), now: clock.now)
        #expect(gateway.answered.map(\.kind) == [.status])
        #expect(gateway.answered.map(\.outcome) == [.ok])
        _ = gateway.step(.clientRequest(envelope, frames: [[1], [2]]), now: clock.now)
        #expect(gateway.answered.map(\.outcome) == [.error(.badRequest)])
        _ = gateway.step(.tick, now: clock.now)
        #expect(gateway.answered.isEmpty)
    }

    /// Requests that no leader answers in time are noted `unavailable`, with the time they waited.
    @Test mutating func expiredRequestsAreNotedUnavailable() {
        let envelope = ClientEnvelope(identity: [1], delimited: true)
        _ = gateway.step(.clientRequest(envelope, frames: [Array(#"{"op":"deposit","request_id":"d"}"#.utf8)]),
                         now: clock.now)
        clock.advance(milliseconds: gateway.settings.requestDeadlineNanos / 1_000_000)
        _ = gateway.step(.tick, now: clock.now)
        #expect(gateway.answered == [AnsweredRequest(kind: .deposit, outcome: .error(.unavailable),
                                                     latencyNanos: gateway.settings.requestDeadlineNanos)])
    }

    @Test mutating func theInSyncFollowerIsRecordedBeforeItCanBePromoted() {
        establishSyncedCluster()
        #expect(gateway.config.follower == .backup)
        #expect(gateway.config.followerDataID == 200)
        #expect(gateway.config.epoch == 1)
    }

    @Test mutating func losingTheLeaderPromotesTheInSyncFollowerUnderANewEpoch() {
        establishSyncedCluster()
        var promoted: [ClusterConfig] = []
        for _ in 0..<30 {
            // Only the backup keeps answering.
            _ = hear(Self.report(.backup, epoch: 1, role: .follower))
            promoted += Self.persisted(advance(milliseconds: 20))
        }
        #expect(promoted == [ClusterConfig(epoch: 2, leader: .backup, leaderDataID: 200)])
    }

    @Test mutating func aStaleCopyIsNeverPromoted() {
        _ = hear(Self.report(.primary, epoch: 0, role: .recovering))
        _ = hear(Self.report(.backup, epoch: 0, role: .recovering))
        _ = hear(Self.report(.primary, epoch: 1, role: .leader))
        // The backup never became in sync; the primary dies.
        var changes: [ClusterConfig] = []
        for _ in 0..<50 {
            _ = hear(Self.report(.backup, epoch: 1, role: .follower))
            changes += Self.persisted(advance(milliseconds: 20))
        }
        #expect(changes.isEmpty)
        #expect(gateway.config.leader == .primary)
    }

    @Test mutating func losingTheFollowerLetsTheLeaderGoOnAloneUnderANewEpoch() {
        establishSyncedCluster()
        var changes: [ClusterConfig] = []
        for _ in 0..<30 {
            _ = hear(Self.report(.primary, epoch: gateway.config.epoch, role: .leader))
            changes += Self.persisted(advance(milliseconds: 20))
        }
        #expect(changes == [ClusterConfig(epoch: 2, leader: .primary, leaderDataID: 100)])
    }

    @Test(arguments: [true, false])
    mutating func aLeaderAloneThatRestartedLeadsAgainOnlyWithItsWholeHistory(historyComplete: Bool) {
        establishSyncedCluster()
        for _ in 0..<30 {
            _ = hear(Self.report(.primary, epoch: gateway.config.epoch, role: .leader))
            _ = advance(milliseconds: 20)
        }
        #expect(gateway.config == ClusterConfig(epoch: 2, leader: .primary, leaderDataID: 100))
        // The leader restarts; the backup stays away.
        var changes: [ClusterConfig] = []
        for _ in 0..<30 {
            var report = Self.report(.primary, epoch: 2, role: .recovering)
            report.historyComplete = historyComplete
            changes += Self.persisted(hear(report))
            changes += Self.persisted(advance(milliseconds: 20))
        }
        #expect(changes == (historyComplete ? [ClusterConfig(epoch: 3, leader: .primary, leaderDataID: 100)] : []))
    }

    @Test mutating func theFirstElectionWaitsForTheNewestJournalsHistoryStore() {
        // The primary holds the newest journal but its store is behind what its checkpoint left out of memory.
        var primary = Self.report(.primary, epoch: 3, role: .recovering, lastSeq: 10, lastEpoch: 3)
        primary.historyComplete = false
        _ = hear(primary)
        var changes = Self.persisted(hear(Self.report(.backup, epoch: 3, role: .recovering, lastSeq: 8, lastEpoch: 3)))
        for _ in 0..<5 {
            changes += Self.persisted(hear(primary))
            changes += Self.persisted(advance(milliseconds: 20))
        }
        #expect(changes.isEmpty, "the backup's shorter journal misses records; the primary's store misses receipts")
        primary.historyComplete = true
        #expect(Self.persisted(hear(primary)) == [ClusterConfig(epoch: 4, leader: .primary, leaderDataID: 100)])
    }

    @Test mutating func betweenEqualJournalsTheFirstElectionPrefersACompleteHistory() {
        var primary = Self.report(.primary, epoch: 3, role: .recovering, lastSeq: 10, lastEpoch: 3)
        primary.historyComplete = false
        _ = hear(primary)
        let actions = hear(Self.report(.backup, epoch: 3, role: .recovering, lastSeq: 10, lastEpoch: 3))
        #expect(Self.persisted(actions) == [ClusterConfig(epoch: 4, leader: .backup, leaderDataID: 200)])
    }

    @Test mutating func aWipedFollowerIsNotTheInSyncCopy() {
        establishSyncedCluster()
        let actions = hear(Self.report(.backup, epoch: 0, role: .recovering, dataID: 999))
        #expect(Self.persisted(actions) == [ClusterConfig(epoch: 2, leader: .primary, leaderDataID: 100)])
    }

    @Test mutating func aRestartedGatewayResumesWithTheCurrentLeader() {
        let saved = ClusterConfig(epoch: 7, leader: .backup, leaderDataID: 200, follower: .primary, followerDataID: 100)
        gateway = GatewayCore(config: saved, startedAt: clock.now)
        var changes: [ClusterConfig] = []
        changes += Self.persisted(hear(Self.report(.backup, epoch: 7, role: .leader)))
        changes += Self.persisted(hear(Self.report(.primary, epoch: 7, role: .follower)))
        changes += Self.persisted(advance(milliseconds: 10))
        #expect(changes.isEmpty)
        #expect(gateway.leaderConfirmed)
    }

    /// A restarted gateway resumes under the same epoch while the leader may still hold replies to the previous
    /// run's requests; the new run's tokens start elsewhere, so such a reply answers nothing.
    @Test mutating func aReplyToTheLastRunsTokenAnswersNoRequestOfTheNext() {
        let saved = ClusterConfig(epoch: 7, leader: .backup, leaderDataID: 200, follower: .primary, followerDataID: 100)
        var forwardedTokens: [[UInt64]] = []
        for firstToken: UInt64 in [1, 1 << 40] {
            gateway = GatewayCore(config: saved, startedAt: clock.now, firstToken: firstToken)
            _ = hear(Self.report(.backup, epoch: 7, role: .leader))
            _ = hear(Self.report(.primary, epoch: 7, role: .follower))
            let body = Array(#"{"op":"deposit","request_id":"d\#(firstToken)","account":"a","amount":5}"#.utf8)
            let actions = gateway.step(.clientRequest(ClientEnvelope(identity: [3], delimited: false), frames: [body]),
                                       now: clock.now)
            forwardedTokens.append(actions.compactMap {
                if case let .send(to: .backup, .forward(epoch: 7, token, _, _)) = $0 { token } else { nil }
            })
        }
        #expect(forwardedTokens == [[1], [1 << 40]])
        // The leader's late reply to the first run's token 1 reaches the second run: nobody is answered.
        let late = gateway.step(.received(from: .backup, .reply(epoch: 7, token: 1, body: [1])), now: clock.now)
        #expect(!late.contains { if case .reply = $0 { true } else { false } })
        #expect(gateway.pendingRequestCount == 1)
    }

    @Test mutating func repliesFromAReplacedLeaderAreIgnoredAndRequestsGoToTheNewOne() {
        establishSyncedCluster()
        let envelope = ClientEnvelope(identity: [7], delimited: false)
        let body = Array(#"{"op":"deposit","request_id":"r","account":"a","amount":5}"#.utf8)
        _ = gateway.step(.clientRequest(envelope, frames: [body]), now: clock.now)
        for _ in 0..<30 {
            _ = hear(Self.report(.backup, epoch: gateway.config.epoch == 1 ? 1 : 2, role: .follower))
            _ = advance(milliseconds: 20)
        }
        #expect(gateway.config.leader == .backup)
        // The old leader wakes up and answers: dropped.
        var actions = gateway.step(.received(from: .primary, .reply(epoch: 1, token: 1, body: [1])), now: clock.now)
        #expect(!actions.contains { if case .reply = $0 { true } else { false } })
        actions = hear(Self.report(.backup, epoch: 2, role: .leader))
        #expect(actions.contains(.send(to: .backup, .forward(epoch: 2, token: 1, body: body))))
    }

    @Test mutating func requestsThatFindNoLeaderInTimeAreAnsweredUnavailable() throws {
        let envelope = ClientEnvelope(identity: [9], delimited: true)
        _ = gateway.step(.clientRequest(envelope, frames: [Array(#"{"op":"balance","account":"a"}"#.utf8)]),
                         now: clock.now)
        _ = gateway.step(.clientRequest(envelope, frames: [Array(
            #"{"op":"deposit","request_id":"dep-7","account":"a","amount":5}"#.utf8)]), now: clock.now)
        var replies: [JSONValue] = []
        for _ in 0..<60 {
            for action in advance(milliseconds: 100) {
                if case let .reply(_, body) = action { replies.append(try JSONValue.parse(body)) }
            }
        }
        #expect(replies.count == 2)
        for reply in replies {
            #expect(reply["error"]?.stringValue == "unavailable")
            #expect(reply["retryable"]?.boolValue == true)
        }
        // A mutation's answer names its request id, so that a client pipelining requests knows which to settle.
        #expect(replies.map { $0["request_id"]?.stringValue } == [nil, "dep-7"])
    }

    @Test mutating func badFramesAndOversizedRequestsAreAnsweredAtTheGateway() {
        let envelope = ClientEnvelope(identity: [3], delimited: true)
        var actions = gateway.step(.clientRequest(envelope, frames: [[1], [2]]), now: clock.now)
        #expect(actions.count == 1)
        if case let .reply(_, body) = actions[0] { #expect(String(decoding: body, as: UTF8.self).contains("bad_request")) }
        actions = gateway.step(.clientRequest(envelope, frames: [[UInt8](repeating: 32, count: (1 << 20) + 1)]),
                               now: clock.now)
        if case let .reply(_, body) = actions.first { #expect(String(decoding: body, as: UTF8.self).contains("too_large")) }
        else { Issue.record("no reply") }
    }

    @Test mutating func switchoverMovesLeadershipToTheInSyncFollower() {
        establishSyncedCluster()
        let envelope = ClientEnvelope(identity: [5], delimited: true)
        var actions = gateway.step(.clientRequest(envelope, frames: [Array(#"{"op":"switchover"}"#.utf8)]),
                                   now: clock.now)
        #expect(Self.persisted(actions) == [ClusterConfig(epoch: 2, leader: .backup, leaderDataID: 200)])
        actions = hear(Self.report(.backup, epoch: 2, role: .leader))
        let replied = actions.contains { if case .reply(to: envelope, _) = $0 { true } else { false } }
        #expect(replied)
    }
}

struct TestClock {
    var now = Instant(monotonicNanos: 1_000_000_000, wallMillis: 1_700_000_000_000)
    mutating func advance(milliseconds: UInt64) {
        now.monotonicNanos += milliseconds * 1_000_000
        now.wallMillis += Int64(milliseconds)
    }
}

/// Roles at the gateway (issue 11): a request outside the client's role is answered `forbidden` at once and never
/// forwarded; an op spelled with escapes is judged as the op it spells; without a role (no keys) all goes through.
@Suite struct GatewayRoleTests {
    var clock = TestClock()
    var gateway = GatewayCore(config: .initial, startedAt: TestClock().now)

    static func body(_ text: String) -> [[UInt8]] { [Array(text.utf8)] }

    mutating func send(_ text: String, role: ClientRole?) -> [GatewayAction] {
        gateway.step(.clientRequest(ClientEnvelope(identity: [7], delimited: true, role: role), frames: Self.body(text)),
                     now: clock.now)
    }

    static func forbidden(_ actions: [GatewayAction]) -> Bool {
        actions.contains { action in
            guard case let .reply(_, body) = action else { return false }
            return ReplyOutcome(reply: body) == .error(.forbidden)
        }
    }

    @Test mutating func requestsOutsideTheRoleAreForbiddenAndNeverHeld() {
        let transfer = #"{"op":"transfer","request_id":"t1","from":"a","to":"b","amount":1}"#
        #expect(Self.forbidden(send(transfer, role: .reader)))
        #expect(Self.forbidden(send(transfer, role: .operator)))
        #expect(Self.forbidden(send(#"{"op":"tr\u0061nsfer","request_id":"t2","from":"a","to":"b","amount":1}"#, role: .reader)))
        #expect(Self.forbidden(send(#"{"op":"switchover"}"#, role: .app)))
        #expect(Self.forbidden(send(#"{"op":"balance","account":"a"}"#, role: .operator)))
        #expect(gateway.pendingRequestCount == 0)
        #expect(gateway.answered.map(\.outcome) == [.error(.forbidden)])
        // Allowed: held for the leader (none yet), or answered by the gateway itself.
        #expect(!Self.forbidden(send(transfer, role: .app)))
        #expect(!Self.forbidden(send(#"{"op":"balance","account":"a"}"#, role: .reader)))
        #expect(!Self.forbidden(send(transfer, role: nil)))
        #expect(gateway.pendingRequestCount == 3)
        #expect(!Self.forbidden(send(#"{"op":"status"}"#, role: .reader)))
        // Not a request at all: let through to get its real error, which changes nothing either.
        #expect(!Self.forbidden(send(#"{"op":"steal"}"#, role: .reader)))
    }
}
