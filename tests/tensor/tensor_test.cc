// Tensors as views: shapes, slicing, operator[], FlatTo2D/View, Copy with strides, the owning
// container (deep copies, moves, resize), and the view errors.
#include "harness/tensor_util.h"

namespace umbra {
namespace {
using test::At;

TEST(Shape, SizesAndPrinting) {
  Shape<4> s = Shape4(2, 3, 4, 5);
  EXPECT_EQ(s.Size(), 120);
  EXPECT_EQ(s.ProdShape(1, 3), 12);
  EXPECT_EQ(s.FlatTo2D(), Shape2(24, 5));
  EXPECT_EQ(s.SubShape(), Shape3(3, 4, 5));
  EXPECT_EQ(s.ToString(), "(2,3,4,5)");
  EXPECT_NE(s, Shape4(2, 3, 4, 6));
}

TEST(Tensor, IndexSliceAndViews) {
  auto a = test::RandomTensor(Shape3(4, 3, 5), 1);
  Tensor<cpu, 2> m = a[2];
  EXPECT_EQ(m.shape_, Shape2(3, 5));
  EXPECT_EQ(At(m, 1, 4), At(a.view(), 2, 1, 4));
  Tensor<cpu, 3> s = a.Slice(1, 3);
  EXPECT_EQ(s.shape_, Shape3(2, 3, 5));
  EXPECT_EQ(At(s, 1, 2, 3), At(a.view(), 2, 2, 3));
  Tensor<cpu, 3> cols = a.SliceLast(1, 4);
  EXPECT_FALSE(cols.CheckContiguous());
  EXPECT_EQ(At(cols, 3, 2, 2), At(a.view(), 3, 2, 3));
  EXPECT_EQ(a.FlatTo2D().shape_, Shape2(12, 5));
  Tensor<cpu, 2> v = a.View(Shape2(6, 10));
  EXPECT_EQ(At(v, 5, 9), a.dptr_[59]);
  EXPECT_EQ(a.FlatTo1D().shape_, Shape1(60));
  // 1-D slices stay contiguous and usable.
  Tensor<cpu, 1> f = a.FlatTo1D().Slice(3, 10);
  EXPECT_TRUE(f.CheckContiguous());
  EXPECT_EQ(f.dptr_[0], a.dptr_[3]);
}

TEST(Tensor, ViewErrorsNameTheShape) {
  TensorContainer<cpu, 2> a(Shape2(3, 4), 0.f);
  EXPECT_THROW(a[3], Error);
  EXPECT_THROW(a.Slice(2, 5), Error);
  EXPECT_THROW(a.View(Shape2(5, 3)), Error);
  try {
    a.SliceLast(0, 2).FlatTo1D();
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("(3,2)"), std::string::npos) << e.what();
  }
}

TEST(Tensor, CopyRespectsStrides) {
  auto a = test::RandomTensor(Shape2(5, 7), 2);
  test::Strided<2, float> s(a.view());
  TensorContainer<cpu, 2> b(Shape2(5, 7));
  Copy(b.view(), s.view);
  EXPECT_TRUE(test::AllNear(b.view(), a.view(), 0));
  EXPECT_EQ(s.storage.dptr_[7], -777.f);  // padding untouched
  TensorContainer<cpu, 2> wrong(Shape2(7, 5));
  EXPECT_THROW(Copy(wrong.view(), a.view()), Error);
}

TEST(TensorContainer, DeepCopyMoveResize) {
  auto a = test::RandomTensor(Shape2(3, 4), 3);
  TensorContainer<cpu, 2> b = a;
  EXPECT_NE(b.dptr_, a.dptr_);
  EXPECT_TRUE(test::AllNear(b.view(), a.view(), 0));
  float* p = b.dptr_;
  TensorContainer<cpu, 2> c = std::move(b);
  EXPECT_EQ(c.dptr_, p);
  c.Resize(Shape2(2, 2), 7.f);
  EXPECT_EQ(c.shape_, Shape2(2, 2));
  EXPECT_EQ(c.dptr_[3], 7.f);
  TensorContainer<cpu, 2> padded(Shape2(3, 5), true);
  EXPECT_EQ(padded.stride_ % 16, 0);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(padded.dptr_) % 64, 0u);
  Tensor<cpu, 2, double> t = NewTensor<cpu>(Shape2(2, 3), 1.5, false);
  EXPECT_EQ(t.dptr_[5], 1.5);
  FreeSpace(&t);
}

// A container assigned an expression of a new shape that reads its own storage (a = reshape(a),
// a = a.T(), keeping the first rows) read it after a Resize freed it: garbage, no error.
// A moved-from container is empty (it kept its shape and wrote through null); a negative
// dimension is refused where the space is asked for (a negative-size copy crashed later).
TEST(TensorContainer, NewShapeFromItselfMovedFromAndNegativeShapes) {
  TensorContainer<cpu, 2> a(Shape2(2, 3));
  for (index_t i = 0; i < 6; ++i) a.dptr_[i] = float(i);
  a = reshape(a.view(), Shape2(3, 2));
  EXPECT_EQ(a.shape_, Shape2(3, 2));
  for (index_t i = 0; i < 6; ++i) EXPECT_EQ(a.dptr_[i], float(i));
  a = a.view().T();
  EXPECT_EQ(a.shape_, Shape2(2, 3));
  EXPECT_EQ(At(a.view(), 1, 0), 1.f);
  EXPECT_EQ(At(a.view(), 0, 2), 4.f);
  a = F<op::identity>(a.Slice(0, 1));
  EXPECT_EQ(a.shape_, Shape2(1, 3));
  EXPECT_EQ(a.dptr_[2], 4.f);
  TensorContainer<cpu, 2> b(std::move(a));
  EXPECT_EQ(a.shape_.Size(), 0);
  a = 2.f;  // nothing to write
  TensorContainer<cpu, 2> c;
  c = std::move(b);
  EXPECT_EQ(b.shape_.Size(), 0);
  EXPECT_HAS(test::ErrorOf([] { TensorContainer<cpu, 2> n(Shape2(-2, 3)); }), "a negative dimension");
}

// Linux lends memory it does not have: tensors past the machine's memory were handed out one by
// one, and the OOM killer ended the run without a word when they were filled. Their sum is
// checked at each allocation instead (nothing here is touched, so nothing is used).
TEST(Tensor, HostTensorsPastTheMachinesMemoryAreAnError) {
  const size_t machine = detail::HostMemoryBytes();
  ASSERT_GT(machine, 0u);
  Tensor<cpu, 1> a(nullptr, Shape1(index_t(machine / 10 * 6 / sizeof(float)))), b = a;
  AllocSpace(&a);
  const std::string error = test::ErrorOf([&] { AllocSpace(&b); });
  EXPECT_HAS(error, "out of host memory: tensors would take ");
  EXPECT_HAS(error, "GiB, more than " + detail::HostMemoryLimit().what + " ");  // the machine's, or its cgroup's
  FreeSpace(&a);
  AllocSpace(&b);  // freed memory counts no more
  FreeSpace(&b);
}

TEST(Tensor, AssignmentRebindsTheView) {
  TensorContainer<cpu, 1> a(Shape1(3), 1.f), b(Shape1(3), 2.f);
  Tensor<cpu, 1> v = a;
  v = b.view();  // handle semantics: no data moves
  EXPECT_EQ(v.dptr_, b.dptr_);
  EXPECT_EQ(a.dptr_[0], 1.f);
}

}  // namespace
}  // namespace umbra
