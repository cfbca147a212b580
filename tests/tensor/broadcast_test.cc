// broadcast / repmat against plain loops, on contiguous and strided views, with error cases.
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
