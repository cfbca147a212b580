// Elementwise expressions against plain loops: arithmetic with tensors and scalars, user functors,
// every saver, assign-safety, strided views on either side, flat/2-D paths, shape errors.
#include "harness/tensor_util.h"

namespace umbra {
namespace {
using test::At;

struct axpb {  // a user functor: the same body runs on cpu and gpu
  template <typename DType>
  UMBRA_XINLINE static DType Map(DType a, DType b) { return DType(3) * a + b; }
};

class ElementwiseShapes : public ::testing::TestWithParam<std::pair<index_t, index_t>> {};

TEST_P(ElementwiseShapes, FusedArithmeticMatchesLoop) {
  const auto [r, c] = GetParam();
  auto a = test::RandomTensor(Shape2(r, c), 1), b = test::RandomTensor(Shape2(r, c), 2);
  auto d = test::RandomTensor(Shape2(r, c), 3), e = test::RandomTensor(Shape2(r, c), 4);
  TensorContainer<cpu, 2> y(Shape2(r, c));
  y = a * b + d * e - a / (F<op::abs>(b) + 1.f) + 2.f;
  for (index_t i = 0; i < r; ++i)
    for (index_t j = 0; j < c; ++j) {
      const float av = At(a.view(), i, j), bv = At(b.view(), i, j);
      const float want = av * bv + At(d.view(), i, j) * At(e.view(), i, j) -
                         av / (std::fabs(bv) + 1.f) + 2.f;
      ASSERT_NEAR(At(y.view(), i, j), want, 1e-6f);
    }
}

TEST_P(ElementwiseShapes, StridedSourcesAndDestination) {
  const auto [r, c] = GetParam();
  auto a = test::RandomTensor(Shape2(r, c), 5), b = test::RandomTensor(Shape2(r, c), 6);
  test::Strided<2, float> sa(a.view()), sb(b.view(), 5);
  TensorContainer<cpu, 2> big(Shape2(r, c + 4), -1.f);
  Tensor<cpu, 2> y = big.SliceLast(2, 2 + c);
  y = F<axpb>(sa.view, sb.view) * 0.5f;
  for (index_t i = 0; i < r; ++i) {
    EXPECT_EQ(At(big.view(), i, 0), -1.f);
    EXPECT_EQ(At(big.view(), i, c + 3), -1.f);
    for (index_t j = 0; j < c; ++j)
      ASSERT_FLOAT_EQ(At(y, i, j), 0.5f * (3 * At(a.view(), i, j) + At(b.view(), i, j)));
  }
}

TEST_P(ElementwiseShapes, EverySaver) {
  const auto [r, c] = GetParam();
  auto a = test::RandomTensor(Shape2(r, c), 7, 1.f, 2.f);
  auto x = test::RandomTensor(Shape2(r, c), 8, 1.f, 2.f);
  TensorContainer<cpu, 2> y = x;
  y += a;
  y -= a * 2.f;
  y *= a;
  y /= a + 1.f;
  for (index_t i = 0; i < r; ++i)
    for (index_t j = 0; j < c; ++j) {
      const float av = At(a.view(), i, j);
      const float want = (At(x.view(), i, j) + av - 2 * av) * av / (av + 1);
      ASSERT_NEAR(At(y.view(), i, j), want, 1e-5f);
    }
}

INSTANTIATE_TEST_SUITE_P(Shapes, ElementwiseShapes,
                         ::testing::Values(std::make_pair(1, 1), std::make_pair(1, 7),
                                           std::make_pair(3, 5), std::make_pair(17, 33),
                                           std::make_pair(3, 40000),  // columns split across threads
                                           std::make_pair(300, 257)));  // rows across threads

TEST(Elementwise, AssignSafeWhenDestinationIsASource) {
  auto a = test::RandomTensor(Shape3(4, 5, 6), 9), b = test::RandomTensor(Shape3(4, 5, 6), 10);
  TensorContainer<cpu, 3> ref = a;
  a = a * 2.f + b - a * a;
  for (index_t i = 0; i < a.Size(); ++i)
    ASSERT_FLOAT_EQ(a.dptr_[i], ref.dptr_[i] * 2 + b.dptr_[i] - ref.dptr_[i] * ref.dptr_[i]);
}

TEST(Elementwise, LargeAssignmentTakesTheStreamingStorePath) {
  // Above kStreamingStoreBytes a plain `=` streams its stores; an odd length and a destination
  // that starts 4 bytes past an aligned address exercise the unaligned head and the tail.
  const index_t n = index_t(expr::kStreamingStoreBytes / sizeof(float)) + 1001;
  auto a = test::RandomTensor(Shape1(n), 21), b = test::RandomTensor(Shape1(n), 22);
  TensorContainer<cpu, 1> store(Shape1(n + 1), -5.f);
  Tensor<cpu, 1> y = store.view().Slice(1, n + 1);
  y = a * 2.f + b;
  EXPECT_EQ(store.dptr_[0], -5.f);
  for (index_t i = 0; i < n; ++i) ASSERT_EQ(y.dptr_[i], a.dptr_[i] * 2.f + b.dptr_[i]) << i;
  TensorContainer<cpu, 1, double> d(Shape1(n / 2 + 3)), e(Shape1(n / 2 + 3), 1.5);
  d = e * 2.0;
  for (index_t i = 0; i < d.Size(); ++i) ASSERT_EQ(d.dptr_[i], 3.0) << i;
}

TEST(Elementwise, PackedPlanMatchesFlatPlan) {
  // The GPU's vectorised path evaluates 4 elements per call; its plans are host-callable, so
  // they are checked here against the scalar flat path.
  auto a = test::RandomTensor(Shape1(64), 23), b = test::RandomTensor(Shape1(64), 24);
  TensorContainer<cpu, 1, double> c(Shape1(64), 0.5);
  auto e = F<op::maximum>(a * b - 1.f, tcast<float>(c)) / (F<op::abs>(a) + 2.f);
  static_assert(expr::HasPack<expr::Plan<decltype(e)>>);
  ASSERT_TRUE(expr::PackCheck<decltype(e)>::Check(e));
  const auto plan = expr::MakePlan(e);
  for (index_t i = 0; i < 16; ++i) {
    const auto p = plan.EvalPack(i);
    for (int k = 0; k < 4; ++k) ASSERT_EQ(p.v[k], plan.EvalFlat(4 * i + k));
  }
  // A view starting one element in is not 16-byte aligned: the packed path must be refused.
  Tensor<cpu, 1> off = a.view().Slice(1, 61);
  EXPECT_FALSE(expr::PackCheck<decltype(off * 2.f)>::Check(off * 2.f));
  // Index mappings other than broadcast have no packed form: such statements keep the scalar
  // kernels (broadcast's: broadcast_test.cc).
  static_assert(!expr::HasPack<expr::Plan<decltype(reshape(a.view(), Shape2(8, 8)))>>);
  static_assert(expr::HasPack<expr::Plan<decltype(repmat(a.view(), 2))>>);
}

TEST(Elementwise, ScalarsOnBothSidesAndNegation) {
  auto a = test::RandomTensor(Shape1(9), 11);
  TensorContainer<cpu, 1> y(Shape1(9));
  y = 1.f - a * 2 + -a / 4.0;  // int and double literals convert to the tensor's DType
  for (index_t i = 0; i < 9; ++i) ASSERT_FLOAT_EQ(y.dptr_[i], 1 - a.dptr_[i] * 2 - a.dptr_[i] / 4);
  y = 3.5f;
  for (index_t i = 0; i < 9; ++i) ASSERT_EQ(y.dptr_[i], 3.5f);
}

TEST(Elementwise, DoubleAndLibraryFunctors) {
  auto a = test::RandomTensor<2, double>(Shape2(3, 4), 12);
  TensorContainer<cpu, 2, double> y(Shape2(3, 4));
  y = F<op::sigmoid>(a) + F<op::tanh>(a) + F<op::exp>(a) + F<op::maximum>(a, 0.25) +
      F<op::power>(F<op::abs>(a), 1.5);
  for (index_t i = 0; i < 12; ++i) {
    const double v = a.dptr_[i];
    ASSERT_NEAR(y.dptr_[i], 1 / (1 + std::exp(-v)) + std::tanh(v) + std::exp(v) +
                                std::max(v, 0.25) + std::pow(std::fabs(v), 1.5), 1e-12);
  }
}

TEST(Elementwise, AutoCapturedExpressionStaysValid) {
  // Operands are held by value: an expression outliving its statement is safe while the memory
  // of its tensors lives (mshadow's references would dangle here).
  auto a = test::RandomTensor(Shape1(5), 13);
  auto e = a * 2.f + 1.f;
  TensorContainer<cpu, 1> y(Shape1(5));
  y = e;
  for (index_t i = 0; i < 5; ++i) ASSERT_FLOAT_EQ(y.dptr_[i], a.dptr_[i] * 2 + 1);
}

TEST(Elementwise, ShapeMismatchRaisesWithBothShapes) {
  TensorContainer<cpu, 2> a(Shape2(3, 4), 0.f), b(Shape2(4, 3), 0.f), y(Shape2(3, 4));
  try {
    y = a + b;
    FAIL() << "no error";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("(3,4)"), std::string::npos) << m;
    EXPECT_NE(m.find("(4,3)"), std::string::npos) << m;
  }
  TensorContainer<cpu, 2> z(Shape2(2, 2));
  Tensor<cpu, 2> zv = z;  // a view does not resize (a container would)
  try {
    zv = a * 2.f;
    FAIL() << "no error";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("destination (2,2)"), std::string::npos) << m;
    EXPECT_NE(m.find("expression (3,4)"), std::string::npos) << m;
  }
}

