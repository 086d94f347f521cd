import ArgumentParser
import BankProtocol
import Foundation

struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show the leader, the epoch and each ledger's state.")
    @OptionGroup var global: GlobalOptions
    @Flag(help: "Refresh until interrupted.") var watch = false
    @Option(help: "Seconds between refreshes with --watch.") var interval = 0.5

    func run() throws {
        repeat {
            let reply = try global.call(["op": "status"])
            if global.json {
                print(String(decoding: reply.serialized(), as: UTF8.self))
            } else {
                if watch { print("\u{1B}[2J\u{1B}[H", terminator: "") }
                print(Self.describe(reply))
            }
            if reply["ok"]?.boolValue != true { throw ExitCode(1) }
            if watch { Thread.sleep(forTimeInterval: interval) }
        } while watch
    }

    static func describe(_ reply: JSONValue) -> String {
        let leader = reply["leader"]?.stringValue ?? "none"
        var lines = ["leader: \(leader)   epoch: \(reply["epoch"]?.intValue ?? 0)   "
                     + "leader changes: \(reply["leader_changes"]?.intValue ?? 0)   "
                     + "requests in flight: \(reply["pending_requests"]?.intValue ?? 0)"]
        lines.append("node      role          last seq   commit seq   lag      heartbeat   hash")
        for node in reply["nodes"]?.arrayValue ?? [] {
            func number(_ key: String) -> String { node[key]?.intValue.map(String.init) ?? "-" }
            let age = node["heartbeat_age_ms"]?.intValue.map { "\($0) ms" } ?? "-"
            lines.append([
                pad(node["name"]?.stringValue ?? "?", 8), pad(node["role"]?.stringValue ?? "?", 12),
                pad(number("last_seq"), 9, right: true), pad(number("commit_seq"), 11, right: true),
                pad(number("replication_lag"), 6, right: true), pad(age, 10, right: true),
                node["last_hash"]?.stringValue ?? "-",
            ].joined(separator: "  "))
        }
        return lines.joined(separator: "\n")
    }
}
