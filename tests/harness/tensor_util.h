// Test helpers shared by every tensor test: seeded random containers, strided (non-contiguous)
// copies, element access by multi-index, and an element-by-element comparison that reports the
// first differing index. Plain reference loops are written in each test, not here.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "umbra/tensor.h"

namespace umbra::test {

/// A container of the given shape filled with uniform values in [lo, hi) from `seed`.
template <int N, typename DType = float>
inline TensorContainer<cpu, N, DType> RandomTensor(const Shape<N>& s, uint64_t seed,
                                                   DType lo = -1, DType hi = 1) {
  TensorContainer<cpu, N, DType> t(s);
  Random<cpu, DType> rnd(seed);
  rnd.SampleUniform(&t, lo, hi);
  return t;
}

/// Storage with `extra` padding columns per row, and a view of shape `s` into it: a
/// non-contiguous tensor (stride_ > shape_[N-1]) with the same values as `src`.
template <int N, typename DType>
struct Strided {
  TensorContainer<cpu, N, DType> storage;
  Tensor<cpu, N, DType> view;
  Strided(const Tensor<cpu, N, DType>& src, index_t extra = 3) {
    Shape<N> big = src.shape_;
    big[N - 1] += extra;
    storage.Resize(big, DType(-777));
    view = storage.SliceLast(0, src.shape_[N - 1]);
    Copy(view, src);
  }
};

/// Element at multi-index (i0, ..., iN-1) of a cpu tensor (any stride).
template <int N, typename DType, typename... I>
inline DType& At(const Tensor<cpu, N, DType>& t, I... idx) {
  static_assert(sizeof...(I) == N);
  const index_t ix[N] = {index_t(idx)...};
  index_t row = 0;
  for (int d = 0; d < N - 1; ++d) row = row * t.shape_[d] + ix[d];
  return t.dptr_[row * t.stride_ + ix[N - 1]];
}

/// Element at a multi-index given as an array of N indices (any stride).
template <int N, typename DType>
inline DType AtIdx(const Tensor<cpu, N, DType>& t, const index_t* idx) {
  index_t row = 0;
  for (int d = 0; d < N - 1; ++d) row = row * t.shape_[d] + idx[d];
  return t.dptr_[row * t.stride_ + idx[N - 1]];
}

/// Asserts t (any stride) equals a row-major reference of the same size within tol.
template <int N, typename DType>
inline void ExpectEqualsRef(const Tensor<cpu, N, DType>& t, const std::vector<double>& ref,
                            double tol) {
  const Shape<2> s = t.shape_.FlatTo2D();
  ASSERT_EQ(index_t(ref.size()), s.Size());
  for (index_t y = 0; y < s[0]; ++y)
    for (index_t x = 0; x < s[1]; ++x)
      ASSERT_NEAR(t.dptr_[y * t.stride_ + x], ref[y * s[1] + x], tol)
          << "at flat row " << y << " col " << x << " of " << t.shape_;
}

/// The message of the umbra::Error that f() throws, or "no error".
template <typename Fn>
inline std::string ErrorOf(Fn f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

/// EXPECT_HAS(text, part): text contains part (gmock's HasSubstr without linking gmock).
#define EXPECT_HAS(text, part)                                                              \
  do {                                                                                      \
    const std::string umbra_text_ = (text), umbra_part_ = (part);                           \
    EXPECT_NE(umbra_text_.find(umbra_part_), std::string::npos)                             \
        << "expected to contain: " << umbra_part_ << "\n                actual: " << umbra_text_; \
  } while (0)

/// Expects equal shapes and |a - b| <= tol * max(1, |b|) everywhere.
template <int N, typename DType>
inline ::testing::AssertionResult AllNear(const Tensor<cpu, N, DType>& a,
                                          const Tensor<cpu, N, DType>& b, double tol = 1e-5) {
  if (a.shape_ != b.shape_)
    return ::testing::AssertionFailure() << "shapes differ: " << a.shape_ << " vs " << b.shape_;
  const Shape<2> s = a.shape_.FlatTo2D();
  for (index_t y = 0; y < s[0]; ++y)
    for (index_t x = 0; x < s[1]; ++x) {
      const double va = a.dptr_[y * a.stride_ + x], vb = b.dptr_[y * b.stride_ + x];
      if (!(std::fabs(va - vb) <= tol * std::max(1.0, std::fabs(vb))))
        return ::testing::AssertionFailure()
               << "differ at flat row " << y << " col " << x << ": " << va << " vs " << vb
               << " (shape " << a.shape_ << ")";
    }
  return ::testing::AssertionSuccess();
}

/// ||a||_2 over every element.
template <int N, typename DType>
inline double Norm(const Tensor<cpu, N, DType>& a) {
  const Shape<2> s = a.shape_.FlatTo2D();
  double n = 0;
  for (index_t y = 0; y < s[0]; ++y)
    for (index_t x = 0; x < s[1]; ++x) n += double(a.dptr_[y * a.stride_ + x]) * double(a.dptr_[y * a.stride_ + x]);
  return std::sqrt(n);
}

/// Expects equal shapes and ||a - b||_2 <= rel * max(||b||_2, floor) (a bound on the whole
/// tensor, for results whose elements carry rounding errors of their terms' size rather than
/// their own; `floor`, a norm of the same terms' size, for a result that nearly cancels, as a
/// bias's gradient summed over outputs of both signs may: its own norm is then that rounding).
template <int N, typename DType>
inline ::testing::AssertionResult NormNear(const Tensor<cpu, N, DType>& a, const Tensor<cpu, N, DType>& b,
                                           double rel, double floor = 0) {
  if (a.shape_ != b.shape_)
    return ::testing::AssertionFailure() << "shapes differ: " << a.shape_ << " vs " << b.shape_;
  const Shape<2> s = a.shape_.FlatTo2D();
  double d = 0, n = 0;
  for (index_t y = 0; y < s[0]; ++y)
    for (index_t x = 0; x < s[1]; ++x) {
      const double va = a.dptr_[y * a.stride_ + x], vb = b.dptr_[y * b.stride_ + x];
      d += (va - vb) * (va - vb);
      n += vb * vb;
    }
  if (std::sqrt(d) <= rel * std::max(std::sqrt(n), floor)) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "L2 distance " << std::sqrt(d) << " over " << rel << " of the reference's "
                                       << std::sqrt(n) << " (floor " << floor << ", shape " << a.shape_ << ")";
}

}  // namespace umbra::test
