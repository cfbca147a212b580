// prelu and rrelu/insanity through the layer harness: shapes and the slope weight, known answers
// (per-channel and per-unit slopes; random divisors within [lb, ub] in training, their mean at
// test), accumulation of the slope gradient, gradient checks in double, bad parameters.
#include "harness/layer_check.h"

namespace umbra {
namespace {
UMBRA_COVERS_LAYER("prelu");
UMBRA_COVERS_LAYER("rrelu");
UMBRA_COVERS_LAYER("insanity");

// The slope weight (1, C) of a rig; fails when the layer shows anything else.
template <typename DType>
Tensor<cpu, 2, DType> Slope(test::LayerRig<cpu, DType>& rig, Tensor<cpu, 2, DType>* grad = nullptr) {
  Tensor<cpu, 2, DType> w;
  int n = 0;
  rig.layer->VisitWeights([&](const std::string& tag, Tensor<cpu, 2, DType> t, Tensor<cpu, 2, DType> g) {
    EXPECT_EQ(tag, "slope");
    w = t;
    if (grad) *grad = g;
    ++n;
  });
  EXPECT_EQ(n, 1);
  return w;
}

TEST(PRelu, ShapeSlopeAndKnownAnswer) {
  test::LayerRig<cpu, float> rig("prelu", {{"init_slope", "0.1"}}, {Shape4(2, 3, 2, 2)});
  EXPECT_EQ(rig.out[0]->shape, Shape4(2, 3, 2, 2));
  EXPECT_FALSE(rig.layer->AllowInplace());
  Tensor<cpu, 2> w = Slope(rig);
  ASSERT_EQ(w.shape_, Shape2(1, 3));
  for (int c = 0; c < 3; ++c) EXPECT_FLOAT_EQ(w.dptr_[c], 0.1f);
  w.dptr_[1] = 0.2f, w.dptr_[2] = -0.5f;
  Random<cpu, float> rnd(3);
  rnd.SampleUniform(&rig.in[0]->data, -2.f, 2.f);
  rig.Forward();
  for (index_t i = 0; i < 24; ++i) {
    const float x = rig.in[0]->data.dptr_[i], s = w.dptr_[(i / 4) % 3];
    ASSERT_FLOAT_EQ(rig.out[0]->data.dptr_[i], x > 0 ? x : s * x) << i;
  }
}

// cxxnet's random_slope = 1: each slope starts at U(0, 1) * init_slope (the key was refused).
TEST(PRelu, RandomSlopeDrawsWithinInitSlope) {
  test::LayerRig<cpu, float> rig("prelu", {{"init_slope", "0.5"}, {"random_slope", "1"}}, {Shape4(2, 64, 1, 1)});
  Tensor<cpu, 2> w = Slope(rig);
  float lo = 1, hi = 0;
  for (int c = 0; c < 64; ++c) lo = std::min(lo, w.dptr_[c]), hi = std::max(hi, w.dptr_[c]);
  EXPECT_GE(lo, 0.f);
  EXPECT_LE(hi, 0.5f);
  EXPECT_GT(hi - lo, 0.25f);  // 64 draws of U(0, 0.5) span more than half the range
}

TEST(PRelu, VectorHasOneSlopePerUnit) {
  test::LayerRig<cpu, float> rig("prelu", {}, {Shape4(2, 1, 1, 4)});
  Tensor<cpu, 2> w = Slope(rig);
  ASSERT_EQ(w.shape_, Shape2(1, 4));
  EXPECT_FLOAT_EQ(w.dptr_[0], 0.25f);
  for (int u = 0; u < 4; ++u) w.dptr_[u] = 0.1f * (u + 1);
  for (index_t i = 0; i < 8; ++i) rig.in[0]->data.dptr_[i] = -1.f;
  rig.Forward();
  for (index_t i = 0; i < 8; ++i) EXPECT_FLOAT_EQ(rig.out[0]->data.dptr_[i], -0.1f * (i % 4 + 1));
}

TEST(PRelu, SlopeGradientAccumulates) {
  test::LayerRig<cpu, double> rig("prelu", {}, {Shape4(2, 2, 1, 3)});
  Tensor<cpu, 2, double> g;
  Slope(rig, &g);
  Random<cpu, double> rnd(4);
  rnd.SampleUniform(&rig.in[0]->data, -1.0, 1.0);
  rnd.SampleUniform(&rig.out[0]->grad, -1.0, 1.0);
  g = 0.0;
  rig.Forward();
  rig.layer->Backward(false, rig.in, rig.out);
  double want[2] = {0, 0};
  for (index_t i = 0; i < 12; ++i) {
    const double x = rig.in[0]->data.dptr_[i];
    if (x <= 0) want[(i / 3) % 2] += x * rig.out[0]->grad.dptr_[i];
  }
  EXPECT_NEAR(g.dptr_[0], want[0], 1e-12);
  EXPECT_NEAR(g.dptr_[1], want[1], 1e-12);
  rig.layer->Backward(false, rig.in, rig.out);
  EXPECT_NEAR(g.dptr_[0], 2 * want[0], 1e-12);
  EXPECT_NEAR(g.dptr_[1], 2 * want[1], 1e-12);
}

TEST(PRelu, GradientCheck) {
  test::GradCheck("prelu", {}, {Shape4(2, 3, 2, 3)});
  test::GradCheck("prelu", {{"init_slope", "-0.3"}}, {Shape4(3, 2, 3, 1)}, {}, -2, 2);
  test::GradCheck("prelu", {{"init_slope", "0.6"}}, {Shape4(3, 1, 1, 5)});
}

TEST(PRelu, BadParametersNameLayerAndKey) {
  auto layer = nn::LayerRegistry<cpu>::Get().Create("prelu");
  layer->set_name("pr1");
  std::string m = test::ErrorOf([&] { layer->SetParam("init_slope", "steep"); });
  EXPECT_NE(m.find("pr1"), std::string::npos) << m;
  EXPECT_NE(m.find("init_slope"), std::string::npos) << m;
  m = test::ErrorOf([&] { layer->InferShape({Shape4(2, 0, 3, 3)}); });
  EXPECT_NE(m.find("pr1"), std::string::npos) << m;
  EXPECT_NE(m.find("(2,0,3,3)"), std::string::npos) << m;
}

// Default bounds: rrelu's PyTorch's (slopes 1/8 .. 1/3), insanity's cxxnet's [5, 10).
TEST(RRelu, TrainDrawsDivisorsInRangeTestUsesTheMean) {
  for (const char* type : {"rrelu", "insanity"}) {
    SCOPED_TRACE(type);
    const double lb = std::string(type) == "rrelu" ? 3 : 5, ub = std::string(type) == "rrelu" ? 8 : 10;
    test::LayerRig<cpu, double> rig(type, {}, {Shape4(4, 2, 3, 5)});
    EXPECT_STREQ(rig.layer->Type(), type);
    EXPECT_EQ(rig.out[0]->shape, Shape4(4, 2, 3, 5));
    const index_t n = rig.in[0]->data.Size();
    for (index_t i = 0; i < n; ++i) rig.in[0]->data.dptr_[i] = i % 2 ? 1.0 + i : -1.0 - i;
    rig.Forward(true);
    double lo = 1e9, hi = 0;
    for (index_t i = 0; i < n; ++i) {
      const double x = rig.in[0]->data.dptr_[i], y = rig.out[0]->data.dptr_[i];
      if (x > 0) {
        ASSERT_EQ(y, x);
      } else {
        lo = std::min(lo, x / y), hi = std::max(hi, x / y);
      }
    }
    EXPECT_GE(lo, lb);
    EXPECT_LT(hi, ub);
    EXPECT_GT(hi - lo, 3.0) << "divisors should spread over [lb, ub)";
    rig.Forward(false);
    for (index_t i = 0; i < n; ++i) {
      const double x = rig.in[0]->data.dptr_[i];
      ASSERT_NEAR(rig.out[0]->data.dptr_[i], x > 0 ? x : x / ((lb + ub) / 2), 1e-12);
    }
  }
}

TEST(RRelu, InplaceEqualsOutOfPlace) {
  test::LayerRig<cpu, double> sep("rrelu", {{"lb", "2"}, {"ub", "4"}}, {Shape4(3, 2, 2, 2)});
  test::LayerRig<cpu, double> inp("rrelu", {{"lb", "2"}, {"ub", "4"}}, {Shape4(3, 2, 2, 2)}, true);
  Random<cpu, double> rnd(8);
  rnd.SampleUniform(&sep.in[0]->data, -1.0, 1.0);
  rnd.SampleUniform(&sep.out[0]->grad, -1.0, 1.0);
  Copy(inp.in[0]->data.view(), sep.in[0]->data.view());
  sep.Forward();
  inp.Forward();  // both rigs' generators start from the same seed
  Copy(inp.out[0]->grad.view(), sep.out[0]->grad.view());
  sep.layer->Backward(true, sep.in, sep.out);
  inp.layer->Backward(true, inp.in, inp.out);
  for (index_t i = 0; i < 24; ++i) {
    ASSERT_EQ(inp.out[0]->data.dptr_[i], sep.out[0]->data.dptr_[i]);
    ASSERT_NEAR(inp.in[0]->grad.dptr_[i], sep.in[0]->grad.dptr_[i], 1e-14);
  }
}

TEST(RRelu, GradientCheck) {
  // The harness reseeds the rig's generator before every forward, so the divisors stay fixed.
  test::GradCheck("rrelu", {}, {Shape4(2, 3, 2, 3)});
  test::GradCheck("insanity", {{"lb", "1"}, {"ub", "2"}}, {Shape4(4, 1, 1, 6)}, {}, -2, 2);
}

TEST(RRelu, BadParametersNameLayerAndKey) {
  auto layer = nn::LayerRegistry<cpu>::Get().Create("insanity");
  layer->set_name("ins");
  ASSERT_TRUE(layer->SetParam("lb", "5"));
  ASSERT_TRUE(layer->SetParam("ub", "4"));
  std::string m = test::ErrorOf([&] { layer->InferShape({Shape4(1, 1, 1, 3)}); });
  EXPECT_NE(m.find("ins"), std::string::npos) << m;
  EXPECT_NE(m.find("'lb'"), std::string::npos) << m;
  ASSERT_TRUE(layer->SetParam("lb", "0"));
  EXPECT_NE(test::ErrorOf([&] { layer->InferShape({Shape4(1, 1, 1, 3)}); }), "no error");
  m = test::ErrorOf([&] { layer->SetParam("ub", "wide"); });
  EXPECT_NE(m.find("ub"), std::string::npos) << m;
}

TEST(PRelu, SaveLoadRoundTrip) {
  test::SaveLoadRoundTrip("prelu", {}, {Shape4(2, 3, 2, 3)});
  test::SaveLoadRoundTrip("prelu", {{"init_slope", "0.6"}}, {Shape4(3, 1, 1, 5)});
  test::SaveLoadRoundTrip("rrelu", {{"lb", "2"}, {"ub", "4"}}, {Shape4(2, 3, 2, 2)});
  test::SaveLoadRoundTrip("insanity", {}, {Shape4(2, 1, 1, 6)});
}

}  // namespace
}  // namespace umbra
