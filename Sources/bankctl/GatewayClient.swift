import ArgumentParser
import ZeroMQ

/// Sends one request and waits, never longer than the timeout, for its reply.
///
/// A DEALER socket with an empty delimiter frame: the gateway treats it like a REQ client, but a lost reply ends in
/// a timeout instead of a socket stuck waiting. After a timeout the socket is replaced, so a late reply can never be
/// taken for the answer to the next request.
final class GatewayClient {
    struct Timeout: Error {}

    let endpoint: String
    let timeoutSeconds: Double
    private let context: ZMQContext
    private var socket: ZMQSocket

    init(endpoint: String, timeoutSeconds: Double) throws {
        self.endpoint = endpoint
        self.timeoutSeconds = timeoutSeconds
        context = try ZMQContext()
        socket = try Self.connect(context, endpoint, timeoutSeconds)
    }

    private static func connect(_ context: ZMQContext, _ endpoint: String, _ timeoutSeconds: Double) throws -> ZMQSocket {
        let socket = try context.makeSocket(.dealer)
        try socket.setSendTimeoutMilliseconds(Int32(min(timeoutSeconds * 1000, Double(Int32.max)).rounded(.up)))
        do {
            try socket.connect(endpoint)
        } catch let error as ZMQError {
            socket.close()
            throw ValidationError("cannot use gateway endpoint '\(endpoint)': \(error.message) (expected e.g. tcp://127.0.0.1:5555)")
        }
        return socket
    }

    /// The reply body to `body`; throws `Timeout` when none comes in time.
    func call(_ body: [UInt8]) throws -> [UInt8] {
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: .milliseconds(Int64((timeoutSeconds * 1000).rounded(.up))))
        do {
            // Blocks at most the send timeout (only possible if the queue to the gateway is full).
            guard try socket.send([[], body], dontWait: false) else { throw Timeout() }
            let poller = ZMQPoller()
            poller.add(socket)
            while clock.now < deadline {
                let remaining = clock.now.duration(to: deadline)
                let milliseconds = max(1, min(1000, Int(remaining.components.seconds * 1000)
                    + Int(remaining.components.attoseconds / 1_000_000_000_000_000) + 1))
                guard try !poller.poll(timeoutMilliseconds: milliseconds).isEmpty else { continue }
                guard let frames = try socket.receive(dontWait: true) else { continue }
                // [delimiter, body]: the body is the last frame.
                if let reply = frames.last { return reply }
            }
            throw Timeout()
        } catch let timeout as Timeout {
            try reconnect()
            throw timeout
        }
    }

    private func reconnect() throws {
        socket.close()
        socket = try Self.connect(context, endpoint, timeoutSeconds)
    }
}
