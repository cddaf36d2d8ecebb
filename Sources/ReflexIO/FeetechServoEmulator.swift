import BridgeProtocol
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Servos that answer, for tests and benchmarks of the direct-bus path without hardware: an STS3215
/// bus on the far end of a `PseudoTerminal`. A background thread parses every instruction packet the
/// host writes (checksum checked), records it, and acts on it like a servo configured with
/// Status_Return_Level 0 (the LeRobot setting: answer PING and READ, stay silent on writes):
/// - PING → an empty status packet; READ / SYNC_READ → the registers asked for, one status packet per
///   servo, in the order of the request;
/// - WRITE / SYNC_WRITE → the registers are written; with Torque_Enable = 1, Present_Position follows
///   Goal_Position at once (an ideal servo).
/// Positions are stored sign-magnitude, as the STS register is. The independent Python twin for the
/// end-to-end tests is scripts/feetech_servo_emulator.py. The servo thread keeps the emulator alive until
/// `stop()`; the pty closes when the last reference goes after that.
public final class FeetechServoEmulator: @unchecked Sendable {
    /// One instruction packet received from the host.
    public struct Packet: Equatable, Sendable, CustomStringConvertible {
        public var id: UInt8
        public var instruction: UInt8
        public var params: [UInt8]
        public init(id: UInt8, instruction: UInt8, params: [UInt8]) { self.id = id; self.instruction = instruction; self.params = params }
        public var description: String { "id \(id) instr 0x\(String(instruction, radix: 16)) params \(params)" }
    }

    public let pty: PseudoTerminal
    private let lock = NSLock()
    private var registers: [UInt8: [UInt8]] = [:]
    private var silentIDs: Set<UInt8> = []
    private var received: [Packet] = []
    private var checksumErrors = 0
    private var running = true
    private let done = DispatchSemaphore(value: 0)

    /// Servos with these IDs at these positions (servo units), torque off.
    public init(positions: [UInt8: Int]) throws {
        pty = try PseudoTerminal()
        for (id, p) in positions {
            registers[id] = [UInt8](repeating: 0, count: 256)
            Self.store(p, at: Int(Feetech.addressPresentPosition), in: &registers[id]!)
            Self.store(p, at: Int(Feetech.addressGoalPosition), in: &registers[id]!)
        }
        let thread = Thread { [self] in serve() }
        thread.start()
    }

    /// The device vanishes: the servo thread stops and the pty's master closes now (not when the last
    /// reference goes, which a thread still finishing may delay).
    public func unplug() {
        stop()
        pty.close()
    }

    /// The device path the host opens.
    public var path: String { pty.slavePath }

    /// Stops the servo thread (idempotent).
    public func stop() {
        let wasRunning = lock.withLock { defer { running = false }; return running }
        if wasRunning { done.wait() }
    }

    /// Every instruction packet received so far.
    public var packets: [Packet] { lock.withLock { received } }
    /// Forgets the packets received so far.
    public func clearPackets() { lock.withLock { received = [] } }
    /// Packets whose checksum was wrong (never acted on).
    public var badChecksums: Int { lock.withLock { checksumErrors } }

    public func position(_ id: UInt8) -> Int? {
        lock.withLock { registers[id].map { Self.load(at: Int(Feetech.addressPresentPosition), in: $0) } }
    }

    /// Moves servo `id` (by hand, as it were).
    public func setPosition(_ id: UInt8, _ position: Int) {
        lock.withLock { if registers[id] != nil { Self.store(position, at: Int(Feetech.addressPresentPosition), in: &registers[id]!) } }
    }

    public func torqueEnabled(_ id: UInt8) -> Bool { lock.withLock { registers[id]?[Int(Feetech.addressTorqueEnable)] == 1 } }

    /// A silent servo receives and acts on writes but never answers (a broken reply line, a wrong baud).
    public func setSilent(_ id: UInt8, _ silent: Bool = true) {
        lock.withLock { if silent { silentIDs.insert(id) } else { silentIDs.remove(id) } }
    }

    static func store(_ position: Int, at address: Int, in regs: inout [UInt8]) {
        let raw = position < 0 ? UInt16(0x8000 | min(-position, 0x7FFF)) : UInt16(min(position, 0x7FFF))
        regs[address] = UInt8(raw & 0xFF)
        regs[address + 1] = UInt8(raw >> 8)
    }

