// The Net: shape inference and parameter counts, and a whole-network finite-difference check
// (forward, backward through several layers, in double), weight sharing, extra inputs, the
// memory plan; graph errors are in net_errors_test.cc, fusions in net_fusion_test.cc.
#include <functional>

#include "harness/layer_check.h"
#include "harness/net_compare.h"
#include "harness/tiny_net.h"
#include "umbra/nn/net.h"
#include "umbra/nn/trainer.h"

namespace umbra {
namespace {
using nn::LayerSpec;
using nn::NetSpec;

using test::L;

TEST(Net, ShapesAndParameterCount) {
  nn::Net<cpu> net(test::SmallSpec(5));
  EXPECT_EQ(net.NodeByName("h").shape, Shape4(5, 1, 1, 6));
  EXPECT_EQ(net.Output().shape, Shape4(5, 1, 1, 4));
  EXPECT_EQ(net.NumParams(), (18 * 6 + 6) + (6 * 4 + 4));
}

// LossTo: the loss layers' mean loss written into a one-element tensor (the device reduces it
// there on a gpu, so that training reads many steps' losses at once), overwriting the slot.
TEST(Net, LossToWritesTheLossIntoItsSlot) {
  nn::Net<cpu> net(test::SmallSpec(3));
  TensorContainer<cpu, 4> x(Shape4(3, 2, 3, 3));
  Random<cpu> rnd(2);
  rnd.SampleUniform(&x, -1.f, 1.f);
  TensorContainer<cpu, 2> y(Shape2(3, 1));
  for (index_t i = 0; i < 3; ++i) y.dptr_[i] = float(i);
  const Tensor<cpu, 2> labels = y.view();
  net.Forward(true, x.view(), &labels);
  TensorContainer<cpu, 1> slots(Shape1(2), 123.f);
  net.LossTo(slots.view().Slice(1, 2));
  EXPECT_GT(net.Loss(), 0.5);
  EXPECT_NEAR(slots.dptr_[1], net.Loss(), 1e-6 * net.Loss());
  EXPECT_EQ(slots.dptr_[0], 123.f);
  EXPECT_NE(test::ErrorOf([&] { net.LossTo(slots.view()); }).find("one value"), std::string::npos);
}

// d loss / d w[i] of a double net by central differences, on input x with labels y.
double NumericGrad(nn::Net<cpu, double>& net, Tensor<cpu, 2, double> w, index_t i,
                   const Tensor<cpu, 4, double>& x, const Tensor<cpu, 2, double>& y) {
  const double keep = w.dptr_[i], h = 1e-6;
  w.dptr_[i] = keep + h;
  net.Forward(true, x, &y);
  const double fp = net.Loss();
  w.dptr_[i] = keep - h;
  net.Forward(true, x, &y);
  const double fm = net.Loss();
  w.dptr_[i] = keep;
  return (fp - fm) / (2 * h);
}

TEST(Net, WholeNetworkGradientCheck) {
  nn::Net<cpu, double> net(test::SmallSpec(3));
  const test::SmallBatch batch;
  const auto& x = batch.x;
  const auto& y = batch.y;
  net.Forward(true, x.view(), &y.view());
  net.Backward();
  std::vector<std::pair<Tensor<cpu, 2, double>, TensorContainer<cpu, 2, double>>> wg;
  net.VisitWeights([&](const std::string&, Tensor<cpu, 2, double> w, Tensor<cpu, 2, double> g) {
    wg.push_back({w, TensorContainer<cpu, 2, double>(g)});
  });
  ASSERT_EQ(wg.size(), 4u);
  for (auto& [w, g] : wg)
    for (index_t i = 0; i < w.Size(); i += 3)
      ASSERT_NEAR(g.dptr_[i], NumericGrad(net, w, i, x.view(), y.view()), 1e-6);
}

}  // namespace
}  // namespace umbra

