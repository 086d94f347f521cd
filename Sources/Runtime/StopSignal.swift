import Dispatch
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// SIGINT/SIGTERM ask a server loop to stop after its current iteration (sockets closed, journal synced).
/// The loop polls with a short timeout, so it notices within one tick.
public final class StopSignal: Sendable {
    private let flag = Atomic<Bool>(false)
    /// Kept alive for the life of the process; touched only while installing.
    nonisolated(unsafe) private var sources: [any DispatchSourceSignal] = []

    public init() {}

    public var isRaised: Bool { flag.load(ordering: .relaxed) }

    public func raise() { flag.store(true, ordering: .relaxed) }

    /// Routes SIGINT and SIGTERM to `raise()`.
    public func installSignalHandlers() {
        for signalNumber in [SIGINT, SIGTERM] {
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
            source.setEventHandler { [self] in raise() }
            source.resume()
            sources.append(source)
        }
    }
}
