// one_hot_encode against a plain loop: several lengths and depths, out-of-range indices (zero
// rows), index expressions, strided destinations, composition, and the negative-depth error.
#include <type_traits>

#include "harness/tensor_util.h"
#include "umbra/tensor/ext/one_hot.h"

namespace umbra {
namespace {
using test::At;

TensorContainer<cpu, 1> Indices(index_t n, index_t depth, uint64_t seed) {
  TensorContainer<cpu, 1> idx(Shape1(n));
  Random<cpu> rnd(seed);
  for (index_t i = 0; i < n; ++i) idx.dptr_[i] = float(index_t(rnd.NextUnit() * depth));
  return idx;
}

void ExpectOneHot(const Tensor<cpu, 2>& out, const Tensor<cpu, 1>& idx, float on = 1,
                  float off = 0) {
  ASSERT_EQ(out.size(0), idx.size(0));
  for (index_t i = 0; i < out.size(0); ++i)
    for (index_t j = 0; j < out.size(1); ++j)
      ASSERT_EQ(At(out, i, j), index_t(idx.dptr_[i]) == j ? on : off) << i << "," << j;
}

TEST(OneHot, Sizes) {
  for (index_t n : {1, 3, 17})
    for (index_t depth : {1, 5, 10}) {
      auto idx = Indices(n, depth, n * 100 + depth);
      auto e = one_hot_encode(idx.view(), depth);
      static_assert(std::is_trivially_copyable_v<expr::Plan<decltype(e)>>);
      TensorContainer<cpu, 2> out;
      out = e;
      ASSERT_EQ(out.shape_, Shape2(n, depth));
      ExpectOneHot(out.view(), idx.view());
    }
}

TEST(OneHot, OutOfRangeIsZeroRow) {
  float v[4] = {-1.f, 4.f, 2.f, 100.f};
  Tensor<cpu, 1> idx(v, Shape1(4));
  TensorContainer<cpu, 2> out;
  out = one_hot_encode(idx, 4);
  for (index_t j = 0; j < 4; ++j) {
    EXPECT_EQ(At(out.view(), 0, j), 0.f);
    EXPECT_EQ(At(out.view(), 1, j), 0.f);
    EXPECT_EQ(At(out.view(), 2, j), j == 2 ? 1.f : 0.f);
    EXPECT_EQ(At(out.view(), 3, j), 0.f);
  }
}

TEST(OneHot, ExpressionIndexStridedDestinationComposition) {
  auto idx = Indices(7, 5, 1);
  TensorContainer<cpu, 2> base(Shape2(7, 9), 0.f);
  Tensor<cpu, 2> dst = base.SliceLast(2, 8);  // (7, 6), stride 9
  // Labels stored 1-based, shifted in the statement; then mapped to +-1 targets.
  TensorContainer<cpu, 1> one_based(idx.shape_);
  one_based = idx.view() + 1.f;
  dst = one_hot_encode(one_based.view() - 1.f, 6) * 2.f - 1.f;
  ExpectOneHot(dst, idx.view(), 1.f, -1.f);
  for (index_t i = 0; i < 7; ++i) {
    EXPECT_EQ(At(base.view(), i, 1), 0.f);
    EXPECT_EQ(At(base.view(), i, 8), 0.f);
  }
}

TEST(OneHot, NegativeDepthAndMismatchNameShapes) {
  TensorContainer<cpu, 1> idx(Shape1(3), 0.f);
  try {
    one_hot_encode(idx.view(), -2);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("(3)"), std::string::npos) << e.what();
  }
  TensorContainer<cpu, 2> out(Shape2(3, 4));
  try {
    Tensor<cpu, 2> v = out;
    v = one_hot_encode(idx.view(), 5);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("(3,5)"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace umbra
