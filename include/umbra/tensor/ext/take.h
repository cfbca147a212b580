// take(index, src): row gather, the embedding lookup: out[i, :] = src[index[i], :] for index (n)
// and src (rows, cols), giving (n, cols). Indices are stored as DType (exact integers).
// AddTakeGrad(dst, index, grad): its gradient, dst[index[i], :] += grad[i, :], accumulating over
// repeated indices (a function, not an expression: the scatter cannot be computed per output
// element). Index range: on cpu take() and AddTakeGrad() check every index up front and raise
// umbra::Error; on gpu indices cannot be read cheaply from the host, so out-of-range ones are
// clamped into [0, rows - 1] instead (never an out-of-bounds access, but a wrong row: validate
// indices where they are produced). Next: one_hot.h.
#pragma once

#include <algorithm>

#include "umbra/tensor/ext/make_tensor.h"

namespace umbra::expr {

template <typename IndexExp, typename SrcExp, typename DType>
struct TakeExp : public MakeTensorExp<TakeExp<IndexExp, SrcExp, DType>, SrcExp, 2, DType> {
  static_assert((IndexExp::kDevMask & SrcExp::kDevMask) != 0,
                "umbra: take() of an index and a source on different devices");
  static constexpr int kDevMask = IndexExp::kDevMask & SrcExp::kDevMask;
  IndexExp index_;
  SrcExp src_;
  index_t src_rows_;
  TakeExp(const IndexExp& index, const SrcExp& src, index_t n, const Shape<2>& src_shape)
      : index_(index), src_(src), src_rows_(src_shape[0]) {
    this->shape_ = Shape2(n, src_shape[1]);
  }
};

/// The row an index value names on the gpu, clamped into [0, last]. Clamped while still floating
/// point: converting inf, NaN or a value past the integer range is undefined (x86 gives INT64_MIN,
/// the GPU saturates), so converting first would send +inf to row 0 on one and the last row on
/// the other. NaN takes row 0.
template <typename DType>
UMBRA_XINLINE index_t ClampedRow(DType v, index_t last) {
  if (!(v > DType(0))) return 0;
  if (v >= static_cast<DType>(last)) return last;
  return static_cast<index_t>(v);
}

template <typename IndexExp, typename SrcExp, typename DType>
class Plan<TakeExp<IndexExp, SrcExp, DType>> {
 public:
  explicit Plan(const TakeExp<IndexExp, SrcExp, DType>& e)
      : index_(MakePlan(e.index_)), src_(MakePlan(e.src_)), last_row_(e.src_rows_ - 1) {}
  UMBRA_XINLINE DType Eval(index_t y, index_t x) const {
    return src_.Eval(ClampedRow(index_.Eval(0, y), last_row_), x);  // gpu contract: clamp
  }

