import Testing
import ZeroMQ

@Suite("Socket monitor")
struct MonitorTests {
    @Test("reports connected/accepted when a TCP peer arrives and disconnected when it goes away")
    func peerComesAndGoes() throws {
        let context = try ZMQContext()
        let (router, endpoint) = try boundRouter(context)
        defer { router.close() }
        let routerMonitor = try router.makeMonitor(kinds: [.accepted, .disconnected])
        defer { routerMonitor.close() }

        let dealer = try context.makeSocket(.dealer)
        let dealerMonitor = try dealer.makeMonitor()
        defer { dealerMonitor.close() }
        try dealer.connect(endpoint)

        let connected = try awaitEvent(.connected, on: dealerMonitor)
        #expect(connected.endpoint == endpoint)
        let accepted = try awaitEvent(.accepted, on: routerMonitor)
        #expect(accepted.endpoint == endpoint)

        dealer.close()
        let gone = try awaitEvent(.disconnected, on: routerMonitor)
        #expect(gone.endpoint == endpoint)
        #expect(gone.value == accepted.value)  // the same connection's fd
        _ = try awaitEvent(.monitorStopped, on: dealerMonitor)
    }
}
