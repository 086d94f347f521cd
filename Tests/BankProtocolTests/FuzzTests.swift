import BankCore
import SeededRandom
import Testing
@testable import BankProtocol

@Suite("Fuzzing")
struct FuzzTests {
    static let seeds: [String] = [
        #"{"op":"transfer","request_id":"t1","from":"alice","to":"bob","amount":500,"reference":"rent \u00e9"}"#,
        #"{"op":"batch","atomic":true,"requests":[{"op":"deposit","request_id":"b1","account":"a","amount":1},{"op":"statement","account":"a","limit":10}]}"#,
        #"{"op":"open_account","request_id":"o","account":"x","currency":"EUR","overdraft_limit":0}"#,
        #"{"op":"status"}"#,
    ]

    @Test("random bytes never trap the decoder or the peek")
    func randomBytes() {
        var rng = SplitMix64(seed: 0xB4_4E_C0_DE)
        var failures = 0
        for _ in 0..<3000 {
            let length = Int.random(in: 0...64, using: &rng)
            // Bias towards JSON punctuation so inputs get past the first byte often.
            let alphabet = utf8(#"{}[]":,0123456789-.eE"\u op amount"#) + [0x00, 0x0A, 0xC3, 0xA9, 0xFF, 0xED]
            let bytes = (0..<length).map { _ in
                Bool.random(using: &rng) ? alphabet.randomElement(using: &rng)! : UInt8.random(in: 0...255, using: &rng)
            }
            switch RequestDecoder.decode(bytes) {
            case .success: break
            case .failure(let error):
                failures += 1
                #expect(!error.message.isEmpty)
                #expect(error.code == .badRequest || error.code == .unknownOp)
            }
            _ = RequestPeek.gatewayOperation(in: bytes)
        }
        #expect(failures > 2900)
    }

    @Test("mutated valid requests never trap, and whatever parses round-trips")
    func mutatedRequests() throws {
        var rng = SplitMix64(seed: 42)
        var decodedCount = 0
        for round in 0..<3000 {
            var bytes = utf8(Self.seeds[round % Self.seeds.count])
            for _ in 0..<Int.random(in: 1...4, using: &rng) {
                let position = Int.random(in: 0..<bytes.count, using: &rng)
                switch Int.random(in: 0..<4, using: &rng) {
                case 0: bytes[position] = UInt8.random(in: 0...255, using: &rng)
                case 1: bytes.remove(at: position)
                case 2: bytes.insert(UInt8.random(in: 0x20...0x7E, using: &rng), at: position)
                default: bytes[position] = utf8(#"0123456789"#).randomElement(using: &rng)!
                }
                if bytes.isEmpty { bytes = [0x7B] }
            }
            switch RequestDecoder.decode(bytes) {
            case .success(let request):
                decodedCount += 1
                // The decoded request must satisfy the domain invariants.
                if case .mutation(let mutation) = request {
                    switch mutation.operation {
                    case .deposit(_, let amount), .withdraw(_, let amount), .transfer(_, _, let amount, _):
                        #expect(Money.isValidAmount(amount))
                    default: break
                    }
                }
            case .failure(let error):
                #expect(!error.message.isEmpty)
            }
            if let value = try? JSONValue.parse(bytes) {
                #expect(try JSONValue.parse(value.serialized()) == value)
            }
            _ = RequestPeek.gatewayOperation(in: bytes)
        }
        #expect(decodedCount > 0)
    }

    @Test("string UTF-8 validation agrees with the standard library on random byte strings")
    func utf8Validation() {
        var rng = SplitMix64(seed: 7)
        // Printable ASCII plus every lead/continuation class, without quote and backslash.
        let alphabet: [UInt8] = [0x41, 0x7E, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xC1, 0xC2, 0xDF, 0xE0, 0xE1,
                                 0xEC, 0xED, 0xEE, 0xEF, 0xF0, 0xF1, 0xF3, 0xF4, 0xF5, 0xFF]
        for _ in 0..<4000 {
            let content = (0..<Int.random(in: 1...8, using: &rng)).map { _ in alphabet.randomElement(using: &rng)! }
            let expected = String(validating: content, as: UTF8.self)
            let parsed = try? JSONValue.parse([0x22] + content + [0x22])
            #expect(parsed == expected.map(JSONValue.string), "\(content)")
        }
    }
}
