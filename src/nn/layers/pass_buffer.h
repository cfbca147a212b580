// PassBuffer: device scratch of one call of a layer pass (CUDA builds): from the running pass's
// gap in the node arena where it fits (include/umbra/nn/pass_scratch.h: no memory beyond the
// nodes'), else from the caching allocator (freed back to its cache, not to the driver, when
// the buffer goes; safe in stream order: a device's work is queued on one stream). `kept`: it
// outlives the call, so it comes from the allocator. Used by cuDNN's convolutions (workspaces,
// bf16 operands) and batch norm's statistics kernels (their partial sums).
#pragma once

#include <cstddef>

#include "umbra/nn/pass_scratch.h"
#include "umbra/tensor/cuda/allocator.h"

namespace umbra::nn {

struct PassBuffer {
  void* p = nullptr;
  size_t bytes = 0;
  bool lent = false;
  bool beside = false;  // the pass's, from the allocator: counted in what it wants (PassScratch)
  explicit PassBuffer(size_t n = 0, bool kept = false) : bytes(n) {
    if (!n) return;
    if (!kept) p = PassScratch::Take(n);
    lent = p != nullptr;
    if (lent) return;
    p = cuda::CachingAllocator::Get().Alloc(n);
    beside = !kept;
    if (beside) PassScratch::Beside(n, true);
  }
  ~PassBuffer() {
    if (lent) {
      PassScratch::Give(p, bytes);
      return;
    }
    if (p) cuda::CachingAllocator::Get().Free(p);
    if (beside) PassScratch::Beside(bytes, false);
  }
  PassBuffer(const PassBuffer&) = delete;
  PassBuffer& operator=(const PassBuffer&) = delete;
};

}  // namespace umbra::nn
