// OwnedBatch: a deep copy of a DataBatch, for the chained iterators that keep batches beyond the
// base iterator's next call (threadbuffer's queue, membuffer's store).
#pragma once

#include "umbra/io/iterator.h"

namespace umbra::io {

struct OwnedBatch {
  TensorContainer<cpu, 4> data;
  TensorContainer<cpu, 2> label;
  index_t valid = 0;
  std::vector<uint64_t> index;

  void CopyFrom(const DataBatch& b) {
    data.Resize(b.data.shape_);
    label.Resize(b.label.shape_);
    Copy(Tensor<cpu, 4>(data), b.data);
    Copy(Tensor<cpu, 2>(label), b.label);
    valid = b.valid;
    index = b.index;
  }
  /// A view that stays valid while this object lives and is not copied into again.
  DataBatch View() const {
    DataBatch b;
    b.data = data.view(), b.label = label.view(), b.valid = valid, b.index = index;
    return b;
  }
};

}  // namespace umbra::io
