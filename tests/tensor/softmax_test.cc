// Softmax / SoftmaxGrad (labels and Jacobian-vector product) against plain loops in double, on
// contiguous, strided and in-place tensors; large logits stay finite; the JVP is checked against
// finite differences in double; bad shapes and labels raise umbra::Error naming the shapes.
// Tolerance: float results against the double reference within 1e-6 * max(1, |value|) (one exp
// and one division per element, sums of at most a few hundred terms).
#include <cmath>
#include <vector>

#include "harness/tensor_util.h"
#include "umbra/tensor/ext/softmax.h"

namespace umbra {
namespace {
using test::At;

// Reference softmax over c of a (N, C, L) view given as an accessor, in double.
template <typename Get>
std::vector<double> RefSoftmax(Get get, index_t n, index_t c, index_t l) {
  std::vector<double> out(n * c * l);
  for (index_t i = 0; i < n; ++i)
    for (index_t j = 0; j < l; ++j) {
      double m = -INFINITY, s = 0;
      for (index_t k = 0; k < c; ++k) m = std::max(m, double(get(i, k, j)));
      for (index_t k = 0; k < c; ++k) s += std::exp(get(i, k, j) - m);
      for (index_t k = 0; k < c; ++k) out[(i * c + k) * l + j] = std::exp(get(i, k, j) - m) / s;
    }
  return out;
}

void Check2D(const Tensor<cpu, 2>& out, const Tensor<cpu, 2>& in) {
  const index_t n = in.size(0), c = in.size(1);
  auto ref = RefSoftmax([&](index_t i, index_t k, index_t) { return At(in, i, k); }, n, c, 1);
  for (index_t i = 0; i < n; ++i) {
    double row = 0;
    for (index_t k = 0; k < c; ++k) {
      EXPECT_NEAR(At(out, i, k), ref[i * c + k], 1e-6) << in.shape_ << " at " << i << "," << k;
      row += At(out, i, k);
    }
    EXPECT_NEAR(row, 1.0, 1e-5);
  }
}

TEST(Softmax, RowsMatchLoopAndSumToOne) {
  const Shape<2> shapes[] = {Shape2(1, 1), Shape2(3, 7), Shape2(17, 33), Shape2(200, 300)};
  uint64_t seed = 1;
  for (const Shape<2>& s : shapes) {
    auto x = test::RandomTensor(s, seed++, -5.f, 5.f);
    TensorContainer<cpu, 2> out(s);
    Softmax(out.view(), x.view());
    Check2D(out.view(), x.view());
    test::Strided<2, float> sx(x.view()), so(out.view(), 2);  // strided source and destination
    Softmax(so.view, sx.view);
    Check2D(so.view, x.view());
    EXPECT_EQ(At(so.storage.view(), 0, s[1]), -777.f);  // padding untouched
  }
}

TEST(Softmax, LargeLogitsStayFinite) {
  TensorContainer<cpu, 2> orig(Shape2(2, 4));
  const float v[] = {1000, 999, -1000, 1000, -1000, -1001, -999.5f, -1000};
  std::copy(v, v + 8, orig.dptr_);
  TensorContainer<cpu, 2> x = orig;
  Softmax(x.view(), x.view());  // in place
  Check2D(x.view(), orig.view());
  for (index_t i = 0; i < 8; ++i) EXPECT_TRUE(std::isfinite(x.dptr_[i]));
}

TEST(Softmax, OverChannelsOf3D) {
  const Shape<3> shapes[] = {Shape3(1, 1, 1), Shape3(2, 3, 4), Shape3(3, 17, 7), Shape3(40, 10, 100)};
  uint64_t seed = 10;
  for (const Shape<3>& s : shapes) {
    auto x = test::RandomTensor(s, seed++, -8.f, 8.f);
    test::Strided<3, float> sx(x.view());
    TensorContainer<cpu, 3> out(s);
    Softmax(out.view(), sx.view);
    auto ref = RefSoftmax([&](index_t i, index_t k, index_t j) { return At(x.view(), i, k, j); },
                          s[0], s[1], s[2]);
    for (index_t i = 0; i < s[0]; ++i)
      for (index_t j = 0; j < s[2]; ++j) {
        double sum = 0;
        for (index_t k = 0; k < s[1]; ++k) {
          EXPECT_NEAR(At(out.view(), i, k, j), ref[(i * s[1] + k) * s[2] + j], 1e-6);
          sum += At(out.view(), i, k, j);
        }
        EXPECT_NEAR(sum, 1.0, 1e-5);
      }
    Softmax(x.view(), x.view());  // in place gives the same
    EXPECT_TRUE(test::AllNear(x.view(), out.view(), 0));
  }
}

TEST(SoftmaxGrad, LabelsGiveSrcMinusOneHot) {
  auto p = test::RandomTensor(Shape2(5, 7), 20, 0.f, 1.f);
  TensorContainer<cpu, 1> label(Shape1(5));
  const float lv[] = {0, 6, 3, 3, 1};
  std::copy(lv, lv + 5, label.dptr_);
  test::Strided<2, float> dst(p.view());
  SoftmaxGrad(dst.view, p.view(), label.view());
  for (index_t i = 0; i < 5; ++i)
    for (index_t k = 0; k < 7; ++k)
      EXPECT_EQ(At(dst.view, i, k), At(p.view(), i, k) - (k == index_t(lv[i]) ? 1.f : 0.f));

  auto q = test::RandomTensor(Shape3(2, 4, 3), 21, 0.f, 1.f);
  TensorContainer<cpu, 3> q0 = q;
  TensorContainer<cpu, 2> label3(Shape2(2, 3));
  const float l3[] = {0, 3, 2, 1, 1, 0};
  std::copy(l3, l3 + 6, label3.dptr_);
  SoftmaxGrad(q.view(), q.view(), label3.view());  // in place
  for (index_t n = 0; n < 2; ++n)
    for (index_t k = 0; k < 4; ++k)
      for (index_t l = 0; l < 3; ++l)
        EXPECT_EQ(At(q.view(), n, k, l),
                  At(q0.view(), n, k, l) - (k == index_t(l3[n * 3 + l]) ? 1.f : 0.f));
}

TEST(SoftmaxGrad, BadLabelsAndShapesThrow) {
  auto p = test::RandomTensor(Shape2(3, 4), 30);
  TensorContainer<cpu, 2> dst(Shape2(3, 4), 5.f);
  TensorContainer<cpu, 1> label(Shape1(3), 1.f);
  label.dptr_[2] = 4;  // C = 4: out of range
  try {
    SoftmaxGrad(dst.view(), p.view(), label.view());
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("(3,4)"), std::string::npos) << e.what();
  }
  EXPECT_EQ(dst.dptr_[0], 5.f);  // checked before writing
  label.dptr_[2] = -1;
  EXPECT_THROW(SoftmaxGrad(dst.view(), p.view(), label.view()), Error);
  TensorContainer<cpu, 1> short_label(Shape1(2), 0.f);
  try {
    SoftmaxGrad(dst.view(), p.view(), short_label.view());
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("(2)"), std::string::npos) << e.what();
  }
  TensorContainer<cpu, 2> wide(Shape2(3, 5));
  try {
    Softmax(wide.view(), p.view());
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("(3,5)"), std::string::npos) << e.what();
  }
  TensorContainer<cpu, 3> x3(Shape3(2, 3, 4), 0.f);
  TensorContainer<cpu, 2> lab3(Shape2(2, 3), 0.f);  // must be (2, 4)
  EXPECT_THROW(SoftmaxGrad(x3.view(), x3.view(), lab3.view()), Error);
  EXPECT_THROW(SoftmaxGrad(x3.view(), x3.view(), TensorContainer<cpu, 3>(Shape3(2, 3, 5)).view()),
               Error);
}

