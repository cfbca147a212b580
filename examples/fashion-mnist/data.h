// Fashion-MNIST in memory for the examples, tests and benchmarks: images as (n, 1, 28, 28)
// scaled to [0, 1], labels as (n, 1). Reads Debian's dataset-fashion-mnist by default.
#pragma once

#include <string>

#include "umbra/io/mnist.h"
#include "umbra/tensor.h"

namespace examples {

inline const char* kFashionDir = "/usr/share/datasets/fashion-mnist";

struct DataSet {
  umbra::TensorContainer<umbra::cpu, 4> images;
  umbra::TensorContainer<umbra::cpu, 2> labels;
  umbra::index_t size() const { return images.size(0); }
};

/// prefix "train" or "t10k"; `limit` > 0 keeps the first `limit` examples.
inline DataSet LoadFashion(const std::string& dir, const std::string& prefix, umbra::index_t limit = 0) {
  using namespace umbra;
  const auto img = io::ReadIdx(dir + "/" + prefix + "-images-idx3-ubyte.gz");
  const auto lab = io::ReadIdx(dir + "/" + prefix + "-labels-idx1-ubyte.gz");
  UMBRA_CHECK(img.dims.size() == 3 && lab.dims.size() == 1 && img.dims[0] == lab.dims[0], "'", dir,
              "/", prefix, "': images and labels disagree on the number of examples");
  index_t n = img.dims[0];
  if (limit > 0 && limit < n) n = limit;
  DataSet s{TensorContainer<cpu, 4>(Shape4(n, 1, img.dims[1], img.dims[2])),
            TensorContainer<cpu, 2>(Shape2(n, 1))};
  const index_t d = index_t(img.dims[1]) * img.dims[2];
  for (index_t i = 0; i < n * d; ++i) s.images.dptr_[i] = img.bytes[i] / 255.0f;
  for (index_t i = 0; i < n; ++i) s.labels.dptr_[i] = lab.bytes[i];
  return s;
}

}  // namespace examples
