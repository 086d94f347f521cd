import CZeroMQ
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One connection-level event reported by a socket monitor: how a node learns that a TCP peer came or went without
/// waiting for a request to time out.
public struct ZMQMonitorEvent: Sendable, Equatable {
    /// The libzmq `ZMQ_EVENT_*` events (version 1 monitor protocol).
    public enum Kind: UInt16, Sendable, CaseIterable {
        /// An outgoing connection completed (value: the fd).
        case connected = 0x0001
        /// A connect is in progress asynchronously (value: errno).
        case connectDelayed = 0x0002
        /// A connect failed and will be retried (value: the reconnect interval in milliseconds).
        case connectRetried = 0x0004
        /// A bind succeeded (value: the fd).
        case listening = 0x0008
        /// A bind failed (value: errno).
        case bindFailed = 0x0010
        /// A peer connected to a bound endpoint (value: the fd).
        case accepted = 0x0020
        /// Accepting a connection failed (value: errno).
        case acceptFailed = 0x0040
        /// A connection or listener was closed by this side (value: the fd).
        case closed = 0x0080
        /// Closing failed (value: errno).
        case closeFailed = 0x0100
        /// A session ended: the peer went away or the connection broke (value: the fd).
        case disconnected = 0x0200
        /// Monitoring stopped, e.g. because the monitored socket was closed.
        case monitorStopped = 0x0400
        /// The ZMTP handshake failed for an unspecified reason (value: errno).
        case handshakeFailedNoDetail = 0x0800
        /// The ZMTP handshake completed: the peer is really there and speaks ZMTP.
        case handshakeSucceeded = 0x1000
        /// The peer violated the ZMTP protocol during the handshake (value: a `ZMQ_PROTOCOL_ERROR_*` code).
        case handshakeFailedProtocol = 0x2000
        /// Authentication failed (value: the ZAP status code).
        case handshakeFailedAuth = 0x4000
    }

    public let kind: Kind
    /// The fd, errno or interval that libzmq attaches, as documented on each `Kind`.
    public let value: UInt32
    /// The endpoint concerned, e.g. "tcp://127.0.0.1:5555".
    public let endpoint: String

    public init(kind: Kind, value: UInt32, endpoint: String) {
        self.kind = kind
        self.value = value
        self.endpoint = endpoint
    }

    /// Decodes libzmq's two-frame event message: [UInt16 event, UInt32 value] in host byte order, then the endpoint.
    init(frames: [[UInt8]]) throws {
        guard frames.count == 2, frames[0].count == 6 else {
            throw ZMQError(operation: "socket monitor", code: EPROTO, message: "malformed monitor event")
        }
        let (raw, value) = frames[0].withUnsafeBytes {
            ($0.loadUnaligned(as: UInt16.self), $0.loadUnaligned(fromByteOffset: 2, as: UInt32.self))
        }
        guard let kind = Kind(rawValue: raw) else {
            throw ZMQError(operation: "socket monitor", code: EPROTO, message: "unknown monitor event \(raw)")
        }
        self.init(kind: kind, value: value, endpoint: String(decoding: frames[1], as: UTF8.self))
    }
}
