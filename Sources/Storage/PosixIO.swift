import Glibc
#if canImport(CLinuxIO)
import CLinuxIO
#endif

/// Thin wrappers over the system calls storage uses, turning every failure into a `StorageError` that names the
/// call, the path and `strerror(errno)`, and retrying the calls that may be interrupted or may transfer fewer bytes
/// than asked.
enum PosixIO {
    /// Writes all of `bytes` at `offset`.
    static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, at offset: UInt64, path: String) throws {
        guard let base = bytes.baseAddress else { return }
        var written = 0
        while written < bytes.count {
            let result = pwrite(fd, base + written, bytes.count - written, off_t(offset) + off_t(written))
            if result < 0 {
                if errno == EINTR { continue }
                throw StorageError.lastSystemCall("pwrite", path: path)
            }
            written += result
        }
    }

    /// Reads as many of `buffer.count` bytes at `offset` as the file has; returns the count read (short only at
    /// the end of the file).
    static func read(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64,
                     path: String) throws -> Int {
        guard let base = buffer.baseAddress else { return 0 }
        var done = 0
        while done < buffer.count {
            let result = pread(fd, base + done, buffer.count - done, off_t(offset) + off_t(done))
            if result < 0 {
                if errno == EINTR { continue }
                throw StorageError.lastSystemCall("pread", path: path)
            }
            if result == 0 { break }
            done += result
        }
        return done
    }

    /// Reads exactly `buffer.count` bytes at `offset`; the file ending early is an error.
    static func readExactly(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64,
                            path: String) throws {
        let got = try read(fd, into: buffer, at: offset, path: path)
        guard got == buffer.count else {
            throw StorageError.shortRead(path: path, offset: offset, expected: buffer.count, got: got)
        }
    }

    static func fileSize(_ fd: Int32, path: String) throws -> UInt64 {
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw StorageError.lastSystemCall("fstat", path: path) }
        return UInt64(info.st_size)
    }

    /// Writes back the file's dirty pages in `offset ..< offset + length` and waits until they are on disk, without
    /// committing the file system's journal (the file's size and blocks are durable only after a later `fsync`).
    /// For a large file written in one go: a `fdatasync` per piece forces a journal commit each time, and the
    /// ledger's own `fdatasync`s queue behind every one of them; writing the data back bounds what the final
    /// `fsync` (and any commit meanwhile) must flush, without those commits. An error is thrown, never retried.
    static func writeBack(_ fd: Int32, offset: UInt64, length: UInt64, path: String) throws {
        #if canImport(CLinuxIO)
        let flags = BANK_SYNC_FILE_RANGE_WAIT_BEFORE | BANK_SYNC_FILE_RANGE_WRITE | BANK_SYNC_FILE_RANGE_WAIT_AFTER
        guard sync_file_range(fd, Int64(offset), Int64(length), flags) == 0 else {
            throw StorageError.lastSystemCall("sync_file_range", path: path)
        }
        #else
        guard fsync(fd) == 0 else { throw StorageError.lastSystemCall("fsync", path: path) }
        #endif
    }

    /// Cuts the file to `size` bytes and makes the new size durable.
    static func truncateDurably(_ fd: Int32, to size: UInt64, path: String) throws {
        guard ftruncate(fd, off_t(size)) == 0 else { throw StorageError.lastSystemCall("ftruncate", path: path) }
        guard fsync(fd) == 0 else { throw StorageError.lastSystemCall("fsync", path: path) }
    }

    /// Makes a directory's entries durable: after creating or renaming a file in it, the new name survives a crash
    /// only once the directory itself is fsync'd.
    static func syncDirectory(_ directory: String) throws {
        let fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw StorageError.lastSystemCall("open", path: directory) }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw StorageError.lastSystemCall("fsync", path: directory) }
    }

    /// Creates `directory` and any missing parents (like `mkdir -p`), fsyncing the parent of each directory it
    /// creates so that the new names survive a crash along with what is later synced inside them.
    static func makeDirectories(_ directory: String) throws {
        var path = ""
        let absolute = directory.hasPrefix("/")
        for component in directory.split(separator: "/", omittingEmptySubsequences: true) {
            path += (path.isEmpty && !absolute) ? String(component) : "/" + component
            if mkdir(path, 0o755) == 0 {
                try syncDirectory(parentDirectory(of: path))
            } else if errno != EEXIST {
                throw StorageError.lastSystemCall("mkdir", path: path)
            }
        }
    }

    /// The names in `directory` (not "." and ".."); empty when it does not exist.
    static func fileNames(in directory: String) throws -> [String] {
        guard let handle = opendir(directory) else {
            if errno == ENOENT { return [] }
            throw StorageError.lastSystemCall("opendir", path: directory)
        }
        defer { closedir(handle) }
        var names: [String] = []
        while let entry = readdir(handle) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(cString: raw.baseAddress!.assumingMemoryBound(to: CChar.self))
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    /// The directory part of `path` ("." for a bare file name).
    static func parentDirectory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        let parent = String(path[..<slash])
        return parent.isEmpty ? "/" : parent
    }
}
