#if canImport(Glibc)
import Glibc
#endif

/// If a state machine's own assertion stops the process (it crashes rather than continue with broken state), say
/// which seed was running, so it can be replayed.
enum CrashReporter {
    nonisolated(unsafe) static var current: UInt64 = 0 {
        didSet { installOnce() }
    }
    nonisolated(unsafe) private static var installed = false

    private static func installOnce() {
        guard !installed else { return }
        installed = true
        for signalNumber in [SIGILL, SIGTRAP, SIGABRT] {
            signal(signalNumber) { number in
                // Only async-signal-safe calls here: format the seed by hand and write(2) it.
                var digits: [UInt8] = []
                var value = CrashReporter.current
                repeat { digits.insert(UInt8(48 + value % 10), at: 0); value /= 10 } while value > 0
                let message = Array("\nsimulation stopped by a failed assertion while running seed ".utf8) + digits
                    + Array("; replay with: make simulate SEED=".utf8) + digits + [10]
                _ = message.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
                signal(number, SIG_DFL)
                raise(number)
            }
        }
    }
}
