import ArgumentParser
import BankProtocol

// Reads: balance, statement, audit.

struct Balance: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show an account's balance, available funds, holds and overdraft limit.")
    @OptionGroup var global: GlobalOptions
    @Argument var account: String

    func run() throws {
        try global.perform(Request("balance").with("account", account)) { describeBalance($0, MoneyText(currency: .gbp)) }
    }
}

/// An account and a page of its movements: what `statement` and `audit` take.
struct StatementPage: ParsableArguments {
    @Argument var account: String
    @Option(help: "Page size, 1–1000.") var limit: Int = 50
    @Option(name: .customLong("before-seq"), help: ArgumentHelp("Only movements before this seq (paging).", valueName: "seq"))
    var beforeSeq: Int64?

    func validate() throws {
        guard (1...1000).contains(limit) else { throw ValidationError("--limit must be between 1 and 1000") }
        if let beforeSeq, beforeSeq < 1 { throw ValidationError("--before-seq must be at least 1") }
    }

    func request(_ op: String) -> Request {
        Request(op).with("account", account).with("limit", Int64(limit)).with("before_seq", beforeSeq)
    }

    /// The command for the page after `next`.
    func more(_ command: String, next: Int64) -> String {
        "more: bankctl \(command) \(account)\(limit == 50 ? "" : " --limit \(limit)") --before-seq \(next)"
    }
}

struct Statement: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List an account's balance movements, newest first.",
        discussion: "Amounts are shown in --currency (default GBP). A full page ends with the command for the next one.")
    @OptionGroup var global: GlobalOptions
    @OptionGroup var money: MoneyOptions
    @OptionGroup var page: StatementPage

    func run() throws {
        try global.perform(page.request("statement")) { reply in
            describeStatement(reply, money.text) { page.more("statement", next: $0) }
        }
    }
}

/// `bankctl audit`: an account's movements with the client key behind each (operators).
struct Audit: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List an account's movements with the client key that asked for each, newest first (operator key).",
        discussion: """
            KEY is the public key of the client that asked (as its key file shows it; `bankctl keys show FILE`), \
            empty for what a client without keys asked for. A full page ends with the command for the next one.
            """)
    @OptionGroup var global: GlobalOptions
    @OptionGroup var money: MoneyOptions
    @OptionGroup var page: StatementPage

    func run() throws {
        try global.perform(page.request("audit")) { reply in
            describeStatement(reply, money.text, keys: true) { page.more("audit", next: $0) }
        }
    }
}

/// A table of the entries (with `keys`, the client key behind each); `more` says how to get the next page when there is one.
func describeStatement(_ reply: JSONValue, _ money: MoneyText, keys: Bool = false,
                       more: (Int64) -> String = { "(more before seq \($0))" }) -> String {
    let account = reply["account"]?.stringValue ?? "?"
    let entries = reply["entries"]?.arrayValue ?? []
    guard !entries.isEmpty else { return "\(account): no movements" }
    let rows = entries.map { entry -> [String] in
        [entry["seq"]?.intValue.map(String.init) ?? "?", entry["time"]?.stringValue ?? "",
         entry["kind"]?.stringValue ?? "", money(entry["amount"]?.intValue), money(entry["balance_after"]?.intValue),
         entry["counterparty"]?.stringValue ?? "", entry["reference"]?.stringValue ?? ""]
            + (keys ? [entry["request_id"]?.stringValue ?? "", entry["client_key"]?.stringValue ?? ""] : [])
    }
    var lines = ["\(account), newest first (\(money.currency)):"]
    lines += table(["SEQ", "TIME", "KIND", "AMOUNT", "BALANCE AFTER", "COUNTERPARTY", "REFERENCE"]
                       + (keys ? ["REQUEST ID", "KEY"] : []), rows,
                   right: [0, 3, 4])
    if let next = reply["next_before_seq"]?.intValue { lines.append(more(next)) }
    return lines.joined(separator: "\n")
}
