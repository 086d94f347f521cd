import ArgumentParser
import BankCore
import BankProtocol
import Foundation
import Membership
import ZeroMQ

/// Options every subcommand takes: where the gateway is, how long to wait, and how to print the reply.
struct GlobalOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The gateway's client endpoint (default: $BANK_GATEWAY, else tcp://127.0.0.1:5555).",
                               valueName: "endpoint"))
    var gateway: String?

    @Option(help: ArgumentHelp("Seconds to wait for a reply (default: 10).", valueName: "seconds"))
    var timeout: Double?

    @Flag(help: "Print the raw reply JSON (for scripts).")
    var json = false

    @Option(help: ArgumentHelp("This client's secret key file, NAME.key_secret (default: $BANK_KEY; none: no CURVE).",
                               valueName: "file"))
    var key: String?

    @Option(name: .customLong("gateway-key"),
            help: ArgumentHelp("""
                The gateway's public key: its .key file or the key itself (default: $BANK_GATEWAY_KEY, else                 gateway.key in the key directory that holds --key's clients/ROLE/ folder).
                """, valueName: "file-or-key"))
    var gatewayKey: String?

    static let defaultEndpoint = "tcp://127.0.0.1:5555"
    static let defaultTimeout = 10.0

    func validate() throws {
        if let timeout, !(timeout > 0 && timeout <= 86_400) {
            throw ValidationError("--timeout must be a number of seconds above 0 (at most 86400)")
        }
        if let gateway, gateway.isEmpty { throw ValidationError("--gateway must not be empty") }
    }

    var endpoint: String {
        if let gateway { return gateway }
        if let fromEnvironment = ProcessInfo.processInfo.environment["BANK_GATEWAY"], !fromEnvironment.isEmpty {
            return fromEnvironment
        }
        return Self.defaultEndpoint
    }

    var timeoutSeconds: Double { timeout ?? Self.defaultTimeout }

    func client(timeoutSeconds: Double? = nil) throws -> GatewayClient {
        try GatewayClient(endpoint: endpoint, timeoutSeconds: timeoutSeconds ?? self.timeoutSeconds, keys: clientKeys())
    }

    /// The keys from `--key`/`$BANK_KEY` and `--gateway-key`/`$BANK_GATEWAY_KEY`; nil when no key is given.
    func clientKeys() throws -> ClientKeys? {
        let environment = ProcessInfo.processInfo.environment
        guard let keyPath = key ?? environment["BANK_KEY"].flatMap({ $0.isEmpty ? nil : $0 }) else { return nil }
        let pair: CurveKeyPair
        do {
            pair = try KeyFile.readSecret(path: keyPath)
        } catch {
            throw ValidationError("\(error)")
        }
        let given = gatewayKey ?? environment["BANK_GATEWAY_KEY"].flatMap { $0.isEmpty ? nil : $0 }
        // keys/clients/ROLE/NAME.key_secret → keys/gateway.key
        let beside = ((((keyPath as NSString).deletingLastPathComponent as NSString).deletingLastPathComponent
            as NSString).deletingLastPathComponent as NSString).appendingPathComponent("gateway.key")
        guard let source = given ?? (FileManager.default.fileExists(atPath: beside) ? beside : nil) else {
            throw ValidationError("""
                the gateway's public key is needed with a client key: give --gateway-key FILE or set BANK_GATEWAY_KEY \
                (no \(beside))
                """)
        }
        let gatewayKey: String
        if Z85.isKey(source) {
            gatewayKey = source
        } else {
            do {
                gatewayKey = try KeyFile.readPublic(path: source)
            } catch {
                throw ValidationError("the gateway's key: \(error)")
            }
        }
        return ClientKeys(pair: pair, gatewayKey: gatewayKey, source: keyPath,
                          gatewaySource: Z85.isKey(source) ? "--gateway-key" : source)
    }
}

/// `--currency`: which currency the amounts given and shown are in. It decides the number of decimals only
/// (2 for GBP, 0 for JPY, 3 for KWD); the ledger knows each account's real currency.
struct MoneyOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Currency of the amounts (decides the decimals).", valueName: "code"))
    var currency: String = "GBP"

    func validate() throws { _ = try code }

    var code: CurrencyCode {
        get throws {
            guard let code = CurrencyCode(currency) else {
                throw ValidationError("--currency must be 3 upper-case letters, e.g. GBP (got '\(currency)')")
            }
            return code
        }
    }

    /// A positive amount of money ("12.50") in minor units.
    func amount(_ text: String, what: String = "amount") throws -> Int64 {
        guard let minor = MoneyFormat.parse(text, currency: try code), minor > 0 else {
            throw ValidationError("\(what) '\(text)' is not a positive amount of \(currency) (e.g. \(example))")
        }
        return minor
    }

    /// Zero or more ("0", "50.00") in minor units.
    func limit(_ text: String, what: String) throws -> Int64 {
        guard let minor = MoneyFormat.parse(text, currency: try code), minor >= 0 else {
            throw ValidationError("\(what) '\(text)' is not an amount of \(currency) (e.g. \(example))")
        }
        return minor
    }

    var text: MoneyText { MoneyText(currency: (try? code) ?? .gbp) }

    private var example: String { MoneyFormat.format(minor: 1250, currency: (try? code) ?? .gbp) }
}

/// `--request-id`: the idempotency key of a mutation; a fresh UUID unless given.
struct RequestIDOptions: ParsableArguments {
    @Option(name: .customLong("request-id"),
            help: ArgumentHelp("Idempotency key (default: a new UUID). Give the same one again to retry safely.",
                               valueName: "id"))
    var requestID: String?

    func validate() throws {
        if let requestID, !(1...128).contains(requestID.count) {
            throw ValidationError("--request-id must be 1–128 characters")
        }
    }

    /// The id to send; generated once per process, so every use in one run agrees.
    var value: String { requestID ?? Self.generated }

    private static let generated = UUID().uuidString.lowercased()
}
