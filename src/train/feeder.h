// Feeder: batches of a DataIterator on the device that trains on them. On the cpu it is the
// iterator's own batch. On the gpu it double-buffers: while the device works on batch i, batch
// i+1 is already copied from pinned host memory into the other device buffer on a separate
// copy stream (cudaMemcpyAsync from pinned memory really is asynchronous), so the host-to-device
// transfer overlaps compute. Ordering, all with events and no host wait in the common case:
//   - compute waits for the copy of the batch it is handed (cudaStreamWaitEvent on its stream);
//   - a copy into a device buffer waits until compute has finished with the batch it held;
//   - the host refills a pinned buffer only after that buffer's previous copy has finished.
// host() is a host-side view of the current batch (labels, valid rows, instance indices) for
// metrics and pred output; the iterator itself has already moved on.
#pragma once

#include <cstring>
#include <type_traits>
#include <vector>

#include "umbra/io/iterator.h"
#include "umbra/tensor.h"

namespace umbra::train {

template <typename xpu>
class Feeder {
 public:
  explicit Feeder(io::DataIterator* it) : it_(it) {}
  Feeder(const Feeder&) = delete;
  Feeder& operator=(const Feeder&) = delete;
  ~Feeder() { Release(); }

  /// Starts a pass (after the iterator's BeforeFirst).
  void Start() {
#if defined(UMBRA_USE_CUDA) && UMBRA_USE_CUDA
    if constexpr (!std::is_same_v<xpu, cpu>) {
      // The last batch of the previous pass is done with once the work queued so far is.
      for (Slot& s : slot_)
        if (s.in_use) {
          UMBRA_CUDA_CHECK(cudaEventRecord(s.done, cuda::DefaultStream()));
          s.in_use = false;
        }
    }
#endif
    started_ = false;
    has_next_ = false;
    pulled_ = 0;
    in_iterator_ = false;
  }
  /// Makes the next batch current; false at the end of the pass.
  bool Next() {
    if constexpr (std::is_same_v<xpu, cpu>) {
      if (!Pull()) return false;
      host_ = it_->Value();
      data_ = host_.data, label_ = host_.label;
      return true;
    } else {
#if defined(UMBRA_USE_CUDA) && UMBRA_USE_CUDA
      if (!started_) {
        started_ = true;
        has_next_ = Fetch(0);
        cur_ = 1;  // so that the swap below makes slot 0 current
      }
      if (!has_next_) return false;
      // The batch in the other slot becomes current; compute must see its copy complete.
      if (slot_[cur_].in_use) {
        UMBRA_CUDA_CHECK(cudaEventRecord(slot_[cur_].done, cuda::DefaultStream()));  // compute's last use of it
        slot_[cur_].in_use = false;
      }
      cur_ ^= 1;
      Slot& s = slot_[cur_];
      UMBRA_CUDA_CHECK(cudaStreamWaitEvent(cuda::DefaultStream(), s.copied, 0));
      s.in_use = true;
      host_ = s.host;
      data_ = s.x.view(), label_ = s.y.view();
      // Start the following batch's copy now, so it overlaps the work on this one.
      has_next_ = Fetch(cur_ ^ 1);
      return true;
#else
      return false;
#endif
    }
  }
  const Tensor<xpu, 4>& data() const { return data_; }
  const Tensor<xpu, 2>& label() const { return label_; }
  const io::DataBatch& host() const { return host_; }
  /// Whether the last exception came from the iterator (an image it could not decode), not the
  /// device, and which batch of the pass (from 1) it was reading: on the gpu the iterator runs a
  /// batch ahead of the one that Next makes current.
  bool in_iterator() const { return in_iterator_; }
  long pulled() const { return pulled_; }

