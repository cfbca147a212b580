// Shape<N>: the extent of an N-dimensional tensor, row-major, last dimension fastest.
// A plain value type usable in host and device code. Expressions flatten any shape to 2-D
// (rows = product of all but the last dimension, cols = last dimension); see FlatTo2D.
#pragma once

#include <ostream>
#include <sstream>
#include <string>

#include "umbra/base.h"

namespace umbra {

template <int N>
struct Shape {
  static_assert(N >= 1, "Shape needs at least one dimension");
  static constexpr int kDim = N;
  static constexpr int kSubDim = N - 1;
  index_t shape_[N] = {};

  UMBRA_XINLINE index_t& operator[](int i) { return shape_[i]; }
  UMBRA_XINLINE const index_t& operator[](int i) const { return shape_[i]; }

  /// Number of elements.
  UMBRA_XINLINE index_t Size() const {
    index_t s = 1;
    for (int i = 0; i < N; ++i) s *= shape_[i];
    return s;
  }
  /// Product of dimensions [begin, end).
  UMBRA_XINLINE index_t ProdShape(int begin, int end) const {
    index_t s = 1;
    for (int i = begin; i < end; ++i) s *= shape_[i];
    return s;
  }
  /// The 2-D view every expression is evaluated on: (all but last, last).
  UMBRA_XINLINE Shape<2> FlatTo2D() const;
  /// Dimensions 1..N-1 (the shape of one element of the first dimension).
  UMBRA_XINLINE Shape<(N > 1 ? N - 1 : 1)> SubShape() const {
    Shape<(N > 1 ? N - 1 : 1)> s;
    if constexpr (N == 1) {
      s[0] = 1;
    } else {
      for (int i = 1; i < N; ++i) s[i - 1] = shape_[i];
    }
    return s;
  }
  UMBRA_XINLINE bool operator==(const Shape<N>& o) const {
    for (int i = 0; i < N; ++i)
      if (shape_[i] != o.shape_[i]) return false;
    return true;
  }
  UMBRA_XINLINE bool operator!=(const Shape<N>& o) const { return !(*this == o); }

  std::string ToString() const {
    std::ostringstream os;
    os << *this;
    return os.str();
  }
  friend std::ostream& operator<<(std::ostream& os, const Shape<N>& s) {
    os << '(';
    for (int i = 0; i < N; ++i) os << (i ? "," : "") << s.shape_[i];
    return os << ')';
  }
};

template <int N>
UMBRA_XINLINE Shape<2> Shape<N>::FlatTo2D() const {
  Shape<2> s;
  s[1] = shape_[N - 1];
  s[0] = ProdShape(0, N - 1);
  return s;
}

UMBRA_XINLINE Shape<1> Shape1(index_t s0) {
  Shape<1> s;
  s[0] = s0;
  return s;
}
UMBRA_XINLINE Shape<2> Shape2(index_t s0, index_t s1) {
  Shape<2> s;
  s[0] = s0, s[1] = s1;
  return s;
}
UMBRA_XINLINE Shape<3> Shape3(index_t s0, index_t s1, index_t s2) {
  Shape<3> s;
  s[0] = s0, s[1] = s1, s[2] = s2;
  return s;
}
UMBRA_XINLINE Shape<4> Shape4(index_t s0, index_t s1, index_t s2, index_t s3) {
  Shape<4> s;
  s[0] = s0, s[1] = s1, s[2] = s2, s[3] = s3;
  return s;
}
UMBRA_XINLINE Shape<5> Shape5(index_t s0, index_t s1, index_t s2, index_t s3, index_t s4) {
  Shape<5> s;
  s[0] = s0, s[1] = s1, s[2] = s2, s[3] = s3, s[4] = s4;
  return s;
}

}  // namespace umbra
