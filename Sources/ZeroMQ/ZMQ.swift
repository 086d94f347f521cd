import CZeroMQ

/// Namespace for facts about the linked libzmq itself rather than about a context or socket.
public enum ZMQ {
    /// The version of the libzmq actually loaded at run time, e.g. (4, 3, 4). Useful in logs and startup checks,
    /// because the library is found through pkg-config and may differ from machine to machine.
    public static var version: (major: Int, minor: Int, patch: Int) {
        var major: Int32 = 0, minor: Int32 = 0, patch: Int32 = 0
        zmq_version(&major, &minor, &patch)
        return (Int(major), Int(minor), Int(patch))
    }
}
