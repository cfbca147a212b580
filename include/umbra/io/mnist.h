// idx files (MNIST's format, plain or gzip): ReadIdx. The `mnist` iterator built on it lives in
// src/io/mnist_iter.cc. Errors name the file and what is wrong (missing, bad magic, truncated).
#pragma once

#include <zlib.h>

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

#include "umbra/regular_file.h"
#include "umbra/tensor.h"

namespace umbra::io {

struct IdxData {
  std::vector<uint32_t> dims;
  std::vector<uint8_t> bytes;
};

namespace detail {
// gzread failed: zlib's reason (a gzip checksum mismatch, a broken stream) with the file's name.
[[noreturn]] inline void Corrupt(gzFile f, const std::string& path) {
  int code = 0;
  const std::string why = gzerror(f, &code);
  gzclose(f);
  UMBRA_THROW("idx file '", path, "' is corrupt: ", why);
}

// Whether the file is gzip members one after another to its last byte: each inflated (the data
// dropped) and the next one starting where it ends. The slow, sure answer (a second inflate of
// the file) where the trailer check below cannot tell. "" where it is; else what is wrong: a
// member the file ends inside (a download cut short, whose data was whole but whose trailer
// was not, was said to go on after its data), or bytes that are no member.
inline std::string GzipMembersProblem(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  z_stream zs{};
  if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) return "cannot be inflated (zlib)";
  std::vector<unsigned char> buf(size_t(1) << 16), out(size_t(1) << 16);
  bool ended = false;  // the last inflate finished a member
  bool junk = false;   // an inflate failed: no gzip header, broken data, or a checksum
  uint64_t read = 0, member_end = 0;  // bytes read; the offset after the last whole member
  for (;;) {
    if (zs.avail_in == 0) {
      in.read(reinterpret_cast<char*>(buf.data()), std::streamsize(buf.size()));
      if (in.gcount() == 0) break;
      zs.next_in = buf.data(), zs.avail_in = uInt(in.gcount());
      read += uint64_t(in.gcount());
    }
    if (ended && inflateReset(&zs) != Z_OK) {  // bytes follow a member: they must be another
      junk = true;
      break;
    }
    zs.next_out = out.data(), zs.avail_out = uInt(out.size());
    const int rc = inflate(&zs, Z_NO_FLUSH);
    if (rc != Z_OK && rc != Z_STREAM_END) {
      junk = true;
      break;
    }
    ended = rc == Z_STREAM_END;
    if (ended) member_end = read - zs.avail_in;
  }
  inflateEnd(&zs);
  // Ended inside a member: the first, or one that starts as gzip does (1f 8b); bytes after a
  // whole member that do not ("x") are no member.
  bool gzip_after = member_end == 0;
  if (!junk && !ended && member_end > 0) {
    std::ifstream again(path, std::ios::binary);
    char magic[2] = {};
    again.seekg(std::streamoff(member_end));
    gzip_after = again.read(magic, 2) && magic[0] == '\x1f' && magic[1] == '\x8b';
  }
  if (junk || (!ended && !gzip_after))
    return "goes on after its gzip data (bytes that are no gzip member follow the last one)";
  if (!ended) return "is truncated: the file ends inside a gzip member (a download cut short?)";
  return {};
}

// gzread skips whatever follows a gzip file's last member. Fast check: the file's last 8 bytes are
// the trailer of a member that ends the content read (the CRC-32 and the size mod 2^32 of its
// data). Where they are not, or name an empty member (a BGZF end marker, or zero padding), the
// members are walked to the file's end. `head` and `data`: the content, in order.
inline void CheckGzipEnd(const std::string& path, const std::string& head, const std::vector<uint8_t>& data) {
  std::ifstream in(path, std::ios::binary);
  uint8_t t[8] = {};
  in.seekg(-8, std::ios::end);
  in.read(reinterpret_cast<char*>(t), 8);
  const auto le32 = [&](int at) {
    return uint32_t(t[at]) | uint32_t(t[at + 1]) << 8 | uint32_t(t[at + 2]) << 16 | uint32_t(t[at + 3]) << 24;
  };
  const auto crc = [](uLong c, const uint8_t* p, uint64_t n) {  // crc32 takes 32-bit lengths
    for (uint64_t at = 0; at < n; at += uint64_t(1) << 30)
      c = crc32(c, p + at, uInt(std::min<uint64_t>(n - at, uint64_t(1) << 30)));
    return c;
  };
  const uint64_t total = head.size() + data.size(), wrap = uint64_t(1) << 32;
  bool fits = false;
  for (uint64_t len = le32(4); in && !fits && len > 0 && len <= total; len += wrap) {  // the last member's size
    const uint64_t from = total - len;  // where its data starts in the content
    uLong c = crc32(0, nullptr, 0);
    if (from < head.size()) c = crc(c, reinterpret_cast<const uint8_t*>(head.data()) + from, head.size() - from);
    const uint64_t skip = from > head.size() ? from - head.size() : 0;
    fits = uint32_t(crc(c, data.data() + skip, data.size() - skip)) == le32(0);
  }
  const std::string problem = fits ? std::string() : GzipMembersProblem(path);
  UMBRA_CHECK(problem.empty(), "idx file '", path, "' ", problem);
}
}  // namespace detail

