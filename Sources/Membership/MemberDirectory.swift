import Foundation
import ZeroMQ

/// The allow-list a process's ZAP handler consults, reloadable while it runs: `decide` runs on the handler's
/// thread, `reload` on whichever thread caught `SIGHUP`, and the refusals wait, counted, for the loop to log them
/// (`takeRefusals`, at most once a second: a client retrying with a bad key must not flood the log).
public final class MemberDirectory: @unchecked Sendable {
    private let lock = NSLock()
    private var list: MemberList
    private var refusals: [String: Int] = [:]
    private var refusalOrder: [String] = []
    private let source: @Sendable () throws -> MemberList
    /// Distinct refusal reasons kept between two `takeRefusals` (the rest are only counted).
    public static let maxReasonsKept = 32
    private var otherRefusals = 0

    /// `source` reads the allow-list (the key directory); it is read now and on every `reload`.
    public init(source: @escaping @Sendable () throws -> MemberList) throws {
        self.source = source
        list = try source()
    }

    public var current: MemberList {
        lock.lock()
        defer { lock.unlock() }
        return list
    }

    /// Reads the allow-list again; returns the user ids it no longer gives (their connections are to be closed).
    /// On an error the old list stays.
    public func reload() throws -> Set<String> {
        let next = try source()
        lock.lock()
        defer { lock.unlock() }
        let revoked = list.revoked(comparedWith: next)
        list = next
        return revoked
    }

    /// The handler's answer, counting a refusal by its reason.
    public func decide(_ request: ZAPRequest) -> ZAPDecision {
        lock.lock()
        defer { lock.unlock() }
        let decision = list.decide(request)
        if case let .deny(reason) = decision {
            let line = "\(reason) from \(request.address)"
            if let count = refusals[line] {
                refusals[line] = count + 1
            } else if refusals.count < Self.maxReasonsKept {
                refusals[line] = 1
                refusalOrder.append(line)
            } else {
                otherRefusals += 1
            }
        }
        return decision
    }

    /// The refusals since the last call, each reason with its count, in the order first seen; nil when none.
    public func takeRefusals() -> String? {
        lock.lock()
        defer {
            refusals.removeAll()
            refusalOrder.removeAll()
            otherRefusals = 0
            lock.unlock()
        }
        guard !refusalOrder.isEmpty else { return nil }
        var parts = refusalOrder.map { "\($0) (\(refusals[$0]!)×)" }
        if otherRefusals > 0 { parts.append("\(otherRefusals) more") }
        return "refused handshakes: " + parts.joined(separator: "; ")
    }
}
