// unpack_patch2col / pack_col2patch on the GPU against the CPU result.
#include "harness/gpu_compare.h"
#include "umbra/tensor/ext/patch2col.h"

namespace umbra {
namespace {

TEST(Patch2ColGPU, SameAsCPU) {
  UMBRA_REQUIRE_GPU();
  const Shape<4> img = Shape4(2, 3, 13, 10);
  // Dense; strided with dilation <= stride (pack_col2patch's candidate outputs); dilation over
  // stride (its taps, each checked by a division by the stride).
  for (const PatchParam& p : {PatchParam{3, 3, 1, 1, 1, 1, 1, 1}, PatchParam{3, 2, 2, 3, 2, 1, 2, 0},
                              PatchParam{2, 3, 2, 2, 3, 1, 1, 2}}) {
    SCOPED_TRACE(::testing::Message() << p);
    const Shape<2> cs = Shape2(3 * p.kh * p.kw, 2 * p.OutH(13) * p.OutW(10));
    auto x = test::RandomTensor(img, 1);
    auto col = test::RandomTensor(cs, 2);
    auto unpack = [p](auto out, auto in) { out = unpack_patch2col(in, p) * 2.f; };
    EXPECT_TRUE((test::SameOnGPU<2, float>(unpack, cs, 1e-6, x.view())));
    auto pack = [p](auto out, auto c) { out += pack_col2patch(c, out.shape_, p); };
    EXPECT_TRUE((test::SameOnGPU<4, float>(pack, img, 1e-5, col.view())));
    auto pack3 = [p](auto out, auto c) { out = pack_col2patch(c, out.shape_, p); };
    const Shape<2> cs1 = Shape2(cs[0], cs[1] / 2);
    auto col1 = test::RandomTensor(cs1, 3);
    EXPECT_TRUE((test::SameOnGPU<3, float>(pack3, Shape3(3, 13, 10), 1e-5, col1.view())));
  }
}

}  // namespace
}  // namespace umbra
