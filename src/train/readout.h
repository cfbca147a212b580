// What a training or evaluation pass reads back from the device, and when. Issue 5 asks for no
// wait inside a training step but where a value must reach the host, and fewer with print_step:
//   - LossWindow: each step's loss. On the cpu it is read at once. On the gpu the device reduces
//     it into the step's own slot of a buffer (Net::LossTo), and the host reads a whole window
//     of steps (print_step, when the progress line is due) in one copy and one wait. Every step
//     is still checked and counted, so a NaN loss names its own batch, found up to a window late.
//   - MetricSet: the metrics' predictions. On the gpu each batch's output is copied
//     asynchronously into pinned host memory and scored when the pass reads the window (or when
//     the pending copies pass 64 MiB).
//   - LaggedRows: pred/extract's output rows, a batch behind on the gpu: the host writes batch
//     i - 1 while the device computes batch i.
// On the gpu both run on the thread's compute stream, in order with the steps that produce them.
#pragma once

#include <algorithm>
#include <cstring>
#include <functional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "src/train/job.h"
#include "umbra/io/iterator.h"
#include "umbra/nn/metric.h"
#include "umbra/nn/net.h"

namespace umbra::train {

#if defined(UMBRA_USE_CUDA) && UMBRA_USE_CUDA
/// Pinned host memory (a copy into pageable memory would make the host wait), kept for the whole
/// run: allocating and freeing it costs far more than a copy, and cudaFreeHost waits for the
/// device. Its owner waits for the copies into it before it is destroyed or grown.
class PinnedBuffer {
 public:
  PinnedBuffer() = default;
  PinnedBuffer(PinnedBuffer&& o) noexcept : p_(std::exchange(o.p_, nullptr)), capacity_(std::exchange(o.capacity_, 0)) {}
  PinnedBuffer& operator=(PinnedBuffer&&) = delete;
  ~PinnedBuffer() {
    if (p_) cudaFreeHost(p_);
  }
  /// At least n floats (the contents are lost when it grows).
  float* Reserve(size_t n) {
    if (capacity_ < n) {
      if (p_) UMBRA_CUDA_CHECK(cudaFreeHost(p_));
      p_ = nullptr, capacity_ = 0;
      UMBRA_CUDA_CHECK(cudaHostAlloc(reinterpret_cast<void**>(&p_), n * sizeof(float), cudaHostAllocDefault));
      capacity_ = n;
    }
    return p_;
  }
  size_t capacity() const { return capacity_; }

 private:
  float* p_ = nullptr;
  size_t capacity_ = 0;
};

/// Queues the copy of device matrix `m` into `dst` on m's stream; the view returned holds it once
/// the stream is past the copy.
inline Tensor<cpu, 2> QueueCopy(float* dst, const Tensor<gpu, 2>& m, const char* reader) {
  UMBRA_CHECK(m.stride_ == m.shape_[1], reader, " read a strided output ", m.shape_);
  UMBRA_CUDA_CHECK(cudaMemcpyAsync(dst, m.dptr_, size_t(m.shape_.Size()) * sizeof(float), cudaMemcpyDeviceToHost,
                                   Stream<gpu>::GetStream(m.stream_)));
  return Tensor<cpu, 2>(dst, m.shape_);
}
#endif

template <typename xpu>
class LossWindow {
 public:
  /// `window`: steps read together on the gpu (at least 1, at most 65,536); the cpu reads each.
  explicit LossWindow(long window)
      : window_(std::is_same_v<xpu, cpu> ? 1 : std::clamp<long>(window, 1, 65536)) {}
  /// The loss of the step just queued.
  void Add(nn::Net<xpu>& net) {
    if constexpr (std::is_same_v<xpu, cpu>) {
      host_.push_back(net.Loss());
    } else {
      if (!slots_.dptr_) slots_.Resize(Shape1(index_t(window_)));
      net.LossTo(slots_.view().Slice(index_t(pending_), index_t(pending_ + 1)));
    }
    ++pending_, ++steps_;
  }
  /// True when the window is full: read it before the next Add. Counted in steps since the
  /// window began, so that a read within it (Read(true): a metric set's 64 MiB) leaves its end
  /// where it was, in step with the progress lines.
  bool Full() const { return steps_ >= window_; }
  /// The pending losses in step order (on the gpu one copy, and the host waits for the device).
  /// `within`: a read inside the window, which goes on to its end.
  const std::vector<double>& Read(bool within = false) {
    if constexpr (!std::is_same_v<xpu, cpu>) {
      host_.clear();
      if (pending_ > 0) {
        TensorContainer<cpu, 1> h(Shape1(index_t(pending_)));
        CopyToHost(h.view(), slots_.view().Slice(0, index_t(pending_)));
        for (index_t i = 0; i < index_t(pending_); ++i) host_.push_back(double(h.dptr_[i]));
      }
    }
    read_ = host_;
    host_.clear();
    pending_ = 0;
    if (!within) steps_ = 0;
    return read_;
  }