 private:
  Plan<IndexExp> index_;
  Plan<SrcExp> src_;
  index_t last_row_;
};

/// take(index, src): index (n), src (rows, cols) -> (n, cols), out[i, :] = src[index[i], :].
/// On cpu an index outside [0, rows) raises umbra::Error naming it, its position and src's
/// shape (one pass over the n indices when the expression is built); on gpu it is clamped.
template <typename IndexExp, typename SrcExp, typename DType, int it, int st>
inline TakeExp<IndexExp, SrcExp, DType> take(const Exp<IndexExp, DType, it>& index,
                                             const Exp<SrcExp, DType, st>& src) {
  static_assert(IndexExp::kDim == 1, "umbra: take() needs a 1-D index expression");
  static_assert(SrcExp::kDim == 2, "umbra: take() gathers rows of a 2-D source");
  static_assert(it != kComplex && st != kComplex,
                "umbra: evaluate dot()/reductions into a tensor first");
  const Shape<1> si = ShapeCheck<1, IndexExp>::Check(index.self());
  const Shape<2> ss = ShapeCheck<2, SrcExp>::Check(src.self());
  UMBRA_CHECK(si[0] == 0 || ss[0] > 0, "take: ", si[0], " indices into an empty source ", ss);
  if constexpr (TakeExp<IndexExp, SrcExp, DType>::kDevMask == cpu::kDevMask) {
    const Plan<IndexExp> p = MakePlan(index.self());
    for (index_t i = 0; i < si[0]; ++i) {
      const DType v = p.Eval(0, i);
      UMBRA_CHECK(v >= DType(0) && v < static_cast<DType>(ss[0]), "take: index ", v,
                  " at position ", i, " is out of range for source shape ", ss);
    }
  }
  return TakeExp<IndexExp, SrcExp, DType>(index.self(), src.self(), si[0], ss);
}

#if UMBRA_CUDA_KERNELS
/// One thread per element of grad. Napkin: reads n*cols grad + n*cols (cached) index values and
/// does n*cols atomic adds into dst; bandwidth-bound unless many indices repeat (atomics on the
/// same row serialise, still correct).
template <typename DType>
__global__ void __launch_bounds__(cuda::kBaseThreads)
    AddTakeGradKernel(DType* dst, index_t dst_stride, index_t last_row, const DType* index,
                      const DType* grad, index_t grad_stride, index_t n, index_t cols) {
  const index_t total = n * cols;
  const index_t step = index_t(gridDim.x) * blockDim.x;
  for (index_t i = index_t(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += step) {
    const index_t y = i / cols, x = i - y * cols;
    atomicAdd(dst + ClampedRow(index[y], last_row) * dst_stride + x, grad[y * grad_stride + x]);
  }
}
#endif

}  // namespace umbra::expr

namespace umbra {

/// AddTakeGrad(dst, index, grad): dst (rows, cols), index (n), grad (n, cols);
/// dst[index[i], :] += grad[i, :] for every i, so repeated indices accumulate. Shapes must agree
/// (umbra::Error naming all three). cpu: indices checked first (nothing is written on error),
/// then a deterministic loop, columns split across threads. gpu: atomicAdd (float, double),
/// out-of-range indices clamped, run on dst's stream; only nvcc-compiled code may call it.
template <typename Device, typename DType>
inline void AddTakeGrad(Tensor<Device, 2, DType> dst, const Tensor<Device, 1, DType>& index,
                        const Tensor<Device, 2, DType>& grad) {
  const index_t n = index.shape_[0], cols = dst.shape_[1], rows = dst.shape_[0];
  UMBRA_CHECK(grad.shape_[0] == n && grad.shape_[1] == cols && (n == 0 || rows > 0),
              "AddTakeGrad: dst ", dst.shape_, ", index ", index.shape_, " and grad ",
              grad.shape_, " do not fit (want dst (rows, cols), index (n), grad (n, cols))");
  if (n == 0 || cols == 0) return;
  if constexpr (Device::kDevCPU) {
    for (index_t i = 0; i < n; ++i) {
      const DType v = index.dptr_[i];
      UMBRA_CHECK(v >= DType(0) && v < static_cast<DType>(rows), "AddTakeGrad: index ", v,
                  " at position ", i, " is out of range for dst shape ", dst.shape_);
    }
    // Threads own disjoint column blocks and walk all n indices in order: no races, and the
    // sum order per element is fixed (results do not depend on the thread count).
    constexpr index_t kBlock = 64;
#pragma omp parallel for schedule(static) if (n * cols >= expr::kParallelThreshold)
    for (index_t xb = 0; xb < cols; xb += kBlock) {
      const index_t xe = std::min(cols, xb + kBlock);
      for (index_t i = 0; i < n; ++i) {
        DType* d = dst.dptr_ + static_cast<index_t>(index.dptr_[i]) * dst.stride_;
        const DType* g = grad.dptr_ + i * grad.stride_;
        for (index_t x = xb; x < xe; ++x) d[x] += g[x];
      }
    }
  } else {
#if UMBRA_CUDA_KERNELS
    const int grid = cuda::GridFor(n * cols);
    UMBRA_LAUNCH(grid, cuda::kBaseThreads, 0, Stream<gpu>::GetStream(dst.stream_), expr::AddTakeGradKernel)(
        dst.dptr_, dst.stride_, rows - 1, index.dptr_, grad.dptr_, grad.stride_, n, cols);
    UMBRA_CUDA_CHECK(cudaGetLastError());
#else
    static_assert(expr::kDependentFalse<DType>,
                  "umbra: AddTakeGrad on gpu tensors launches a CUDA kernel and must be compiled "
                  "by nvcc (put this code in a .cu file)");
#endif
  }
}

}  // namespace umbra

namespace umbra {
using expr::take;
}  // namespace umbra
