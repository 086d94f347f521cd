import Cluster
import Foundation
import Logging

/// What the server executables share: reading the cluster file with command-line overrides, and logging setup.
public enum ServerCommandSupport {
    public static func loadClusterFile(path: String?, portBase: Int?, dataRoot: String?) throws -> ClusterFile {
        var file = ClusterFile()
        if let path { file = try ClusterFile.load(path: path) }
        if let portBase { file.portBase = portBase }
        if let dataRoot { file.dataRoot = dataRoot }
        return file
    }

    public static func makeLogger(label: String) -> Logger {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = .info
            return handler
        }
        return Logger(label: label)
    }
}

/// A server cannot start as configured (the message says why and what to change).
public struct ServerStartError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
