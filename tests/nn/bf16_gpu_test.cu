// dtype=bf16 passes that layers_gpu_test's rows (one layer against the cpu) do not reach: a
// convolution's relu applied as its bf16 output is converted back (with the bias, in that one
// pass) trains as the same net with its relus as written, in both layouts; and fullc's
// backward, which takes the training forward's bf16 copies of x and w, casts again after a
// test-mode forward or a first backward, so that it computes from the values the fp32 path
// would read.
#include <gtest/gtest.h>

#include <cmath>

#include "harness/gpu_compare.h"
#include "harness/layer_check.h"
#include "umbra/nn/trainer.h"

namespace umbra {
// Named: the gpu test files are compiled as one unit (tests/CMakeLists.txt), where helpers of
// the same name in anonymous namespaces would collide.
namespace bf16_gpu_test {

using test::L;  // harness/layer_check.h

// conv (bias) -> relu -> conv (no bias) -> relu -> max pool -> flatten -> fullc -> relu ->
// fullc -> softmax, every conv and fullc in bf16.
nn::NetSpec Spec(bool fuse, bool nhwc) {
  nn::NetSpec s;
  s.input_shape = Shape4(4, 3, 10, 10);
  s.seed = 13;
  s.fuse_relu = fuse;
  s.channels_last = nhwc;
  s.layers = {L("conv", "c1", {"in"}, {"c1"}, {{"nchannel", "6"}, {"kernel_size", "3"}, {"pad", "1"}}),
              L("relu", "r1", {"c1"}, {"c1"}),
              L("conv", "c2", {"c1"}, {"c2"}, {{"nchannel", "5"}, {"kernel_size", "3"}, {"no_bias", "1"}}),
              L("relu", "r2", {"c2"}, {"c2"}),
              L("max_pooling", "p", {"c2"}, {"p"}, {{"kernel_size", "2"}, {"stride", "2"}}),
              L("flatten", "f", {"p"}, {"f"}),
              L("fullc", "fc1", {"f"}, {"h"}, {{"nhidden", "12"}}),
              L("relu", "r3", {"h"}, {"h"}),
              L("fullc", "fc2", {"h"}, {"o"}, {{"nhidden", "4"}}),
              L("softmax", "loss", {"o"}, {"prob"})};
  EXPECT_EQ(nn::SetKeyWhereTaken<cpu>(s, "dtype", "bf16").size(), 4u);
  // Weights large enough that the relus decide the loss (at 0.01 it stays near ln 4 either way).
  nn::SetKeyWhereTaken<cpu>(s, "init_sigma", "0.15");
  return s;
}

int Relus(nn::Net<gpu>& net) {
  int n = 0;
  for (size_t i = 0; i < net.NumLayers(); ++i) n += std::string(net.LayerAt(i).Type()) == "relu";
  return n;
}

TEST(Bf16GPU, FusedReluTrainsAsWritten) {
  UMBRA_REQUIRE_GPU();
  nn::UpdaterSettings us;
  us.Set("lr", "0.05");
  us.Set("momentum", "0.9");
  TensorContainer<cpu, 4> hx(Shape4(4, 3, 10, 10));
  TensorContainer<cpu, 2> hy(Shape2(4, 1));
  Random<cpu> r(5);
  r.SampleUniform(&hx, -1.f, 1.f);
  for (index_t i = 0; i < 4; ++i) hy.dptr_[i] = float(i);
  auto y = test::ToGPU(hy.view());
  for (bool nhwc : {false, true}) {
    SCOPED_TRACE(nhwc ? "channels-last" : "plain layout");
    nn::Trainer<gpu> fused(Spec(true, nhwc), us), written(Spec(false, nhwc), us);
    test::RandomShifts(fused.net());
    test::RandomShifts(written.net());
    EXPECT_EQ(Relus(fused.net()), 0);
    EXPECT_EQ(Relus(written.net()), 3);
    // The channels-last nets take the batch as (N, C, H, W) and move it themselves.
    auto x = test::ToGPU(hx.view());
    // The same operations on the same values: equal in the emulation; on a GPU, cuDNN's
    // algorithms with atomics may sum a gradient in another order, which can cross a bf16
    // rounding step (2^-8 relative on one element). A relu applied to the wrong values, or
    // not at all, moves the loss by its own size.
    for (int step = 0; step < 3; ++step) {
      const double a = fused.Step(x.view(), y.view()), b = written.Step(x.view(), y.view());
      EXPECT_NEAR(a, b, 1e-3 * std::fabs(b)) << "step " << step + 1;
    }
    // Weights: a bf16 step of a weight gradient (2^-7 relative, from an atomics-ordered sum)
    // moves a weight by up to lr * 2.7 * 2^-7 |g| over three steps of momentum.
    test::ExpectSameWeights(fused.net(), written.net(), 3e-3);
  }
}

// The weight and input gradients of a bf16 fullc layer after `run` (forward and backward passes).
struct FullcGrads {
  TensorContainer<cpu, 2> gw, gb;
  TensorContainer<cpu, 4> gx;
};
template <typename Run>
FullcGrads Grads(const TensorContainer<cpu, 2>& w, Run run) {
  test::LayerRig<gpu, float> rig("fullc", {{"nhidden", "5"}, {"dtype", "bf16"}}, {Shape4(4, 3, 2, 2)});
  auto wg = test::Weights(*rig.layer);
  Copy(wg[0].first, w.view());
  run(rig);
  return {test::ToCPU(wg[0].second), test::ToCPU(wg[1].second), test::ToCPU(rig.in[0]->grad)};
}

// a's gradients are b's weight and bias gradients times `scale`, and b's input gradient (or gx).
void ExpectSame(const FullcGrads& a, const FullcGrads& b, double scale, const TensorContainer<cpu, 4>* gx = nullptr) {
  TensorContainer<cpu, 2> gw(b.gw.shape_), gb(b.gb.shape_);
  gw = b.gw.view() * float(scale), gb = b.gb.view() * float(scale);
  EXPECT_TRUE(test::AllNear(a.gw.view(), gw.view(), 1e-6)) << "weight gradient";
  EXPECT_TRUE(test::AllNear(a.gb.view(), gb.view(), 1e-6)) << "bias gradient";
  EXPECT_TRUE(test::AllNear(a.gx.view(), (gx ? *gx : b.gx).view(), 1e-6)) << "input gradient";
}

TEST(Bf16GPU, FullcBackwardCastsAgainWhenItMust) {
  UMBRA_REQUIRE_GPU();
  const Shape<4> xs = Shape4(4, 3, 2, 2);
  const auto x1 = test::RandomTensor<4, float>(xs, 1, -2.f, 2.f), x2 = test::RandomTensor<4, float>(xs, 2, -2.f, 2.f);
  const auto gy = test::RandomTensor<4, float>(Shape4(4, 1, 1, 5), 3, -1.f, 1.f);
  const auto w1 = test::RandomTensor<2, float>(Shape2(5, 12), 4, -1.f, 1.f);
  const auto w2 = test::RandomTensor<2, float>(Shape2(5, 12), 5, -1.f, 1.f);
  auto set = [](Tensor<gpu, 4> dst, const TensorContainer<cpu, 4>& v) { Copy(dst, v.view()); };
  // One training pass: the reference.
  auto pass = [&](const TensorContainer<cpu, 2>& w) {
    return Grads(w, [&](test::LayerRig<gpu, float>& rig) {
      set(rig.in[0]->data, x1);
      rig.Forward(true);
      set(rig.out[0]->grad, gy);
      rig.layer->Backward(true, rig.in, rig.out);
    });
  };
  const FullcGrads want = pass(w1), want_w2 = pass(w2);
  // A test-mode forward of other values between the training forward and its backward, the
  // node holding the training values again by then (as where a test pass's values live
  // elsewhere): backward must not take the test pass's copy of x.
  const FullcGrads after_test = Grads(w1, [&](test::LayerRig<gpu, float>& rig) {
    set(rig.in[0]->data, x1);
    rig.Forward(true);
    set(rig.in[0]->data, x2);
    rig.Forward(false);
    set(rig.in[0]->data, x1);
    set(rig.out[0]->grad, gy);
    rig.layer->Backward(true, rig.in, rig.out);
  });
  ExpectSame(after_test, want, 1.0);
  // A second backward after the weights changed (no forward between): it casts the weights
  // again, as the fp32 path reads them again. The weight and bias gradients add up (they do
  // not depend on w); the input gradient is written, from w2.
  const FullcGrads again = Grads(w1, [&](test::LayerRig<gpu, float>& rig) {
    set(rig.in[0]->data, x1);
    rig.Forward(true);
    set(rig.out[0]->grad, gy);
    rig.layer->Backward(true, rig.in, rig.out);
    Copy(test::Weights(*rig.layer)[0].first, w2.view());
    rig.layer->Backward(true, rig.in, rig.out);
  });
  ExpectSame(again, want, 2.0, &want_w2.gx);
}

}  // namespace bf16_gpu_test
}  // namespace umbra
