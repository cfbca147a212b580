// take and AddTakeGrad against plain loops: repeated and odd-sized indices, strided sources,
// destinations and gradients, index expressions, composition, the OpenMP-sized gradient path,
// double, and the index/shape errors (AddTakeGrad writes nothing when it raises).
#include <type_traits>

#include "harness/tensor_util.h"
#include "umbra/tensor/ext/take.h"

namespace umbra {
namespace {
using test::At;

template <typename DType = float>
TensorContainer<cpu, 1, DType> Indices(index_t n, index_t rows, uint64_t seed) {
  TensorContainer<cpu, 1, DType> idx(Shape1(n));
  Random<cpu> rnd(seed);
  for (index_t i = 0; i < n; ++i) idx.dptr_[i] = DType(index_t(rnd.NextUnit() * rows));
  return idx;
}

TEST(Take, GathersRows) {
  for (index_t rows : {1, 3, 17})
    for (index_t n : {1, 7, 40})
      for (index_t cols : {1, 5}) {
        auto w = test::RandomTensor(Shape2(rows, cols), rows + n + cols);
        auto idx = Indices(n, rows, n);
        auto e = take(idx.view(), w.view());
        static_assert(std::is_trivially_copyable_v<expr::Plan<decltype(e)>>);
        TensorContainer<cpu, 2> out;
        out = e;
        ASSERT_EQ(out.shape_, Shape2(n, cols));
        for (index_t i = 0; i < n; ++i)
          for (index_t j = 0; j < cols; ++j)
            ASSERT_EQ(At(out.view(), i, j), At(w.view(), index_t(idx.dptr_[i]), j));
      }
}

TEST(Take, StridedSourceDestinationAndComposition) {
  auto w = test::RandomTensor(Shape2(6, 5), 1);
  test::Strided<2, float> s(w.view());
  auto idx = Indices(9, 3, 2);
  TensorContainer<cpu, 2> base(Shape2(9, 8), 0.f);
  Tensor<cpu, 2> dst = base.SliceLast(1, 6);
  // Index expression (rows 3..5 via +3) on a strided source, with elementwise ops around.
  dst = take(idx.view() + 3.f, s.view * 2.f) + 1.f;
  for (index_t i = 0; i < 9; ++i) {
    for (index_t j = 0; j < 5; ++j)
      EXPECT_FLOAT_EQ(At(dst, i, j), 2 * At(w.view(), index_t(idx.dptr_[i]) + 3, j) + 1);
    EXPECT_EQ(At(base.view(), i, 0), 0.f);
    EXPECT_EQ(At(base.view(), i, 6), 0.f);
  }
}

TEST(Take, IndexOutOfRangeNamesShape) {
  auto w = test::RandomTensor(Shape2(4, 3), 3);
  for (float bad : {4.f, -1.f, 1e9f}) {
    float v[3] = {0.f, bad, 1.f};
    Tensor<cpu, 1> idx(v, Shape1(3));
    try {
      take(idx, w.view());
      FAIL() << "no error for " << bad;
    } catch (const Error& e) {
      const std::string m = e.what();
      EXPECT_NE(m.find("(4,3)"), std::string::npos) << m;
      EXPECT_NE(m.find("position 1"), std::string::npos) << m;
    }
  }
}

template <typename DType>
void CheckAddTakeGrad(index_t rows, index_t n, index_t cols, bool strided) {
  auto idx = Indices<DType>(n, rows, n + cols);
  auto g = test::RandomTensor<2, DType>(Shape2(n, cols), 1);
  auto d0 = test::RandomTensor<2, DType>(Shape2(rows, cols), 2);
  test::Strided<2, DType> gs(g.view()), ds(d0.view());
  TensorContainer<cpu, 2, DType> dc(d0);
  Tensor<cpu, 2, DType> dst = strided ? ds.view : dc.view();
  AddTakeGrad(dst, idx.view(), strided ? gs.view : g.view());
  // Reference: the same sums in the same order (index order per element).
  TensorContainer<cpu, 2, DType> want(d0);
  for (index_t i = 0; i < n; ++i)
    for (index_t j = 0; j < cols; ++j)
      At(want.view(), index_t(idx.dptr_[i]), j) += At(g.view(), i, j);
  EXPECT_TRUE(test::AllNear(dst, want.view(), 0));
}

TEST(AddTakeGrad, AccumulatesRepeatedIndices) {
  CheckAddTakeGrad<float>(1, 5, 3, false);  // every index is 0
  CheckAddTakeGrad<float>(3, 17, 7, false);
  CheckAddTakeGrad<float>(17, 3, 1, true);
  CheckAddTakeGrad<double>(5, 40, 9, true);
  CheckAddTakeGrad<float>(50, 300, 130, false);  // above the OpenMP threshold
  CheckAddTakeGrad<double>(50, 300, 130, true);
}

TEST(AddTakeGrad, KnownAnswer) {
  float iv[4] = {2.f, 0.f, 2.f, 2.f};
  float gv[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  TensorContainer<cpu, 2> dst(Shape2(3, 2), 0.f);
  AddTakeGrad(dst.view(), Tensor<cpu, 1>(iv, Shape1(4)), Tensor<cpu, 2>(gv, Shape2(4, 2)));
  const float want[6] = {3, 4, 0, 0, 1 + 5 + 7, 2 + 6 + 8};
  for (int i = 0; i < 6; ++i) EXPECT_EQ(dst.dptr_[i], want[i]);
}

TEST(AddTakeGrad, ErrorsNameShapesAndWriteNothing) {
  TensorContainer<cpu, 2> dst(Shape2(3, 2), 0.f);
  TensorContainer<cpu, 2> g(Shape2(4, 2), 1.f), g_bad(Shape2(4, 5), 1.f);
  float iv[4] = {0.f, 1.f, 3.f, 2.f};  // 3 is out of range
  Tensor<cpu, 1> idx(iv, Shape1(4));
  try {
    AddTakeGrad(dst.view(), idx, g_bad.view());
    FAIL() << "no error";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("(3,2)"), std::string::npos) << m;
    EXPECT_NE(m.find("(4,5)"), std::string::npos) << m;
  }
  try {
    AddTakeGrad(dst.view(), idx, g.view());
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("(3,2)"), std::string::npos) << e.what();
  }
  for (index_t i = 0; i < 6; ++i) EXPECT_EQ(dst.dptr_[i], 0.f);
}

}  // namespace
}  // namespace umbra
