import BankProtocol
import Foundation
import ZeroMQ

/// A plain ZeroMQ client of the gateway, as any user would write one: a DEALER socket, an empty delimiter frame,
/// one JSON frame per request, a timeout on every call.
final class BankClient {
    private let context: ZMQContext
    private let socket: ZMQSocket

    init(endpoint: String) throws {
        context = try ZMQContext()
        socket = try context.makeSocket(.dealer)
        try socket.connect(endpoint)
    }

    deinit {
        socket.close()
    }

    /// Sends one request and waits for its reply. One call at a time per client; replies that arrive after their
    /// call timed out are drained before the next request.
    func call(_ request: JSONValue, timeoutMilliseconds: Int = 10_000) throws -> JSONValue {
        let reply = try callRaw(request.serialized(), timeoutMilliseconds: timeoutMilliseconds)
        return try JSONValue.parse(reply)
    }

    func callRaw(_ body: [UInt8], extraFrames: [[UInt8]] = [], timeoutMilliseconds: Int = 10_000) throws -> [UInt8] {
        while try socket.receive(dontWait: true) != nil {} // Drop replies to calls that timed out.
        guard try socket.send([[], body] + extraFrames, dontWait: false) else {
            throw HarnessError.noReply("send would block")
        }
        let poller = ZMQPoller()
        poller.add(socket)
        let deadline = Date().addingTimeInterval(Double(timeoutMilliseconds) / 1000)
        while Date() < deadline {
            let ready = try poller.poll(timeoutMilliseconds: 50)
            guard !ready.isEmpty, let frames = try socket.receive(dontWait: true) else { continue }
            guard frames.count == 2, frames[0].isEmpty else {
                throw HarnessError.noReply("unexpected reply shape: \(frames.count) frames")
            }
            return frames[1]
        }
        throw HarnessError.noReply("no reply within \(timeoutMilliseconds) ms")
    }
}

extension JSONValue {
    var isOK: Bool { self["ok"]?.boolValue == true }
    var errorCode: String? { self["error"]?.stringValue }
}
