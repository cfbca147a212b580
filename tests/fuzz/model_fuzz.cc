// libFuzzer target: the model-file loader must refuse any damaged file with one umbra::Error.
// Raw bytes alone rarely get past the magic and the checksum, so half the inputs are used as
// patches to a valid file whose checksum is then recomputed: that reaches the JSON header and
// the tensor table checks, which a real corrupt file could hit only with a colliding CRC.
#include <zlib.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "umbra/logging.h"
#include "umbra/nn/model_file.h"

namespace {

std::string Valid() {
  umbra::nn::ModelFile m;
  m.net = "layer[0->1] = fullc:fc1\n";
  m.meta["round"] = "3";
  m.tensors.push_back({"fc1.wmat", {2, 3}, {1, 2, 3, 4, 5, 6}});
  m.tensors.push_back({"fc1.bias", {1, 3}, {0, 0, 1}});
  // An empty tensor: its data() is null, which memcpy was given (UBSan; python/umbra writes such).
  m.tensors.push_back({"fc1.none", {0, 3}, {}});
  return umbra::nn::EncodeModelFile(m);
}

void Decode(const std::string& b) {
  try {
    umbra::nn::DecodeModelFile(b, "fuzz.model");
  } catch (const umbra::Error&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string valid = Valid();
  Decode(std::string(reinterpret_cast<const char*>(data), size));
  if (size < 3) return 0;
  // Patch: byte 0-1 = offset, byte 2 = new length cut (0: keep), rest = bytes written at offset.
  std::string b = valid;
  const size_t at = (size_t(data[0]) << 8 | data[1]) % b.size();
  for (size_t i = 3; i < size && at + i - 3 < b.size() - 8; ++i) b[at + i - 3] = char(data[i]);
  if (data[2] && data[2] < b.size()) b.resize(b.size() - data[2]);
  if (b.size() >= 8) {
    const uint32_t crc = uint32_t(crc32(0L, reinterpret_cast<const Bytef*>(b.data()), uInt(b.size() - 8)));
    std::memcpy(b.data() + b.size() - 8, &crc, 4);  // little-endian host, as the writer
  }
  Decode(b);
  return 0;
}
