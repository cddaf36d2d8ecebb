import BridgeProtocol

/// Why an actuator would not enable torque: the arm's measured pose is unknown or outside the
/// profile's limits. Nothing was written that moves the arm.
public enum PoseError: Error, CustomStringConvertible, Equatable {
    /// A servo did not answer the Present_Position read.
    case noReply(joint: String, servo: Int, detail: String)
    /// A joint's measured position is outside its limits (the gripper: between open and closed).
    case outOfLimits(joint: String, servo: Int, position: Int, min: Int, max: Int)

    public var description: String {
        switch self {
        case .noReply(let joint, let servo, let detail):
            "servo \(servo) (joint '\(joint)') did not report its position \(detail): check its power, cable, ID and baud; torque not enabled"
        case .outOfLimits(let joint, let servo, let position, let lo, let hi):
            "joint '\(joint)' (servo \(servo)) is at \(position), outside its limits \(lo)…\(hi): move it by hand into range; torque not enabled"
        }
    }
}

/// Maps the robot's command space (joint targets in servo units + gripper command 0…1) to servo
/// positions: joints as they are, the gripper between its closed and open positions.
struct ServoLayout {
    let robot: BoardProfile.Robot

    var ids: [UInt8] { robot.joints.map { UInt8($0.servoID) } + (robot.gripperServoID.map { [UInt8($0)] } ?? []) }
    /// Joint names, one per servo in `ids` order (the gripper servo is "gripper").
    var names: [String] { robot.joints.map(\.name) + (robot.gripperServoID != nil ? ["gripper"] : []) }

    /// Allowed positions of each servo in `ids` order, servo units: the joint limits; the gripper
    /// between its open and closed positions.
    var limits: [(min: Int, max: Int)] {
        robot.joints.map { (Int($0.min.rounded(.up)), Int($0.max.rounded(.down))) }
            + (robot.gripperServoID != nil
                ? [(Int(min(robot.gripperOpen, robot.gripperClosed).rounded(.up)), Int(max(robot.gripperOpen, robot.gripperClosed).rounded(.down)))]
                : [])
    }

    /// The command that the measured servo positions (`ids` order; nil = no answer) stand for: joints as
    /// they are, the gripper mapped back to 0 (closed) … 1 (open); without a gripper servo the gripper
    /// command starts open (1), as it always has. Throws naming the first joint whose servo did not
    /// answer or whose position is outside its limits — the caller must then not enable torque.
    func reference(measured: [Int?], noReply detail: String) throws -> [Float] {
        precondition(measured.count == ids.count)
        for (i, p) in measured.enumerated() where p == nil {
            throw PoseError.noReply(joint: names[i], servo: Int(ids[i]), detail: detail)
        }
        let pose = measured.map { $0! }
        for (i, p) in pose.enumerated() where p < limits[i].min || p > limits[i].max {
            throw PoseError.outOfLimits(joint: names[i], servo: Int(ids[i]), position: p, min: limits[i].min, max: limits[i].max)
        }
        var out = (0..<robot.joints.count).map { Float(pose[$0]) }
        if robot.gripperServoID != nil {
            let span = robot.gripperOpen - robot.gripperClosed
            let g = span == 0 ? 1 : (Double(pose[robot.joints.count]) - robot.gripperClosed) / span
            out.append(Float(min(max(g, 0), 1)))
        } else {
            out.append(1)
        }
        return out
    }

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
/// profile's servo IDs, limits and watchdog; the arm's pose read from the controller's STATUS (its
/// Present_Position SYNC_READ) and checked against the limits; torque enabled (the controller first sets
/// every goal to that pose); then one TARGETS message per sent tick and a HEARTBEAT per hold (the
/// controller keeps the last targets and its own watchdog).
public final class BridgeActuator: Actuator {
    public let client: BridgeClient
    let layout: ServoLayout
    let torqueOffOnStop: Bool
    /// The pose measured at set-up (command space), the loop's reference for its first command.
    public let measuredReference: [Float]
    /// The STATUS the pose came from.
    public let poseStatus: Status

    /// `poseTimeout`: how long to wait for the controller to report every servo's position.
    public init(client: BridgeClient, profile: BoardProfile, poseTimeout: Double = 1.0) throws {
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
        // The controller reads the servos right after CONFIGURE (and every 100 ms while torque is off).
        guard let status = try client.awaitMeasuredPose(jointCount: layout.ids.count, timeout: poseTimeout) else {
            let last = client.statuses.last?.status
            let measured: [Int?] = layout.ids.indices.map { i in
                guard let s = last, i < s.measured.count, s.measuredMask & (1 << UInt16(i)) != 0 else { return nil }
                return Int(s.measured[i])
            }
            _ = try layout.reference(measured: measured, noReply: "to the motor controller within \(Int(poseTimeout * 1000)) ms")
            throw BridgeError.timeout("no STATUS with a fresh measured pose within \(Int(poseTimeout * 1000)) ms")
        }
        poseStatus = status
        measuredReference = try layout.reference(measured: (0..<status.measured.count).map { Int(status.measured[$0]) },
                                                 noReply: "to the motor controller")
        // The controller checks the pose itself too (NACK positionOutOfLimits) and sets the goals to it.
        try client.request(.torque(enable: true))
    }

    /// The pose measured when the link was set up (start, and after every reconnect).
    public func reference() throws -> [Float] { measuredReference }

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

/// A direct Feetech bus. Set-up: SYNC_READ of Present_Position (servos answer with torque off), the
/// pose checked against the profile's limits, Goal_Position set to that pose (one SYNC_WRITE) and only
/// then torque on, so enabling torque does not move the arm. Then one SYNC_WRITE of Goal_Position per
/// sent tick; a hold writes nothing (the servos keep their last goal).
public final class FeetechActuator: Actuator {
    public let bus: FeetechBus
    let layout: ServoLayout
    let ids: ServoIDs
    let torqueOffOnStop: Bool
    /// The pose measured at set-up (command space), the loop's reference for its first command.
    public let measuredReference: [Float]
    /// The raw positions read at set-up, servo units, `ids` order.
    public let measuredPositions: [Int]

    /// `readTimeout`: how long each servo has to answer the position read.
    public init(bus: FeetechBus, profile: BoardProfile, readTimeout: Double = 0.1) throws {
        self.bus = bus
        layout = ServoLayout(robot: profile.robot)
        ids = layout.servoIDs
        torqueOffOnStop = profile.bridge.torqueOffOnStop
        let measured = try bus.readPresentPositions(ids: layout.ids, timeout: readTimeout)
        measuredReference = try layout.reference(measured: measured, noReply: "within \(Int(readTimeout * 1000)) ms (SYNC_READ, then READ)")
        measuredPositions = measured.map { $0! }
        try bus.syncWriteGoalPosition(ids: layout.ids, positions: measuredPositions)
        try bus.setTorque(true, ids: layout.ids)
    }

    /// The pose measured when the link was set up (start, and after every reconnect).
    public func reference() throws -> [Float] { measuredReference }

    public func send(_ command: [Float]) throws {
        try bus.syncWriteGoalPosition(ids: ids, positions: layout.positions(command))
    }

    public func hold() throws {}

    public func stop() throws {
        if torqueOffOnStop { try bus.setTorque(false, ids: layout.ids) }
    }
}
