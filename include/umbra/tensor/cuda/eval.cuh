// GPU evaluation of one statement `dst SV= exp`: one generic grid-stride kernel per statement,
// with the whole expression inlined through its Plan (passed by value as a kernel argument).
// Contiguous elementwise statements index flat (coalesced, no division) and, when every tensor
// starts 16-byte aligned, move 4 elements per access (Pack4); so do broadcasts among them (their
// channel index from the flat one, FlatOnGPU). Others divide the flat index into (row, col) of
// the 2-D view, by multiplication (FastDiv). Only nvcc compiles this file
// (included from engine.h).
// Napkin: 64M-float `a*b+c*d-e` moves 1.5 GB; at an H200's ~4.2 TB/s copy rate that is ~0.36 ms.
#pragma once

#include <algorithm>
#include <type_traits>

#include "umbra/tensor/cuda/check.h"
#include "umbra/tensor/cuda/fast_div.h"
#include "umbra/tensor/plan.h"
#include "umbra/tensor/stream.h"

namespace umbra::cuda {

inline constexpr int kBaseThreads = 256;

/// Elements one Map2DKernel launch covers at most (its 32-bit index range); tests lower it to
/// run the slicing of large statements on small tensors.
inline index_t& Map2DSliceElements() {
  static index_t n = (index_t(1) << 32) - 1;
  return n;
}

/// The kernel the calling thread's last GPU statement ran on: the packed flat path, the scalar
/// flat path or the 2-D one (Map2DKernel). Tests read it to check that a statement takes the
/// path its layout allows; set on the host, once per statement.
enum class MapPath { kNone, kPack, kFlat, k2D };
inline MapPath& LastMapPath() {
  static thread_local MapPath path = MapPath::kNone;
  return path;
}

/// Streaming multiprocessors of the current device (cached per thread and device).
inline int SMCount() {
  static thread_local int cached_dev = -1, cached_sms = 0;
  int dev = 0;
  UMBRA_CUDA_CHECK(cudaGetDevice(&dev));
  if (dev != cached_dev) {
    UMBRA_CUDA_CHECK(cudaDeviceGetAttribute(&cached_sms, cudaDevAttrMultiProcessorCount, dev));
    cached_dev = dev;
  }
  return cached_sms;
}

/// Blocks an SM that GridFor launches at most (16: two waves of the 8 blocks of 256 threads an
/// H200's SM holds, then each thread strides over the rest); 0 launches a block per 256 work
/// items, with no stride (as the kernels torch.compile generates do). bench_gpu's `BM_Grid`
/// rows set it, to measure both launch shapes on the same statements; nothing else does.
inline int& GridBlocksPerSM() {
  static int n = 16;
  return n;
}

/// Grid size for n work items: enough blocks to fill every SM several times, then grid-stride
/// (or one block per 256 items: GridBlocksPerSM() 0).
inline int GridFor(index_t n) {
  const index_t want = (n + kBaseThreads - 1) / kBaseThreads, per_sm = GridBlocksPerSM();
  const index_t cap = per_sm > 0 ? index_t(SMCount()) * per_sm : (index_t(1) << 31) - 1;
  return static_cast<int>(std::max<index_t>(1, std::min<index_t>(want, cap)));
}

template <typename SV, typename DstPlan, typename ExpPlan>
__global__ void __launch_bounds__(kBaseThreads)
    MapFlatKernel(DstPlan dst, ExpPlan plan, index_t n) {
  // Unrolled by 4 so each thread keeps several independent loads in flight.
  const index_t step = index_t(gridDim.x) * blockDim.x;
  index_t i = index_t(blockIdx.x) * blockDim.x + threadIdx.x;
  for (; i + 3 * step < n; i += 4 * step) {
    auto v0 = plan.EvalFlat(i), v1 = plan.EvalFlat(i + step);
    auto v2 = plan.EvalFlat(i + 2 * step), v3 = plan.EvalFlat(i + 3 * step);
    SV::Save(dst.REvalFlat(i), v0);
    SV::Save(dst.REvalFlat(i + step), v1);
    SV::Save(dst.REvalFlat(i + 2 * step), v2);
    SV::Save(dst.REvalFlat(i + 3 * step), v3);
  }
  for (; i < n; i += step) SV::Save(dst.REvalFlat(i), plan.EvalFlat(i));
}

/// The vectorised flat path: one Pack4 (16 bytes of float) per leaf per step; the n % 4 tail
/// elements are done by the first threads of block 0.
template <typename SV, typename DstPlan, typename ExpPlan>
__global__ void __launch_bounds__(kBaseThreads)
    MapPackKernel(DstPlan dst, ExpPlan plan, index_t n) {
  const index_t npack = n / 4;
  const index_t step = index_t(gridDim.x) * blockDim.x;
  for (index_t i = index_t(blockIdx.x) * blockDim.x + threadIdx.x; i < npack; i += step) {
    const auto v = plan.EvalPack(i);
    if constexpr (std::is_same_v<SV, sv::saveto>) {
      dst.REvalPack(i) = v;
    } else {
      auto d = dst.EvalPack(i);
#pragma unroll
      for (int k = 0; k < 4; ++k) SV::Save(d.v[k], v.v[k]);
      dst.REvalPack(i) = d;
    }
  }
  if (blockIdx.x == 0 && threadIdx.x < n - 4 * npack) {
    const index_t i = 4 * npack + threadIdx.x;
    SV::Save(dst.REvalFlat(i), plan.EvalFlat(i));
  }
}

/// The general path: n elements of the 2-D view from row `row0` on, each flat index split into
/// (row, column) by a FastDiv. A 64-bit division is, on the GPU, a test and a ~20-instruction
/// 32-bit division, or an ~80-instruction subroutine; once per element (and twice more per
/// broadcast), it could bound a bias add or batch-norm pass rather than memory (estimate in
/// bench/RESULTS.md). n < 2^32; larger statements are launched in slices of rows.
template <typename SV, typename DstPlan, typename ExpPlan>
__global__ void __launch_bounds__(kBaseThreads)
    Map2DKernel(DstPlan dst, ExpPlan plan, index_t row0, uint32_t n, FastDiv cols) {
  const uint64_t step = uint64_t(gridDim.x) * blockDim.x;  // 2^32 or more with GridBlocksPerSM() 0
  for (uint64_t i = uint64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step) {
    const uint32_t t = uint32_t(i), r = cols.Div(t);
    const index_t y = row0 + r, x = t - r * cols.d;
    SV::Save(dst.REval(y, x), plan.Eval(y, x));
  }
}

}  // namespace umbra::cuda