namespace umbra {
namespace {

// Gradients of nodes whose backward lifetimes do not overlap share storage; the whole-network
// gradient check above runs with that sharing, so correctness is covered there too.
TEST(Net, GradientBuffersAreShared) {
  NetSpec s;
  s.input_shape = Shape4(4, 1, 1, 32);
  s.defaults = {{"init", "xavier"}};
  s.layers = {LayerSpec{"fullc", "fc1", {"in"}, {"a"}, {{"nhidden", "32"}}},
              LayerSpec{"sigmoid", "s1", {"a"}, {"a"}, {}},
              LayerSpec{"fullc", "fc2", {"a"}, {"b"}, {{"nhidden", "32"}}},
              LayerSpec{"sigmoid", "s2", {"b"}, {"b"}, {}},
              LayerSpec{"fullc", "fc3", {"b"}, {"c"}, {{"nhidden", "32"}}},
              LayerSpec{"fullc", "fc4", {"c"}, {"d"}, {{"nhidden", "10"}}},
              LayerSpec{"softmax", "loss", {"d"}, {"p"}, {}}};
  nn::Net<cpu> net(s);
  // Every value here is read backward (fullc reads its input, sigmoid its output) except d,
  // which softmax consumes; live at the end of forward: in, a, b, c (4x32 each), p (4x10),
  // then at most two gradients of 4x32 at a time, and p's own zeroed gradient.
  EXPECT_LE(net.NodeElements(), 4 * 128 + 40 + 2 * 128 + 2 * 64 + 64);
  EXPECT_LT(net.NodeElements(), net.NodeElementsUnshared());
  // Training still works: the loss falls on a fixed batch.
  TensorContainer<cpu, 4> x(s.input_shape);
  TensorContainer<cpu, 2> y(Shape2(4, 1));
  Random<cpu> rnd(1);
  rnd.SampleUniform(&x);
  for (index_t i = 0; i < 4; ++i) y.dptr_[i] = float(i);
  nn::UpdaterSettings us;
  us.Set("lr", "0.1");
  nn::Trainer<cpu> trainer(s, us);
  const double l0 = trainer.Step(x.view(), y.view());
  double l = l0;
  for (int i = 0; i < 50; ++i) l = trainer.Step(x.view(), y.view());
  EXPECT_LT(l, 0.5 * l0);
}

}  // namespace
}  // namespace umbra

namespace umbra {
namespace {

// share: the same fullc applied to two branches. Its weights appear once to the visitor, the
// gradient is the sum over both uses (finite differences of the whole net), and bad shares fail.
NetSpec Shared() {
  NetSpec s;
  s.input_shape = Shape4(3, 1, 1, 5);
  s.layers = {LayerSpec{"split", "sp", {"in"}, {"a", "b"}, {}},
              LayerSpec{"fullc", "fc1", {"a"}, {"ha"}, {{"nhidden", "4"}}},
              LayerSpec{"tanh", "t", {"b"}, {"tb"}, {}},
              LayerSpec{"share", "fc1_again", {"tb"}, {"hb"}, {{"source", "fc1"}}},
              LayerSpec{"eltwise_sum", "sum", {"ha", "hb"}, {"h"}, {}},
              LayerSpec{"fullc", "fc2", {"h"}, {"o"}, {{"nhidden", "3"}}},
              LayerSpec{"softmax", "loss", {"o"}, {"p"}, {}}};
  return s;
}

TEST(Net, ShareUsesOneSetOfWeights) {
  nn::Net<cpu, double> net(Shared());
  std::vector<std::string> names;
  std::vector<std::pair<Tensor<cpu, 2, double>, Tensor<cpu, 2, double>>> wg;
  net.VisitWeights([&](const std::string& n, Tensor<cpu, 2, double> w, Tensor<cpu, 2, double> g) {
    names.push_back(n);
    wg.push_back({w, g});
  });
  EXPECT_EQ(names, (std::vector<std::string>{"fc1.wmat", "fc1.bias", "fc2.wmat", "fc2.bias"}));
  TensorContainer<cpu, 4, double> x(Shape4(3, 1, 1, 5));
  TensorContainer<cpu, 2, double> y(Shape2(3, 1));
  Random<cpu, double> rnd(9);
  rnd.SampleUniform(&x, -1.0, 1.0);
  y.dptr_[0] = 2, y.dptr_[1] = 0, y.dptr_[2] = 1;
  for (auto& [w, g] : wg) rnd.SampleUniform(&w, -0.5, 0.5);
  net.Forward(true, x.view(), &y.view());
  net.Backward();
  for (int k = 0; k < 2; ++k) {  // fc1's weights and bias: used twice
    auto [w, g] = wg[k];
    TensorContainer<cpu, 2, double> analytic(g);
    for (index_t i = 0; i < w.Size(); ++i)
      ASSERT_NEAR(analytic.dptr_[i], NumericGrad(net, w, i, x.view(), y.view()), 1e-6)
          << names[k] << " " << i;
  }
}

TEST(Net, BadSharesAreErrors) {
  auto err = [](NetSpec s) { return test::ErrorOf([&] { nn::Net<cpu> n(s); }); };
  NetSpec s = Shared();
  s.layers[3].params = {{"source", "fc9"}};
  EXPECT_NE(err(s).find("no earlier layer named 'fc9'"), std::string::npos) << err(s);
  s = Shared();
  s.layers[3].params = {{"source", "fc1"}, {"nhidden", "2"}};
  EXPECT_NE(err(s).find("unknown key 'nhidden'"), std::string::npos) << err(s);
  s = Shared();
  s.layers[2] = LayerSpec{"fullc", "t", {"b"}, {"tb"}, {{"nhidden", "7"}}};  // other input width
  EXPECT_NE(err(s).find("weights of other shapes"), std::string::npos) << err(s);
}

// A share whose source comes after a fused relu (which has no entry of its own among the net's
// layers): the share takes its source's type and keys, found by name, and shares its weights.
TEST(Net, ShareAfterAFusedRelu) {
  NetSpec s = Shared();
  s.layers.insert(s.layers.begin(), {LayerSpec{"fullc", "fc0", {"in"}, {"z"}, {{"nhidden", "5"}}},
                                     LayerSpec{"relu", "r0", {"z"}, {"z2"}, {}}});
  s.layers[2].in = {"z2"};
  ASSERT_TRUE(s.fuse_relu);
  nn::Net<cpu, double> net(s);
  std::vector<std::string> names;
  net.VisitWeights([&](const std::string& n, Tensor<cpu, 2, double>, Tensor<cpu, 2, double>) { names.push_back(n); });
  EXPECT_EQ(names, (std::vector<std::string>{"fc0.wmat", "fc0.bias", "fc1.wmat", "fc1.bias", "fc2.wmat", "fc2.bias"}));
  EXPECT_EQ(net.NodeByName("hb").shape, Shape4(3, 1, 1, 4));
}

}  // namespace
}  // namespace umbra

