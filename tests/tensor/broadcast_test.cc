// broadcast / repmat against plain loops, on contiguous and strided views, with error cases.
#include <type_traits>

#include "harness/tensor_util.h"

namespace umbra {
namespace {
using test::At;

TEST(Broadcast, LastDimIsBiasPerColumn) {
  for (index_t rows : {1, 3, 17}) {
    for (index_t cols : {1, 5, 33}) {
      auto b = test::RandomTensor(Shape1(cols), 1);
      auto x = test::RandomTensor(Shape2(rows, cols), 2);
      TensorContainer<cpu, 2> out(Shape2(rows, cols));
      out = x + broadcast<1>(b.view(), out.shape_);
      for (index_t i = 0; i < rows; ++i)
        for (index_t j = 0; j < cols; ++j)
          EXPECT_FLOAT_EQ(At(out.view(), i, j), At(x.view(), i, j) + b.dptr_[j]);
    }
  }
}

TEST(Broadcast, ChannelOf4D) {
  const Shape<4> s = Shape4(2, 3, 4, 5);
  auto b = test::RandomTensor(Shape1(3), 3);
  TensorContainer<cpu, 4> out(s);
  out = broadcast<1>(b.view(), s);
  for (index_t n = 0; n < 2; ++n)
    for (index_t c = 0; c < 3; ++c)
      for (index_t h = 0; h < 4; ++h)
        for (index_t w = 0; w < 5; ++w) EXPECT_EQ(At(out.view(), n, c, h, w), b.dptr_[c]);
}

TEST(Broadcast, FirstDimIntoStridedDestination) {
  auto b = test::RandomTensor(Shape1(4), 4);
  TensorContainer<cpu, 2> base(Shape2(4, 7), 0.f);
  Tensor<cpu, 2> dst = base.SliceLast(1, 6);  // (4, 5), stride 7
  dst += broadcast<0>(b.view(), dst.shape_);
  for (index_t i = 0; i < 4; ++i) {
    EXPECT_EQ(At(base.view(), i, 0), 0.f);
    for (index_t j = 0; j < 5; ++j) EXPECT_EQ(At(dst, i, j), b.dptr_[i]);
    EXPECT_EQ(At(base.view(), i, 6), 0.f);
  }
}

TEST(Broadcast, Repmat) {
  auto b = test::RandomTensor(Shape1(6), 5);
  TensorContainer<cpu, 2> out(Shape2(3, 6));
  out = repmat(b.view(), 3) * 2.f;
  for (index_t i = 0; i < 3; ++i)
    for (index_t j = 0; j < 6; ++j) EXPECT_FLOAT_EQ(At(out.view(), i, j), 2 * b.dptr_[j]);
}

// The GPU's flat paths (FlatOnGPU) read a broadcast by flat index and by packs of 4; run here on
// the host against the 2-D index of every element, for each dimension broadcast, and for a
// shape of 2^33 elements, where the flat index's divisions are 64-bit.
template <int dim, int N>
void ExpectFlatAsTwoD(const Shape<N>& s, index_t from, index_t count) {
  auto b = test::RandomTensor(Shape1(s[dim]), 11);
  const auto e = broadcast<dim>(b.view(), s);
  static_assert(!decltype(e)::kFlat && expr::FlatOnGPU<std::remove_const_t<decltype(e)>>::value);
  const expr::Plan<std::remove_const_t<decltype(e)>> plan(e);
  const index_t cols = s[N - 1];
  for (index_t i = from; i < from + count && i < s.Size(); ++i)
    ASSERT_EQ(plan.EvalFlat(i), plan.Eval(i / cols, i % cols)) << s << " flat index " << i;
  const index_t inner = s.ProdShape(dim + 1, N);
  if (!(inner % 4 == 0 || (inner == 1 && s[dim] % 4 == 0))) return;  // PackCheck refuses these
  for (index_t p = from / 4; p < (from + count) / 4 && 4 * p + 3 < s.Size(); ++p) {
    const expr::Pack4<float> v = plan.EvalPack(p);
    for (int k = 0; k < 4; ++k) ASSERT_EQ(v.v[k], plan.EvalFlat(4 * p + k)) << s << " pack " << p << " lane " << k;
  }
}

TEST(Broadcast, FlatAndPackedIndexAsTheTwoDOne) {
  ExpectFlatAsTwoD<1>(Shape4(3, 6, 5, 7), 0, 1 << 20);     // NCHW, 35 a plane: flat only
  ExpectFlatAsTwoD<1>(Shape4(3, 6, 4, 7), 0, 1 << 20);     // 28 a plane: packs of one channel
  ExpectFlatAsTwoD<1>(Shape4(60, 8, 1, 1), 0, 1 << 20);    // channels-last rows: packs of 4 channels
  ExpectFlatAsTwoD<1>(Shape2(9, 7), 0, 1 << 20);           // repmat, 7 columns: flat only
  ExpectFlatAsTwoD<0>(Shape2(9, 8), 0, 1 << 20);           // along rows
  ExpectFlatAsTwoD<2>(Shape3(3, 5, 12), 0, 1 << 20);       // the last of three
  const Shape<4> big = Shape4(index_t(1) << 20, 8, 1024, 1);  // 2^33 elements
  ExpectFlatAsTwoD<1>(big, (index_t(1) << 33) - 5000, 5000);
  ExpectFlatAsTwoD<1>(big, (index_t(1) << 32) - 2000, 4000);  // indices across 2^32
  // Just under 2^32 elements: the divisions' 32-bit path (FastDiv on the GPU and emulated; a
  // plain division in a CPU build), to the last element.
  const Shape<4> under = Shape4(index_t(1) << 20, 8, 511, 1);
  ExpectFlatAsTwoD<1>(under, under.Size() - 4000, 4000);
  const Shape<2> rows = Shape2(index_t(1) << 31, 12);          // channels-last, 3 x 2^33
  ExpectFlatAsTwoD<1>(rows, rows.Size() - 3000, 3000);
}

TEST(Broadcast, LengthMismatchNamesShapes) {
  TensorContainer<cpu, 1> b(Shape1(4), 0.f);
  try {
    broadcast<1>(b.view(), Shape2(3, 5));
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("(3,5)"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace umbra
