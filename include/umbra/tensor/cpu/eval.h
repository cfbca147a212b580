// CPU evaluation of one statement `dst SV= exp`: a single loop over the destination.
// Contiguous elementwise statements take the flat path, a plain indexed loop the compiler
// vectorises (omp simd) and OpenMP splits across threads above kParallelThreshold elements; all
// other statements run over the 2-D flattened view, rows split across threads.
// Napkin: the flat path moves (reads + 1 write) * sizeof(DType) bytes per element and should run
// at memory bandwidth; bench/fused_elementwise measures it against a plain copy.
#pragma once

#include "umbra/tensor/plan.h"

namespace umbra::expr {

/// Below this many elements a statement runs on the calling thread: an OpenMP fork/join costs
/// about 1-3 us, which is the time of ~16k float ops at memory speed.
inline constexpr index_t kParallelThreshold = index_t(1) << 15;

template <typename SV, typename Dst, typename E>
inline void MapPlanCPU(const Dst& dst, const E& exp, const Shape<2>& dshape) {
  const auto dplan = MakePlan(dst);
  const auto plan = MakePlan(exp);
  const index_t rows = dshape[0], cols = dshape[1];
  const index_t n = rows * cols;
  if constexpr (Dst::kFlat && E::kFlat) {
    if (FlatCheck<Dst>::Check(dst) && FlatCheck<E>::Check(exp)) {
#pragma omp parallel for simd schedule(static) if (n >= kParallelThreshold)
      for (index_t i = 0; i < n; ++i) SV::Save(dplan.REvalFlat(i), plan.EvalFlat(i));
      return;
    }
  }
  if (rows >= 8 || n < kParallelThreshold) {
#pragma omp parallel for schedule(static) if (n >= kParallelThreshold)
    for (index_t y = 0; y < rows; ++y)
      for (index_t x = 0; x < cols; ++x) SV::Save(dplan.REval(y, x), plan.Eval(y, x));
  } else {
    // Few long rows (a 1-D tensor is one row): split the columns instead.
    for (index_t y = 0; y < rows; ++y) {
#pragma omp parallel for schedule(static)
      for (index_t x = 0; x < cols; ++x) SV::Save(dplan.REval(y, x), plan.Eval(y, x));
    }
  }
}

}  // namespace umbra::expr