namespace umbra {
namespace {

// Extra data inputs (cxxnet's extra_data): a second data node joins the graph by name.
TEST(Net, ExtraInputs) {
  NetSpec s;
  s.input_shape = Shape4(2, 1, 1, 3);
  s.extra_inputs = {{"side", Shape4(2, 1, 1, 2)}};
  s.layers = {LayerSpec{"fullc", "fc1", {"in"}, {"h"}, {{"nhidden", "4"}}},
              LayerSpec{"concat", "cat", {"h", "side"}, {"hs"}, {}},
              LayerSpec{"fullc", "fc2", {"hs"}, {"o"}, {{"nhidden", "2"}}},
              LayerSpec{"softmax", "loss", {"o"}, {"p"}, {}}};
  nn::Net<cpu> net(s);
  EXPECT_EQ(net.NodeByName("hs").shape, Shape4(2, 1, 1, 6));
  TensorContainer<cpu, 4> x(s.input_shape, 0.5f), side(Shape4(2, 1, 1, 2), 1.f), side2(Shape4(2, 1, 1, 2), -1.f);
  TensorContainer<cpu, 2> y(Shape2(2, 1), 0.f);
  net.Forward(true, x.view(), &y.view(), {side.view()});
  const float p0 = net.Output().data.dptr_[0];
  net.Backward();
  net.Forward(false, x.view(), nullptr, {side2.view()});
  EXPECT_NE(net.Output().data.dptr_[0], p0) << "the extra input must reach the output";
  EXPECT_NE(test::ErrorOf([&] { net.Forward(false, x.view()); }).find("1 extra input(s) but 0"), std::string::npos);
  TensorContainer<cpu, 4> bad(Shape4(2, 1, 1, 5), 0.f);
  EXPECT_NE(test::ErrorOf([&] { net.Forward(false, x.view(), nullptr, {bad.view()}); }).find("(2,1,1,5)"),
            std::string::npos);
  s.extra_inputs = {{"side", Shape4(3, 1, 1, 2)}};
  EXPECT_NE(test::ErrorOf([&] { nn::Net<cpu> n(s); }).find("has batch 3"), std::string::npos);
}

}  // namespace
}  // namespace umbra