namespace umbra::expr {

template <typename SV, typename Dst, typename E>
inline void MapPlanGPU(const Dst& dst, const E& exp, const Shape<2>& dshape) {
  const index_t n = dshape[0] * dshape[1];
  if (n == 0) return;
  cudaStream_t s = Stream<gpu>::GetStream(StreamOf(dst));
  const int grid = cuda::GridFor(n);
  constexpr bool kFlat = FlatOnGPU<Dst>::value && FlatOnGPU<E>::value;
  bool flat = false;
  if constexpr (kFlat) flat = FlatCheck<Dst>::Check(dst) && FlatCheck<E>::Check(exp);
  if constexpr (kFlat) {
    if constexpr (HasPack<Plan<Dst>> && HasPack<Plan<E>>) {
      if (flat && PackCheck<Dst>::Check(dst) && PackCheck<E>::Check(exp)) {
        const int pgrid = cuda::GridFor((n + 3) / 4);
        cuda::LastMapPath() = cuda::MapPath::kPack;
        UMBRA_LAUNCH(pgrid, cuda::kBaseThreads, 0, s, cuda::MapPackKernel<SV>)(MakePlan(dst), MakePlan(exp), n);
        UMBRA_CUDA_CHECK(cudaGetLastError());
        return;
      }
    }
    if (flat) {
      cuda::LastMapPath() = cuda::MapPath::kFlat;
      UMBRA_LAUNCH(grid, cuda::kBaseThreads, 0, s, cuda::MapFlatKernel<SV>)(MakePlan(dst), MakePlan(exp), n);
      UMBRA_CUDA_CHECK(cudaGetLastError());
      return;
    }
  }
  cuda::LastMapPath() = cuda::MapPath::k2D;
  const index_t rows = dshape[0], cols = dshape[1];
  UMBRA_CHECK(cols < (index_t(1) << 32), "a GPU statement over rows of ", cols,
              " elements: at most 2^32 - 1 a row (the last dimension) off the flat path");
  const index_t slice = std::max<index_t>(1, std::min(cuda::Map2DSliceElements(), (index_t(1) << 32) - 1) / cols);
  const cuda::FastDiv cdiv{uint32_t(cols)};
  for (index_t r0 = 0; r0 < rows; r0 += slice) {
    const index_t m = std::min(slice, rows - r0) * cols;
    UMBRA_LAUNCH(cuda::GridFor(m), cuda::kBaseThreads, 0, s, cuda::Map2DKernel<SV>)(MakePlan(dst), MakePlan(exp), r0,
                                                                              uint32_t(m), cdiv);
    UMBRA_CUDA_CHECK(cudaGetLastError());
  }
}

}  // namespace umbra::expr
