import ArgumentParser
import BankCore
import BankProtocol
import Foundation

// MARK: - Sending a request and printing its reply

extension GlobalOptions {
    /// Sends `request`; with `--json` prints the reply as received, otherwise `describe(reply)`. An error reply
    /// prints `error: CODE: message` on stderr and exits 1; no reply in time exits 3.
    func perform(_ request: Request, describe: (JSONValue) -> String) throws {
        let reply = try exchange(request.bytes, using: try client())
        if json { print(reply.text) }
        guard let value = try reply.successOrExit() else { return }
        if !json { print(describe(value)) }
    }

    /// One request; a timeout prints why and exits 3. An `overloaded` reply (definite: nothing was applied) is
    /// retried with the same bytes after its `retry_after_ms`, doubling up to 1 s, while the timeout allows.
    func exchange(_ body: [UInt8], using client: GatewayClient) throws -> Reply {
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: .milliseconds(Int64((client.timeoutSeconds * 1000).rounded(.up))))
        var backoffMilliseconds = 0
        while true {
            let reply: Reply
            do {
                reply = Reply(bytes: try client.call(body))
            } catch is GatewayClient.Timeout {
                printError("error: " + timeoutMessage(client.timeoutSeconds))
                throw ExitStatus.timeout
            } catch let refused as GatewayClient.HandshakeFailed {
                printError("error: " + refused.message)
                throw ExitStatus.refused
            }
            guard reply.value?["error"]?.stringValue == ErrorCode.overloaded.rawValue else { return reply }
            let hint = Int(reply.value?["retry_after_ms"]?.intValue ?? 20)
            backoffMilliseconds = min(1000, max(hint, backoffMilliseconds * 2))
            let waitMilliseconds = backoffMilliseconds + Int.random(in: 0...max(1, backoffMilliseconds / 2))
            guard clock.now.advanced(by: .milliseconds(waitMilliseconds)) < deadline else { return reply }
            Thread.sleep(forTimeInterval: Double(waitMilliseconds) / 1000) // a back-off, not a synchronisation
        }
    }

    func timeoutMessage(_ seconds: Double) -> String {
        "no reply from the gateway at \(endpoint) within \(formatSeconds(seconds)) s — is the cluster running? (make cluster)"
            + (ProcessInfo.processInfo.environment["BANK_KEY"] == nil && key == nil
                ? " (no client key given: a gateway with CURVE on hears nothing without one; set BANK_KEY)" : "")
    }
}

/// A reply as received: its bytes, and the JSON object they hold (nil if they are not JSON).
struct Reply {
    let bytes: [UInt8]
    let value: JSONValue?

    init(bytes: [UInt8]) {
        self.bytes = bytes
        value = try? JSONValue.parse(bytes, maxDepth: 128)
    }

    var text: String { String(decoding: bytes, as: UTF8.self) }
    var isOK: Bool { value?["ok"]?.boolValue == true }

    /// The reply when it is a success; otherwise prints `error: CODE: message` on stderr and exits 1.
    func successOrExit() throws -> JSONValue? {
        guard let value else {
            printError("error: the gateway's reply is not JSON: \(text)")
            throw ExitStatus.errorReply
        }
        guard isOK else {
            printError("error: " + describeError(value))
            throw ExitStatus.errorReply
        }
        return value
    }
}

func printError(_ text: String) {
    FileHandle.standardError.write(Data((text.hasSuffix("\n") ? text : text + "\n").utf8))
}

func formatSeconds(_ seconds: Double) -> String {
    seconds == seconds.rounded() && seconds < 1e9 ? String(Int(seconds)) : String(seconds)
}

// MARK: - Money

/// Minor units shown as money of one currency: 1250 → "12.50" (GBP).
struct MoneyText {
    let currency: CurrencyCode

    /// Uses the reply's own `"currency"` when it has one.
    func preferring(_ reply: JSONValue) -> MoneyText {
        reply["currency"]?.stringValue.flatMap(CurrencyCode.init).map(MoneyText.init) ?? self
    }

    func callAsFunction(_ minor: Int64?) -> String {
        minor.map { MoneyFormat.format(minor: $0, currency: currency) } ?? "?"
    }
}

// MARK: - Describing replies

