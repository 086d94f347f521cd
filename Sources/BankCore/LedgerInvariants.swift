/// Self-checks for tests and the simulator, and a fingerprint to compare replicas.
extension Ledger {
    /// The sum of every balance per currency, settlement accounts included: always zero (double entry).
    ///
    /// Summed with wrapping arithmetic: single balances are bounded but their sum need not be, and since the true
    /// sum is zero, the wrapped sum is zero exactly when the true one is (up to a multiple of 2^64, which a real
    /// bookkeeping error will not hit).
    public func balanceTotals() -> [CurrencyCode: Int64] {
        var totals: [CurrencyCode: Int64] = [:]
        for account in accounts { totals[account.currency, default: 0] &+= account.balanceMinor }
        return totals
    }

    /// Crashes on a broken invariant: better than serving wrong balances. O(accounts + holds).
    ///
    /// - every currency's balances sum to zero;
    /// - the slot tables agree with the accounts;
    /// - a customer account: overdraft limit in range, `available ≥ 0` and representable, `held ≥ 0` and equal to
    ///   the sum of its open holds, its last statement line shows its balance (no lines: balance 0);
    /// - a settlement account: named after its currency, never frozen, no holds, no statement;
    /// - every hold: a valid amount on an existing customer account.
    public func checkInvariants() {
        for (currency, total) in balanceTotals() {
            invariant(total == 0, "books do not balance in \(currency): \(total)")
        }
        invariant(slots.count == accounts.count && book.accountCount == accounts.count, "slot tables out of step")
        var heldBySlot = [Int64](repeating: 0, count: accounts.count)
        for (holdID, hold) in holds {
            invariant(Money.isValidAmount(hold.amountMinor), "hold \(holdID) has amount \(hold.amountMinor)")
            guard let slot = slots[hold.account], !accounts[slot].isSettlement else {
                invariantFailure("hold \(holdID) is on \(hold.account), which is not a customer account")
            }
            if hold.isOpen { heldBySlot[slot] &+= hold.amountMinor }
        }
        for (slot, account) in accounts.enumerated() {
            let id = account.id
            invariant(slots[id] == slot, "\(id) is not found at its slot \(slot)")
            if account.isSettlement {
                invariant(id == .settlement(account.currency) && settlementSlots[account.currency] == slot,
                          "\(id) is not the settlement account of its currency")
                invariant(!account.frozen && account.heldMinor == 0, "settlement account \(id) is frozen or holds funds")
                invariant(book.lineCount(of: slot) == 0, "settlement account \(id) has statement lines")
                continue
            }
            invariant(!id.isSettlement, "customer account named like a settlement account: \(id)")
            invariant((0...Money.maximumOverdraftMinor).contains(account.overdraftLimitMinor),
                      "\(id) has overdraft limit \(account.overdraftLimitMinor)")
            invariant(!account.balanceMinor.addingReportingOverflow(account.overdraftLimitMinor).overflow,
                      "\(id): balance + overdraft limit is not representable")
            invariant(account.heldMinor >= 0, "\(id) holds a negative amount")
            invariant(account.heldMinor == heldBySlot[slot],
                      "\(id): held \(account.heldMinor) differs from its open holds \(heldBySlot[slot])")
            invariant(account.availableMinor >= 0, "\(id) is beyond its limit: available \(account.availableMinor)")
            // (An account whose newest line left memory for the history store is not checked here.)
            invariant(book.newestLineLeftMemory(of: slot)
                        || account.balanceMinor == book.newestLine(of: slot)?.balanceAfterMinor ?? 0,
                      "\(id): balance \(account.balanceMinor) differs from its statement")
        }
        invariant(settlementSlots.allSatisfy { accounts.indices.contains($0.value) && accounts[$0.value].isSettlement },
                  "a settlement slot points at a customer account")
        // A request the filter has never seen is taken as new without looking further (`perform`).
        if let filter = archive?.filter {
            receipts.forEach { id, _ in
                invariant(filter.mayContain(.request, id.rawValue), "request \(id) is in memory but not in the id filter")
            }
        }
    }

    /// A cheap fingerprint of the state (accounts in slot order, open holds, statement lengths, last seq), to
    /// compare replicas: two ledgers fed the same journal have the same digest. O(accounts + holds).
    ///
    /// Accounts are hashed in slot order (the journal fixes it). Open holds live in a dictionary, whose order
    /// differs between processes, so each hold is hashed on its own and the hashes are combined by wrapping
    /// addition, which does not depend on order (and needs no sort). Receipts and closed holds are left out: with
    /// an archive, replicas evict them at different times (an entry applied twice still shows in the balances and
    /// statement lengths).
    public var stateDigest: UInt64 {
        var hash = FNV1a()
        for (slot, account) in accounts.enumerated() {
            hash.mix(account.id.rawValue)
            hash.mix(account.currency.rawValue)
            hash.mix(UInt64(bitPattern: account.balanceMinor))
            hash.mix(UInt64(bitPattern: account.heldMinor))
            hash.mix(UInt64(bitPattern: account.overdraftLimitMinor))
            hash.mix(UInt64(account.frozen ? 1 : 0))
            hash.mix(UInt64(book.lineCount(of: slot)))
        }
        var holdSum: UInt64 = 0
        for (id, hold) in holds where hold.isOpen {
            var holdHash = FNV1a()
            holdHash.mix(id.rawValue)
            holdHash.mix(hold.account.rawValue)
            holdHash.mix(UInt64(bitPattern: hold.amountMinor))
            holdSum &+= holdHash.finalized
        }
        hash.mix(holdSum)
        hash.mix(lastAppliedSeq)
        return hash.finalized
    }
}

/// 64-bit FNV-1a, with a final avalanche so that sums of hashes stay well spread.
struct FNV1a {
    private(set) var state: UInt64 = 0xcbf2_9ce4_8422_2325

    mutating func mix(byte: UInt8) {
        state = (state ^ UInt64(byte)) &* 0x100_0000_01b3
    }

    mutating func mix(_ value: UInt64) {
        var value = value
        for _ in 0..<8 {
            mix(byte: UInt8(truncatingIfNeeded: value))
            value >>= 8
        }
    }

    /// Length first, so that ("ab", "c") and ("a", "bc") differ.
    mutating func mix(_ string: String) {
        mix(UInt64(string.utf8.count))
        for byte in string.utf8 { mix(byte: byte) }
    }

    var finalized: UInt64 {
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