 private:
#if defined(UMBRA_USE_CUDA) && UMBRA_USE_CUDA
  struct Slot {
    float* pinned_x = nullptr;  // pinned host staging of data and labels
    float* pinned_y = nullptr;
    size_t nx = 0, ny = 0;
    TensorContainer<gpu, 4> x;
    TensorContainer<gpu, 2> y;
    io::DataBatch host;        // host view: data in pinned memory, labels, valid, index
    cudaEvent_t copied = nullptr, done = nullptr;
    bool in_use = false, ever_copied = false, ever_used = false;
  };
  // Pulls the iterator's next batch into slot k and starts its copy; false at the end.
  bool Fetch(int k) {
    if (!Pull()) return false;
    const io::DataBatch& b = it_->Value();
    Slot& s = slot_[k];
    if (!stream_) UMBRA_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
    if (!s.copied) {
      UMBRA_CUDA_CHECK(cudaEventCreateWithFlags(&s.copied, cudaEventDisableTiming));
      UMBRA_CUDA_CHECK(cudaEventCreateWithFlags(&s.done, cudaEventDisableTiming));
    }
    const size_t nx = size_t(b.data.shape_.Size()), ny = size_t(b.label.shape_.Size());
    // The pinned buffers may still be the source of this slot's previous copy.
    if (s.ever_copied) UMBRA_CUDA_CHECK(cudaEventSynchronize(s.copied));
    if (nx != s.nx || ny != s.ny) {
      if (s.pinned_x) cudaFreeHost(s.pinned_x);
      if (s.pinned_y) cudaFreeHost(s.pinned_y);
      UMBRA_CUDA_CHECK(cudaHostAlloc(reinterpret_cast<void**>(&s.pinned_x), nx * sizeof(float), cudaHostAllocDefault));
      UMBRA_CUDA_CHECK(cudaHostAlloc(reinterpret_cast<void**>(&s.pinned_y), ny * sizeof(float), cudaHostAllocDefault));
      s.nx = nx, s.ny = ny;
      s.x.Resize(b.data.shape_);
      s.y.Resize(b.label.shape_);
      // The caching allocator may hand out a block that work queued on the compute stream is
      // still using (it was freed there): the copy stream starts after that work.
      if (!alloc_) UMBRA_CUDA_CHECK(cudaEventCreateWithFlags(&alloc_, cudaEventDisableTiming));
      UMBRA_CUDA_CHECK(cudaEventRecord(alloc_, cuda::DefaultStream()));
      UMBRA_CUDA_CHECK(cudaStreamWaitEvent(stream_, alloc_, 0));
    }
    // Iterator batches are contiguous (TensorContainers of exactly the batch shape).
    UMBRA_CHECK(b.data.CheckContiguous() && b.label.CheckContiguous(), "feeder: the iterator's batch is strided");
    std::memcpy(s.pinned_x, b.data.dptr_, nx * sizeof(float));
    std::memcpy(s.pinned_y, b.label.dptr_, ny * sizeof(float));
    s.host = b;
    s.host.data = Tensor<cpu, 4>(s.pinned_x, b.data.shape_);
    s.host.label = Tensor<cpu, 2>(s.pinned_y, b.label.shape_);
    // The device buffers may still be read by the compute that used this slot last.
    if (s.ever_used) UMBRA_CUDA_CHECK(cudaStreamWaitEvent(stream_, s.done, 0));
    UMBRA_CUDA_CHECK(cudaMemcpyAsync(s.x.dptr_, s.pinned_x, nx * sizeof(float), cudaMemcpyHostToDevice, stream_));
    UMBRA_CUDA_CHECK(cudaMemcpyAsync(s.y.dptr_, s.pinned_y, ny * sizeof(float), cudaMemcpyHostToDevice, stream_));
    UMBRA_CUDA_CHECK(cudaEventRecord(s.copied, stream_));
    s.ever_copied = s.ever_used = true;
    return true;
  }
  void Release() {
    // The device buffers go back to the allocator for the compute stream to reuse: let queued
    // copies and compute finish first (a destructor: errors are not thrown).
    if (stream_) cudaStreamSynchronize(stream_);
    cudaStreamSynchronize(cuda::DefaultStream());
    if (alloc_) cudaEventDestroy(alloc_);
    for (Slot& s : slot_) {
      if (s.ever_copied) cudaEventSynchronize(s.copied);
      if (s.pinned_x) cudaFreeHost(s.pinned_x);
      if (s.pinned_y) cudaFreeHost(s.pinned_y);
      if (s.copied) cudaEventDestroy(s.copied);
      if (s.done) cudaEventDestroy(s.done);
    }
    if (stream_) cudaStreamDestroy(stream_);
  }
  Slot slot_[2];
  cudaStream_t stream_ = nullptr;
  cudaEvent_t alloc_ = nullptr;
  int cur_ = 0;
#else
  void Release() {}
#endif
  // The iterator's next batch; in_iterator_ stays set where it throws.
  bool Pull() {
    ++pulled_;
    in_iterator_ = true;
    const bool more = it_->Next();
    in_iterator_ = false;
    return more;
  }
  io::DataIterator* it_;
  long pulled_ = 0;
  bool in_iterator_ = false;
  bool started_ = false, has_next_ = false;
  io::DataBatch host_;
  Tensor<xpu, 4> data_;
  Tensor<xpu, 2> label_;
};

}  // namespace umbra::train
