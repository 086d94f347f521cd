import Testing
@testable import BankCore

/// The bank's rules, as the specification states them.
@Suite struct LedgerTests {
    var ledger = Ledger()
    var seq: Seq = 0

    static func id(_ raw: String) -> AccountID { AccountID(raw)! }
    static func rid(_ raw: String) -> RequestID { RequestID(raw)! }
    static func hold(_ raw: String) -> HoldID { HoldID(raw)! }

    @discardableResult
    mutating func run(_ requestID: String, _ operation: Operation) -> Result<Receipt, LedgerError> {
        seq += 1
        let (response, entry) = ledger.execute(.mutation(Mutation(requestID: Self.rid(requestID), operation: operation)),
                                               seq: seq, timeMillis: 1_000 + Int64(seq))
        if entry == nil { seq -= 1 }
        ledger.checkInvariants()
        guard case let .mutation(result) = response else { fatalError("not a mutation response") }
        return result
    }

    func balance(_ account: String) -> BalanceView? {
        if case let .success(.balance(view)) = ledger.query(.balance(Self.id(account))) { return view }
        return nil
    }

    mutating func openFunded(_ account: String, _ amount: Int64, overdraft: Int64 = 0, currency: CurrencyCode = .gbp) {
        run("open-\(account)", .openAccount(Self.id(account), currency: currency, overdraftLimitMinor: overdraft))
        if amount > 0 { run("fund-\(account)", .deposit(Self.id(account), amountMinor: amount)) }
    }

