import ArgumentParser
import Foundation
import Membership
import ZeroMQ

/// `bankctl keys …`: CURVE key sets for the bank's processes and clients.
struct Keys: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Make and show CURVE keys (ZeroMQ certificates, as pyzmq's zmq.auth reads them).",
        subcommands: [Generate.self, Show.self])

    struct Generate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write NAME.key (public key) and NAME.key_secret (both keys, mode 0600) into --dir.",
            discussion: "Never overwrites a key. Give the public key to the cluster's operator; keep the secret file.")

        @Argument(help: "The key set's name (a process's or a client's).")
        var name: String

        @Option(help: "Directory to write into (created when missing).")
        var dir = "."

        func validate() throws {
            guard !name.isEmpty, name.count <= 64,
                  name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-_.".contains($0)) }) else {
                throw ValidationError("a key name is 1 to 64 letters, digits, '-', '_' or '.'")
            }
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
