import Cluster

/// Which processes make up a cluster and how they reach each other: the `processes` list of the cluster file.
///
/// Every process has a unique name and a kind. Ledgers come in a pair (the first listed is preferred between
/// equal journals); gateways take clients' requests. Each process binds its peer inbox on `peer_bind` and the
/// others connect to it at `peer_endpoint` — the two differ across machines (bind `tcp://0.0.0.0:5556`, reached at
/// `tcp://10.0.0.1:5556`). A file without a `processes` list describes the local cluster: one host, ports from one
/// base (`Topology.local`).
///
/// Kinds still to come (the stand-in) and per-process keys are further kinds and further keys of an entry; a
/// process ignores keys it does not know, and refuses a kind it does not know, by name.
public struct Topology: Hashable, Sendable {
    public let processes: [ProcessSpec]

    public enum Error: Swift.Error, Hashable, Sendable, CustomStringConvertible {
        case invalid(String)
        public var description: String {
            switch self {
            case let .invalid(why): return "cluster topology: \(why)"
            }
        }
    }

    public init(processes: [ProcessSpec]) throws(Error) {
        var names = Set<String>()
        var peerEndpoints = Set<String>()
        for process in processes {
            guard names.insert(process.node.name).inserted else {
                throw .invalid("two processes are named \(process.node.name)")
            }
            guard peerEndpoints.insert(process.peerEndpoint).inserted else {
                throw .invalid("two processes are reached at \(process.peerEndpoint)")
            }
            for (key, endpoint) in [("peer_bind", process.peerBind), ("peer_endpoint", process.peerEndpoint),
                                    ("client_bind", process.clientBind), ("client_endpoint", process.clientEndpoint)] {
                guard let endpoint else { continue }
                guard Self.isEndpoint(endpoint) else {
                    throw .invalid("\(process.node.name): \(key) must be a ZeroMQ endpoint such as tcp://10.0.0.1:5556 "
                        + "(got \"\(endpoint)\")")
                }
            }
            if process.node.isGateway, process.clientBind == nil || process.clientEndpoint == nil {
                throw .invalid("gateway \(process.node.name) needs client_bind and client_endpoint")
            }
        }
        let ledgers = processes.filter(\.node.isLedger)
        guard ledgers.count == 2 else {
            throw .invalid("a cluster has two ledgers (found \(ledgers.count))")
        }
        let gateways = processes.filter(\.node.isGateway)
        guard !gateways.isEmpty else { throw .invalid("a cluster needs a gateway") }
        // Each gateway keeps the cluster's configuration (who leads, under which epoch) in its own file today; two
        // of them would elect independently. Several gateways wait for the shared configuration store.
        guard gateways.count == 1 else {
            throw .invalid("this version runs one gateway (found \(gateways.count): "
                + gateways.map(\.node.name).joined(separator: ", ")
                + "); several need the shared configuration store, which is not built yet")
        }
        self.processes = processes
    }

    /// The local cluster: every process on `host`, the gateway's client endpoint at `portBase`, its inbox at
    /// `portBase + 1`, the primary's at `+ 2` and the backup's at `+ 3`; metrics (when `metrics`) at `+ 4`
    /// (gateway), `+ 5` (primary) and `+ 6` (backup).
    public static func local(host: String, portBase: Int, metrics: Bool = true) -> Topology {
        func endpoint(_ offset: Int) -> String { "tcp://\(host):\(portBase + offset)" }
        func metricsBind(_ offset: Int) -> HTTPBindAddress? {
            metrics ? HTTPBindAddress(host: host, port: portBase + offset) : nil
        }
        return try! Topology(processes: [
            ProcessSpec(node: .gateway, peerBind: endpoint(1), peerEndpoint: endpoint(1),
                        clientBind: endpoint(0), clientEndpoint: endpoint(0), metricsBind: metricsBind(4)),
            ProcessSpec(node: .primary, peerBind: endpoint(2), peerEndpoint: endpoint(2), metricsBind: metricsBind(5)),
            ProcessSpec(node: .backup, peerBind: endpoint(3), peerEndpoint: endpoint(3), metricsBind: metricsBind(6)),
        ])
    }

    /// Ports a local cluster uses from its base.
    public static let localPortCount = 7

    public var ledgers: [NodeID] { processes.map(\.node).filter(\.isLedger) }
    public var gateways: [NodeID] { processes.map(\.node).filter(\.isGateway) }

    public func process(named name: String) -> ProcessSpec? { processes.first { $0.node.name == name } }

    public func process(_ node: NodeID) -> ProcessSpec? { processes.first { $0.node == node } }

    /// Whom `node` exchanges messages with: a gateway with the ledgers; a ledger with the gateways and its peer.
    public func peers(of node: NodeID) -> [NodeID] {
        switch node.kind {
        case .gateway: return ledgers
        case .ledger: return gateways + ledgers.filter { $0 != node }
        }
    }

    /// The other ledger of the pair.
    public func peerLedger(of ledger: NodeID) -> NodeID {
        precondition(ledger.isLedger && ledgers.contains(ledger), "\(ledger) is not a ledger of this cluster")
        return ledgers.first { $0 != ledger }!
    }

    static func isEndpoint(_ endpoint: String) -> Bool {
        for scheme in ["tcp://", "ipc://"] where endpoint.hasPrefix(scheme) {
            return endpoint.count > scheme.count
        }
        return false
    }
}
