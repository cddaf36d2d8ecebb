import Foundation
import Testing
@testable import ReflexCore

/// The stages are data: JSON has one key per stage plus `total`, and JSON written before a stage existed reads.
@Suite struct StageTimingsTests {
    @Test func jsonHasEveryStageAndTotal() throws {
        var t = StageTimings()
        for (i, stage) in Stage.allCases.enumerated() { t[stage] = Double(i + 1) }
        let json = try JSONSerialization.jsonObject(with: JSONEncoder().encode(t)) as! [String: Double]
        #expect(Set(json.keys) == Set(Stage.allCases.map(\.rawValue) + ["total"]))
        #expect(json["select"] == 3 && json["total"] == 21)
        #expect(try JSONDecoder().decode(StageTimings.self, from: JSONEncoder().encode(t)) == t)
        let old = #"{"preprocess":1,"vision":2,"projector":3,"prefill":4,"decode":5,"total":15}"#
        let read = try JSONDecoder().decode(StageTimings.self, from: Data(old.utf8))
        #expect(read.select == 0 && read.projector == 3 && read.total == 15)
    }
}
