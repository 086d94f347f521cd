import BankCore
import BankProtocol
import Storage
import Testing
@testable import Cluster

/// The replication rules of one ledger node, event by event: no sockets, no disk, no clock.
@Suite struct LedgerNodeTests {
    var clock = TestClock()

    static func makeNode(_ id: NodeID, dataID: UInt64 = 7, journal: MemoryJournal = MemoryJournal()) -> LedgerNode {
        LedgerNode(id: id, metadata: NodeMetadata(dataID: dataID, epoch: 0, leader: nil), ledger: Ledger(),
                   journal: journal)
    }

    static func config(epoch: UInt64, leader: NodeID, follower: NodeID? = nil) -> ClusterConfig {
        ClusterConfig(epoch: epoch, leader: leader, leaderDataID: 7, follower: follower, followerDataID: 7)
    }

    static func body(_ json: String) -> [UInt8] { Array(json.utf8) }

    static func sends(_ actions: [LedgerAction]) -> [(NodeID, PeerMessage)] {
        actions.compactMap { if case let .send(to, message) = $0 { return (to, message) } else { return nil } }
    }

    static func replies(_ actions: [LedgerAction]) -> [UInt64] {
        sends(actions).compactMap { if case let (.gateway, .reply(_, token, _)) = $0 { return token } else { return nil } }
    }

    static func appends(_ actions: [LedgerAction]) -> [Append] {
        sends(actions).compactMap { if case let (_, .append(a)) = $0 { return a } else { return nil } }
    }

    /// Carries out `.append` actions on the journal, as the driver would.
    static func write(_ actions: [LedgerAction], to journal: MemoryJournal) {
        for case let .append(records) in actions { journal.append(records) }
    }

