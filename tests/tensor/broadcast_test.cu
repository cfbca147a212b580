// broadcast / repmat on the GPU against the CPU result, also with statements launched in slices
// of rows (as statements over 2^32 elements or more are).
#include "harness/gpu_compare.h"

namespace umbra {
namespace {

TEST(BroadcastGPU, SameAsCPU) {
  UMBRA_REQUIRE_GPU();
  auto b = test::RandomTensor(Shape1(7), 1);
  auto x = test::RandomTensor(Shape3(5, 7, 9), 2);
  auto last = [](auto out, auto bias) { out = repmat(bias, out.size(0)) + 1.f; };
  EXPECT_TRUE((test::SameOnGPU<2, float>(last, Shape2(13, 7), 1e-6, b.view())));
  auto mid = [](auto out, auto bias, auto in) { out = in * broadcast<1>(bias, out.shape_); };
  EXPECT_TRUE((test::SameOnGPU<3, float>(mid, Shape3(5, 7, 9), 1e-6, b.view(), x.view())));
}

// A channel broadcast over (N, C, H, W), and a strided destination, in launches of 100 elements
// (the first rows of each slice start mid-channel): as one launch.
TEST(BroadcastGPU, SlicedLaunchesSameAsCPU) {
  UMBRA_REQUIRE_GPU();
  auto b = test::RandomTensor(Shape1(6), 3);
  auto x = test::RandomTensor(Shape4(3, 6, 5, 7), 4);
  auto bn = [](auto out, auto bias, auto in) { out = F<op::relu>(in * broadcast<1>(bias, out.shape_) + 0.5f); };
  struct Restore {  // the default again, even if a check throws
    index_t saved = cuda::Map2DSliceElements();
    ~Restore() { cuda::Map2DSliceElements() = saved; }
  } restore;
  cuda::Map2DSliceElements() = 100;
  EXPECT_TRUE((test::SameOnGPU<4, float>(bn, Shape4(3, 6, 5, 7), 1e-6, b.view(), x.view())));
  auto strided = [](auto out, auto bias) { out.SliceLast(1, 8) = repmat(bias, out.size(0)) * 2.f; };
  EXPECT_TRUE((test::SameOnGPU<2, float>(strided, Shape2(41, 9), 1e-6, test::RandomTensor(Shape1(7), 5).view())));
}

}  // namespace
}  // namespace umbra
