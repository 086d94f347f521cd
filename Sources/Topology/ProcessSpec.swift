import Cluster

/// One process of the topology: its name and kind, where it binds, where the others reach it.
///
/// In the cluster file:
/// ```json
/// {"name": "primary", "kind": "ledger",
///  "peer_bind": "tcp://0.0.0.0:5557", "peer_endpoint": "tcp://10.0.0.2:5557",
///  "data_dir": "/var/lib/bank/primary"}
/// ```
/// A gateway also has `client_bind` and `client_endpoint` (where clients connect). `data_dir` is optional
/// (default: the file's `data_root` and the process's name), as is `metrics_bind` (`host:port` where the process
/// serves Prometheus metrics over HTTP; absent: no metrics).
public struct ProcessSpec: Hashable, Sendable, Codable {
    public var node: NodeID
    public var peerBind: String
    public var peerEndpoint: String
    public var clientBind: String?
    public var clientEndpoint: String?
    public var dataDirectory: String?
    public var metricsBind: HTTPBindAddress?

    public init(node: NodeID, peerBind: String, peerEndpoint: String, clientBind: String? = nil,
                clientEndpoint: String? = nil, dataDirectory: String? = nil, metricsBind: HTTPBindAddress? = nil) {
        self.node = node
        self.peerBind = peerBind
        self.peerEndpoint = peerEndpoint
        self.clientBind = clientBind
        self.clientEndpoint = clientEndpoint
        self.dataDirectory = dataDirectory
        self.metricsBind = metricsBind
    }

    enum CodingKeys: String, CodingKey {
        case name, kind
        case peerBind = "peer_bind"
        case peerEndpoint = "peer_endpoint"
        case clientBind = "client_bind"
        case clientEndpoint = "client_endpoint"
        case dataDirectory = "data_dir"
        case metricsBind = "metrics_bind"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let name = try c.decode(String.self, forKey: .name)
        let kindName = try c.decode(String.self, forKey: .kind)
        guard let kind = NodeID.Kind(name: kindName) else {
            throw DecodingError.dataCorruptedError(forKey: .kind, in: c, debugDescription:
                "process \(name): unknown kind \"\(kindName)\" (known: "
                + NodeID.Kind.allCases.map(\.name).joined(separator: ", ") + ")")
        }
        guard let node = NodeID(kind: kind, name: name) else {
            throw DecodingError.dataCorruptedError(forKey: .name, in: c, debugDescription:
                "process name \"\(name)\": 1 to \(NodeID.maxNameBytes) letters, digits, '-', '_' or '.'")
        }
        self.node = node
        peerBind = try c.decode(String.self, forKey: .peerBind)
        peerEndpoint = try c.decodeIfPresent(String.self, forKey: .peerEndpoint) ?? peerBind
        clientBind = try c.decodeIfPresent(String.self, forKey: .clientBind)
        clientEndpoint = try c.decodeIfPresent(String.self, forKey: .clientEndpoint) ?? clientBind
        dataDirectory = try c.decodeIfPresent(String.self, forKey: .dataDirectory)
        if let text = try c.decodeIfPresent(String.self, forKey: .metricsBind) {
            guard let address = HTTPBindAddress(text) else {
                throw DecodingError.dataCorruptedError(forKey: .metricsBind, in: c, debugDescription:
                    "process \(name): metrics_bind must be host:port, such as 0.0.0.0:9464 (got \"\(text)\")")
            }
            metricsBind = address
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(node.name, forKey: .name)
        try c.encode(node.kind.name, forKey: .kind)
        try c.encode(peerBind, forKey: .peerBind)
        try c.encode(peerEndpoint, forKey: .peerEndpoint)
        try c.encodeIfPresent(clientBind, forKey: .clientBind)
        try c.encodeIfPresent(clientEndpoint, forKey: .clientEndpoint)
        try c.encodeIfPresent(dataDirectory, forKey: .dataDirectory)
        try c.encodeIfPresent(metricsBind?.description, forKey: .metricsBind)
    }
}
