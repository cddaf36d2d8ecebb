import Foundation

/// Opening the files of a checkpoint directory safely: only regular files (a symlink to one is
/// fine) are read, so a FIFO or device node named `config.json` or `model.safetensors` is an
/// error naming the file instead of a read that never returns.
enum ModelFile {
    /// Largest JSON side file read (config.json, tokenizer.json, …): real ones are a few MB.
    static let maxJSONBytes = 256 << 20

    /// Whether `path` exists (following symlinks); throws when it exists but is not a regular file.
    static func exists(_ path: String) throws -> Bool {
        var st = stat()
        guard stat(path, &st) == 0 else {
            if errno == ENOENT || errno == ENOTDIR { return false }
            throw ModelError(file: path, "cannot stat: \(String(cString: strerror(errno)))")
        }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw ModelError(file: path, "not a regular file (\(kind(st.st_mode)))") }
        return true
    }

    /// Opens `path` read-only after checking it is a regular file: stat first (nothing is opened
    /// when it is a FIFO or device), then open non-blocking and check the opened descriptor again
    /// (the name could have been swapped in between). Returns the descriptor and the file size.
    static func openRegular(_ path: String) throws -> (fd: Int32, size: Int) {
        guard try exists(path) else { throw ModelError(file: path, "cannot open: \(String(cString: strerror(ENOENT)))") }
        let fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { throw ModelError(file: path, "cannot open: \(String(cString: strerror(errno)))") }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            let e = errno
            close(fd)
            throw ModelError(file: path, "cannot stat: \(String(cString: strerror(e)))")
        }
        guard (st.st_mode & S_IFMT) == S_IFREG else {
            close(fd)
            throw ModelError(file: path, "not a regular file (\(kind(st.st_mode)))")
        }
        return (fd, Int(st.st_size))
    }

    /// The bytes of a regular file, or nil when it does not exist. Errors name the file.
    static func contents(_ path: String, limit: Int = maxJSONBytes) throws -> Data? {
        guard try exists(path) else { return nil }
        let (fd, size) = try openRegular(path)
        defer { close(fd) }
        guard size <= limit else { throw ModelError(file: path, "file is \(size) bytes, more than the \(limit)-byte limit") }
        var data = Data(count: size)
        var done = 0
        while done < size {
            let n = data.withUnsafeMutableBytes { read(fd, $0.baseAddress! + done, size - done) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else {
                if n == 0 { break }  // shrank while reading: keep what is there
                throw ModelError(file: path, "cannot read: \(String(cString: strerror(errno)))")
            }
            done += n
        }
        return done == size ? data : data.prefix(done)
    }

    /// The JSON object at `path` (nil when the file does not exist); "not valid JSON: reason" or
    /// "not a JSON object" otherwise.
    static func jsonObject(_ path: String) throws -> [String: Any]? {
        guard let data = try contents(path) else { return nil }
        return try jsonObject(data, file: path)
    }

    static func jsonObject(_ data: Data, file: String) throws -> [String: Any] {
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: data)
        } catch {
            throw ModelError(file: file, "not valid JSON: \(reason(error))")
        }
        guard let dict = object as? [String: Any] else { throw ModelError(file: file, "not a JSON object (top level is \(jsonKind(object)))") }
        return dict
    }

    /// The most specific text a JSON parse error carries.
    static func reason(_ error: Error) -> String {
        let ns = error as NSError
        if let d = ns.userInfo[NSDebugDescriptionErrorKey] as? String, !d.isEmpty { return d }
        if case let DecodingError.dataCorrupted(ctx) = error {
            if let u = ctx.underlyingError { return reason(u) }
            return ctx.debugDescription
        }
        return ns.localizedDescription
    }

    static func jsonKind(_ v: Any) -> String {
        switch v {
        case is [Any]: return "an array"
        case is String: return "a string"
        case is NSNull: return "null"
        case is NSNumber: return "a number"
        default: return "\(type(of: v))"
        }
    }

    static func kind(_ mode: mode_t) -> String {
        switch mode & S_IFMT {
        case S_IFIFO: return "a FIFO"
        case S_IFCHR: return "a character device"
        case S_IFBLK: return "a block device"
        case S_IFDIR: return "a directory"
        case S_IFSOCK: return "a socket"
        default: return "mode \(String(mode, radix: 8))"
        }
    }
}

/// Numbers from `JSONSerialization` output, checked.
enum JSONNumber {
    /// A JSON number as a Double (nil for anything else).
    static func double(_ v: Any) -> Double? {
        guard let n = v as? NSNumber else { return nil }
        return n.doubleValue
    }

    /// A JSON number with no fractional part, in `Int` range with room to spare (nil otherwise).
    static func integer(_ v: Any) -> Int? {
        guard let d = double(v), d.isFinite, abs(d) < 9.0e15, d == d.rounded() else { return nil }
        return Int(d)
    }
}
