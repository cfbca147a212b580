// dtype=bf16 passes that layers_gpu_test's rows (one layer against the cpu) do not reach: a
// convolution's relu applied as its bf16 output is converted back (with the bias, in that one
// pass) trains as the same net with its relus as written, in both layouts; and fullc's
// backward, which takes the training forward's bf16 copies of x and w, casts again after a
// test-mode forward or a first backward, so that it computes from the values the fp32 path
// would read. A bf16 convolution keeps its training forward's weight copy likewise.
#include <gtest/gtest.h>

#include <cmath>
#include <memory>

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
  // The channels-last nets take the batch as (N, C, H, W) and move it themselves.
  const test::RandomBatch batch(Shape4(4, 3, 10, 10), 5, [](index_t i) { return i; });
  for (bool nhwc : {false, true}) {
    SCOPED_TRACE(nhwc ? "channels-last" : "plain layout");
    nn::Trainer<gpu> fused(Spec(true, nhwc), us), written(Spec(false, nhwc), us);
    test::RandomShifts(fused.net());
    test::RandomShifts(written.net());
    EXPECT_EQ(Relus(fused.net()), 0);
    EXPECT_EQ(Relus(written.net()), 3);
    // The same operations on the same values: equal in the emulation; on a GPU, cuDNN's
    // algorithms with atomics may sum a gradient in another order, which can cross a bf16
    // rounding step (2^-8 relative on one element). A relu applied to the wrong values, or
    // not at all, moves the loss by its own size.
    for (int step = 0; step < 3; ++step) {
      const double a = fused.Step(batch.x.view(), batch.y.view()), w = written.Step(batch.x.view(), batch.y.view());
      EXPECT_NEAR(a, w, 1e-3 * std::fabs(w)) << "step " << step + 1;
    }
    // Weights: a bf16 step of a weight gradient (2^-7 relative, from an atomics-ordered sum)
    // moves a weight by up to lr * 2.7 * 2^-7 |g| over three steps of momentum.
    test::ExpectSameWeights(fused.net(), written.net(), 3e-3);
  }
}

// The weight and input gradients of a bf16 layer (fresh from `make`, its weights set to w)
// after `run` (forward and backward passes).
struct LayerGrads {
  TensorContainer<cpu, 2> gw, gb;
  TensorContainer<cpu, 4> gx;
};
using Rig = test::LayerRig<gpu, float>;
template <typename Make, typename Run>
LayerGrads Grads(Make make, const TensorContainer<cpu, 2>& w, Run run) {
  std::unique_ptr<Rig> rig = make();
  auto wg = test::Weights(*rig->layer);
  Copy(wg[0].first, w.view());
  run(*rig);
  return {test::ToCPU(wg[0].second), test::ToCPU(wg[1].second), test::ToCPU(rig->in[0]->grad)};
}
// Two inputs x1, x2 (values in [-2, 2]), an output gradient and two weights w1, w2 (in [-1, 1]),
// drawn from seeds seed .. seed + 4.
struct Draws {
  TensorContainer<cpu, 4> x1, x2, gy;
  TensorContainer<cpu, 2> w1, w2;
};
Draws Draw(Shape<4> xs, Shape<4> ys, Shape<2> ws, uint64_t seed) {
  return {test::RandomTensor<4, float>(xs, seed, -2.f, 2.f), test::RandomTensor<4, float>(xs, seed + 1, -2.f, 2.f),
          test::RandomTensor<4, float>(ys, seed + 2, -1.f, 1.f), test::RandomTensor<2, float>(ws, seed + 3, -1.f, 1.f),
          test::RandomTensor<2, float>(ws, seed + 4, -1.f, 1.f)};
}
// v's values into dst, whatever shape each names (a channels-last node holds NCHW's count).
void Set(Tensor<gpu, 4> dst, const TensorContainer<cpu, 4>& v) {
  ASSERT_EQ(dst.shape_.Size(), v.shape_.Size());
  UMBRA_CUDA_CHECK(cudaMemcpy(dst.dptr_, v.dptr_, v.shape_.Size() * sizeof(float), cudaMemcpyHostToDevice));
}
// One training pass (forward x, backward gy) with weights w: the reference.
template <typename Make>
LayerGrads OnePass(Make make, const TensorContainer<cpu, 2>& w, const TensorContainer<cpu, 4>& x,
                   const TensorContainer<cpu, 4>& gy) {
  return Grads(make, w, [&](Rig& rig) {
    Set(rig.in[0]->data, x);
    rig.Forward(true);
    Set(rig.out[0]->grad, gy);
    rig.layer->Backward(true, rig.in, rig.out);
  });
}
std::unique_ptr<Rig> FullcRig() {
  return std::make_unique<Rig>("fullc", test::KV{{"nhidden", "5"}, {"dtype", "bf16"}},
                               std::vector<Shape<4>>{Shape4(4, 3, 2, 2)});
}

