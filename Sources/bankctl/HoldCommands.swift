import ArgumentParser
import Foundation

// Card authorisations: hold, capture, release.

struct Hold: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Reserve funds (a card authorisation): available drops, the balance does not.")
    @OptionGroup var global: GlobalOptions
    @OptionGroup var money: MoneyOptions
    @OptionGroup var requestID: RequestIDOptions
    @Argument var account: String
    @Argument(help: "Amount, e.g. 9.99") var amount: String
    @Option(name: .customLong("hold-id"), help: ArgumentHelp("Hold id (default: generated and printed).", valueName: "id"))
    var holdID: String?

    func run() throws {
        let minor = try money.amount(amount)
        let hold = holdID ?? "hold-" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(16)
        let request = Request("hold").with("request_id", requestID.value).with("account", account)
            .with("amount", minor).with("hold_id", hold)
        try global.perform(request) { describeMutation($0, money.text, requested: minor) }
    }
}

struct Capture: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Settle a hold: all of it, or part (the rest is released); the hold closes.")
    @OptionGroup var global: GlobalOptions
    @OptionGroup var money: MoneyOptions
    @OptionGroup var requestID: RequestIDOptions
    @Argument(help: "Hold id") var holdID: String
    @Argument(help: "Amount to settle (default: all that is held)") var amount: String?

    func run() throws {
        let request = Request("capture").with("request_id", requestID.value).with("hold_id", holdID)
            .with("amount", try amount.map { try money.amount($0) })
        try global.perform(request) { describeMutation($0, money.text) }
    }
}

struct Release: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Cancel a hold, releasing what it reserved.")
    @OptionGroup var global: GlobalOptions
    @OptionGroup var money: MoneyOptions
    @OptionGroup var requestID: RequestIDOptions
    @Argument(help: "Hold id") var holdID: String

    func run() throws {
        let request = Request("release").with("request_id", requestID.value).with("hold_id", holdID)
        try global.perform(request) { describeMutation($0, money.text) }
    }
}