// A view with a shape and no memory wrote through null (a crash, or worse); as a destination
// and as an operand it is an error naming its shape. One with no elements needs none.
TEST(Elementwise, ATensorWithoutMemoryIsAnError) {
  Tensor<cpu, 2> none(Shape2(2, 3));
  TensorContainer<cpu, 2> a(Shape2(2, 3), 1.f);
  for (int as_source = 0; as_source < 2; ++as_source) {
    try {
      if (as_source) a = none + 1.f;
      else none = a * 2.f;
      FAIL() << "no error";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("a tensor of shape (2,3) has no memory"), std::string::npos) << e.what();
    }
  }
  Tensor<cpu, 2> empty(Shape2(0, 3));
  EXPECT_NO_THROW(empty = 1.f);
}

TEST(Elementwise, ContainerResizesToExpression) {
  auto a = test::RandomTensor(Shape2(3, 4), 14);
  TensorContainer<cpu, 2> y;
  y = a + 1.f;
  EXPECT_EQ(y.shape_, Shape2(3, 4));
  EXPECT_FLOAT_EQ(y.dptr_[5], a.dptr_[5] + 1);
}

TEST(Elementwise, TransposeRead) {
  auto a = test::RandomTensor(Shape2(3, 5), 15);
  TensorContainer<cpu, 2> y(Shape2(5, 3));
  y = a.T() * 2.f;
  for (index_t i = 0; i < 5; ++i)
    for (index_t j = 0; j < 3; ++j) ASSERT_FLOAT_EQ(At(y.view(), i, j), 2 * At(a.view(), j, i));
}

}  // namespace
}  // namespace umbra
