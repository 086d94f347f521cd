import SeededRandom
import Testing
@testable import BankCore

@Suite("Entry codec (the journal payload)")
struct EntryCodecTests {
    static let everyOperation = Entry(timeMillis: 1_732_464_660_123, mutations: [
        Mutation(requestID: req("open-1"), operation: .openAccount(acct("alice"), currency: eur, overdraftLimitMinor: 5_000)),
        Mutation(requestID: req("open-2"), operation: .openAccount(acct("b"), currency: .gbp, overdraftLimitMinor: Money.maximumOverdraftMinor)),
        Mutation(requestID: req("dep"), operation: .deposit(acct("alice"), amountMinor: 1)),
        Mutation(requestID: req("wd"), operation: .withdraw(acct("alice"), amountMinor: Money.maximumAmountMinor)),
        Mutation(requestID: req("t-ref"), operation: .transfer(from: acct("a.b-c_d"), to: acct("B"), amountMinor: 42, reference: "rent • März 🏠")),
        Mutation(requestID: req("t-none"), operation: .transfer(from: acct("a"), to: acct("b"), amountMinor: 42, reference: nil)),
        Mutation(requestID: req("t-empty"), operation: .transfer(from: acct("a"), to: acct("b"), amountMinor: 42, reference: "")),
        Mutation(requestID: req("hold"), operation: .hold(acct("alice"), amountMinor: 700, holdID: hid("card-77"))),
        Mutation(requestID: req("cap-all"), operation: .capture(hid("card-77"), amountMinor: nil)),
        Mutation(requestID: req("cap-some"), operation: .capture(hid("card-78"), amountMinor: 3)),
        Mutation(requestID: req("rel"), operation: .release(hid("card-79"))),
        Mutation(requestID: req("ünïcødé request id ✓"), operation: .freeze(acct("alice"))),
        Mutation(requestID: req(String(repeating: "x", count: 128)), operation: .unfreeze(acct(String(repeating: "y", count: 64)))),
    ])

    @Test func everyOperationRoundTrips() throws {
        let bytes = Self.everyOperation.encoded()
        #expect(try Entry(decoding: bytes) == Self.everyOperation)
        #expect(bytes.count == Self.everyOperation.encodedSize)
        #expect(try Entry(decoding: Entry(timeMillis: -1, mutations: []).encoded()) == Entry(timeMillis: -1, mutations: []))
    }

