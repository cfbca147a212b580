// umbra model files (DESIGN.md "Model files"): what a checkpoint holds and how it is laid out.
// This header reads and writes the container over host buffers; checkpoint.h moves a Trainer's
// weights and updater state in and out of it.
//
// Layout (all integers little-endian), readable with numpy alone (python/umbra/model_file.py):
//   0   8 bytes  magic "UMBRAMDL"
//   8   u32      format version (1)
//   12  u32      0 (reserved)
//   16  u64      H, the length of the JSON header
//   24  H bytes  JSON: {"version":1, "net": "<network text>", "meta": {string: string, ...},
//                "data_offset": D, "tensors": [{"name": "conv1.wmat", "dtype": "float32",
//                "shape": [..], "offset": o, "nbytes": n}, ...]}
//   D   data     each tensor's raw C-order bytes at D + offset (D and offsets 64-byte aligned)
//   end 8 bytes  u32 CRC-32 (zlib) of every byte before it, then "UEND"
// Names: "layer.tag" for weights, "layer.tag:momentum" / ":second_moment" / ":grad" for updater
// state. Writes go to a temporary file in the same folder, fsync'd, then renamed over the target:
// a crash leaves the old file whole. A truncated or corrupt file, an unknown version or a header
// that does not describe the data is refused with an error naming the file and the problem.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace umbra::nn {

struct ModelTensor {
  std::string name;
  std::vector<int64_t> shape;
  std::vector<float> data;  // float32, C order
};

/// Whether a tensor's name is a weight's ("layer.tag") rather than updater state
/// ("layer.tag:momentum", ":second_moment", ":grad"): layer names hold no ':' (netconfig).
inline bool IsWeightName(const std::string& name) { return name.find(':') == std::string::npos; }

struct ModelFile {
  static constexpr uint32_t kVersion = 1;
  /// The network as config text (what the model was trained as; informational).
  std::string net;
  /// Counters and settings, e.g. "round", "updates", "steps", "seed".
  std::map<std::string, std::string> meta;
  std::vector<ModelTensor> tensors;

  /// The tensor called `name`, or nullptr.
  const ModelTensor* Find(const std::string& name) const;
};

/// Serialises to the layout above.
std::string EncodeModelFile(const ModelFile& m);
/// Parses bytes in the layout above; `what` names the source in errors.
ModelFile DecodeModelFile(const std::string& bytes, const std::string& what);
/// Writes atomically (temporary file + fsync + rename).
void WriteModelFile(const std::string& path, const ModelFile& m);
ModelFile ReadModelFile(const std::string& path);
/// Whether `path` is a regular file that begins with the model magic (a model, whole or not):
/// what a task's output file must never replace.
bool IsModelFile(const std::string& path);

}  // namespace umbra::nn
