// The `threadbuffer` chained iterator: a background thread runs the base iterator ahead of the
// consumer and keeps up to buffer_size (default 2, at most 8) batches in a queue, so decoding and
// augmentation overlap training. The base is touched by the producer thread only while an epoch is
// running and by the consumer only while the producer is idle (Init, BeforeFirst), so the base
// needs no locking. An exception on the thread is handed to the consumer's Next(), after the
// batches produced before it. The destructor stops and joins the thread.
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "batch_copy.h"
#include "instance_iter.h"

namespace umbra::io {
namespace {

class ThreadBufferIterator : public DataIterator {
 public:
  explicit ThreadBufferIterator(std::unique_ptr<DataIterator> base) : base_(std::move(base)) {}
  ~ThreadBufferIterator() override {
    {
      std::lock_guard lk(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

  bool SetParam(const std::string& k, const std::string& v) override {
    if (IsKey(k, "buffer_size", "batches prepared ahead on the thread, in [1, 8] (default 2)")) {
      const long n = ParseInt(k, v);
      UMBRA_CHECK(!thread_.joinable(), "threadbuffer: buffer_size cannot change once the iterator runs");
      UMBRA_CHECK(n >= 1 && n <= 8, "threadbuffer: buffer_size must be in [1, 8], got ", n);
      buffer_ = int(n);
      return true;
    }
    return base_->SetParam(k, v);  // keys after `iter = threadbuffer` still configure the base
  }

  void Init() override {
    UMBRA_CHECK(!thread_.joinable(), "threadbuffer: Init called twice");
    base_->Init();
    slots_.resize(buffer_ + 1);  // buffer_ in flight plus the one the consumer is reading
    for (auto& s : slots_) s.CopyFrom(base_->Value());  // shapes are known after Init
    current_ = &slots_[0];
    for (int i = 1; i <= buffer_; ++i) free_.push_back(&slots_[i]);
    out_ = current_->View();
    thread_ = std::thread([this] { Produce(); });
    BeforeFirst();
  }

  void SetEpoch(uint64_t epoch) override { epoch_ = epoch; }

  void BeforeFirst() override {
    std::unique_lock lk(mu_);
    // Nothing consumed since the last start of this same epoch: the queue is already right.
    if (fresh_ && started_epoch_ == epoch_ && !done_) return;
    running_ = false;
    cv_.wait(lk, [&] { return !busy_; });
    for (OwnedBatch* s : ready_) free_.push_back(s);
    ready_.clear();
    done_ = false, fresh_ = false, err_ = nullptr;
    lk.unlock();  // the producer is idle: the base is ours
    try {
      base_->SetEpoch(epoch_);
      base_->BeforeFirst();
    } catch (...) {
      lk.lock();
      done_ = true, err_ = std::current_exception();
      throw;
    }
    lk.lock();
    running_ = true, fresh_ = true, started_epoch_ = epoch_;
    cv_.notify_all();
  }

  bool Next() override {
    std::unique_lock lk(mu_);
    cv_.wait(lk, [&] { return !ready_.empty() || done_; });
    fresh_ = false;
    if (ready_.empty()) {
      if (err_) std::rethrow_exception(err_);
      return false;
    }
    free_.push_back(current_);
    current_ = ready_.front();
    ready_.pop_front();
    cv_.notify_all();
    lk.unlock();
    out_ = current_->View();  // current_ belongs to the consumer until the next Next()
    return true;
  }

  const DataBatch& Value() const override { return out_; }
  std::string Locate(uint64_t index) const override { return base_->Locate(index); }
  // Beside the producer: a membuffer below reads its own base there, which nothing else does.
  std::string LeavesOut() override { return base_->LeavesOut(); }

 private:
  void Produce() {
    std::unique_lock lk(mu_);
    for (;;) {
      cv_.wait(lk, [&] { return stop_ || (running_ && !free_.empty()); });
      if (stop_) return;
      OwnedBatch* slot = free_.back();
      free_.pop_back();
      busy_ = true;
      lk.unlock();
      bool ok = false;
      std::exception_ptr err;
      try {
        ok = base_->Next();
        if (ok) slot->CopyFrom(base_->Value());
      } catch (...) {
        err = std::current_exception();
        ok = false;  // a copy that failed half-way is no batch: the error goes to the consumer
      }
      lk.lock();
      busy_ = false;
      if (ok) {
        ready_.push_back(slot);
      } else {
        free_.push_back(slot);
        running_ = false, done_ = true, err_ = err;
      }
      cv_.notify_all();
    }
  }

  std::unique_ptr<DataIterator> base_;
  int buffer_ = 2;
  uint64_t epoch_ = 0, started_epoch_ = 0;
  std::deque<OwnedBatch> slots_;
  OwnedBatch* current_ = nullptr;
  DataBatch out_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<OwnedBatch*> ready_;
  std::vector<OwnedBatch*> free_;
  bool stop_ = false, running_ = false, busy_ = false, done_ = false, fresh_ = false;
  std::exception_ptr err_;
  std::thread thread_;
};

const bool kRegistered = RegisterChain("threadbuffer", [](std::unique_ptr<DataIterator> base) {
  return std::unique_ptr<DataIterator>(new ThreadBufferIterator(std::move(base)));
});

}  // namespace
}  // namespace umbra::io
