// cuda::FastDiv against the division operator on the host (the device differs only in using
// __umulhi for the same 32x32 -> high-32 product): edge divisors and dividends, and random ones.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

#include "umbra/tensor/cuda/fast_div.h"

namespace umbra {
namespace {

TEST(FastDiv, ExactForEdgeAndRandomValues) {
  const uint32_t big = 0xffffffffu;
  std::vector<uint32_t> ds = {1, 2, 3, 5, 6, 7, 49, 56, 3136, 6272, 12544, 65535, 65536, 65537,
                              (1u << 31) - 1, 1u << 31, (1u << 31) + 1, big - 1, big};
  std::vector<uint32_t> ns = {0, 1, 2, 3, 6, 7, 8, 55, 56, 57, 3135, 3136, 1u << 16, (1u << 31) - 1, 1u << 31,
                              big - 1, big};
  std::mt19937 rng(7);
  for (int i = 0; i < 200; ++i) ds.push_back(std::max(1u, uint32_t(rng()) >> (rng() % 32)));
  for (int i = 0; i < 200; ++i) ns.push_back(uint32_t(rng()) >> (rng() % 32));
  for (uint32_t d : ds) {
    const cuda::FastDiv f(d);
    for (uint32_t n : ns) ASSERT_EQ(f.Div(n), n / d) << n << " / " << d;
    // Around multiples of d, where rounding errors would show.
    for (uint64_t k : {uint64_t(1), uint64_t(2), uint64_t(big / d)}) {
      const uint64_t q = k * d;
      for (int64_t e = -1; e <= 1; ++e) {
        const int64_t n = int64_t(q) + e;
        if (n < 0 || n > int64_t(big)) continue;
        ASSERT_EQ(f.Div(uint32_t(n)), uint32_t(n) / d) << n << " / " << d;
      }
    }
  }
}

// IndexDiv takes the 32-bit path only when the divisor and the plan's largest dividend fit;
// either way it divides exactly (the 32-bit path runs in device code and the emulation build).
TEST(IndexDiv, FastOnlyWithin32BitsAndExactEither) {
  const index_t k32 = index_t(1) << 32;
  EXPECT_TRUE(cuda::IndexDiv(56, k32 - 1).fast);
  EXPECT_FALSE(cuda::IndexDiv(56, k32).fast);
  EXPECT_TRUE(cuda::IndexDiv(k32 - 1, 5).fast);
  EXPECT_FALSE(cuda::IndexDiv(k32, 5).fast);
  EXPECT_FALSE(cuda::IndexDiv(0, 5).fast);  // an empty dimension: never divided by
  for (index_t d : {index_t(1), index_t(3), index_t(56), index_t(3136), k32 - 1, k32 + 7})
    for (index_t bound : {index_t(1000), k32 - 1, 3 * k32}) {
      const cuda::IndexDiv div(d, bound);
      for (index_t n : {index_t(0), index_t(1), d - 1, d, d + 1, bound / 2, bound - 1, bound})
        if (n >= 0 && n <= bound) ASSERT_EQ(div.Div(n), n / d) << n << " / " << d << " (bound " << bound << ")";
    }
}

}  // namespace
}  // namespace umbra
