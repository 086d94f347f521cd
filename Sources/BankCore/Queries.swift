/// Reads. They never change the state, so they are never journaled; in a batch they see the earlier items.
extension Ledger {
    public func query(_ query: Query) -> Result<QueryResult, LedgerError> {
        switch query {
        case let .balance(id):
            return balanceView(of: id).map(QueryResult.balance)
        case let .statement(id, limit, beforeSeq):
            guard limit >= 1 else { return .failure(.invalid("statement limit must be at least 1")) }
            guard let slot = slots[id] else {
                // A settlement account that has not been used yet: no lines, like any settlement account.
                return id.isSettlement ? .success(.statement(account: id, entries: [])) : .failure(.unknownAccount(id))
            }
            do {
                return .success(.statement(account: id, entries: try statementPage(of: slot, limit: limit,
                                                                                   beforeSeq: beforeSeq)))
            } catch {
                return .failure(error)
            }
        }
    }

    /// A settlement account is never unknown (it exists implicitly, at balance 0 before its first use). Its
    /// overdraft is unlimited, which the view reports as `Int64.max` for both the limit and `available`.
    private func balanceView(of id: AccountID) -> Result<BalanceView, LedgerError> {
        if id.isSettlement {
            let currency = CurrencyCode(String(id.rawValue.dropFirst("settlement:".count)))!
            let balance = slots[id].map { accounts[$0].balanceMinor } ?? 0
            return .success(BalanceView(account: id, balanceMinor: balance, availableMinor: .max, heldMinor: 0,
                                        currency: currency, overdraftLimitMinor: .max, frozen: false))
        }
        guard let slot = slots[id] else { return .failure(.unknownAccount(id)) }
        let account = accounts[slot]
        return .success(BalanceView(
            account: id, balanceMinor: account.balanceMinor, availableMinor: account.availableMinor,
            heldMinor: account.heldMinor, currency: account.currency,
            overdraftLimitMinor: account.overdraftLimitMinor, frozen: account.frozen))
    }
}