// a's gradients are b's weight and bias gradients times `scale`, and b's input gradient (or gx),
// within tol * max(1, |b|) each.
void ExpectSame(const LayerGrads& a, const LayerGrads& b, double scale, const TensorContainer<cpu, 4>* gx = nullptr,
                double tol = 1e-6) {
  TensorContainer<cpu, 2> gw(b.gw.shape_), gb(b.gb.shape_);
  gw = b.gw.view() * float(scale), gb = b.gb.view() * float(scale);
  EXPECT_TRUE(test::AllNear(a.gw.view(), gw.view(), tol)) << "weight gradient";
  EXPECT_TRUE(test::AllNear(a.gb.view(), gb.view(), tol)) << "bias gradient";
  EXPECT_TRUE(test::AllNear(a.gx.view(), (gx ? *gx : b.gx).view(), tol)) << "input gradient";
}

// dtype = bf16 is cuDNN's convolution: with algo = im2col (the float32 path) it is an error
// naming the layer, not a float32 run (which trained with exit 0).
TEST(Bf16GPU, Im2colConvolutionRefusesBf16) {
  UMBRA_REQUIRE_GPU();
  auto layer = nn::LayerRegistry<gpu>::Get().Create("conv");
  layer->set_name("c1");
  for (const auto& [k, v] : {std::pair<const char*, const char*>{"nchannel", "4"}, {"kernel_size", "3"},
                             {"algo", "im2col"}, {"dtype", "bf16"}})
    ASSERT_TRUE(layer->SetParam(k, v));
  const std::string m = test::ErrorOf([&] { layer->InferShape({Shape4(2, 3, 8, 8)}); });
  EXPECT_NE(m.find("layer 'c1' (conv): dtype = bf16 needs cuDNN's convolution (algo = auto); algo = im2col "
                   "convolves in float32"),
            std::string::npos)
      << m;
}

