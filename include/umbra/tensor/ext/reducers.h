// Reducers used by reductions (sumall_except_dim, reduce_with_axis), pooling and channel pooling.
// A reducer has Init() (the identity), Reduce(acc, v), Merge(acc, other) for tree reductions, and
// PartialGrad(result, input): d result / d input, used by unpool/ch_unpool (1 for sum; for
// maximum 1 where the input equals the maximum), and kFirstOnly: whether unpool gives a window's
// gradient to its first such input alone (maximum: yes, as cuDNN, Caffe and PyTorch do, so that
// umbra's CPU, expression and cuDNN paths train alike; mshadow gave it to every tied input).
// ch_unpool still gives channel-max ties all of it (no layer pools channels by maximum).
// A NaN is the maximum of any window holding one, and its first NaN takes the gradient, as in
// PyTorch: a max pooling that skipped NaN cells hid a diverged layer from the loss (a window of
// NaNs gave -inf, a relu made it 0, and the loss stayed finite while the weights were NaN).
#pragma once

#include <limits>

#include "umbra/base.h"

namespace umbra::red {

struct sum {
  template <typename DType>
  UMBRA_XINLINE static DType Init() { return DType(0); }
  template <typename DType>
  UMBRA_XINLINE static void Reduce(DType& acc, DType v) { acc += v; }
  template <typename DType>
  UMBRA_XINLINE static void Merge(DType& acc, DType v) { acc += v; }
  template <typename DType>
  UMBRA_XINLINE static DType PartialGrad(DType, DType) { return DType(1); }
  static constexpr bool kFirstOnly = false;
  static constexpr const char* kName = "sum";
};

struct maximum {
  template <typename DType>
  UMBRA_XINLINE static DType Init() { return -std::numeric_limits<DType>::infinity(); }
  template <typename DType>
  UMBRA_XINLINE static void Reduce(DType& acc, DType v) { acc = v > acc || v != v ? v : acc; }
  template <typename DType>
  UMBRA_XINLINE static void Merge(DType& acc, DType v) { acc = v > acc || v != v ? v : acc; }
  template <typename DType>
  UMBRA_XINLINE static DType PartialGrad(DType result, DType v) {
    return result == v || (result != result && v != v) ? DType(1) : DType(0);
  }
  static constexpr bool kFirstOnly = true;
  static constexpr const char* kName = "maximum";
};

}  // namespace umbra::red
