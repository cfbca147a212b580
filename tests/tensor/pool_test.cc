// pool / unpool / chpool / ch_unpool against plain loops (max, sum, average; floor and ceil
// output sizes, overhanging and padded windows), finite-difference checks of both gradients in
// double, composition with elementwise maps, strided views and error messages.
#include <algorithm>
#include <functional>
#include <limits>
#include <random>
#include <vector>

#include "harness/tensor_util.h"
#include "umbra/tensor/ext/pool.h"

namespace umbra {
namespace {
using test::At;

struct Win {
  index_t ky, kx, sy, sx, py = 0, px = 0;
};

// Pooling by definition on (P, H, W) planes, windows clipped to the image.
template <typename DType>
std::vector<double> RefPool(const Tensor<cpu, 3, DType>& x, index_t oh, index_t ow, const Win& k,
                            bool is_max) {
  std::vector<double> out;
  for (index_t pl = 0; pl < x.size(0); ++pl)
    for (index_t oy = 0; oy < oh; ++oy)
      for (index_t ox = 0; ox < ow; ++ox) {
        double acc = is_max ? -std::numeric_limits<double>::infinity() : 0.0;
        for (index_t h = oy * k.sy - k.py; h < oy * k.sy - k.py + k.ky; ++h)
          for (index_t w = ox * k.sx - k.px; w < ox * k.sx - k.px + k.kx; ++w) {
            if (h < 0 || h >= x.size(1) || w < 0 || w >= x.size(2)) continue;
            const double v = At(x, pl, h, w);
            acc = is_max ? std::max(acc, v) : acc + v;
          }
        out.push_back(acc);
      }
  return out;
}

using test::ExpectEqualsRef;

TEST(Pool, OutSize) {
  EXPECT_EQ(PoolOutSize(7, 3, 2, false), 3);
  EXPECT_EQ(PoolOutSize(7, 3, 2, true), 3);
  EXPECT_EQ(PoolOutSize(8, 3, 2, false), 3);
  EXPECT_EQ(PoolOutSize(8, 3, 2, true), 4);  // the last window overhangs by one
  EXPECT_EQ(PoolOutSize(2, 3, 2, true), 1);  // smaller than the kernel: one clipped window
  EXPECT_EQ(PoolOutSize(5, 3, 2, false, 1), 3);
  EXPECT_EQ(PoolOutSize(6, 3, 2, true, 1), 4);
  EXPECT_EQ(PoolOutSize(5, 2, 2, true, 1), 3);  // a 4th window would start past the image
  for (index_t h : {1, 3, 4, 7, 17})           // ceil mode without pad is cxxnet's formula
    for (index_t k : {1, 2, 3, 5})
      for (index_t s : {1, 2, 3}) {
        if (h < k) continue;
        EXPECT_EQ(PoolOutSize(h, k, s, true), std::min(h - k + s - 1, h - 1) / s + 1);
      }
}

TEST(Pool, MaxSumAverageMatchReference) {
  uint64_t seed = 1;
  for (const Win& k : {Win{1, 1, 1, 1}, Win{2, 2, 2, 2}, Win{3, 3, 2, 2}, Win{3, 2, 1, 2},
                       Win{3, 3, 2, 2, 1, 1}, Win{5, 3, 3, 1, 2, 0}}) {
    for (const Shape<4>& s : {Shape4(1, 1, 7, 7), Shape4(2, 3, 8, 9), Shape4(1, 2, 17, 4)}) {
      for (bool ceil_mode : {false, true}) {
        const index_t oh = PoolOutSize(s[2], k.ky, k.sy, ceil_mode, k.py);
        const index_t ow = PoolOutSize(s[3], k.kx, k.sx, ceil_mode, k.px);
        SCOPED_TRACE(::testing::Message() << s << " k" << k.ky << "x" << k.kx << " s" << k.sy
                                          << "x" << k.sx << " p" << k.py << "x" << k.px
                                          << " -> " << oh << "x" << ow);
        auto x = test::RandomTensor(s, seed++);
        const auto x3 = x.view().View(Shape3(s[0] * s[1], s[2], s[3]));
        TensorContainer<cpu, 4> out;
        out = pool<red::maximum>(x.view(), Shape2(oh, ow), k.ky, k.kx, k.sy, k.sx, k.py, k.px);
        EXPECT_EQ(out.shape_, Shape4(s[0], s[1], oh, ow));
        ExpectEqualsRef(out.view(), RefPool(x3, oh, ow, k, true), 0);
        out = pool<red::sum>(x.view(), Shape2(oh, ow), k.ky, k.kx, k.sy, k.sx, k.py, k.px);
        ExpectEqualsRef(out.view(), RefPool(x3, oh, ow, k, false), 1e-5);
        out = pool<red::sum>(x.view(), Shape2(oh, ow), k.ky, k.kx, k.sy, k.sx, k.py, k.px) *
              (1.0f / (k.ky * k.kx));
        auto avg = RefPool(x3, oh, ow, k, false);
        for (double& v : avg) v /= double(k.ky * k.kx);
        ExpectEqualsRef(out.view(), avg, 1e-5);
      }
    }
  }
}

TEST(Pool, ComposedStridedSourceAndDestination) {
  // out = pool<max>(relu(x)) on a strided 3-D x into a strided destination, with +=.
  const Win k{3, 3, 2, 2};
  auto x = test::RandomTensor(Shape3(3, 9, 11), 7);
  test::Strided<3, float> xs(x.view());
  const index_t oh = PoolOutSize(9, 3, 2, true), ow = PoolOutSize(11, 3, 2, true);
  TensorContainer<cpu, 3> base(Shape3(3, oh, ow + 3), 1.f);
  Tensor<cpu, 3> dst = base.SliceLast(1, 1 + ow);
  dst += pool<red::maximum>(F<op::relu>(xs.view), Shape2(oh, ow), 3, 3, 2, 2);
  TensorContainer<cpu, 3> r(x.shape_);
  r = F<op::relu>(x.view());
  auto ref = RefPool(r.view(), oh, ow, k, true);
  for (double& v : ref) v += 1;
  ExpectEqualsRef(dst, ref, 1e-6);
  for (index_t row = 0; row < 3 * oh; ++row) EXPECT_EQ(base.dptr_[row * (ow + 3)], 1.f);
}

// Central differences of L(x) = sum(g .* f(x)) against an analytic gradient, in double.
void ExpectGradient(TensorContainer<cpu, 4, double>* x,
                    const std::function<double()>& loss, const Tensor<cpu, 4, double>& grad) {
  const double eps = 1e-6;
  for (index_t i = 0; i < x->Size(); ++i) {
    const double keep = x->dptr_[i];
    x->dptr_[i] = keep + eps;
    const double lp = loss();
    x->dptr_[i] = keep - eps;
    const double lm = loss();
    x->dptr_[i] = keep;
    ASSERT_NEAR(grad.dptr_[i], (lp - lm) / (2 * eps), 1e-6) << "at flat index " << i;
  }
}

template <typename Reducer>
void CheckUnpool(const Shape<4>& s, const Win& k, bool ceil_mode, uint64_t seed) {
  const index_t oh = PoolOutSize(s[2], k.ky, k.sy, ceil_mode, k.py);
  const index_t ow = PoolOutSize(s[3], k.kx, k.sx, ceil_mode, k.px);
  auto x = test::RandomTensor<4, double>(s, seed);  // distinct values: no ties for max
  auto g = test::RandomTensor<4, double>(Shape4(s[0], s[1], oh, ow), seed + 1);
  TensorContainer<cpu, 4, double> pooled(g.shape_);
  auto loss = [&] {
    pooled = pool<Reducer>(x.view(), Shape2(oh, ow), k.ky, k.kx, k.sy, k.sx, k.py, k.px);
    double l = 0;
    for (index_t i = 0; i < g.Size(); ++i) l += g.dptr_[i] * pooled.dptr_[i];
    return l;
  };
  loss();
  TensorContainer<cpu, 4, double> grad(s);
  grad = unpool<Reducer>(x.view(), pooled.view(), g.view(), k.ky, k.kx, k.sy, k.sx, k.py, k.px);
  ExpectGradient(&x, loss, grad.view());
}

TEST(Pool, UnpoolIsTheFiniteDifferenceGradient) {
  uint64_t seed = 50;
  for (const Win& k : {Win{2, 2, 2, 2}, Win{3, 3, 2, 2}, Win{3, 2, 1, 3}, Win{3, 3, 2, 1, 1, 1}}) {
    for (bool ceil_mode : {false, true}) {
      SCOPED_TRACE(::testing::Message() << "k" << k.ky << "x" << k.kx << " s" << k.sy << "x"
                                        << k.sx << " p" << k.py << " ceil " << ceil_mode);
      CheckUnpool<red::maximum>(Shape4(2, 2, 7, 8), k, ceil_mode, seed++);
      CheckUnpool<red::sum>(Shape4(1, 3, 9, 5), k, ceil_mode, seed++);
    }
  }
}

TEST(Pool, UnpoolMaxGivesTheFirstTieTheGradient) {
  TensorContainer<cpu, 3> x(Shape3(1, 2, 2), 3.f), g(Shape3(1, 1, 1), 2.f), pooled, grad;
  pooled = pool<red::maximum>(x.view(), Shape2(1, 1), 2, 2, 2, 2);
  grad = unpool<red::maximum>(x.view(), pooled.view(), g.view(), 2, 2, 2, 2);
  for (index_t i = 0; i < 4; ++i) EXPECT_EQ(grad.dptr_[i], i == 0 ? 2.f : 0.f) << i;
}

// Overlapping, padded and ceil-mode windows over inputs full of ties (values 0, 1, 2): each
// window's gradient goes to its first maximum in row-major order, as a scatter by definition.
TEST(Pool, UnpoolMaxTiesAsTheFirstArgmaxScatter) {
  std::mt19937 rng(7);
  for (const Win& k : {Win{2, 2, 2, 2}, Win{3, 3, 2, 2}, Win{3, 3, 1, 1, 1, 1}, Win{3, 2, 2, 1, 1, 0}}) {
    for (bool ceil_mode : {false, true}) {
      const index_t H = 7, W = 6;
      const index_t oh = PoolOutSize(H, k.ky, k.sy, ceil_mode, k.py), ow = PoolOutSize(W, k.kx, k.sx, ceil_mode, k.px);
      TensorContainer<cpu, 3> x(Shape3(2, H, W)), g(Shape3(2, oh, ow)), pooled(g.shape_), grad(x.shape_);
      for (index_t i = 0; i < x.Size(); ++i) x.dptr_[i] = float(rng() % 3);
      for (index_t i = 0; i < g.Size(); ++i) g.dptr_[i] = float(rng() % 100) / 8.f;
      pooled = pool<red::maximum>(x.view(), Shape2(oh, ow), k.ky, k.kx, k.sy, k.sx, k.py, k.px);
      grad = unpool<red::maximum>(x.view(), pooled.view(), g.view(), k.ky, k.kx, k.sy, k.sx, k.py, k.px);
      // += takes the per-pixel gather (the GPU's path) instead of the CPU scatter.
      TensorContainer<cpu, 3> gathered(x.shape_, 0.f);
      gathered += unpool<red::maximum>(x.view(), pooled.view(), g.view(), k.ky, k.kx, k.sy, k.sx, k.py, k.px);
      std::vector<double> want(x.Size(), 0.0);
      for (index_t p = 0; p < 2; ++p)
        for (index_t oy = 0; oy < oh; ++oy)
          for (index_t ox = 0; ox < ow; ++ox) {
            index_t arg = -1;
            for (index_t y = oy * k.sy - k.py; y < oy * k.sy - k.py + k.ky; ++y)
              for (index_t xx = ox * k.sx - k.px; xx < ox * k.sx - k.px + k.kx; ++xx) {
                if (y < 0 || y >= H || xx < 0 || xx >= W) continue;
                const index_t i = (p * H + y) * W + xx;
                if (arg < 0 || x.dptr_[i] > x.dptr_[arg]) arg = i;
              }
            want[arg] += g.dptr_[(p * oh + oy) * ow + ox];
          }
      for (index_t i = 0; i < x.Size(); ++i) {
        ASSERT_FLOAT_EQ(grad.dptr_[i], float(want[i])) << "k" << k.ky << "x" << k.kx << " ceil " << ceil_mode << " at " << i;
        ASSERT_FLOAT_EQ(gathered.dptr_[i], float(want[i])) << "gather, k" << k.ky << "x" << k.kx << " at " << i;
      }
    }
  }
}

// Channel pooling by definition on (N, C, H, W).
template <typename DType>
std::vector<double> RefChPool(const Tensor<cpu, 4, DType>& x, index_t nsize, bool is_max) {
  std::vector<double> out;
  const index_t c = x.size(1);
  for (index_t n = 0; n < x.size(0); ++n)
    for (index_t ci = 0; ci < c; ++ci)
      for (index_t h = 0; h < x.size(2); ++h)
        for (index_t w = 0; w < x.size(3); ++w) {
          double acc = is_max ? -std::numeric_limits<double>::infinity() : 0.0;
          for (index_t k = ci - nsize / 2; k <= ci + nsize / 2; ++k)
            if (k >= 0 && k < c) acc = is_max ? std::max<double>(acc, At(x, n, k, h, w))
                                              : acc + At(x, n, k, h, w);
          out.push_back(acc);
        }
  return out;
}

TEST(ChPool, MatchesReference) {
  uint64_t seed = 300;
  for (const Shape<4>& s : {Shape4(1, 1, 1, 1), Shape4(2, 7, 3, 5), Shape4(1, 3, 4, 17)}) {
    for (index_t nsize : {1, 3, 5, 9}) {
      SCOPED_TRACE(::testing::Message() << s << " nsize " << nsize);
      auto x = test::RandomTensor(s, seed++);
      test::Strided<4, float> xs(x.view());
      TensorContainer<cpu, 4> out;
      out = chpool<red::maximum>(xs.view, nsize);
      ExpectEqualsRef(out.view(), RefChPool(x.view(), nsize, true), 0);
      // LRN's norm: 1 + alpha/n * sum of squares over the channel window.
      out = 1.f + chpool<red::sum>(F<op::square>(x.view()), nsize) * (0.5f / nsize);
      TensorContainer<cpu, 4> sq(s);
      sq = F<op::square>(x.view());
      auto ref = RefChPool(sq.view(), nsize, false);
      for (double& v : ref) v = 1 + v * 0.5 / nsize;
      ExpectEqualsRef(out.view(), ref, 1e-5);
    }
  }
  // A (C, H, W) image pools over dimension 0.
  auto x = test::RandomTensor(Shape3(5, 3, 4), 9);
  TensorContainer<cpu, 3> out;
  out = chpool<red::sum>(x.view(), 3);
  ExpectEqualsRef(out.view(), RefChPool(x.view().View(Shape4(1, 5, 3, 4)), 3, false), 1e-6);
}

template <typename Reducer>
void CheckChUnpool(const Shape<4>& s, index_t nsize, uint64_t seed) {
  auto x = test::RandomTensor<4, double>(s, seed);
  auto g = test::RandomTensor<4, double>(s, seed + 1);
  TensorContainer<cpu, 4, double> pooled(s);
  auto loss = [&] {
    pooled = chpool<Reducer>(x.view(), nsize);
    double l = 0;
    for (index_t i = 0; i < g.Size(); ++i) l += g.dptr_[i] * pooled.dptr_[i];
    return l;
  };
  loss();
  TensorContainer<cpu, 4, double> grad(s);
  grad = ch_unpool<Reducer>(x.view(), pooled.view(), g.view(), nsize);
  ExpectGradient(&x, loss, grad.view());
}

TEST(ChPool, ChUnpoolIsTheFiniteDifferenceGradient) {
  uint64_t seed = 400;
  for (index_t nsize : {1, 3, 5}) {
    SCOPED_TRACE(::testing::Message() << "nsize " << nsize);
    CheckChUnpool<red::sum>(Shape4(2, 6, 3, 4), nsize, seed++);
    CheckChUnpool<red::maximum>(Shape4(1, 7, 2, 5), nsize, seed++);
  }
}

using test::ErrorOf;

TEST(Pool, Errors) {
  TensorContainer<cpu, 4> x(Shape4(2, 3, 8, 8), 0.f), p(Shape4(2, 3, 4, 4), 0.f);
  // 5 windows at stride 2 start at 8: past the image.
  std::string msg = ErrorOf([&] { (void)pool<red::maximum>(x.view(), Shape2(5, 4), 2, 2, 2, 2); });
  EXPECT_NE(msg.find("input of 8"), std::string::npos) << msg;
  msg = ErrorOf([&] { (void)pool<red::sum>(x.view(), Shape2(4, 4), 2, 2, 2, 2, 2, 0); });
  EXPECT_NE(msg.find("pad 2"), std::string::npos) << msg;
  msg = ErrorOf([&] { (void)unpool<red::sum>(x.view(), p.view(), x.view(), 2, 2, 2, 2); });
  EXPECT_NE(msg.find("(2,3,4,4)"), std::string::npos) << msg;
  EXPECT_NE(msg.find("(2,3,8,8)"), std::string::npos) << msg;
  TensorContainer<cpu, 4> q(Shape4(2, 2, 4, 4), 0.f);
  msg = ErrorOf([&] { (void)unpool<red::maximum>(x.view(), q.view(), q.view(), 2, 2, 2, 2); });
  EXPECT_NE(msg.find("(2,2,4,4)"), std::string::npos) << msg;
  msg = ErrorOf([] { (void)PoolOutSize(2, 3, 1, false); });
  EXPECT_NE(msg.find("smaller than kernel 3"), std::string::npos) << msg;
  msg = ErrorOf([&] { (void)chpool<red::sum>(x.view(), 4); });
  EXPECT_NE(msg.find("(2,3,8,8)"), std::string::npos) << msg;
  msg = ErrorOf([&] { (void)ch_unpool<red::sum>(x.view(), p.view(), x.view(), 3); });
  EXPECT_NE(msg.find("(2,3,4,4)"), std::string::npos) << msg;
  Tensor<cpu, 4> wrong = p.SliceLast(0, 3);
  msg = ErrorOf([&] { wrong = pool<red::maximum>(x.view(), Shape2(4, 4), 2, 2, 2, 2); });
  EXPECT_NE(msg.find("(2,3,4,3)"), std::string::npos) << msg;
}

}  // namespace
}  // namespace umbra
