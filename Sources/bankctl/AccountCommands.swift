import ArgumentParser

// Opening accounts and moving money: open, deposit, withdraw, transfer, freeze, unfreeze.

struct Open: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Open an account.",
        discussion: "--currency is the account's currency (default GBP).")
    @OptionGroup var global: GlobalOptions
    @OptionGroup var money: MoneyOptions
    @OptionGroup var requestID: RequestIDOptions
    @Argument(help: "Account id: 1–64 characters of A-Z a-z 0-9 _ . -") var account: String
    @Option(help: ArgumentHelp("Overdraft limit, e.g. 50.00 (default 0).", valueName: "amount")) var overdraft: String?

    func run() throws {
        let request = Request("open_account").with("request_id", requestID.value).with("account", account)
            .with("currency", money.currency)
            .with("overdraft_limit", try overdraft.map { try money.limit($0, what: "overdraft") })
        try global.perform(request) { describeMutation($0, money.text) }
    }
}

struct Deposit: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Pay money into an account from outside the bank.")
    @OptionGroup var global: GlobalOptions
    @OptionGroup var money: MoneyOptions
    @OptionGroup var requestID: RequestIDOptions
    @Argument var account: String
    @Argument(help: "Amount, e.g. 100.00") var amount: String

    func run() throws {
        let request = Request("deposit").with("request_id", requestID.value).with("account", account)
            .with("amount", try money.amount(amount))
        try global.perform(request) { describeMutation($0, money.text) }
    }
}

struct Withdraw: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Pay money out of an account, out of the bank.")
    @OptionGroup var global: GlobalOptions
    @OptionGroup var money: MoneyOptions
    @OptionGroup var requestID: RequestIDOptions
    @Argument var account: String
    @Argument(help: "Amount, e.g. 20.00") var amount: String

    func run() throws {
        let request = Request("withdraw").with("request_id", requestID.value).with("account", account)
            .with("amount", try money.amount(amount))
        try global.perform(request) { describeMutation($0, money.text) }
    }
}

struct Transfer: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Move money between two accounts.",
        discussion: "The reply shows the sending account's figures only.")
    @OptionGroup var global: GlobalOptions
    @OptionGroup var money: MoneyOptions
    @OptionGroup var requestID: RequestIDOptions
    @Argument(help: "Account to debit") var from: String
    @Argument(help: "Account to credit") var to: String
    @Argument(help: "Amount, e.g. 25.00") var amount: String
    @Option(help: ArgumentHelp("A note on both statements (1–256 bytes).", valueName: "text")) var reference: String?

    func run() throws {
        let request = Request("transfer").with("request_id", requestID.value).with("from", from).with("to", to)
            .with("amount", try money.amount(amount)).with("reference", reference)
        try global.perform(request) { describeMutation($0, money.text) }
    }
}

struct Freeze: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Freeze an account: credits still arrive; no debits, holds or captures.")
    @OptionGroup var global: GlobalOptions
    @OptionGroup var money: MoneyOptions
    @OptionGroup var requestID: RequestIDOptions
    @Argument var account: String

    func run() throws {
        let request = Request("freeze").with("request_id", requestID.value).with("account", account)
        try global.perform(request) { describeMutation($0, money.text) }
    }
}

struct Unfreeze: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Unfreeze an account.")
    @OptionGroup var global: GlobalOptions
    @OptionGroup var money: MoneyOptions
    @OptionGroup var requestID: RequestIDOptions
    @Argument var account: String

    func run() throws {
        let request = Request("unfreeze").with("request_id", requestID.value).with("account", account)
        try global.perform(request) { describeMutation($0, money.text) }
    }
}
