import ArgumentParser
import BankProtocol
import Foundation

// Requests written by hand: batch (a file of requests), send (one raw request).

struct Batch: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Send many requests at once from a JSON file.",
        discussion: """
            FILE holds a JSON array of request objects as on the wire (amounts in minor units), e.g.
              [{"op":"deposit","account":"alice","amount":1000},{"op":"balance","account":"alice"}]
            A mutation without a request_id gets a generated one; put your own ids in the file to be able to retry \
            it safely. Exit status 0 when the batch was processed (refused items are listed), 1 when an --atomic \
            batch failed as a whole.
            """)
    @OptionGroup var global: GlobalOptions
    @OptionGroup var money: MoneyOptions
    @Argument(help: "File with a JSON array of request objects; - for standard input.") var file: String
    @Flag(help: "All or nothing: if one item is refused, none is applied.") var atomic = false

    func run() throws {
        let items = try readItems()
        let request = Request("batch").with("requests", .array(items)).with("atomic", atomic)
        try global.perform(request) { describeBatch($0, items: items) }
    }

    private func readItems() throws -> [JSONValue] {
        let data: Data
        do {
            data = file == "-" ? FileHandle.standardInput.readDataToEndOfFile()
                : try Data(contentsOf: URL(fileURLWithPath: file))
        } catch {
            throw ValidationError("cannot read \(file): \(error.localizedDescription)")
        }
        let parsed: JSONValue
        do {
            parsed = try JSONValue.parse([UInt8](data), maxDepth: JSONValue.maximumSupportedDepth)
        } catch {
            throw ValidationError("\(file) is not valid JSON: \(error)")
        }
        guard case .array(let items) = parsed, !items.isEmpty else {
            throw ValidationError("\(file) must hold a non-empty JSON array of request objects")
        }
        return items.enumerated().map { index, item in withRequestID(item, index: index) }
    }

    /// Gives a mutation without a `request_id` a fresh one; everything else is sent exactly as written.
    private func withRequestID(_ item: JSONValue, index: Int) -> JSONValue {
        guard case .object(var object) = item, let op = object["op"]?.stringValue,
              !["balance", "statement"].contains(op), object["request_id"] == nil else { return item }
        object.updateValue(.string(UUID().uuidString.lowercased()), forKey: "request_id")
        return .object(object)
    }

    private func describeBatch(_ reply: JSONValue, items: [JSONValue]) -> String {
        let results = reply["results"]?.arrayValue ?? []
        let refused = results.count { $0["ok"]?.boolValue != true }
        var lines = ["batch\(atomic ? " (atomic)" : ""): \(results.count) results, "
                     + "\(results.count - refused) ok, \(refused) refused"]
        for (index, result) in results.enumerated() {
            let requested = index < items.count ? items[index]["amount"]?.intValue : nil
            let text: String
            if result["ok"]?.boolValue != true {
                text = "error: " + describeError(result)
            } else if result["op"] != nil {
                text = describeMutation(result, money.text, requested: requested)
            } else if result["entries"] != nil {
                text = describeStatement(result, money.text)
            } else {
                text = describeBalance(result, money.text)
            }
            lines.append("[\(index)] " + text)
        }
        return lines.joined(separator: "\n")
    }
}

struct Send: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Send one raw request and print the raw reply.",
        discussion: """
            The text is sent exactly as given (nothing is checked or added), so malformed requests can be tried too.
            Exit status 1 unless the reply says "ok": true.
            """)
    @OptionGroup var global: GlobalOptions
    @Argument(help: #"The request, e.g. '{"op":"balance","account":"alice"}'; - for standard input."#)
    var request: String

    func run() throws {
        let body = request == "-" ? [UInt8](FileHandle.standardInput.readDataToEndOfFile()) : Array(request.utf8)
        let reply = try global.exchange(body, using: try global.client())
        print(reply.text)
        if !reply.isOK { throw ExitStatus.errorReply }
    }
}