    @Test mutating func aLeaderAloneAnswersOnceItsOwnWriteIsDurable() {
        let journal = MemoryJournal()
        var node = Self.makeNode(.primary, journal: journal)
        _ = node.step(.received(from: .gateway, .heartbeat(Self.config(epoch: 1, leader: .primary))), now: clock.now)
        #expect(node.role == .leader)
        let actions = node.step(.received(from: .gateway, .forward(epoch: 1, token: 9, body: Self.body(
            #"{"op":"open_account","request_id":"o","account":"alice"}"#))), now: clock.now)
        Self.write(actions, to: journal)
        #expect(Self.replies(actions).isEmpty, "answered before the record was durable")
        journal.sync()
        let after = node.step(.persisted(through: 1), now: clock.now)
        #expect(Self.replies(after) == [9])
    }

    /// Tokens are each gateway's own: a reply goes back to the gateway that forwarded the request, at once or after
    /// the commit; a ledger with named peers takes replication only from its own peer.
    @Test mutating func repliesGoBackToTheGatewayThatForwarded() {
        let east = NodeID(kind: .gateway, name: "east")!, west = NodeID(kind: .gateway, name: "west")!
        let a = NodeID(kind: .ledger, name: "ledger-a")!, b = NodeID(kind: .ledger, name: "ledger-b")!
        let journal = MemoryJournal()
        var node = LedgerNode(id: a, peerID: b, metadata: NodeMetadata(dataID: 7, epoch: 0, leader: nil),
                              ledger: Ledger(), journal: journal)
        let config = ClusterConfig(epoch: 1, leader: a, leaderDataID: 7)
        let heard = node.step(.received(from: west, .heartbeat(config)), now: clock.now)
        let reports = Self.sends(heard).compactMap { if case let (to, .report) = $0 { to } else { nil } }
        #expect(reports == [west], "the report goes to the gateway that asked")
        #expect(node.role == .leader)
        var actions = node.step(.received(from: east, .forward(epoch: 1, token: 5, body: Self.body(
            #"{"op":"open_account","request_id":"o1","account":"alice"}"#))), now: clock.now)
        actions += node.step(.received(from: west, .forward(epoch: 1, token: 5, body: Self.body(
            #"{"op":"open_account","request_id":"o2","account":"bob"}"#))), now: clock.now)
        // Not a gateway: ignored.
        actions += node.step(.received(from: b, .forward(epoch: 1, token: 6, body: Self.body(
            #"{"op":"open_account","request_id":"o3","account":"carol"}"#))), now: clock.now)
        Self.write(actions, to: journal)
        journal.sync()
        let after = node.step(.persisted(through: journal.lastSeq), now: clock.now)
        let replies = Self.sends(after).compactMap { if case let (to, .reply(_, token, _)) = $0 { (to, token) } else { nil } }
        #expect(replies.map(\.0) == [east, west] && replies.map(\.1) == [5, 5])
        #expect(journal.lastSeq == 2)
        // A redirect, too, goes to the asking gateway; appends from anyone but the peer are ignored.
        let other = NodeID(kind: .ledger, name: "ledger-c")!
        let stale = node.step(.received(from: east, .forward(epoch: 0, token: 8, body: [])), now: clock.now)
        #expect(Self.sends(stale).map(\.0) == [east])
        let foreign = node.step(.received(from: other, .append(Append(epoch: 2, prevSeq: 0, prevHash: .zero,
            commitSeq: 0, leaderLastSeq: 0, records: []))), now: clock.now)
        #expect(foreign.isEmpty && node.role == .leader && node.metadata.epoch == 1)
    }

    @Test mutating func aRequiredFollowerMustAcknowledgeBeforeTheLeaderAnswers() {
        let journal = MemoryJournal()
        var node = Self.makeNode(.primary, journal: journal)
        _ = node.step(.received(from: .gateway, .heartbeat(Self.config(epoch: 1, leader: .primary))), now: clock.now)
        _ = node.step(.received(from: .backup, .appendAck(AppendAck(epoch: 1, success: true, matchSeq: 0, lastSeq: 0))),
                      now: clock.now)
        let actions = node.step(.received(from: .gateway, .forward(epoch: 1, token: 3, body: Self.body(
            #"{"op":"open_account","request_id":"o","account":"alice"}"#))), now: clock.now)
        Self.write(actions, to: journal)
        #expect(Self.appends(actions).first?.records.map(\.seq) == [1], "the record goes to the follower at once")
        #expect(Self.replies(node.step(.persisted(through: 1), now: clock.now)).isEmpty,
                "durable on the leader only, but the caught-up follower is required")
        let acked = node.step(.received(from: .backup, .appendAck(AppendAck(epoch: 1, success: true, matchSeq: 1,
                                                                             lastSeq: 1))), now: clock.now)
        #expect(Self.replies(acked) == [3])
        #expect(node.report().peerInSync)
    }

    @Test mutating func aFollowerAcknowledgesOnlyWhatIsDurable() {
        let leaderJournal = MemoryJournal()
        var leader = Self.makeNode(.primary, journal: leaderJournal)
        _ = leader.step(.received(from: .gateway, .heartbeat(Self.config(epoch: 1, leader: .primary))), now: clock.now)
        _ = leader.step(.received(from: .backup, .appendAck(AppendAck(epoch: 1, success: true, matchSeq: 0, lastSeq: 0))),
                        now: clock.now)
        let served = leader.step(.received(from: .gateway, .forward(epoch: 1, token: 1, body: Self.body(
            #"{"op":"open_account","request_id":"o","account":"bob"}"#))), now: clock.now)
        let append = Self.appends(served)[0]

        let followerJournal = MemoryJournal()
        var follower = Self.makeNode(.backup, journal: followerJournal)
        let received = follower.step(.received(from: .primary, .append(append)), now: clock.now)
        Self.write(received, to: followerJournal)
        let early = Self.sends(received).compactMap { if case let (_, .appendAck(ack)) = $0 { ack } else { nil } }
        #expect(early.allSatisfy { $0.matchSeq == 0 }, "acknowledged a record that is not durable yet")
        #expect(follower.ledger.query(.balance(AccountID("bob")!)) != .failure(.unknownAccount(AccountID("bob")!)))
        followerJournal.sync()
        let synced = follower.step(.persisted(through: 1), now: clock.now)
        let acks = Self.sends(synced).compactMap { if case let (.primary, .appendAck(ack)) = $0 { ack } else { nil } }
        #expect(acks.map(\.matchSeq) == [1])
    }

    /// Seed 50971: the leader crashed before syncing its record 2, which its follower had; it came back leading a
    /// new epoch and wrote a different record 2. The follower must not carry its old match into the new epoch.
    @Test mutating func aMatchFromAnOlderEpochIsForgottenEvenUnderTheSameLeader() {
        func record(_ seq: Seq, epoch: UInt64, prevHash: RecordHash, account: String) -> JournalRecord {
            JournalRecord(epoch: epoch, seq: seq, prevHash: prevHash, payload: Entry(timeMillis: 1, mutations: [
                Mutation(requestID: RequestID("open-\(account)")!, operation: .openAccount(
                    AccountID(account)!, currency: .gbp, overdraftLimitMinor: 0))]).encoded())
        }
        let first = record(1, epoch: 1, prevHash: .zero, account: "a")
        let lost = record(2, epoch: 1, prevHash: first.hash, account: "lost")
        let replacement = record(2, epoch: 2, prevHash: first.hash, account: "b")

        let journal = MemoryJournal()
        var follower = Self.makeNode(.backup, journal: journal)
        let took = follower.step(.received(from: .primary, .append(Append(
            epoch: 1, prevSeq: 0, prevHash: .zero, commitSeq: 0, leaderLastSeq: 2, records: [first, lost]))),
            now: clock.now)
        Self.write(took, to: journal)
        journal.sync()
        _ = follower.step(.persisted(through: 2), now: clock.now)

        // Epoch 2, same leader, probing from its end (seq 1): the follower matches 1, not its stale 2.
        let probed = follower.step(.received(from: .primary, .append(Append(
            epoch: 2, prevSeq: 1, prevHash: first.hash, commitSeq: 2, leaderLastSeq: 2, records: []))),
            now: clock.now)
        let acks = Self.sends(probed).compactMap { if case let (.primary, .appendAck(ack)) = $0 { ack } else { nil } }
        #expect(acks.allSatisfy { $0.matchSeq <= 1 }, "claimed a match from the older epoch: \(acks)")
        #expect(follower.commitSeq <= 1, "committed a record the new leader does not have")

        // The leader then sends its own record 2: the follower replaces its old one.
        let replaced = follower.step(.received(from: .primary, .append(Append(
            epoch: 2, prevSeq: 1, prevHash: first.hash, commitSeq: 2, leaderLastSeq: 2, records: [replacement]))),
            now: clock.now)
        #expect(replaced.contains(.truncate(after: 1)))
        #expect(follower.lastHash == replacement.hash)
        #expect(follower.ledger.query(.balance(AccountID("lost")!)) == .failure(.unknownAccount(AccountID("lost")!)))
    }

    @Test mutating func aLeaderToldOfANewerEpochStopsServing() {
        var node = Self.makeNode(.primary)
        _ = node.step(.received(from: .gateway, .heartbeat(Self.config(epoch: 1, leader: .primary))), now: clock.now)
        let actions = node.step(.received(from: .backup, .appendAck(AppendAck(epoch: 2, success: false, matchSeq: 0,
                                                                                lastSeq: 0))), now: clock.now)
        #expect(node.role == .recovering)
        #expect(node.metadata.epoch == 2)
        #expect(actions.contains(.storeMetadata(node.metadata)), "the newer epoch is stored before anything else")
        let forward = node.step(.received(from: .gateway, .forward(epoch: 1, token: 4, body: Self.body(
            #"{"op":"balance","account":"x"}"#))), now: clock.now)
        #expect(Self.sends(forward).contains { if case (.gateway, .redirect(_, 4)) = $0 { true } else { false } })
    }

    @Test mutating func appendsFromAnOlderEpochAreRefused() {
        var node = Self.makeNode(.backup)
        _ = node.step(.received(from: .gateway, .heartbeat(Self.config(epoch: 3, leader: .backup))), now: clock.now)
        let actions = node.step(.received(from: .primary, .append(Append(
            epoch: 2, prevSeq: 0, prevHash: .zero, commitSeq: 0, leaderLastSeq: 0, records: []))), now: clock.now)
        #expect(node.role == .leader)
        let refusal = Self.sends(actions).contains {
            if case let (.primary, .appendAck(ack)) = $0 { !ack.success && ack.epoch == 3 } else { false }
        }
        #expect(refusal)
    }

    @Test mutating func aFollowerDropsRecordsTheNewLeaderNeverHad() {
        // The follower holds a record from epoch 1 that was never committed; the epoch-2 leader has none.
        let journal = MemoryJournal()
        journal.append([Self.openRecord(epoch: 1, seq: 1, prevHash: .zero, account: "ghost")])
        journal.sync()
        let ledger = LedgerRecovery.restore(journal: journal, commitFloor: 0)
        #expect(ledger.undoableEntryCount == 1, "records after the commit floor keep undo logs")
        var node = LedgerNode(id: .backup, metadata: NodeMetadata(dataID: 7, epoch: 1, leader: "backup"),
                              ledger: ledger, journal: journal)
        let actions = node.step(.received(from: .primary, .append(Append(
            epoch: 2, prevSeq: 0, prevHash: .zero, commitSeq: 0, leaderLastSeq: 0, records: []))), now: clock.now)
        #expect(actions.contains(.truncate(after: 0)))
        #expect(node.lastSeq == 0)
        #expect(node.ledger.query(.balance(AccountID("ghost")!)) == .failure(.unknownAccount(AccountID("ghost")!)))
        #expect(node.ledger.lastAppliedSeq == 0)
    }

    static func openRecord(epoch: UInt64, seq: Seq, prevHash: RecordHash, account: String) -> JournalRecord {
        JournalRecord(epoch: epoch, seq: seq, prevHash: prevHash, payload: Entry(timeMillis: 1, mutations: [
            Mutation(requestID: RequestID("open-\(account)")!, operation: .openAccount(
                AccountID(account)!, currency: .gbp, overdraftLimitMinor: 0))]).encoded())
    }

    /// A journal of `count` account openings, synced.
    static func journal(records count: Int) -> MemoryJournal {
        let journal = MemoryJournal()
        for seq in 1...count {
            journal.append([openRecord(epoch: 1, seq: Seq(seq), prevHash: journal.lastHash, account: "a\(seq)")])
        }
        journal.sync()
        return journal
    }

    @Test func aRestartedLedgerKeepsUndoLogsOnlyAfterItsCommitFloor() {
        let journal = Self.journal(records: 10)
        let ledger = LedgerRecovery.restore(journal: journal, commitFloor: 7)
        #expect(ledger.undoableEntryCount == 3)
        let node = LedgerNode(id: .backup, metadata: NodeMetadata(dataID: 7, epoch: 1, leader: nil), ledger: ledger,
                              journal: journal, commitFloor: 7)
        #expect(node.commitSeq == 7, "what was committed before the restart stays committed")
    }

    @Test func anArchivingReplayEvictsWhatTheStoreHoldsUpToTheCommitFloor() {
        let journal = Self.journal(records: 40)
        let full = LedgerRecovery.restore(journal: journal, commitFloor: 40)
        var settings = LedgerSettings()
        settings.archiveReceiptWindow = 0
        settings.idFilterByteCount = 1 << 12
        for (watermark, floor, evicted) in [(30, 20, 20), (30, 35, 30), (0, 40, 0)] as [(Seq, Seq, Seq)] {
            let restored = LedgerRecovery.restore(
                journal: journal, commitFloor: floor,
                archive: .init(settings: settings, store: NoHistory(), watermark: watermark, evictionIntervalRecords: 1))
            #expect(restored.archives && restored.evictedThrough == evicted, "store at \(watermark), floor \(floor)")
            #expect(restored.receiptsInMemory == 40 - Int(evicted))
            #expect(restored.undoableEntryCount == 40 - Int(floor), "records after the floor keep their undo logs")
            #expect(restored.hasSameState(as: full))
        }
    }

    @Test func restoringFromACheckpointEqualsReplayingTheWholeJournal() throws {
        let journal = Self.journal(records: 12)
        let full = LedgerRecovery.restore(journal: journal, commitFloor: 12)
        // The state after seq 5, through the checkpoint codec, then the records after it.
        var atFive = LedgerRecovery.restore(journal: Self.journal(records: 5), commitFloor: 5)
        atFive.keepsUndo = false
        var bytes: [UInt8] = []
        atFive.writeCheckpoint(chunkByteCount: 64) { bytes.append(contentsOf: $0) }
        let checkpoint = try bytes.withUnsafeBytes { try Ledger(checkpoint: $0) }
        let restored = LedgerRecovery.restore(checkpoint: checkpoint, journal: journal, commitFloor: 5)
        #expect(restored.hasSameState(as: full))
        #expect(restored.undoableEntryCount == 7)
    }

    /// Drives a lone leader through `count` account openings, each made durable at once.
    mutating func leaderWrites(_ count: Int, settings: LedgerSettings) -> (LedgerNode, [LedgerAction]) {
        let journal = MemoryJournal()
        var node = LedgerNode(id: .primary, metadata: NodeMetadata(dataID: 7, epoch: 0, leader: nil), ledger: Ledger(),
                              journal: journal, settings: settings)
        _ = node.step(.received(from: .gateway, .heartbeat(Self.config(epoch: 1, leader: .primary))), now: clock.now)
        var all: [LedgerAction] = []
        for index in 0..<count {
            clock.advance(milliseconds: 10)
            var actions = node.step(.received(from: .gateway, .forward(epoch: 1, token: UInt64(index), body: Self.body(
                #"{"op":"open_account","request_id":"o\#(index)","account":"a\#(index)"}"#))), now: clock.now)
            Self.write(actions, to: journal)
            journal.sync()
            actions += node.step(.persisted(through: journal.lastSeq), now: clock.now)
            all += actions
        }
        return (node, all)
    }

    static func checkpoints(_ actions: [LedgerAction]) -> [CheckpointImage] {
        actions.compactMap { if case let .writeCheckpoint(image) = $0 { return image } else { return nil } }
    }

    @Test mutating func checkpointsAreTakenAtTheCommitSeqOneAtATime() throws {
        var settings = LedgerSettings()
        settings.checkpointIntervalRecords = 4
        settings.commitFloorIntervalNanos = .milliseconds(30)
        var (node, actions) = leaderWrites(10, settings: settings)
        let images = Self.checkpoints(actions)
        #expect(images.map(\.position.seq) == [4], "one checkpoint in flight at a time")
        let floors = actions.compactMap { if case let .storeCommitFloor(seq) = $0 { return seq } else { return nil } }
        #expect(floors == [1, 3, 6, 9], "at most every 30 ms (a write every 10 ms): what had committed by then")
        // The image is the state at its seq, whatever was applied after it.
        let image = try #require(images.first)
        let settled = image.settledLedger()
        #expect(settled.lastAppliedSeq == 4 && settled.accountCount == 4)
        let next = Self.checkpoints(node.step(.checkpointWritten(seq: 4), now: clock.now))
        #expect(node.checkpointSeq == 4)
        #expect(next.map(\.position.seq) == [10], "the next one once the first is durable")
        _ = node.step(.checkpointFailed(seq: 10), now: clock.now)
        #expect(node.checkpointSeq == 4, "a failed checkpoint is not counted")
        #expect(Self.checkpoints(node.step(.tick, now: clock.now)).isEmpty, "retried after another interval")
    }
    @Test mutating func aRestartedLedgerDoesNotResumeLeadingOnItsOwn() {
        var node = LedgerNode(id: .primary, metadata: NodeMetadata(dataID: 7, epoch: 4, leader: "primary"),
                              ledger: Ledger(), journal: MemoryJournal())
        _ = node.step(.received(from: .gateway, .heartbeat(Self.config(epoch: 4, leader: .primary))), now: clock.now)
        #expect(node.role == .recovering, "it may have lost records it had sent; a new epoch is needed")
        _ = node.step(.received(from: .gateway, .heartbeat(Self.config(epoch: 5, leader: .primary))), now: clock.now)
        #expect(node.role == .leader)
    }

    @Test mutating func badRequestsAreAnsweredWithoutTouchingTheJournal() {
        var node = Self.makeNode(.primary)
        _ = node.step(.received(from: .gateway, .heartbeat(Self.config(epoch: 1, leader: .primary))), now: clock.now)
        let actions = node.step(.received(from: .gateway, .forward(epoch: 1, token: 2, body: [0xFF, 0x00])),
                                now: clock.now)
        #expect(Self.replies(actions) == [2])
        #expect(!actions.contains { if case .append = $0 { true } else { false } })
    }
}

/// Checkpoint transfer, event by event: the leader streams its newest checkpoint to a follower below its floor
/// within a window; the follower stages it, installs it and goes on from it.
@Suite struct CheckpointTransferTests {
    var clock = TestClock()

    final class Files: CheckpointReading {
        var files: [UInt64: [UInt8]] = [:]
        func checkpointBytes(seq: UInt64, offset: UInt64, maxBytes: Int) -> (totalBytes: UInt64, bytes: [UInt8])? {
            guard let file = files[seq], offset < UInt64(file.count) else { return nil }
            let end = min(file.count, Int(offset) + maxBytes)
            return (UInt64(file.count), Array(file[Int(offset)..<end]))
        }
    }

    static var settings: LedgerSettings {
        var settings = LedgerSettings()
        settings.maxBytesPerAppend = 300
        settings.maxInflightBytes = 600
        return settings
    }

    /// A leader whose journal holds 20 openings, with its floor (and newest checkpoint) at 10.
    mutating func leader() -> (LedgerNode, Files, MemoryJournal, CheckpointFile.Position) {
        let journal = LedgerNodeTests.journal(records: 20)
        let position = CheckpointFile.Position(seq: 10, epoch: 1, hash: journal.hash(at: 10)!)
        journal.advanceFloor(to: 10)
        let files = Files()
        files.files[10] = (0..<1_000).map { UInt8(truncatingIfNeeded: $0) }
        var atTen = LedgerRecovery.restore(journal: LedgerNodeTests.journal(records: 10), commitFloor: 10)
        atTen.keepsUndo = false
        let ledger = LedgerRecovery.restore(checkpoint: atTen, journal: journal, commitFloor: 20)
        var node = LedgerNode(id: .primary, metadata: NodeMetadata(dataID: 7, epoch: 1, leader: "primary"),
                              ledger: ledger, journal: journal, checkpoints: files, settings: Self.settings,
                              commitFloor: 20, checkpointSeq: 10)
        _ = node.step(.received(from: .gateway, .heartbeat(LedgerNodeTests.config(epoch: 2, leader: .primary))),
                      now: clock.now)
        #expect(node.role == .leader)
        return (node, files, journal, position)
    }

    static func chunks(_ actions: [LedgerAction]) -> [CheckpointChunk] {
        LedgerNodeTests.sends(actions).compactMap { if case let (.backup, .checkpointChunk(c)) = $0 { c } else { nil } }
    }

    @Test mutating func theLeaderStreamsItsCheckpointWithinAWindowThenReplicatesFromIt() {
        var (node, _, _, position) = leader()
        // The wiped follower answers the first probe: it has nothing.
        var actions = node.step(.received(from: .backup, .appendAck(AppendAck(epoch: 2, success: false, matchSeq: 0,
                                                                              lastSeq: 0))), now: clock.now)
        clock.advance(milliseconds: 200)
        actions += node.step(.tick, now: clock.now)
        var sent = Self.chunks(actions)
        #expect(sent.map(\.offset) == [0, 300], "two pieces fill the 600-byte window")
        #expect(sent.allSatisfy { $0.position == position && $0.totalBytes == 1_000 })
        #expect(LedgerNodeTests.appends(actions).isEmpty, "no appends below the floor")
        actions = node.step(.received(from: .backup, .checkpointAck(CheckpointAck(epoch: 2, seq: 10, receivedBytes: 600))),
                            now: clock.now)
        sent = Self.chunks(actions)
        #expect(sent.map(\.offset) == [600, 900])
        #expect(sent.last?.bytes.count == 100)
        // Installed: the follower matches at the checkpoint; records after it follow as appends.
        actions = node.step(.received(from: .backup, .appendAck(AppendAck(epoch: 2, success: true, matchSeq: 10,
                                                                           lastSeq: 10))), now: clock.now)
        let appends = LedgerNodeTests.appends(actions)
        #expect(appends.first?.prevSeq == 10 && appends.first?.records.first?.seq == 11)
    }

    @Test mutating func aFollowerThatLostWhatItStagedMakesTheLeaderStartOver() {
        var (node, _, _, _) = leader()
        _ = node.step(.received(from: .backup, .appendAck(AppendAck(epoch: 2, success: false, matchSeq: 0, lastSeq: 0))),
                      now: clock.now)
        clock.advance(milliseconds: 200)
        _ = node.step(.tick, now: clock.now)
        _ = node.step(.received(from: .backup, .checkpointAck(CheckpointAck(epoch: 2, seq: 10, receivedBytes: 600))),
                      now: clock.now)
        let actions = node.step(.received(from: .backup, .checkpointAck(CheckpointAck(epoch: 2, seq: 10,
                                                                                      receivedBytes: 0))), now: clock.now)
        #expect(Self.chunks(actions).map(\.offset) == [0, 300])
    }

    /// A follower node that stages everything the leader sends and is told the install worked.
    @Test mutating func aFollowerStagesInstallsAndGoesOnFromTheCheckpoint() throws {
        let journal = MemoryJournal()
        var node = LedgerNode(id: .backup, metadata: NodeMetadata(dataID: 9, epoch: 1, leader: nil), ledger: Ledger(),
                              journal: journal, settings: Self.settings)
        let source = LedgerNodeTests.journal(records: 10)
        let position = CheckpointFile.Position(seq: 10, epoch: 1, hash: source.hash(at: 10)!)
        let file = [UInt8](repeating: 7, count: 500)
        var actions = node.step(.received(from: .primary, .checkpointChunk(CheckpointChunk(
            epoch: 2, position: position, totalBytes: 500, offset: 0, bytes: Array(file[0..<300])))), now: clock.now)
        #expect(actions.contains { if case .stageCheckpointChunk = $0 { true } else { false } })
        actions = node.step(.received(from: .primary, .appendAck(AppendAck(epoch: 2, success: true, matchSeq: 0,
                                                                            lastSeq: 0))), now: clock.now)
        // A piece out of order is answered with what is staged, and not staged.
        actions = node.step(.received(from: .primary, .checkpointChunk(CheckpointChunk(
            epoch: 2, position: position, totalBytes: 500, offset: 400, bytes: [1]))), now: clock.now)
        #expect(!actions.contains { if case .stageCheckpointChunk = $0 { true } else { false } })
        #expect(LedgerNodeTests.sends(actions).contains { if case let (.primary, .checkpointAck(a)) = $0 { a.receivedBytes == 300 } else { false } })
        actions = node.step(.received(from: .primary, .checkpointChunk(CheckpointChunk(
            epoch: 2, position: position, totalBytes: 500, offset: 300, bytes: Array(file[300...])))), now: clock.now)
        #expect(actions.contains(.installCheckpoint(position)))
        // Appends are ignored while the install runs.
        actions = node.step(.received(from: .primary, .append(Append(epoch: 2, prevSeq: 10, prevHash: position.hash,
            commitSeq: 10, leaderLastSeq: 10, records: []))), now: clock.now)
        #expect(LedgerNodeTests.sends(actions).allSatisfy { if case (.primary, .appendAck) = $0 { false } else { true } })
        // The driver made the file the newest checkpoint and reset the journal; the node takes the state.
        var state = LedgerRecovery.restore(journal: source, commitFloor: 10)
        state.keepsUndo = false
        journal.reset(afterSeq: 10, epoch: 1, hash: position.hash)
        actions = node.step(.checkpointInstalled(CheckpointImage(position: position, ledger: state)), now: clock.now)
        #expect(node.lastSeq == 10 && node.commitSeq == 10 && node.checkpointSeq == 10)
        #expect(node.ledger.hasSameState(as: state))
        #expect(LedgerNodeTests.sends(actions).contains {
            if case let (.primary, .appendAck(a)) = $0 { a.success && a.matchSeq == 10 } else { false }
        })
    }

    @Test mutating func aFollowerThatHoldsTheCheckpointsRecordRefusesToGoBackToIt() {
        let journal = LedgerNodeTests.journal(records: 15)
        var node = LedgerNode(id: .backup, metadata: NodeMetadata(dataID: 9, epoch: 2, leader: "primary"),
                              ledger: LedgerRecovery.restore(journal: journal, commitFloor: 0), journal: journal,
                              settings: Self.settings)
        let position = CheckpointFile.Position(seq: 10, epoch: 1, hash: journal.hash(at: 10)!)
        let actions = node.step(.received(from: .primary, .checkpointChunk(CheckpointChunk(
            epoch: 2, position: position, totalBytes: 100, offset: 0, bytes: [UInt8](repeating: 1, count: 100)))),
                                now: clock.now)
        #expect(!actions.contains { if case .stageCheckpointChunk = $0 { true } else { false } })
        #expect(!actions.contains { if case .installCheckpoint = $0 { true } else { false } })
        #expect(LedgerNodeTests.sends(actions).contains {
            if case let (.primary, .appendAck(a)) = $0 { a.success && a.matchSeq >= 10 } else { false }
        }, "it says it already matches there")
        #expect(node.lastSeq == 15)
    }
}
