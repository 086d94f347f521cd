import ArgumentParser
import ZeroMQ

/// Sends one request and waits, never longer than the timeout, for its reply.
///
/// A DEALER socket sending the body as one frame (no delimiter, PROTOCOL.md): unlike a REQ socket, a lost reply
/// ends in a timeout instead of a socket stuck waiting. After a timeout the socket is replaced, so a late reply can
/// never be taken for the answer to the next request.
///
/// With a key (`ClientKeys`) the socket is a CURVE client of the gateway. A handshake that fails — the key refused,
/// a client without a key at a gateway that wants one, the wrong gateway key — is seen on the socket's monitor and
/// reported at once (`HandshakeFailed`), instead of ending in a silent timeout.
final class GatewayClient {
    struct Timeout: Error {}
    struct HandshakeFailed: Error { let message: String }

    let endpoint: String
    let timeoutSeconds: Double
    let keys: ClientKeys?
    private let context: ZMQContext
    private var socket: ZMQSocket
    private var monitor: ZMQMonitor

    init(endpoint: String, timeoutSeconds: Double, keys: ClientKeys?) throws {
        self.endpoint = endpoint
        self.timeoutSeconds = timeoutSeconds
        self.keys = keys
        context = try ZMQContext()
        (socket, monitor) = try Self.connect(context, endpoint, timeoutSeconds, keys)
    }

    private static func connect(_ context: ZMQContext, _ endpoint: String, _ timeoutSeconds: Double,
                                _ keys: ClientKeys?) throws -> (ZMQSocket, ZMQMonitor) {
        let socket = try context.makeSocket(.dealer)
        try socket.setSendTimeoutMilliseconds(Int32(min(timeoutSeconds * 1000, Double(Int32.max)).rounded(.up)))
        if let keys { try socket.setCurveClient(keys.pair, serverKey: keys.gatewayKey) }
        // Refusals and protocol failures end the call at once. A handshake cut with no detail is what a restarting
        // gateway causes, but also a refusal when the gateway closes before this side has read why (a client
        // without a key at a CURVE gateway mostly sees that: its write fails first): counted, see `call`.
        let monitor = try socket.makeMonitor(kinds: [.handshakeFailedAuth, .handshakeFailedProtocol,
                                                     .handshakeFailedNoDetail, .handshakeSucceeded])
        do {
            try socket.connect(endpoint)
        } catch let error as ZMQError {
            monitor.close()
            socket.close()
            throw ValidationError("cannot use gateway endpoint '\(endpoint)': \(error.message) (expected e.g. tcp://127.0.0.1:5555)")
        }
        return (socket, monitor)
    }

    /// The reply body to `body`; throws `Timeout` when none comes in time, `HandshakeFailed` when the gateway will
    /// not talk to this client.
    func call(_ body: [UInt8]) throws -> [UInt8] {
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: .milliseconds(Int64((timeoutSeconds * 1000).rounded(.up))))
        do {
            // Blocks at most the send timeout (only possible if the queue to the gateway is full).
            // The body alone, no empty delimiter: over CURVE every frame is sealed on its own, so a delimiter costs
            // an encryption each way (PROTOCOL.md).
            guard try socket.send([body], dontWait: false) else { throw Timeout() }
            let poller = ZMQPoller()
            poller.add(socket)
            poller.add(monitor.socket)
            var cutHandshakes = 0
            while clock.now < deadline {
                let remaining = clock.now.duration(to: deadline)
                let milliseconds = max(1, min(1000, Int(remaining.components.seconds * 1000)
                    + Int(remaining.components.attoseconds / 1_000_000_000_000_000) + 1))
                guard try !poller.poll(timeoutMilliseconds: milliseconds).isEmpty else { continue }
                while let event = try monitor.receiveEvent(dontWait: true) {
                    switch event.kind {
                    case .handshakeSucceeded: cutHandshakes = 0
                    case .handshakeFailedNoDetail:
                        // One is a gateway going down mid-handshake; every try in a row is a gateway that will not
                        // talk to this client.
                        cutHandshakes += 1
                        if cutHandshakes >= Self.cutHandshakesMeaningRefusal {
                            throw HandshakeFailed(message: explainCut())
                        }
                    default: throw HandshakeFailed(message: explain(event))
                    }
                }
                guard let frames = try socket.receive(dontWait: true) else { continue }
                // [body], as sent.
                if let reply = frames.last { return reply }
            }
            throw Timeout()
        } catch let timeout as Timeout {
            try reconnect()
            throw timeout
        }
    }

    /// Handshakes in a row cut by the gateway, none succeeding, taken as a refusal (libzmq reconnects after about
    /// 100 ms, and more each time: measured, the refusal is reported about half a second after the first try).
    static let cutHandshakesMeaningRefusal = 4

    /// What handshakes cut every time mean for the user.
    private func explainCut() -> String {
        guard let keys else {
            return "the gateway at \(endpoint) closes every connection of this client during the handshake: it talks "
                + "only to clients with a key (CURVE)? Give --key FILE or set BANK_KEY (make cluster prints the "
                + "export line)"
        }
        return "the gateway at \(endpoint) closes every connection of this client during the handshake: does it run "
            + "without keys (\"insecure\": true in its cluster file), or is \(keys.gatewayKey) (from "
            + "\(keys.gatewaySource)) not its public key?"
    }

    /// What a failed handshake means for the user.
    private func explain(_ event: ZMQMonitorEvent) -> String {
        let mechanismMismatch: UInt32 = 0x1100_0002 // ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH
        switch (event.kind, keys) {
        case (.handshakeFailedAuth, let keys?):
            return "the gateway at \(endpoint) refused this client's key \(keys.pair.publicKey) (from \(keys.source)): "
                + "it is not a client key of the bank, or it was revoked"
        case (.handshakeFailedProtocol, nil) where event.value == mechanismMismatch:
            return "the gateway at \(endpoint) talks only to clients with a key (CURVE): give --key FILE or set "
                + "BANK_KEY (make cluster prints the export line)"
        case (.handshakeFailedProtocol, _?) where event.value == mechanismMismatch:
            return "the gateway at \(endpoint) runs without keys (its cluster file says \"insecure\": true): "
                + "run without --key and BANK_KEY"
        case (_, let keys?):
            return "the encrypted handshake with the gateway at \(endpoint) failed: is \(keys.gatewayKey) "
                + "(from \(keys.gatewaySource)) the gateway's public key?"
        case (_, nil):
            return "the handshake with the gateway at \(endpoint) failed"
        }
    }

    private func reconnect() throws {
        monitor.close()
        socket.close()
        (socket, monitor) = try Self.connect(context, endpoint, timeoutSeconds, keys)
    }
}

/// A client's CURVE keys: its own pair (from a `.key_secret` file) and the gateway's public key.
struct ClientKeys {
    let pair: CurveKeyPair
    let gatewayKey: String
    /// Where each came from, for messages.
    let source: String
    let gatewaySource: String
}