namespace umbra {
namespace {

// An inference-only net reuses dead nodes' buffers and predicts exactly what the training net
// predicts with the same weights; it refuses Backward.
TEST(Net, InferenceOnlyReusesDeadNodes) {
  NetSpec s;
  s.input_shape = Shape4(3, 1, 1, 8);
  s.layers = {LayerSpec{"fullc", "fc1", {"in"}, {"a"}, {{"nhidden", "16"}}},
              LayerSpec{"relu", "r1", {"a"}, {"a"}, {}},
              LayerSpec{"fullc", "fc2", {"a"}, {"b"}, {{"nhidden", "16"}}},
              LayerSpec{"sigmoid", "s2", {"b"}, {"c"}, {}},
              LayerSpec{"fullc", "fc3", {"c"}, {"d"}, {{"nhidden", "16"}}},
              LayerSpec{"fullc", "fc4", {"d"}, {"e"}, {{"nhidden", "5"}}},
              LayerSpec{"softmax", "loss", {"e"}, {"p"}, {}}};
  nn::Net<cpu> train(s);
  NetSpec si = s;
  si.inference_only = true;
  si.seed = 5;
  nn::Net<cpu> infer(si);
  std::map<std::string, Tensor<cpu, 2>> w;
  train.VisitWeights([&](const std::string& n, Tensor<cpu, 2> t, Tensor<cpu, 2>) { w[n] = t; });
  infer.VisitWeights([&](const std::string& n, Tensor<cpu, 2> t, Tensor<cpu, 2>) { Copy(t, w.at(n)); });
  EXPECT_LT(infer.NodeElements(), train.NodeElements());
  TensorContainer<cpu, 4> x(s.input_shape);
  Random<cpu> rnd(2);
  rnd.SampleUniform(&x, -1.f, 1.f);
  train.Forward(false, x.view());
  infer.Forward(false, x.view());
  EXPECT_TRUE(test::AllNear(infer.Output().data, train.Output().data, 0));
  EXPECT_NE(test::ErrorOf([&] { infer.Backward(); }).find("inference_only"), std::string::npos);
}

// An inference-only net keeps no weight gradients (a visitor sees them empty) and draws the same
// initial weights as a training net from the same seed; batch norm's moving statistics too.
TEST(Net, InferenceOnlyKeepsNoWeightGradients) {
  NetSpec s;
  s.input_shape = Shape4(2, 3, 6, 6);
  s.layers = {LayerSpec{"conv", "c1", {"in"}, {"a"}, {{"nchannel", "4"}, {"kernel_size", "3"}}},
              LayerSpec{"batch_norm", "bn", {"a"}, {"b"}, {}},
              LayerSpec{"prelu", "pr", {"b"}, {"c"}, {}},
              LayerSpec{"flatten", "fl", {"c"}, {"d"}, {}},
              LayerSpec{"fullc", "fc", {"d"}, {"e"}, {{"nhidden", "5"}}},
              LayerSpec{"bias", "bi", {"e"}, {"f"}, {}},
              LayerSpec{"softmax", "loss", {"f"}, {"p"}, {}}};
  nn::Net<cpu> train(s);
  NetSpec si = s;
  si.inference_only = true;
  nn::Net<cpu> infer(si);
  std::map<std::string, Tensor<cpu, 2>> w;
  size_t trained_grads = 0, kept_grads = 0;
  train.VisitWeights([&](const std::string& n, Tensor<cpu, 2> t, Tensor<cpu, 2> g) {
    w[n] = t;
    trained_grads += g.Size() == t.Size();
  });
  infer.VisitWeights([&](const std::string& n, Tensor<cpu, 2> t, Tensor<cpu, 2> g) {
    EXPECT_TRUE(test::AllNear(t, w.at(n), 0)) << n;
    kept_grads += g.Size();
  });
  EXPECT_EQ(trained_grads, w.size());
  EXPECT_GE(w.size(), 8u) << "conv, fullc (weights and biases), gamma, beta, moving stats, slope, bias";
  EXPECT_EQ(kept_grads, 0u);
  EXPECT_EQ(infer.NumParams(), train.NumParams());
}

}  // namespace
}  // namespace umbra

