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

/// A ziggurat point that fell outside the fast path: r is its 64-bit draw, x its abscissa. The
/// wedge test or the tail decides, drawing from unit() (uniform in [0, 1)); a rejected point is
/// replaced by new draws from bits() (uniform 64-bit integers).
template <typename Bits, typename Unit>
[[gnu::noinline]] double StandardNormalSlow(uint64_t r, double x, Bits& bits, Unit& unit) {
  const Ziggurat& z = Ziggurat::Get();
  for (;;) {
    const int i = int(r & 255);
    const bool neg = (r >> 8) & 1;
    if (i == 0) {  // beyond R: x = R + a with a exponential, kept with probability exp(-a^2/2)
      for (;;) {
        const double a = -std::log(1.0 - unit()) / Ziggurat::kR, b = -std::log(1.0 - unit());
        if (2 * b > a * a) return neg ? -(Ziggurat::kR + a) : Ziggurat::kR + a;
      }
    }
    if (z.f[i] + unit() * (z.f[i + 1] - z.f[i]) < std::exp(-0.5 * x * x)) return neg ? -x : x;
    r = bits();  // rejected: a new point
    const uint64_t j = r >> 12;
    x = double(int64_t(j)) * z.w[r & 255];
    if (j < z.k[r & 255]) return (r >> 8) & 1 ? -x : x;
  }
}

inline constexpr int kNormalBlock = 256;

/// x with bit 8 of r as its sign, by flipping the sign bit: `bit ? -x : x` compiled to a branch
/// that a random sign mispredicts half the time (that alone took the numbers from ~3 to ~8 ns).
inline double WithSign(double x, uint64_t r) {
  return std::bit_cast<double>(std::bit_cast<uint64_t>(x) ^ ((r >> 8 & 1) << 63));
}

/// Fills out[0, m) (m <= kNormalBlock) with standard normal numbers. All m points are drawn
/// first, in a loop that keeps the generator's state in registers, and made into numbers in a
/// second loop with no dependence between iterations; the ~1% that fall outside the fast path are
/// then settled in order, drawing on: the sequence depends on m and the generator's alone.
/// (Drawing and deciding one number at a time, the generator's state went through memory on
/// every number: 7-8 ns a number against ~3.5.) bits/unit draw from `eng` as Random does.
template <typename Engine, typename Bits, typename Unit>
void StandardNormalBlock(double* out, int m, Engine& eng, Bits& bits, Unit& unit) {
  const Ziggurat& z = Ziggurat::Get();
  uint64_t raw[kNormalBlock];
  Engine local = eng;
  for (int k = 0; k < m; ++k) raw[k] = local();
  eng = local;
  int slow[kNormalBlock], nslow = 0;  // the points outside the fast path, listed without a branch
  for (int k = 0; k < m; ++k) {
    const uint64_t r = raw[k], j = r >> 12;
    const int i = int(r & 255);                     // the layer; bit 8 is the sign
    const double x = double(int64_t(j)) * z.w[i];  // j < 2^52: the signed conversion is one instruction
    out[k] = WithSign(x, r);
    slow[nslow] = k;
    nslow += j >= z.k[i];
  }
  for (int s = 0; s < nslow; ++s) {
    const uint64_t r = raw[slow[s]];
    out[slow[s]] = StandardNormalSlow(r, double(int64_t(r >> 12)) * z.w[r & 255], bits, unit);
  }
}

}  // namespace umbra::cpu_random