/// Reads an unsigned-byte idx file, gzip-compressed or plain, to its end.
inline IdxData ReadIdx(const std::string& path) {
  CheckRegularFile(path, "idx file");
  gzFile f = gzopen(path.c_str(), "rb");
  UMBRA_CHECK(f != nullptr, "cannot open idx file '", path, "'");
  // gzread takes an unsigned count and returns an int: read in pieces well under INT_MAX. A
  // piece of a larger whole (the data) says the whole's size: `before` of `whole` bytes are in.
  auto read = [&](void* dst, size_t n, const char* what, size_t before = 0, size_t whole = 0) {
    size_t done = 0;
    while (done < n) {
      const unsigned want = unsigned(std::min<size_t>(n - done, size_t(1) << 26));
      const int got = gzread(f, static_cast<char*>(dst) + done, want);
      if (got < 0) detail::Corrupt(f, path);
      if (got == 0) {
        gzclose(f);
        UMBRA_THROW("idx file '", path, "' is truncated: could not read ", what, " (wanted ", whole ? whole : n,
                    " bytes, got ", before + done, ")");
      }
      done += size_t(got);
    }
  };
  uint8_t magic[4];
  read(magic, 4, "the magic number");
  if (magic[0] != 0 || magic[1] != 0 || magic[2] != 0x08 || magic[3] < 1 || magic[3] > 4) {
    gzclose(f);
    UMBRA_THROW("'", path, "' is not an unsigned-byte idx file (bad magic number)");
  }
  IdxData d;
  size_t total = 1;
  std::string head(reinterpret_cast<const char*>(magic), 4);  // the content before the data
  for (int i = 0; i < magic[3]; ++i) {
    uint8_t b[4];
    read(b, 4, "a dimension");
    head.append(reinterpret_cast<const char*>(b), 4);
    d.dims.push_back(uint32_t(b[0]) << 24 | uint32_t(b[1]) << 16 | uint32_t(b[2]) << 8 | b[3]);
    // Bounded as it is multiplied: 2^22 x 2^21 x 2^21 wrapped to 0 (a file "complete" with no
    // data), and a wrap to a small size let batches read past the data.
    if (d.dims.back() != 0 && total > (size_t(1) << 40) / d.dims.back()) {
      gzclose(f);
      UMBRA_THROW("idx file '", path, "': its header's dimensions multiply to more than 2^40 bytes (a corrupt header)");
    }
    total *= d.dims.back();
  }
  // The header's claim is not trusted with memory: grow as data arrives, so a corrupt header
  // gives "truncated" instead of an allocation failure.
  for (size_t at = 0; at < total;) {
    const size_t step = std::min<size_t>(total - at, size_t(64) << 20);
    d.bytes.resize(at + step);
    read(d.bytes.data() + at, step, "the data its header gives", at, total);
    at += step;
  }
  // To the end: a gzip file's checksum is checked only there, and bytes after the data mean a
  // header that does not describe the file.
  uint8_t extra[4096];
  const int more = gzread(f, extra, sizeof extra);
  int code = Z_OK;
  gzerror(f, &code);
  // Z_BUF_ERROR: the stream ended before its trailer (the checksum was never compared).
  if (more < 0 || code == Z_BUF_ERROR) detail::Corrupt(f, path);
  if (more > 0) {
    gzclose(f);
    UMBRA_THROW("idx file '", path, "' goes on after the ", total, " data bytes its header gives (a header that does "
                "not fit the file)");
  }
  const bool gzip = gzdirect(f) == 0;  // read through zlib's inflate, not as the plain file
  gzclose(f);
  if (gzip) detail::CheckGzipEnd(path, head, d.bytes);
  return d;
}

}  // namespace umbra::io
