// Record file reading and writing (format documented in include/umbra/io/record.h). The reader
// validates every header when it opens the file, so a truncated file fails at Init, not hours into
// training; payload CRCs are checked when a record is read.
#include "umbra/io/record.h"

#include <zlib.h>

#include <bit>
#include <cstring>

#include "umbra/logging.h"
#include "umbra/parse.h"
#include "umbra/regular_file.h"

namespace umbra::io {
namespace {

static_assert(std::endian::native == std::endian::little, "record files are read by memcpy: little-endian hosts");
constexpr uint64_t kHead = 12;  // magic, length, crc

uint32_t Crc(const char* p, size_t n) {
  uLong c = crc32(0L, Z_NULL, 0);
  // zlib takes uInt lengths; feed in chunks so payloads over 4 GiB cannot wrap.
  while (n > 0) {
    const size_t k = std::min<size_t>(n, 1u << 30);
    c = crc32(c, reinterpret_cast<const Bytef*>(p), uInt(k));
    p += k, n -= k;
  }
  return uint32_t(c);
}
uint64_t Padded(uint64_t n) { return (n + 3) & ~uint64_t(3); }

}  // namespace

bool IsRecordFile(const std::string& path) {
  // The bytes "UMRC" (or "UMRE": a file of no records) on a little-endian host, as Write puts them.
  const uint32_t magic = kRecordMagic, end = kRecordEndMagic;
  return RegularFileStartsWith(path, std::string_view(reinterpret_cast<const char*>(&magic), 4)) ||
         RegularFileStartsWith(path, std::string_view(reinterpret_cast<const char*>(&end), 4)) ||
         IsDmlcRecordFile(path);
}

bool IsDmlcRecordFile(const std::string& path) {
  const uint32_t magic = kDmlcRecordMagic;
  return RegularFileStartsWith(path, std::string_view(reinterpret_cast<const char*>(&magic), 4));
}

RecordWriter::RecordWriter(const std::string& path) : file_(path, /*binary=*/true, "record file") {}

void RecordWriter::Write(const Record& r) {
  const uint32_t k = uint32_t(r.labels.size());
  const uint64_t len = 8 + 4 + 4 * uint64_t(k) + r.payload.size();
  UMBRA_CHECK(len <= 0xFFFFFFFFull, "record ", r.index, " is too large for '", file_.path(), "' (", len, " bytes)");
  std::string body(len, '\0');
  std::memcpy(body.data(), &r.index, 8);
  std::memcpy(body.data() + 8, &k, 4);
  if (k) std::memcpy(body.data() + 12, r.labels.data(), 4 * k);
  if (!r.payload.empty()) std::memcpy(body.data() + 12 + 4 * k, r.payload.data(), r.payload.size());
  const uint32_t head[3] = {kRecordMagic, uint32_t(len), Crc(body.data(), body.size())};
  std::ofstream& out = file_.out();
  out.write(reinterpret_cast<const char*>(head), sizeof(head));
  out.write(body.data(), std::streamsize(body.size()));
  const char zeros[4] = {0, 0, 0, 0};
  out.write(zeros, std::streamsize(Padded(len) - len));
  UMBRA_CHECK(out.good(), "writing record ", r.index, " to '", file_.path(), "' failed (disk full?)");
  offset_ += kHead + Padded(len);
  ++count_;
}

void RecordWriter::Close() {
  const uint32_t head[3] = {kRecordEndMagic, 8, Crc(reinterpret_cast<const char*>(&count_), 8)};
  std::ofstream& out = file_.out();
  out.write(reinterpret_cast<const char*>(head), sizeof(head));
  out.write(reinterpret_cast<const char*>(&count_), 8);
  UMBRA_CHECK(out.good(), "writing the end of '", file_.path(), "' failed (disk full?)");
  offset_ += kHead + 8;
  file_.Commit();
}

RecordReader::RecordReader(const std::string& path) : path_(path) {
  CheckRegularFile(path, "record file");
  in_.open(path, std::ios::binary);
  UMBRA_CHECK(in_.good(), "cannot open record file '", path, "'");
  in_.seekg(0, std::ios::end);
  const uint64_t size = uint64_t(in_.tellg());
  size_ = size;
  uint32_t magic = 0;
  if (size >= 4) {  // cxxnet's or mxnet's .rec (dmlc-core's RecordIO): record_dmlc.cc
    in_.seekg(0);
    in_.read(reinterpret_cast<char*>(&magic), 4);
    UMBRA_CHECK(in_.good(), "cannot read record file '", path, "'");
    if (magic == kDmlcRecordMagic) {
      ScanDmlc();
      return;
    }
  }
  // A file that is none (a list given as image_rec) is said so by its first bytes, before its size
  // (a 10-byte text was "truncated at offset 0").
  UMBRA_CHECK(size > 0, "record file '", path, "' is empty: it holds no records (umbra's im2rec writes at least an ",
              "end record)");
  UMBRA_CHECK(size >= 4, "record file '", path, "' is ", size, " bytes, shorter than any record file");
  if (magic != kRecordMagic && magic != kRecordEndMagic) {
    std::string first(4, '\0');
    std::memcpy(first.data(), &magic, 4);  // the file's first bytes, in its order
    UMBRA_THROW("record file '", path, "' begins with '", Visible(first), "', no record's magic: not a record file of ",
                "umbra's, cxxnet's or mxnet's im2rec? (cxxnet's older .bin files must be repacked with umbra im2rec)");
  }
  uint64_t off = 0;
  for (;;) {
    UMBRA_CHECK(off < size, "record file '", path, "' is truncated at offset ", off, ": no end record after ",
                offsets_.size(), " records (cut short, or written before umbra marked the end: repack it with "
                "umbra im2rec)");
    UMBRA_CHECK(size - off >= kHead, "record file '", path, "' is truncated at offset ", off, " (record ",
                offsets_.size(), ": ", size - off, " bytes left, a record header needs ", kHead, ")");
    uint32_t head[3];
    in_.seekg(std::streamoff(off));
    in_.read(reinterpret_cast<char*>(head), sizeof(head));
    UMBRA_CHECK(in_.good(), "cannot read record file '", path, "' at offset ", off);
    if (head[0] == kRecordEndMagic) {
      UMBRA_CHECK(size - off >= kHead + 8, "record file '", path, "' is truncated at offset ", off, " (its end record ",
                  "needs ", kHead + 8, " bytes, ", size - off, " left)");
      uint64_t count = 0;
      in_.read(reinterpret_cast<char*>(&count), 8);
      UMBRA_CHECK(head[1] == 8 && in_.good() && Crc(reinterpret_cast<const char*>(&count), 8) == head[2],
                  "record file '", path, "' is corrupt at offset ", off, ": a damaged end record");
      UMBRA_CHECK(count == offsets_.size(), "record file '", path, "' is corrupt: its end record (offset ", off,
                  ") counts ", count, " records, ", offsets_.size(), " come before it");
      UMBRA_CHECK(size - off == kHead + 8, "record file '", path, "' has ", size - off - kHead - 8,
                  " bytes after its end record (offset ", off, ")");
      break;
    }
    // Past the first record (whose magic is checked above) a bad magic is as likely the previous
    // record's corrupt length, which is what led here.
    UMBRA_CHECK(head[0] == kRecordMagic, "record file '", path, "' is corrupt at offset ", off, " (record ",
                offsets_.size(), "): bad magic 0x", std::hex, head[0], std::dec, "; or the length of record ",
                offsets_.size() - 1, " (at offset ", offsets_.back(), ") is corrupt");
    UMBRA_CHECK(head[1] >= 12, "record file '", path, "' is corrupt at offset ", off, ": record length ", head[1],
                " is shorter than its header");
    const uint64_t need = kHead + Padded(head[1]);
    // A record whole (one cut in its padding then meets no end record).
    UMBRA_CHECK(size - off >= kHead + head[1], "record file '", path, "' is truncated at offset ", off, " (record ",
                offsets_.size(), " needs ", kHead + head[1], " bytes, ", size - off, " left)");
    offsets_.push_back(off);
    off += std::min(need, size - off);
  }
}

uint64_t RecordReader::Index(size_t i) {
  UMBRA_CHECK(i < offsets_.size(), "record ", i, " is past the end of '", path_, "' (", offsets_.size(), " records)");
  // umbra's: magic, length, CRC, then the index; dmlc's: magic, length and flag, then the image
  // header's flag, label and index, where the first part holds them (else the record, whole).
  const uint64_t at = offsets_[i] + (dmlc_ ? 8 + 8 : 12);
  uint64_t index = 0;
  in_.clear();
  in_.seekg(std::streamoff(at));
  in_.read(reinterpret_cast<char*>(&index), sizeof index);
  uint32_t part = 0;  // a dmlc record's first part: its length
  if (dmlc_) {
    in_.clear();
    in_.seekg(std::streamoff(offsets_[i] + 4));
    in_.read(reinterpret_cast<char*>(&part), sizeof part);
  }
  if (!in_.good() || (dmlc_ && (part & ((1u << 29) - 1)) < 16)) return Read(i).index;
  return index;
}

Record RecordReader::Read(size_t i) {
  UMBRA_CHECK(i < offsets_.size(), "record ", i, " is past the end of '", path_, "' (", offsets_.size(), " records)");
  if (dmlc_) return ReadDmlc(i);
  const uint64_t off = offsets_[i];
  uint32_t head[3];
  in_.clear();
  in_.seekg(std::streamoff(off));
  in_.read(reinterpret_cast<char*>(head), sizeof(head));
  UMBRA_CHECK(in_.good() && head[0] == kRecordMagic && head[1] <= size_ - off, "cannot read record ", i, " of '",
              path_, "' at offset ", off, " (file changed since it was opened?)");
  std::string body(head[1], '\0');
  in_.read(body.data(), std::streamsize(body.size()));
  UMBRA_CHECK(in_.good() && head[0] == kRecordMagic, "cannot read record ", i, " of '", path_, "' at offset ", off,
              " (file changed since it was opened?)");
  UMBRA_CHECK(Crc(body.data(), body.size()) == head[2], "record file '", path_, "' is corrupt at offset ", off,
              " (record ", i, "): checksum mismatch");
  Record r;
  uint32_t k;
  std::memcpy(&r.index, body.data(), 8);
  std::memcpy(&k, body.data() + 8, 4);
  UMBRA_CHECK(12 + 4 * uint64_t(k) <= body.size(), "record file '", path_, "' is corrupt at offset ", off,
              " (record ", i, "): ", k, " labels do not fit in ", body.size(), " bytes");
  r.labels.resize(k);
  if (k) std::memcpy(r.labels.data(), body.data() + 12, 4 * k);
  r.payload = body.substr(12 + 4 * k);
  return r;
}

}  // namespace umbra::io
