import BankCore
import Cluster
import Storage

/// The properties every run must keep, checked while it runs and at the end.
extension Simulator {
    /// A newly elected leader holds every write a client was told about, at the seq it was told.
    func checkLeaderHoldsAcknowledged(_ id: NodeID) {
        guard let ledger = ledgers[id]?.node?.ledger else { return }
        for acknowledged in model.acknowledged.keys.sorted() {
            let seq = model.acknowledged[acknowledged]!
            guard let receipt = ledger.receipt(for: acknowledged.scoped), receipt.seq == seq else {
                fail("acknowledged write lost: \(acknowledged.requestID) of client \(acknowledged.client) (seq \(seq)) "
                    + "is not on \(id), which now leads")
                return
            }
        }
    }

    /// Committed journals agree: where both ledgers have committed, their hashes at that seq are equal (the hash
    /// chain makes that the whole prefix).
    func checkReplicas() {
        guard let a = ledgers[.primary]?.node, let b = ledgers[.backup]?.node else { return }
        let seq = min(a.commitSeq, b.commitSeq)
        // Below a journal's floor only its checkpoint knows the state: compare where both still hold records.
        let floor = max(ledgers[.primary]!.journal.floorSeq, ledgers[.backup]!.journal.floorSeq)
        guard seq > 0, seq >= floor else { return }
        let hashA = ledgers[.primary]!.journal.hash(at: seq)
        let hashB = ledgers[.backup]!.journal.hash(at: seq)
        if hashA == nil || hashA != hashB {
            fail("committed journals differ at seq \(seq): primary \(hashA?.description ?? "-"), backup \(hashB?.description ?? "-")")
        }
    }

    /// The cluster is back to normal: a confirmed leader, a recorded in-sync follower, identical journals, every
    /// client answered.
    func isSettled() -> Bool {
        guard let gateway, gateway.leaderConfirmed, gateway.config.follower != nil, !clientsActive,
              clients.allSatisfy({ $0.outstanding == nil }) else { return false }
        guard let a = ledgers[.primary], let b = ledgers[.backup], a.node != nil, b.node != nil,
              !a.paused, !b.paused else { return false }
        return a.journal.lastSeq == b.journal.lastSeq && a.journal.lastHash == b.journal.lastHash
            && a.node!.commitSeq == a.journal.lastSeq && b.node!.commitSeq == b.journal.lastSeq
    }

    func finalChecks() {
        guard let leaderID = gateway?.config.leader, let leader = ledgers[leaderID]?.node,
              let follower = ledgers[leaderID == .primary ? .backup : .primary]?.node else { return }
        checkLeaderHoldsAcknowledged(leaderID)
        if leader.ledger.stateDigest != follower.ledger.stateDigest {
            fail("the ledgers' balances differ although their journals are identical")
        }
        // Applied at most once: no request id in two journal entries (an id with its client's scope: clients with
        // keys all use the same ids, each its own).
        var seen: [RequestID: UInt64] = [:]
        for record in ledgers[leaderID]!.archive + ledgers[leaderID]!.journal.records {
            guard let entry = try? Entry(decoding: record.payload[...]) else {
                fail("journal record \(record.seq) does not decode")
                return
            }
            for mutation in entry.mutations {
                if let earlier = seen[mutation.requestID] {
                    fail("request \(mutation.requestID) applied twice: seq \(earlier) and seq \(record.seq)")
                    return
                }
                seen[mutation.requestID] = record.seq
            }
        }
        leader.ledger.checkInvariants()
        // Cuts roll entries back through undo logs: the result must be what replaying the journal gives.
        // A ledger replayed from the very first record holds every statement line in memory.
        let fromTheStart = [NodeID.primary, .backup].first { ledgers[$0]?.historyBase == nil }
            .map { replayWholeHistory(ledgers[$0]!) }
        for id in [NodeID.primary, .backup] {
            guard let host = ledgers[id], let node = host.node else { continue }
            if replayWholeHistory(host).stateDigest != node.ledger.stateDigest {
                fail("\(id)'s state differs from its own journal replayed (a rollback went wrong)")
            }
            // Statements read the same, page by page, whether their older lines left memory for the store (or were
            // copied from the leader's) or not.
            if node.ledger.archives, node.historyComplete, let replayed = fromTheStart {
                for account in model.accounts {
                    var before: Seq?
                    while failure == nil {
                        let query = Query.statement(AccountID(account)!, limit: 7, beforeSeq: before)
                        let expected = replayed.query(query)
                        if node.ledger.query(query) != expected {
                            fail("\(id)'s statement of \(account) before \(before.map(String.init) ?? "-") differs from its journal replayed")
                        }
                        guard case let .success(.statement(_, entries)) = expected, entries.count >= 7 else { break }
                        before = entries.last!.seq
                    }
                }
            }
        }
    }
}
