import Cluster
import Foundation
import LocalCluster
import Runtime
import Testing
import Topology

/// The cluster file's processes: the local layout stays as it was, a listed topology reads with its endpoints,
/// and a topology that could not run is refused with the reason.
@Suite struct TopologyTests {
    static func decode(_ json: String) throws -> ClusterFile {
        try JSONDecoder().decode(ClusterFile.self, from: Data(json.utf8))
    }

    static func process(_ name: String, _ kind: String, _ port: Int, host: String = "10.0.0.1",
                        client: Int? = nil) -> String {
        var json = #"{"name": "\#(name)", "kind": "\#(kind)", "peer_bind": "tcp://0.0.0.0:\#(port)", "#
            + #""peer_endpoint": "tcp://\#(host):\#(port)""#
        if let client {
            json += #", "client_bind": "tcp://0.0.0.0:\#(client)", "client_endpoint": "tcp://\#(host):\#(client)""#
        }
        return json + "}"
    }

    static func file(_ processes: [String]) -> String { #"{"processes": [\#(processes.joined(separator: ","))]}"# }

    /// Without a list, the processes are the local three, on one host, ports from one base, as before.
    @Test func withoutAListTheFileDescribesTheLocalCluster() throws {
        var file = try Self.decode(#"{"host": "127.0.0.2", "port_base": 7000, "data_root": "d"}"#)
        #expect(file.topology.ledgers == [.primary, .backup])
        #expect(file.topology.gateways == [.gateway])
        #expect(file.clientEndpoint == "tcp://127.0.0.2:7000")
        #expect(file.inboxEndpoint(of: .gateway) == "tcp://127.0.0.2:7001")
        #expect(file.inboxEndpoint(of: .primary) == "tcp://127.0.0.2:7002")
        #expect(file.inboxBind(of: .backup) == "tcp://127.0.0.2:7003")
        #expect(file.dataDirectory(of: .backup) == "d/backup")
        // Overriding the base (as `--port-base` does) moves every endpoint.
        file.portBase = 8000
        #expect(file.inboxEndpoint(of: .backup) == "tcp://127.0.0.2:8003")
        #expect(file.topology.peers(of: .primary) == [.gateway, .backup])
        #expect(file.topology.peers(of: .gateway) == [.primary, .backup])
    }

    /// The shipped three-host example: named processes, each bound on all interfaces and reached at its host.
    @Test func theThreeHostExampleReads() throws {
        let file = try ClusterFile.load(path: "deploy/three-hosts/cluster.json")
        let topology = file.topology
        #expect(topology.ledgers.map(\.name) == ["primary", "backup"])
        #expect(file.clientEndpoint == "tcp://10.0.0.1:5555")
        #expect(topology.process(named: "gateway")?.clientBind == "tcp://0.0.0.0:5555")
        #expect(file.inboxEndpoint(of: .backup) == "tcp://10.0.0.3:5557")
        #expect(file.inboxBind(of: .backup) == "tcp://0.0.0.0:5557")
        #expect(file.dataDirectory(of: .primary) == "/var/lib/bank/primary")
        #expect(topology.peerLedger(of: .primary) == .backup)
        // It reads back as written.
        let again = try JSONDecoder().decode(ClusterFile.self, from: JSONEncoder().encode(file))
        #expect(again == file)
    }

    /// Names other than the local ones work; the first ledger listed is preferred between equal journals.
    @Test func processesMayHaveAnyNamesAndDataDirectories() throws {
        let file = try Self.decode(#"{"processes": [\#(Self.process("ledger-b", "ledger", 6001)), "#
            + #"{"name": "entry", "kind": "gateway", "peer_bind": "tcp://10.0.0.9:6000", "#
            + #""client_bind": "tcp://10.0.0.9:6100", "data_dir": "/srv/entry"}, "#
            + #"\#(Self.process("ledger-a", "ledger", 6002, host: "10.0.0.2"))]}"#)
        let a = NodeID(kind: .ledger, name: "ledger-a")!, b = NodeID(kind: .ledger, name: "ledger-b")!
        let entry = NodeID(kind: .gateway, name: "entry")!
        #expect(file.topology.ledgers == [b, a])
        #expect(file.topology.peers(of: a) == [entry, b])
        // An endpoint left out is the bind endpoint.
        #expect(file.inboxEndpoint(of: entry) == "tcp://10.0.0.9:6000")
        #expect(file.clientEndpoint == "tcp://10.0.0.9:6100")
        #expect(file.dataDirectory(of: entry) == "/srv/entry")
        #expect(file.dataDirectory(of: a) == "var/ledger-a")
    }

    @Test func aTopologyThatCannotRunIsRefusedWithItsReason() throws {
        let gateway = Self.process("gateway", "gateway", 5556, client: 5555)
        let primary = Self.process("primary", "ledger", 5557, host: "10.0.0.2")
        let backup = Self.process("backup", "ledger", 5557, host: "10.0.0.3")
        #expect(try Self.decode(Self.file([gateway, primary, backup])).topology.processes.count == 3)
        let refused: [(String, String)] = [
            (Self.file([gateway, primary]), "two ledgers"),
            (Self.file([gateway, primary, backup, Self.process("third", "ledger", 5557, host: "10.0.0.4")]),
             "two ledgers"),
            (Self.file([primary, backup]), "needs a gateway"),
            (Self.file([gateway, primary, Self.process("primary", "ledger", 5557, host: "10.0.0.3")]), "named primary"),
            (Self.file([gateway, primary, Self.process("backup", "ledger", 5557, host: "10.0.0.2")]), "reached at"),
            (Self.file([gateway, primary, backup, Self.process("gateway-2", "gateway", 5556, host: "10.0.0.5",
                                                               client: 5555)]), "one gateway"),
            (Self.file([Self.process("gateway", "gateway", 5556), primary, backup]), "client_bind"),
            (Self.file([gateway, primary, Self.process("backup", "stand-in", 5557, host: "10.0.0.3")]),
             "unknown kind \"stand-in\""),
            (Self.file([gateway, primary, Self.process("back up", "ledger", 5557, host: "10.0.0.3")]), "process name"),
            (Self.file([gateway, primary, #"{"name": "backup", "kind": "ledger", "peer_bind": "10.0.0.3:5557"}"#]),
             "ZeroMQ endpoint"),
        ]
        for (json, reason) in refused {
            do {
                _ = try Self.decode(json)
                Issue.record("accepted: \(json)")
            } catch {
                #expect("\(error)".contains(reason), "\(error)")
            }
        }
    }

    /// A gateway's saved configuration names ledgers; one written before names existed holds numbers.
    @Test func savedConfigurationsReadByNameAndFromNumbers() throws {
        let config = ClusterConfig(epoch: 4, leader: .backup, leaderDataID: 9, follower: .primary, followerDataID: 8)
        let json = try JSONEncoder().encode(config)
        #expect(String(decoding: json, as: UTF8.self).contains(#""leader":"backup""#))
        #expect(try JSONDecoder().decode(ClusterConfig.self, from: json) == config)
        let legacy = #"{"epoch": 4, "leader": 2, "leaderDataID": 9, "follower": 1, "followerDataID": 8}"#
        #expect(try JSONDecoder().decode(ClusterConfig.self, from: Data(legacy.utf8)) == config)
        let alone = #"{"epoch": 5, "leader": "primary", "leaderDataID": 9, "followerDataID": 0}"#
        #expect(try JSONDecoder().decode(ClusterConfig.self, from: Data(alone.utf8))
            == ClusterConfig(epoch: 5, leader: .primary, leaderDataID: 9))
        #expect(throws: DecodingError.self) {
            _ = try JSONDecoder().decode(ClusterConfig.self, from: Data(#"{"epoch": 1, "leader": 7, "leaderDataID": 1}"#.utf8))
        }
    }
}

/// The systemd units parse without a warning (systemd-analyze verify, where it is installed), each as an instance
/// for a process of the example file, with the program swapped for /bin/true (the real one is not installed here).
@Suite struct SystemdUnitTests {
    static let analyze = ["/usr/bin/systemd-analyze", "/bin/systemd-analyze"]
        .first { FileManager.default.isExecutableFile(atPath: $0) }

    @Test(.enabled(if: analyze != nil, "systemd-analyze is not installed; skipped"),
          arguments: ["bank-ledger@primary", "bank-ledger@backup", "bank-gateway@gateway"])
    func theUnitsVerifyCleanly(instance: String) throws {
        let template = instance.replacingOccurrences(of: #"@.*"#, with: "@", options: .regularExpression)
        let text = try String(contentsOfFile: "deploy/systemd/\(template).service", encoding: .utf8)
        #expect(text.contains("ExecStart=/usr/local/bin/\(template.dropLast()) --node %i --config /etc/bank/cluster.json"))
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("units-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let unit = directory.appendingPathComponent("\(instance).service")
        try text.replacingOccurrences(of: #"ExecStart=/usr/local/bin/\S+"#, with: "ExecStart=/bin/true",
                                      options: .regularExpression)
            .write(to: unit, atomically: true, encoding: .utf8)
        let (status, said) = try LocalCluster.run([Self.analyze!, "verify", "--man=no", unit.path])
        #expect(status == 0 && said.isEmpty, "\(said)")
    }
}

extension TopologyTests {
    /// Metrics endpoints: host:port, an IPv6 host in brackets.
    @Test func metricsBindAddressesParse() {
        #expect(HTTPBindAddress("0.0.0.0:9464") == HTTPBindAddress(host: "0.0.0.0", port: 9464))
        #expect(HTTPBindAddress("[::]:9464") == HTTPBindAddress(host: "::", port: 9464))
        #expect(HTTPBindAddress("[::]:9464")?.description == "[::]:9464")
        for bad in ["9464", "host:", ":9464", "host:70000", "tcp://1.2.3.4:5", "a b:1"] {
            #expect(HTTPBindAddress(bad) == nil, "\(bad)")
        }
    }

    /// The local layout serves metrics from the port base (+4, +5, +6) unless `metrics` is false; a listed process
    /// serves them where its `metrics_bind` says, and a malformed one is refused with the key's name.
    @Test func metricsEndpoints() throws {
        let local = try Self.decode(#"{"port_base": 7000}"#)
        #expect(local.metricsBind(of: .gateway) == HTTPBindAddress(host: "127.0.0.1", port: 7004))
        #expect(local.metricsBind(of: .primary) == HTTPBindAddress(host: "127.0.0.1", port: 7005))
        #expect(local.metricsBind(of: .backup) == HTTPBindAddress(host: "127.0.0.1", port: 7006))
        let off = try Self.decode(#"{"port_base": 7000, "metrics": false}"#)
        #expect(off.metricsBind(of: .primary) == nil)
        let listed = try Self.decode(Self.file([
            #"{"name":"gateway","kind":"gateway","peer_bind":"tcp://0.0.0.0:1","client_bind":"tcp://0.0.0.0:2","metrics_bind":"0.0.0.0:9464"}"#,
            Self.process("primary", "ledger", 3), Self.process("backup", "ledger", 4, host: "10.0.0.2"),
        ]))
        #expect(listed.metricsBind(of: .gateway) == HTTPBindAddress(host: "0.0.0.0", port: 9464))
        #expect(listed.metricsBind(of: .primary) == nil)
        var roundTrip = try JSONDecoder().decode(ClusterFile.self, from: JSONEncoder().encode(listed))
        #expect(roundTrip == listed)
        roundTrip.metrics = false
        #expect(roundTrip.metricsBind(of: .gateway) == nil)
        #expect {
            try Self.decode(Self.file([
                #"{"name":"gateway","kind":"gateway","peer_bind":"tcp://0.0.0.0:1","client_bind":"tcp://0.0.0.0:2","metrics_bind":"9464"}"#,
                Self.process("primary", "ledger", 3), Self.process("backup", "ledger", 4, host: "10.0.0.2"),
            ]))
        } throws: { "\($0)".contains("metrics_bind must be host:port") }
    }
}
