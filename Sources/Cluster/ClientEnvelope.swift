import BankCore
import BankProtocol

/// How to route a reply back to a client through the gateway's ROUTER socket: the identity frame ZeroMQ added,
/// and whether the client sent an empty delimiter frame (REQ sockets do; DEALER clients may not).
///
/// `role`: what the client's key may ask for, when the connection is authenticated (CURVE; the ZAP handler's user
/// id names it); nil on a connection without keys (`insecure`), where every request is let through as before.
/// `clientKey`: that key, the scope of the client's request ids (nil without keys).
public struct ClientEnvelope: Hashable, Sendable {
    public var identity: [UInt8]
    public var delimited: Bool
    public var role: ClientRole?
    public var clientKey: ClientKey?
    public init(identity: [UInt8], delimited: Bool, role: ClientRole? = nil, clientKey: ClientKey? = nil) {
        self.identity = identity
        self.delimited = delimited
        self.role = role
        self.clientKey = clientKey
    }
}
