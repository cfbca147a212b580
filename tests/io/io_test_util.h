// Helpers for the io tests: a temporary directory removed at the end of the test, small file
// writers, and batch readers. Every test writes its own known inputs; nothing is downloaded.
#pragma once

#include <gtest/gtest.h>
#include <zlib.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "harness/tensor_util.h"  // EXPECT_HAS
#include "umbra/io/iterator.h"
#include "umbra/io/record.h"

namespace umbra::io::test {

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "umbra_io_XXXXXX").string();
    EXPECT_NE(mkdtemp(tmpl.data()), nullptr);
    path_ = tmpl;
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

inline void WriteText(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}
inline std::string ReadBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}
// dmlc-core's RecordIO as its writer lays it out (written here from the format's description in
// record.h): the data cut at each magic that starts at a multiple of 4, the magic left out, the
// parts flagged 1, 2, ..., 3; each part padded to 4 bytes.
inline std::string DmlcRecord(const std::string& data) {
  const uint32_t magic = kDmlcRecordMagic;
  const std::string m(reinterpret_cast<const char*>(&magic), 4);
  std::string out;
  const auto part = [&](uint32_t flag, const std::string& bytes) {
    const uint32_t head[2] = {magic, flag << 29 | uint32_t(bytes.size())};
    out += std::string(reinterpret_cast<const char*>(head), 8) + bytes + std::string((4 - bytes.size() % 4) % 4, '\0');
  };
  size_t from = 0;
  for (size_t i = 0; i + 4 <= data.size(); i += 4)
    if (data.compare(i, 4, m) == 0) part(from == 0 ? 1 : 2, data.substr(from, i - from)), from = i + 4;
  part(from == 0 ? 0 : 3, data.substr(from));
  return out;
}
// An image record's data: flag, label, image id, reserved id, `labels` (flag of them), image bytes.
inline std::string DmlcImage(uint64_t id, float label, const std::vector<float>& labels, const std::string& image) {
  std::string d(24, '\0');
  const uint32_t flag = uint32_t(labels.size());
  std::memcpy(d.data(), &flag, 4);
  std::memcpy(d.data() + 4, &label, 4);
  std::memcpy(d.data() + 8, &id, 8);
  d += std::string(reinterpret_cast<const char*>(labels.data()), 4 * labels.size());
  return DmlcRecord(d + image);
}

/// A PNG chunk as the PNG specification lays it out: big-endian length, type, data, CRC-32.
inline std::string PngChunk(const std::string& type, const std::string& data) {
  auto be32 = [](uint32_t v) {
    return std::string{char(v >> 24), char(v >> 16), char(v >> 8), char(v)};
  };
  const std::string body = type + data;
  return be32(uint32_t(data.size())) + body +
         be32(uint32_t(crc32(0L, reinterpret_cast<const Bytef*>(body.data()), uInt(body.size()))));
}
/// `png` with `chunk` inserted after its IHDR chunk (which the 8-byte signature is followed by).
inline std::string AfterHeader(const std::string& png, const std::string& chunk) {
  return png.substr(0, 33) + chunk + png.substr(33);
}

/// An iterator configured from key/value pairs and initialised.
inline std::unique_ptr<DataIterator> Make(const std::string& type,
                                          const std::vector<std::pair<std::string, std::string>>& kv) {
  auto it = CreateIterator(type);
  for (auto& [k, v] : kv) EXPECT_TRUE(it->SetParam(k, v)) << "key " << k;
  it->Init();
  return it;
}

/// A deep copy of one batch, for comparing batches across iterators.
struct Snap {
  std::vector<float> data, label;
  index_t valid;
  std::vector<uint64_t> index;
  bool operator==(const Snap&) const = default;
};
inline Snap Take(const DataBatch& b) {
  return Snap{std::vector<float>(b.data.dptr_, b.data.dptr_ + b.data.shape_.Size()),
              std::vector<float>(b.label.dptr_, b.label.dptr_ + b.label.shape_.Size()), b.valid, b.index};
}
/// All batches of one epoch (SetEpoch, BeforeFirst, Next until false).
inline std::vector<Snap> Epoch(DataIterator* it, uint64_t epoch) {
  it->SetEpoch(epoch);
  it->BeforeFirst();
  std::vector<Snap> out;
  while (it->Next()) out.push_back(Take(it->Value()));
  return out;
}

/// Runs fn and returns the umbra::Error message it throws ("" when it does not throw).
template <typename Fn>
std::string ErrorOf(Fn fn) {
  try {
    fn();
  } catch (const umbra::Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace umbra::io::test
