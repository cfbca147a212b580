// Random<cpu>: moments of uniform and gaussian samples, bounds, and reproducibility from a seed
// (independent of thread count, and of strided destinations).
#include "harness/tensor_util.h"

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
  TensorContainer<cpu, 1> t(Shape1(1000001));  // odd count: Box-Muller's spare value is used
  Random<cpu> rnd(7);
  rnd.SampleGaussian(&t, 3.f, 0.5f);
  auto [m, v] = Moments(t.view());
  EXPECT_NEAR(m, 3.0, 0.003);
  EXPECT_NEAR(v, 0.25, 0.003);
  index_t within = 0;  // 68.27% within one sigma
  for (index_t i = 0; i < t.Size(); ++i) within += std::fabs(t.dptr_[i] - 3) < 0.5;
  EXPECT_NEAR(double(within) / t.Size(), 0.6827, 0.003);
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
  // A pinned first value (recorded from this implementation) catches any change of the stream.
  Random<cpu, double> r(0);
  TensorContainer<cpu, 1, double> u(Shape1(2));
  r.SampleUniform(&u);
  EXPECT_NEAR(u.dptr_[0], 0.15979336337046079, 1e-15);
}

TEST(Random, StridedDestinationKeepsPadding) {
  TensorContainer<cpu, 2> big(Shape2(3, 6), 9.f);
  Tensor<cpu, 2> v = big.SliceLast(0, 4);
  Random<cpu> rnd(1);
  rnd.SampleUniform(&v);
  for (index_t i = 0; i < 3; ++i) EXPECT_EQ(big.dptr_[i * 6 + 5], 9.f);
}

TEST(Random, NegativeSigmaRaises) {
  TensorContainer<cpu, 1> t(Shape1(4));
  Random<cpu> rnd(1);
  EXPECT_THROW(rnd.SampleGaussian(&t, 0.f, -1.f), Error);
}

}  // namespace
}  // namespace umbra
