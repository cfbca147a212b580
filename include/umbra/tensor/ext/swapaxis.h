// swapaxis<a, b>(src): src with dimensions a and b exchanged (compile-time axes), e.g.
// swapaxis<1, 2> turns (N, C, H, W) into (N, H, C, W). For a runtime permutation of all axes use
// transpose(src, axes) (transpose.h); for the 2-D matrix transpose used by dot(), .T().
// Index mapping: the shape is seen as five blocks (pre, A, mid, B, post) around the two axes, so a
// swap costs five divisions per element whatever the rank. Not write-through.
#pragma once

#include "umbra/tensor/ext/make_tensor.h"

namespace umbra::expr {

template <typename SrcExp, typename DType, int dim, int a1, int a2>
struct SwapAxisExp
    : public MakeTensorExp<SwapAxisExp<SrcExp, DType, dim, a1, a2>, SrcExp, dim, DType> {
  SrcExp src_;
  Shape<dim> src_shape_;
  SwapAxisExp(const SrcExp& src, const Shape<dim>& src_shape) : src_(src), src_shape_(src_shape) {
    this->shape_ = src_shape;
    this->shape_[a1] = src_shape[a2];
    this->shape_[a2] = src_shape[a1];
  }
};

/// swapaxis<a, b>(src): for src of shape (..., d_a, ..., d_b, ...) gives (..., d_b, ..., d_a, ...)
/// with out[.., j, .., i, ..] = src[.., i, .., j, ..]. 0 <= a, b < N (checked at compile time);
/// a == b is the identity. The destination must not alias src.
template <int a, int b, typename SrcExp, typename DType, int etype>
inline SwapAxisExp<SrcExp, DType, SrcExp::kDim, (a < b ? a : b), (a < b ? b : a)> swapaxis(
    const Exp<SrcExp, DType, etype>& src) {
  constexpr int dim = SrcExp::kDim;
  static_assert(dim >= 1, "umbra: swapaxis needs a source with a shape (not a scalar)");
  static_assert(etype != kComplex, "umbra: evaluate dot()/reductions into a tensor first");
  static_assert(a >= 0 && a < dim && b >= 0 && b < dim, "umbra: swapaxis axis out of range");
  return SwapAxisExp<SrcExp, DType, dim, (a < b ? a : b), (a < b ? b : a)>(
      src.self(), ShapeCheck<dim, SrcExp>::Check(src.self()));
}

// a1 <= a2. Output blocks are (pre, B, mid, A, post), source blocks (pre, A, mid, B, post).
template <typename SrcExp, typename DType, int dim, int a1, int a2>
class Plan<SwapAxisExp<SrcExp, DType, dim, a1, a2>> {
 public:
  explicit Plan(const SwapAxisExp<SrcExp, DType, dim, a1, a2>& e)
      : src_(MakePlan(e.src_)),
        dst_cols_(e.shape_[dim - 1]),
        src_cols_(e.src_shape_[dim - 1]),
        ext_a_(e.src_shape_[a1]),
        mid_(e.src_shape_.ProdShape(a1 + 1, a2)),
        ext_b_(e.src_shape_[a2]),
        post_(e.src_shape_.ProdShape(a2 + 1, dim)) {}
  UMBRA_XINLINE DType Eval(index_t y, index_t x) const {
    if constexpr (a1 == a2) {
      return src_.Eval(y, x);
    } else {
      index_t t = y * dst_cols_ + x;
      const index_t ip = t % post_;
      t /= post_;
      const index_t ia = t % ext_a_;  // the output's dimension a2 runs over the source's a1
      t /= ext_a_;
      const index_t im = t % mid_;
      t /= mid_;
      const index_t ib = t % ext_b_;
      const index_t ipre = t / ext_b_;
      const index_t i = (((ipre * ext_a_ + ia) * mid_ + im) * ext_b_ + ib) * post_ + ip;
      const index_t sy = i / src_cols_;
      return src_.Eval(sy, i - sy * src_cols_);
    }
  }

 private:
  Plan<SrcExp> src_;
  index_t dst_cols_, src_cols_, ext_a_, mid_, ext_b_, post_;
};

/// CPU fast path of `dst = swapaxis<a1, a2>(src)` for contiguous tensors when the last dimension
/// is not swapped: whole rows move with one copy each; indices are decomposed once per row.
template <typename DType, int dim, int a1, int a2>
  requires(a2 < dim - 1)
struct CPUFastPath<sv::saveto, Tensor<cpu, dim, DType>,
                   SwapAxisExp<Tensor<cpu, dim, DType>, DType, dim, a1, a2>> {
  static bool Run(const Tensor<cpu, dim, DType>& dst,
                  const SwapAxisExp<Tensor<cpu, dim, DType>, DType, dim, a1, a2>& e) {
    if (!dst.CheckContiguous() || !e.src_.CheckContiguous()) return false;
    const Shape<dim>& os = dst.shape_;
    const Shape<dim>& ss = e.src_shape_;
    const index_t rows = os.ProdShape(0, dim - 1), len = os[dim - 1];
#pragma omp parallel for schedule(static) if (dst.Size() >= kParallelThreshold)
    for (index_t y = 0; y < rows; ++y) {
      index_t idx[dim], rest = y;
      for (int d = dim - 2; d >= 0; --d) idx[d] = rest % os[d], rest /= os[d];
      const index_t t = idx[a1];
      idx[a1] = idx[a2], idx[a2] = t;
      index_t srow = 0;
      for (int d = 0; d < dim - 1; ++d) srow = srow * ss[d] + idx[d];
      const DType* from = e.src_.dptr_ + srow * len;
      DType* to = dst.dptr_ + y * len;
      for (index_t x = 0; x < len; ++x) to[x] = from[x];
    }
    return true;
  }
};

}  // namespace umbra::expr

namespace umbra {
using expr::swapaxis;
}  // namespace umbra
