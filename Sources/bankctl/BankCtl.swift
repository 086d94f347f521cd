import ArgumentParser

@main
struct BankCtl: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bankctl",
        abstract: "Talk to the bank cluster through its gateway.",
        discussion: "Amounts are money in the account's currency (12.50). Exit codes: 0 ok, 1 error reply, 3 no reply, 64 usage.",
        subcommands: [
            Open.self, Deposit.self, Withdraw.self, Transfer.self, Hold.self, Capture.self, Release.self,
            Freeze.self, Unfreeze.self, Balance.self, Statement.self, Batch.self, Status.self, Switchover.self,
            Send.self,
        ])
}
