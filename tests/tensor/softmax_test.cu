// Softmax / SoftmaxGrad on the GPU against the CPU result (warp-per-row and thread-per-column
// kernels, label and Jacobian-vector-product gradients), and the documented GPU behaviour for
// out-of-range labels (no one-hot: dst = src). exp differs by an ulp or two between devices.
#include "harness/gpu_compare.h"
#include "umbra/tensor/ext/softmax.h"

namespace umbra {
namespace {

// Labels 0..c-1 in a pseudo-random pattern, stored as float.
template <int N>
TensorContainer<cpu, N> Labels(const Shape<N>& s, index_t c) {
  TensorContainer<cpu, N> t(s);
  for (index_t i = 0; i < s.Size(); ++i) t.dptr_[i] = float((i * 7 + 3) % c);
  return t;
}

TEST(SoftmaxGPU, ForwardSameAsCPU) {
  UMBRA_REQUIRE_GPU();
  auto f = [](auto out, auto in) { Softmax(out, in); };
  for (const Shape<2>& s : {Shape2(1, 1), Shape2(17, 33), Shape2(300, 1000)}) {
    auto x = test::RandomTensor(s, 1, -20.f, 20.f);
    EXPECT_TRUE((test::SameOnGPU<2, float>(f, s, 1e-5, x.view())));
  }
  auto wide = test::RandomTensor(Shape2(9, 40), 2, -5.f, 5.f);
  auto strided = [](auto out, auto in) { Softmax(out, in.SliceLast(3, 40)); };
  EXPECT_TRUE((test::SameOnGPU<2, float>(strided, Shape2(9, 37), 1e-5, wide.view())));
  auto x3 = test::RandomTensor(Shape3(5, 21, 77), 3, -20.f, 20.f);
  EXPECT_TRUE((test::SameOnGPU<3, float>(f, Shape3(5, 21, 77), 1e-5, x3.view())));
  // The column kernel on a strided view: the input's row stride (80) other than the output's.
  auto x3w = test::RandomTensor(Shape3(5, 21, 80), 9, -20.f, 20.f);
  auto strided3 = [](auto out, auto in) { Softmax(out, in.SliceLast(3, 80)); };
  EXPECT_TRUE((test::SameOnGPU<3, float>(strided3, Shape3(5, 21, 77), 1e-5, x3w.view())));
}

TEST(SoftmaxGPU, GradientsSameAsCPU) {
  UMBRA_REQUIRE_GPU();
  auto g = [](auto dst, auto a, auto b) { SoftmaxGrad(dst, a, b); };
  auto p = test::RandomTensor(Shape2(37, 10), 4, 0.f, 1.f);
  auto w = test::RandomTensor(Shape2(37, 10), 5);
  EXPECT_TRUE((test::SameOnGPU<2, float>(g, Shape2(37, 10), 1e-5, p.view(), w.view())));
  auto l2 = Labels(Shape1(37), 10);
  EXPECT_TRUE((test::SameOnGPU<2, float>(g, Shape2(37, 10), 0, p.view(), l2.view())));
  auto p3 = test::RandomTensor(Shape3(3, 6, 50), 6, 0.f, 1.f);
  auto w3 = test::RandomTensor(Shape3(3, 6, 50), 7);
  EXPECT_TRUE((test::SameOnGPU<3, float>(g, Shape3(3, 6, 50), 1e-5, p3.view(), w3.view())));
  auto l3 = Labels(Shape2(3, 50), 6);
  EXPECT_TRUE((test::SameOnGPU<3, float>(g, Shape3(3, 6, 50), 0, p3.view(), l3.view())));
  // Strided operands of three different row strides (53, 56, 50 for the output): each read
  // with its own.
  auto p3w = test::RandomTensor(Shape3(3, 6, 53), 10, 0.f, 1.f);
  auto w3w = test::RandomTensor(Shape3(3, 6, 56), 11);
  auto gs = [](auto dst, auto a, auto b) { SoftmaxGrad(dst, a.SliceLast(3, 53), b.SliceLast(6, 56)); };
  EXPECT_TRUE((test::SameOnGPU<3, float>(gs, Shape3(3, 6, 50), 1e-5, p3w.view(), w3w.view())));
  auto l3w = test::RandomTensor(Shape2(3, 54), 12);  // labels from a strided view as well
  for (index_t i = 0; i < l3w.Size(); ++i) l3w.dptr_[i] = float((i * 5 + 1) % 6);
  auto gl = [](auto dst, auto a, auto b) { SoftmaxGrad(dst, a.SliceLast(3, 53), b.SliceLast(4, 54)); };
  EXPECT_TRUE((test::SameOnGPU<3, float>(gl, Shape3(3, 6, 50), 0, p3w.view(), l3w.view())));
}

TEST(SoftmaxGPU, OutOfRangeLabelAddsNoOneHot) {
  UMBRA_REQUIRE_GPU();
  auto p = test::RandomTensor(Shape2(3, 4), 8);
  TensorContainer<cpu, 1> label(Shape1(3));
  label.dptr_[0] = -1, label.dptr_[1] = 4, label.dptr_[2] = 2;
  auto gp = test::ToGPU(p.view());
  auto gl = test::ToGPU(label.view());
  TensorContainer<gpu, 2> gd(p.shape_);
  SoftmaxGrad(gd.view(), gp.view(), gl.view());
  auto back = test::ToCPU(gd.view());
  for (index_t i = 0; i < 12; ++i)
    EXPECT_EQ(back.dptr_[i], p.dptr_[i] - (i == 2 * 4 + 2 ? 1.f : 0.f)) << i;
}

}  // namespace
}  // namespace umbra
