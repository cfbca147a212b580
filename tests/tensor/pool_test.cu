// pool / unpool / chpool / ch_unpool on the GPU against the CPU result.
#include "harness/gpu_compare.h"
#include "umbra/tensor/ext/pool.h"

namespace umbra {
namespace {

TEST(PoolGPU, SameAsCPU) {
  UMBRA_REQUIRE_GPU();
  const Shape<4> s = Shape4(2, 3, 9, 8);
  const index_t oh = PoolOutSize(9, 3, 2, true, 1), ow = PoolOutSize(8, 3, 2, true, 1);
  const Shape<4> ps = Shape4(2, 3, oh, ow);
  auto x = test::RandomTensor(s, 1);
  auto g = test::RandomTensor(ps, 2);
  auto fwd = [](auto out, auto in) {
    out = pool<red::maximum>(F<op::relu>(in), Shape2(out.size(2), out.size(3)), 3, 3, 2, 2, 1, 1);
  };
  EXPECT_TRUE((test::SameOnGPU<4, float>(fwd, ps, 1e-6, x.view())));
  auto avg = [](auto out, auto in) {
    out = pool<red::sum>(in, Shape2(out.size(2), out.size(3)), 3, 3, 2, 2, 1, 1) * (1.f / 9);
  };
  EXPECT_TRUE((test::SameOnGPU<4, float>(avg, ps, 1e-5, x.view())));

  TensorContainer<cpu, 4> pooled(ps);
  pooled = pool<red::maximum>(x.view(), Shape2(oh, ow), 3, 3, 2, 2, 1, 1);
  auto bwd = [](auto out, auto in, auto p, auto gr) {
    out = unpool<red::maximum>(in, p, gr, 3, 3, 2, 2, 1, 1);
  };
  EXPECT_TRUE((test::SameOnGPU<4, float>(bwd, s, 1e-6, x.view(), pooled.view(), g.view())));

  auto gc = test::RandomTensor(s, 3);
  TensorContainer<cpu, 4> norm(s);
  norm = chpool<red::sum>(F<op::square>(x.view()), 5);
  auto ch = [](auto out, auto in) { out = 1.f + chpool<red::sum>(F<op::square>(in), 5) * 1e-2f; };
  EXPECT_TRUE((test::SameOnGPU<4, float>(ch, s, 1e-5, x.view())));
  auto chb = [](auto out, auto in, auto p, auto gr) { out += ch_unpool<red::sum>(in, p, gr, 5); };
  EXPECT_TRUE((test::SameOnGPU<4, float>(chb, s, 1e-5, x.view(), norm.view(), gc.view())));
  auto chm = [](auto out, auto in) { out = chpool<red::maximum>(in, 3); };
  EXPECT_TRUE((test::SameOnGPU<4, float>(chm, s, 1e-6, x.view())));
}

// Other windows (strides 1 and 3, no padding, a padding of 2, floor and ceil sizes): unpool's
// window ranges divide by the stride.
TEST(PoolGPU, UnpoolOtherWindows) {
  UMBRA_REQUIRE_GPU();
  struct W { index_t k, s, p; bool ceil; };
  for (const W w : {W{2, 1, 0, false}, W{3, 3, 0, true}, W{5, 3, 2, false}, W{3, 2, 0, true}}) {
    SCOPED_TRACE("k " + std::to_string(w.k) + " s " + std::to_string(w.s) + " p " + std::to_string(w.p));
    const Shape<4> s = Shape4(2, 3, 11, 10);
    const index_t oh = PoolOutSize(11, w.k, w.s, w.ceil, w.p), ow = PoolOutSize(10, w.k, w.s, w.ceil, w.p);
    const Shape<4> ps = Shape4(2, 3, oh, ow);
    auto x = test::RandomTensor(s, 4);
    auto g = test::RandomTensor(ps, 5);
    TensorContainer<cpu, 4> pooled(ps);
    pooled = pool<red::maximum>(x.view(), Shape2(oh, ow), w.k, w.k, w.s, w.s, w.p, w.p);
    auto fwd = [w](auto out, auto in) { out = pool<red::maximum>(in, Shape2(out.size(2), out.size(3)), w.k, w.k, w.s, w.s, w.p, w.p); };
    EXPECT_TRUE((test::SameOnGPU<4, float>(fwd, ps, 1e-6, x.view())));
    auto bwd = [w](auto out, auto in, auto p, auto gr) { out = unpool<red::maximum>(in, p, gr, w.k, w.k, w.s, w.s, w.p, w.p); };
    EXPECT_TRUE((test::SameOnGPU<4, float>(bwd, s, 1e-6, x.view(), pooled.view(), g.view())));
  }
}

}  // namespace
}  // namespace umbra
