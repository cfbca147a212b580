// reduce_except_dim / sumall_except_dim / sum_rows / reduce_with_axis / argmax against plain
// loops (in double), on contiguous and strided views, with every saver and the error cases.
// Tolerance: float sums of up to ~10^4 values in [-1, 1] against a double reference agree to a
// few 1e-6 relative (blocked, laned order: error grows near sqrt(n) ulps); the tests allow
// 1e-5 * max(1, |reference|). Where a sum cancels (hundreds of terms summing to under 1), the
// rounding follows the terms' magnitude, not the result's: sums of a 4-D tensor's slices also
// allow 1e-7 * sum |x| (about 2 float ulps of it).
#include <cmath>
#include <limits>
#include <vector>

#include "harness/tensor_util.h"
#include "umbra/tensor/ext/reduce.h"

namespace umbra {
namespace {
using test::At;

// Absolute tolerance for a float result against a double reference of magnitude |ref|.
double Tol(double ref, double rel = 1e-5) { return rel * std::max(1.0, std::fabs(ref)); }

// Reference: R over all indices but `dim` of a 4-D tensor, in double (kAbs: of |x|).
template <bool kMax, bool kAbs = false>
std::vector<double> RefExceptDim(const Tensor<cpu, 4>& t, int dim) {
  std::vector<double> res(t.shape_[dim], kMax ? -INFINITY : 0.0);
  for (index_t a = 0; a < t.size(0); ++a)
    for (index_t b = 0; b < t.size(1); ++b)
      for (index_t c = 0; c < t.size(2); ++c)
        for (index_t d = 0; d < t.size(3); ++d) {
          const index_t ix[4] = {a, b, c, d};
          const double v = kAbs ? std::fabs(At(t, a, b, c, d)) : At(t, a, b, c, d);
          double& r = res[ix[dim]];
          r = kMax ? std::max(r, v) : r + v;
        }
  return res;
}

template <int dim>
void CheckSumExceptDim(const Tensor<cpu, 4>& x) {
  const std::vector<double> ref = RefExceptDim<false>(x, dim);
  const std::vector<double> mref = RefExceptDim<true>(x, dim);
  const std::vector<double> aref = RefExceptDim<false, true>(x, dim);
  const index_t len = x.shape_[dim];
  auto tol = [&](index_t c, double k) { return Tol(k * ref[c]) + 1e-7 * k * aref[c]; };
  TensorContainer<cpu, 1> out(Shape1(len));
  out = sumall_except_dim<dim>(x);
  for (index_t c = 0; c < len; ++c) EXPECT_NEAR(out.dptr_[c], ref[c], tol(c, 1)) << x.shape_ << dim;
  out += 2.f * sumall_except_dim<dim>(x);
  for (index_t c = 0; c < len; ++c) EXPECT_NEAR(out.dptr_[c], 3 * ref[c], tol(c, 3));
  out -= sumall_except_dim<dim>(x) * 3.f;
  for (index_t c = 0; c < len; ++c) EXPECT_NEAR(out.dptr_[c], 0.0, tol(c, 3));
  out = reduce_except_dim<red::maximum, dim>(x);
  for (index_t c = 0; c < len; ++c) EXPECT_EQ(out.dptr_[c], float(mref[c]));
}

TEST(SumallExceptDim, EveryDimOfSeveralShapes) {
  const Shape<4> shapes[] = {Shape4(2, 3, 4, 5), Shape4(1, 7, 1, 3), Shape4(3, 1, 17, 1),
                             Shape4(5, 3, 7, 17), Shape4(1, 1, 1, 1)};
  uint64_t seed = 1;
  for (const Shape<4>& s : shapes) {
    auto x = test::RandomTensor(s, seed++);
    CheckSumExceptDim<0>(x.view());
    CheckSumExceptDim<1>(x.view());
    CheckSumExceptDim<2>(x.view());
    CheckSumExceptDim<3>(x.view());
    test::Strided<4, float> sx(x.view());  // non-contiguous rows
    CheckSumExceptDim<1>(sx.view);
    CheckSumExceptDim<3>(sx.view);
  }
}

TEST(SumallExceptDim, LargeInputsTakeTheParallelPath) {
  // Above kParallelThreshold: many row chunks (last dim) and many blocks (middle dim).
  auto a = test::RandomTensor(Shape4(3, 100, 1, 211), 11);
  CheckSumExceptDim<3>(a.view());
  auto b = test::RandomTensor(Shape4(64, 8, 9, 10), 12);
  CheckSumExceptDim<1>(b.view());
  CheckSumExceptDim<0>(b.view());
}

TEST(SumallExceptDim, SameBitsForAnyThreadCount) {
#ifdef _OPENMP
  auto a = test::RandomTensor(Shape2(3000, 37), 13);
  auto b = test::RandomTensor(Shape4(16, 5, 30, 31), 14);
  TensorContainer<cpu, 1> ra1(Shape1(37)), ra3(Shape1(37)), rb1(Shape1(5)), rb3(Shape1(5));
  const int keep = omp_get_max_threads();
  omp_set_num_threads(1);
  ra1 = sum_rows(a.view());
  rb1 = sumall_except_dim<1>(b.view());
  omp_set_num_threads(3);
  ra3 = sum_rows(a.view());
  rb3 = sumall_except_dim<1>(b.view());
  omp_set_num_threads(keep);
  EXPECT_TRUE(test::AllNear(ra1.view(), ra3.view(), 0));
  EXPECT_TRUE(test::AllNear(rb1.view(), rb3.view(), 0));
#else
  GTEST_SKIP() << "built without OpenMP";
#endif
}

TEST(SumallExceptDim, SourceIsAnElementwiseExpression) {
  auto a = test::RandomTensor(Shape3(5, 3, 7), 2);
  auto b = test::RandomTensor(Shape3(5, 3, 7), 3);
  TensorContainer<cpu, 1> out(Shape1(3));
  out = sumall_except_dim<1>(a * b + 1.f);
  for (index_t c = 0; c < 3; ++c) {
    double r = 0;
    for (index_t n = 0; n < 5; ++n)
      for (index_t l = 0; l < 7; ++l) r += At(a.view(), n, c, l) * At(b.view(), n, c, l) + 1;
    EXPECT_NEAR(out.dptr_[c], r, Tol(r));
  }
}

TEST(SumRows, MatchesLoopAndIsBiasGradient) {
  for (index_t rows : {1, 3, 17, 200}) {
    for (index_t cols : {1, 7, 33}) {
      auto g = test::RandomTensor(Shape2(rows, cols), rows * 100 + cols);
      test::Strided<2, float> sg(g.view(), 5);
      TensorContainer<cpu, 1> db(Shape1(cols), 1.f);
      db += sum_rows(sg.view);
      for (index_t j = 0; j < cols; ++j) {
        double r = 1;
        for (index_t i = 0; i < rows; ++i) r += At(g.view(), i, j);
        EXPECT_NEAR(db.dptr_[j], r, Tol(r));
      }
    }
  }
}

TEST(SumallExceptDim, WrongDestinationNamesShapes) {
  TensorContainer<cpu, 3> x(Shape3(2, 5, 3), 1.f);
  TensorContainer<cpu, 1> out(Shape1(4));
  try {
    out = sumall_except_dim<1>(x);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("(2,5,3)"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("(4)"), std::string::npos) << e.what();
  }
  TensorContainer<cpu, 3> y(Shape3(2, 4, 3), 1.f);
  EXPECT_THROW(out = sumall_except_dim<1>(x + y), Error);  // source shapes disagree
}

// Reference for reduce_with_axis on a 3-D tensor: sum, max or argmax over `axis`.
enum class Kind { kSum, kMax, kArg };
double RefAxis(const Tensor<cpu, 3>& t, int axis, index_t i, index_t j, Kind kind) {
  double acc = kind == Kind::kSum ? 0.0 : -INFINITY;
  index_t best = 0;
  for (index_t k = 0; k < t.shape_[axis]; ++k) {
    const double v = axis == 0 ? At(t, k, i, j) : axis == 1 ? At(t, i, k, j) : At(t, i, j, k);
    if (kind == Kind::kSum) acc += v;
    else if (v > acc) acc = v, best = k;
  }
  return kind == Kind::kArg ? double(best) : acc;
}

void CheckAxis(const Tensor<cpu, 3>& x, int axis) {
  Shape<2> os;
  for (int d = 0, j = 0; d < 3; ++d)
    if (d != axis) os[j++] = x.shape_[d];
  TensorContainer<cpu, 2> sum(os), mx(os), arg(os);
  sum = reduce_with_axis<red::sum>(x, axis);
  mx = reduce_with_axis<red::maximum>(x, axis - 3);  // the same axis, counted from the end
  arg = argmax(x, axis);
  for (index_t i = 0; i < os[0]; ++i)
    for (index_t j = 0; j < os[1]; ++j) {
      const double r = RefAxis(x, axis, i, j, Kind::kSum);
      EXPECT_NEAR(At(sum.view(), i, j), r, Tol(r));
      EXPECT_EQ(At(mx.view(), i, j), float(RefAxis(x, axis, i, j, Kind::kMax)));
      EXPECT_EQ(At(arg.view(), i, j), float(RefAxis(x, axis, i, j, Kind::kArg)));
    }
}

TEST(ReduceWithAxis, EveryAxisOfSeveralShapes) {
  const Shape<3> shapes[] = {Shape3(2, 3, 4), Shape3(1, 7, 1), Shape3(3, 1, 17), Shape3(17, 7, 3)};
  uint64_t seed = 20;
  for (const Shape<3>& s : shapes) {
    auto x = test::RandomTensor(s, seed++);
    test::Strided<3, float> sx(x.view());
    for (int axis = 0; axis < 3; ++axis) {
      CheckAxis(x.view(), axis);
      CheckAxis(sx.view, axis);
    }
  }
}

TEST(ReduceWithAxis, KeepDimComposesIntoStridedDestination) {
  auto x = test::RandomTensor(Shape3(4, 5, 6), 30);
  auto b = test::RandomTensor(Shape3(4, 1, 6), 31);
  TensorContainer<cpu, 3> base(Shape3(4, 1, 9), -5.f);
  Tensor<cpu, 3> dst = base.SliceLast(2, 8);  // (4, 1, 6), stride 9
  dst += reduce_with_axis<red::sum, true>(x, 1) * 2.f + b;
  for (index_t n = 0; n < 4; ++n) {
    EXPECT_EQ(At(base.view(), n, 0, 0), -5.f);
    EXPECT_EQ(At(base.view(), n, 0, 8), -5.f);
    for (index_t l = 0; l < 6; ++l) {
      double r = 0;
      for (index_t c = 0; c < 5; ++c) r += At(x.view(), n, c, l);
      EXPECT_NEAR(At(dst, n, 0, l), -5 + 2 * r + At(b.view(), n, 0, l), Tol(r));
    }
  }
  // Reducing a 1-D source with keepdim gives (1); argmax picks the first of equal maxima.
  TensorContainer<cpu, 1> v(Shape1(5), 0.f), one(Shape1(1));
  v.dptr_[1] = v.dptr_[3] = 2.f;
  one = argmax<true>(v, 0);
  EXPECT_EQ(one.dptr_[0], 1.f);
  one = reduce_with_axis<red::sum, true>(v, -1);
  EXPECT_EQ(one.dptr_[0], 4.f);
}

TEST(ReduceWithAxis, ContainerTakesTheReducedShape) {
  auto x = test::RandomTensor(Shape4(2, 3, 4, 5), 40);
  TensorContainer<cpu, 3> out;
  out = reduce_with_axis<red::maximum>(x.view(), 2);
  EXPECT_EQ(out.shape_, Shape3(2, 3, 5));
}

TEST(ReduceWithAxis, ErrorsNameTheShape) {
  TensorContainer<cpu, 3> x(Shape3(2, 5, 3), 1.f);
  try {
    reduce_with_axis<red::sum>(x.view(), 3);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("(2,5,3)"), std::string::npos) << e.what();
  }
  EXPECT_THROW(reduce_with_axis<red::sum>(x.view(), -4), Error);
  TensorContainer<cpu, 2> out(Shape2(2, 5));
  try {
    Tensor<cpu, 2> view = out;  // a view is not resized (a container would be)
    view = reduce_with_axis<red::sum>(x.view(), 1);  // gives (2,3)
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("(2,3)"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("(2,5)"), std::string::npos) << e.what();
  }
  TensorContainer<cpu, 3> empty(Shape3(2, 0, 3));
  EXPECT_THROW(argmax(empty.view(), 1), Error);
  // Indices past 2^24 are not exact in float (2^24 + 1 rounded to 2^24): refused when the
  // expression is built (64 MB, never read); up to 2^24 + 1 long (the last index 2^24) they are.
  const index_t n = (index_t(1) << 24) + 2;
  TensorContainer<cpu, 2> wide(Shape2(1, n));
  EXPECT_HAS(test::ErrorOf([&] { argmax(wide.view(), 1); }),
             "argmax over axis 1 of source shape (1,16777218): its indices past 16777216 are not exact");
  EXPECT_EQ(argmax(wide.view().SliceLast(0, n - 1), 1).shape_, Shape1(1));
}

}  // namespace
}  // namespace umbra
