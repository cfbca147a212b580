// Ready-made functors for F<op>(...): each is a struct with one UMBRA_XINLINE static Map, the same
// body for the CPU loop and the CUDA kernel. Write your own the same way; layers add theirs next
// to the layer. Gradient forms take the forward output (or input, as named).
#pragma once

#include <cmath>

#include "umbra/base.h"

namespace umbra::math {
// Host/device maths for float and double: ::expf etc. on the device, std:: on the host.
#ifdef __CUDA_ARCH__
#define UMBRA_MATH1_(Name, f32, f64)                                  \
  UMBRA_XINLINE float Name(float a) { return ::f32(a); }            \
  UMBRA_XINLINE double Name(double a) { return ::f64(a); }
#else
#define UMBRA_MATH1_(Name, f32, f64)                                  \
  UMBRA_XINLINE float Name(float a) { return std::f64(a); }         \
  UMBRA_XINLINE double Name(double a) { return std::f64(a); }
#endif
UMBRA_MATH1_(Exp, expf, exp)
UMBRA_MATH1_(Log, logf, log)
// log(1 + a) and exp(a) - 1 without the cancellation of writing them out, for a near 0.
UMBRA_MATH1_(Log1p, log1pf, log1p)
UMBRA_MATH1_(Expm1, expm1f, expm1)
UMBRA_MATH1_(Sqrt, sqrtf, sqrt)
UMBRA_MATH1_(Tanh, tanhf, tanh)
#undef UMBRA_MATH1_
#ifdef __CUDA_ARCH__
UMBRA_XINLINE float Pow(float a, float b) { return ::powf(a, b); }
UMBRA_XINLINE double Pow(double a, double b) { return ::pow(a, b); }
#else
UMBRA_XINLINE float Pow(float a, float b) { return std::pow(a, b); }
UMBRA_XINLINE double Pow(double a, double b) { return std::pow(a, b); }
#endif
}  // namespace umbra::math

namespace umbra::op {

/// max(a, 0), a NaN staying NaN (as PyTorch's relu), so that a diverged layer before a relu shows
/// in the loss rather than as units stuck at 0 with finite losses; -0 gives +0.
struct relu {
  template <typename DType>
  UMBRA_XINLINE static DType Map(DType a) { return a <= DType(0) ? DType(0) : a; }
};
/// d relu / dx from the forward output.
struct relu_grad {
  template <typename DType>
  UMBRA_XINLINE static DType Map(DType a) { return a > DType(0) ? DType(1) : DType(0); }
};
struct sigmoid {
  template <typename DType>
  UMBRA_XINLINE static DType Map(DType a) { return DType(1) / (DType(1) + math::Exp(-a)); }
};
/// d sigmoid / dx from the forward output y: y (1 - y).
struct sigmoid_grad {
  template <typename DType>
  UMBRA_XINLINE static DType Map(DType y) { return y * (DType(1) - y); }
};
struct tanh {
  template <typename DType>
  UMBRA_XINLINE static DType Map(DType a) { return math::Tanh(a); }
};
/// d tanh / dx from the forward output y: 1 - y^2.
struct tanh_grad {
  template <typename DType>
  UMBRA_XINLINE static DType Map(DType y) { return DType(1) - y * y; }
};
struct exp {
  template <typename DType>
  UMBRA_XINLINE static DType Map(DType a) { return math::Exp(a); }
};
struct log {
  template <typename DType>
  UMBRA_XINLINE static DType Map(DType a) { return math::Log(a); }
};
struct sqrt {
  template <typename DType>
  UMBRA_XINLINE static DType Map(DType a) { return math::Sqrt(a); }
};
struct square {
  template <typename DType>
  UMBRA_XINLINE static DType Map(DType a) { return a * a; }
};
struct abs {
  template <typename DType>
  UMBRA_XINLINE static DType Map(DType a) { return a < DType(0) ? -a : a; }
};
struct maximum {
  template <typename DType>
  UMBRA_XINLINE static DType Map(DType a, DType b) { return a > b ? a : b; }
};
struct minimum {
  template <typename DType>
  UMBRA_XINLINE static DType Map(DType a, DType b) { return a < b ? a : b; }
};
struct power {
  template <typename DType>
  UMBRA_XINLINE static DType Map(DType a, DType b) { return math::Pow(a, b); }
};
/// 1 where a > b, else 0 (masks, e.g. dropout with a uniform tensor).
struct threshold {
  template <typename DType>
  UMBRA_XINLINE static DType Map(DType a, DType b) { return a > b ? DType(1) : DType(0); }
};

}  // namespace umbra::op
