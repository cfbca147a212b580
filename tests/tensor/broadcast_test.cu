// broadcast / repmat on the GPU against the CPU result, also with statements launched in slices
// of rows (as statements over 2^32 elements or more are).
#include "harness/gpu_compare.h"
#include "umbra/scoped_value.h"

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

// A channel broadcast over (N, C, H, W) from a strided input, and a strided destination (both
// off the flat paths), in launches of 100 elements (the first rows of each slice start
// mid-channel): as one launch.
TEST(BroadcastGPU, SlicedLaunchesSameAsCPU) {
  UMBRA_REQUIRE_GPU();
  auto b = test::RandomTensor(Shape1(6), 3);
  auto x = test::RandomTensor(Shape4(3, 6, 5, 9), 4);
  auto bn = [](auto out, auto bias, auto in) {
    out = F<op::relu>(in.SliceLast(1, 8) * broadcast<1>(bias, out.shape_) + 0.5f);
  };
  const ScopedValue slices(cuda::Map2DSliceElements(), index_t(100));  // the default again after, a throw included
  EXPECT_TRUE((test::SameOnGPU<4, float>(bn, Shape4(3, 6, 5, 7), 1e-6, b.view(), x.view())));
  EXPECT_EQ(int(cuda::LastMapPath()), int(cuda::MapPath::k2D));
  auto strided = [](auto out, auto bias) { out.SliceLast(1, 8) = repmat(bias, out.size(0)) * 2.f; };
  EXPECT_TRUE((test::SameOnGPU<2, float>(strided, Shape2(41, 9), 1e-6, test::RandomTensor(Shape1(7), 5).view())));
}

// Broadcasts among contiguous tensors take the flat paths (FlatOnGPU): packs of 4 where a pack
// is one channel's values or 4 channels, aligned; the scalar flat path for other contiguous
// shapes; the 2-D path for a strided destination. Each as the CPU computes it.
TEST(BroadcastGPU, ChannelStatementsTakeTheFlatPaths) {
  UMBRA_REQUIRE_GPU();
  using cuda::MapPath;
  auto bn = [](auto out, auto scale, auto shift, auto in) {
    out = F<op::relu>(in * broadcast<1>(scale, out.shape_) + broadcast<1>(shift, out.shape_));
  };
  auto expect = [&](const Shape<4>& s, MapPath path, index_t src_offset = 0) {
    const index_t c = s[1];
    auto scale = test::RandomTensor(Shape1(c + src_offset), 21), shift = test::RandomTensor(Shape1(c), 22);
    auto x = test::RandomTensor(s, 23);
    auto gscale = test::ToGPU(scale.view()), gshift = test::ToGPU(shift.view());
    auto gx = test::ToGPU(x.view());
    TensorContainer<cpu, 4> y(s);
    TensorContainer<gpu, 4> gy(s);
    // The scale's vector from src_offset: 4 bytes past a 16-byte boundary where it is 1.
    bn(y.view(), scale.view().Slice(src_offset, src_offset + c), shift.view(), x.view());
    bn(gy.view(), gscale.view().Slice(src_offset, src_offset + c), gshift.view(), gx.view());
    EXPECT_EQ(int(cuda::LastMapPath()), int(path)) << s;
    EXPECT_TRUE(test::AllNear(test::ToCPU(gy.view()).view(), y.view(), 1e-6)) << s;
  };
  expect(Shape4(3, 6, 4, 7), MapPath::kPack);      // NCHW, 28 a plane: one channel a pack
  expect(Shape4(3, 6, 5, 7), MapPath::kFlat);      // 35 a plane
  expect(Shape4(50, 12, 1, 1), MapPath::kPack);    // channels-last rows: 4 channels a pack
  expect(Shape4(50, 10, 1, 1), MapPath::kFlat);    // 10 channels: a pack would span two rows
  expect(Shape4(50, 12, 1, 1), MapPath::kFlat, 1);  // the channels' vector off alignment
  expect(Shape4(4, 6, 2, 2), MapPath::kPack, 1);   // ... read one value a pack: no matter
  auto bias = [](auto out, auto b, auto in) { out = in + repmat(b, out.size(0)); };
  EXPECT_TRUE((test::SameOnGPU<2, float>(bias, Shape2(9, 8), 1e-6, test::RandomTensor(Shape1(8), 24).view(),
                                         test::RandomTensor(Shape2(9, 8), 25).view())));
  EXPECT_EQ(int(cuda::LastMapPath()), int(MapPath::kPack));
  auto strided = [](auto out, auto b) { out.SliceLast(0, 8) = repmat(b, out.size(0)); };
  EXPECT_TRUE((test::SameOnGPU<2, float>(strided, Shape2(9, 12), 1e-6, test::RandomTensor(Shape1(8), 26).view())));
  EXPECT_EQ(int(cuda::LastMapPath()), int(MapPath::k2D));
}

}  // namespace
}  // namespace umbra