    static func load(at address: Int, in regs: [UInt8]) -> Int { Feetech.decodePosition(lo: regs[address], hi: regs[address + 1]) }

    private func serve() {
        defer { done.signal() }
        var pending: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 4096)
        while lock.withLock({ running }) {
            var p = pollfd(fd: pty.master, events: Int16(POLLIN), revents: 0)
            guard poll(&p, 1, 10) > 0 else { continue }
            let n = buf.withUnsafeMutableBytes { Glibc.read(pty.master, $0.baseAddress, 4096) }
            if n <= 0 { continue }
            pending += buf.prefix(n)
            while let packet = Self.take(&pending, badChecksum: { lock.withLock { checksumErrors += 1 } }) {
                let replies = lock.withLock { () -> [UInt8] in
                    received.append(packet)
                    return handle(packet)
                }
                if !replies.isEmpty { pty.write(replies) }
            }
        }
    }

    /// Removes and returns the next complete instruction packet from `bytes` (skipping noise).
    static func take(_ bytes: inout [UInt8], badChecksum: () -> Void) -> Packet? {
        while true {
            guard let start = (0..<max(bytes.count - 1, 0)).first(where: { bytes[$0] == 0xFF && bytes[$0 + 1] == 0xFF }) else {
                if bytes.count > 1 { bytes.removeFirst(bytes.count - 1) }
                return nil
            }
            if start > 0 { bytes.removeFirst(start) }
            guard bytes.count >= 4 else { return nil }
            if bytes[2] == 0xFF { bytes.removeFirst(); continue }
            let len = Int(bytes[3])
            guard len >= 2 else { bytes.removeFirst(2); continue }
            guard bytes.count >= 4 + len else { return nil }
            let body = Array(bytes[2..<(3 + len)])  // ID LEN INSTR PARAMS
            let sum = body.reduce(UInt8(0), &+)
            if ~sum != bytes[3 + len] { badChecksum(); bytes.removeFirst(2); continue }
            bytes.removeFirst(4 + len)
            return Packet(id: body[0], instruction: body[2], params: Array(body[3...]))
        }
    }

    private func status(_ id: UInt8, _ data: ArraySlice<UInt8>) -> [UInt8] {
        let len = UInt8(data.count + 2)
        let sum = data.reduce(id &+ len, &+)
        return [0xFF, 0xFF, id, len, 0] + data + [~sum]
    }

    private func read(_ id: UInt8, _ address: Int, _ length: Int) -> [UInt8] {
        guard let regs = registers[id], !silentIDs.contains(id), address + length <= 256 else { return [] }
        return status(id, regs[address..<(address + length)])
    }

    private func write(_ id: UInt8, _ address: Int, _ data: ArraySlice<UInt8>) {
        let targets = id == Feetech.broadcastID ? Array(registers.keys) : [id]
        for t in targets where registers[t] != nil && address + data.count <= 256 {
            for (k, b) in data.enumerated() { registers[t]![address + k] = b }
            if registers[t]![Int(Feetech.addressTorqueEnable)] == 1 {
                let goal = Self.load(at: Int(Feetech.addressGoalPosition), in: registers[t]!)
                Self.store(goal, at: Int(Feetech.addressPresentPosition), in: &registers[t]!)
            }
        }
    }

    private func handle(_ p: Packet) -> [UInt8] {
        switch p.instruction {
        case Feetech.instructionPing:
            return registers[p.id] != nil && !silentIDs.contains(p.id) ? status(p.id, []) : []
        case Feetech.instructionRead where p.params.count == 2:
            return read(p.id, Int(p.params[0]), Int(p.params[1]))
        case Feetech.instructionSyncRead where p.params.count >= 3:
            return p.params[2...].flatMap { read($0, Int(p.params[0]), Int(p.params[1])) }
        case Feetech.instructionWrite where p.params.count >= 2:
            write(p.id, Int(p.params[0]), p.params[1...])
        case Feetech.instructionSyncWrite where p.params.count >= 2:
            let address = Int(p.params[0]), size = Int(p.params[1])
            var i = 2
            while size > 0 && i + 1 + size <= p.params.count {
                write(p.params[i], address, p.params[(i + 1)..<(i + 1 + size)])
                i += 1 + size
            }
        default:
            break
        }
        return []
    }
}
