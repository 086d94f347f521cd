import ArgumentParser
import Cluster
import Runtime

@main
struct BankLedger: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bank-ledger",
        abstract: "A ledger node: accounts and a journal, replicated synchronously to its peer.")

    @Option(help: "Which ledger of the cluster file this is (the local cluster's: primary or backup).")
    var node: String

    @Option(help: "Cluster configuration file (JSON).")
    var config: String?

    @Option(help: "Overrides the file's port_base (local layout only).")
    var portBase: Int?

    @Option(help: "Overrides the file's data_root.")
    var dataRoot: String?

    func run() throws {
        let file = try ServerCommandSupport.loadClusterFile(path: config, portBase: portBase, dataRoot: dataRoot)
        let ledgers = file.topology.ledgers
        guard let id = ledgers.first(where: { $0.name == node }) else {
            throw ValidationError("--node must name a ledger of the cluster file: "
                + ledgers.map(\.name).joined(separator: " or "))
        }
        let logger = ServerCommandSupport.makeLogger(label: "bank-ledger.\(id)")
        let stop = StopSignal()
        stop.installSignalHandlers()
        let server = try LedgerServer(id: id, file: file, logger: logger)
        try server.run(until: stop)
    }
}
