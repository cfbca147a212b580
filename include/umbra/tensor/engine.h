// Dispatch of a statement `dst SV= exp`: map/chainer expressions go to MapExp (one CPU loop or
// one CUDA kernel after a single shape check); complex expressions (dot, reductions, softmax)
// go to their ComplexEngine specialisation, defined next to them (dot.h, ext/).
#pragma once

#include <type_traits>
#include <vector>

#include "umbra/tensor/alias.h"
#include "umbra/tensor/cpu/eval.h"
#include "umbra/tensor/memory.h"
#include "umbra/tensor/plan.h"

#if UMBRA_CUDA_KERNELS
#include "umbra/tensor/cuda/eval.cuh"
#endif

namespace umbra::expr {

template <typename T>
inline constexpr bool kDependentFalse = false;

/// Evaluates `dst SV= exp` for elementwise and index-mapping expressions. Dst is a Tensor or a
/// write-through expression (slice, concat). Shapes are checked once here, never per element.
template <typename SV, typename Dst, typename E>
inline void MapExp(const Dst& dst, const E& exp) {
  constexpr int dim = Dst::kDim;
  static_assert(E::kDim == 0 || E::kDim == dim,
                "umbra: the expression and its destination have different numbers of dimensions");
  static_assert((E::kDevMask & Dst::kDevMask) != 0,
                "umbra: the expression's tensors are on another device than the destination");
  const Shape<dim> eshape = ShapeCheck<dim, E>::Check(exp);
  const Shape<dim> dshape = ShapeCheck<dim, Dst>::Check(dst);
  UMBRA_CHECK(eshape[0] == -1 || eshape == dshape, "shape mismatch in assignment (", SV::kName,
              "): destination ", dshape, " but expression ", eshape);
  CheckApart(dst, exp, SV::kName);
  if constexpr (Dst::kDevMask == cpu::kDevMask) {
    MapPlanCPU<SV>(dst, exp, dshape.FlatTo2D());
  } else {
#if UMBRA_CUDA_KERNELS
    MapPlanGPU<SV>(dst, exp, dshape.FlatTo2D());
#else
    static_assert(kDependentFalse<E>,
                  "umbra: statements on gpu tensors generate a CUDA kernel and must be compiled "
                  "by nvcc (put this code in a .cu file)");
#endif
  }
}

/// Complex expressions specialise this (see dot.h and the reduction extensions).
template <typename SV, typename Dst, typename E>
struct ComplexEngine {
  static_assert(kDependentFalse<E>, "umbra: no evaluation rule for this complex expression");
};

template <typename SV, typename RV, typename DType>
struct ExpEngine {
  template <typename E, int etype>
  static void Eval(RV* dst, const Exp<E, DType, etype>& exp) {
    if constexpr (etype == kComplex) {
      ComplexEngine<SV, RV, E>::Eval(dst, exp.self());
    } else {
      MapExp<SV>(*dst, exp.self());
    }
  }
};

}  // namespace umbra::expr

namespace umbra {

template <typename Device, int N, typename DType>
inline void Fill(Tensor<Device, N, DType> t, DType v) {
  if constexpr (Device::kDevCPU) {
    t = v;
  } else {
#if defined(UMBRA_USE_CUDA) && UMBRA_USE_CUDA
    // Host API only, never a kernel: the same body must compile in .cc and .cu files (one
    // definition). Zero by memset, otherwise stage on the host (initialisation, not hot loops).
    if (t.Size() == 0) return;
    if (v == DType(0) && t.CheckContiguous()) {
      UMBRA_CUDA_CHECK(cudaMemsetAsync(t.dptr_, 0, sizeof(DType) * t.Size(),
                                       Stream<gpu>::GetStream(t.stream_)));
    } else {
      std::vector<DType> host(t.Size(), v);
      Tensor<cpu, N, DType> h(host.data(), t.shape_);
      Copy(t, h, t.stream_);
      // `host` dies at scope exit: the staged copy must have finished reading it.
      if (t.stream_) t.stream_->Wait();
      else UMBRA_CUDA_CHECK(cudaStreamSynchronize(cuda::DefaultStream()));
    }
#endif
  }
}

}  // namespace umbra
