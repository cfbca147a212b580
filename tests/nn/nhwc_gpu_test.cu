// Channels-last nets on the GPU (NetSpec::channels_last): the net moves the input to (N, H, W, C)
// once, cuDNN convolves it so, umbra's kernels max-pool it (cuDNN's avg pooling; a pooling
// neither does runs umbra's expressions over transposed views: MaxPoolGPU's 256-cell window),
// umbra's kernels normalise it (batch norm's
// algo = auto channels-last; algo = cudnn for cuDNN's), per-element layers keep it,
// and it goes back to (N, C, H, W) before a layer that takes only that (flatten into fullc; the
// move after global pooling is no copy). Training matches the same net's plain (N, C, H, W)
// run on the GPU: fp32 (tf32 = 0), the same initial weights; losses within 1e-5 relative over
// three steps, then every weight's gradient within 1e-4 (L2, relative) and the weights within 1e-5
// (bf16 convolutions: Bounds::kBf16).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "harness/gpu_compare.h"
#include "harness/layer_check.h"
#include "umbra/nn/trainer.h"

namespace umbra {
namespace {

using test::L;  // harness/layer_check.h

// conv -> batch_norm -> relu -> max pool (cuDNN's floor mode) -> split -> conv (bias) / identity ->
// eltwise_sum -> relu -> ceil-mode max pool (not cuDNN's) -> grouped conv -> global avg
// pool -> flatten -> fullc -> softmax; and a flatten of a spatial channels-last node. Images
// 12 x 10: an axis swapped somewhere in a layout shows (H == W hid it). The first conv has
// no bias: batch norm would cancel it, leaving it a gradient of rounding noise only.
nn::NetSpec Spec(bool nhwc) {
  nn::NetSpec s;
  s.input_shape = Shape4(4, 3, 12, 10);
  s.seed = 9;
  s.channels_last = nhwc;
  s.layers = {L("conv", "c1", {"in"}, {"c1"}, {{"nchannel", "8"}, {"kernel_size", "3"}, {"pad", "1"}, {"no_bias", "1"}}),
              L("batch_norm", "bn1", {"c1"}, {"b1"}),
              L("relu", "r1", {"b1"}, {"b1"}),
              L("max_pooling", "p1", {"b1"}, {"p1"}, {{"kernel_size", "2"}, {"stride", "2"}}),
              L("split", "sp", {"p1"}, {"x", "id"}),
              L("conv", "c2", {"x"}, {"c2"}, {{"nchannel", "8"}, {"kernel_size", "3"}, {"pad", "1"}}),
              L("eltwise_sum", "sum", {"c2", "id"}, {"s"}),
              L("relu", "r2", {"s"}, {"s"}),
              L("max_pooling", "p2", {"s"}, {"p2"}, {{"kernel_size", "3"}, {"stride", "2"}}),  // 6x5 -> 3x2 (ceil)
              L("conv", "c3", {"p2"}, {"c3"}, {{"nchannel", "6"}, {"kernel_size", "1"}, {"ngroup", "2"}}),
              L("split", "sp2", {"c3"}, {"g", "h"}),
              L("global_avg_pooling", "gap", {"g"}, {"gap"}),
              L("flatten", "f1", {"gap"}, {"f1"}),
              L("flatten", "f2", {"h"}, {"f2"}),
              L("concat", "cat", {"f1", "f2"}, {"f"}),
              L("fullc", "fc", {"f"}, {"o"}, {{"nhidden", "5"}}),
              L("softmax", "loss", {"o"}, {"p"})};
  nn::SetKeyWhereTaken<cpu>(s, "tf32", "0");
  return s;
}

// Whether the net runs a layer of this name (a relu fused into the layer before it does not).
bool HasLayer(nn::Net<gpu>& net, const std::string& name) {
  for (size_t i = 0; i < net.NumLayers(); ++i)
    if (net.LayerAt(i).name() == name) return true;
  return false;
}

// SGD with momentum, as every test here trains.
nn::UpdaterSettings Sgd() {
  nn::UpdaterSettings us;
  us.Set("lr", "0.05");
  us.Set("momentum", "0.9");
  return us;
}

// The names of the layout layers the net inserted, in order.
std::vector<std::string> Conversions(nn::Net<gpu>& net) {
  std::vector<std::string> out;
  for (size_t i = 0; i < net.NumLayers(); ++i) {
    const std::string type = net.LayerAt(i).Type();
    if (type == "to_nhwc" || type == "to_nchw") out.push_back(net.LayerAt(i).name());
  }
  return out;
}

// The gradients of the trainable weights (batch norm's moving statistics have none).
std::vector<std::vector<float>> Grads(nn::Trainer<gpu>& t) {
  std::vector<std::vector<float>> out;
  t.net().VisitWeights([&](const std::string& name, Tensor<gpu, 2>, Tensor<gpu, 2> g) {
    if (name.find(".moving_") != std::string::npos) return;
    auto c = test::ToCPU(g);
    out.emplace_back(c.dptr_, c.dptr_ + c.Size());
  });
  return out;
}

// How far the two layouts' training may part: losses (relative), gradients (L2, relative),
// weights (absolute).
struct Bounds {
  double loss, grad, weight;
};
constexpr Bounds kFp32{1e-5, 1e-4, 1e-5};
// bf16 operands: cuDNN's NCHW and NHWC kernels sum in other orders, so a product may round to
// the neighbouring bf16 value (2^-8 relative) in one layout and not the other; one such
// gradient element moves its weight by about lr * 2.7 (momentum) * 2^-8 * |g| ~ 5e-4 |g| and the
// runs part from there. A layout or cast error is off by the values' own size. (Not yet run on
// a GPU: the emulation's reference convolution rounds the same way in both layouts.)
constexpr Bounds kBf16{2e-3, 2e-2, 5e-3};

// Three steps of the plain and the channels-last net from one start: losses, the updated
// weights' gradients and the weights. nhwc_input: the channels-last net takes the batch
// channels-last (NetSpec::input_channels_last), the same numbers moved on the host.
void ExpectSameTraining(nn::Trainer<gpu>& plain, nn::Trainer<gpu>& nhwc, const Bounds& bound = kFp32,
                        bool nhwc_input = false) {
  const test::RandomBatch batch(Shape4(4, 3, 12, 10), 3, [](index_t i) { return i; });
  TensorContainer<cpu, 4> hxt(Shape4(4, 12, 10, 3));
  Tensor<cpu, 3>(hxt.dptr_, Shape3(4, 120, 3)) = swapaxis<2, 1>(Tensor<cpu, 3>(batch.hx.dptr_, Shape3(4, 3, 120)));
  // Biases, beta and gamma at their constant start (three steps barely move them) would hide
  // one applied to the wrong channel of a channels-last node.
  test::RandomShifts(plain.net());
  test::RandomShifts(nhwc.net());
  auto xt = test::ToGPU(hxt.view());
  const Tensor<gpu, 4>& xn = nhwc_input ? xt.view() : batch.x.view();
  for (int step = 0; step < 3; ++step) {
    SCOPED_TRACE("step " + std::to_string(step + 1));
    const double lp = plain.Step(batch.x.view(), batch.y.view()), ln = nhwc.Step(xn, batch.y.view());
    EXPECT_NEAR(ln, lp, bound.loss * std::fabs(lp));
  }
  // The updater cleared the gradients: one more forward and backward, without an update.
  for (auto [t, in] : {std::pair{&plain, batch.x.view()}, std::pair{&nhwc, xn}}) {
    t->net().Forward(true, in, &batch.y.view());
    t->net().Backward();
  }
  auto ga = Grads(plain), gb = Grads(nhwc);
  ASSERT_EQ(ga.size(), gb.size());
  for (size_t k = 0; k < ga.size(); ++k) {
    const Tensor<cpu, 1> a(ga[k].data(), Shape1(index_t(ga[k].size()))), b(gb[k].data(), Shape1(index_t(gb[k].size())));
    EXPECT_TRUE(std::any_of(ga[k].begin(), ga[k].end(), [](float v) { return v != 0; }))
        << "weight " << k << " has no gradient";
    EXPECT_TRUE(test::NormNear(b, a, bound.grad)) << "weight " << k;
  }
  // The weights after the updates: one layout at the interface, the same numbers.
  std::vector<std::vector<float>> wa, wb;
  for (auto [t, w] : {std::pair{&plain, &wa}, std::pair{&nhwc, &wb}})
    t->net().VisitWeights([&, w = w](const std::string&, Tensor<gpu, 2> v, Tensor<gpu, 2>) {
      auto c = test::ToCPU(v);
      w->emplace_back(c.dptr_, c.dptr_ + c.Size());
    });
  ASSERT_EQ(wa.size(), wb.size());
  for (size_t k = 0; k < wa.size(); ++k)
    for (size_t i = 0; i < wa[k].size(); ++i) ASSERT_NEAR(wa[k][i], wb[k][i], bound.weight) << "weight " << k << "[" << i << "]";
}

TEST(NhwcGPU, TrainsAsTheNchwNet) {
  UMBRA_REQUIRE_GPU();
  const nn::UpdaterSettings us = Sgd();
  // The plain net on cuDNN's batch norm (algo = auto takes umbra's): two implementations, and
  // the relu fused in one of them only.
  nn::NetSpec p = Spec(false);
  ASSERT_EQ(nn::SetKeyWhereTaken<gpu>(p, "algo", "cudnn", "batch_norm"), (std::vector<std::string>{"bn1"}));
  nn::Trainer<gpu> plain(p, us), nhwc(Spec(true), us);
  // The layouts the net chose: the input moved once, everything channels-last up to the
  // flattens (the one after global pooling a view of its input, no copy).
  const auto& net = nhwc.net();
  EXPECT_EQ(net.NodeByName("c1").shape, Shape4(4, 12, 10, 8));
  EXPECT_EQ(net.NodeByName("p1").shape, Shape4(4, 6, 5, 8));
  EXPECT_EQ(net.NodeByName("s").shape, Shape4(4, 6, 5, 8));
  EXPECT_EQ(net.NodeByName("p2").shape, Shape4(4, 3, 2, 8));  // ceil mode
  EXPECT_EQ(net.NodeByName("c3").shape, Shape4(4, 3, 2, 6));
  EXPECT_EQ(net.NodeByName("gap").shape, Shape4(4, 1, 1, 6));
  EXPECT_EQ(Conversions(nhwc.net()), (std::vector<std::string>{"in@nhwc", "gap@nchw", "h@nchw"}));
  // Channels-last, batch norm runs on umbra's kernels (algo = auto; cuDNN's channels-last one
  // measured 14x slower) and takes the relu after it; the plain net's cuDNN one keeps its relu.
  EXPECT_TRUE(HasLayer(plain.net(), "r1"));
  EXPECT_FALSE(HasLayer(nhwc.net(), "r1"));
  EXPECT_EQ(nhwc.net().NumLayers(), plain.net().NumLayers() + 3 - 1);
  for (size_t i = 0; i < nhwc.net().NumLayers(); ++i)
    if (nhwc.net().LayerAt(i).name() == "gap@nchw") EXPECT_TRUE(nhwc.net().LayerAt(i).OutputsViewInput());
  ExpectSameTraining(plain, nhwc);
}

// cuDNN's channels-last batch norm (algo = cudnn: its persistent spatial mode, no relu fused),
// which algo = auto no longer picks channels-last, still trains as the plain net (cuDNN's too).
TEST(NhwcGPU, CudnnBatchNormTrainsAsTheNchwNet) {
  UMBRA_REQUIRE_GPU();
  const nn::UpdaterSettings us = Sgd();
  nn::NetSpec b = Spec(true);
  nn::NetSpec p = Spec(false);
  ASSERT_EQ(nn::SetKeyWhereTaken<gpu>(b, "algo", "cudnn", "batch_norm"), (std::vector<std::string>{"bn1"}));
  ASSERT_EQ(nn::SetKeyWhereTaken<gpu>(p, "algo", "cudnn", "batch_norm"), (std::vector<std::string>{"bn1"}));
  nn::Trainer<gpu> plain(p, us), nhwc(b, us);
  EXPECT_TRUE(HasLayer(nhwc.net(), "r1"));
  EXPECT_EQ(nhwc.net().NumLayers(), plain.net().NumLayers() + 3);
  ExpectSameTraining(plain, nhwc);
}

// An Inception-style join: conv -> batch_norm -> relu -> split -> a 1x1 conv (4 channels) and a
// 3x3 conv (6) -> ch_concat -> a conv over the joined channels (which reads each channel with
// its own weights: a branch joined at the wrong offset shows) -> global avg pool -> flatten ->
// fullc. Channels-last, ch_concat joins along dimension 3 and no conversion surrounds it.
nn::NetSpec Inception(bool nhwc) {
  nn::NetSpec s;
  s.input_shape = Shape4(4, 3, 12, 10);
  s.seed = 23;
  s.channels_last = nhwc;
  s.layers = {L("conv", "c1", {"in"}, {"c1"}, {{"nchannel", "8"}, {"kernel_size", "3"}, {"pad", "1"}, {"no_bias", "1"}}),
              L("batch_norm", "bn1", {"c1"}, {"b1"}),
              L("relu", "r1", {"b1"}, {"b1"}),
              L("split", "sp", {"b1"}, {"x", "y"}),
              L("conv", "ca", {"x"}, {"ca"}, {{"nchannel", "4"}, {"kernel_size", "1"}}),
              L("conv", "cb", {"y"}, {"cb"}, {{"nchannel", "6"}, {"kernel_size", "3"}, {"pad", "1"}}),
              L("ch_concat", "cat", {"ca", "cb"}, {"cat"}),
              L("conv", "c2", {"cat"}, {"c2"}, {{"nchannel", "5"}, {"kernel_size", "3"}, {"pad", "1"}}),
              L("global_avg_pooling", "gap", {"c2"}, {"gap"}),
              L("flatten", "f", {"gap"}, {"f"}),
              L("fullc", "fc", {"f"}, {"o"}, {{"nhidden", "5"}}),
              L("softmax", "loss", {"o"}, {"p"})};
  nn::SetKeyWhereTaken<cpu>(s, "tf32", "0");
  return s;
}

TEST(NhwcGPU, ChannelConcatTrainsAsTheNchwNet) {
  UMBRA_REQUIRE_GPU();
  const nn::UpdaterSettings us = Sgd();
  nn::Trainer<gpu> plain(Inception(false), us), nhwc(Inception(true), us);
  EXPECT_EQ(nhwc.net().NodeByName("cat").shape, Shape4(4, 12, 10, 10));
  EXPECT_EQ(plain.net().NodeByName("cat").shape, Shape4(4, 10, 12, 10));
  EXPECT_EQ(Conversions(nhwc.net()), (std::vector<std::string>{"in@nhwc", "gap@nchw"}));
  ExpectSameTraining(plain, nhwc);
}

// Nodes read after a pass (keep_values: what NodeByName and extract hand out) stay (N, C, H, W)
// in a channels-last net, as they stay float with bf16 nodes: a max pooling's, a
// convolution's and a fused relu's output (the relu then runs on its own), each with the plain
// net's values; the rest of the net stays channels-last and trains as before.
TEST(NhwcGPU, KeptNodesStayNchw) {
  UMBRA_REQUIRE_GPU();
  const nn::UpdaterSettings us = Sgd();
  nn::NetSpec a = Spec(false), b = Spec(true);
  a.keep_values = b.keep_values = {"p1", "c3"};
  b.layers.insert(b.layers.begin() + 6, L("relu", "rc2", {"c2"}, {"c2r"}));  // fused into c2 unless kept
  a.layers.insert(a.layers.begin() + 6, L("relu", "rc2", {"c2"}, {"c2r"}));
  a.layers[7].in[0] = b.layers[7].in[0] = "c2r";
  nn::NetSpec fused = b;
  b.keep_values.push_back("c2r"), a.keep_values.push_back("c2r");
  nn::Trainer<gpu> plain(a, us), nhwc(b, us), nhwc_fused(fused, us);
  EXPECT_EQ(nhwc.net().NodeByName("p1").shape, Shape4(4, 8, 6, 5));
  EXPECT_EQ(nhwc.net().NodeByName("c3").shape, Shape4(4, 6, 3, 2));
  EXPECT_EQ(nhwc.net().NodeByName("c2r").shape, Shape4(4, 8, 6, 5));
  EXPECT_EQ(nhwc_fused.net().NodeByName("c2r").shape, Shape4(4, 6, 5, 8));  // not kept: fused, channels-last
  EXPECT_EQ(Conversions(nhwc.net()),
            (std::vector<std::string>{"in@nhwc", "b1@nchw", "x@nhwc", "c2@nchw", "s@nhwc", "p2@nchw", "g@nhwc",
                                      "gap@nchw"}));
  // The values: one forward of each net on the same batch.
  const test::RandomBatch batch(Shape4(4, 3, 12, 10), 4, [](index_t i) { return i; });
  for (auto* t : {&plain, &nhwc}) t->net().Forward(false, batch.x.view(), &batch.y.view());
  for (const char* n : {"p1", "c3", "c2r"}) {
    const auto want = test::ToCPU(plain.net().NodeByName(n).data), got = test::ToCPU(nhwc.net().NodeByName(n).data);
    EXPECT_TRUE(test::AllNear(got.view(), want.view(), 1e-5)) << n;
  }
  ExpectSameTraining(plain, nhwc);
}

// A batch made channels-last (NetSpec::input_channels_last): the first convolution reads the
// caller's buffer itself, so the net has no to_nhwc layer, and trains as the plain net does.
TEST(NhwcGPU, AChannelsLastInputIsReadWithoutACopy) {
  UMBRA_REQUIRE_GPU();
  const nn::UpdaterSettings us = Sgd();
  nn::NetSpec s = Spec(true);
  s.input_channels_last = true;
  nn::Trainer<gpu> plain(Spec(false), us), nhwc(s, us);
  EXPECT_EQ(nhwc.net().NodeByName("in").shape, Shape4(4, 12, 10, 3));
  EXPECT_EQ(nhwc.net().NodeByName("c1").shape, Shape4(4, 12, 10, 8));
  EXPECT_EQ(Conversions(nhwc.net()), (std::vector<std::string>{"gap@nchw", "h@nchw"}));
  // An (N, C, H, W) batch is refused, naming both shapes.
  TensorContainer<gpu, 4> wrong(Shape4(4, 3, 12, 10));
  TensorContainer<gpu, 2> y(Shape2(4, 1), 0.f);
  try {
    nhwc.Step(wrong.view(), y.view());
    ADD_FAILURE() << "an (N, C, H, W) batch was taken";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("(4,12,10,3)"), std::string::npos) << e.what();
  }
  ExpectSameTraining(plain, nhwc, kFp32, /*nhwc_input=*/true);
}

// dtype=bf16 convolutions (and fullc) channels-last: the filters are moved to (K, R, S, C) as
// they are cast (the copy kept from forward for backward-data), their gradients moved back as
// they are converted and added.
TEST(NhwcGPU, Bf16TrainsAsTheNchwNet) {
  UMBRA_REQUIRE_GPU();
  const nn::UpdaterSettings us = Sgd();
  nn::NetSpec a = Spec(false), b = Spec(true);
  ASSERT_EQ(nn::SetKeyWhereTaken<gpu>(a, "dtype", "bf16").size(), 4u);
  nn::SetKeyWhereTaken<gpu>(b, "dtype", "bf16");
  nn::Trainer<gpu> plain(a, us), nhwc(b, us);
  ExpectSameTraining(plain, nhwc, kBf16);
}

// umbra's own kernels channels-last (algo = expr wherever a layer takes it: batch norm's
// statistics kernels over (N*H*W, C) rows with the relu fused, pooling over transposed views,
// the relus where not fused, softmax) against the same kernels in the plain layout: the combination
// the nhwc benchmark measures for batch norm (tables in bench/RESULTS.md).
TEST(NhwcGPU, OwnKernelsTrainAsTheNchwNet) {
  UMBRA_REQUIRE_GPU();
  const nn::UpdaterSettings us = Sgd();
  nn::NetSpec a = Spec(false), b = Spec(true);
  EXPECT_EQ(nn::SetKeyWhereTaken<gpu>(a, "algo", "expr"), (std::vector<std::string>{"bn1", "r1", "p1", "r2", "p2", "gap", "loss"}));
  nn::SetKeyWhereTaken<gpu>(b, "algo", "expr");
  nn::Trainer<gpu> plain(a, us), nhwc(b, us);
  ExpectSameTraining(plain, nhwc);
}

// A convolution whose input passes cuDNN's 2^31 - 1 elements per tensor (4.3e9 here; shapes
// only: nothing is allocated) keeps the im2col path in the plain layout, and channels-last,
// which needs cuDNN, says so at construction rather than with cuDNN's BAD_PARAM at a step.
TEST(NhwcGPU, ConvPastCudnnTensorLimitSaysSo) {
  UMBRA_REQUIRE_GPU();
  const Shape<4> huge = Shape4(1024, 64, 256, 256);
  for (bool nhwc : {false, true}) {
    SCOPED_TRACE(nhwc ? "channels-last" : "plain");
    auto conv = nn::LayerRegistry<gpu>::Get().Create("conv");
    conv->set_name("c9");
    conv->SetParam("nchannel", "8");
    conv->SetParam("kernel_size", "3");
    conv->SetParam("pad", "1");
    if (nhwc) conv->SetChannelsLast();
    const std::string m = test::ErrorOf([&] { conv->InferShape({nhwc ? nn::NhwcOf(huge) : huge}); });
    EXPECT_EQ(m.find("cuDNN call failed"), std::string::npos) << m;
    if (nhwc) EXPECT_HAS(m, "layer 'c9' (conv): channels-last needs cuDNN's convolution");
    else EXPECT_EQ(m, "no error");
  }
}

// layout = nhwc on a net with no layer that works channels-last (an MLP) changes nothing: a
// note says so; a net with a convolution gets none.
TEST(NhwcGPU, ANetWithNothingChannelsLastGetsANote) {
  UMBRA_REQUIRE_GPU();
  nn::NetSpec mlp;
  mlp.input_shape = Shape4(2, 1, 1, 6);
  mlp.channels_last = true;
  mlp.layers = {L("fullc", "fc", {"in"}, {"o"}, {{"nhidden", "3"}}), L("softmax", "loss", {"o"}, {"prob"})};
  const nn::Net<gpu> net(mlp);
  ASSERT_EQ(net.notes().size(), 1u);
  EXPECT_HAS(net.notes()[0], "layout = nhwc: no layer of this net works channels-last");
  for (const std::string& n : nn::Net<gpu>(Spec(true)).notes()) EXPECT_EQ(n.find("layout = nhwc"), std::string::npos) << n;
}

}  // namespace
}  // namespace umbra
