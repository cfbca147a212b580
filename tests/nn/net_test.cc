// The Net: shape inference and parameter counts, every graph error with the layer named, and a
// whole-network finite-difference check (forward, backward through several layers, in double).
#include "harness/layer_check.h"
#include "umbra/nn/net.h"
#include "umbra/nn/trainer.h"

namespace umbra {
namespace {
using nn::LayerSpec;
using nn::NetSpec;

LayerSpec L(std::string type, std::string name, std::vector<std::string> in,
            std::vector<std::string> out, test::KV kv = {}) {
  return LayerSpec{type, name, in, out, kv};
}

NetSpec Small(index_t batch) {
  NetSpec s;
  s.input_shape = Shape4(batch, 2, 3, 3);
  s.layers = {L("fullc", "fc1", {"in"}, {"h"}, {{"nhidden", "6"}}),
              L("sigmoid", "act", {"h"}, {"h"}),
              L("fullc", "fc2", {"h"}, {"o"}, {{"nhidden", "4"}}),
              L("softmax", "loss", {"o"}, {"p"})};
  return s;
}

TEST(Net, ShapesAndParameterCount) {
  nn::Net<cpu> net(Small(5));
  EXPECT_EQ(net.NodeByName("h").shape, Shape4(5, 1, 1, 6));
  EXPECT_EQ(net.Output().shape, Shape4(5, 1, 1, 4));
  EXPECT_EQ(net.NumParams(), (18 * 6 + 6) + (6 * 4 + 4));
}

TEST(Net, GraphErrorsNameTheLayer) {
  auto err = [](NetSpec s) { return test::ErrorOf([&] { nn::Net<cpu> n(s); }); };
  NetSpec s = Small(2);
  s.layers[2].in = {"nowhere"};
  EXPECT_NE(err(s).find("layer 'fc2' (fullc): input node 'nowhere'"), std::string::npos) << err(s);
  s = Small(2);
  s.layers.insert(s.layers.begin() + 2, L("fullc", "fc_extra", {"h"}, {"z"}, {{"nhidden", "2"}}));
  EXPECT_NE(err(s).find("insert a split layer"), std::string::npos) << err(s);
  s = Small(2);
  s.layers[2].out = {"h"};
  EXPECT_NE(err(s).find("produced twice"), std::string::npos) << err(s);
  s = Small(2);
  s.layers[0].params.push_back({"nhiden", "3"});
  EXPECT_NE(err(s).find("layer 'fc1' (fullc): unknown key 'nhiden'"), std::string::npos) << err(s);
  s = Small(2);
  s.layers[0].type = "fullcc";
  EXPECT_NE(err(s).find("known types"), std::string::npos);
  s = Small(2);
  s.layers[0].in = {"in", "in"};
  EXPECT_NE(err(s).find("takes 1 input"), std::string::npos) << err(s);
}

TEST(Net, InputShapeMismatchIsAnError) {
  nn::Net<cpu> net(Small(2));
  TensorContainer<cpu, 4> x(Shape4(3, 2, 3, 3), 0.f);
  EXPECT_NE(test::ErrorOf([&] { net.Forward(false, x.view()); }).find("(2,2,3,3)"), std::string::npos);
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
  nn::Net<cpu, double> net(Small(3));
  TensorContainer<cpu, 4, double> x(Shape4(3, 2, 3, 3));
  TensorContainer<cpu, 2, double> y(Shape2(3, 1));
  Random<cpu, double> rnd(5);
  rnd.SampleUniform(&x, -1.0, 1.0);
  y.dptr_[0] = 0, y.dptr_[1] = 3, y.dptr_[2] = 1;
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
  EXPECT_LT(net.GradElements(), net.GradElementsUnshared());
  // A chain needs two live gradients at a time (a layer's input and output) plus the loss
  // output's own zero buffer: at most 3 buffers of the largest node.
  EXPECT_LE(net.GradElements(), 3 * 4 * 32);
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
  EXPECT_LT(infer.DataElements(), train.DataElements());
  TensorContainer<cpu, 4> x(s.input_shape);
  Random<cpu> rnd(2);
  rnd.SampleUniform(&x, -1.f, 1.f);
  train.Forward(false, x.view());
  infer.Forward(false, x.view());
  EXPECT_TRUE(test::AllNear(infer.Output().data, train.Output().data, 0));
  EXPECT_NE(test::ErrorOf([&] { infer.Backward(); }).find("inference_only"), std::string::npos);
}

}  // namespace
}  // namespace umbra
