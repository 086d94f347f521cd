import BankProtocol
import Storage
import Testing
@testable import Cluster

/// Admission control and the forward window, driven event by event.
@Suite struct GatewayOverloadTests {
    var clock = TestClock()
    var gateway: GatewayCore

    init() {
        var settings = GatewaySettings()
        settings.maxInflightRequests = 6
        settings.maxInflightRequestsPerClient = 4
        settings.maxForwardedRequests = 2
        settings.overloadRetryAfterMilliseconds = 15
        settings.failoverAdmissionFactor = 1
        gateway = GatewayCore(config: .initial, settings: settings, startedAt: clock.now)
    }

    static let alice = ClientEnvelope(identity: [1], delimited: false)
    static let bob = ClientEnvelope(identity: [2], delimited: false)

    static func body(_ id: String) -> [UInt8] {
        Array(#"{"op":"deposit","request_id":"\#(id)","account":"a","amount":1}"#.utf8)
    }

    mutating func send(_ id: String, from client: ClientEnvelope) -> [GatewayAction] {
        gateway.step(.clientRequest(client, frames: [Self.body(id)]), now: clock.now)
    }

    mutating func hear(_ report: NodeReport) -> [GatewayAction] {
        gateway.step(.received(from: report.node, .report(report)), now: clock.now)
    }

    mutating func electPrimary() {
        _ = hear(GatewayCoreTests.report(.primary, epoch: 0, role: .recovering))
        _ = hear(GatewayCoreTests.report(.backup, epoch: 0, role: .recovering))
        _ = hear(GatewayCoreTests.report(.primary, epoch: 1, role: .leader))
    }

    static func forwardedTokens(_ actions: [GatewayAction], to node: NodeID? = nil) -> [UInt64] {
        actions.compactMap {
            if case let .send(to: destination, .forward(epoch: _, token: token, body: _, clientKey: _)) = $0,
               node == nil || destination == node { return token }
            return nil
        }
    }

    static func replies(_ actions: [GatewayAction]) -> [(ClientEnvelope, JSONValue)] {
        actions.compactMap {
            guard case let .reply(to: envelope, body: body) = $0, let value = try? JSONValue.parse(body) else { return nil }
            return (envelope, value)
        }
    }

    @Test mutating func aRequestBeyondTheConnectionsBoundIsOverloadedAndNamesItsRequest() throws {
        for index in 0..<4 { #expect(Self.replies(send("a\(index)", from: Self.alice)).isEmpty) }
        let refused = Self.replies(send("a4", from: Self.alice))
        try #require(refused.count == 1)
        let reply = refused[0].1
        #expect(refused[0].0 == Self.alice)
        #expect(reply["error"]?.stringValue == "overloaded")
        #expect(reply["retryable"]?.boolValue == true)
        #expect(reply["retry_after_ms"]?.intValue == 15)
        #expect(reply["request_id"]?.stringValue == "a4")
        // Another connection still gets in.
        #expect(Self.replies(send("b0", from: Self.bob)).isEmpty)
        #expect(gateway.overloadedReplies == 1)
    }

    @Test mutating func theTotalBoundHoldsAcrossConnections() {
        for index in 0..<4 { _ = send("a\(index)", from: Self.alice) }
        for index in 0..<2 { #expect(Self.replies(send("b\(index)", from: Self.bob)).isEmpty) }
        let refused = Self.replies(send("b2", from: Self.bob))
        #expect(refused.map { $0.1["error"]?.stringValue } == ["overloaded"])
        #expect(gateway.pendingRequestCount == 6)
    }

    @Test mutating func answeredRequestsFreeTheirPlaces() {
        electPrimary()
        for index in 0..<4 { _ = send("a\(index)", from: Self.alice) }
        #expect(Self.replies(send("a4", from: Self.alice)).count == 1)
        let ok = Array(#"{"ok":true}"#.utf8)
        let answered = gateway.step(.received(from: .primary, .reply(epoch: 1, token: 1, body: ok)), now: clock.now)
        #expect(Self.replies(answered).count == 1)
        #expect(Self.replies(send("a5", from: Self.alice)).isEmpty, "the answer freed a place")
    }

    @Test mutating func theLeaderGetsNoMoreThanTheWindowAndTheRestFollowInOrder() {
        electPrimary()
        var forwarded: [UInt64] = []
        for index in 0..<5 { forwarded += Self.forwardedTokens(send("a\(index % 4)\(index)", from: index < 4 ? Self.alice : Self.bob)) }
        #expect(forwarded == [1, 2])
        #expect(gateway.forwardedCount == 2)
        let ok = Array(#"{"ok":true}"#.utf8)
        let next = gateway.step(.received(from: .primary, .reply(epoch: 1, token: 2, body: ok)), now: clock.now)
        #expect(Self.forwardedTokens(next) == [3], "one answer, one more forward: the oldest waiting")
        let two = gateway.step([.received(from: .primary, .reply(epoch: 1, token: 1, body: ok)),
                                .received(from: .primary, .reply(epoch: 1, token: 3, body: ok))], now: clock.now)
        #expect(Self.forwardedTokens(two) == [4, 5])
    }

    @Test mutating func afterAFailoverTheBacklogGoesThroughTheSameWindow() {
        _ = hear(GatewayCoreTests.report(.primary, epoch: 0, role: .recovering))
        _ = hear(GatewayCoreTests.report(.backup, epoch: 0, role: .recovering))
        _ = hear(GatewayCoreTests.report(.primary, epoch: 1, role: .leader))
        _ = hear(GatewayCoreTests.report(.backup, epoch: 1, role: .follower))
        _ = hear(GatewayCoreTests.report(.primary, epoch: 1, role: .leader, peerInSync: true))
        for index in 0..<4 { _ = send("a\(index)", from: Self.alice) }
        for index in 0..<2 { _ = send("b\(index)", from: Self.bob) }
        #expect(gateway.forwardedCount == 2)
        // The primary falls silent; the backup is promoted and confirms.
        for _ in 0..<30 {
            _ = hear(GatewayCoreTests.report(.backup, epoch: gateway.config.epoch, role: .follower))
            clock.advance(milliseconds: 20)
            _ = gateway.step(.tick, now: clock.now)
        }
        #expect(gateway.config.leader == .backup)
        let confirmed = hear(GatewayCoreTests.report(.backup, epoch: gateway.config.epoch, role: .leader))
        #expect(Self.forwardedTokens(confirmed, to: .backup) == [1, 2], "the oldest two, not all six")
        #expect(gateway.forwardedCount == 2)
    }

    @Test mutating func duringAFailoverAndItsGraceTheBoundsAreWider() {
        var settings = gateway.settings
        settings.failoverAdmissionFactor = 3
        gateway = GatewayCore(config: .initial, settings: settings, startedAt: clock.now)
        // No leader yet: 3 × 4 per connection are held, not refused.
        for index in 0..<12 { #expect(Self.replies(send("a\(index)", from: Self.alice)).isEmpty, "a\(index)") }
        #expect(Self.replies(send("a12", from: Self.alice)).first?.1["error"]?.stringValue == "overloaded")
        electPrimary()
        #expect(gateway.forwardedCount == 2)
        // Past the grace period, with the leader confirmed:
        for _ in 0..<60 {
            clock.advance(milliseconds: 20)
            _ = hear(GatewayCoreTests.report(.primary, epoch: 1, role: .leader))
            _ = hear(GatewayCoreTests.report(.backup, epoch: 1, role: .follower))
        }
        #expect(gateway.leaderConfirmed)
        // The leader reports (it is busy, not dead): the steady bounds apply (12 held ≥ 6).
        #expect(Self.replies(send("b0", from: Self.bob)).first?.1["error"]?.stringValue == "overloaded")
        // It misses two reports: it may be dead, so requests are held again.
        clock.advance(milliseconds: 120)
        _ = hear(GatewayCoreTests.report(.backup, epoch: 1, role: .follower))
        #expect(Self.replies(send("b1", from: Self.bob)).isEmpty)
    }

    @Test mutating func statusAndSwitchoverAreNeverRefused() {
        for index in 0..<4 { _ = send("a\(index)", from: Self.alice) }
        let status = gateway.step(.clientRequest(Self.alice, frames: [Array(#"{"op":"status"}"#.utf8)]), now: clock.now)
        #expect(Self.replies(status).first?.1["ok"]?.boolValue == true)
    }

    @Test func theOverloadedReplyHasItsDocumentedShape() throws {
        let reply = try JSONValue.parse(ReplyEncoder.overloaded("busy", retryAfterMilliseconds: 20, requestID: nil))
        #expect(reply["ok"]?.boolValue == false && reply["error"]?.stringValue == "overloaded")
        #expect(reply["retryable"]?.boolValue == true && reply["retry_after_ms"]?.intValue == 20)
        #expect(reply["request_id"] == nil)
    }
}