/// `CODE: message`, plus the failing item of an atomic batch.
func describeError(_ reply: JSONValue) -> String {
    let code = reply["error"]?.stringValue ?? "error"
    var text = "\(code): \(reply["message"]?.stringValue ?? "(no message)")"
    if reply["retryable"]?.boolValue == true { text += " (retryable: retry with the same request id)" }
    return text
}

/// One line for a successful mutation, e.g.
/// `transfer seq 12: alice → bob 25.00 GBP; alice balance 75.00, available 75.00`. `requested` is the request's
/// amount, for replies that do not echo it (a hold's).
func describeMutation(_ reply: JSONValue, _ money: MoneyText, requested: Int64? = nil) -> String {
    let money = money.preferring(reply)
    let op = reply["op"]?.stringValue ?? "mutation"
    let account = reply["account"]?.stringValue ?? "?"
    let hold = reply["hold_id"]?.stringValue ?? "?"
    let amount = "\(money(reply["amount"]?.intValue ?? requested)) \(money.currency)"
    let what: String
    switch op {
    case "open_account":
        what = "opened \(account) (\(money.currency), overdraft limit \(money(reply["overdraft_limit"]?.intValue)))"
    case "deposit": what = "\(amount) into \(account)"
    case "withdraw": what = "\(amount) out of \(account)"
    case "transfer":
        what = "\(reply["from"]?.stringValue ?? account) → \(reply["to"]?.stringValue ?? "?") \(amount)"
    case "hold": what = "hold \(hold) reserves \(amount) on \(account)"
    case "capture":
        what = "hold \(hold) captured \(money(reply["captured"]?.intValue)) \(money.currency), "
            + "released \(money(reply["released"]?.intValue))"
    case "release": what = "hold \(hold) released \(money(reply["released"]?.intValue)) \(money.currency)"
    case "freeze": what = "\(account) is frozen"
    case "unfreeze": what = "\(account) is no longer frozen"
    default: what = account
    }
    let seq = reply["seq"]?.intValue.map { " seq \($0)" } ?? ""
    var text = "\(op == "withdraw" ? "withdrawal" : op == "open_account" ? "open" : op)\(seq): \(what); "
        + describeFigures(reply, money)
    if reply["replayed"]?.boolValue == true {
        text += " (replayed: this request id was already done; nothing changed)"
    }
    return text
}

/// `alice balance 75.00, available 75.00`, plus what is held and whether the account is frozen.
func describeFigures(_ reply: JSONValue, _ money: MoneyText) -> String {
    var text = "\(reply["account"]?.stringValue ?? "?") balance \(money(reply["balance"]?.intValue)), "
        + "available \(money(reply["available"]?.intValue))"
    if let held = reply["held"]?.intValue, held != 0 { text += ", held \(money(held))" }
    if reply["frozen"]?.boolValue == true { text += ", frozen" }
    return text
}

/// `alice: balance 75.00 GBP, available 125.00, held 0.00, overdraft limit 50.00`.
func describeBalance(_ reply: JSONValue, _ money: MoneyText) -> String {
    let money = money.preferring(reply)
    var text = "\(reply["account"]?.stringValue ?? "?"): balance \(money(reply["balance"]?.intValue)) "
        + "\(money.currency), available \(money(reply["available"]?.intValue)), "
        + "held \(money(reply["held"]?.intValue)), overdraft limit \(money(reply["overdraft_limit"]?.intValue))"
    if reply["frozen"]?.boolValue == true { text += " — FROZEN (credits only)" }
    return text
}

// MARK: - Tables

/// Columns padded to their widest cell; `right` holds the indices of right-aligned (numeric) columns.
func table(_ header: [String], _ rows: [[String]], right: Set<Int> = []) -> [String] {
    var widths = header.map(\.count)
    for row in rows {
        for (index, cell) in row.enumerated() where index < widths.count { widths[index] = max(widths[index], cell.count) }
    }
    func line(_ cells: [String]) -> String {
        var parts: [String] = []
        for (index, cell) in cells.enumerated() {
            let padding = String(repeating: " ", count: max(0, widths[index] - cell.count))
            let isLast = index == cells.count - 1
            parts.append(right.contains(index) ? padding + cell : isLast ? cell : cell + padding)
        }
        var text = parts.joined(separator: "  ")
        while text.last == " " { text.removeLast() }
        return text
    }
    return [line(header)] + rows.map(line)
}
