import Foundation
import ReflexCore

/// The weights of a Hugging Face checkpoint directory: either one `model.safetensors` or the shards
/// listed in `model.safetensors.index.json` (its `weight_map` says which shard holds each tensor).
/// Every shard is memory-mapped and validated when the checkpoint is opened.
public final class CheckpointWeights: @unchecked Sendable {
    public let directory: String
    /// Open shards by file name.
    public let shards: [String: SafeTensorsFile]
    /// Tensor name → shard file name.
    public let location: [String: String]

    public init(directory: String) throws {
        self.directory = directory
        let indexPath = directory + "/model.safetensors.index.json"
        let singlePath = directory + "/model.safetensors"
        var shards: [String: SafeTensorsFile] = [:]
        var location: [String: String] = [:]
        if let obj = try ModelFile.jsonObject(indexPath) {
            guard let map = obj["weight_map"] as? [String: String] else {
                throw ModelError(file: indexPath, key: "weight_map", "missing or not an object of strings")
            }
            for file in Set(map.values).sorted() {
                guard !file.contains("/"), !file.isEmpty, file != ".", file != ".." else {
                    throw ModelError(file: indexPath, key: "weight_map", "shard name \"\(file)\" must be a plain file name")
                }
                let shard = try SafeTensorsFile(path: directory + "/" + file)
                shards[file] = shard
            }
            for (name, file) in map {
                guard shards[file]!.tensors[name] != nil else {
                    throw ModelError(file: directory + "/" + file, key: name, "listed in model.safetensors.index.json but not in the shard")
                }
                location[name] = file
            }
        } else if try ModelFile.exists(singlePath) {
            let file = try SafeTensorsFile(path: singlePath)
            shards["model.safetensors"] = file
            for name in file.tensors.keys { location[name] = "model.safetensors" }
        } else {
            throw ModelError(file: directory, "no model.safetensors or model.safetensors.index.json")
        }
        self.shards = shards
        self.location = location
    }

    /// All tensor names.
    public var names: [String] { location.keys.sorted() }

    /// The shard and entry holding `name`, or an error naming the tensor.
    public func entry(_ name: String) throws -> (SafeTensorsFile, SafeTensorInfo) {
        guard let file = location[name], let shard = shards[file] else {
            throw ModelError(file: directory, key: name, "tensor not found in the checkpoint")
        }
        return (shard, try shard.info(name))
    }

    /// A floating-point tensor as fp32, checked against the expected shape.
    public func tensor(_ name: String, shape: [Int]? = nil) throws -> Tensor {
        let (shard, info) = try entry(name)
        if let shape, info.shape != shape {
            throw ModelError(file: shard.path, key: name, "shape \(info.shape) disagrees with config.json (expected \(shape))")
        }
        return try shard.floatTensor(name)
    }

    /// Whether the checkpoint holds `name`.
    public func contains(_ name: String) -> Bool { location[name] != nil }
}
