import BankProtocol
import Foundation
import ZeroMQ

/// One request, one reply, with a deadline: a DEALER socket with an empty delimiter frame, so the gateway treats it
/// like a REQ client, but a lost reply ends in a clear timeout instead of a stuck socket.
final class GatewayClient {
    let endpoint: String
    let timeoutSeconds: Double
    private let context: ZMQContext
    private let socket: ZMQSocket

    init(endpoint: String, timeoutSeconds: Double) throws {
        self.endpoint = endpoint
        self.timeoutSeconds = timeoutSeconds
        context = try ZMQContext()
        socket = try context.makeSocket(.dealer)
        try socket.connect(endpoint)
    }

    deinit { socket.close() }

    struct Timeout: Error {}

    func call(_ body: [UInt8]) throws -> [UInt8] {
        guard try socket.send([[], body], dontWait: false) else { throw Timeout() }
        let poller = ZMQPoller()
        poller.add(socket)
        let deadline = Date().addingTimeInterval(timeoutSeconds)
        while Date() < deadline {
            let remaining = max(1, Int(deadline.timeIntervalSinceNow * 1000))
            guard try !poller.poll(timeoutMilliseconds: min(remaining, 100)).isEmpty,
                  let frames = try socket.receive(dontWait: true) else { continue }
            if let body = frames.last { return body }
        }
        throw Timeout()
    }
}
