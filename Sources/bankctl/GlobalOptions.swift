import ArgumentParser
import BankCore
import BankProtocol
import Foundation

/// Options every subcommand takes.
struct GlobalOptions: ParsableArguments {
    @Option(help: "The gateway's client endpoint (default: $BANK_GATEWAY, else tcp://127.0.0.1:5555).")
    var gateway: String?

    @Option(help: "Seconds to wait for a reply.")
    var timeout: Double = 10

    @Flag(help: "Print the raw JSON reply (for scripts).")
    var json = false

    var endpoint: String {
        gateway ?? ProcessInfo.processInfo.environment["BANK_GATEWAY"] ?? "tcp://127.0.0.1:5555"
    }

    /// Sends one request and returns the reply; prints it and exits non-zero on an error reply or a timeout.
    func send(_ request: JSONValue, describe: (JSONValue) -> String) throws {
        let reply = try call(request)
        if json {
            print(String(decoding: reply.serialized(), as: UTF8.self))
        } else if reply["ok"]?.boolValue == true {
            print(describe(reply))
        }
        if reply["ok"]?.boolValue != true {
            if !json {
                let code = reply["error"]?.stringValue ?? "error"
                let message = reply["message"]?.stringValue ?? ""
                FileHandle.standardError.write(Data("error: \(code): \(message)\n".utf8))
            }
            throw ExitCode(1)
        }
    }

    func call(_ request: JSONValue) throws -> JSONValue {
        try JSONValue.parse(callRaw(request.serialized()))
    }

    /// Bytes out, bytes back; a timeout ends the program with exit code 3 and says why.
    func callRaw(_ body: [UInt8]) throws -> [UInt8] {
        do {
            return try GatewayClient(endpoint: endpoint, timeoutSeconds: timeout).call(body)
        } catch is GatewayClient.Timeout {
            let seconds = timeout == timeout.rounded() ? String(Int(timeout)) : String(timeout)
            FileHandle.standardError.write(Data(
                "error: no reply from the gateway at \(endpoint) within \(seconds) s — is the cluster running? (make cluster)\n".utf8))
            throw ExitCode(3)
        }
    }
}

/// Amounts on the command line are money ("12.50"), never floats; `--currency` picks the number of decimals.
struct MoneyOptions: ParsableArguments {
    @Option(help: "Currency of the amounts given and shown (decides the decimals).")
    var currency: String = "GBP"

    var code: CurrencyCode {
        get throws {
            guard let code = CurrencyCode(currency) else { throw ValidationError("currency must be 3 upper-case letters") }
            return code
        }
    }

    func minor(_ text: String) throws -> Int64 {
        guard let value = MoneyFormat.parse(text, currency: try code), value > 0 else {
            throw ValidationError("'\(text)' is not a positive amount of \(currency) (e.g. 12.50)")
        }
        return value
    }

    func show(_ minor: Int64?) -> String {
        guard let minor else { return "?" }
        return MoneyFormat.format(minor: minor, currency: (try? code) ?? .gbp)
    }
}

/// A fresh idempotency key unless the user gives one (to retry safely, give the same one again).
struct RequestIDOption: ParsableArguments {
    @Option(name: .customLong("request-id"), help: "Idempotency key (default: a new UUID). Repeat it to retry safely.")
    var requestID: String?

    var value: String { requestID ?? UUID().uuidString.lowercased() }
}
