import ArgumentParser
import Runtime

@main
struct BankGateway: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bank-gateway",
        abstract: "The clients' entry point: elects the leader ledger and forwards requests to it.")

    @Option(help: "Which gateway of the cluster file this is (default: its only one).")
    var node: String?

    @Option(help: "Cluster configuration file (JSON).")
    var config: String?

    @Option(help: "Overrides the file's port_base (local layout only).")
    var portBase: Int?

    @Option(help: "Overrides the file's data_root.")
    var dataRoot: String?

    func run() throws {
        let file = try ServerCommandSupport.loadClusterFile(path: config, portBase: portBase, dataRoot: dataRoot)
        let logger = ServerCommandSupport.makeLogger(label: "bank-gateway")
        let stop = StopSignal()
        stop.installSignalHandlers()
        let server = try GatewayServer(file: file, name: node, logger: logger)
        try server.run(until: stop)
    }
}
