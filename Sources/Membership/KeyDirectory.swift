import BankProtocol
import Cluster
import Foundation
import ZeroMQ

/// The bank's public keys as a directory of certificates, in the manner of ZeroMQ's Ironhouse pattern (zauth loads
/// every certificate of a directory): the operator adds a member by copying its `NAME.key` in, revokes one by
/// removing it, and reloads (`SIGHUP`).
///
/// ```
/// keys/
///   gateway.key  primary.key  backup.key     a process's public key, by its name in the topology
///   primary.key_secret                       on the primary's host only (mode 0600)
///   clients/operator/ops-alice.key           client keys, by role: operator, app, reader
///   clients/app/shop.key
///   clients/reader/audit.key
/// ```
public enum KeyDirectory {
    public static let clientsFolder = "clients"

    /// Every member: each process of `processes` (its key must be there) and each client certificate under
    /// `clients/ROLE/`. Files that are not `*.key` are ignored (a `.key_secret` included).
    public static func load(_ directory: String, processes: [NodeID]) throws -> MemberList {
        var members: [Member] = []
        for process in processes {
            let path = KeyFile.paths(name: process.name, directory: directory).publicKey
            guard FileManager.default.fileExists(atPath: path) else {
                throw KeyFile.Error("no key for \(process) (\(path)): make one with "
                    + "bankctl keys generate \(process.name) --dir \(directory)")
            }
            members.append(Member(process: process, publicKey: try KeyFile.readPublic(path: path)))
        }
        let clients = (directory as NSString).appendingPathComponent(clientsFolder)
        for role in ClientRole.allCases {
            let folder = (clients as NSString).appendingPathComponent(role.rawValue)
            let names = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
            for file in names.sorted() where file.hasSuffix(".key") {
                let path = (folder as NSString).appendingPathComponent(file)
                members.append(Member(client: String(file.dropLast(".key".count)), role: role,
                                      publicKey: try KeyFile.readPublic(path: path)))
            }
        }
        do {
            return try MemberList(members)
        } catch {
            throw KeyFile.Error("\(directory): \(error)")
        }
    }

    /// A process's own key pair, from `NAME.key_secret` (refused when open to others).
    public static func secretKeys(of process: NodeID, in directory: String) throws -> CurveKeyPair {
        try KeyFile.readSecret(path: KeyFile.paths(name: process.name, directory: directory).secretKey)
    }
}
