/// Where the actions came from and what they cost, as `eval --json` (per task) and `run --json` report it.
struct OriginFigures: Encodable {
    var origins: [String: Int]
    var switches: Int
    var meanActionAgeMs: Double
    /// Acting ticks per second of `seconds` (see the callers for what that is).
    var effectiveActionsPerS: Double
    var latencyMsByOrigin: [String: [String: Double]]

    enum CodingKeys: String, CodingKey {
        case origins, switches
        case meanActionAgeMs = "mean_action_age_ms", effectiveActionsPerS = "effective_actions_per_s", latencyMsByOrigin = "latency_ms_by_origin"
    }

    init(vla: Int, generator: Int, holds: Int, switches: Int, vlaMs: [Double], generatorMs: [Double], actionAgeMs: [Double], seconds: Double) {
        origins = ["vla": vla, "generator": generator, "hold": holds]
        self.switches = switches
        meanActionAgeMs = actionAgeMs.isEmpty ? 0 : actionAgeMs.reduce(0, +) / Double(actionAgeMs.count)
        effectiveActionsPerS = seconds > 0 ? Double(vla + generator) / seconds : 0
        latencyMsByOrigin = ["vla": latencyPercentiles(vlaMs), "generator": latencyPercentiles(generatorMs)]
    }

    /// Share of acting ticks the VLA served.
    var vlaShare: Double { Double(origins["vla"]!) / Double(max(1, origins["vla"]! + origins["generator"]!)) }
}

/// Two encodable values as one JSON object, their keys side by side.
struct Merged<A: Encodable, B: Encodable>: Encodable {
    let first: A
    let second: B
    init(_ first: A, _ second: B) {
        self.first = first
        self.second = second
    }
    func encode(to encoder: Encoder) throws {
        try first.encode(to: encoder)
        try second.encode(to: encoder)
    }
}

/// An optional that is always encoded: `null` rather than a missing key.
struct Nullable<T: Encodable>: Encodable {
    var value: T?
    init(_ value: T?) { self.value = value }
    func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        if let value { try c.encode(value) } else { try c.encodeNil() }
    }
}
