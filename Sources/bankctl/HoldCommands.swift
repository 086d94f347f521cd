import ArgumentParser
import BankProtocol
import Foundation

struct Hold: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Authorise a card payment: reserve funds.")
    @OptionGroup var global: GlobalOptions
    @OptionGroup var money: MoneyOptions
    @OptionGroup var id: RequestIDOption
    @Argument var account: String
    @Argument(help: "Amount, e.g. 9.99") var amount: String
    @Option(name: .customLong("hold-id"), help: "Hold id (default: generated and printed).") var holdID: String?

    func run() throws {
        let hold = holdID ?? "hold-" + UUID().uuidString.prefix(8).lowercased()
        try global.send(["op": "hold", "request_id": .string(id.value), "account": .string(account),
                         "amount": .int(try money.minor(amount)), "hold_id": .string(hold)]) { reply in
            "hold \(hold): \(amount) \(money.currency) reserved; \(describeFigures(reply, money))"
        }
    }
}

struct Capture: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Settle a hold (all of it, or part; the rest is released).")
    @OptionGroup var global: GlobalOptions
    @OptionGroup var money: MoneyOptions
    @OptionGroup var id: RequestIDOption
    @Argument(help: "Hold id") var holdID: String
    @Argument(help: "Amount to settle (default: all)") var amount: String?

    func run() throws {
        var request: JSONObject = ["op": "capture", "request_id": .string(id.value), "hold_id": .string(holdID)]
        if let amount { request.updateValue(.int(try money.minor(amount)), forKey: "amount") }
        try global.send(.object(request)) { reply in
            "captured \(money.show(reply["captured"]?.intValue)), released \(money.show(reply["released"]?.intValue)); "
                + describeFigures(reply, money)
        }
    }
}

struct Release: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Cancel a hold.")
    @OptionGroup var global: GlobalOptions
    @OptionGroup var money: MoneyOptions
    @OptionGroup var id: RequestIDOption
    @Argument(help: "Hold id") var holdID: String

    func run() throws {
        try global.send(["op": "release", "request_id": .string(id.value), "hold_id": .string(holdID)]) { reply in
            "released \(money.show(reply["released"]?.intValue)); \(describeFigures(reply, money))"
        }
    }
}
