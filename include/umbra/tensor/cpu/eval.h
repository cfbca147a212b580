// CPU evaluation of one statement `dst SV= exp`: a single loop over the destination.
// Contiguous elementwise statements take the flat path, a plain indexed loop the compiler
// vectorises (omp simd) and OpenMP splits across threads above kParallelThreshold elements; all
// other statements run over the 2-D flattened view, rows split across threads.
// Napkin: the flat path moves (reads + 1 write) * sizeof(DType) bytes per element and should run
// at memory bandwidth; bench/fused_elementwise measures it against a plain copy.
#pragma once

#include <algorithm>
#include <type_traits>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#ifdef _OPENMP
#include <omp.h>
#endif

#include "umbra/tensor/plan.h"

namespace umbra::expr {

/// Below this many elements a statement runs on the calling thread: an OpenMP fork/join costs
/// about 1-3 us, which is the time of ~16k float ops at memory speed.
inline constexpr index_t kParallelThreshold = index_t(1) << 15;

/// Plain `=` into a destination larger than this uses non-temporal (streaming) stores: the result
/// cannot stay in cache anyway (the L3 of this project's machines is 32 MiB), and ordinary stores
/// first read every destination line (write-allocate), costing one extra array of traffic: 7
/// arrays moved instead of 6 for `a*b + c*d - e`, i.e. at most 86% of copy speed.
inline constexpr size_t kStreamingStoreBytes = size_t(32) << 20;

#if defined(__SSE2__)
/// Flat `dst = plan` with streaming stores: each thread computes tiles of 64 elements into a
/// cache-resident buffer (vectorised) and streams them out 16 bytes at a time.
template <typename DType, typename DstPlan, typename ExpPlan>
inline void MapFlatStreaming(DType* dptr, const ExpPlan& plan, index_t n) {
  constexpr index_t kTile = 64, kLane = 16 / sizeof(DType);
#pragma omp parallel
  {
#ifdef _OPENMP
    const index_t nt = omp_get_num_threads(), t = omp_get_thread_num();
#else
    const index_t nt = 1, t = 0;
#endif
    // Contiguous per-thread ranges (first-touch friendly), split at tile boundaries; the share
    // rounds n / nt up before the tile does (n / nt rounded down, where it is a whole number of
    // tiles, left the last n % nt elements unwritten).
    const index_t per = ((n + nt - 1) / nt + kTile - 1) / kTile * kTile;
    const index_t lo = std::min(n, t * per), hi = std::min(n, lo + per);
    index_t i = lo;
    // Head: ordinary stores until the destination is 16-byte aligned.
    for (; i < hi && (reinterpret_cast<uintptr_t>(dptr + i) & 15) != 0; ++i) dptr[i] = plan.EvalFlat(i);
    alignas(64) DType tile[kTile];
    for (; i + kTile <= hi; i += kTile) {
#pragma omp simd
      for (index_t j = 0; j < kTile; ++j) tile[j] = plan.EvalFlat(i + j);
      for (index_t j = 0; j < kTile; j += kLane) {
        if constexpr (std::is_same_v<DType, float>)
          _mm_stream_ps(reinterpret_cast<float*>(dptr + i + j), _mm_load_ps(reinterpret_cast<const float*>(tile + j)));
        else
          _mm_stream_pd(reinterpret_cast<double*>(dptr + i + j), _mm_load_pd(reinterpret_cast<const double*>(tile + j)));
      }
    }
    for (; i < hi; ++i) dptr[i] = plan.EvalFlat(i);
    _mm_sfence();  // streaming stores are weakly ordered: publish them before the join
  }
}
#endif

/// Customisation point: an extension may give the CPU a faster loop for `dst SV= exp` when exp is
/// exactly its expression over tensors (im2col and col2im as row copies, swapaxis as row moves),
/// where the generic per-element plan would pay index divisions. Run returns false to fall back.
/// The generic plan stays the reference the fast loop is tested against.
template <typename SV, typename Dst, typename E>
struct CPUFastPath {
  static bool Run(const Dst&, const E&) { return false; }
};

template <typename SV, typename Dst, typename E>
inline void MapPlanCPU(const Dst& dst, const E& exp, const Shape<2>& dshape) {
  if (CPUFastPath<SV, Dst, E>::Run(dst, exp)) return;
  const auto dplan = MakePlan(dst);
  const auto plan = MakePlan(exp);
  const index_t rows = dshape[0], cols = dshape[1];
  const index_t n = rows * cols;
  if constexpr (Dst::kFlat && E::kFlat) {
    if (FlatCheck<Dst>::Check(dst) && FlatCheck<E>::Check(exp)) {
#if defined(__SSE2__)
      using DType = typename Dst::DataType;
      if constexpr (std::is_same_v<SV, sv::saveto> &&
                    (std::is_same_v<DType, float> || std::is_same_v<DType, double>) &&
                    requires { dst.dptr_; }) {
        if (size_t(n) * sizeof(DType) >= kStreamingStoreBytes) {
          MapFlatStreaming<DType, decltype(dplan)>(dst.dptr_, plan, n);
          return;
        }
      }
#endif
      // firstprivate: each thread works on its own copy of the plans. Reached through the
      // shared-variable struct of the outlined region, GCC did not vectorise this loop at all
      // (measured: an in-place relu at 22 GB/s instead of 150+ GB/s from cache).
#pragma omp parallel for simd schedule(static) firstprivate(dplan, plan) if (n >= kParallelThreshold)
      for (index_t i = 0; i < n; ++i) SV::Save(dplan.REvalFlat(i), plan.EvalFlat(i));
      return;
    }
  }
  if (rows >= 8 || n < kParallelThreshold) {
#pragma omp parallel for schedule(static) firstprivate(dplan, plan) if (n >= kParallelThreshold)
    for (index_t y = 0; y < rows; ++y)
      for (index_t x = 0; x < cols; ++x) SV::Save(dplan.REval(y, x), plan.Eval(y, x));
  } else {
    // Few long rows (a 1-D tensor is one row): split the columns instead.
    for (index_t y = 0; y < rows; ++y) {
#pragma omp parallel for schedule(static) firstprivate(dplan, plan)
      for (index_t x = 0; x < cols; ++x) SV::Save(dplan.REval(y, x), plan.Eval(y, x));
    }
  }
}

}  // namespace umbra::expr
