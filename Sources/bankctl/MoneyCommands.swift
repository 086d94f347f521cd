import ArgumentParser
import BankProtocol

struct Open: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Open an account.")
    @OptionGroup var global: GlobalOptions
    @OptionGroup var money: MoneyOptions
    @OptionGroup var id: RequestIDOption
    @Argument(help: "Account id: 1–64 characters of A-Z a-z 0-9 _ . -") var account: String
    @Option(help: "Overdraft limit (money, e.g. 50.00).") var overdraft: String?

    func run() throws {
        var request: JSONObject = ["op": "open_account", "request_id": .string(id.value), "account": .string(account),
                                   "currency": .string(money.currency)]
        if let overdraft {
            guard let minor = MoneyFormat.parse(overdraft, currency: try money.code), minor >= 0 else {
                throw ValidationError("'\(overdraft)' is not an amount of \(money.currency)")
            }
            request.updateValue(.int(minor), forKey: "overdraft_limit")
        }
        try global.send(.object(request)) { reply in
            "opened \(account) (\(money.currency), overdraft \(money.show(reply["overdraft_limit"]?.intValue))) [seq \(reply["seq"]?.intValue ?? 0)]"
        }
    }
}

struct Deposit: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Pay money in from outside the bank.")
    @OptionGroup var global: GlobalOptions
    @OptionGroup var money: MoneyOptions
    @OptionGroup var id: RequestIDOption
    @Argument var account: String
    @Argument(help: "Amount, e.g. 100.00") var amount: String

    func run() throws {
        try global.send(["op": "deposit", "request_id": .string(id.value), "account": .string(account),
                         "amount": .int(try money.minor(amount))]) { reply in
            "deposited \(amount) \(money.currency) to \(account); \(describeFigures(reply, money))"
        }
    }
}

struct Withdraw: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Pay money out of the bank.")
    @OptionGroup var global: GlobalOptions
    @OptionGroup var money: MoneyOptions
    @OptionGroup var id: RequestIDOption
    @Argument var account: String
    @Argument(help: "Amount, e.g. 20.00") var amount: String

    func run() throws {
        try global.send(["op": "withdraw", "request_id": .string(id.value), "account": .string(account),
                         "amount": .int(try money.minor(amount))]) { reply in
            "withdrew \(amount) \(money.currency) from \(account); \(describeFigures(reply, money))"
        }
    }
}

struct Transfer: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Move money between two accounts.")
    @OptionGroup var global: GlobalOptions
    @OptionGroup var money: MoneyOptions
    @OptionGroup var id: RequestIDOption
    @Argument var from: String
    @Argument var to: String
    @Argument(help: "Amount, e.g. 25.50") var amount: String
    @Option(help: "A note shown on both statements.") var reference: String?

    func run() throws {
        var request: JSONObject = ["op": "transfer", "request_id": .string(id.value), "from": .string(from),
                                   "to": .string(to), "amount": .int(try money.minor(amount))]
        if let reference { request.updateValue(.string(reference), forKey: "reference") }
        try global.send(.object(request)) { reply in
            "transfer: \(from) → \(to) \(amount) \(money.currency); \(describeFigures(reply, money))"
        }
    }
}

struct Freeze: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Freeze an account: credits only, no debits or holds.")
    @OptionGroup var global: GlobalOptions
    @OptionGroup var id: RequestIDOption
    @Argument var account: String

    func run() throws {
        try global.send(["op": "freeze", "request_id": .string(id.value), "account": .string(account)]) { reply in
            "\(account) is frozen [seq \(reply["seq"]?.intValue ?? 0)]"
        }
    }
}

struct Unfreeze: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Unfreeze an account.")
    @OptionGroup var global: GlobalOptions
    @OptionGroup var id: RequestIDOption
    @Argument var account: String

    func run() throws {
        try global.send(["op": "unfreeze", "request_id": .string(id.value), "account": .string(account)]) { reply in
            "\(account) is no longer frozen [seq \(reply["seq"]?.intValue ?? 0)]"
        }
    }
}

/// "<account> balance 75.00, available 75.00 [seq 12]" (plus "replayed" when the request id was seen before).
func describeFigures(_ reply: JSONValue, _ money: MoneyOptions) -> String {
    var text = "\(reply["account"]?.stringValue ?? "") balance \(money.show(reply["balance"]?.intValue)), "
        + "available \(money.show(reply["available"]?.intValue)) [seq \(reply["seq"]?.intValue ?? 0)]"
    if reply["replayed"]?.boolValue == true { text += " (replayed: already done, nothing changed)" }
    return text
}
