// The `mnist` iterator: idx files of images and labels, as cxxnet read them (keys path_img,
// path_label, input_flat, shuffle, seed_data). Images are scaled to [0, 1]; input_flat = 1 gives
// (N, 1, 1, H*W), 0 gives (N, 1, H, W). Padding and epochs as iterator.h says.
#include <algorithm>
#include <numeric>
#include <utility>

#include "umbra/io/iterator.h"
#include "umbra/io/mnist.h"
#include "instance_iter.h"  // ParseInt, NoteIfBatchExceedsData

namespace umbra::io {
namespace {

class MnistIterator : public DataIterator {
 public:
  bool SetParam(const std::string& k, const std::string& v) override {
    if (IsKey(k, "path_img", "idx file of the images (.gz too)")) path_img_ = v;
    else if (IsKey(k, "path_label", "idx file of the labels (.gz too)")) path_label_ = v;
    else if (IsKey(k, "input_flat", "1: each image as a vector (1, 1, h*w); 0: (1, h, w)"))
      flat_ = ParseSwitch(k, v);
    else if (IsKey(k, "shuffle", "1: a new order each epoch")) shuffle_ = ParseSwitch(k, v);
    else if (IsKey(k, "seed_data", "the seed of the order (default: the global seed)"))
      seed_ = uint64_t(ParseInt(k, v, /*wide=*/true)), seed_data_ = true;
    // The global seed, wherever given, leaves a seed_data as it is (cxxnet's iterators ignored it).
    else if (IsKey(k, "seed", "the global seed (the data's unless seed_data is given)")) {
      const auto seed = uint64_t(ParseInt(k, v, /*wide=*/true));
      if (!seed_data_) seed_ = seed;
    }
    else if (IsKey(k, "batch_size", "instances per batch (the global batch_size)")) batch_ = ParseInt(k, v);
    else if (IsKey(k, "round_batch",
                   "accepted for cxxnet configs; changes nothing (an epoch's last batch is filled up from a "
                   "window of its order that moves on from epoch to epoch)"))
      ParseSwitch(k, v);  // a switch, as cxxnet's (7 was taken)
    else if (IsKey(k, "silent", "1: no notes")) silent_ = ParseSwitch(k, v);
    else return false;
    return true;
  }
  void Init() override {
    UMBRA_CHECK(!path_img_.empty() && !path_label_.empty(), "mnist iterator needs path_img and path_label");
    UMBRA_CHECK(batch_ > 0, "mnist iterator: batch_size must be positive, got ", batch_);
    IdxData img = ReadIdx(path_img_), lab = ReadIdx(path_label_);
    UMBRA_CHECK(img.dims.size() == 3, "'", path_img_, "' is not an image file (", img.dims.size(), " dimensions)");
    UMBRA_CHECK(lab.dims.size() == 1, "'", path_label_, "' is not a label file");
    UMBRA_CHECK(img.dims[0] == lab.dims[0], "'", path_img_, "' has ", img.dims[0], " images but '", path_label_,
                "' has ", lab.dims[0], " labels");
    UMBRA_CHECK(img.dims[0] > 0, "'", path_img_, "' holds no images");
    n_ = img.dims[0], h_ = img.dims[1], w_ = img.dims[2];
    if (!silent_) NoteIfBatchExceedsData("mnist iterator ('" + path_img_ + "')", batch_, n_);
    images_ = std::move(img.bytes);  // not copied: 47 MB for Fashion-MNIST's training set
    labels_ = std::move(lab.bytes);
    order_.resize(n_);
    x_.Resize(flat_ ? Shape4(batch_, 1, 1, h_ * w_) : Shape4(batch_, 1, h_, w_));
    y_.Resize(Shape2(batch_, 1));
    out_.data = x_.view(), out_.label = y_.view();
    out_.index.resize(batch_);
    BeforeFirst();
  }
  void SetEpoch(uint64_t epoch) override { epoch_ = epoch; }
  void BeforeFirst() override {
    pos_ = 0;
    std::iota(order_.begin(), order_.end(), 0);
    if (shuffle_) {
      Random<cpu> rnd(EpochSeed(seed_, epoch_));
      for (index_t i = n_ - 1; i > 0; --i) std::swap(order_[i], order_[rnd.NextU64() % (i + 1)]);
    }
  }
  bool Next() override {
    if (pos_ >= n_) return false;
    const index_t d = h_ * w_;
    out_.valid = std::min(batch_, n_ - pos_);
    for (index_t j = 0; j < batch_; ++j) {
      const index_t k = order_[FillerPosition(pos_ + j, n_, batch_, epoch_)];
      for (index_t p = 0; p < d; ++p) x_.dptr_[j * d + p] = images_[k * d + p] / 255.0f;
      y_.dptr_[j] = labels_[k];
      out_.index[j] = uint64_t(k);
    }
    pos_ += batch_;
    return true;
  }
  const DataBatch& Value() const override { return out_; }
  std::string Locate(uint64_t index) const override {
    return "'" + path_label_ + "'";  // the instance's number is said beside it
  }

 private:
  std::string path_img_, path_label_;
  bool flat_ = true, shuffle_ = false, silent_ = false, seed_data_ = false;
  uint64_t seed_ = 0, epoch_ = 0;
  index_t n_ = 0, h_ = 0, w_ = 0, batch_ = 0, pos_ = 0;
  std::vector<uint8_t> images_, labels_;
  std::vector<index_t> order_;
  TensorContainer<cpu, 4> x_;
  TensorContainer<cpu, 2> y_;
  DataBatch out_;
};

const bool kRegistered = RegisterIterator("mnist", [] { return std::unique_ptr<DataIterator>(new MnistIterator()); });

}  // namespace
}  // namespace umbra::io
