// PassScratch: the bytes of a net's node arena that no node holds while one layer pass runs,
// lent to that pass for scratch that lives no longer than one call: cuDNN's convolution
// workspaces and their per-call operands (src/nn/layers/cudnn/conv_cudnn.cc). The arena is as
// large as the step's peak of live nodes and is held all through the step, so scratch from the
// caching allocator sits on top of that peak whenever it is taken: a 100 MiB workspace of the
// first convolution's forward raises the peak by 100 MiB although the arena is nearly empty
// then. From the pass's gap it costs nothing, as PyTorch's workspaces take memory that is free
// at the moment they are used. Net::Forward and Net::Backward lend each pass the largest gap
// of its step (Net::PlanMemory); what does not fit comes from the caching allocator, and the
// net, told what each pass asked for (Lend's `want`), plans that into its arena after the
// first training step (Net::PlanScratch).
// Safe in stream order: a device's work is queued on one stream, so a later pass writing its
// nodes over these bytes runs after this pass's kernels are done with them.
#pragma once

#include <algorithm>
#include <cstddef>

namespace umbra::nn {

class PassScratch {
  struct Window {
    char* base = nullptr;
    size_t bytes = 0, used = 0;
    size_t beside = 0;      // bytes of this pass's scratch live outside the gap (the allocator's)
    size_t* want = nullptr;  // where the most the pass asked for at once is kept (Net::PlanScratch)
    size_t* most_beside = nullptr;  // where the most it held outside the gap at once is kept
  };
  static Window& Current() {
    static thread_local Window w;
    return w;
  }

 public:
  /// Offsets into the gap are multiples of this (cuDNN and vector loads like 256 bytes).
  static constexpr size_t kAlign = 256;

  /// `bytes` from the gap of the pass running on this thread (after what is taken already), or
  /// nullptr where they do not fit or no pass runs. Either way the request counts in what the
  /// pass wants at once (with what it holds in the gap and beside it), which a net may plan its
  /// arena with: Net::PlanScratch.
  static void* Take(size_t bytes) {
    Window& w = Current();
    const size_t need = Rounded(bytes);
    if (w.want) *w.want = std::max(*w.want, w.used + w.beside + need);
    if (!w.base || need == 0 || need > w.bytes - w.used) return nullptr;
    void* p = w.base + w.used;
    w.used += need;
    return p;
  }
  /// Gives back what Take returned. Scratch is scoped, so the last taken comes back first; any
  /// other is reclaimed when the pass ends.
  static void Give(void* p, size_t bytes) {
    Window& w = Current();
    const size_t need = Rounded(bytes);
    if (w.base && static_cast<char*>(p) + need == w.base + w.used) w.used -= need;
  }
  /// Scratch of the running pass that Take could not serve, taken elsewhere (`live`) and given
  /// back (not): counted beside the gap in what the pass wants at once.
  static void Beside(size_t bytes, bool live) {
    Window& w = Current();
    const size_t need = Rounded(bytes);
    if (live)
      w.beside += need;
    else
      w.beside -= std::min(w.beside, need);
    if (w.most_beside) *w.most_beside = std::max(*w.most_beside, w.beside);
  }
  /// The largest request Take can still serve on this thread (0 outside a pass): what is left
  /// of the gap, a multiple of kAlign, so that any request of up to this many bytes fits.
  static size_t Free() {
    const Window& w = Current();
    return w.base ? (w.bytes - w.used) / kAlign * kAlign : 0;
  }

  /// Lends [base, base + bytes) (base aligned to kAlign) to the pass that runs while it lives;
  /// the gap lent before comes back afterwards. `want` and `most_beside` (may be null; kept
  /// across passes, as maxima): the most scratch the pass asks for at once, served or not, base
  /// null included, and the most of it held outside the gap at once (what it added to the peak).
  class Lend {
   public:
    Lend(void* base, size_t bytes, size_t* want = nullptr, size_t* most_beside = nullptr) : saved_(Current()) {
      Current() = Window{static_cast<char*>(base), base ? bytes : 0, 0, 0, want, most_beside};
    }
    ~Lend() { Current() = saved_; }
    Lend(const Lend&) = delete;
    Lend& operator=(const Lend&) = delete;

   private:
    Window saved_;
  };

 private:
  static size_t Rounded(size_t bytes) { return (bytes + kAlign - 1) / kAlign * kAlign; }
};

}  // namespace umbra::nn
