import ArgumentParser
import Foundation

@main
struct BankCtl: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bankctl",
        abstract: "Talk to the bank cluster through its gateway.",
        discussion: """
            Amounts are money in the account's currency ("12.50" for GBP; --currency picks the decimals), never \
            floats. Mutations get a fresh request id (UUID) unless --request-id gives one: repeat it to retry safely.
            Every subcommand takes --gateway (default $BANK_GATEWAY, else tcp://127.0.0.1:5555), --timeout SECONDS \
            (default 10), --json (print the raw reply), and --key FILE (default $BANK_KEY: this client's secret key \
            file; the gateway's public key from --gateway-key or $BANK_GATEWAY_KEY, else gateway.key beside the \
            key's clients/ folder).
            Exit status: 0 ok, 1 error reply, 2 usage, 3 no reply within the timeout, 4 the gateway refused this \
            client (its key unknown, revoked or missing).
            The protocol is described in docs/PROTOCOL.md.
            """,
        subcommands: [
            Open.self, Deposit.self, Withdraw.self, Transfer.self,
            Hold.self, Capture.self, Release.self,
            Freeze.self, Unfreeze.self,
            Balance.self, Statement.self, Audit.self,
            Batch.self, Status.self, Switchover.self, Send.self, Keys.self,
        ])

    /// ArgumentParser's own `main`, except that usage errors exit with 2 (not 64).
    static func main() {
        var command: ParsableCommand
        do {
            command = try parseAsRoot()
        } catch {
            guard exitCode(for: error).rawValue == ExitCode.validationFailure.rawValue else { exit(withError: error) }
            printError(fullMessage(for: error))
            Foundation.exit(ExitStatus.usage.rawValue)
        }
        do {
            try command.run()
        } catch let error as ValidationError {
            printError("error: \(error.message)")
            Foundation.exit(ExitStatus.usage.rawValue)
        } catch {
            exit(withError: error)
        }
    }
}

/// The program's exit statuses.
enum ExitStatus {
    static let errorReply = ExitCode(1)
    static let usage = ExitCode(2)
    static let timeout = ExitCode(3)
    /// The gateway would not talk to this client (its key refused, or missing).
    static let refused = ExitCode(4)
}
