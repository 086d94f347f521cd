/// The three processes of a cluster. Ledgers have fixed names; which one leads is decided per epoch by the gateway.
public enum NodeID: UInt8, Hashable, Sendable, CaseIterable, CustomStringConvertible {
    case gateway = 0
    case primary = 1
    case backup = 2

    public static let ledgers: [NodeID] = [.primary, .backup]

    public var isLedger: Bool { self != .gateway }

    /// The other ledger. Only meaningful for ledgers.
    public var peer: NodeID {
        switch self {
        case .primary: return .backup
        case .backup: return .primary
        case .gateway: fatalError("the gateway has no peer ledger")
        }
    }

    public var name: String {
        switch self {
        case .gateway: return "gateway"
        case .primary: return "primary"
        case .backup: return "backup"
        }
    }

    public init?(name: String) {
        switch name {
        case "gateway": self = .gateway
        case "primary": self = .primary
        case "backup": self = .backup
        default: return nil
        }
    }

    public var description: String { name }
}
