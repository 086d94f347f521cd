import Foundation
import Testing
@testable import ZeroMQ

/// The wrapper's promises: multipart round trips, the envelope shapes the gateway relies on, errors with
/// libzmq's own words, and no blocking where we said there would be none.
@Suite struct ZeroMQTests {
    let context: ZMQContext

    init() throws { context = try ZMQContext() }

    /// A ROUTER bound on an ephemeral loopback port, and its endpoint.
    func boundRouter() throws -> (ZMQSocket, String) {
        let router = try context.makeSocket(.router)
        try router.bind("tcp://127.0.0.1:*")
        return (router, try router.lastEndpoint)
    }

    func receive(_ socket: ZMQSocket, within milliseconds: Int = 5_000) throws -> [[UInt8]]? {
        let poller = ZMQPoller()
        poller.add(socket)
        let deadline = Date().addingTimeInterval(Double(milliseconds) / 1000)
        while Date() < deadline {
            _ = try poller.poll(timeoutMilliseconds: 50)
            if let frames = try socket.receive(dontWait: true) { return frames }
        }
        return nil
    }

    @Test func aDealerAndARouterExchangeMultipartMessages() throws {
        let (router, endpoint) = try boundRouter()
        let dealer = try context.makeSocket(.dealer)
        try dealer.connect(endpoint)
        let big = [UInt8](repeating: 7, count: 1 << 20)
        #expect(try dealer.send([[], Array("hello".utf8), big]))
        let frames = try #require(try receive(router))
        #expect(frames.count == 4 && frames[1].isEmpty && frames[2] == Array("hello".utf8) && frames[3] == big)
        #expect(try router.send([frames[0], [], Array("back".utf8)]))
        #expect(try receive(dealer) == [[], Array("back".utf8)])
    }

    @Test func aReqClientArrivesWithIdentityAndDelimiter() throws {
        let (router, endpoint) = try boundRouter()
        let req = try context.makeSocket(.req)
        try req.connect(endpoint)
        #expect(try req.send([Array("{}".utf8)]))
        let frames = try #require(try receive(router))
        #expect(frames.count == 3 && !frames[0].isEmpty && frames[1].isEmpty && frames[2] == Array("{}".utf8))
    }

    @Test func aMandatoryRouterRefusesUnknownPeersLoudly() throws {
        let (router, _) = try boundRouter()
        try router.setRouterMandatory(true)
        #expect { try router.send([Array("nobody".utf8), Array("x".utf8)]) } throws: { error in
            (error as? ZMQError)?.isHostUnreachable == true
        }
    }

    @Test func receivingWithoutWaitingReturnsNilWhenNothingIsQueued() throws {
        let (router, _) = try boundRouter()
        #expect(try router.receive(dontWait: true) == nil)
    }

    @Test func errorsCarryLibzmqsExplanation() throws {
        let socket = try context.makeSocket(.dealer)
        #expect { try socket.bind("bogus://nowhere") } throws: { error in
            guard let error = error as? ZMQError else { return false }
            return error.message.contains("not supported") || error.message.contains("Protocol")
        }
        socket.close()
        socket.close() // Idempotent.
        #expect(throws: ZMQError.self) { try socket.connect("tcp://127.0.0.1:1") }
    }
}
