import ArgumentParser
import BankProtocol
import Foundation

struct Balance: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show an account's balance.")
    @OptionGroup var global: GlobalOptions
    @Argument var account: String

    func run() throws {
        try global.send(["op": "balance", "account": .string(account)]) { reply in
            var money = MoneyOptions()
            money.currency = reply["currency"]?.stringValue ?? "GBP"
            var text = "\(account): balance \(money.show(reply["balance"]?.intValue)) \(money.currency), "
                + "available \(money.show(reply["available"]?.intValue)), held \(money.show(reply["held"]?.intValue)), "
                + "overdraft limit \(money.show(reply["overdraft_limit"]?.intValue))"
            if reply["frozen"]?.boolValue == true { text += " — FROZEN" }
            return text
        }
    }
}

struct Statement: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List an account's movements, newest first.")
    @OptionGroup var global: GlobalOptions
    @OptionGroup var money: MoneyOptions
    @Argument var account: String
    @Option(help: "At most this many lines (1–1000).") var limit = 50
    @Option(name: .customLong("before-seq"), help: "Only movements before this seq (paging).") var beforeSeq: Int64?

    func run() throws {
        var request: JSONObject = ["op": "statement", "account": .string(account), "limit": .int(Int64(limit))]
        if let beforeSeq { request.updateValue(.int(beforeSeq), forKey: "before_seq") }
        try global.send(.object(request)) { reply in
            let entries = reply["entries"]?.arrayValue ?? []
            if entries.isEmpty { return "\(account): no movements" }
            var lines = ["   seq  time                      kind        amount  balance after  counterparty  reference"]
            for entry in entries {
                lines.append([
                    pad(String(entry["seq"]?.intValue ?? 0), 6, right: true),
                    pad(entry["time"]?.stringValue ?? "", 24),
                    pad(entry["kind"]?.stringValue ?? "", 10),
                    pad(money.show(entry["amount"]?.intValue), 8, right: true),
                    pad(money.show(entry["balance_after"]?.intValue), 14, right: true),
                    pad(entry["counterparty"]?.stringValue ?? "", 13),
                    entry["reference"]?.stringValue ?? "",
                ].joined(separator: "  "))
            }
            if let next = reply["next_before_seq"]?.intValue {
                lines.append("more: bankctl statement \(account) --before-seq \(next)")
            }
            return lines.joined(separator: "\n")
        }
    }
}

struct Batch: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Send a batch of requests from a JSON file (an array).")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "File with a JSON array of request objects, or - for standard input.") var file: String
    @Flag(help: "All or nothing.") var atomic = false

    func run() throws {
        let data = file == "-" ? FileHandle.standardInput.readDataToEndOfFile()
            : try Data(contentsOf: URL(fileURLWithPath: file))
        guard let requests = try? JSONValue.parse([UInt8](data)), case .array = requests else {
            throw ValidationError("\(file) must hold a JSON array of request objects")
        }
        try global.send(["op": "batch", "atomic": .bool(atomic), "requests": requests]) { reply in
            let results = reply["results"]?.arrayValue ?? []
            let failed = results.filter { $0["ok"]?.boolValue != true }.count
            return "batch: \(results.count) results, \(results.count - failed) ok, \(failed) refused"
        }
    }
}

struct Switchover: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Move leadership to the in-sync follower (planned maintenance; no request fails).")
    @OptionGroup var global: GlobalOptions

    func run() throws {
        try global.send(["op": "switchover"]) { reply in
            "\(reply["leader"]?.stringValue ?? "?") now leads (epoch \(reply["epoch"]?.intValue ?? 0))"
        }
    }
}

struct Send: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Send a raw request (any bytes) and print the raw reply.")
    @OptionGroup var global: GlobalOptions
    @Argument(help: #"e.g. '{"op":"balance","account":"alice"}'"#) var request: String

    func run() throws {
        let reply = try global.callRaw(Array(request.utf8))
        print(String(decoding: reply, as: UTF8.self))
        if (try? JSONValue.parse(reply))?["ok"]?.boolValue != true { throw ExitCode(1) }
    }
}

func pad(_ text: String, _ width: Int, right: Bool = false) -> String {
    let padding = String(repeating: " ", count: max(0, width - text.count))
    return right ? padding + text : text + padding
}
