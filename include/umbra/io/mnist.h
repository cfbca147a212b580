// idx files (MNIST's format, plain or gzip): ReadIdx. The `mnist` iterator built on it lives in
// src/io/mnist_iter.cc. Errors name the file and what is wrong (missing, bad magic, truncated).
#pragma once

#include <zlib.h>

#include <cstdint>
#include <string>
#include <vector>

#include "umbra/tensor.h"

namespace umbra::io {

struct IdxData {
  std::vector<uint32_t> dims;
  std::vector<uint8_t> bytes;
};

/// Reads an unsigned-byte idx file, gzip-compressed or plain.
inline IdxData ReadIdx(const std::string& path) {
  gzFile f = gzopen(path.c_str(), "rb");
  UMBRA_CHECK(f != nullptr, "cannot open idx file '", path, "'");
  auto read = [&](void* dst, size_t n, const char* what) {
    const int got = gzread(f, dst, static_cast<unsigned>(n));
    if (got != static_cast<int>(n)) {
      gzclose(f);
      UMBRA_THROW("idx file '", path, "' is truncated: could not read ", what, " (wanted ", n,
                  " bytes, got ", got < 0 ? 0 : got, ")");
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
  for (int i = 0; i < magic[3]; ++i) {
    uint8_t b[4];
    read(b, 4, "a dimension");
    d.dims.push_back(uint32_t(b[0]) << 24 | uint32_t(b[1]) << 16 | uint32_t(b[2]) << 8 | b[3]);
    total *= d.dims.back();
  }
  d.bytes.resize(total);
  read(d.bytes.data(), total, "the data");
  gzclose(f);
  return d;
}

}  // namespace umbra::io