    @Test func theEncodingIsVersionedLittleEndianAndStable() {
        let entry = Entry(timeMillis: 0x0102, mutations: [Mutation(requestID: req("r"), operation: .deposit(acct("a"), amountMinor: 5))])
        #expect(entry.encoded() == [
            3, // format version
            1, // source: clients
            0x02, 0x01, 0, 0, 0, 0, 0, 0, // timeMillis
            1, 0, 0, 0, // mutation count
            1, 0, UInt8(ascii: "r"), // request id
            0, // no client key
            2, // deposit
            1, 0, UInt8(ascii: "a"), // account
            5, 0, 0, 0, 0, 0, 0, 0, // amount
        ])
        #expect(entry.encoded() == entry.encoded(), "deterministic")
    }

    @Test func clientKeysAndStandInAdviceRoundTrip() throws {
        let key = ClientKey(words: (1, 0xFFFF_FFFF_FFFF_FFFF, 3, 0x0102_0304_0506_0708))
        let entry = Entry(timeMillis: 9, mutations: [
            Mutation(requestID: req("k"), operation: .deposit(acct("a"), amountMinor: 5), clientKey: key),
            Mutation(requestID: req("n"), operation: .freeze(acct("a"))),
        ], source: .standInAdvice)
        let bytes = entry.encoded()
        #expect(bytes.count == entry.encodedSize)
        #expect(try Entry(decoding: bytes) == entry)
    }

    /// Journals written before the format bump still replay.
    @Test func versionOneEntriesStillDecode() throws {
        let bytes: [UInt8] = [
            1, // format version 1: no source, no client keys
            0x02, 0x01, 0, 0, 0, 0, 0, 0, // timeMillis
            1, 0, 0, 0, // mutation count
            1, 0, UInt8(ascii: "r"), // request id
            2, // deposit
            1, 0, UInt8(ascii: "a"), // account
            5, 0, 0, 0, 0, 0, 0, 0, // amount
        ]
        let entry = try Entry(decoding: bytes)
        #expect(entry == Entry(timeMillis: 0x0102, mutations: [
            Mutation(requestID: req("r"), operation: .deposit(acct("a"), amountMinor: 5))]))
        #expect(entry.encoded()[0] == 3, "written back in the current version")
    }

    /// Version 2 wrote every mutation's key in full (`optional key`); its journals still replay.
    @Test func versionTwoEntriesStillDecode() throws {
        let key = ClientKey(words: (1, 2, 3, 4))
        func mutation(_ id: String) -> [UInt8] {
            [1, 0] + Array(id.utf8) // request id
                + [1] + (1...4).flatMap { word in (0..<8).map { UInt8(truncatingIfNeeded: UInt64(word) >> ($0 * 8)) } }
                + [8, 1, 0, UInt8(ascii: "a")] // freeze "a"
        }
        let bytes: [UInt8] = [2, 1, 0x02, 0x01, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0] + mutation("p") + mutation("q")
        let entry = try Entry(decoding: bytes)
        #expect(entry == Entry(timeMillis: 0x0102, mutations: [
            Mutation(requestID: req("p"), operation: .freeze(acct("a")), clientKey: key),
            Mutation(requestID: req("q"), operation: .freeze(acct("a")), clientKey: key)]))
        #expect(entry.encoded().count == bytes.count - ClientKey.byteCount, "written back with the key once")
    }

    /// A run of mutations with one key (a client's batch) carries the key once; a change of key, or no key, writes
    /// what changed.
    @Test func aBatchCarriesItsClientKeyOnce() throws {
        let alice = ClientKey(words: (1, 2, 3, 4)), bob = ClientKey(words: (5, 6, 7, 8))
        func entry(_ keys: [ClientKey?]) -> Entry {
            Entry(timeMillis: 1, mutations: keys.enumerated().map { index, key in
                Mutation(requestID: req("r\(index)"), operation: .freeze(acct("a")), clientKey: key)
            })
        }
        let unkeyed = entry(Array(repeating: nil, count: 1000)).encoded().count
        let batch = entry(Array(repeating: alice, count: 1000))
        #expect(batch.encoded().count == unkeyed + ClientKey.byteCount)
        for keys in [[alice, alice, bob, bob, nil, alice, alice], [nil, alice], [alice, nil, nil, bob], [bob]] {
            let mixed = entry(keys)
            let bytes = mixed.encoded()
            #expect(bytes.count == mixed.encodedSize)
            #expect(try Entry(decoding: bytes) == mixed)
        }
        #expect(entry([alice, alice, bob, bob, nil, alice, alice]).encoded().count
                == entry(Array(repeating: nil, count: 7)).encoded().count + 3 * ClientKey.byteCount)
    }

    @Test func decodingWorksFromAnySliceOfALargerBuffer() throws {
        let bytes = Self.everyOperation.encoded()
        let framed = [0xAA, 0xBB] + bytes + [0xCC]
        #expect(try Entry(decoding: framed[2..<(2 + bytes.count)]) == Self.everyOperation)
        #expect(try Entry(decoding: AnyCollectionOfBytes(bytes)) == Self.everyOperation, "non-contiguous input too")
    }

    @Test func everyTruncationIsRejected() {
        let bytes = Self.everyOperation.encoded()
        for cut in 0..<bytes.count {
            #expect(throws: EntryDecodingError.self) { try Entry(decoding: bytes[..<cut]) }
        }
    }

    @Test func trailingBytesAreRejected() {
        #expect(throws: EntryDecodingError(reason: "trailing bytes")) { try Entry(decoding: Self.everyOperation.encoded() + [0]) }
    }

    /// Hand-made damage at known places of a one-mutation entry.
    @Test func invalidValuesAreRejected() {
        func entry(_ operation: Operation) -> [UInt8] {
            Entry(timeMillis: 1, mutations: [Mutation(requestID: req("r"), operation: operation)]).encoded()
        }
        let header = 1 + 1 + 8 + 4 + 3 + 1 // version, source, time, count, request id "r", client key flag
        var cases: [(String, [UInt8])] = []
        var bytes = entry(.deposit(acct("a"), amountMinor: 5))
        bytes[0] = 4
        cases.append(("unknown format version 4", bytes))
        bytes = entry(.deposit(acct("a"), amountMinor: 5))
        bytes[1] = 3
        cases.append(("unknown entry source", bytes))
        bytes = entry(.deposit(acct("a"), amountMinor: 5))
        bytes[header - 1] = 3
        cases.append(("bad client key marker", bytes))
        bytes = entry(.deposit(acct("a"), amountMinor: 5))
        bytes[header - 1] = 2
        cases.append(("a repeated client key with none before it", bytes))
        // A key written in full where it repeats the previous one: not canonical.
        let key = ClientKey(words: (1, 2, 3, 4))
        bytes = Entry(timeMillis: 1, mutations: ["p", "q"].map {
            Mutation(requestID: req($0), operation: .freeze(acct("a")), clientKey: key)
        }).encoded()
        let second = 14 + 3 + 1 + ClientKey.byteCount + 4 + 3 // header, "p", its key, freeze "a", "q"
        #expect(bytes[second] == 2)
        bytes.replaceSubrange(second...second, with: [1] + bytes[(14 + 3 + 1)..<(14 + 3 + 1 + ClientKey.byteCount)])
        cases.append(("the previous mutation's client key written again", bytes))
        bytes = entry(.deposit(acct("a"), amountMinor: 5))
        bytes[header] = 10
        cases.append(("unknown operation", bytes))
        bytes = entry(.deposit(acct("a"), amountMinor: 5))
        bytes[header + 4] = 0
        cases.append(("amount out of range", bytes)) // amount 0
        bytes = entry(.deposit(acct("a"), amountMinor: 5))
        bytes[header + 4 + 7] = 0x80
        cases.append(("amount out of range", bytes)) // negative
        bytes = entry(.deposit(acct("a"), amountMinor: 5))
        bytes[header + 3] = UInt8(ascii: ":")
        cases.append(("bad account id", bytes))
        bytes = entry(.deposit(acct("a"), amountMinor: 5))
        bytes[header + 3] = 0xFF
        cases.append(("invalid UTF-8", bytes))
        bytes = entry(.openAccount(acct("a"), currency: .gbp, overdraftLimitMinor: 0))
        bytes[header + 3 + 3] = UInt8(ascii: "g")
        cases.append(("bad currency", bytes))
        bytes = entry(.openAccount(acct("a"), currency: .gbp, overdraftLimitMinor: 0))
        bytes[bytes.count - 1] = 0xFF
        cases.append(("overdraft limit out of range", bytes))
        bytes = entry(.capture(hid("h"), amountMinor: nil))
        bytes[bytes.count - 1] = 2
        cases.append(("bad optional flag", bytes))
        bytes = entry(.release(hid("h")))
        bytes[header + 3] = UInt8(ascii: "!")
        cases.append(("bad hold id", bytes))
        bytes = entry(.release(hid("h")))
        bytes[10] = 0xFF // claims 255 mutations in a few bytes
        cases.append(("255 mutations cannot fit in 8 bytes", bytes))
        bytes = Entry(timeMillis: 1, mutations: [Mutation(requestID: req(String(repeating: "x", count: 128)),
                                                          operation: .release(hid("h")))]).encoded()
        bytes[14] = 129 // a request id of 129 characters
        bytes.insert(UInt8(ascii: "x"), at: 16)
        cases.append(("bad request id", bytes))

        for (reason, bytes) in cases {
            #expect(throws: EntryDecodingError(reason: reason)) { try Entry(decoding: bytes) }
        }
    }

    /// Random bytes and random damage to valid entries: decoding never traps, and whatever it accepts is canonical
    /// (re-encodes to exactly the same bytes).
    @Test func garbageIsRejectedWithoutTrappingAndAcceptedBytesAreCanonical() throws {
        var random = SplitMix64(seed: 2024)
        let valid = Self.everyOperation.encoded()
        var accepted = 0
        for round in 0..<20_000 {
            var bytes: [UInt8]
            if round % 4 == 0 {
                bytes = (0..<random.below(64)).map { _ in UInt8(truncatingIfNeeded: random.next()) }
                if !bytes.isEmpty && random.chance(50) { bytes[0] = Entry.formatVersion }
            } else {
                bytes = valid
                for _ in 0..<(1 + random.below(3)) {
                    bytes[random.below(bytes.count)] = UInt8(truncatingIfNeeded: random.next())
                }
            }
            if let entry = try? Entry(decoding: bytes) {
                accepted += 1
                // Version 1 is read and written back as the current version; the current one is canonical.
                if bytes[0] == Entry.formatVersion { #expect(entry.encoded() == bytes) }
            }
        }
        #expect(accepted > 0, "some damage (inside amounts or strings) still decodes")
    }
}

/// A collection without contiguous storage, to exercise the decoder's fallback.
struct AnyCollectionOfBytes: Collection {
    let bytes: [UInt8]
    init(_ bytes: [UInt8]) { self.bytes = bytes }
    var startIndex: Int { bytes.startIndex }
    var endIndex: Int { bytes.endIndex }
    func index(after i: Int) -> Int { i + 1 }
    subscript(position: Int) -> UInt8 { bytes[position] }
}
