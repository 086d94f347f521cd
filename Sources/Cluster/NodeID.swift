/// A process of the cluster, by kind and by the name the cluster file gives it (`Topology`).
///
/// Names are unique within a cluster and travel on the wire (every bundle names its sender), so a process that
/// does not know a sender drops its messages instead of mistaking it for another. The local cluster's three
/// processes are `gateway`, `primary` and `backup`; a topology may name them otherwise and may list several
/// gateways. Ledgers come in a pair; which one leads is decided per epoch by the gateway.
public struct NodeID: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// What a process is. The raw values are on the wire; a kind added later (the stand-in) takes a new one.
    public enum Kind: UInt8, Hashable, Sendable, CaseIterable, CustomStringConvertible {
        case gateway = 0
        case ledger = 1

        public var name: String {
            switch self {
            case .gateway: return "gateway"
            case .ledger: return "ledger"
            }
        }

        public init?(name: String) {
            guard let kind = Kind.allCases.first(where: { $0.name == name }) else { return nil }
            self = kind
        }

        public var description: String { name }
    }

    public let kind: Kind
    public let name: String

    /// Names: 1 to 32 characters of letters, digits, `-`, `_` and `.` (they name data directories and log files).
    public static let maxNameBytes = 32

    public init?(kind: Kind, name: String) {
        guard Self.isValidName(name) else { return nil }
        self.kind = kind
        self.name = name
    }

    private init(known kind: Kind, _ name: String) {
        self.kind = kind
        self.name = name
    }

    public static func isValidName(_ name: String) -> Bool {
        let utf8 = name.utf8
        guard (1...maxNameBytes).contains(utf8.count) else { return false }
        return utf8.allSatisfy { byte in
            (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                || byte == 0x2D || byte == 0x5F || byte == 0x2E
        }
    }

    /// The local cluster's processes (and the simulator's).
    public static let gateway = NodeID(known: .gateway, "gateway")
    public static let primary = NodeID(known: .ledger, "primary")
    public static let backup = NodeID(known: .ledger, "backup")
    /// The local cluster's ledger pair, in order of preference between equal journals.
    public static let ledgers: [NodeID] = [.primary, .backup]

    public var isLedger: Bool { kind == .ledger }
    public var isGateway: Bool { kind == .gateway }

    public static func < (a: NodeID, b: NodeID) -> Bool { (a.kind.rawValue, a.name) < (b.kind.rawValue, b.name) }

    public var description: String { name }
}