    @Test mutating func depositsAndWithdrawalsBalanceAgainstSettlement() throws {
        openFunded("alice", 1_000)
        #expect(try run("w", .withdraw(Self.id("alice"), amountMinor: 300)).get().balanceMinor == 700)
        #expect(ledger.balanceTotals()[.gbp] == 0, "every movement has two sides")
        #expect(run("w2", .withdraw(Self.id("alice"), amountMinor: 701))
                == .failure(.insufficientFunds(Self.id("alice"), availableMinor: 700, requestedMinor: 701)))
    }

    @Test mutating func theOverdraftLimitIsTheFloor() throws {
        openFunded("bob", 100, overdraft: 50)
        #expect(try run("w1", .withdraw(Self.id("bob"), amountMinor: 150)).get().balanceMinor == -50)
        #expect(run("w2", .withdraw(Self.id("bob"), amountMinor: 1)) == .failure(
            .insufficientFunds(Self.id("bob"), availableMinor: 0, requestedMinor: 1)))
    }

    @Test mutating func transfersCheckAccountsCurrencyFundsAndFreezes() throws {
        openFunded("a", 500)
        openFunded("b", 0)
        openFunded("e", 0, currency: CurrencyCode("EUR")!)
        let receipt = try? run("t1", .transfer(from: Self.id("a"), to: Self.id("b"), amountMinor: 200, reference: "r")).get()
        #expect(receipt?.account == Self.id("a") && receipt?.balanceMinor == 300, "the sender's figures only")
        #expect(balance("b")?.balanceMinor == 200)
        #expect(run("t2", .transfer(from: Self.id("a"), to: Self.id("zz"), amountMinor: 1, reference: nil))
                == .failure(.unknownAccount(Self.id("zz"))))
        #expect(run("t3", .transfer(from: Self.id("a"), to: Self.id("e"), amountMinor: 1, reference: nil))
                == .failure(.currencyMismatch(from: .gbp, to: CurrencyCode("EUR")!)))
        #expect(run("t4", .transfer(from: Self.id("a"), to: Self.id("a"), amountMinor: 1, reference: nil))
                == .failure(.invalid("'from' and 'to' must be different accounts")))
        run("f", .freeze(Self.id("a")))
        #expect(run("t5", .transfer(from: Self.id("a"), to: Self.id("b"), amountMinor: 1, reference: nil))
                == .failure(.accountFrozen(Self.id("a"))))
        #expect((try? run("t6", .transfer(from: Self.id("b"), to: Self.id("a"), amountMinor: 1, reference: nil)).get()) != nil,
                "a frozen account still accepts credits")
        run("u", .unfreeze(Self.id("a")))
        #expect((try? run("t7", .transfer(from: Self.id("a"), to: Self.id("b"), amountMinor: 1, reference: nil)).get()) != nil)
    }

    @Test mutating func holdsReduceAvailableNotBalanceUntilCapturedOrReleased() throws {
        openFunded("c", 1_000)
        let held = try? run("h1", .hold(Self.id("c"), amountMinor: 400, holdID: Self.hold("card1"))).get()
        #expect(held?.balanceMinor == 1_000 && held?.availableMinor == 600 && held?.heldMinor == 400)
        #expect(run("h2", .hold(Self.id("c"), amountMinor: 601, holdID: Self.hold("card2")))
                == .failure(.insufficientFunds(Self.id("c"), availableMinor: 600, requestedMinor: 601)))
        #expect(run("h3", .hold(Self.id("c"), amountMinor: 1, holdID: Self.hold("card1"))) == .failure(.holdExists(Self.hold("card1"))))
        #expect(run("x1", .capture(Self.hold("card1"), amountMinor: 401))
                == .failure(.invalid("capture amount 401 exceeds the held amount 400")))
        let captured = try? run("x2", .capture(Self.hold("card1"), amountMinor: 150)).get()
        #expect(captured?.capturedMinor == 150 && captured?.releasedMinor == 250)
        #expect(balance("c")?.balanceMinor == 850 && balance("c")?.availableMinor == 850 && balance("c")?.heldMinor == 0)
        #expect(run("x3", .capture(Self.hold("card1"), amountMinor: nil)) == .failure(.holdClosed(Self.hold("card1"))))
        #expect(run("x4", .release(Self.hold("nope"))) == .failure(.unknownHold(Self.hold("nope"))))
        run("h4", .hold(Self.id("c"), amountMinor: 100, holdID: Self.hold("card3")))
        run("f", .freeze(Self.id("c")))
        #expect(run("h5", .hold(Self.id("c"), amountMinor: 1, holdID: Self.hold("card4"))) == .failure(.accountFrozen(Self.id("c"))))
        #expect(run("x5", .capture(Self.hold("card3"), amountMinor: nil)) == .failure(.accountFrozen(Self.id("c"))))
        #expect(try run("x6", .release(Self.hold("card3"))).get().releasedMinor == 100, "release is allowed when frozen")
        #expect(ledger.balanceTotals()[.gbp] == 0)
    }

    @Test mutating func aRepeatedRequestIsReplayedNotReapplied() throws {
        openFunded("d", 100)
        let first = try? run("dep", .deposit(Self.id("d"), amountMinor: 5)).get()
        let again = try? run("dep", .deposit(Self.id("d"), amountMinor: 5)).get()
        #expect(again?.replayed == true && again?.seq == first?.seq && again?.balanceMinor == first?.balanceMinor)
        #expect(balance("d")?.balanceMinor == 105)
        #expect(run("dep", .deposit(Self.id("d"), amountMinor: 6)) == .failure(.idempotencyConflict(Self.rid("dep"))))
        // A refusal does not consume its request id: a later retry is evaluated afresh.
        #expect(run("big", .withdraw(Self.id("d"), amountMinor: 1_000)) != nil)
        run("more", .deposit(Self.id("d"), amountMinor: 1_000))
        #expect((try? run("big", .withdraw(Self.id("d"), amountMinor: 1_000)).get())?.replayed == false)
    }

    @Test mutating func anAtomicBatchIsAllOrNothing() throws {
        openFunded("p", 100)
        openFunded("q", 0)
        seq += 1
        let items: [BatchItem] = [
            .mutation(Mutation(requestID: Self.rid("b1"), operation: .transfer(from: Self.id("p"), to: Self.id("q"), amountMinor: 60, reference: nil))),
            .mutation(Mutation(requestID: Self.rid("b2"), operation: .hold(Self.id("q"), amountMinor: 10, holdID: Self.hold("hb")))),
            .mutation(Mutation(requestID: Self.rid("b3"), operation: .transfer(from: Self.id("p"), to: Self.id("q"), amountMinor: 60, reference: nil))),
        ]
        let (response, entry) = ledger.execute(.batch(items, atomic: true), seq: seq, timeMillis: 5)
        guard case let .batch(_, atomic, failedIndex) = response else { Issue.record("not a batch"); return }
        #expect(atomic && failedIndex == 2 && entry == nil)
        #expect(balance("p")?.balanceMinor == 100 && balance("q")?.balanceMinor == 0 && balance("q")?.heldMinor == 0)
        #expect(ledger.receipt(for: Self.rid("b1")) == nil, "the rolled-back request id is free again")
        if case let .success(.statement(_, lines)) = ledger.query(.statement(Self.id("q"), limit: 10, beforeSeq: nil)) {
            #expect(lines.isEmpty, "no statement line survives the rollback")
        }
        ledger.checkInvariants()
        // Without atomic, the first two apply and the third is refused.
        let (plain, plainEntry) = ledger.execute(.batch(items, atomic: false), seq: seq, timeMillis: 6)
        guard case let .batch(results, _, nil) = plain else { Issue.record("not a batch"); return }
        #expect(results.count == 3 && plainEntry?.mutations.count == 2)
        #expect(balance("p")?.balanceMinor == 40 && balance("q")?.availableMinor == 50)
    }

    @Test mutating func statementsPageNewestFirst() throws {
        openFunded("s", 1_000)
        openFunded("t", 0)
        for index in 0..<5 {
            run("t\(index)", .transfer(from: Self.id("s"), to: Self.id("t"), amountMinor: Int64(index + 1), reference: nil))
        }
        guard case let .success(.statement(_, page)) = ledger.query(.statement(Self.id("s"), limit: 3, beforeSeq: nil)) else {
            Issue.record("no statement"); return
        }
        #expect(page.map(\.amountMinor) == [-5, -4, -3])
        #expect(page[0].balanceAfterMinor == 1_000 - 15 && page[0].counterparty == Self.id("t"))
        guard case let .success(.statement(_, next)) = ledger.query(.statement(Self.id("s"), limit: 3, beforeSeq: page.last!.seq)) else {
            Issue.record("no statement"); return
        }
        #expect(next.map(\.amountMinor) == [-2, -1, 1_000])
        #expect(next.last?.kind == .deposit && next.last?.counterparty == .settlement(.gbp))
    }

    @Test mutating func overflowIsRefusedNotCrashed() throws {
        openFunded("big", 0)
        for index in 0..<9 { run("d\(index)", .deposit(Self.id("big"), amountMinor: Money.maximumAmountMinor)) }
        var refused = false
        for index in 9..<10_000 where !refused {
            if case .failure(.invalid) = run("d\(index)", .deposit(Self.id("big"), amountMinor: Money.maximumAmountMinor)) {
                refused = true
            }
        }
        #expect(refused)
    }

    /// Random operations keep every invariant, and replaying the journal entries rebuilds the same state.
    @Test mutating func replayingTheEntriesRebuildsTheSameState() throws {
        var random = SplitMix(seed: 99)
        var entries: [(Entry, Seq)] = []
        let names = (0..<5).map { "r\($0)" }
        for name in names {
            seq += 1
            let (_, entry) = ledger.execute(.mutation(Mutation(requestID: Self.rid("o" + name), operation: .openAccount(
                Self.id(name), currency: .gbp, overdraftLimitMinor: Int64(random.next() % 500)))), seq: seq, timeMillis: 1)
            entries.append((entry!, seq))
        }
        for index in 0..<3_000 {
            let a = Self.id(names[Int(random.next() % 5)]), b = Self.id(names[Int(random.next() % 5)])
            let amount = Int64(1 + random.next() % 700)
            let operation: Operation
            switch random.next() % 6 {
            case 0: operation = .deposit(a, amountMinor: amount)
            case 1: operation = .withdraw(a, amountMinor: amount)
            case 2: operation = .hold(a, amountMinor: amount, holdID: Self.hold("h\(index)"))
            case 3: operation = .capture(Self.hold("h\(Int(random.next() % UInt64(index + 1)))"), amountMinor: random.next() % 2 == 0 ? nil : amount)
            case 4: operation = .freeze(a)
            default: operation = random.next() % 4 == 0 ? .unfreeze(a) : .transfer(from: a, to: b, amountMinor: amount, reference: nil)
            }
            // Some request ids repeat, to exercise replays and conflicts.
            let requestID = random.next() % 10 == 0 ? "x\(random.next() % 50)" : "q\(index)"
            seq += 1
            let (_, entry) = ledger.execute(.mutation(Mutation(requestID: Self.rid(requestID), operation: operation)),
                                            seq: seq, timeMillis: Int64(index))
            if let entry {
                entries.append((entry, seq))
                #expect(try Entry(decoding: entry.encoded()[...]) == entry)
            } else {
                seq -= 1
            }
            ledger.checkInvariants()
        }
        var replica = Ledger()
        for (entry, entrySeq) in entries { replica.apply(try Entry(decoding: entry.encoded()[...]), seq: entrySeq) }
        #expect(replica.stateDigest == ledger.stateDigest)
        #expect(replica.receipt(for: Self.rid("q2999")) == ledger.receipt(for: Self.rid("q2999")))
    }

    @Test func entryDecodingRejectsDamagedBytes() {
        let entry = Entry(timeMillis: 7, mutations: [Mutation(requestID: Self.rid("r"), operation: .transfer(
            from: Self.id("a"), to: Self.id("b"), amountMinor: 5, reference: "x"))])
        let bytes = entry.encoded()
        for cut in 0..<bytes.count {
            #expect(throws: EntryDecodingError.self) { _ = try Entry(decoding: bytes[..<cut]) }
        }
        var bad = bytes
        bad[0] = 9
        #expect(throws: EntryDecodingError.self) { _ = try Entry(decoding: bad[...]) }
    }
}

struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