 private:
  long window_, pending_ = 0, steps_ = 0;  // steps_: of this window, read or not
  TensorContainer<xpu, 1> slots_;
  std::vector<double> host_, read_;
};

/// Metrics of a pass, named as cxxnet printed them (test-error, train-rec@5); one set serves a
/// run's passes (Clear starts a pass). On the gpu, Add only queues copies, into pinned chunks of
/// at least 256 KiB used in order and kept from window to window; Read scores them (call it before
/// Report).
template <typename xpu>
class MetricSet {
 public:
  /// `label_width` and `where`: of the block whose data the set scores (-1 and "" if unknown).
  /// `locate`: where an instance comes from (the block's iterator's Locate), for errors.
  MetricSet(const std::vector<MetricSpec>& s, const nn::Net<xpu>& net, index_t label_width = -1,
            const std::string& where = "", const std::function<std::string(uint64_t)>& locate = {})
      : specs_(s) {
    for (auto& x : s) {
      m_.emplace_back(x.name);
      m_.back().set_locate(locate);
      nodes_.push_back(x.node.empty() ? "" : ResolveNode(net, x.node));
      const Shape<4> shape = (nodes_.back().empty() ? net.Output() : net.NodeByName(nodes_.back())).shape;
      try {
        m_.back().CheckWidth(shape[1] * shape[2] * shape[3], label_width);
      } catch (const Error& e) {
        // The metric's own line where it has one (the block's line was named for a metric
        // written elsewhere, or on the command line), and the block whose data it scores.
        if (where.empty() && x.where.empty()) throw;
        if (x.where.empty()) UMBRA_THROW(where, ": ", e.message());
        UMBRA_THROW(x.where, ": ", e.message(), where.empty() ? "" : " (scoring the data of " + where + ")");
      }
    }
  }
  MetricSet(const MetricSet&) = delete;
  MetricSet& operator=(const MetricSet&) = delete;
  ~MetricSet() {
#if defined(UMBRA_USE_CUDA) && UMBRA_USE_CUDA
    if constexpr (!std::is_same_v<xpu, cpu>) {
      if (!pending_.empty()) cudaStreamSynchronize(stream_);  // copies into the buffers freed next
    }
#endif
  }
  /// Starts a pass: the sums so far are dropped.
  void Clear() {
    Read();
    for (nn::Metric& m : m_) m.Clear();
  }
  /// The net's outputs for batch `b`, just computed (queued, on the gpu).
  void Add(nn::Net<xpu>& net, const io::DataBatch& b) {
    if (m_.empty()) return;
    if constexpr (!std::is_same_v<xpu, cpu>) {
      // The batch's labels, once for all metrics: the feeder reuses its buffers.
      batch_label_ = labels_.size();
      labels_.insert(labels_.end(), b.label.dptr_, b.label.dptr_ + b.label.shape_.Size());
    }
    for (size_t i = 0; i < m_.size(); ++i) {
      const Tensor<xpu, 2> out = (nodes_[i].empty() ? net.Output() : net.NodeByName(nodes_[i])).Mat();
      if constexpr (std::is_same_v<xpu, cpu>) {
        Score(i, out, b.label, b.valid, b.index);
      } else {
        Stage(i, out, b);
      }
    }
  }
  /// Whether what Add queued holds 64 MiB of pinned memory: the caller scores it (Read) before
  /// its window ends, which bounds that memory; the caller, so that a training loss's NaN
  /// check can come first (a diverged net's output is non-finite, which a metric refuses).
  bool Heavy() const { return bytes_ > (size_t(64) << 20); }
  /// Scores what Add queued (on the gpu: waits for the device once).
  void Read() {
#if defined(UMBRA_USE_CUDA) && UMBRA_USE_CUDA
    if constexpr (!std::is_same_v<xpu, cpu>) {
      if (pending_.empty()) return;
      UMBRA_CUDA_CHECK(cudaStreamSynchronize(stream_));
      for (const Pending& p : pending_) {
        const Tensor<cpu, 2> label(labels_.data() + p.label_at, p.label_shape);
        Score(p.metric, p.rows, label, p.valid, p.index);
      }
      pending_.clear(), labels_.clear();
      chunk_ = 0, at_ = 0, bytes_ = 0;
    }
#endif
  }
  void Report(const std::string& prefix, Figures* out) const {
    for (size_t i = 0; i < m_.size(); ++i)
      out->push_back({prefix + "-" + specs_[i].name + (specs_[i].node.empty() ? "" : "[" + specs_[i].node + "]"),
                      m_[i].Get()});
  }

