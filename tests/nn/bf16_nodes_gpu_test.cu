// NetSpec::bf16_nodes: activations in bfloat16 between the layers that take them (dtype=bf16
// cuDNN convolutions, pooling, ...), converted where float layers meet them. Checked: where
// the net puts the conversions, that such a net trains as the same net with float activations
// (dtype=bf16 both: the convolutions' operands are bf16 either way, so the nets differ only by
// the roundings of the activations and gradients kept in bf16), in both layouts and from a
// CUDA graph, that its node storage shrinks, and that a bf16 node is never read as float.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "harness/gpu_compare.h"
#include "harness/layer_check.h"
#include "umbra/config/netconfig.h"
#include "umbra/nn/trainer.h"

namespace umbra {
namespace bf16_nodes_gpu_test {  // named: the gpu test files are one compilation unit

using test::L;  // harness/layer_check.h

// conv (bias, relu) -> max pool -> conv (no bias, relu) -> avg pool -> flatten -> fullc ->
// softmax, the convolutions and fullc in bf16; 12 x 8 images, so that a swapped axis shows.
// ceil: pools whose last windows hang over the edge (cxxnet's ceil-mode output), which cuDNN
// cannot pool: 3x3 max at stride 2, 3x3 avg at stride 2 with pad 1.
nn::NetSpec Spec(bool nodes, bool nhwc = false, bool ceil = false) {
  nn::NetSpec s;
  s.input_shape = Shape4(4, 3, 12, 8);
  s.seed = 17;
  s.bf16_nodes = nodes;
  s.channels_last = s.input_channels_last = nhwc;
  s.layers = {L("conv", "c1", {"in"}, {"c1"}, {{"nchannel", "8"}, {"kernel_size", "3"}, {"pad", "1"}}),
              L("relu", "r1", {"c1"}, {"c1"}),
              L("max_pooling", "p1", {"c1"}, {"p1"}, {{"kernel_size", "2"}, {"stride", "2"}}),
              L("conv", "c2", {"p1"}, {"c2"}, {{"nchannel", "6"}, {"kernel_size", "3"}, {"pad", "1"}, {"no_bias", "1"}}),
              L("relu", "r2", {"c2"}, {"c2"}),
              L("avg_pooling", "p2", {"c2"}, {"p2"}, {{"kernel_size", "2"}, {"stride", "2"}}),
              L("flatten", "f", {"p2"}, {"f"}),
              L("fullc", "fc", {"f"}, {"o"}, {{"nhidden", "4"}}),
              L("softmax", "loss", {"o"}, {"prob"})};
  if (ceil) {
    s.layers[2].params = {{"kernel_size", "3"}, {"stride", "2"}};
    s.layers[5].params = {{"kernel_size", "3"}, {"stride", "2"}, {"pad", "1"}};
  }
  nn::SetKeyWhereTaken<cpu>(s, "dtype", "bf16");
  nn::SetKeyWhereTaken<cpu>(s, "init_sigma", "0.15");  // large enough that the relus matter
  return s;
}

std::vector<std::string> Types(nn::Net<gpu>& net) {
  std::vector<std::string> t;
  for (size_t i = 0; i < net.NumLayers(); ++i) t.push_back(net.LayerAt(i).Type());
  return t;
}

struct Batch {
  TensorContainer<cpu, 4> x{Shape4(4, 3, 12, 8)}, x_nhwc{Shape4(4, 12, 8, 3)};
  TensorContainer<cpu, 2> y{Shape2(4, 1)};
  Batch() {
    Random<cpu> r(5);
    r.SampleUniform(&x, -1.f, 1.f);
    for (index_t n = 0; n < 4; ++n)
      for (index_t c = 0; c < 3; ++c)
        for (index_t h = 0; h < 12; ++h)
          for (index_t w = 0; w < 8; ++w)
            x_nhwc.dptr_[((n * 12 + h) * 8 + w) * 3 + c] = x.dptr_[((n * 3 + c) * 12 + h) * 8 + w];
    for (index_t i = 0; i < 4; ++i) y.dptr_[i] = float(i);
  }
};

nn::UpdaterSettings Sgd() {
  nn::UpdaterSettings us;
  us.Set("lr", "0.05");
  us.Set("momentum", "0.9");
  return us;
}

// Trains `a` (bf16 nodes) and `b` (float nodes) three steps on the same batch; losses and
// weights must agree to what bf16's roundings of the activations allow: each rounding moves a
// value by up to 2^-9 of itself, a few of them in a row (value, then gradient) ~1% of the loss's
// change; a conversion in the wrong place, a channel or window read wrongly, or a missing
// relu moves the loss by far more.
void TrainAlike(nn::Trainer<gpu>& a, nn::Trainer<gpu>& b, const TensorContainer<gpu, 4>& xa,
                const TensorContainer<gpu, 4>& xb, const TensorContainer<gpu, 2>& y) {
  test::RandomShifts(a.net());
  test::RandomShifts(b.net());
  double first = 0;
  for (int step = 0; step < 3; ++step) {
    const double la = a.Step(xa.view(), y.view()), lb = b.Step(xb.view(), y.view());
    if (step == 0) first = lb;
    EXPECT_NEAR(la, lb, 5e-3 * std::fabs(lb)) << "step " << step + 1;
    if (step == 2) EXPECT_GT(std::fabs(first - lb), 0.02) << "the nets barely trained: the comparison shows little";
  }
  std::vector<TensorContainer<cpu, 2>> wa, wb;
  a.net().VisitWeights([&](const std::string&, Tensor<gpu, 2> w, Tensor<gpu, 2>) { wa.push_back(test::ToCPU(w)); });
  b.net().VisitWeights([&](const std::string&, Tensor<gpu, 2> w, Tensor<gpu, 2>) { wb.push_back(test::ToCPU(w)); });
  ASSERT_EQ(wa.size(), wb.size());
  for (size_t k = 0; k < wa.size(); ++k)
    EXPECT_TRUE(test::NormNear(wa[k].view(), wb[k].view(), 1e-2)) << "weight " << k;
}

// In both layouts: the bf16-node net make(true, nhwc) has the layer types `want` (channels-last,
// with a to_nchw before the flatten) and the bf16 nodes `bf16`, passes more(net, nhwc), and
// trains as the float-node plain net make(false, false).
template <typename Make, typename More>
void InBothLayouts(Make make, const std::vector<std::string>& want, const std::vector<const char*>& bf16, More more) {
  Batch b;
  auto x = test::ToGPU(b.x.view());
  auto xn = test::ToGPU(b.x_nhwc.view());
  auto y = test::ToGPU(b.y.view());
  for (bool nhwc : {false, true}) {
    SCOPED_TRACE(nhwc ? "channels-last" : "plain layout");
    nn::Trainer<gpu> half(make(true, nhwc), Sgd()), full(make(false, false), Sgd());
    std::vector<std::string> types = want;
    if (nhwc) types.insert(std::find(types.begin(), types.end(), "flatten"), "to_nchw");
    EXPECT_EQ(Types(half.net()), types);
    for (const char* n : bf16) EXPECT_TRUE(half.net().NodeIsBF16(n)) << n;
    more(half.net(), nhwc);
    TrainAlike(half, full, nhwc ? xn : x, x, y);
  }
}

// In the plain layout: the bf16-node net spec(true) has the layer types `want` and the bf16
// nodes `bf16`, passes more(net) where given, and trains as the float-node net spec(false).
template <typename MakeSpec>
void TrainsAsFloatNodes(MakeSpec spec, const std::vector<std::string>& want, const std::vector<const char*>& bf16,
                        const std::function<void(nn::Net<gpu>&)>& more = {}) {
  Batch b;
  auto x = test::ToGPU(b.x.view());
  auto y = test::ToGPU(b.y.view());
  nn::Trainer<gpu> half(spec(true), Sgd()), full(spec(false), Sgd());
  EXPECT_EQ(Types(half.net()), want);
  for (const char* n : bf16) EXPECT_TRUE(half.net().NodeIsBF16(n)) << n;
  if (more) more(half.net());
  TrainAlike(half, full, x, x, y);
}

TEST(Bf16NodesGPU, ConversionsWhereFloatLayersMeetBf16Ones) {
  UMBRA_REQUIRE_GPU();
  nn::Net<gpu> net(Spec(true));
  // The input converted once; the relus fused into the convolutions; the pools keep bf16; the
  // flatten (float only) gets its input back in float.
  const std::vector<std::string> want = {"to_bf16", "conv", "max_pooling", "conv", "avg_pooling",
                                         "to_fp32", "flatten", "fullc", "softmax"};
  EXPECT_EQ(Types(net), want);
  for (const char* n : {"in@bf16", "c1", "p1", "c2", "p2"}) EXPECT_TRUE(net.NodeIsBF16(n)) << n;
  for (const char* n : {"in", "p2@fp32", "f", "o", "prob"}) EXPECT_FALSE(net.NodeIsBF16(n)) << n;
  // Read as float, a bf16 node would be half garbage: refused, naming it.
  try {
    net.NodeByName("p1");
    ADD_FAILURE() << "a bf16 node was handed out as float";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'p1' holds bfloat16"), std::string::npos) << e.what();
  }
  // A float layer (prelu) amid bf16 ones: its input is converted to float and its output back
  // for the convolution (an island); after two float layers
  // the float node is not converted for the convolution alone (its copy would be held beside
  // it): c2 convolves with its own casts, as without bf16 nodes, and the pooling after it stays
  // float too.
  for (int floats : {1, 2}) {
    nn::NetSpec with_float = Spec(true);
    with_float.layers.insert(with_float.layers.begin() + 3, L("prelu", "n1", {"p1"}, {"n1"}));
    if (floats == 2) with_float.layers.insert(with_float.layers.begin() + 4, L("prelu", "n2", {"n1"}, {"n2"}));
    with_float.layers[3 + floats].in = {floats == 2 ? "n2" : "n1"};
    nn::Net<gpu> island(with_float);
    const std::vector<std::string> want_island =
        floats == 1 ? std::vector<std::string>{"to_bf16", "conv", "max_pooling", "to_fp32", "prelu", "to_bf16", "conv",
                                               "avg_pooling", "to_fp32", "flatten", "fullc", "softmax"}
                    : std::vector<std::string>{"to_bf16", "conv", "max_pooling", "to_fp32", "prelu", "prelu", "conv",
                                               "avg_pooling", "flatten", "fullc", "softmax"};
    EXPECT_EQ(Types(island), want_island);
    EXPECT_EQ(island.NodeIsBF16("c2"), floats == 1);
  }
  // Half the bytes for the bf16 nodes (values and gradients), the float ones unchanged.
  nn::Net<gpu> plain(Spec(false));
  EXPECT_LT(net.NodeElements(), plain.NodeElements() * 3 / 4);
  // A kept node stays float (the layer writing it takes float); a relu fused into a bf16
  // convolution under another name cannot be kept as float: a clear error, not a float read of
  // bf16 values.
  nn::NetSpec kept = Spec(true);
  kept.keep_values = {"p1"};
  nn::Net<gpu> k(kept);
  EXPECT_FALSE(k.NodeIsBF16("p1"));
  nn::NetSpec renamed = Spec(true);
  renamed.layers[1].out = {"r1"};
  renamed.layers[2].in = {"r1"};
  renamed.keep_values = {"r1"};
  try {
    nn::Net<gpu> bad(renamed);
    ADD_FAILURE() << "a fused relu's bf16 output was kept";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("node 'r1' is kept"), std::string::npos) << e.what();
  }
}

TEST(Bf16NodesGPU, TrainsAsFloatNodes) {
  UMBRA_REQUIRE_GPU();
  Batch b;
  auto x = test::ToGPU(b.x.view());
  auto y = test::ToGPU(b.y.view());
  nn::Trainer<gpu> half(Spec(true), Sgd()), full(Spec(false), Sgd());
  TrainAlike(half, full, x, x, y);
}

// Pools cuDNN cannot pool take bf16 nodes too (max: umbra's kernels; avg: the pool/unpool
// expressions over the widened values, rounded as stored): no conversions around them, in
// both layouts, and the net trains as with float nodes (a window read at the wrong place, a
// gradient to the wrong maximum, or the avg's scale left out, is off by far more than bf16's
// roundings).
TEST(Bf16NodesGPU, CeilModePoolsTrainAsFloatNodes) {
  UMBRA_REQUIRE_GPU();
  InBothLayouts([](bool nodes, bool nhwc) { return Spec(nodes, nhwc, true); },
                {"to_bf16", "conv", "max_pooling", "conv", "avg_pooling", "to_fp32", "flatten", "fullc", "softmax"},
                {"c1", "p1", "c2", "p2"}, [](nn::Net<gpu>& net, bool nhwc) {
                  // 12 x 8 -> 6 x 4 -> 4 x 3 in ceil mode (5 x 3 -> 3 x 2 in floor mode).
                  EXPECT_EQ(net.NodeByName("p2@fp32").shape, nhwc ? Shape4(4, 4, 3, 6) : Shape4(4, 6, 4, 3));
                });
}

// An Inception-style join of a 1x1 (4 channels) and a 3x3 (6 channels) convolution's outputs,
// read by a convolution (each channel with its own weights): ch_concat moves bf16 values in
// either layout, with no conversion around it.
nn::NetSpec Inception(bool nodes, bool nhwc) {
  nn::NetSpec s;
  s.input_shape = Shape4(4, 3, 12, 8);
  s.seed = 29;
  s.bf16_nodes = nodes;
  s.channels_last = s.input_channels_last = nhwc;
  s.layers = {L("conv", "c1", {"in"}, {"c1"}, {{"nchannel", "8"}, {"kernel_size", "3"}, {"pad", "1"}}),
              L("relu", "r1", {"c1"}, {"c1"}),
              L("split", "sp", {"c1"}, {"x", "y"}),
              L("conv", "ca", {"x"}, {"ca"}, {{"nchannel", "4"}, {"kernel_size", "1"}}),
              L("conv", "cb", {"y"}, {"cb"}, {{"nchannel", "6"}, {"kernel_size", "3"}, {"pad", "1"}}),
              L("ch_concat", "cat", {"ca", "cb"}, {"cat"}),
              L("conv", "c2", {"cat"}, {"c2"}, {{"nchannel", "5"}, {"kernel_size", "3"}, {"pad", "1"}}),
              L("relu", "r2", {"c2"}, {"c2"}),
              L("max_pooling", "p", {"c2"}, {"p"}, {{"kernel_size", "2"}, {"stride", "2"}}),
              L("flatten", "f", {"p"}, {"f"}),
              L("fullc", "fc", {"f"}, {"o"}, {{"nhidden", "4"}}),
              L("softmax", "loss", {"o"}, {"prob"})};
  nn::SetKeyWhereTaken<cpu>(s, "dtype", "bf16");
  nn::SetKeyWhereTaken<cpu>(s, "init_sigma", "0.15");
  return s;
}

TEST(Bf16NodesGPU, ChannelConcatTrainsAsFloatNodes) {
  UMBRA_REQUIRE_GPU();
  InBothLayouts(Inception,
                {"to_bf16", "conv", "split", "conv", "conv", "ch_concat", "conv", "max_pooling", "to_fp32", "flatten",
                 "fullc", "softmax"},
                {"ca", "cb", "cat", "c2"}, [](nn::Net<gpu>&, bool) {});
}

// cxxnet's concat (dimension 3: the width of (N, C, H, W)) of a 1x1 and a 3x3 convolution's
// outputs, read by a 3x3 convolution across the seam: it moves bf16 values too, with no
// conversion around it.
TEST(Bf16NodesGPU, WidthConcatTrainsAsFloatNodes) {
  UMBRA_REQUIRE_GPU();
  auto spec = [](bool nodes) {
    nn::NetSpec s = Inception(nodes, false);
    for (auto& kv : s.layers[4].params)
      if (kv.first == "nchannel") kv.second = "4";  // as many channels as the 1x1 branch
    s.layers[5].type = "concat";
    return s;
  };
  TrainsAsFloatNodes(spec,
                     {"to_bf16", "conv", "split", "conv", "conv", "concat", "conv", "max_pooling", "to_fp32",
                      "flatten", "fullc", "softmax"},
                     {"ca", "cb", "cat", "c2"}, [](nn::Net<gpu>& net) {
                       EXPECT_EQ(net.NodeByName("p@fp32").shape, Shape4(4, 5, 6, 8));  // 12 x 16 pooled
                     });
}

// cxxnet's lrn (as its AlexNet, after a convolution and a pooling) on bf16 nodes: the same
// expressions over the widened values, no conversions around it; trains as the float-node net
// (a window over the wrong channels, or the bf16 values read as floats, is off by far more).
TEST(Bf16NodesGPU, LrnTrainsAsFloatNodes) {
  UMBRA_REQUIRE_GPU();
  auto spec = [](bool nodes) {
    nn::NetSpec s = Spec(nodes);
    s.layers.insert(s.layers.begin() + 3,
                    L("lrn", "n1", {"p1"}, {"n1"}, {{"local_size", "3"}, {"alpha", "0.5"}, {"beta", "0.75"}}));
    s.layers[4].in = {"n1"};
    return s;
  };
  TrainsAsFloatNodes(spec,
                     {"to_bf16", "conv", "max_pooling", "lrn", "conv", "avg_pooling", "to_fp32", "flatten", "fullc",
                      "softmax"},
                     {"n1"});
}

// Activations on bf16 nodes by umbra's expressions (the path of every activation cuDNN lacks,
// and of relu, sigmoid and tanh where cuDNN refuses bf16): tanh with algo=expr and elu (no
// cuDNN mode) in place of the two relus, straight after their convolutions (inputs of either
// sign; nothing fuses them); no conversions around them, and trained as the float-node net
// (bf16 read as floats, or a gradient dropped or taken from the wrong buffer, is off by more).
TEST(Bf16NodesGPU, ActivationsTrainAsFloatNodes) {
  UMBRA_REQUIRE_GPU();
  auto spec = [](bool nodes) {
    nn::NetSpec s = Spec(nodes);
    s.layers[1] = L("tanh", "t1", {"c1"}, {"c1"}, {{"algo", "expr"}});
    s.layers[4] = L("elu", "e2", {"c2"}, {"c2"});
    return s;
  };
  TrainsAsFloatNodes(spec,
                     {"to_bf16", "conv", "tanh", "max_pooling", "conv", "elu", "avg_pooling", "to_fp32", "flatten",
                      "fullc", "softmax"},
                     {"c1", "c2"});
}

TEST(Bf16NodesGPU, ChannelsLastTrainsAsFloatNodes) {
  UMBRA_REQUIRE_GPU();
  Batch b;
  auto x = test::ToGPU(b.x.view());
  auto xn = test::ToGPU(b.x_nhwc.view());
  auto y = test::ToGPU(b.y.view());
  nn::Trainer<gpu> half(Spec(true, true), Sgd()), full(Spec(false), Sgd());
  // Flatten takes (N, C, H, W) float: the last pool's bf16 (N, H, W, C) output is converted to
  // float first, then moved.
  const std::vector<std::string> want = {"to_bf16", "conv", "max_pooling", "conv", "avg_pooling",
                                         "to_fp32", "to_nchw", "flatten", "fullc", "softmax"};
  EXPECT_EQ(Types(half.net()), want);
  TrainAlike(half, full, xn, x, y);
}

// A channels-last net fed (N, C, H, W) input (the command line's: layout = nhwc) converts it
// first; the bf16 stretch starts at that copy as at an input given channels-last (it never
// started: bf16_nodes = 1 with layout = nhwc changed nothing, unsaid).
TEST(Bf16NodesGPU, ChannelsLastFromPlainInputTrainsAsFloatNodes) {
  UMBRA_REQUIRE_GPU();
  Batch b;
  auto x = test::ToGPU(b.x.view());
  auto y = test::ToGPU(b.y.view());
  nn::NetSpec s = Spec(true, true);
  s.input_channels_last = false;
  nn::Trainer<gpu> half(s, Sgd()), full(Spec(false), Sgd());
  const std::vector<std::string> want = {"to_nhwc", "to_bf16", "conv", "max_pooling", "conv", "avg_pooling",
                                         "to_fp32", "to_nchw", "flatten", "fullc", "softmax"};
  EXPECT_EQ(Types(half.net()), want);
  TrainAlike(half, full, x, x, y);
}

// A residual block as ResNet's: conv -> batch_norm -> relu (cuDNN's, algo = cudnn in both
// layouts: its batch norm fuses no relu) -> a ceil-mode max pooling cuDNN cannot pool (umbra's
// kernels on bf16) -> split -> conv -> batch_norm -> relu -> conv -> batch_norm, summed with
// the shortcut, relu fused into the sum
// -> global average pooling -> flatten -> fullc.
nn::NetSpec Residual(bool nodes, bool nhwc = false) {
  nn::NetSpec s;
  s.input_shape = Shape4(4, 3, 12, 8);
  s.seed = 19;
  s.bf16_nodes = nodes;
  s.channels_last = s.input_channels_last = nhwc;
  s.layers = {L("conv", "c0", {"in"}, {"c0"}, {{"nchannel", "8"}, {"kernel_size", "3"}, {"pad", "1"}, {"no_bias", "1"}}),
              L("batch_norm", "b0", {"c0"}, {"b0"}),
              L("relu", "r0", {"b0"}, {"b0"}),
              L("max_pooling", "p0", {"b0"}, {"p0"}, {{"kernel_size", "3"}, {"stride", "2"}, {"pad", "1"}}),
              L("split", "s", {"p0"}, {"x", "short"}),
              L("conv", "c1", {"x"}, {"c1"}, {{"nchannel", "8"}, {"kernel_size", "3"}, {"pad", "1"}, {"no_bias", "1"}}),
              L("batch_norm", "b1", {"c1"}, {"b1"}),
              L("relu", "r1", {"b1"}, {"b1"}),
              L("conv", "c2", {"b1"}, {"c2"}, {{"nchannel", "8"}, {"kernel_size", "3"}, {"pad", "1"}, {"no_bias", "1"}}),
              L("batch_norm", "b2", {"c2"}, {"b2"}),
              L("eltwise_sum", "sum", {"b2", "short"}, {"sum"}),
              L("relu", "r2", {"sum"}, {"sum"}),
              L("global_avg_pooling", "gp", {"sum"}, {"gp"}),
              L("flatten", "f", {"gp"}, {"f"}),
              L("fullc", "fc", {"f"}, {"o"}, {{"nhidden", "4"}}),
              L("softmax", "loss", {"o"}, {"prob"})};
  nn::SetKeyWhereTaken<cpu>(s, "dtype", "bf16");
  nn::SetKeyWhereTaken<cpu>(s, "init_sigma", "0.15");
  nn::SetKeyWhereTaken<cpu>(s, "algo", "cudnn", "batch_norm");
  return s;
}

TEST(Bf16NodesGPU, ResidualBlockTrainsAsFloatNodes) {
  UMBRA_REQUIRE_GPU();
  InBothLayouts(Residual,
                {"to_bf16", "conv", "batch_norm", "relu", "max_pooling", "split", "conv", "batch_norm", "relu", "conv",
                 "batch_norm", "eltwise_sum", "global_avg_pooling", "to_fp32", "flatten", "fullc", "softmax"},
                {"c0", "b0", "p0", "x", "short", "c1", "b1", "c2", "b2", "sum", "gp"}, [](nn::Net<gpu>&, bool) {});
}

// The residual block with umbra's batch norm (algo=expr on the batch norms alone): bf16 nodes
// through its statistics kernels (the widened values summed in double) and its normalising and
// input-gradient passes (in float, rounded as stored), each relu after a batch norm fused into
// it, and the sum after the last one with its relu (NetSpec::fuse_add: no eltwise_sum layer;
// the shortcut widened and added in the normalising pass, the mask applied in place the
// shortcut's gradient). A bf16 value read as a float, or a mask decided from other values
// than the forward's, is off by far more than bf16's roundings.
nn::NetSpec ResidualOwnBn(bool nodes, bool nhwc) {
  nn::NetSpec s = Residual(nodes, nhwc);
  nn::SetKeyWhereTaken<cpu>(s, "algo", "expr", "batch_norm");
  return s;
}

TEST(Bf16NodesGPU, OwnBatchNormTrainsAsFloatNodes) {
  UMBRA_REQUIRE_GPU();
  InBothLayouts(ResidualOwnBn,
                {"to_bf16", "conv", "batch_norm", "max_pooling", "split", "conv", "batch_norm", "conv", "batch_norm",
                 "global_avg_pooling", "to_fp32", "flatten", "fullc", "softmax"},
                {"c0", "b0", "p0", "x", "short", "c1", "b1", "c2", "b2", "sum", "gp"}, [](nn::Net<gpu>&, bool) {});
}

// A batch norm of 8 channels left at algo = auto on bf16 nodes is umbra's (relus and the sum
// fused: the layers of algo = expr's net), in either layout; algo = cudnn keeps the relus.
TEST(Bf16NodesGPU, BatchNormDefaultsToUmbrasKernels) {
  UMBRA_REQUIRE_GPU();
  for (bool nhwc : {false, true}) {
    SCOPED_TRACE(nhwc ? "channels-last" : "plain layout");
    nn::NetSpec s = Residual(true, nhwc);
    nn::SetKeyWhereTaken<cpu>(s, "algo", "auto", "batch_norm");
    nn::Net<gpu> def(s), own(ResidualOwnBn(true, nhwc)), cud(Residual(true, nhwc));
    EXPECT_EQ(Types(def), Types(own));
    EXPECT_NE(Types(own), Types(cud));
  }
}

// The same with a projection shortcut (a 1x1 convolution and its batch norm, the layer before
// the sum): the sum goes into the shortcut's batch norm, the main branch's output b2 its
// addend, and the relu's mask in backward comes from the bf16 output (the sums kernel's y).
nn::NetSpec ProjectionOwnBn(bool nodes, bool nhwc) {
  nn::NetSpec s = ResidualOwnBn(nodes, nhwc);
  auto sum = std::ranges::find_if(s.layers, [](const nn::LayerSpec& l) { return l.name == "sum"; });
  sum->in = {"b2", "db"};
  s.layers.insert(sum, {L("conv", "cd", {"short"}, {"cd"},
                          {{"nchannel", "8"}, {"kernel_size", "1"}, {"no_bias", "1"}, {"dtype", "bf16"},
                           {"init_sigma", "0.15"}}),
                        L("batch_norm", "bd", {"cd"}, {"db"}, {{"algo", "expr"}})});
  return s;
}

TEST(Bf16NodesGPU, OwnBatchNormProjectionTrainsAsFloatNodes) {
  UMBRA_REQUIRE_GPU();
  InBothLayouts(ProjectionOwnBn,
                {"to_bf16", "conv", "batch_norm", "max_pooling", "split", "conv", "batch_norm", "conv", "batch_norm",
                 "conv", "batch_norm", "global_avg_pooling", "to_fp32", "flatten", "fullc", "softmax"},
                {"c0", "b0", "p0", "x", "short", "c1", "b1", "c2", "b2", "cd", "db", "sum", "gp"},
                [](nn::Net<gpu>&, bool) {});
}

// A backward after a test-mode forward (batch norm from its moving statistics: the expression
// path's backward on either kind of batch norm, the relu's mask in place first where fused):
// every weight gradient as the float-node net's, to bf16's roundings: within 3e-2 of its norm
// (0.15-1.6% measured in the emulation, against 0.07-0.8% after a training forward: more of
// the relus' inputs lie near 0 under these moving statistics). A bf16 value read as a float
// is off by its whole size, or NaN.
TEST(Bf16NodesGPU, TestModeBackwardAsFloatNodes) {
  UMBRA_REQUIRE_GPU();
  Batch b;
  auto x = test::ToGPU(b.x.view());
  auto y = test::ToGPU(b.y.view());
  for (bool own : {false, true}) {
    SCOPED_TRACE(own ? "umbra's batch norm" : "cuDNN's batch norm");
    nn::Net<gpu> a(own ? ResidualOwnBn(true, false) : Residual(true)),
        c(own ? ResidualOwnBn(false, false) : Residual(false));
    std::vector<TensorContainer<cpu, 2>> ga, gc;
    std::vector<std::string> names;
    for (nn::Net<gpu>* net : {&a, &c}) {
      test::RandomShifts(*net);
      net->VisitWeights([](const std::string& n, Tensor<gpu, 2> w, Tensor<gpu, 2>) {  // statistics not 0 and 1
        if (n.ends_with(".moving_mean")) Copy(w, test::RandomTensor<2, float>(w.shape_, 31, -0.2f, 0.2f).view());
        if (n.ends_with(".moving_var")) Copy(w, test::RandomTensor<2, float>(w.shape_, 32, 0.5f, 2.f).view());
      });
      const Tensor<gpu, 2> label = y.view();
      net->Forward(false, x.view(), &label);
      net->Backward();
      net->VisitWeights([&](const std::string& n, Tensor<gpu, 2>, Tensor<gpu, 2> g) {
        if (n.find(".moving_") != std::string::npos) return;
        (net == &a ? ga : gc).push_back(test::ToCPU(g));
        if (net == &a) names.push_back(n);
      });
    }
    ASSERT_EQ(ga.size(), gc.size());
    for (size_t k = 0; k < ga.size(); ++k) EXPECT_TRUE(test::NormNear(ga[k].view(), gc[k].view(), 3e-2)) << names[k];
  }
}

// The benchmark's ResNet-18 (examples/configs, 224 x 224, batch 4: its downsampling shortcuts,
// ceil-mode stem pooling and global pooling) with bf16 nodes, beside the same net with float
// nodes (dtype=bf16 both) and in fp32 (tf32 = 0). At batch 4 its batch norms' backward cancels
// most of each gradient, so bf16's roundings leave the first step's convolution gradients far
// from fp32's: 16-41% (L2) with float nodes as with bf16 ones (measured in the emulation; the
// fc layer's 0.9%). The check: bf16 nodes' gradients are no farther from fp32's than 1.5 times
// the float-node net's (0.91-1.14 measured), and the loss as close as bf16 allows; a wrong
// mask, sum or conversion is off by the gradient's whole size.
TEST(Bf16NodesGPU, ResNet18AsCloseToFp32AsFloatNodes) {
  UMBRA_REQUIRE_GPU();
  nn::NetSpec s = config::NetFromConfig(
      config::ParseConfigFile(std::string(UMBRA_EXAMPLE_CONFIGS) + "/resnet18.conf"), 4).spec;
  s.input_shape[0] = 4;
  nn::NetSpec s32 = s;
  nn::SetKeyWhereTaken<cpu>(s32, "tf32", "0");
  nn::SetKeyWhereTaken<cpu>(s, "dtype", "bf16");
  nn::NetSpec s16 = s;
  s16.bf16_nodes = true;
  nn::UpdaterSettings us;
  us.Set("lr", "0.01");
  us.Set("momentum", "0.9");
  // update_period 2: step 1's gradients stay to be read (as ExampleNetsGPU does).
  nn::Trainer<gpu> half(s16, us, 2), full(s, us, 2), fp32(s32, us, 2);
  size_t converts = 0;
  for (const std::string& t : Types(half.net())) converts += t == "to_bf16" || t == "to_fp32";
  EXPECT_EQ(converts, 2u);  // the input, before the flatten (the ceil-mode stem pooling on bf16)
  const test::RandomBatch batch(s.input_shape, 11, [](index_t i) { return i * 3 % 10; });
  const double lh = half.Step(batch.x.view(), batch.y.view()), lf = full.Step(batch.x.view(), batch.y.view());
  fp32.Step(batch.x.view(), batch.y.view());
  EXPECT_NEAR(lh, lf, 2e-3 * std::fabs(lf));  // 1.8e-4 measured
  std::vector<TensorContainer<cpu, 2>> gh, gf, g32;
  std::vector<std::string> names;
  half.net().VisitWeights([&](const std::string& n, Tensor<gpu, 2>, Tensor<gpu, 2> g) {
    gh.push_back(test::ToCPU(g));
    names.push_back(n);
  });
  full.net().VisitWeights([&](const std::string&, Tensor<gpu, 2>, Tensor<gpu, 2> g) { gf.push_back(test::ToCPU(g)); });
  fp32.net().VisitWeights([&](const std::string&, Tensor<gpu, 2>, Tensor<gpu, 2> g) { g32.push_back(test::ToCPU(g)); });
  ASSERT_EQ(gh.size(), g32.size());
  ASSERT_EQ(gf.size(), g32.size());
  for (size_t k = 0; k < g32.size(); ++k) {
    if (names[k].find(".moving_") != std::string::npos) continue;  // state: no gradient
    double dh = 0, df = 0, n = 0;
    for (index_t i = 0; i < g32[k].Size(); ++i) {
      dh += std::pow(double(gh[k].dptr_[i]) - g32[k].dptr_[i], 2);
      df += std::pow(double(gf[k].dptr_[i]) - g32[k].dptr_[i], 2);
      n += std::pow(double(g32[k].dptr_[i]), 2);
    }
    // A gradient as far from fp32 with either kind of node, and rounding noise at worst (a
    // gamma or beta gradient of almost nothing may differ by its size with both).
    EXPECT_LE(std::sqrt(dh), 1.5 * std::sqrt(df) + 1e-3 * std::sqrt(n) + 1e-6) << names[k];
  }
}

// Test-mode passes (batch norm from its moving statistics: cuDNN's inference call in bf16, or
// umbra's normalising pass), in a training net and in a prediction-only one (values only,
// planned as the pred task plans them): the probabilities as the float-node net's, to bf16's
// rounding.
TEST(Bf16NodesGPU, PredictsAsFloatNodes) {
  UMBRA_REQUIRE_GPU();
  Batch b;
  auto x = test::ToGPU(b.x.view());
  for (int k = 0; k < 4; ++k) {
    const bool inference_only = k % 2, own = k / 2;
    SCOPED_TRACE(inference_only ? "prediction-only net" : "training net");
    SCOPED_TRACE(own ? "umbra's batch norm" : "cuDNN's batch norm");
    nn::NetSpec sa = own ? ResidualOwnBn(true, false) : Residual(true);
    nn::NetSpec sb = own ? ResidualOwnBn(false, false) : Residual(false);
    sa.inference_only = sb.inference_only = inference_only;
    nn::Net<gpu> a(sa), c(sb);
    test::RandomShifts(a);
    test::RandomShifts(c);
    a.Forward(false, x.view());
    c.Forward(false, x.view());
    const auto pa = test::ToCPU(a.Output().data), pc = test::ToCPU(c.Output().data);
    EXPECT_TRUE(test::AllNear(pa.view(), pc.view(), 1e-2));
    double spread = 0;  // not four uniform rows, which any net would match
    for (index_t i = 0; i < pc.Size(); ++i) spread = std::max(spread, std::fabs(pc.dptr_[i] - 0.25));
    EXPECT_GT(spread, 0.05);
  }
}

// The plain net, and the residual block channels-last with umbra's batch norm (its statistics
// kernels' counts, put back by each launch, replayed).
TEST(Bf16NodesGPU, GraphReplaysTheSteps) {
  UMBRA_REQUIRE_GPU();
  Batch b;
  auto y = test::ToGPU(b.y.view());
  for (bool residual : {false, true}) {
    SCOPED_TRACE(residual ? "residual block, umbra's batch norm, channels-last" : "plain net");
    auto x = test::ToGPU(residual ? b.x_nhwc.view() : b.x.view());
    const nn::NetSpec spec = residual ? ResidualOwnBn(true, true) : Spec(true);
    nn::Trainer<gpu> graphed(spec, Sgd()), plain(spec, Sgd());
    graphed.set_cuda_graph(true);
    test::RandomShifts(graphed.net());
    test::RandomShifts(plain.net());
    for (int step = 0; step < 4; ++step) {
      const double a = graphed.Step(x.view(), y.view()), c = plain.Step(x.view(), y.view());
      EXPECT_NEAR(a, c, 1e-6 * std::fabs(c)) << "step " << step + 1;
    }
    EXPECT_EQ(graphed.num_graphs(), 1u);
    test::ExpectSameWeights(graphed.net(), plain.net(), 1e-6);
  }
}

}  // namespace bf16_nodes_gpu_test
}  // namespace umbra
