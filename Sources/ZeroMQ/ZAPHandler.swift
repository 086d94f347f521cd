import CZeroMQ
import Foundation

/// One ZAP request (RFC 27): a server socket with a ZAP domain asks the context's handler whether a peer that
/// completed a handshake may connect.
public struct ZAPRequest: Hashable, Sendable {
    public var requestID: [UInt8]
    public var domain: String
    /// The peer's IP address, as libzmq saw it.
    public var address: String
    /// "NULL", "PLAIN" or "CURVE".
    public var mechanism: String
    /// For CURVE, the client's 32-byte public key (one frame).
    public var credentials: [[UInt8]]

    /// The client's public key in Z85 text, for a CURVE request.
    public var curvePublicKey: String? {
        guard mechanism == "CURVE", credentials.count == 1 else { return nil }
        return Z85.encodeKey(credentials[0])
    }

    /// Parses the frames of a request; nil if they are not a version 1.0 ZAP request.
    public init?(frames: [[UInt8]]) {
        guard frames.count >= 6, frames[0] == Array("1.0".utf8) else { return nil }
        requestID = frames[1]
        domain = String(decoding: frames[2], as: UTF8.self)
        address = String(decoding: frames[3], as: UTF8.self)
        mechanism = String(decoding: frames[5], as: UTF8.self)
        credentials = Array(frames.dropFirst(6))
    }

    public init(requestID: [UInt8], domain: String, address: String, mechanism: String, credentials: [[UInt8]]) {
        self.requestID = requestID
        self.domain = domain
        self.address = address
        self.mechanism = mechanism
        self.credentials = credentials
    }
}

/// The handler's answer: allowed under a user id (which every message on that connection then carries as its
/// `User-Id` property), or refused.
public enum ZAPDecision: Hashable, Sendable {
    case allow(userID: String)
    case deny(reason: String)

    /// The reply frames for `request` (RFC 27: version, request id, status code, status text, user id, metadata).
    public func replyFrames(to requestID: [UInt8]) -> [[UInt8]] {
        switch self {
        case let .allow(userID):
            return [Array("1.0".utf8), requestID, Array("200".utf8), Array("OK".utf8), Array(userID.utf8), []]
        case let .deny(reason):
            return [Array("1.0".utf8), requestID, Array("400".utf8), Array(reason.utf8), [], []]
        }
    }
}

/// The context's ZAP handler: a thread with a REP socket at `inproc://zeromq.zap.01` that answers each request
/// with `decide`. It is bound before `init` returns, so no handshake of a socket made afterwards goes unanswered
/// (and one that does — no handler — is refused, as long as the server sets a ZAP domain).
///
/// `decide` runs on the handler's thread; it must be thread-safe with respect to whatever it reads (an allow-list
/// reloaded on `SIGHUP`, say).
public final class ZAPHandler: @unchecked Sendable {
    public static let endpoint = "inproc://zeromq.zap.01"
    private let condition = NSCondition()
    private var state = State.starting
    private enum State { case starting, running, failed(ZMQError), stopping, stopped }

    public init(context: ZMQContext, decide: @escaping @Sendable (ZAPRequest) -> ZAPDecision) throws {
        let thread = Thread { [self] in run(context: context, decide: decide) }
        thread.name = "zap-handler"
        thread.start()
        condition.lock()
        defer { condition.unlock() }
        while case .starting = state { condition.wait() }
        if case let .failed(error) = state { throw error }
    }

    /// Stops answering (later handshakes are refused) and waits for the thread to end. Idempotent.
    public func stop() {
        condition.lock()
        defer { condition.unlock() }
        guard case .running = state else { return }
        state = .stopping
        while true {
            if case .stopped = state { return }
            condition.wait()
        }
    }

    private func set(_ next: State) {
        condition.lock()
        state = next
        condition.broadcast()
        condition.unlock()
    }

    private var isStopping: Bool {
        condition.lock()
        defer { condition.unlock() }
        if case .stopping = state { return true }
        return false
    }

    private func run(context: ZMQContext, decide: @Sendable (ZAPRequest) -> ZAPDecision) {
        let socket: ZMQSocket
        do {
            socket = try context.makeSocket(.rep)
            try socket.bind(Self.endpoint)
        } catch {
            set(.failed(error as? ZMQError ?? ZMQError(operation: "ZAP handler", code: EINVAL, message: "\(error)")))
            return
        }
        set(.running)
        let poller = ZMQPoller()
        poller.add(socket)
        while !isStopping {
            guard (try? poller.poll(timeoutMilliseconds: 100)) != nil,
                  let frames = try? socket.receive(dontWait: true) else { continue }
            let decision = ZAPRequest(frames: frames).map(decide) ?? .deny(reason: "malformed ZAP request")
            let requestID = frames.count > 1 ? frames[1] : []
            _ = try? socket.send(decision.replyFrames(to: requestID), dontWait: false)
        }
        socket.close()
        set(.stopped)
    }
}
