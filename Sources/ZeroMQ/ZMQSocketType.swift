import CZeroMQ

/// The messaging pattern of a socket; it fixes which peers it may talk to and how messages are routed.
public enum ZMQSocketType: Sendable, CaseIterable {
    /// Prefixes every received message with the sender's identity frame and routes sends by the first frame.
    case router
    /// Load-balances sends over its connections and fair-queues receives, with no envelope of its own.
    case dealer
    /// Strict send/receive alternation; adds an empty delimiter frame that a ROUTER peer sees.
    case req
    /// Strict receive/send alternation, the server side of REQ.
    case rep
    /// Exactly one peer; used here for the inproc monitor link.
    case pair
    /// Broadcasts to every subscriber whose subscription matches; drops messages nobody has subscribed to yet.
    case pub
    /// Receives nothing until subscribed (`subscribe(prefix:)`).
    case sub
    /// Distributes messages round-robin to PULL peers.
    case push
    /// Fair-queues messages from PUSH peers.
    case pull

    var rawValue: Int32 {
        switch self {
        case .router: return ZMQ_ROUTER
        case .dealer: return ZMQ_DEALER
        case .req: return ZMQ_REQ
        case .rep: return ZMQ_REP
        case .pair: return ZMQ_PAIR
        case .pub: return ZMQ_PUB
        case .sub: return ZMQ_SUB
        case .push: return ZMQ_PUSH
        case .pull: return ZMQ_PULL
        }
    }
}
