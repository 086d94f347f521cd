import Testing
import ZeroMQ

@Suite("Poller")
struct PollerTests {
    @Test("reports exactly the sockets with a message, by registration index")
    func readability() throws {
        let context = try ZMQContext()
        let first = try context.makeSocket(.pull)
        let second = try context.makeSocket(.pull)
        let push = try context.makeSocket(.push)
        defer { first.close(); second.close(); push.close() }
        try first.bind("inproc://first")
        try second.bind("inproc://second")
        try push.connect("inproc://second")

        let poller = ZMQPoller()
        #expect(poller.add(first) == 0)
        #expect(poller.add(second) == 1)
        #expect(poller.count == 2)
        #expect(try poller.poll(timeoutMilliseconds: 0) == [])

        try push.send([[42]])
        var ready: [Int] = []
        let deadline = ContinuousClock.now + .seconds(3)
        while ready.isEmpty, ContinuousClock.now < deadline { ready = try poller.poll(timeoutMilliseconds: 50) }
        #expect(ready == [1])
        #expect(try poller.waitForReadable(timeoutMilliseconds: 0) == 1)
        #expect(!poller.isReadable(at: 0))
        #expect(poller.isReadable(at: 1))

        #expect(try second.receive() == [[42]])
        #expect(try poller.waitForReadable(timeoutMilliseconds: 0) == 0)
        #expect(!poller.isReadable(at: 1))
    }

    @Test("a poll with nothing to read waits for its timeout and returns empty")
    func timeout() throws {
        let context = try ZMQContext()
        let pull = try context.makeSocket(.pull)
        defer { pull.close() }
        let poller = ZMQPoller()
        poller.add(pull)
        let started = ContinuousClock.now
        #expect(try poller.poll(timeoutMilliseconds: 30) == [])
        #expect(ContinuousClock.now - started >= .milliseconds(25))
    }

    @Test("polling a closed socket throws instead of handing libzmq a freed handle")
    func closedSocket() throws {
        let context = try ZMQContext()
        let pull = try context.makeSocket(.pull)
        let poller = ZMQPoller()
        poller.add(pull)
        pull.close()
        let error = try #require(throws: ZMQError.self) { try poller.poll(timeoutMilliseconds: 0) }
        #expect(error.isClosedSocket)
    }
}