namespace umbra {
namespace {

using test::ExpectTrainExactlyAlike;
using test::Residual;

// Values and gradients share one arena where their lifetimes allow, split and flatten outputs
// view their input: training must be exactly what the plain layout (share_memory = false, a
// buffer per value and per gradient) computes, step by step, and the planned net smaller.
TEST(Net, SharedValuesTrainExactlyAsThePlainLayout) {
  NetSpec shared = Residual(4), plain = Residual(4);
  plain.share_memory = false;
  const nn::UpdaterSettings us = test::SgdMomentum();
  nn::Trainer<cpu> a(shared, us), b(plain, us);
  EXPECT_LT(a.net().NodeElements(), b.net().NodeElements() / 2);
  // split's outputs and flatten's output hold no copy: the same buffer as their input.
  EXPECT_EQ(a.net().NodeByName("x").data.dptr_, a.net().NodeByName("r0").data.dptr_);
  EXPECT_EQ(a.net().NodeByName("id").data.dptr_, a.net().NodeByName("r0").data.dptr_);
  EXPECT_EQ(a.net().NodeByName("f").data.dptr_, a.net().NodeByName("p").data.dptr_);
  ExpectTrainExactlyAlike(a, b, shared.input_shape, 4);
}

// A sum passes its gradient on (Layer::InputGradIsOutputGrad): its inputs' gradients are its
// output's buffer, down a chain of sums, where no layer rewrites one of them afterwards;
// training stays exactly what the plain layout computes. The ResNet block's sum (its relu
// fused) hands the batch norm and the shortcut one buffer, with no copy for the shortcut.
TEST(Net, SumsPassTheirGradientBufferOn) {
  NetSpec block = Residual(4);
  block.fuse_add = false;  // the sum as a layer of its own (its fusion: FusedSum* below)
  const nn::UpdaterSettings us = test::SgdMomentum();
  nn::Trainer<cpu> r(block, us);
  EXPECT_EQ(r.net().NodeByName("b2").grad.dptr_, r.net().NodeByName("s").grad.dptr_);
  EXPECT_EQ(r.net().NodeByName("id").grad.dptr_, r.net().NodeByName("s").grad.dptr_);
  NetSpec plain_block = block;
  plain_block.share_memory = false;
  nn::Trainer<cpu> pb(plain_block, us);
  ExpectTrainExactlyAlike(r, pb, block.input_shape, 4);
  NetSpec chain;
  chain.input_shape = Shape4(4, 2, 5, 5);
  chain.seed = 5;
  chain.defaults = {{"init", "xavier"}};
  chain.layers = {L("split", "sp", {"in"}, {"x", "y", "z"}),
                  L("conv", "c", {"x"}, {"a"}, {{"nchannel", "2"}, {"kernel_size", "3"}, {"pad", "1"}}),
                  L("eltwise_sum", "s1", {"a", "y"}, {"s1"}),
                  L("relu", "r1", {"s1"}, {"s1"}),
                  L("eltwise_sum", "s2", {"s1", "z"}, {"s2"}),
                  L("fullc", "fc", {"s2"}, {"o"}, {{"nhidden", "3"}}),
                  L("softmax", "loss", {"o"}, {"p"})};
  NetSpec plain = chain;
  plain.share_memory = false;
  nn::Trainer<cpu> a(chain, us), b(plain, us);
  const auto& net = a.net();
  // s1's fused relu rewrites its gradient (the mask): s2 hands it on as a chain only, z keeps
  // its own; s1's inputs, nobody rewriting theirs, take the buffer, masked by s1 first.
  EXPECT_EQ(net.NodeByName("a").grad.dptr_, net.NodeByName("s2").grad.dptr_);
  EXPECT_EQ(net.NodeByName("s1").grad.dptr_, net.NodeByName("s2").grad.dptr_);
  EXPECT_EQ(net.NodeByName("y").grad.dptr_, net.NodeByName("s2").grad.dptr_);
  EXPECT_NE(net.NodeByName("z").grad.dptr_, net.NodeByName("s2").grad.dptr_);
  ExpectTrainExactlyAlike(a, b, chain.input_shape, 3);
}

// The nets of the two tests below: fullc f0 (whose gradient reads the split's), a split of its
// output into `branches`, fullc f1 on branch x with a relu (fused: its backward masks its output
// gradient "ra" in place), then `sums`, and a fullc and softmax on node `top`.
NetSpec SumsOverARewrittenBranch(uint64_t seed, std::vector<std::string> branches, std::vector<LayerSpec> sums,
                                 const std::string& top) {
  NetSpec s;
  s.input_shape = Shape4(4, 1, 1, 5);
  s.seed = seed;
  s.defaults = {{"init", "xavier"}};
  s.layers = {L("fullc", "f0", {"in"}, {"h"}, {{"nhidden", "6"}}),
              L("split", "sp", {"h"}, std::move(branches)),
              L("fullc", "f1", {"x"}, {"a"}, {{"nhidden", "6"}}),
              L("relu", "r", {"a"}, {"ra"})};
  s.layers.insert(s.layers.end(), sums.begin(), sums.end());
  s.layers.push_back(L("fullc", "f2", {top}, {"o"}, {{"nhidden", "3"}}));
  s.layers.push_back(L("softmax", "loss", {"o"}, {"p"}));
  return s;
}

// Trains the net as planned beside its plain layout (a buffer per gradient), exactly alike;
// `check` looks at the planned net's buffers first.
void ExpectSharedTrainsAsPlain(const NetSpec& s, const std::function<void(const nn::Net<cpu>&)>& check) {
  NetSpec plain = s;
  plain.share_memory = false;
  const nn::UpdaterSettings us = test::SgdMomentum();
  nn::Trainer<cpu> a(s, us), b(plain, us);
  check(a.net());
  ExpectTrainExactlyAlike(a, b, s.input_shape, 3);
}

// An input whose gradient a later layer rewrites in place (fullc's fused relu masks its output
// gradient) does not share the sum's buffer with the others: as input 0 it takes the buffer
// alone (the chain rule: the other input copies it first), as input 1 it keeps its own.
// Sharing all three would mask the split's other branch with the fullc's relu.
TEST(Net, SumsShareTheirGradientOnlyWhereNobodyRewritesIt) {
  for (const bool rewritten_first : {true, false}) {
    SCOPED_TRACE(rewritten_first ? "rewritten input first" : "rewritten input second");
    const std::vector<std::string> sum_in =
        rewritten_first ? std::vector<std::string>{"ra", "y"} : std::vector<std::string>{"y", "ra"};
    const NetSpec s = SumsOverARewrittenBranch(9, {"x", "y"}, {L("eltwise_sum", "sum", sum_in, {"s"})}, "s");
    ExpectSharedTrainsAsPlain(s, [&](const nn::Net<cpu>& net) {
      const float* gs = net.NodeByName("s").grad.dptr_;
      EXPECT_EQ(net.NodeByName("ra").grad.dptr_ == gs, rewritten_first);
      EXPECT_EQ(net.NodeByName("y").grad.dptr_ == gs, !rewritten_first);
    });
  }
}

// A shared buffer takes no input whose gradient is rewritten later, not even as input 0 of a
// chain: the top sum shares its buffer with both inputs (the middle sum's output and a split
// branch); the middle sum's input 0 is a fullc whose fused relu masks its gradient in place,
// which would reach the split's branch w in that buffer, so it keeps its own.
TEST(Net, ASharedGradientBufferTakesNoRewrittenInput) {
  const NetSpec s = SumsOverARewrittenBranch(
      13, {"x", "v", "w"}, {L("eltwise_sum", "mid", {"ra", "v"}, {"m"}), L("eltwise_sum", "top", {"m", "w"}, {"t"})},
      "t");
  ExpectSharedTrainsAsPlain(s, [](const nn::Net<cpu>& net) {
    const float* gt = net.NodeByName("t").grad.dptr_;
    EXPECT_EQ(net.NodeByName("m").grad.dptr_, gt);
    EXPECT_EQ(net.NodeByName("w").grad.dptr_, gt);
    EXPECT_NE(net.NodeByName("ra").grad.dptr_, gt);
  });
}

// cxxnet-style configs rewrite nodes in place around splits: a relu in place before the split
// (its outputs still view the input), and one in place on a split output (that output gets its
// own buffer, since the rewrite would change the others). Exactly the plain layout's training.
TEST(Net, ViewsWithInPlaceRewrites) {
  NetSpec shared = Residual(4);
  shared.layers[2] = L("relu", "r0", {"b0"}, {"b0"});
  shared.layers[3] = L("split", "sp", {"b0"}, {"x", "id"});
  shared.layers.insert(shared.layers.begin() + 4, L("tanh", "t", {"id"}, {"id"}));
  NetSpec plain = shared;
  plain.share_memory = false;
  nn::UpdaterSettings us;
  us.Set("lr", "0.1");
  nn::Trainer<cpu> a(shared, us), b(plain, us);
  EXPECT_EQ(a.net().NodeByName("x").data.dptr_, a.net().NodeByName("b0").data.dptr_);
  EXPECT_NE(a.net().NodeByName("id").data.dptr_, a.net().NodeByName("b0").data.dptr_);
  ExpectTrainExactlyAlike(a, b, shared.input_shape, 4, 3, 5);
}

// An inner value is gone after the step unless kept; a kept one reads as in the plain layout.
TEST(Net, KeptValuesStayReadable) {
  NetSpec kept = Residual(2), plain = Residual(2);
  kept.keep_values = {"b1"};  // read by nothing after relu r1's forward
  plain.share_memory = false;
  nn::Net<cpu> a(kept), b(plain);
  TensorContainer<cpu, 4> x(kept.input_shape);
  Random<cpu> r(9);
  r.SampleUniform(&x, -1.f, 1.f);
  a.Forward(false, x.view());
  b.Forward(false, x.view());
  EXPECT_TRUE(test::AllNear(a.NodeByName("b1").data, b.NodeByName("b1").data, 0));
  // Without keep_values, b1's buffer goes to later nodes: it no longer holds b1.
  nn::Net<cpu> c(Residual(2));
  c.Forward(false, x.view());
  EXPECT_FALSE(test::AllNear(c.NodeByName("b1").data, b.NodeByName("b1").data, 0));
  NetSpec bad = Residual(2);
  bad.keep_values = {"nope"};
  EXPECT_NE(test::ErrorOf([&] { nn::Net<cpu> n(bad); }).find("no node named 'nope'"), std::string::npos);
}

// algo = expr lands on every layer whose algo takes it (pooling, global pooling, batch_norm,
// activations with a cuDNN path, softmax), replacing a layer's own setting; conv (whose algo
// takes other values) and layers without the key keep theirs, and the net still builds.
TEST(Net, SetKeyWhereTaken) {
  NetSpec s;
  s.input_shape = Shape4(2, 3, 8, 8);
  s.layers = {L("conv", "c1", {"in"}, {"c1"}, {{"nchannel", "4"}, {"kernel_size", "3"}, {"pad", "1"}}),
              L("batch_norm", "bn", {"c1"}, {"b"}),
              L("relu", "r", {"b"}, {"b"}),
              L("max_pooling", "p", {"b"}, {"p"}, {{"kernel_size", "2"}, {"stride", "2"}, {"algo", "auto"}}),
              L("split", "s", {"p"}, {"s1", "s2"}),
              L("tanh", "t", {"s1"}, {"s1"}),
              L("eltwise_sum", "sum", {"s1", "s2"}, {"sum"}),
              L("elu", "e", {"sum"}, {"sum"}),
              L("global_avg_pooling", "g", {"sum"}, {"g"}),
              L("flatten", "f", {"g"}, {"f"}),
              L("fullc", "fc", {"f"}, {"o"}, {{"nhidden", "3"}}),
              L("softmax", "loss", {"o"}, {"prob"})};
  EXPECT_EQ(nn::SetKeyWhereTaken<cpu>(s, "algo", "expr"),
            (std::vector<std::string>{"bn", "r", "p", "t", "g", "loss"}));
  EXPECT_EQ(s.layers[3].params.back(), (std::pair<std::string, std::string>{"algo", "expr"}));
  EXPECT_EQ(std::count_if(s.layers[3].params.begin(), s.layers[3].params.end(),
                          [](const auto& kv) { return kv.first == "algo"; }),
            1);
  EXPECT_EQ(s.layers[0].params.size(), 3u);  // conv untouched
  // Limited to one type: only the batch norm changes; a type that does not take the value, none.
  NetSpec t = s;
  EXPECT_EQ(nn::SetKeyWhereTaken<cpu>(t, "algo", "auto", "batch_norm"), (std::vector<std::string>{"bn"}));
  EXPECT_EQ(t.layers[1].params.back(), (std::pair<std::string, std::string>{"algo", "auto"}));
  EXPECT_EQ(t.layers[3].params.back(), (std::pair<std::string, std::string>{"algo", "expr"}));
  EXPECT_TRUE(nn::SetKeyWhereTaken<cpu>(t, "algo", "expr", "fullc").empty());
  nn::Net<cpu> net(s);
  EXPECT_EQ(net.Output().shape, Shape4(2, 1, 1, 3));
}

// The path every GPU net takes (weights_from_host): each layer's weights and buffers allocated,
// then the values of a batch-2 host net copied in, with no draws of the net's own; on the cpu
// the same seed must give the very weights a plain net draws, and training must run
// (batch_norm's statistics buffers exist).
TEST(Net, WeightsFromHostAsAPlainNet) {
  auto spec = [](bool from_host) {
    NetSpec s;
    s.input_shape = Shape4(4, 2, 6, 6);
    s.seed = 11;
    s.weights_from_host = from_host;
    s.layers = {L("conv", "c", {"in"}, {"c"}, {{"nchannel", "3"}, {"kernel_size", "3"}}),
                L("batch_norm", "bn", {"c"}, {"b"}),
                L("relu", "r", {"b"}, {"b"}),
                L("flatten", "f", {"b"}, {"f"}),
                L("fullc", "fc", {"f"}, {"o"}, {{"nhidden", "3"}}),
                L("softmax", "loss", {"o"}, {"p"})};
    return s;
  };
  nn::UpdaterSettings us;
  us.Set("lr", "0.1");
  nn::Trainer<cpu> plain(spec(false), us), host(spec(true), us);
  EXPECT_GT(plain.net().RandomDraws(), 0u);
  EXPECT_EQ(host.net().RandomDraws(), 0u);  // its own generator draws nothing: the values are replaced
  std::vector<std::vector<float>> wp, wh;
  auto grab = [](nn::Trainer<cpu>& t, std::vector<std::vector<float>>& out) {
    t.net().VisitWeights([&](const std::string&, Tensor<cpu, 2> w, Tensor<cpu, 2>) {
      out.emplace_back(w.dptr_, w.dptr_ + w.Size());
    });
  };
  grab(plain, wp);
  grab(host, wh);
  ASSERT_EQ(wp.size(), 8u);  // conv wmat, bias; gamma, beta, moving mean, var; fullc wmat, bias
  EXPECT_EQ(wp, wh);
  auto x = test::RandomTensor<4, float>(Shape4(4, 2, 6, 6), 3);
  TensorContainer<cpu, 2> y(Shape2(4, 1));
  for (index_t i = 0; i < 4; ++i) y.dptr_[i] = float(i % 3);
  for (int s = 0; s < 3; ++s) EXPECT_EQ(plain.Step(x.view(), y.view()), host.Step(x.view(), y.view()));
}

// The input is read where the caller keeps it: node "in" (and a flatten viewing it) point at the
// caller's dense buffer during the pass, the arena holds no copy, and training is bit for bit
// the plain layout's (which copies). A strided input is copied once into a buffer of its own; an
// input rewritten in place (relu on "in") is copied, so the caller's buffer stays as it was.
TEST(Net, InputReadInPlace) {
  auto spec = [](bool inplace_first) {
    NetSpec s;
    s.input_shape = Shape4(4, 2, 5, 5);
    s.seed = 3;
    s.layers.push_back(L("conv", "c", {"in"}, {"c"}, {{"nchannel", "3"}, {"kernel_size", "3"}}));
    if (inplace_first) s.layers.insert(s.layers.begin(), L("relu", "r0", {"in"}, {"in"}));
    s.layers.push_back(L("flatten", "f", {"c"}, {"f"}));
    s.layers.push_back(L("fullc", "fc", {"f"}, {"o"}, {{"nhidden", "3"}}));
    s.layers.push_back(L("softmax", "loss", {"o"}, {"p"}));
    return s;
  };
  nn::UpdaterSettings us;
  us.Set("lr", "0.1");
  NetSpec plain_spec = spec(false), kept_spec = spec(false);
  plain_spec.share_memory = false;
  kept_spec.keep_values = {"in"};
  nn::Trainer<cpu> planned(spec(false), us), plain(plain_spec, us), kept(kept_spec, us);
  EXPECT_GE(kept.net().NodeElements() - planned.net().NodeElements(), 4 * 2 * 5 * 5);  // no arena copy
  auto x = test::RandomTensor<4, float>(Shape4(4, 2, 5, 5), 5);
  TensorContainer<cpu, 2> y(Shape2(4, 1));
  for (index_t i = 0; i < 4; ++i) y.dptr_[i] = float(i % 3);
  for (int s = 0; s < 3; ++s) {
    const double a = planned.Step(x.view(), y.view());
    EXPECT_EQ(a, plain.Step(x.view(), y.view()));
    EXPECT_EQ(a, kept.Step(x.view(), y.view()));
  }
  EXPECT_EQ(planned.net().NodeByName("in").data.dptr_, x.dptr_);
  EXPECT_NE(kept.net().NodeByName("in").data.dptr_, x.dptr_);
  // A strided view of a wider buffer: the same numbers through the copy.
  TensorContainer<cpu, 4> wide(Shape4(4, 2, 5, 8), 0.f);
  Tensor<cpu, 4> strided(wide.dptr_, Shape4(4, 2, 5, 5), 8, nullptr);
  Copy(strided, x.view());
  nn::Trainer<cpu> a(spec(false), us), b(spec(false), us);
  for (int s = 0; s < 2; ++s) EXPECT_EQ(a.Step(strided, y.view()), b.Step(x.view(), y.view()));
  EXPECT_NE(a.net().NodeByName("in").data.dptr_, wide.dptr_);
  // relu rewrites "in": the caller's values survive the step.
  auto x2 = test::RandomTensor<4, float>(Shape4(4, 2, 5, 5), 6, -1.f, 1.f);
  std::vector<float> before(x2.dptr_, x2.dptr_ + x2.Size());
  nn::Trainer<cpu> r(spec(true), us);
  r.Step(x2.view(), y.view());
  EXPECT_EQ(std::vector<float>(x2.dptr_, x2.dptr_ + x2.Size()), before);
  // A flatten of the input views the caller's buffer too.
  NetSpec flat;
  flat.input_shape = Shape4(4, 2, 5, 5);
  flat.layers = {L("flatten", "f", {"in"}, {"f"}), L("fullc", "fc", {"f"}, {"o"}, {{"nhidden", "3"}}),
                 L("softmax", "loss", {"o"}, {"p"})};
  nn::Trainer<cpu> t(flat, us);
  t.Step(x.view(), y.view());
  EXPECT_EQ(t.net().NodeByName("f").data.dptr_, x.dptr_);
}

// A layer rewriting in place the output of a layer whose backward reads that output (max
// pooling compares each input with it) writes a new node instead: leaky_relu after a max
// pooling trains exactly as when the config gives it an output of its own (in place, the
// pooling saw the rewritten maxima, matched no input in negative windows and lost their gradient).
TEST(Net, InPlaceAfterAnOutputReaderWritesANewNode) {
  auto spec = [](bool inplace) {
    NetSpec s;
    s.input_shape = Shape4(3, 2, 4, 4);
    s.seed = 5;
    const std::string q = inplace ? "p" : "q";
    s.layers = {L("conv", "conv", {"in"}, {"c"}, {{"nchannel", "2"}, {"kernel_size", "1"}}),
                L("max_pooling", "pool", {"c"}, {"p"}, {{"kernel_size", "2"}, {"stride", "2"}}),
                L("leaky_relu", "act", {"p"}, {q}, {{"slope", "0.1"}}),
                L("flatten", "f", {q}, {"f"}),
                L("fullc", "fc", {"f"}, {"o"}, {{"nhidden", "3"}}),
                L("softmax", "loss", {"o"}, {"s"})};
    return s;
  };
  nn::Net<cpu, double> a(spec(true)), b(spec(false));
  auto x = test::RandomTensor<4, double>(Shape4(3, 2, 4, 4), 7, -1.0, 1.0);
  TensorContainer<cpu, 2, double> y(Shape2(3, 1));
  for (index_t i = 0; i < 3; ++i) y.dptr_[i] = double(i);
  for (auto* n : {&a, &b}) {
    n->Forward(true, x.view(), &y.view());
    n->Backward();
  }
  std::vector<double> ga, gb;
  a.VisitWeights([&](const std::string&, Tensor<cpu, 2, double>, Tensor<cpu, 2, double> g) {
    ga.insert(ga.end(), g.dptr_, g.dptr_ + g.Size());
  });
  b.VisitWeights([&](const std::string&, Tensor<cpu, 2, double>, Tensor<cpu, 2, double> g) {
    gb.insert(gb.end(), g.dptr_, g.dptr_ + g.Size());
  });
  EXPECT_EQ(ga, gb);  // conv's gradients pass through the pooling's backward
  EXPECT_EQ(a.Loss(), b.Loss());
}

}  // namespace
}  // namespace umbra
