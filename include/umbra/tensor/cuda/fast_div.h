// Division of 32-bit unsigned indices by a divisor fixed at launch, as a multiply-high, an add
// and a shift (Granlund and Montgomery's round-up method): GPU kernels that turn a flat index
// into coordinates pay ~4 instructions instead of a ~20-instruction 32-bit division (a 64-bit
// one is several times that). Exact for every n and d in [1, 2^32) (tests/tensor/fast_div_test.cc
// checks it on the host, where MulHi is plain 64-bit arithmetic).
#pragma once

#include <cstdint>

#include "umbra/base.h"

namespace umbra::cuda {

struct FastDiv {
  uint32_t d = 1, m = 1, l = 0;
  FastDiv() = default;
  /// d >= 1.
  explicit FastDiv(uint32_t div) : d(div) {
    while (l < 32 && (uint64_t(1) << l) < div) ++l;  // l = ceil(log2(d))
    m = uint32_t(((uint64_t(1) << 32) * ((uint64_t(1) << l) - div)) / div + 1);
  }
  UMBRA_XINLINE static uint32_t MulHi(uint32_t a, uint32_t b) {
#ifdef __CUDA_ARCH__
    return __umulhi(a, b);
#else
    return uint32_t((uint64_t(a) * b) >> 32);
#endif
  }
  UMBRA_XINLINE uint32_t Div(uint32_t n) const { return uint32_t((uint64_t(MulHi(n, m)) + n) >> l); }
};

/// A plan's division of its indices by a divisor fixed when the plan is made: FastDiv when the
/// divisor and every dividend the plan will see (at most `bound`, which the plan knows from its
/// shapes) fit in 32 bits, else a plain 64-bit division. Device code only, and the emulation
/// build's kernels (which run it on the host to check it): CPU loops keep the plain division,
/// which they hoist out of a row where they can (a max pool over (32,64,56,56) took 3.55 ms with
/// the fast path on the host against 2.6 ms without, g++ 12 -O3).
struct IndexDiv {
  index_t d = 1;
  FastDiv f;
  bool fast = false;
  IndexDiv() = default;
  /// div >= 1; dividends in [0, bound].
  IndexDiv(index_t div, index_t bound) : d(div) {
    constexpr index_t k32 = index_t(1) << 32;
    fast = div >= 1 && div < k32 && bound >= 0 && bound < k32;
    if (fast) f = FastDiv(uint32_t(div));
  }
  UMBRA_XINLINE index_t Div(index_t n) const {
#if defined(__CUDA_ARCH__) || defined(UMBRA_CUDA_EMU)
    if (fast) return index_t(f.Div(uint32_t(n)));
#endif
    return n / d;
  }
};

}  // namespace umbra::cuda
