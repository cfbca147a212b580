// The `membuffer` chained iterator: Init() runs epoch 0 of the base and keeps its first
// max_nbatch batches (cxxnet's default 100; 0: all) in memory; each later epoch replays exactly
// those. As in cxxnet this freezes the data: shuffling and augmentation are those of epoch 0 for
// the whole run (SetEpoch is ignored), and what is kept must fit in memory. Useful for small
// data sets behind a slow decoder, or to train on a few batches (cxxnet's use: debugging).
#include <cstdio>
#include <deque>
#include <map>

#include "umbra/parse.h"

#include "batch_copy.h"
#include "instance_iter.h"

namespace umbra::io {
namespace {

class MemBufferIterator : public DataIterator {
 public:
  explicit MemBufferIterator(std::unique_ptr<DataIterator> base) : base_(std::move(base)) {}
  bool SetParam(const std::string& k, const std::string& v) override {
    if (IsKey(k, "max_nbatch", "batches kept and replayed (default 100, cxxnet's; 0: every batch of the epoch)")) {
      const long n = ParseInt(k, v);
      UMBRA_CHECK(n >= 0, "membuffer: max_nbatch must be at least 0 (0: every batch of the epoch), got ", n);
      max_nbatch_ = size_t(n), max_given_ = true;
      return true;
    }
    if (!base_->SetParam(k, v)) return false;
    // Keys whose randomness the replay freezes: noted at Init, since the README's users expect
    // a new order each round from shuffle = 1 (said only here until then).
    // Each is off at its default: 1 for the scales, 0 for the rest.
    const bool scale = k == "max_random_scale" || k == "min_random_scale" || k == "max_scale" || k == "min_scale";
    const bool random = scale || k == "shuffle" || k.starts_with("rand_") || k.starts_with("max_random_") ||
                        k == "max_rotate_angle" || k == "max_shear_ratio" || k == "max_aspect_ratio";
    const auto value = ParseReal(v);
    if (random) frozen_[k] = !(value && *value == (scale ? 1 : 0));
    if (k == "silent") silent_ = v != "0";
    return true;
  }
  void Init() override {
    std::string frozen;
    for (const auto& [k, on] : frozen_)
      if (on) frozen += (frozen.empty() ? "" : ", ") + k;
    if (!frozen.empty() && !silent_)
      std::fprintf(stderr, "note: membuffer replays epoch 0's batches every round (as cxxnet's), so the order and "
                   "images these keys draw are the same each round: %s; leave membuffer out for new ones\n",
                   frozen.c_str());
    base_->Init();
    base_->SetEpoch(0);
    base_->BeforeFirst();
    while ((max_nbatch_ == 0 || store_.size() < max_nbatch_) && base_->Next())
      store_.emplace_back().CopyFrom(base_->Value());
    UMBRA_CHECK(!store_.empty(), "membuffer: the base iterator gave no batches");
    // An epoch cut short trains on part of the data each round: said (cxxnet printed the count).
    // Without reading on to see whether more follow: a batch past the cap is never used, and
    // reading it would decode it for nothing, or fail on a bad image no round ever meets.
    if (store_.size() == max_nbatch_ && !silent_)
      std::fprintf(stderr, "note: membuffer keeps the epoch's first %zu batches (max_nbatch = %zu%s), and every "
                   "round uses those alone: any later ones go unused (max_nbatch = 0 keeps them all)\n", max_nbatch_,
                   max_nbatch_, max_given_ ? "" : ", cxxnet's default");
    out_ = store_.front().View();
    pos_ = 0;
  }
  void SetEpoch(uint64_t) override {}  // frozen on purpose: see the file comment
  void BeforeFirst() override { pos_ = 0; }
  bool Next() override {
    if (pos_ >= store_.size()) return false;
    out_ = store_[pos_++].View();
    return true;
  }
  const DataBatch& Value() const override { return out_; }
  std::string Locate(uint64_t index) const override { return base_->Locate(index); }
  // Whether the base has a batch past those kept is read here, once, where a one-pass task asks
  // (Init does not read on: see the note there).
  std::string LeavesOut() override {
    if (max_nbatch_ == 0 || store_.size() < max_nbatch_) return base_->LeavesOut();
    if (!read_on_) {
      read_on_ = true;
      try {
        more_ = base_->Next();
      } catch (const Error&) {  // a batch past the cap that cannot be read (an image): one is there
        more_ = true;
      }
    }
    if (!more_) return base_->LeavesOut();
    return "membuffer keeps the epoch's first " + std::to_string(max_nbatch_) + " batches (max_nbatch = " +
           std::to_string(max_nbatch_) + (max_given_ ? "" : ", cxxnet's default") + "), and more follow";
  }

 private:
  std::unique_ptr<DataIterator> base_;
  std::deque<OwnedBatch> store_;
  std::map<std::string, bool> frozen_;  // random keys given to the base: on or not
  bool silent_ = false, max_given_ = false, read_on_ = false, more_ = false;
  size_t max_nbatch_ = 100, pos_ = 0;
  DataBatch out_;
};

const bool kRegistered = RegisterChain("membuffer", [](std::unique_ptr<DataIterator> base) {
  return std::unique_ptr<DataIterator>(new MemBufferIterator(std::move(base)));
});

}  // namespace
}  // namespace umbra::io
