// InstanceIterator: the batching shared by the csv, img and imgrec iterators. It owns the keys
// every base iterator has (batch_size, input_shape, label_width, shuffle, round_batch, seed), the
// per-epoch shuffle, and the padding of the last batch (iterator.h); a subclass only says how many
// instances there are and fills rows. Not used by mnist (older, self-contained).
#pragma once

#include <string>
#include <vector>

#include "umbra/io/iterator.h"

namespace umbra::io {

class InstanceIterator : public DataIterator {
 public:
  bool SetParam(const std::string& key, const std::string& value) override;
  // Init() stays with the subclass: it opens its data, then calls InitBatches().
  void SetEpoch(uint64_t epoch) override { epoch_ = epoch; }
  void BeforeFirst() override;
  bool Next() override;
  const DataBatch& Value() const override { return out_; }

 protected:
  /// One row to fill: the instance (data-set position), the row in the batch, and a seed for this
  /// row's augmentation that depends only on (seed, epoch, position in the epoch).
  struct Row {
    index_t instance, row;
    uint64_t seed;
  };
  /// Fills out_.data[r.row] (input_shape) and out_.label[r.row] (label_width) for every row; may
  /// run rows in parallel. Called once per batch.
  virtual void FillRows(const std::vector<Row>& rows) = 0;
  /// After the data is open: allocates the batch for n instances and starts epoch 0.
  void InitBatches(index_t n);
  /// The name in error messages ("csv iterator").
  virtual std::string Name() const = 0;

  Shape<3> shape_;  // input_shape (c, h, w); shape_[0] == 0 while unset
  int label_width_ = 1;
  index_t batch_ = 0;
  bool shuffle_ = false, silent_ = false, seed_data_ = false;  // seed_data_: given, the seed key leaves seed_
  uint64_t seed_ = 0, epoch_ = 0;
  DataBatch out_;

 private:
  index_t n_ = 0, pos_ = 0;
  std::vector<index_t> order_;
  TensorContainer<cpu, 4> x_;
  TensorContainer<cpu, 2> y_;
};

/// The position in its epoch's order of row `r` (pos + j) of a batch: r itself while r < n; the
/// last batch's filler rows (r >= n) take a window of the order that moves on by the filler's
/// length each epoch, so that over a run every instance is repeated about equally often, with
/// shuffle = 0 too (the window at the order's start repeated the same instances each epoch).
inline index_t FillerPosition(index_t r, index_t n, index_t batch, uint64_t epoch) {
  if (r < n) return r;
  const index_t fill = (n + batch - 1) / batch * batch - n;  // filler rows per epoch
  return index_t((epoch % uint64_t(n) * uint64_t(fill) + uint64_t(r - n)) % uint64_t(n));
}

/// A note when `batch` is more than the `n` instances of the data `name` says: each batch then
/// repeats them to fill its rows, and every row is computed (batch_size = 10^6 over 96 csv rows
/// took 18 s and 4.4 GB a round, for nothing a batch of 96 would not do).
void NoteIfBatchExceedsData(const std::string& name, index_t batch, index_t n);

/// Parses an integer (in an int's range; wide: a long's) / a float value of `key`, with an error
/// naming the key.
long ParseInt(const std::string& key, const std::string& value, bool wide = false);
float ParseFloat(const std::string& key, const std::string& value);
/// A switch (shuffle, rand_mirror, input_flat...): 0 or 1; shuffle = 2 was taken as 1 without a
/// word, where a typo for another key's value is likelier.
bool ParseSwitch(const std::string& key, const std::string& value);

}  // namespace umbra::io
