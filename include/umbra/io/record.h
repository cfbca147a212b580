// Record files: the container of the `imgrec` iterator, written by `umbra im2rec` (im2rec.h).
// A RecordIO-like sequence of records, each self-delimiting and checksummed, so a truncated or
// corrupt file is refused with the file name and byte offset instead of feeding garbage to training.
// This header is the format's documentation; the image decoding lives in src/io/image_iter.cc.
//
// Layout of one record (all integers little-endian, no file header; records follow each other):
//   offset  size        field
//   0       4           magic 0x43524D55 (the bytes "UMRC")
//   4       4           length L: bytes of the body (from offset 12 to the end of the payload)
//   8       4           CRC-32 (zlib's crc32) of those L body bytes
//   12      8           index: the instance's id from the list file (uint64)
//   20      4           K: number of labels (uint32)
//   24      4*K         labels (float32)
//   24+4K   L-12-4K     payload: the encoded image, bytes exactly as in the source file (JPEG, PNG, ...)
//   then 0-3 zero bytes so that the next record starts at a multiple of 4.
// After the last record, an end record of 20 bytes:
//   0       4           magic 0x45524D55 (the bytes "UMRE")
//   4       4           length 8
//   8       4           CRC-32 of the 8 body bytes
//   12      8           the number of records before it (uint64)
// and nothing after it. Without it a file cut at a record boundary (a copy stopped at a block
// edge) read as a whole file of fewer images.
//
// RecordReader also reads the .rec files of cxxnet's and mxnet's im2rec (dmlc-core's RecordIO):
// records of magic 0xCED7230A, then lrecord = cflag << 29 | length, the length bytes, and zeros to
// a multiple of 4. cflag 0 is a whole record; a record whose data held the magic at a multiple of
// 4 was written in parts (cflag 1, then 2s, then 3), the magic left out between them. A record's
// data: flag (uint32), label (float32), image id (uint64, then a reserved uint64), then `flag`
// more labels where flag > 0 (mxnet's im2rec --pack-label: they replace the one), then the
// encoded image. Such a file has no checksums and no end record: one cut where a record ends
// reads as a file of fewer records.
#pragma once

#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

#include "umbra/atomic_output.h"

namespace umbra::io {

inline constexpr uint32_t kRecordMagic = 0x43524D55u;
inline constexpr uint32_t kRecordEndMagic = 0x45524D55u;
inline constexpr uint32_t kDmlcRecordMagic = 0xCED7230Au;  // dmlc-core's RecordIO (above)

/// Whether `path` is a regular file that starts with a record's magic or the end record's, or
/// dmlc-core's (what an output must not replace; an empty file is none).
bool IsRecordFile(const std::string& path);
/// Whether `path` is a regular file that starts with dmlc-core's RecordIO magic (cxxnet's .rec).
bool IsDmlcRecordFile(const std::string& path);

struct Record {
  uint64_t index = 0;
  std::vector<float> labels;
  std::string payload;  // the encoded image bytes
};

/// Writes records to a new file, in place once Close() returns. Throws umbra::Error when the
/// file cannot be written.
class RecordWriter {
 public:
  explicit RecordWriter(const std::string& path);
  void Write(const Record& r);
  /// Writes the end record, flushes, closes and puts the file in place; errors (disk full) are
  /// reported here. Without it (an error on the way) nothing is left: the records go to a
  /// temporary (AtomicOutput).
  void Close();
  uint64_t bytes_written() const { return offset_; }

 private:
  AtomicOutput file_;
  uint64_t offset_ = 0;
  uint64_t count_ = 0;
};

/// Random access to the records of a file, umbra's or dmlc-core's (above). The constructor scans
/// the record headers (seeking over payloads) and throws umbra::Error naming the file and the
/// offset of a bad magic, an impossible length, a truncated record, or a missing or wrong end
/// record; Read() also checks the CRC. Not thread-safe: one reader per thread.
class RecordReader {
 public:
  explicit RecordReader(const std::string& path);
  size_t size() const { return offsets_.size(); }
  /// The i-th record (file order).
  Record Read(size_t i);
  /// The index of record i (what im2rec's list gave it), read from its header alone.
  uint64_t Index(size_t i);
  /// Byte offset of record i (for error messages).
  uint64_t offset(size_t i) const { return offsets_[i]; }
  const std::string& path() const { return path_; }
  /// Whether the file is dmlc-core's RecordIO (cxxnet's, mxnet's .rec).
  bool dmlc() const { return dmlc_; }

 private:
  void ScanDmlc();
  Record ReadDmlc(size_t i);

  std::string path_;
  std::ifstream in_;
  std::vector<uint64_t> offsets_;
  uint64_t size_ = 0;  // file size when opened
  bool dmlc_ = false;
};

}  // namespace umbra::io
