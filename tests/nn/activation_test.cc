// Activations through the layer harness: shapes, known answers against a plain loop, in-place
// runs equal to out-of-place ones, gradient checks in double, bad parameters.
#include <cmath>
#include <functional>
#include <limits>

#include "harness/layer_check.h"

namespace umbra {
namespace {
UMBRA_COVERS_LAYER("relu");
UMBRA_COVERS_LAYER("sigmoid");
UMBRA_COVERS_LAYER("tanh");
UMBRA_COVERS_LAYER("softplus");
UMBRA_COVERS_LAYER("xelu");
UMBRA_COVERS_LAYER("leaky_relu");
UMBRA_COVERS_LAYER("elu");

struct Case {
  std::string type;
  test::KV params;
  std::function<double(double)> f;
};
std::vector<Case> Cases() {
  return {
      {"relu", {}, [](double x) { return x > 0 ? x : 0; }},
      {"sigmoid", {}, [](double x) { return 1 / (1 + std::exp(-x)); }},
      {"tanh", {}, [](double x) { return std::tanh(x); }},
      {"softplus", {}, [](double x) { return std::log1p(std::exp(x)); }},
      {"xelu", {}, [](double x) { return x > 0 ? x : x / 5; }},
      {"xelu", {{"b", "2"}}, [](double x) { return x > 0 ? x : x / 2; }},
      {"leaky_relu", {}, [](double x) { return x > 0 ? x : 0.01 * x; }},
      {"leaky_relu", {{"slope", "0.25"}}, [](double x) { return x > 0 ? x : 0.25 * x; }},
      {"elu", {}, [](double x) { return x > 0 ? x : std::exp(x) - 1; }},
      {"elu", {{"alpha", "0.5"}}, [](double x) { return x > 0 ? x : 0.5 * (std::exp(x) - 1); }},
  };
}

TEST(Activation, ShapeAndKnownAnswer) {
  for (const Case& c : Cases()) {
    SCOPED_TRACE(c.type);
    test::LayerRig<cpu, float> rig(c.type, c.params, {Shape4(2, 3, 2, 5)});
    EXPECT_EQ(rig.out[0]->shape, Shape4(2, 3, 2, 5));
    EXPECT_TRUE(rig.layer->AllowInplace());
    Random<cpu, float> rnd(5);
    rnd.SampleUniform(&rig.in[0]->data, -4.f, 4.f);
    rig.Forward();
    for (index_t i = 0; i < rig.in[0]->data.Size(); ++i)
      ASSERT_NEAR(rig.out[0]->data.dptr_[i], c.f(rig.in[0]->data.dptr_[i]), 1e-5) << i;
  }
}

TEST(Activation, SoftplusIsStableForLargeInputs) {
  test::LayerRig<cpu, float> rig("softplus", {}, {Shape4(1, 1, 1, 2)});
  rig.in[0]->data.dptr_[0] = 200.f, rig.in[0]->data.dptr_[1] = -200.f;
  rig.Forward();
  EXPECT_FLOAT_EQ(rig.out[0]->data.dptr_[0], 200.f);
  EXPECT_GE(rig.out[0]->data.dptr_[1], 0.f);
  EXPECT_LT(rig.out[0]->data.dptr_[1], 1e-30f);
}

// Where the answer is tiny next to 1, log(1 + e^x), 1 - e^-y and e^x - 1 written out lose
// their digits in float (softplus(-20) was 0, its gradient 0; at -10 both were 1e-3 off): the
// functors use log1p and expm1, as PyTorch does. Relative error against double.
TEST(Activation, SoftplusAndEluKeepTheDigitsOfSmallValues) {
  const std::vector<float> xs = {-30.f, -20.f, -10.f, -1e-4f, -1e-6f};
  for (const Case& c : Cases()) {
    if (c.type != "softplus" && c.type != "elu") continue;
    SCOPED_TRACE(c.type);
    const bool softplus = c.type == "softplus";
    test::LayerRig<cpu, float> rig(c.type, c.params, {Shape4(1, 1, 1, index_t(xs.size()))});
    for (size_t i = 0; i < xs.size(); ++i) rig.in[0]->data.dptr_[i] = xs[i], rig.out[0]->grad.dptr_[i] = 1.f;
    rig.Forward();
    rig.layer->Backward(true, rig.in, rig.out);
    for (size_t i = 0; i < xs.size(); ++i) {
      const double x = xs[i], y = c.f(x), sigmoid = 1 / (1 + std::exp(-x));
      EXPECT_NEAR(rig.out[0]->data.dptr_[i] / y, 1.0, 1e-5) << "x = " << x;
      if (softplus) EXPECT_NEAR(rig.in[0]->grad.dptr_[i] / sigmoid, 1.0, 1e-5) << "x = " << x;
    }
  }
}

// relu keeps a NaN, as PyTorch's does: a diverged layer before it gave units stuck at 0 and a
// finite loss. -0 gives +0; the gradient passes where the output is positive only.
TEST(Activation, ReluKeepsNaN) {
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  const std::vector<float> xs = {nan, -0.f, -1.f, 2.f, inf, -inf};
  test::LayerRig<cpu, float> rig("relu", {}, {Shape4(1, 1, 1, index_t(xs.size()))});
  for (size_t i = 0; i < xs.size(); ++i) rig.in[0]->data.dptr_[i] = xs[i], rig.out[0]->grad.dptr_[i] = 1.f;
  rig.Forward();
  const float* y = rig.out[0]->data.dptr_;
  EXPECT_TRUE(std::isnan(y[0]));
  EXPECT_TRUE(y[1] == 0.f && !std::signbit(y[1]));
  EXPECT_EQ(y[2], 0.f);
  EXPECT_EQ(y[3], 2.f);
  EXPECT_EQ(y[4], inf);
  EXPECT_EQ(y[5], 0.f);
  rig.layer->Backward(true, rig.in, rig.out);
  const std::vector<float> want = {0, 0, 0, 1, 1, 0};
  for (size_t i = 0; i < xs.size(); ++i) EXPECT_EQ(rig.in[0]->grad.dptr_[i], want[i]) << "x = " << xs[i];
}

// In place, backward sees only out's buffers (== in's): it must give what out-of-place gives.
TEST(Activation, InplaceEqualsOutOfPlace) {
  for (const Case& c : Cases()) {
    SCOPED_TRACE(c.type);
    test::LayerRig<cpu, double> sep(c.type, c.params, {Shape4(3, 2, 1, 4)});
    test::LayerRig<cpu, double> inp(c.type, c.params, {Shape4(3, 2, 1, 4)}, true);
    ASSERT_EQ(inp.out[0], inp.in[0]);
    Random<cpu, double> rnd(9);
    rnd.SampleUniform(&sep.in[0]->data, -2.0, 2.0);
    rnd.SampleUniform(&sep.out[0]->grad, -1.0, 1.0);
    Copy(inp.in[0]->data.view(), sep.in[0]->data.view());
    sep.Forward();
    inp.Forward();
    Copy(inp.out[0]->grad.view(), sep.out[0]->grad.view());
    sep.layer->Backward(true, sep.in, sep.out);
    inp.layer->Backward(true, inp.in, inp.out);
    for (index_t i = 0; i < sep.in[0]->data.Size(); ++i) {
      ASSERT_DOUBLE_EQ(inp.out[0]->data.dptr_[i], sep.out[0]->data.dptr_[i]) << i;
      ASSERT_NEAR(inp.in[0]->grad.dptr_[i], sep.in[0]->grad.dptr_[i], 1e-14) << i;
    }
  }
}

TEST(Activation, GradientCheck) {
  // Uniform inputs in [-2, 2): an input within h = 1e-6 of the kink at 0 is improbable (checked
  // elements are fixed by the seed), so piecewise activations check cleanly.
  for (const Case& c : Cases()) {
    test::GradCheck(c.type, c.params, {Shape4(2, 3, 2, 3)}, {}, -2, 2);
    test::GradCheck(c.type, c.params, {Shape4(4, 1, 1, 7)}, {}, -3, 3);
  }
}

TEST(Activation, BadParametersNameLayerAndKey) {
  auto layer = nn::LayerRegistry<cpu>::Get().Create("leaky_relu");
  layer->set_name("act3");
  std::string m = test::ErrorOf([&] { layer->SetParam("slope", "-0.1"); });
  EXPECT_NE(m.find("act3"), std::string::npos) << m;
  EXPECT_NE(m.find("slope"), std::string::npos) << m;
  auto elu = nn::LayerRegistry<cpu>::Get().Create("elu");
  m = test::ErrorOf([&] { elu->SetParam("alpha", "abc"); });
  EXPECT_NE(m.find("alpha"), std::string::npos) << m;
  auto xelu = nn::LayerRegistry<cpu>::Get().Create("xelu");
  xelu->set_name("x1");
  ASSERT_TRUE(xelu->SetParam("b", "0"));
  m = test::ErrorOf([&] { xelu->InferShape({Shape4(1, 1, 1, 3)}); });
  EXPECT_NE(m.find("x1"), std::string::npos) << m;
  EXPECT_NE(m.find("'b'"), std::string::npos) << m;
  EXPECT_FALSE(nn::LayerRegistry<cpu>::Get().Create("relu")->SetParam("slope", "1"));
  m = test::ErrorOf([&] { nn::LayerRegistry<cpu>::Get().Create("tanh")->InferShape({Shape4(0, 1, 1, 3)}); });
  EXPECT_NE(m.find("tanh"), std::string::npos) << m;
}

TEST(Activation, SaveLoadRoundTrip) {
  test::SaveLoadRoundTrip("relu", {}, {Shape4(2, 3, 2, 2)});
  test::SaveLoadRoundTrip("sigmoid", {}, {Shape4(2, 3, 2, 2)});
  test::SaveLoadRoundTrip("tanh", {}, {Shape4(2, 3, 2, 2)});
  test::SaveLoadRoundTrip("softplus", {}, {Shape4(2, 1, 1, 5)});
  test::SaveLoadRoundTrip("xelu", {{"b", "2"}}, {Shape4(2, 3, 2, 2)});
  test::SaveLoadRoundTrip("leaky_relu", {{"slope", "0.25"}}, {Shape4(2, 3, 2, 2)});
  test::SaveLoadRoundTrip("elu", {{"alpha", "0.5"}}, {Shape4(2, 1, 1, 5)});
}

}  // namespace
}  // namespace umbra
