import BridgeProtocol

/// Maps the robot's command space (joint targets in servo units + gripper command 0…1) to servo
/// positions: joints as they are, the gripper between its closed and open positions.
struct ServoLayout {
    let robot: BoardProfile.Robot

    var ids: [UInt8] { robot.joints.map { UInt8($0.servoID) } + (robot.gripperServoID.map { [UInt8($0)] } ?? []) }
    var home: [Float] { robot.joints.map { Float($0.home) } + [1] }

    /// Servo IDs as a fixed-capacity list (built once).
    var servoIDs: ServoIDs {
        var l = ServoIDs()
        for id in ids { l.append(id) }
        return l
    }

    /// Servo positions for a command, in a fixed-capacity list (no heap allocation).
    func positions(_ command: [Float]) -> JointValues {
        var out = JointValues()
        for i in robot.joints.indices { out.append(UInt16(min(max(command[i].rounded(), 0), 65535))) }
        if robot.gripperServoID != nil {
            let g = Double(min(max(command[robot.joints.count], 0), 1))
            out.append(UInt16(min(max((robot.gripperClosed + g * (robot.gripperOpen - robot.gripperClosed)).rounded(), 0), 65535)))
        }
        return out
    }
}

/// Commands to our motor-controller firmware over the bridge protocol: configured with the
/// profile's servo IDs, limits and watchdog, torque enabled, then one TARGETS message per sent tick
/// and a HEARTBEAT per hold (the controller keeps the last targets and its own watchdog).
public final class BridgeActuator: Actuator {
    public let client: BridgeClient
    let layout: ServoLayout
    let torqueOffOnStop: Bool

    public init(client: BridgeClient, profile: BoardProfile) throws {
        self.client = client
        layout = ServoLayout(robot: profile.robot)
        torqueOffOnStop = profile.bridge.torqueOffOnStop
        var ids = ServoIDs(), lo = JointValues(), hi = JointValues()
        for (i, id) in layout.ids.enumerated() {
            ids.append(id)
            if i < profile.robot.joints.count {
                lo.append(UInt16(profile.robot.joints[i].min)); hi.append(UInt16(profile.robot.joints[i].max))
            } else {
                lo.append(UInt16(min(profile.robot.gripperOpen, profile.robot.gripperClosed)))
                hi.append(UInt16(max(profile.robot.gripperOpen, profile.robot.gripperClosed)))
            }
        }
        let config = Configuration(ids: ids, minimum: lo, maximum: hi, watchdogMs: UInt16(profile.bridge.watchdogMs),
                                   action: profile.bridge.torqueOffOnStop ? .torqueOff : .holdThenTorqueOff)
        try client.request(.configure(config))
        try client.request(.torque(enable: true))
    }

    public func reference() throws -> [Float] { layout.home }

    public func send(_ command: [Float]) throws {
        try client.send(.targets(layout.positions(command)))
    }

    public func hold() throws { try client.send(.heartbeat) }

    /// On shutdown: hold, and disable torque when the profile says so.
    public func stop() throws {
        try client.send(.hold)
        if torqueOffOnStop { try client.request(.torque(enable: false)) }
    }
}

/// A direct Feetech bus: one SYNC_WRITE of Goal_Position per sent tick; a hold writes nothing (the
/// servos keep their last goal).
public final class FeetechActuator: Actuator {
    public let bus: FeetechBus
    let layout: ServoLayout
    let ids: ServoIDs
    let torqueOffOnStop: Bool

    public init(bus: FeetechBus, profile: BoardProfile) throws {
        self.bus = bus
        layout = ServoLayout(robot: profile.robot)
        ids = layout.servoIDs
        torqueOffOnStop = profile.bridge.torqueOffOnStop
        try bus.setTorque(true, ids: layout.ids)
    }

    public func reference() throws -> [Float] { layout.home }

    public func send(_ command: [Float]) throws {
        try bus.syncWriteGoalPosition(ids: ids, positions: layout.positions(command))
    }

    public func hold() throws {}

    public func stop() throws {
        if torqueOffOnStop { try bus.setTorque(false, ids: layout.ids) }
    }
}
