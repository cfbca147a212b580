// Standard normal numbers on the host by Marsaglia and Tsang's ziggurat (2000), 256 layers:
// one 64-bit draw, a multiply and a comparison make about 99% of the numbers, where Box-Muller
// spent a logarithm, a sine and a cosine on every two. With xoshiro256** (xoshiro.h) and the
// numbers made in blocks, a float takes ~3.5 ns here against ~28 before; building AlexNet (61M
// kaiming-initialised weights) went from 1.7 to ~0.45 s (bench_train --setup; bench/RESULTS.md).
//
// The half-normal density f(x) = exp(-x^2/2) is covered by 256 horizontal layers of equal area V:
// layer 0 is the base strip [0, R] x [0, f(R)] together with the tail beyond R; layer i >= 1 the
// rectangle [0, x_i] x [f(x_i), f(x_{i+1})], with x_1 = R > x_2 > ... > x_256 = 0. A point drawn
// uniformly in a uniformly chosen layer is uniform in the union; the points under f are kept, and
// their abscissa, with a random sign, is normal. Points left of x_{i+1} are under f whatever
// their height (the fast path); the rest are tested against f (the wedge) or, in layer 0, drawn
// from the tail by Marsaglia's exponential method.
#pragma once

#include <bit>
#include <cmath>
#include <cstdint>

#include "umbra/tensor/cpu/xoshiro.h"

namespace umbra::cpu_random {

struct Ziggurat {
  static constexpr int kLayers = 256;
  // R closes the 256 layers at x = 0 (the published constant); V follows from it.
  static constexpr double kR = 3.6541528853610088;
  double w[kLayers];      // x_i / 2^52: a 52-bit integer times w[i] is uniform on [0, x_i)
  uint64_t k[kLayers];    // x_{i+1} / x_i * 2^52: below it, the fast path's point is under f
  double f[kLayers + 1];  // f(x_i)

  Ziggurat() {
    auto dens = [](double x) { return std::exp(-0.5 * x * x); };
    const double v = kR * dens(kR) + std::sqrt(M_PI / 2) * std::erfc(kR / std::sqrt(2.0));
    double x[kLayers + 1];
    x[0] = v / dens(kR);  // layer 0's width: its area V includes the tail
    x[1] = kR;
    for (int i = 1; i < kLayers - 1; ++i) x[i + 1] = std::sqrt(-2 * std::log(std::fmin(1.0, v / x[i] + dens(x[i]))));
    x[kLayers] = 0;
    const double two52 = 4503599627370496.0;
    for (int i = 0; i < kLayers; ++i) {
      w[i] = x[i] / two52;
      k[i] = uint64_t(x[i + 1] / x[i] * two52);
    }
    for (int i = 0; i <= kLayers; ++i) f[i] = dens(x[i]);
  }
  static const Ziggurat& Get() {
    static const Ziggurat z;
    return z;
  }
};

inline constexpr int kNormalBlock = 256;

/// A 64-bit draw r makes a point: bits 0-7 its layer, bit 8 its sign, bits 12-63 its place
/// along the layer. Its abscissa:
inline double Abscissa(const Ziggurat& z, uint64_t r) { return double(int64_t(r >> 12)) * z.w[r & 255]; }
/// Whether the point is under f whatever its height (the fast path).
inline bool UnderF(const Ziggurat& z, uint64_t r) { return (r >> 12) < z.k[r & 255]; }
/// x with r's sign bit, by flipping the double's sign bit: `bit ? -x : x` compiled to a branch
/// that a random sign mispredicts half the time (that alone took the numbers from ~3 to ~8 ns).
inline double WithSign(double x, uint64_t r) {
  return std::bit_cast<double>(std::bit_cast<uint64_t>(x) ^ ((r >> 8 & 1) << 63));
}

/// The number for a point r outside the fast path: the wedge test or the tail decides; a
/// rejected point is replaced by new draws from eng, until one is kept.
template <typename Engine>
[[gnu::noinline]] double StandardNormalSlow(uint64_t r, Engine& eng) {
  const Ziggurat& z = Ziggurat::Get();
  auto unit = [&eng] { return UnitOf(eng()); };
  for (;;) {
    const int i = int(r & 255);
    if (i == 0) {  // beyond R: R + a with a exponential, kept with probability exp(-a^2/2)
      for (;;) {
        const double a = -std::log(1.0 - unit()) / Ziggurat::kR, b = -std::log(1.0 - unit());
        if (2 * b > a * a) return WithSign(Ziggurat::kR + a, r);
      }
    }
    const double x = Abscissa(z, r);
    if (z.f[i] + unit() * (z.f[i + 1] - z.f[i]) < std::exp(-0.5 * x * x)) return WithSign(x, r);
    r = eng();  // rejected: a new point
    if (UnderF(z, r)) return WithSign(Abscissa(z, r), r);
  }
}

/// Fills out[0, m) (m <= kNormalBlock) with standard normal numbers drawn from eng. All m points
/// are drawn first, in a loop that keeps the generator's state in registers, and made into
/// numbers in a second loop with no dependence between iterations; the ~1% that fall outside the
/// fast path are then settled in order, drawing on: the sequence depends on m and the
/// generator's alone. (Drawing and deciding one number at a time, the generator's state went
/// through memory on every number: 7-8 ns a number against ~3.5.)
template <typename Engine>
void StandardNormalBlock(double* out, int m, Engine& eng) {
  const Ziggurat& z = Ziggurat::Get();
  uint64_t raw[kNormalBlock];
  Engine local = eng;
  for (int k = 0; k < m; ++k) raw[k] = local();
  eng = local;
  int slow[kNormalBlock], nslow = 0;  // the points outside the fast path, listed without a branch
  for (int k = 0; k < m; ++k) {
    out[k] = WithSign(Abscissa(z, raw[k]), raw[k]);
    slow[nslow] = k;
    nslow += !UnderF(z, raw[k]);
  }
  for (int s = 0; s < nslow; ++s) out[slow[s]] = StandardNormalSlow(raw[slow[s]], eng);
}

}  // namespace umbra::cpu_random
