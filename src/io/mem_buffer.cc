// The `membuffer` chained iterator: Init() runs one epoch of the base (epoch 0) and keeps every
// batch in memory; each later epoch replays exactly those batches. As in cxxnet this freezes the
// data: shuffling and augmentation are those of epoch 0 for the whole run (SetEpoch is ignored),
// and the whole epoch must fit in memory. Useful for small data sets behind a slow decoder.
#include <deque>

#include "batch_copy.h"

namespace umbra::io {
namespace {

class MemBufferIterator : public DataIterator {
 public:
  explicit MemBufferIterator(std::unique_ptr<DataIterator> base) : base_(std::move(base)) {}
  bool SetParam(const std::string& k, const std::string& v) override { return base_->SetParam(k, v); }
  void Init() override {
    base_->Init();
    base_->SetEpoch(0);
    base_->BeforeFirst();
    while (base_->Next()) store_.emplace_back().CopyFrom(base_->Value());
    UMBRA_CHECK(!store_.empty(), "membuffer: the base iterator gave no batches");
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

 private:
  std::unique_ptr<DataIterator> base_;
  std::deque<OwnedBatch> store_;
  size_t pos_ = 0;
  DataBatch out_;
};

const bool kRegistered = RegisterChain("membuffer", [](std::unique_ptr<DataIterator> base) {
  return std::unique_ptr<DataIterator>(new MemBufferIterator(std::move(base)));
});

}  // namespace
}  // namespace umbra::io
