// to_nhwc and to_nchw through the layer harness (shapes, known answers, gradient checks), and a
// channels-last net on the CPU: there only batch norm and the per-element layers take
// channels-last nodes (convolution with cuDNN, pooling with cuDNN or umbra's GPU kernels:
// tests/nn/nhwc_gpu_test.cu), so
// an explicit to_nhwc ... to_nchw around them trains exactly as the plain net.
#include "harness/layer_check.h"
#include "umbra/nn/net.h"

namespace umbra {
namespace {
UMBRA_COVERS_LAYER("to_nhwc");
UMBRA_COVERS_LAYER("to_nchw");

using nn::LayerSpec;
using nn::NetSpec;

TEST(Layout, ShapesAndKnownAnswer) {
  test::LayerRig<cpu, float> rig("to_nhwc", {}, {Shape4(2, 3, 2, 4)});
  ASSERT_EQ(rig.out[0]->shape, Shape4(2, 2, 4, 3));
  Random<cpu> rnd(1);
  rnd.SampleUniform(&rig.in[0]->data, -1.f, 1.f);
  rig.Forward();
  for (index_t n = 0; n < 2; ++n)
    for (index_t c = 0; c < 3; ++c)
      for (index_t y = 0; y < 2; ++y)
        for (index_t x = 0; x < 4; ++x)
          ASSERT_EQ(test::At(rig.out[0]->data.view(), n, y, x, c), test::At(rig.in[0]->data.view(), n, c, y, x));
  test::LayerRig<cpu, float> back("to_nchw", {}, {Shape4(2, 2, 4, 3)});
  ASSERT_EQ(back.out[0]->shape, Shape4(2, 3, 2, 4));
  Copy(back.in[0]->data, rig.out[0]->data);
  back.Forward();
  for (index_t i = 0; i < 48; ++i) ASSERT_EQ(back.out[0]->data.dptr_[i], rig.in[0]->data.dptr_[i]);
  // One channel, or one pixel: the same memory either way, so the output may be the input.
  const test::LayerRig<cpu, float> one_channel("to_nhwc", {}, {Shape4(2, 1, 3, 3)});
  const test::LayerRig<cpu, float> one_pixel("to_nchw", {}, {Shape4(2, 1, 1, 5)});
  EXPECT_TRUE(one_channel.layer->OutputsViewInput());
  EXPECT_TRUE(one_pixel.layer->OutputsViewInput());
  EXPECT_FALSE(rig.layer->OutputsViewInput());
}

TEST(Layout, GradientCheck) {
  test::GradCheck("to_nhwc", {}, {Shape4(2, 3, 2, 2)});
  test::GradCheck("to_nchw", {}, {Shape4(2, 2, 3, 2)});
  test::GradCheck("to_nchw", {}, {Shape4(2, 1, 1, 3)});
}

using test::L;

// batch_norm and relu between to_nhwc and to_nchw keep the channels-last layout (kEither) and
// train exactly as the plain net: batch norm's statistics of (N*H*W, C) rows are its
// per-channel ones. The net inserts no conversion of its own on the CPU.
TEST(Layout, BatchNormChannelsLastOnTheCpu) {
  auto spec = [](bool nhwc) {
    NetSpec s;
    s.input_shape = Shape4(3, 2, 3, 4);
    s.seed = 2;
    s.channels_last = nhwc;
    std::string a = "in";
    if (nhwc) s.layers.push_back(L("to_nhwc", "t", {"in"}, {"t"})), a = "t";
    s.layers.push_back(L("batch_norm", "bn", {a}, {"b"}));
    s.layers.push_back(L("relu", "r", {"b"}, {"b"}));
    std::string f = "b";
    if (nhwc) s.layers.push_back(L("to_nchw", "u", {"b"}, {"u"})), f = "u";
    s.layers.push_back(L("flatten", "f", {f}, {"f"}));
    s.layers.push_back(L("fullc", "fc", {"f"}, {"o"}, {{"nhidden", "3"}}));
    s.layers.push_back(L("softmax", "loss", {"o"}, {"p"}));
    return s;
  };
  nn::Net<cpu, double> plain(spec(false)), nhwc(spec(true));
  EXPECT_EQ(nhwc.NumLayers(), plain.NumLayers() + 2);  // the config's two conversions, no more
  EXPECT_EQ(nhwc.NodeByName("b").shape, Shape4(3, 3, 4, 2));
  auto x = test::RandomTensor<4, double>(Shape4(3, 2, 3, 4), 4, -1.0, 1.0);
  TensorContainer<cpu, 2, double> y(Shape2(3, 1));
  for (index_t i = 0; i < 3; ++i) y.dptr_[i] = double(i);
  std::vector<std::vector<double>> g(2);
  int k = 0;
  for (auto* n : {&plain, &nhwc}) {
    n->Forward(true, x.view(), &y.view());
    n->Backward();
    n->VisitWeights([&](const std::string&, Tensor<cpu, 2, double>, Tensor<cpu, 2, double> gw) {
      g[k].insert(g[k].end(), gw.dptr_, gw.dptr_ + gw.Size());
    });
    ++k;
  }
  EXPECT_NEAR(plain.Loss(), nhwc.Loss(), 1e-12);
  ASSERT_EQ(g[0].size(), g[1].size());
  for (size_t i = 0; i < g[0].size(); ++i) EXPECT_NEAR(g[0][i], g[1][i], 1e-12) << i;
}

// On the CPU a convolution takes (N, C, H, W) only: a channels-last input is moved back for it.
TEST(Layout, TheNetConvertsForLayersThatTakeNchw) {
  NetSpec s;
  s.input_shape = Shape4(2, 3, 4, 4);
  s.channels_last = true;
  s.layers = {L("to_nhwc", "t", {"in"}, {"t"}), L("conv", "c", {"t"}, {"c"}, {{"nchannel", "2"}, {"kernel_size", "3"}}),
              L("flatten", "f", {"c"}, {"f"}), L("fullc", "fc", {"f"}, {"o"}, {{"nhidden", "2"}}),
              L("softmax", "loss", {"o"}, {"p"})};
  nn::Net<cpu> net(s);
  ASSERT_EQ(net.NumLayers(), 6u);
  EXPECT_STREQ(net.LayerAt(1).Type(), "to_nchw");
  EXPECT_EQ(net.LayerAt(1).name(), "t@nchw");
  EXPECT_EQ(net.NodeByName("c").shape, Shape4(2, 2, 2, 2));
  // In a net of (N, C, H, W) nodes nothing would convert back: the conv read H as its channels.
  s.channels_last = false;
  EXPECT_HAS(test::ErrorOf([&] { nn::Net<cpu> n(s); }),
             "layer 't' (to_nhwc): a layout conversion, which only a channels-last net (layout = nhwc, on a GPU) takes");
}

// A channels-last input (NetSpec::input_channels_last) is the node "in" itself, (N, H, W, C):
// a layer that takes either layout reads it as it is, one that takes (N, C, H, W) (the CPU's
// convolution) gets a to_nchw copy, and the flag alone, without channels_last, is refused.
TEST(Layout, AChannelsLastInputIsTheInputNode) {
  NetSpec s;
  s.input_shape = Shape4(2, 3, 4, 4);
  s.channels_last = true;
  s.input_channels_last = true;
  s.layers = {L("batch_norm", "bn", {"in"}, {"b"}), L("conv", "c", {"b"}, {"c"}, {{"nchannel", "2"}, {"kernel_size", "3"}}),
              L("flatten", "f", {"c"}, {"f"}), L("fullc", "fc", {"f"}, {"o"}, {{"nhidden", "2"}}),
              L("softmax", "loss", {"o"}, {"p"})};
  nn::Net<cpu> net(s);
  EXPECT_EQ(net.NodeByName("in").shape, Shape4(2, 4, 4, 3));
  EXPECT_EQ(net.NodeByName("b").shape, Shape4(2, 4, 4, 3));
  ASSERT_EQ(net.NumLayers(), 6u);
  EXPECT_STREQ(net.LayerAt(0).Type(), "batch_norm");
  EXPECT_EQ(net.LayerAt(1).name(), "b@nchw");
  EXPECT_EQ(net.NodeByName("c").shape, Shape4(2, 2, 2, 2));
  s.channels_last = false;
  try {
    nn::Net<cpu> refused(s);
    ADD_FAILURE() << "input_channels_last without channels_last was taken";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("input_channels_last"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace umbra
