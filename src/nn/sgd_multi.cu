// The fused multi-weight SGD update (include/umbra/nn/sgd_multi.h). Every weight is cut into
// chunks of kChunk elements, one block per chunk; a block finds its weight by binary search
// over the segments' first block numbers, so a 9M-element weight and a 64-element bias share
// one launch without either waiting on the other.
#include <algorithm>

#include "umbra/nn/sgd_multi.h"
#include "umbra/tensor/cuda/check.h"

namespace umbra::nn {
namespace {

constexpr int kThreads = 256;
constexpr int64_t kChunk = kThreads * 8;  // elements per block

struct Batch {
  SgdSegment seg[kSgdMaxSegments];
  int64_t first_block[kSgdMaxSegments];
  int count;
};
static_assert(sizeof(Batch) <= 32764, "the segment table must fit the kernel parameter space");

__global__ void __launch_bounds__(kThreads) SgdMulti(UMBRA_GRID_CONST(Batch) b) {
  int lo = 0, hi = b.count - 1;
  while (lo < hi) {
    const int mid = (lo + hi + 1) / 2;
    if (b.first_block[mid] <= int64_t(blockIdx.x)) lo = mid;
    else hi = mid - 1;
  }
  const SgdSegment& s = b.seg[lo];
  const int64_t begin = (int64_t(blockIdx.x) - b.first_block[lo]) * kChunk;
  const int64_t end = begin + kChunk < s.n ? begin + kChunk : s.n;
  for (int64_t i = begin + threadIdx.x; i < end; i += kThreads) {
    const float g = s.g[i] * s.grad_scale, w = s.w[i];
    const float m = s.m[i] * s.momentum - (g + w * s.wd) * s.lr;
    s.m[i] = m;
    s.w[i] = w + m;
    s.g[i] = 0.f;
  }
}

}  // namespace

void SgdMultiTensorGPU(const SgdSegment* segments, int count, void* stream) {
  for (int start = 0; start < count; start += kSgdMaxSegments) {
    Batch b;
    b.count = 0;
    int64_t blocks = 0;
    for (int k = start; k < std::min(count, start + kSgdMaxSegments); ++k) {
      if (segments[k].n == 0) continue;
      b.seg[b.count] = segments[k];
      b.first_block[b.count++] = blocks;
      blocks += (segments[k].n + kChunk - 1) / kChunk;
    }
    if (blocks == 0) continue;
    UMBRA_CHECK(blocks <= int64_t(0x7fffffff), "sgd update: ", blocks, " blocks exceed the grid limit");
    UMBRA_LAUNCH(unsigned(blocks), kThreads, 0, cuda::OrDefault(static_cast<cudaStream_t>(stream)), SgdMulti)(b);
    UMBRA_CUDA_CHECK(cudaGetLastError());
  }
}

}  // namespace umbra::nn
