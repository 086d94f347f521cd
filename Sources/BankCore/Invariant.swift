/// Stops the process when an invariant is broken: better to crash than to serve wrong balances (TigerBeetle's
/// assertions). Unlike `precondition`, it prints its message in optimised builds too, so the log says why.
@inline(__always)
public func invariant(_ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String,
                      file: StaticString = #fileID, line: UInt = #line) {
    if !condition() { invariantFailure(message(), file: file, line: line) }
}

/// A broken invariant found where there is no condition left to test (the `else` of a `guard`): never returns,
/// so the caller needs no placeholder value after it.
public func invariantFailure(_ message: @autoclosure () -> String, file: StaticString = #fileID,
                             line: UInt = #line) -> Never {
    fatalError("invariant broken: \(message())", file: file, line: line)
}
