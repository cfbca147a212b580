// dot(): matrix products as complex expressions, evaluated by BLAS (cpu/blas.h) or cuBLAS
// (cuda/blas.h) with the saver folded into alpha/beta (=: beta 0, +=: beta 1, -=: alpha -s).
//   dot(A(m,k), B(k,n)) -> (m,n)    gemm; .T() on either side selects the transposed operand
//   dot(A(m,k), x(k))   -> (m)      gemv (A may be A.T())
//   dot(x(k), B(k,n))   -> (n)      gemv with the transposed matrix (B may be B.T())
//   dot(x.T(), y)       -> (m,n)    outer product x y^T of two 1-D tensors
// `scale * dot(...)` and `dot(...) * scale` fold the scale into alpha. Operands must be tensors
// (strided rows allowed); dot() must be the whole right-hand side of its statement.
#pragma once

#include <type_traits>

#include "umbra/tensor/blas_sizes.h"
#include "umbra/tensor/cpu/blas.h"
#include "umbra/tensor/engine.h"

#if defined(UMBRA_USE_CUDA) && UMBRA_USE_CUDA
#include "umbra/tensor/cuda/blas.h"
#endif

namespace umbra::expr {

template <typename TA, typename TB, bool ltrans, bool rtrans, typename DType>
struct DotExp : public Exp<DotExp<TA, TB, ltrans, rtrans, DType>, DType, kComplex> {
  static_assert((TA::kDevMask & TB::kDevMask) != 0, "umbra: dot() of tensors on different devices");
  static constexpr int kDevMask = TA::kDevMask & TB::kDevMask;
  static constexpr int kDim = (TA::kDim == 2 && TB::kDim == 2) || (TA::kDim == 1 && TB::kDim == 1)
                                  ? 2
                                  : 1;
  static constexpr bool kFlat = false;
  TA lhs_;
  TB rhs_;
  DType scale_;
  DotExp(const TA& l, const TB& r, DType s) : lhs_(l), rhs_(r), scale_(s) {}
};

template <typename Device, int ld, int rd, typename DType>
inline auto dot(const Tensor<Device, ld, DType>& a, const Tensor<Device, rd, DType>& b) {
  static_assert(!(ld == 1 && rd == 1),
                "umbra: dot(x, y) of two 1-D tensors is ambiguous; use dot(x.T(), y) for the outer "
                "product");
  return DotExp<Tensor<Device, ld, DType>, Tensor<Device, rd, DType>, false, false, DType>(a, b, 1);
}
template <typename Device, int ld, int rd, typename DType>
inline auto dot(const TransposeExp<Tensor<Device, ld, DType>, DType>& a,
                const Tensor<Device, rd, DType>& b) {
  return DotExp<Tensor<Device, ld, DType>, Tensor<Device, rd, DType>, true, false, DType>(a.exp_, b,
                                                                                          1);
}
template <typename Device, int ld, int rd, typename DType>
inline auto dot(const Tensor<Device, ld, DType>& a,
                const TransposeExp<Tensor<Device, rd, DType>, DType>& b) {
  static_assert(rd == 2, "umbra: .T() of the 1-D right operand of dot() means nothing");
  return DotExp<Tensor<Device, ld, DType>, Tensor<Device, rd, DType>, false, true, DType>(a, b.exp_,
                                                                                          1);
}
template <typename Device, int ld, int rd, typename DType>
inline auto dot(const TransposeExp<Tensor<Device, ld, DType>, DType>& a,
                const TransposeExp<Tensor<Device, rd, DType>, DType>& b) {
  static_assert(ld == 2 && rd == 2, "umbra: dot(a.T(), b.T()) needs two 2-D tensors");
  return DotExp<Tensor<Device, ld, DType>, Tensor<Device, rd, DType>, true, true, DType>(
      a.exp_, b.exp_, 1);
}
template <typename TA, typename TB, bool lt, bool rt, typename DType>
inline DotExp<TA, TB, lt, rt, DType> operator*(const DotExp<TA, TB, lt, rt, DType>& e,
                                               std::type_identity_t<DType> s) {
  return DotExp<TA, TB, lt, rt, DType>(e.lhs_, e.rhs_, e.scale_ * s);
}
template <typename TA, typename TB, bool lt, bool rt, typename DType>
inline DotExp<TA, TB, lt, rt, DType> operator*(std::type_identity_t<DType> s,
                                               const DotExp<TA, TB, lt, rt, DType>& e) {
  return DotExp<TA, TB, lt, rt, DType>(e.lhs_, e.rhs_, e.scale_ * s);
}

/// Rows/cols of op(T) for a 2-D tensor.
template <typename T>
inline index_t OpRows(const T& t, bool trans) { return trans ? t.shape_[1] : t.shape_[0]; }
template <typename T>
inline index_t OpCols(const T& t, bool trans) { return trans ? t.shape_[0] : t.shape_[1]; }

template <typename SV, typename Device, int dd, int ld, int rd, bool lt, bool rt, typename DType>
struct ComplexEngine<SV, Tensor<Device, dd, DType>,
                     DotExp<Tensor<Device, ld, DType>, Tensor<Device, rd, DType>, lt, rt, DType>> {
  using Dst = Tensor<Device, dd, DType>;
  using E = DotExp<Tensor<Device, ld, DType>, Tensor<Device, rd, DType>, lt, rt, DType>;
  static_assert(std::is_same_v<SV, sv::saveto> || std::is_same_v<SV, sv::plusto> ||
                    std::is_same_v<SV, sv::minusto>,
                "umbra: dot() supports =, += and -= only");
  static_assert(dd == E::kDim, "umbra: dot() result has another number of dimensions than its destination");

  static void Eval(Dst* dst, const E& e) {
    const DType alpha = std::is_same_v<SV, sv::minusto> ? -e.scale_ : e.scale_;
    const DType beta = std::is_same_v<SV, sv::saveto> ? DType(0) : DType(1);
    const auto& a = e.lhs_;
    const auto& b = e.rhs_;
    if constexpr (ld == 2 && rd == 2) {
      const index_t m = OpRows(a, lt), k = OpCols(a, lt), n = OpCols(b, rt);
      UMBRA_CHECK(OpRows(b, rt) == k && dst->shape_ == Shape2(m, n), "dot: shape mismatch: ",
                  a.shape_, (lt ? ".T()" : ""), " x ", b.shape_, (rt ? ".T()" : ""), " -> ",
                  dst->shape_);
      if (Trivial(dst, m * n, k)) return;
      Gemm(dst, e, lt, rt, m, n, k, alpha, a.dptr_, a.stride_, b.dptr_, b.stride_, beta);
    } else if constexpr (ld == 2 && rd == 1) {
      const index_t m = OpRows(a, lt), k = OpCols(a, lt);
      UMBRA_CHECK(b.shape_[0] == k && dst->shape_[0] == m, "dot: shape mismatch: ", a.shape_,
                  (lt ? ".T()" : ""), " x ", b.shape_, " -> ", dst->shape_);
      if (Trivial(dst, m, k)) return;
      Gemv(dst, e, lt, a.shape_[0], a.shape_[1], alpha, a.dptr_, a.stride_, b.dptr_, beta);
    } else if constexpr (ld == 1 && rd == 2) {
      // x^T op(B) = (op(B)^T x)^T: a gemv with the opposite transpose flag.
      const index_t k = OpRows(b, rt), n = OpCols(b, rt);
      UMBRA_CHECK(a.shape_[0] == k && dst->shape_[0] == n, "dot: shape mismatch: ", a.shape_,
                  " x ", b.shape_, (rt ? ".T()" : ""), " -> ", dst->shape_);
      if (Trivial(dst, n, k)) return;
      Gemv(dst, e, !rt, b.shape_[0], b.shape_[1], alpha, b.dptr_, b.stride_, a.dptr_, beta);
    } else {
      static_assert(lt, "umbra: the outer product is written dot(x.T(), y)");
      const index_t m = a.shape_[0], n = b.shape_[0];
      UMBRA_CHECK(dst->shape_ == Shape2(m, n), "dot: outer product of ", a.shape_, " and ",
                  b.shape_, " does not fit ", dst->shape_);
      if (Trivial(dst, m * n, 1)) return;
      // A (m,1) times B (1,n): a rank-1 GEMM keeps every saver (BLAS ger would only accumulate).
      Gemm(dst, e, false, false, m, n, 1, alpha, a.dptr_, 1, b.dptr_, n, beta);
    }
  }

 private:
  // Whether two tensors may share an element (alias.h Meet: column blocks of one matrix are apart).
  template <typename T>
  static bool Overlaps(const Dst& d, const T& t) {
    return Meet(RegionOf(d), RegionOf(t));
  }
  // Empty products: nothing to compute; `=` with k == 0 means zeros.
  static bool Trivial(Dst* dst, index_t out, index_t k) {
    if (out == 0) return true;
    if (k == 0) {
      if constexpr (std::is_same_v<SV, sv::saveto>) Fill(*dst, DType(0));
      return true;
    }
    return false;
  }
  // BLAS writes C while it reads A and B: a = dot(a, b) gave zeros, unsaid. (After the sizes'
  // check: a stride past int reaches over other tensors, and that error is the one to give.)
  static void CheckApart(const Dst* dst, const E& e) {
    UMBRA_CHECK(!Overlaps(*dst, e.lhs_) && !Overlaps(*dst, e.rhs_), "dot: the destination ", dst->shape_,
                " shares memory with an operand (", e.lhs_.shape_, " x ", e.rhs_.shape_,
                "); write the product to another tensor");
  }
  static void Gemm(Dst* dst, const E& e, bool ta, bool tb, index_t m, index_t n, index_t k, DType alpha,
                   const DType* a, index_t lda, const DType* b, index_t ldb, DType beta) {
    CheckBlasSizes("dot: a", m, n, k, lda, ldb, dst->stride_);
    CheckApart(dst, e);
    if constexpr (Device::kDevCPU) {
      blas::Gemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, dst->dptr_, dst->stride_);
    } else {
#if defined(UMBRA_USE_CUDA) && UMBRA_USE_CUDA
      cuda::Gemm(Stream<gpu>::GetBlasHandle(dst->stream_), ta, tb, m, n, k, alpha, a, lda, b, ldb,
                 beta, dst->dptr_, dst->stride_);
#endif
    }
  }
  static void Gemv(Dst* dst, const E& e, bool ta, index_t m, index_t n, DType alpha, const DType* a,
                   index_t lda, const DType* x, DType beta) {
    CheckBlasSizes("dot: a", m, n, 1, lda, 1, 1);
    CheckApart(dst, e);
    if constexpr (Device::kDevCPU) {
      blas::Gemv(ta, m, n, alpha, a, lda, x, beta, dst->dptr_);
    } else {
#if defined(UMBRA_USE_CUDA) && UMBRA_USE_CUDA
      cuda::Gemv(Stream<gpu>::GetBlasHandle(dst->stream_), ta, m, n, alpha, a, lda, x, beta,
                 dst->dptr_);
#endif
    }
  }
};

}  // namespace umbra::expr

namespace umbra {
using expr::dot;
}  // namespace umbra