TEST(Bf16GPU, FullcBackwardCastsAgainWhenItMust) {
  UMBRA_REQUIRE_GPU();
  const Draws d = Draw(Shape4(4, 3, 2, 2), Shape4(4, 1, 1, 5), Shape2(5, 12), 1);
  const auto &x1 = d.x1, &x2 = d.x2, &gy = d.gy;
  const auto &w1 = d.w1, &w2 = d.w2;
  const auto set = Set;
  const LayerGrads want = OnePass(FullcRig, w1, x1, gy), want_w2 = OnePass(FullcRig, w2, x1, gy);
  // A test-mode forward of other values between the training forward and its backward, the
  // node holding the training values again by then (as where a test pass's values live
  // elsewhere): backward must not take the test pass's copy of x.
  const LayerGrads after_test = Grads(FullcRig, w1, [&](Rig& rig) {
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
  const LayerGrads again = Grads(FullcRig, w1, [&](Rig& rig) {
    set(rig.in[0]->data, x1);
    rig.Forward(true);
    set(rig.out[0]->grad, gy);
    rig.layer->Backward(true, rig.in, rig.out);
    Copy(test::Weights(*rig.layer)[0].first, w2.view());
    rig.layer->Backward(true, rig.in, rig.out);
  });
  ExpectSame(again, want, 2.0, &want_w2.gx);
}

// A bf16 convolution keeps its training forward's weight copy (bf16; moved to (K, R, S, C) too
// when channels-last) for the step's backward-data, as fullc keeps its casts: the input
// gradient is that of what the forward computed even where the weights change before backward;
// a test-mode forward between drops the copy, and so does a backward, so that a later one
// takes the weights it is given. x (4, 3, 5, 5) into 6 channels, 3x3, pad 1, with bias.
std::unique_ptr<Rig> ConvRig(bool nhwc) {
  auto rig = std::make_unique<Rig>("conv", test::KV{{"nchannel", "6"}, {"kernel_size", "3"}, {"pad", "1"},
                                                    {"dtype", "bf16"}},
                                   std::vector<Shape<4>>{Shape4(4, 3, 5, 5)});
  if (nhwc) {  // as a net sets it up, before the shapes (the nodes' sizes are those of NCHW)
    rig->layer->SetChannelsLast();
    rig->layer->InferShape({Shape4(4, 5, 5, 3)});
    rig->layer->InitWeights(rig->rnd);
  }
  return rig;
}

TEST(Bf16GPU, ConvBackwardTakesTheTrainingForwardsWeights) {
  UMBRA_REQUIRE_GPU();
  // The values in whichever layout the nodes hold (random either way).
  const Draws d = Draw(Shape4(4, 3, 5, 5), Shape4(4, 6, 5, 5), Shape2(6, 27), 11);
  const auto &x1 = d.x1, &x2 = d.x2, &gy = d.gy;
  const auto &w1 = d.w1, &w2 = d.w2;
  const auto set = Set;
  auto set_w = [](Rig& rig, const TensorContainer<cpu, 2>& w) { Copy(test::Weights(*rig.layer)[0].first, w.view()); };
  // Equal in the emulation; on a GPU a backward-filter algorithm with atomics may sum in another
  // order across a bf16 rounding step. Another weight's input gradient is off by its own size.
  const double tol = 1e-2;
  for (bool nhwc : {false, true}) {
    SCOPED_TRACE(nhwc ? "channels-last" : "plain layout");
    auto make = [nhwc] { return ConvRig(nhwc); };
    const LayerGrads want = OnePass(make, w1, x1, gy), want_w2 = OnePass(make, w2, x1, gy);
    EXPECT_FALSE(test::AllNear(want.gx.view(), want_w2.gx.view(), 0.1)) << "the weights do not show";
    const LayerGrads changed = Grads(make, w1, [&](Rig& rig) {
      set(rig.in[0]->data, x1);
      rig.Forward(true);
      set_w(rig, w2);
      set(rig.out[0]->grad, gy);
      rig.layer->Backward(true, rig.in, rig.out);
    });
    ExpectSame(changed, want, 1.0, nullptr, tol);
    const LayerGrads after_test = Grads(make, w1, [&](Rig& rig) {
      set(rig.in[0]->data, x1);
      rig.Forward(true);
      set_w(rig, w2);
      set(rig.in[0]->data, x2);
      rig.Forward(false);
      set(rig.in[0]->data, x1);
      set(rig.out[0]->grad, gy);
      rig.layer->Backward(true, rig.in, rig.out);
    });
    ExpectSame(after_test, want, 1.0, &want_w2.gx, tol);
    const LayerGrads again = Grads(make, w1, [&](Rig& rig) {
      set(rig.in[0]->data, x1);
      rig.Forward(true);
      set(rig.out[0]->grad, gy);
      rig.layer->Backward(true, rig.in, rig.out);
      set_w(rig, w2);
      rig.layer->Backward(true, rig.in, rig.out);
    });
    ExpectSame(again, want, 2.0, &want_w2.gx, tol);
  }
}

}  // namespace bf16_gpu_test
}  // namespace umbra