 private:
  struct Pending {
    size_t metric, label_at;
    Tensor<cpu, 2> rows;  // in a chunk
    Shape<2> label_shape;
    index_t valid;
    std::vector<uint64_t> index;  // the batch's instances, for a label error
  };
  // Metric i's Add, its errors naming the node it reads where that is not the output
  // (metric[label,node]: a logloss of a node that holds no probabilities).
  void Score(size_t i, const Tensor<cpu, 2>& rows, const Tensor<cpu, 2>& label, index_t valid,
             const std::vector<uint64_t>& index) {
    try {
      m_[i].Add(rows, label, valid, index);
    } catch (const Error& e) {
      if (specs_[i].node.empty()) throw;
      UMBRA_THROW(e.message(), " (metric[label,", specs_[i].node, "] scores node '", nodes_[i], "')");
    }
  }
  void Stage(size_t metric, const Tensor<xpu, 2>& out, const io::DataBatch& b) {
#if defined(UMBRA_USE_CUDA) && UMBRA_USE_CUDA
    const size_t n = size_t(out.shape_.Size());
    // The next chunk when this one is full. A chunk too small for n grows only while nothing
    // of this window is in it (at_ == 0).
    if (chunk_ < chunks_.size() && at_ > 0 && at_ + n > chunks_[chunk_].capacity()) ++chunk_, at_ = 0;
    if (chunk_ == chunks_.size()) chunks_.emplace_back();
    float* dst = chunks_[chunk_].Reserve(std::max(n, size_t(1) << 16)) + at_;
    at_ += n;
    stream_ = Stream<gpu>::GetStream(out.stream_);
    pending_.push_back({metric, batch_label_, QueueCopy(dst, out, "metrics"), b.label.shape_, b.valid, b.index});
    bytes_ += n * sizeof(float);
#else
    (void)metric, (void)out, (void)b;
#endif
  }
  std::vector<MetricSpec> specs_;
  std::vector<nn::Metric> m_;
  std::vector<std::string> nodes_;  // resolved node names
  std::vector<Pending> pending_;
  std::vector<float> labels_;
  size_t chunk_ = 0, at_ = 0, bytes_ = 0, batch_label_ = 0;  // where the next copy goes
#if defined(UMBRA_USE_CUDA) && UMBRA_USE_CUDA
  std::vector<PinnedBuffer> chunks_;
  cudaStream_t stream_ = nullptr;  // the outputs' stream, where the copies queue
#endif
};

/// A batch's output rows on the host, with the batch's real-row count and instance indices.
struct HostRows {
  Tensor<cpu, 2> out;
  index_t valid = 0;
  std::vector<uint64_t> index;
};

/// Output rows brought to the host a batch behind. Push queues a batch's output; on the gpu it
/// then hands over the batch before (its copy into pinned memory was queued a batch earlier, so
/// that waiting for it leaves the device the current batch to compute), on the cpu the output
/// itself. Finish hands over the last.
template <typename xpu>
class LaggedRows {
 public:
  LaggedRows() = default;
  LaggedRows(const LaggedRows&) = delete;
  LaggedRows& operator=(const LaggedRows&) = delete;
  ~LaggedRows() {
#if defined(UMBRA_USE_CUDA) && UMBRA_USE_CUDA
    for (Slot& s : slot_)
      if (s.copied) {
        cudaEventSynchronize(s.copied);  // a copy into the buffer freed next
        cudaEventDestroy(s.copied);
      }
#endif
  }
  template <typename F>
  void Push(const Tensor<xpu, 2>& out, const io::DataBatch& b, F&& take) {
    if constexpr (std::is_same_v<xpu, cpu>) {
      take(HostRows{out, b.valid, b.index});
    } else {
#if defined(UMBRA_USE_CUDA) && UMBRA_USE_CUDA
      Slot& s = slot_[next_];
      if (!s.copied) UMBRA_CUDA_CHECK(cudaEventCreateWithFlags(&s.copied, cudaEventDisableTiming));
      s.rows = HostRows{QueueCopy(s.buf.Reserve(size_t(out.shape_.Size())), out, "pred"), b.valid, b.index};
      UMBRA_CUDA_CHECK(cudaEventRecord(s.copied, Stream<gpu>::GetStream(out.stream_)));
      s.full = true;
      next_ ^= 1;
      Take(slot_[next_], take);  // the batch before, if any
#else
      (void)out, (void)b, (void)take;
#endif
    }
  }
  template <typename F>
  void Finish(F&& take) {
#if defined(UMBRA_USE_CUDA) && UMBRA_USE_CUDA
    if constexpr (!std::is_same_v<xpu, cpu>) Take(slot_[next_ ^ 1], take);
#endif
    (void)take;
  }

 private:
#if defined(UMBRA_USE_CUDA) && UMBRA_USE_CUDA
  struct Slot {
    PinnedBuffer buf;
    cudaEvent_t copied = nullptr;
    HostRows rows;
    bool full = false;
  };
  template <typename F>
  void Take(Slot& s, F& take) {
    if (!s.full) return;
    UMBRA_CUDA_CHECK(cudaEventSynchronize(s.copied));
    s.full = false;
    take(s.rows);
  }
  Slot slot_[2];
  int next_ = 0;
#endif
};

}  // namespace umbra::train
