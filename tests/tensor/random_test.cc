// Random<cpu>: moments of uniform and gaussian samples, the normal law, bounds, and reproducibility from a seed
// (independent of thread count, and of strided destinations); Philox4x32-10 (Random<gpu>'s uniform numbers) against
// the reference's known answers.
#include <cmath>
#include <vector>

#include "harness/tensor_util.h"
#include "umbra/tensor/philox.h"

namespace umbra {
namespace {

template <int N>
std::pair<double, double> Moments(const Tensor<cpu, N, float>& t) {
  double s = 0, s2 = 0;
  const index_t n = t.Size();
  for (index_t i = 0; i < n; ++i) s += t.dptr_[i], s2 += double(t.dptr_[i]) * t.dptr_[i];
  const double m = s / n;
  return {m, s2 / n - m * m};
}

TEST(Random, UniformMomentsAndBounds) {
  TensorContainer<cpu, 2> t(Shape2(1000, 1000));
  Random<cpu> rnd(42);
  rnd.SampleUniform(&t, -2.f, 4.f);
  auto [m, v] = Moments(t.view());
  EXPECT_NEAR(m, 1.0, 0.01);
  EXPECT_NEAR(v, 36.0 / 12.0, 0.01);
  for (index_t i = 0; i < t.Size(); ++i) {
    ASSERT_GE(t.dptr_[i], -2.f);
    ASSERT_LT(t.dptr_[i], 4.f);
  }
}

TEST(Random, GaussianMoments) {
  TensorContainer<cpu, 1> t(Shape1(1000001));
  Random<cpu> rnd(7);
  rnd.SampleGaussian(&t, 3.f, 0.5f);
  auto [m, v] = Moments(t.view());
  EXPECT_NEAR(m, 3.0, 0.003);
  EXPECT_NEAR(v, 0.25, 0.003);
  index_t within = 0;  // 68.27% within one sigma
  for (index_t i = 0; i < t.Size(); ++i) within += std::fabs(t.dptr_[i] - 3) < 0.5;
  EXPECT_NEAR(double(within) / t.Size(), 0.6827, 0.003);
}

// The ziggurat's layers, wedges and tail together give the normal law: a chi-square over 80 bins
// of width 0.1 in [-4, 4] plus both tails (a layer boundary off by a little shows as a step in
// the histogram), and the counts beyond the ziggurat's R = 3.654 (its tail algorithm) and 4.5.
TEST(Random, GaussianFollowsTheNormalLaw) {
  const index_t n = 4000000;
  TensorContainer<cpu, 1, double> t(Shape1(n));
  Random<cpu, double> rnd(11);
  rnd.SampleGaussian(&t);
  auto cdf = [](double x) { return 0.5 * std::erfc(-x / std::sqrt(2.0)); };
  std::vector<double> count(82, 0);  // [0]: below -4, [81]: from 4 on
  index_t beyond_r = 0, beyond_45 = 0;
  for (index_t i = 0; i < n; ++i) {
    const double x = t.dptr_[i];
    ++count[x < -4 ? 0 : x >= 4 ? 81 : 1 + std::min<index_t>(79, index_t((x + 4) * 10))];
    beyond_r += std::fabs(x) > 3.6541528853610088;
    beyond_45 += std::fabs(x) > 4.5;
  }
  double chi2 = 0;
  for (int b = 0; b < 82; ++b) {
    const double lo = b == 0 ? -INFINITY : -4 + (b - 1) * 0.1, hi = b == 81 ? INFINITY : -4 + b * 0.1;
    const double want = n * (cdf(hi) - cdf(lo));
    chi2 += (count[b] - want) * (count[b] - want) / want;
  }
  EXPECT_LT(chi2, 140) << "81 degrees of freedom: 140 is p ~ 1e-4";
  const double want_r = n * 2 * (1 - cdf(3.6541528853610088)), want_45 = n * 2 * (1 - cdf(4.5));
  EXPECT_NEAR(double(beyond_r), want_r, 5 * std::sqrt(want_r));    // ~1,032
  EXPECT_NEAR(double(beyond_45), want_45, 5 * std::sqrt(want_45) + 1);  // ~27
}

TEST(Random, ReproducibleFromSeed) {
  TensorContainer<cpu, 2> a(Shape2(10, 10)), b(Shape2(10, 10)), c(Shape2(10, 10));
  Random<cpu> r1(5), r2(5), r3(6);
  r1.SampleGaussian(&a);
  r2.SampleGaussian(&b);
  r3.SampleGaussian(&c);
  EXPECT_TRUE(test::AllNear(a.view(), b.view(), 0));
  EXPECT_FALSE(test::AllNear(a.view(), c.view(), 0));
  r1.Seed(5);
  r1.SampleGaussian(&c);
  EXPECT_TRUE(test::AllNear(a.view(), c.view(), 0));
  // Pinned first values catch any change of the streams. The uniform one was also computed by a
  // Python transcription of splitmix64 seeding and xoshiro256** (whose first splitmix64 word
  // from seed 0, 0xe220a8397b1dcdaf, is the published one); the normal one is recorded.
  Random<cpu, double> r(0);
  TensorContainer<cpu, 1, double> u(Shape1(2));
  r.SampleUniform(&u);
  EXPECT_NEAR(u.dptr_[0], 0.60126299941790484, 1e-15);
  r.Seed(0);
  r.SampleGaussian(&u);
  EXPECT_NEAR(u.dptr_[0], 0.71133570124816081, 1e-15);
}

TEST(Random, StridedDestinationKeepsPadding) {
  TensorContainer<cpu, 2> big(Shape2(3, 6), 9.f);
  Tensor<cpu, 2> v = big.SliceLast(0, 4);
  Random<cpu> rnd(1);
  rnd.SampleUniform(&v);
  for (index_t i = 0; i < 3; ++i) EXPECT_EQ(big.dptr_[i * 6 + 5], 9.f);
}

// Normal numbers are made in blocks of 256; a strided destination whose rows cross the blocks'
// edges gets the same numbers, in element order, as a contiguous one.
TEST(Random, GaussianNumbersDoNotDependOnTheStride) {
  TensorContainer<cpu, 2> big(Shape2(7, 130), 9.f), flat(Shape2(7, 100));
  Tensor<cpu, 2> v = big.SliceLast(0, 100);
  Random<cpu> r1(3), r2(3);
  r1.SampleGaussian(&v, 1.f, 2.f);
  r2.SampleGaussian(&flat, 1.f, 2.f);
  for (index_t y = 0; y < 7; ++y) {
    for (index_t x = 0; x < 100; ++x) ASSERT_EQ(big.dptr_[y * 130 + x], flat.dptr_[y * 100 + x]) << y << "," << x;
    EXPECT_EQ(big.dptr_[y * 130 + 100], 9.f);
  }
}

TEST(Random, NegativeSigmaRaises) {
  TensorContainer<cpu, 1> t(Shape1(4));
  Random<cpu> rnd(1);
  EXPECT_THROW(rnd.SampleGaussian(&t, 0.f, -1.f), Error);
}

// Random123's known-answer vectors for philox4x32 with 10 rounds (counter, key -> numbers):
// a wrong multiplier, word order or key schedule changes every word.
TEST(Random, PhiloxKnownAnswers) {
  struct Kat {
    uint32_t counter[4], key[2], want[4];
  };
  const Kat kats[] = {
      {{0, 0, 0, 0}, {0, 0}, {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}},
      {{~0u, ~0u, ~0u, ~0u}, {~0u, ~0u}, {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}},
      {{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}, {0xa4093822, 0x299f31d0},
       {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}},
  };
  for (const Kat& k : kats) {
    uint32_t got[4];
    philox::Block(k.counter, k.key, got);
    for (int w = 0; w < 4; ++w) EXPECT_EQ(got[w], k.want[w]) << "word " << w << " of key " << k.key[0];
  }
  // Numbers(seed, n): counter (n low, n high, 0, 0), key (seed low, seed high).
  uint32_t a[4], b[4];
  philox::Numbers(0x299f31d0a4093822ull, 0x85a308d3243f6a88ull, a);
  const uint32_t c[4] = {0x243f6a88, 0x85a308d3, 0, 0}, key[2] = {0xa4093822, 0x299f31d0};
  philox::Block(c, key, b);
  for (int w = 0; w < 4; ++w) EXPECT_EQ(a[w], b[w]);
  // The unit conversions stay below 1 and reach 0.
  EXPECT_EQ(philox::UnitFloat(0), 0.f);
  EXPECT_LT(philox::UnitFloat(~0u), 1.f);
  EXPECT_EQ(philox::UnitDouble(0, 0), 0.0);
  EXPECT_LT(philox::UnitDouble(~0u, ~0u), 1.0);
}

}  // namespace
}  // namespace umbra
