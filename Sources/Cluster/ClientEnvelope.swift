/// How to route a reply back to a client through the gateway's ROUTER socket: the identity frame ZeroMQ added,
/// and whether the client sent an empty delimiter frame (REQ sockets do; DEALER clients may not).
public struct ClientEnvelope: Hashable, Sendable {
    public var identity: [UInt8]
    public var delimited: Bool
    public init(identity: [UInt8], delimited: Bool) {
        self.identity = identity
        self.delimited = delimited
    }
}
