// Reading dmlc-core's RecordIO, the .rec files of cxxnet's and mxnet's im2rec (format in
// include/umbra/io/record.h), so that a data set packed for them is read as it is, not repacked
// from images one may no longer have. The scan checks every part's header and length at open, so
// a truncated file fails at Init; the format has no checksums to check at Read.
#include <algorithm>
#include <cstring>

#include "umbra/io/record.h"
#include "umbra/logging.h"

namespace umbra::io {
namespace {

constexpr uint64_t kPartHead = 8;  // magic, lrecord
constexpr uint64_t kImageHead = 24;  // flag, label, image id, reserved id
uint32_t Flag(uint32_t lrec) { return lrec >> 29; }
uint32_t Length(uint32_t lrec) { return lrec & ((1u << 29) - 1); }
uint64_t Padded(uint64_t n) { return (n + 3) & ~uint64_t(3); }

}  // namespace

void RecordReader::ScanDmlc() {
  dmlc_ = true;
  uint64_t off = 0;
  while (off < size_) {
    // One record: a whole part (cflag 0), or a first part (1), middle ones (2) and a last (3).
    const uint64_t start = off;
    for (int part = 0;; ++part) {
      UMBRA_CHECK(size_ - off >= kPartHead, "record file '", path_, "' is truncated at offset ", off, " (record ",
                  offsets_.size(), ": ", size_ - off, " bytes left, a RecordIO header needs ", kPartHead, ")");
      uint32_t head[2];
      in_.seekg(std::streamoff(off));
      in_.read(reinterpret_cast<char*>(head), sizeof(head));
      UMBRA_CHECK(in_.good(), "cannot read record file '", path_, "' at offset ", off);
      UMBRA_CHECK(head[0] == kDmlcRecordMagic, "record file '", path_, "' (RecordIO) is corrupt at offset ", off,
                  " (record ", offsets_.size(), "): bad magic 0x", std::hex, head[0], std::dec,
                  part == 0 && !offsets_.empty() ? "; or the length of the record before it is corrupt" : "");
      const uint32_t flag = Flag(head[1]), len = Length(head[1]);
      UMBRA_CHECK(part == 0 ? flag <= 1 : flag == 2 || flag == 3, "record file '", path_,
                  "' (RecordIO) is corrupt at offset ", off, " (record ", offsets_.size(), "): part flag ", flag,
                  part == 0 ? " where a record starts (0 or 1)" : " inside a record (2 or 3)");
      UMBRA_CHECK(size_ - off - kPartHead >= len, "record file '", path_, "' is truncated at offset ", off,
                  " (record ", offsets_.size(), " needs ", kPartHead + len, " bytes, ", size_ - off, " left)");
      off += std::min(kPartHead + Padded(len), size_ - off);
      if (flag == 0 || flag == 3) break;
    }
    offsets_.push_back(start);
  }
}

Record RecordReader::ReadDmlc(size_t i) {
  const uint64_t start = offsets_[i];
  uint64_t off = start;
  std::string data;
  for (int part = 0;; ++part) {
    uint32_t head[2];
    in_.clear();
    in_.seekg(std::streamoff(off));
    in_.read(reinterpret_cast<char*>(head), sizeof(head));
    const uint32_t len = Length(head[1]);
    UMBRA_CHECK(in_.good() && head[0] == kDmlcRecordMagic && len <= size_ - off - kPartHead, "cannot read record ",
                i, " of '", path_, "' at offset ", off, " (file changed since it was opened?)");
    // The writer cut the data at each magic it held, and left the magic out: put it back.
    if (part > 0) data.append(reinterpret_cast<const char*>(&kDmlcRecordMagic), 4);
    const size_t at = data.size();
    data.resize(at + len);
    in_.read(data.data() + at, std::streamsize(len));
    UMBRA_CHECK(in_.good(), "cannot read record ", i, " of '", path_, "' at offset ", off,
                " (file changed since it was opened?)");
    off += kPartHead + Padded(len);
    if (Flag(head[1]) == 0 || Flag(head[1]) == 3) break;
  }
  UMBRA_CHECK(data.size() >= kImageHead, "record ", i, " of '", path_, "' (RecordIO, offset ", start, ") holds ",
              data.size(), " bytes, fewer than an image record's header of ", kImageHead);
  uint32_t flag;
  float label;
  Record r;
  std::memcpy(&flag, data.data(), 4);
  std::memcpy(&label, data.data() + 4, 4);
  std::memcpy(&r.index, data.data() + 8, 8);
  // mxnet's packed labels: flag of them after the header, in the place of the one.
  UMBRA_CHECK(kImageHead + 4 * uint64_t(flag) <= data.size(), "record ", i, " of '", path_, "' (RecordIO, offset ",
              start, "): its header's flag says ", flag, " labels follow, but only ", data.size() - kImageHead,
              " bytes do");
  if (flag == 0) {
    r.labels = {label};
  } else {
    r.labels.resize(flag);
    std::memcpy(r.labels.data(), data.data() + kImageHead, 4 * size_t(flag));
  }
  r.payload = data.substr(kImageHead + 4 * size_t(flag));
  return r;
}

}  // namespace umbra::io
