import ArgumentParser
import BankProtocol
import Foundation
import Membership
import ZeroMQ

/// `bankctl keys …`: CURVE key sets for the bank's processes and clients.
struct Keys: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Make and show CURVE keys (ZeroMQ certificates, as pyzmq's zmq.auth reads them).",
        subcommands: [Init.self, Generate.self, Show.self])

    static func validName(_ name: String) -> Bool {
        !name.isEmpty && name.count <= 64
            && name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-_.".contains($0)) })
    }

    /// `make cluster`'s first step: a key set for a cluster on one machine, made once.
    struct Init: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make the missing keys of a cluster on one machine: one per process, one client per role.",
            discussion: """
                In --dir: NAME.key and NAME.key_secret for each process named (default: gateway, primary, backup), \
                and clients/ROLE/local-ROLE.key(_secret) for each role (operator, app, reader). A key that exists \
                is kept, so this is safe to run at every start. On several machines, make each process's key on \
                its own host instead (bankctl keys generate) and copy only the public .key files.
                """)

        @Option(help: "The key directory (the cluster file's keys_dir; default <data_root>/keys).")
        var dir = "var/keys"

        @Option(parsing: .upToNextOption, help: "The processes' names.")
        var processes = ["gateway", "primary", "backup"]

        func validate() throws {
            for name in processes where !Keys.validName(name) {
                throw ValidationError("a process name is 1 to 64 letters, digits, '-', '_' or '.' (got '\(name)')")
            }
        }

        func run() throws {
            var made: [String] = []
            func make(_ name: String, in directory: String, comment: String) throws {
                let (publicPath, secretPath) = KeyFile.paths(name: name, directory: directory)
                let manager = FileManager.default
                guard !manager.fileExists(atPath: publicPath), !manager.fileExists(atPath: secretPath) else { return }
                try KeyFile.write(try CurveKeyPair.generate(), name: name, directory: directory, comment: comment)
                made.append(secretPath)
            }
            for name in processes {
                try make(name, in: dir, comment: "the process \(name), made by bankctl keys init")
            }
            for role in ClientRole.allCases {
                try make("local-\(role.rawValue)", in: "\(dir)/\(KeyDirectory.clientsFolder)/\(role.rawValue)",
                         comment: "a local \(role.rawValue) client, made by bankctl keys init")
            }
            print(made.isEmpty ? "keys in \(dir): all there" : "keys made in \(dir): " + made.map {
                ($0 as NSString).lastPathComponent
            }.joined(separator: ", "))
        }
    }

    struct Generate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write NAME.key (public key) and NAME.key_secret (both keys, mode 0600) into --dir.",
            discussion: "Never overwrites a key. Give the public key to the cluster's operator; keep the secret file.")

        @Argument(help: "The key set's name (a process's or a client's).")
        var name: String

        @Option(help: "Directory to write into (created when missing).")
        var dir = "."

        func validate() throws {
            guard Keys.validName(name) else { throw ValidationError("a key name is 1 to 64 letters, digits, '-', '_' or '.'") }
        }

        func run() throws {
            let keys = try CurveKeyPair.generate()
            try KeyFile.write(keys, name: name, directory: dir,
                              comment: "\(name), made by bankctl keys generate on \(Date())")
            let (publicPath, secretPath) = KeyFile.paths(name: name, directory: dir)
            print("public key \(keys.publicKey)")
            print("wrote \(publicPath) (public) and \(secretPath) (secret, mode 0600)")
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print the public key of a key file.")

        @Argument(help: "NAME.key or NAME.key_secret.")
        var path: String

        func run() throws {
            print(try KeyFile.readPublic(path: path))
        }
    }
}
