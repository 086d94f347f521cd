import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A network-namespace test bed of its owner's own (deploy/netns/netns.sh with a name and subnet of its own): the
/// gateway, primary and backup each in a namespace with its own address, joined by a bridge this process is on.
/// Cuts and shaping go through the same script as `make partition`, `make heal` and `make netem`. Removed (with
/// its rules) when it goes away. Used by the process-level tests and by `make bench NETNS=1`; run from the
/// repository's root (the script's path is relative).
public final class NetnsBed: @unchecked Sendable {
    public typealias Node = LocalCluster.Node

    static let script = "deploy/netns/netns.sh"

    /// Why the bed cannot be built here, or nil: creating namespaces needs CAP_SYS_ADMIN and CAP_NET_ADMIN, and
    /// cuts need nftables' `nft`.
    public static let unavailableReason: String? = {
        guard let ip = findTool("ip") else { return "iproute2's ip is missing" }
        guard findTool("nft") != nil else { return "nftables' nft is missing (make netns-deps installs it)" }
        let probe = "bankprobe\(getpid())"
        guard (try? LocalCluster.run([ip, "netns", "add", probe]))?.status == 0 else {
            return "this process cannot create network namespaces (needs CAP_SYS_ADMIN and CAP_NET_ADMIN, e.g. root)"
        }
        _ = try? LocalCluster.run([ip, "netns", "del", probe])
        return nil
    }()

    public let name: String
    public let subnet: String
    private let ip: String

    public init() throws {
        ip = Self.findTool("ip") ?? "/usr/sbin/ip"
        var generator = SystemRandomNumberGenerator()
        name = "bt" + String(UInt32.random(in: 0x100000...0xFFFFFF, using: &generator), radix: 16)
        subnet = "10.\(Int.random(in: 100...199, using: &generator)).\(Int.random(in: 0...255, using: &generator))"
        try script(["net-up"])
    }

    deinit {
        _ = try? script(["net-down"])
    }

    public func address(_ node: Node) -> String {
        switch node {
        case .gateway: "\(subnet).1"
        case .primary: "\(subnet).2"
        case .backup: "\(subnet).3"
        }
    }

    public var gatewayEndpoint: String { "tcp://\(address(.gateway)):5555" }

    /// The cluster file's `processes` list for this bed (JSON).
    public var processesJSON: String {
        """
        [{"name":"gateway","kind":"gateway","client_bind":"tcp://\(address(.gateway)):5555",
          "peer_bind":"tcp://\(address(.gateway)):5556","metrics_bind":"\(address(.gateway)):9464"},
         {"name":"primary","kind":"ledger","peer_bind":"tcp://\(address(.primary)):5557",
          "metrics_bind":"\(address(.primary)):9464"},
         {"name":"backup","kind":"ledger","peer_bind":"tcp://\(address(.backup)):5557",
          "metrics_bind":"\(address(.backup)):9464"}]
        """
    }

    /// Runs a node's program inside its namespace (`ip netns exec` executes it in its own process).
    public var launcher: @Sendable (Node) -> [String] {
        { [ip, name] node in [ip, "netns", "exec", "\(name)-\(node.rawValue)"] }
    }

    public func partition(_ a: Node, _ b: Node, oneWay: Bool = false) throws {
        try script(["partition", a.rawValue, b.rawValue] + (oneWay ? ["oneway"] : []))
    }

    public func heal() throws { try script(["heal"]) }

    /// Loss (percent) and delay on every link; returns what the script said it applied, or throws its refusal.
    @discardableResult
    public func shape(lossPercent: String, delay: String = "0ms", jitter: String? = nil) throws -> String {
        try script(["shape", lossPercent, delay] + (jitter.map { [$0] } ?? []))
    }

    @discardableResult
    private func script(_ arguments: [String]) throws -> String {
        let result = try LocalCluster.run(["/bin/bash", Self.script] + arguments,
                                  environment: ["NETNS": name, "SUBNET": subnet])
        guard result.status == 0 else { throw BedError(command: arguments.joined(separator: " "), output: result.output) }
        return result.output
    }

    public struct BedError: Error, CustomStringConvertible {
        var command: String
        var output: String
        public var description: String { "netns.sh \(command) failed: \(output)" }
    }

    static func findTool(_ name: String) -> String? {
        ["/usr/sbin", "/sbin", "/usr/bin", "/bin"].map { "\($0)/\(name)" }
            .first { FileManager.default.isExecutableFile(atPath: $0) }
    }

}
