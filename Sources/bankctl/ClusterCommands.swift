import ArgumentParser
import BankProtocol
import Foundation

// Questions for the gateway itself: status, switchover.

struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show the leader, the epoch and each ledger's state.")
    @OptionGroup var global: GlobalOptions
    @Flag(help: "Refresh until interrupted (Ctrl-C).") var watch = false
    @Option(help: ArgumentHelp("Seconds between refreshes with --watch.", valueName: "seconds")) var interval = 0.5

    func validate() throws {
        guard interval > 0 && interval <= 3600 else { throw ValidationError("--interval must be above 0 seconds") }
    }

    func run() throws {
        guard watch else {
            try global.perform(Request("status")) { describeStatus($0) }
            return
        }
        // A shorter wait by default while watching: a stopped gateway should show up quickly, not freeze the screen.
        let client = try global.client(timeoutSeconds: global.timeout ?? max(1, min(interval * 4, 5)))
        let body = Request("status").bytes
        while true {
            var screen: String
            do {
                let reply = Reply(bytes: try client.call(body))
                if global.json {
                    screen = reply.text
                } else if let value = reply.value, reply.isOK {
                    screen = describeStatus(value)
                } else {
                    screen = "error: " + (reply.value.map(describeError) ?? reply.text)
                }
            } catch is GatewayClient.Timeout {
                screen = "error: " + global.timeoutMessage(client.timeoutSeconds)
            } catch let refused as GatewayClient.HandshakeFailed {
                printError("error: " + refused.message)
                throw ExitStatus.refused
            }
            if !global.json {
                screen = "\u{1B}[H\u{1B}[2J" + "\(global.endpoint) every \(formatSeconds(interval)) s "
                    + "(Ctrl-C to stop) — \(TimeFormat.iso8601(millis: Int64(Date().timeIntervalSince1970 * 1000)))\n\n" + screen
            }
            print(screen)
            fflush(nil)
            Thread.sleep(forTimeInterval: interval)
        }
    }
}

/// Leader and epoch on top, then one row per ledger. A node that never reported has only name, role and age.
func describeStatus(_ reply: JSONValue) -> String {
    let leader = reply["leader"]?.stringValue ?? "none"
    var lines = ["leader: \(leader)   epoch: \(number(reply["epoch"]))   "
                 + "leader changes: \(number(reply["leader_changes"]))   "
                 + "pending requests: \(number(reply["pending_requests"]))"]
    let rows = (reply["nodes"]?.arrayValue ?? []).map { node -> [String] in
        let hash = node["last_hash"]?.stringValue.map { String($0.prefix(12)) } ?? "-"
        let inSync = node["in_sync"]?.boolValue.map { $0 ? "yes" : "no" } ?? "-"
        return [node["name"]?.stringValue ?? "?", node["role"]?.stringValue ?? "?", number(node["epoch"]),
                number(node["last_seq"]), number(node["commit_seq"]), number(node["replication_lag"]),
                age(node["heartbeat_age_ms"]?.intValue), inSync, hash]
    }
    lines += table(["NODE", "ROLE", "EPOCH", "LAST SEQ", "COMMIT SEQ", "LAG", "HEARTBEAT", "IN SYNC", "LAST HASH"],
                   rows, right: [2, 3, 4, 5, 6])
    return lines.joined(separator: "\n")
}

private func number(_ value: JSONValue?) -> String { value?.intValue.map(String.init) ?? "-" }

private func age(_ milliseconds: Int64?) -> String {
    guard let milliseconds else { return "-" }
    if milliseconds < 10_000 { return "\(milliseconds) ms ago" }
    return "\(milliseconds / 1000) s ago"
}

struct Switchover: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Move leadership to the in-sync follower (planned maintenance).",
        discussion: "Requests in flight are held and re-sent to the new leader; clients see only a short delay.")
    @OptionGroup var global: GlobalOptions

    func run() throws {
        try global.perform(Request("switchover")) { reply in
            "switchover done: \(reply["leader"]?.stringValue ?? "?") leads epoch \(number(reply["epoch"]))"
        }
    }
}
