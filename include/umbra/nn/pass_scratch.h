// PassScratch: the bytes of a net's node arena that no node holds while one layer pass runs,
// lent to that pass for scratch that lives no longer than one call: cuDNN's convolution
// workspaces and their per-call operands (src/nn/layers/cudnn/conv_cudnn.cc). The arena is as
// large as the step's peak of live nodes and is held all through the step, so scratch from the
// caching allocator sits on top of that peak whenever it is taken: a 100 MiB workspace of the
// first convolution's forward raises the peak by 100 MiB although the arena is nearly empty
// then. From the pass's gap it costs nothing, as PyTorch's workspaces take memory that is free
// at the moment they are used. Net::Forward and Net::Backward lend each pass the largest gap
// of its step (Net::PlanMemory); what does not fit comes from the caching allocator.
// Safe in stream order: a device's work is queued on one stream, so a later pass writing its
// nodes over these bytes runs after this pass's kernels are done with them.
#pragma once

#include <cstddef>

namespace umbra::nn {

class PassScratch {
  struct Window {
    char* base = nullptr;
    size_t bytes = 0, used = 0;
  };
  static Window& Current() {
    static thread_local Window w;
    return w;
  }

 public:
  /// Offsets into the gap are multiples of this (cuDNN and vector loads like 256 bytes).
  static constexpr size_t kAlign = 256;

  /// `bytes` from the gap of the pass running on this thread (after what is taken already), or
  /// nullptr where they do not fit or no pass runs.
  static void* Take(size_t bytes) {
    Window& w = Current();
    const size_t need = Rounded(bytes);
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
  /// The largest request Take can still serve on this thread (0 outside a pass): what is left
  /// of the gap, a multiple of kAlign, so that any request of up to this many bytes fits.
  static size_t Free() {
    const Window& w = Current();
    return w.base ? (w.bytes - w.used) / kAlign * kAlign : 0;
  }

  /// Lends [base, base + bytes) (base aligned to kAlign) to the pass that runs while it lives;
  /// the gap lent before comes back afterwards.
  class Lend {
   public:
    Lend(void* base, size_t bytes) : saved_(Current()) {
      Current() = Window{static_cast<char*>(base), base ? bytes : 0, 0};
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
