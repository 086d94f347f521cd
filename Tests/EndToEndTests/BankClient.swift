import BankProtocol
import Foundation
import ZeroMQ

/// A plain ZeroMQ client of the gateway, as any user would write one: a DEALER socket, an empty delimiter frame,
/// one JSON frame per request, a timeout on every call.
final class BankClient {
    private let context: ZMQContext
    private let socket: ZMQSocket

    /// - Parameter keys: this client's key pair and the gateway's public key (nil: no CURVE).
    init(endpoint: String, keys: ClientKeys? = nil) throws {
        context = try ZMQContext()
        socket = try context.makeSocket(.dealer)
        if let keys { try socket.setCurveClient(keys.pair, serverKey: keys.gatewayKey) }
        try socket.connect(endpoint)
    }

    deinit {
        socket.close()
    }

    /// Sends one request and waits for its reply. One call at a time per client; replies that arrive after their
    /// call timed out are drained before the next request. A reply can still arrive late, after the next request was
    /// sent: when the request carries a `request_id`, a reply naming another request id is that late reply and is
    /// skipped, as a client pipelining requests must do (taking it for this call's reply would credit this request
    /// with another one's seq).
    func call(_ request: JSONValue, timeoutMilliseconds: Int = 10_000) throws -> JSONValue {
        let deadline = Date().addingTimeInterval(Double(timeoutMilliseconds) / 1000)
        var reply = try JSONValue.parse(callRaw(request.serialized(), timeoutMilliseconds: timeoutMilliseconds))
        guard let requestID = request["request_id"]?.stringValue else { return reply }
        while let answered = reply["request_id"]?.stringValue, answered != requestID {
            let remainingMilliseconds = Int(deadline.timeIntervalSinceNow * 1000)
            guard remainingMilliseconds > 0 else { throw HarnessError.noReply("no reply within \(timeoutMilliseconds) ms") }
            reply = try JSONValue.parse(receiveRaw(timeoutMilliseconds: remainingMilliseconds))
        }
        return reply
    }

    func callRaw(_ body: [UInt8], extraFrames: [[UInt8]] = [], timeoutMilliseconds: Int = 10_000) throws -> [UInt8] {
        while try socket.receive(dontWait: true) != nil {} // Drop replies to calls that timed out.
        guard try socket.send([[], body] + extraFrames, dontWait: false) else {
            throw HarnessError.noReply("send would block")
        }
        return try receiveRaw(timeoutMilliseconds: timeoutMilliseconds)
    }

    private func receiveRaw(timeoutMilliseconds: Int) throws -> [UInt8] {
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

/// A test client's CURVE keys: its own pair and the gateway's public key.
struct ClientKeys: Sendable {
    var pair: CurveKeyPair
    var gatewayKey: String
}

extension JSONValue {
    var isOK: Bool { self["ok"]?.boolValue == true }
    var errorCode: String? { self["error"]?.stringValue }
}
