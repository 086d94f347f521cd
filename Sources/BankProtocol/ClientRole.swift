/// What a client key may ask for (issue 11): each client key carries one role, and a request outside it is answered
/// `forbidden` and changes nothing.
public enum ClientRole: String, Hashable, Sendable, CaseIterable {
    /// Runs the bank: status, switchover, the audit trail (and the stand-in's controls when they exist). Moves no money.
    case `operator`
    /// An application: money operations and reads (a batch included).
    case app
    /// Reads only: balances, statements, status.
    case reader

    /// Whether this role may send a request of `kind`. A request the gateway cannot classify (`invalid`) is allowed
    /// through so that it gets its real error (`bad_request`, `unknown_op`), which changes nothing either.
    public func allows(_ kind: RequestKind) -> Bool {
        switch kind {
        case .invalid, .status:
            return true
        case .switchover, .audit:
            return self == .operator
        case .balance, .statement:
            return self == .app || self == .reader
        case .openAccount, .deposit, .withdraw, .transfer, .hold, .capture, .release, .freeze, .unfreeze, .batch:
            return self == .app
        }
    }
}
