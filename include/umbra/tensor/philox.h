// Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC 2011): a
// counter-based generator, four 32-bit numbers from a 128-bit counter and a 64-bit key in ten
// rounds of multiplies and xors, no state. Random<gpu>'s uniform numbers come from it (random.h):
// element i of a draw is a function of the seed and (the draw's first counter + i / 4), both
// read from device memory, so a CUDA graph that replays a draw reads a new counter each time
// and draws new numbers, where a host-side generator's captured call would repeat its numbers
// on every replay. Host and device (the known-answer test runs on the CPU).
#pragma once

#include <cstdint>

#include "umbra/base.h"

namespace umbra::philox {

/// out = Philox4x32-10(counter, key): the Random123 reference's function (its known-answer
/// vectors are the test's).
UMBRA_XINLINE void Block(const uint32_t counter[4], const uint32_t key[2], uint32_t out[4]) {
  constexpr uint32_t kM0 = 0xD2511F53u, kM1 = 0xCD9E8D57u;  // round multipliers
  constexpr uint32_t kW0 = 0x9E3779B9u, kW1 = 0xBB67AE85u;  // key schedule (golden ratio, sqrt 3)
  uint32_t c0 = counter[0], c1 = counter[1], c2 = counter[2], c3 = counter[3];
  uint32_t k0 = key[0], k1 = key[1];
  for (int round = 0; round < 10; ++round) {
    const uint64_t p0 = uint64_t(kM0) * c0, p1 = uint64_t(kM1) * c2;
    const uint32_t hi0 = uint32_t(p0 >> 32), lo0 = uint32_t(p0), hi1 = uint32_t(p1 >> 32), lo1 = uint32_t(p1);
    c0 = hi1 ^ c1 ^ k0, c1 = lo1, c2 = hi0 ^ c3 ^ k1, c3 = lo0;
    k0 += kW0, k1 += kW1;
  }
  out[0] = c0, out[1] = c1, out[2] = c2, out[3] = c3;
}

/// The four numbers of counter `n` (a 64-bit count: the high half of Philox's counter is 0)
/// under a 64-bit seed.
UMBRA_XINLINE void Numbers(uint64_t seed, uint64_t n, uint32_t out[4]) {
  const uint32_t counter[4] = {uint32_t(n), uint32_t(n >> 32), 0, 0};
  const uint32_t key[2] = {uint32_t(seed), uint32_t(seed >> 32)};
  Block(counter, key, out);
}

/// [0, 1) from 24 random bits: every float of the form k / 2^24, none rounded up to 1.
UMBRA_XINLINE float UnitFloat(uint32_t r) { return float(r >> 8) * (1.0f / 16777216.0f); }
/// [0, 1) from 53 random bits of two numbers.
UMBRA_XINLINE double UnitDouble(uint32_t hi, uint32_t lo) {
  return double(((uint64_t(hi) << 32) | lo) >> 11) * (1.0 / 9007199254740992.0);
}

}  // namespace umbra::philox
