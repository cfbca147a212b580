// The `mnist` data iterator: idx files (plain or gzip) of images and labels, as cxxnet read them
// (keys path_img, path_label, input_flat, shuffle). Images are scaled to [0, 1]; input_flat = 1
// gives (N, 1, 1, H*W), 0 gives (N, 1, H, W). Batches cover every instance: the last one is
// padded by wrapping to the start and reports how many rows are real, so evaluation counts each
// instance once. Errors name the file and what is wrong (missing, bad magic, truncated, counts).
#pragma once

#include <zlib.h>

#include <algorithm>
#include <cstdint>
#include <numeric>
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

class MnistIterator {
 public:
  /// Sets a key; false when it is not an mnist key.
  bool SetParam(const std::string& k, const std::string& v) {
    if (k == "path_img") path_img_ = v;
    else if (k == "path_label") path_label_ = v;
    else if (k == "input_flat") flat_ = v != "0";
    else if (k == "shuffle") shuffle_ = v != "0";
    else if (k == "seed_data") seed_ = std::stoull(v);
    else return false;
    return true;
  }
  void Init(index_t batch) {
    UMBRA_CHECK(!path_img_.empty() && !path_label_.empty(), "mnist iterator needs path_img and path_label");
    const IdxData img = ReadIdx(path_img_), lab = ReadIdx(path_label_);
    UMBRA_CHECK(img.dims.size() == 3, "'", path_img_, "' is not an image file (", img.dims.size(), " dimensions)");
    UMBRA_CHECK(lab.dims.size() == 1, "'", path_label_, "' is not a label file");
    UMBRA_CHECK(img.dims[0] == lab.dims[0], "'", path_img_, "' has ", img.dims[0], " images but '", path_label_,
                "' has ", lab.dims[0], " labels");
    n_ = img.dims[0], h_ = img.dims[1], w_ = img.dims[2];
    images_.assign(img.bytes.begin(), img.bytes.end());
    labels_.assign(lab.bytes.begin(), lab.bytes.end());
    batch_ = batch;
    order_.resize(n_);
    std::iota(order_.begin(), order_.end(), 0);
    rnd_.Seed(seed_);
    x_.Resize(flat_ ? Shape4(batch, 1, 1, h_ * w_) : Shape4(batch, 1, h_, w_));
    y_.Resize(Shape2(batch, 1));
    BeforeFirst();
  }
  /// Starts an epoch (reshuffles when shuffle = 1).
  void BeforeFirst() {
    pos_ = 0;
    if (shuffle_)
      for (index_t i = n_ - 1; i > 0; --i) std::swap(order_[i], order_[rnd_.NextU64() % (i + 1)]);
  }
  /// Fills the next batch; false at the end of the epoch. valid() tells the real rows.
  bool Next() {
    if (pos_ >= n_) return false;
    const index_t d = h_ * w_;
    valid_ = std::min(batch_, n_ - pos_);
    for (index_t j = 0; j < batch_; ++j) {
      const index_t k = order_[(pos_ + j) % n_];  // the last batch wraps around
      for (index_t p = 0; p < d; ++p) x_.dptr_[j * d + p] = images_[k * d + p] / 255.0f;
      y_.dptr_[j] = labels_[k];
    }
    pos_ += batch_;
    return true;
  }
  const Tensor<cpu, 4>& data() const { return x_.view(); }
  const Tensor<cpu, 2>& label() const { return y_.view(); }
  index_t valid() const { return valid_; }
  Shape<3> InstanceShape() const { return flat_ ? Shape3(1, 1, h_ * w_) : Shape3(1, h_, w_); }
  index_t size() const { return n_; }

 private:
  std::string path_img_, path_label_;
  bool flat_ = true, shuffle_ = false;
  uint64_t seed_ = 0;
  index_t n_ = 0, h_ = 0, w_ = 0, batch_ = 0, pos_ = 0, valid_ = 0;
  std::vector<uint8_t> images_, labels_;
  std::vector<index_t> order_;
  Random<cpu> rnd_;
  TensorContainer<cpu, 4> x_;
  TensorContainer<cpu, 2> y_;
};

}  // namespace umbra::io
