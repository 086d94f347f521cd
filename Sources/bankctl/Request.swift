import BankProtocol

/// A request object, written straight with `JSONWriter`: `{"op": …, fields…}` in the order added.
struct Request {
    let op: String
    private var writer = JSONWriter(reservingCapacity: 128)

    init(_ op: String) {
        self.op = op
        writer.beginObject()
        writer.field("op", op)
    }

    func with(_ name: String, _ value: String) -> Request {
        var copy = self
        copy.writer.field(name, value)
        return copy
    }

    func with(_ name: String, _ value: Int64) -> Request {
        var copy = self
        copy.writer.field(name, value)
        return copy
    }

    func with(_ name: String, _ value: Bool) -> Request {
        var copy = self
        copy.writer.field(name, value)
        return copy
    }

    func with(_ name: String, _ value: JSONValue) -> Request {
        var copy = self
        copy.writer.key(name)
        copy.writer.value(value)
        return copy
    }

    /// Adds the field only when there is a value.
    func with(_ name: String, _ value: String?) -> Request { value.map { with(name, $0) } ?? self }
    func with(_ name: String, _ value: Int64?) -> Request { value.map { with(name, $0) } ?? self }

    var bytes: [UInt8] {
        var finished = writer
        finished.endObject()
        return finished.bytes
    }
}
