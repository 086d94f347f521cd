import CZeroMQ
#if canImport(Glibc)
import Glibc
#endif

/// A CURVE key pair (Curve25519), each key in Z85 text: 40 characters for 32 bytes.
public struct CurveKeyPair: Hashable, Sendable {
    public let publicKey: String
    public let secretKey: String

    /// A new pair from libzmq's `zmq_curve_keypair` (libsodium's random source).
    public static func generate() throws -> CurveKeyPair {
        var publicText = [CChar](repeating: 0, count: 41)
        var secretText = [CChar](repeating: 0, count: 41)
        guard zmq_curve_keypair(&publicText, &secretText) == 0 else { throw ZMQError.last("zmq_curve_keypair") }
        defer { for index in secretText.indices { secretText[index] = 0 } }
        return CurveKeyPair(publicKey: Z85.string(publicText), secretKey: Z85.string(secretText))
    }

    /// The pair of a secret key (its public half derived with `zmq_curve_public`); nil unless `secretKey` is a valid
    /// Z85 key.
    public init?(secretKey: String) {
        guard Z85.isKey(secretKey) else { return nil }
        var publicText = [CChar](repeating: 0, count: 41)
        guard zmq_curve_public(&publicText, secretKey) == 0 else { return nil }
        self.init(publicKey: Z85.string(publicText), secretKey: secretKey)
    }

    private init(publicKey: String, secretKey: String) {
        self.publicKey = publicKey
        self.secretKey = secretKey
    }
}

/// ZeroMQ's Z85 text encoding of keys (RFC 32/Z85).
public enum Z85 {
    /// The 85 characters Z85 uses.
    static let alphabet = Set("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#".utf8)

    /// Whether `text` is a 40-character Z85 key (32 bytes).
    public static func isKey(_ text: String) -> Bool {
        text.utf8.count == 40 && text.utf8.allSatisfy(alphabet.contains)
    }

    /// The 32 bytes of a Z85 key; nil unless it is one.
    public static func decodeKey(_ text: String) -> [UInt8]? {
        guard isKey(text) else { return nil }
        var bytes = [UInt8](repeating: 0, count: 32)
        guard zmq_z85_decode(&bytes, text) != nil else { return nil }
        return bytes
    }

    /// The Z85 text of 32 key bytes.
    public static func encodeKey(_ bytes: [UInt8]) -> String? {
        guard bytes.count == 32 else { return nil }
        var text = [CChar](repeating: 0, count: 41)
        guard zmq_z85_encode(&text, bytes, 32) != nil else { return nil }
        return string(text)
    }

    static func string(_ text: [CChar]) -> String {
        String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// CURVE on a socket. Set before `bind`/`connect`, like every option that reaches connections.
extension ZMQSocket {
    /// `ZMQ_ZAP_ENFORCE_DOMAIN`, a draft option the stable header leaves out; Debian's libzmq 4.3.4 takes it.
    static let zapEnforceDomainOption: Int32 = 93

    /// This socket is a CURVE server (it binds, typically) with this secret key; clients must know its public key.
    ///
    /// libzmq 4.3 lets a CURVE server accept *any* client key when no ZAP handler is bound — without a ZAP domain,
    /// and even with one unless `ZMQ_ZAP_ENFORCE_DOMAIN` is set (its "Stonehouse" legacy mode: encryption without
    /// authentication). Both are always set here, so that without a handler every client is refused (the handler
    /// is the allow-list); a libzmq that does not take the option is refused with a clear error.
    public func setCurveServer(secretKey: String, zapDomain: String) throws {
        guard Z85.isKey(secretKey) else { throw ZMQError(operation: "CURVE server", code: EINVAL, message: "not a Z85 secret key") }
        guard !zapDomain.isEmpty else { throw ZMQError(operation: "CURVE server", code: EINVAL, message: "the ZAP domain must be set") }
        try setStringOption(ZMQ_ZAP_DOMAIN, zapDomain, "ZMQ_ZAP_DOMAIN")
        try setOptionInt32(Self.zapEnforceDomainOption, 1, "ZMQ_ZAP_ENFORCE_DOMAIN")
        try setOptionInt32(ZMQ_CURVE_SERVER, 1, "ZMQ_CURVE_SERVER")
        try setStringOption(ZMQ_CURVE_SECRETKEY, secretKey, "ZMQ_CURVE_SECRETKEY")
    }

    /// For the tests that show why `setCurveServer` sets both; never use it.
    func setCurveServerUnenforced(secretKey: String, zapDomain: String?) throws {
        if let zapDomain { try setStringOption(ZMQ_ZAP_DOMAIN, zapDomain, "ZMQ_ZAP_DOMAIN") }
        try setOptionInt32(ZMQ_CURVE_SERVER, 1, "ZMQ_CURVE_SERVER")
        try setStringOption(ZMQ_CURVE_SECRETKEY, secretKey, "ZMQ_CURVE_SECRETKEY")
    }

    /// This socket is a CURVE client with its own key pair, connecting to a server whose public key is `serverKey`.
    public func setCurveClient(_ keys: CurveKeyPair, serverKey: String) throws {
        guard Z85.isKey(serverKey) else { throw ZMQError(operation: "CURVE client", code: EINVAL, message: "not a Z85 server key") }
        try setStringOption(ZMQ_CURVE_SERVERKEY, serverKey, "ZMQ_CURVE_SERVERKEY")
        try setStringOption(ZMQ_CURVE_PUBLICKEY, keys.publicKey, "ZMQ_CURVE_PUBLICKEY")
        try setStringOption(ZMQ_CURVE_SECRETKEY, keys.secretKey, "ZMQ_CURVE_SECRETKEY")
    }

    private func setStringOption(_ option: Int32, _ text: String, _ name: String) throws {
        let socket = try live("zmq_setsockopt \(name)")
        let result = Array(text.utf8).withUnsafeBytes { zmq_setsockopt(socket, option, $0.baseAddress, $0.count) }
        guard result == 0 else { throw ZMQError.last("zmq_setsockopt \(name)") }
    }

    private func setOptionInt32(_ option: Int32, _ value: Int32, _ name: String) throws {
        let socket = try live("zmq_setsockopt \(name)")
        var value = value
        guard zmq_setsockopt(socket, option, &value, MemoryLayout<Int32>.size) == 0 else {
            throw ZMQError.last("zmq_setsockopt \(name)")
        }
    }
}
