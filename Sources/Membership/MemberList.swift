import BankProtocol
import Cluster
import ZeroMQ

/// The ZAP domains a process's server sockets set: which kind of member each lets in.
public enum ZAPDomain {
    /// A process's inbox: the other processes of the topology.
    public static let peers = "bank-peers"
    /// A gateway's client socket: client keys.
    public static let clients = "bank-clients"
}

/// One member of the bank: a process of the topology or a client, known by its CURVE public key.
public struct Member: Hashable, Sendable {
    public enum Kind: Hashable, Sendable {
        case process(NodeID)
        case client(ClientRole)
    }

    public var name: String
    public var kind: Kind
    public var publicKey: String

    public init(process: NodeID, publicKey: String) {
        name = process.name
        kind = .process(process)
        self.publicKey = publicKey
    }

    public init(client name: String, role: ClientRole, publicKey: String) {
        self.name = name
        kind = .client(role)
        self.publicKey = publicKey
    }

    /// What the ZAP handler gives its connections, and every message on them then carries (`User-Id`):
    /// `ledger:primary`, `gateway:gateway`, `client:app:alice`.
    public var userID: String {
        switch kind {
        case let .process(node): return Self.userID(of: node)
        case let .client(role): return "client:\(role.rawValue):\(name)"
        }
    }

    /// A process's user id: its kind and name.
    public static func userID(of process: NodeID) -> String { "\(process.kind.name):\(process.name)" }
}

/// Who may connect: the members' public keys (the allow-list a ZAP handler consults). Reloaded as a whole (on
/// `SIGHUP`): `revoked(comparedWith:)` says which keys a reload removed, so their connections can be closed.
public struct MemberList: Hashable, Sendable {
    public struct Error: Swift.Error, Hashable, Sendable, CustomStringConvertible {
        public let description: String
        init(_ description: String) { self.description = description }
    }

    public let members: [Member]
    private let byKey: [String: Member]

    public init(_ members: [Member]) throws(Error) {
        var byKey: [String: Member] = [:]
        var userIDs = Set<String>()
        for member in members {
            guard Z85.isKey(member.publicKey) else {
                throw Error("\(member.userID): public key \"\(member.publicKey)\" is not a 40-character Z85 key")
            }
            if let other = byKey[member.publicKey] {
                throw Error("\(member.userID) and \(other.userID) have the same public key: each member needs its own")
            }
            guard userIDs.insert(member.userID).inserted else { throw Error("\(member.userID) is listed twice") }
            byKey[member.publicKey] = member
        }
        self.members = members
        self.byKey = byKey
    }

    public func member(publicKey: String) -> Member? { byKey[publicKey] }

    /// A process's public key; nil when it is not listed.
    public func publicKey(of process: NodeID) -> String? {
        members.first { $0.kind == .process(process) }?.publicKey
    }

    /// Every member's user id.
    public var userIDs: Set<String> { Set(members.map(\.userID)) }

    /// The handler's answer: a CURVE client whose key is listed connects under its user id, a process only to a
    /// process's inbox (`ZAPDomain.peers`) and a client only to a gateway's client socket (`ZAPDomain.clients`);
    /// anything else is refused, saying why (for the log, rate-limited by the caller).
    public func decide(_ request: ZAPRequest) -> ZAPDecision {
        guard request.mechanism == "CURVE" else { return .deny(reason: "\(request.mechanism) is not accepted: CURVE only") }
        guard let key = request.curvePublicKey else { return .deny(reason: "malformed CURVE credentials") }
        guard let member = byKey[key] else { return .deny(reason: "unknown key \(key)") }
        switch (member.kind, request.domain) {
        case (.process, ZAPDomain.peers), (.client, ZAPDomain.clients):
            return .allow(userID: member.userID)
        case (.process, _):
            return .deny(reason: "\(member.userID) is a process: it may not connect as a client")
        case (.client, _):
            return .deny(reason: "\(member.userID) is a client: it may not connect to a process's inbox")
        }
    }

    /// The user ids listed here whose key `newer` no longer gives them (removed, or moved to another role or
    /// name): connections made under them are to be closed.
    public func revoked(comparedWith newer: MemberList) -> Set<String> {
        var gone = Set<String>()
        for member in members where newer.byKey[member.publicKey]?.userID != member.userID { gone.insert(member.userID) }
        return gone
    }
}
