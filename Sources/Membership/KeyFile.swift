import Foundation
#if canImport(Glibc)
import Glibc
#endif
import ZeroMQ

/// CURVE key files in ZeroMQ's certificate format (zcert, as CZMQ and pyzmq's `zmq.auth` write and read them):
/// `NAME.key` holds the public key, `NAME.key_secret` both keys and must be readable by its owner only.
///
/// ```
/// #   ZeroMQ CURVE **Secret** Certificate
/// #   DO NOT PROVIDE THIS FILE TO OTHER USERS nor change its permissions.
///
/// metadata
/// curve
///     public-key = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"
///     secret-key = "JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6"
/// ```
public enum KeyFile {
    public struct Error: Swift.Error, Hashable, Sendable, CustomStringConvertible {
        public let description: String
        init(_ description: String) { self.description = description }
    }

    /// The file names for a key set called `name` in `directory`.
    public static func paths(name: String, directory: String) -> (publicKey: String, secretKey: String) {
        let base = (directory as NSString).appendingPathComponent(name + ".key")
        return (base, base + "_secret")
    }

    /// The text of a public (nil secret) or secret certificate.
    public static func text(_ keys: CurveKeyPair, secret: Bool, comment: String) -> String {
        var lines = [
            "#   ZeroMQ CURVE " + (secret ? "**Secret** " : "") + "Certificate",
            secret ? "#   DO NOT PROVIDE THIS FILE TO OTHER USERS nor change its permissions."
                : "#   Exchange securely, or use a secure mechanism to verify the contents of this file after exchange.",
            "#   " + comment,
            "",
            "metadata",
            "curve",
            "    public-key = \"\(keys.publicKey)\"",
        ]
        if secret { lines.append("    secret-key = \"\(keys.secretKey)\"") }
        return lines.joined(separator: "\n") + "\n"
    }

    /// The `public-key` and `secret-key` values of a certificate's text (either may be absent); throws if a key
    /// present is not a Z85 key.
    public static func parse(_ text: String, path: String) throws(Error) -> (publicKey: String?, secretKey: String?) {
        var publicKey: String?, secretKey: String?
        for raw in text.split(whereSeparator: \.isNewline) {
            let line = raw.trimmingCharacters(in: .whitespaces)
            guard !line.hasPrefix("#"), let equals = line.firstIndex(of: "=") else { continue }
            let name = line[..<equals].trimmingCharacters(in: .whitespaces)
            var value = line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces)
            if value.count >= 2, value.hasPrefix("\""), value.hasSuffix("\"") { value = String(value.dropFirst().dropLast()) }
            guard name == "public-key" || name == "secret-key" else { continue }
            guard Z85.isKey(value) else { throw Error("\(path): \(name) is not a 40-character Z85 key") }
            if name == "public-key" { publicKey = value } else { secretKey = value }
        }
        return (publicKey, secretKey)
    }

    /// Writes `NAME.key` (mode 0644) and `NAME.key_secret` (mode 0600, created so: never readable by others, not
    /// even for a moment). Refuses to overwrite either.
    public static func write(_ keys: CurveKeyPair, name: String, directory: String, comment: String) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let (publicPath, secretPath) = paths(name: name, directory: directory)
        try create(secretPath, text(keys, secret: true, comment: comment), mode: 0o600)
        try create(publicPath, text(keys, secret: false, comment: comment), mode: 0o644)
    }

    private static func create(_ path: String, _ text: String, mode: mode_t) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard fd >= 0 else {
            throw Error(errno == EEXIST ? "\(path) exists; not overwriting a key"
                : "cannot create \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        let bytes = Array(text.utf8)
        let written = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        guard written == bytes.count, fsync(fd) == 0 else {
            throw Error("cannot write \(path): \(String(cString: strerror(errno)))")
        }
    }

    /// A secret certificate's key pair. Refused, with what to do, when the file can be read or written by anyone
    /// but its owner (as OpenSSH refuses a private key), or holds no secret key, or its public key does not match.
    public static func readSecret(path: String) throws -> CurveKeyPair {
        var status = stat()
        guard stat(path, &status) == 0 else {
            throw Error("cannot read the secret key file \(path): \(String(cString: strerror(errno)))")
        }
        guard status.st_mode & 0o077 == 0 else {
            throw Error("the secret key file \(path) is open to others (mode \(String(status.st_mode & 0o777, radix: 8))): "
                + "refusing to use it; chmod 600 \(path)")
        }
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let (publicKey, secretKey) = try parse(text, path: path)
        guard let secretKey, let keys = CurveKeyPair(secretKey: secretKey) else {
            throw Error("\(path) holds no secret-key")
        }
        if let publicKey, publicKey != keys.publicKey {
            throw Error("\(path): its public-key is not the secret key's")
        }
        return keys
    }

    /// A public certificate's key (a secret certificate's public key also reads).
    public static func readPublic(path: String) throws -> String {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        guard let publicKey = try parse(text, path: path).publicKey else { throw Error("\(path) holds no public-key") }
        return publicKey
    }
}
