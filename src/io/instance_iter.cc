// Batching, shuffling and end-of-epoch padding for the base iterators (instance_iter.h).
#include "instance_iter.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdio>
#include <limits>
#include <numeric>

#include "umbra/parse.h"

namespace umbra::io {

long ParseInt(const std::string& key, const std::string& value, bool wide) {
  const auto v = ParseInteger(value);
  // Counts, sizes and switches: an int's range (wide: seeds, a long's), not a wrapped value.
  const bool fits = v && (wide ? *v >= LONG_MIN && *v <= LONG_MAX : *v >= INT_MIN && *v <= INT_MAX);
  UMBRA_CHECK(v || SpellsInteger(value), "iterator key ", key, " = '", value, "' is not an integer");
  UMBRA_CHECK(fits, "iterator key ", key, " = '", value, "' is out of range [", wide ? LONG_MIN : INT_MIN, ", ",
              wide ? LONG_MAX : INT_MAX, "]");
  return long(*v);
}
bool ParseSwitch(const std::string& key, const std::string& value) {
  const long v = ParseInt(key, value);
  UMBRA_CHECK(v == 0 || v == 1, "iterator key ", key, " = '", value, "' must be 0 or 1");
  return v == 1;
}
float ParseFloat(const std::string& key, const std::string& value) {
  const auto v = ParseReal(value);
  UMBRA_CHECK(v, "iterator key ", key, " = '", value, "' is not a number");
  UMBRA_CHECK(!SpellsHex(value), "iterator key ", key, " = '", value,
              "': hexadecimal is not read; write it in decimal");
  // nan, inf and 1e39 (inf as a float) made every input NaN, 0 or 255, with no error.
  UMBRA_CHECK(std::isfinite(float(*v)), "iterator key ", key, " = '", value, "' is not a finite float");
  UMBRA_CHECK(float(*v) != 0 || !SpellsNonzero(value), "iterator key ", key, " = '", value,
              "' is below what a float holds (it rounds to 0)");
  // Below the smallest normal float umbra's CPU arithmetic, which flushes denormals, takes it as
  // 0 (as the net's keys).
  UMBRA_CHECK(float(*v) == 0 || std::abs(float(*v)) >= std::numeric_limits<float>::min(), "iterator key ", key,
              " = '", value, "' is below 1.18e-38, which umbra's CPU arithmetic flushes to 0");
  return float(*v);
}

bool InstanceIterator::SetParam(const std::string& k, const std::string& v) {
  if (IsKey(k, "batch_size", "instances per batch (the global batch_size)")) batch_ = ParseInt(k, v);
  else if (IsKey(k, "input_shape", "c,h,w of one instance")) shape_ = ParseShape3(v, "input_shape");
  else if (IsKey(k, "label_width", "label values per instance (default 1)")) {
    label_width_ = int(ParseInt(k, v));
    // Here, where the error names the key's line: csv's Init reads rows with it before InitBatches
    // would say so (label_width = -1 came out as a column count of 5 against "-1 + 4 = 3").
    UMBRA_CHECK(label_width_ > 0, "label_width must be positive, got '", v, "'");
  }
  else if (IsKey(k, "shuffle", "1: a new order each epoch")) shuffle_ = ParseSwitch(k, v);
  else if (IsKey(k, "round_batch",
                 "accepted for cxxnet configs; changes nothing (an epoch's last batch is filled up from a "
                 "window of its order that moves on from epoch to epoch)"))
    ParseSwitch(k, v);  // a switch, as cxxnet's (7 was taken)
  else if (IsKey(k, "seed_data", "the seed of the order and augmentation (default: the global seed)"))
    seed_ = uint64_t(ParseInt(k, v, /*wide=*/true)), seed_data_ = true;
  // The global seed, wherever given, leaves a seed_data as it is (cxxnet's iterators ignored it).
  else if (IsKey(k, "seed", "the global seed (the data's unless seed_data is given)")) {
    const auto seed = uint64_t(ParseInt(k, v, /*wide=*/true));
    if (!seed_data_) seed_ = seed;
  }
  else if (IsKey(k, "silent", "1: no notes")) silent_ = ParseSwitch(k, v);
  else return false;
  return true;
}

void NoteIfBatchExceedsData(const std::string& name, index_t batch, index_t n) {
  if (batch <= n) return;
  std::fprintf(stderr,
               "note: %s holds %lld instances, fewer than batch_size = %lld: each batch repeats them to fill its "
               "rows (about %lld times), and computes every row\n",
               name.c_str(), static_cast<long long>(n), static_cast<long long>(batch),
               static_cast<long long>((batch + n / 2) / n));
}

void InstanceIterator::InitBatches(index_t n) {
  UMBRA_CHECK(batch_ > 0, Name(), ": batch_size must be positive, got ", batch_);
  UMBRA_CHECK(label_width_ > 0, Name(), ": label_width must be positive, got ", label_width_);
  UMBRA_CHECK(n > 0, Name(), " holds no instances");
  if (!silent_) NoteIfBatchExceedsData(Name(), batch_, n);
  n_ = n;
  order_.resize(n_);
  x_.Resize(Shape4(batch_, shape_[0], shape_[1], shape_[2]));
  y_.Resize(Shape2(batch_, label_width_));
  out_.data = x_.view(), out_.label = y_.view();
  out_.index.assign(batch_, 0);
  BeforeFirst();
}

void InstanceIterator::BeforeFirst() {
  pos_ = 0;
  std::iota(order_.begin(), order_.end(), 0);
  if (shuffle_) {
    Random<cpu> rnd(EpochSeed(seed_, epoch_));
    for (index_t i = n_ - 1; i > 0; --i) std::swap(order_[i], order_[rnd.NextU64() % (i + 1)]);
  }
}

bool InstanceIterator::Next() {
  if (pos_ >= n_) return false;
  // Augmentation seeds come from a stream separate from the shuffle's (the ~ keeps them apart).
  const uint64_t epoch_seed = EpochSeed(~seed_, epoch_);
  std::vector<Row> rows(batch_);
  for (index_t j = 0; j < batch_; ++j) {
    const index_t k = order_[FillerPosition(pos_ + j, n_, batch_, epoch_)];
    rows[j] = Row{k, j, EpochSeed(epoch_seed, uint64_t(pos_ + j))};
    out_.index[j] = uint64_t(k);
  }
  out_.valid = std::min(batch_, n_ - pos_);
  FillRows(rows);
  pos_ += batch_;
  return true;
}

}  // namespace umbra::io