// f(x) = sum(w * softmax(x)); its gradient is SoftmaxGrad(out = softmax(x), grad_out = w).
template <int dim>
void CheckJacobianVectorProduct(const Shape<dim>& s) {
  auto x = test::RandomTensor<dim, double>(s, 40, -2, 2);
  auto w = test::RandomTensor<dim, double>(s, 41, -1, 1);
  TensorContainer<cpu, dim, double> out(s), grad(s), tmp(s);
  Softmax(out.view(), x.view());
  SoftmaxGrad(grad.view(), out.view(), w.view());
  auto f = [&] {
    Softmax(tmp.view(), x.view());
    double r = 0;
    for (index_t i = 0; i < s.Size(); ++i) r += w.dptr_[i] * tmp.dptr_[i];
    return r;
  };
  const double h = 1e-6;
  for (index_t i = 0; i < s.Size(); ++i) {
    const double keep = x.dptr_[i];
    x.dptr_[i] = keep + h;
    const double fp = f();
    x.dptr_[i] = keep - h;
    const double fm = f();
    x.dptr_[i] = keep;
    EXPECT_NEAR(grad.dptr_[i], (fp - fm) / (2 * h), 1e-8) << s << " element " << i;
  }
  // In place into grad_out gives the same.
  SoftmaxGrad(w.view(), out.view(), w.view());
  EXPECT_TRUE(test::AllNear(w.view(), grad.view(), 1e-15));
}

TEST(SoftmaxGrad, JacobianVectorProductMatchesFiniteDifferences) {
  CheckJacobianVectorProduct(Shape2(3, 7));
  CheckJacobianVectorProduct(Shape2(1, 1));
  CheckJacobianVectorProduct(Shape3(2, 5, 3));
}

TEST(SoftmaxGrad, JacobianVectorProductOnStridedFloat) {
  auto y = test::RandomTensor(Shape2(17, 33), 50, 0.f, 0.1f);
  auto g = test::RandomTensor(Shape2(17, 33), 51);
  test::Strided<2, float> sy(y.view()), dst(y.view(), 1);
  SoftmaxGrad(dst.view, sy.view, g.view());
  for (index_t i = 0; i < 17; ++i) {
    double dotp = 0;
    for (index_t k = 0; k < 33; ++k) dotp += At(y.view(), i, k) * At(g.view(), i, k);
    for (index_t k = 0; k < 33; ++k)
      EXPECT_NEAR(At(dst.view, i, k), At(y.view(), i, k) * (At(g.view(), i, k) - dotp), 1e-6);
  }
}

}  // namespace
}  // namespace umbra
