import ZeroMQ

/// A wait in a test ran out of time.
struct TimedOut: Error, CustomStringConvertible {
    let what: String
    var description: String { "timed out waiting for \(what)" }
}

/// Polls `socket` until a whole message is there: tests synchronise on readiness, never on sleeps.
func awaitMessage(_ socket: ZMQSocket, timeoutMilliseconds: Int = 3_000) throws -> [[UInt8]] {
    let poller = ZMQPoller()
    poller.add(socket)
    let deadline = ContinuousClock.now + .milliseconds(timeoutMilliseconds)
    while ContinuousClock.now < deadline {
        if let frames = try socket.receive(dontWait: true) { return frames }
        try poller.waitForReadable(timeoutMilliseconds: 20)
    }
    throw TimedOut(what: "a message")
}

/// Reads monitor events until one of `kind` arrives (others, e.g. handshake events, are skipped).
func awaitEvent(_ kind: ZMQMonitorEvent.Kind, on monitor: ZMQMonitor, timeoutMilliseconds: Int = 3_000) throws
    -> ZMQMonitorEvent
{
    let poller = ZMQPoller()
    poller.add(monitor.socket)
    let deadline = ContinuousClock.now + .milliseconds(timeoutMilliseconds)
    while ContinuousClock.now < deadline {
        while let event = try monitor.receiveEvent(dontWait: true) {
            if event.kind == kind { return event }
        }
        try poller.waitForReadable(timeoutMilliseconds: 20)
    }
    throw TimedOut(what: "monitor event \(kind)")
}

/// A bound ROUTER on an ephemeral loopback port and the endpoint it actually got.
func boundRouter(_ context: ZMQContext) throws -> (ZMQSocket, String) {
    let router = try context.makeSocket(.router)
    try router.bind("tcp://127.0.0.1:*")
    return (router, try router.lastEndpoint)
}

/// Bytes 0, 1, ... 255, 0, 1, ... so corruption or truncation anywhere shows.
func pattern(count: Int) -> [UInt8] {
    (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
}
