// dropout through the layer harness: the dropped fraction, scaling of kept units and the
// preserved expectation, identity at test time (also in place), the mask reused by backward,
// gradient checks in double (the harness reseeds the generator, fixing the mask), bad parameters.
#include "harness/layer_check.h"

namespace umbra {
namespace {
UMBRA_COVERS_LAYER("dropout");

TEST(Dropout, FractionDroppedAndExpectationPreserved) {
  for (double p : {0.5, 0.2, 0.9}) {
    SCOPED_TRACE(p);
    test::LayerRig<cpu, double> rig("dropout", {{"threshold", std::to_string(p)}},
                                    {Shape4(10, 4, 25, 25)});
    EXPECT_EQ(rig.out[0]->shape, Shape4(10, 4, 25, 25));
    const index_t n = rig.in[0]->data.Size();
    rig.in[0]->data = 3.0;
    rig.Forward(true);
    index_t dropped = 0;
    double sum = 0;
    for (index_t i = 0; i < n; ++i) {
      const double y = rig.out[0]->data.dptr_[i];
      if (y == 0) ++dropped;
      else ASSERT_NEAR(y, 3.0 / (1 - double(float(p))), 1e-12) << i;  // threshold is a float
      sum += y;
    }
    // n = 25000: the binomial standard deviation of the fraction is below 0.0032.
    EXPECT_NEAR(double(dropped) / n, p, 0.015);
    EXPECT_NEAR(sum / n, 3.0, 3.0 * 0.015 / (1 - p));
  }
}

TEST(Dropout, IdentityAtTestTimeAndWithoutDrop) {
  for (bool inplace : {false, true}) {
    test::LayerRig<cpu, float> rig("dropout", {{"threshold", "0.7"}}, {Shape4(2, 3, 2, 2)}, inplace);
    Random<cpu, float> rnd(1);
    rnd.SampleUniform(&rig.in[0]->data, -1.f, 1.f);
    TensorContainer<cpu, 4> x(rig.in[0]->data.view());
    rig.Forward(false);
    rnd.SampleUniform(&rig.out[0]->grad, -1.f, 1.f);
    TensorContainer<cpu, 4> g(rig.out[0]->grad.view());
    rig.layer->Backward(true, rig.in, rig.out);
    for (index_t i = 0; i < x.Size(); ++i) {
      ASSERT_EQ(rig.out[0]->data.dptr_[i], x.dptr_[i]);
      ASSERT_EQ(rig.in[0]->grad.dptr_[i], g.dptr_[i]);
    }
  }
  test::LayerRig<cpu, float> rig("dropout", {{"threshold", "0"}}, {Shape4(2, 3, 2, 2)});
  Random<cpu, float> rnd(2);
  rnd.SampleUniform(&rig.in[0]->data, -1.f, 1.f);
  rig.Forward(true);
  for (index_t i = 0; i < 24; ++i) ASSERT_EQ(rig.out[0]->data.dptr_[i], rig.in[0]->data.dptr_[i]);
}

// In place: backward must use the mask of the forward pass (grad zero exactly where y was).
TEST(Dropout, InplaceBackwardUsesTheForwardMask) {
  test::LayerRig<cpu, double> rig("dropout", {{"threshold", "0.5"}}, {Shape4(4, 5, 3, 3)}, true);
  rig.in[0]->data = 1.0;
  rig.Forward(true);
  TensorContainer<cpu, 4, double> y(rig.out[0]->data.view());
  rig.out[0]->grad = 1.0;
  rig.layer->Backward(true, rig.in, rig.out);
  for (index_t i = 0; i < y.Size(); ++i) ASSERT_EQ(rig.in[0]->grad.dptr_[i], y.dptr_[i]);
}

TEST(Dropout, GradientCheck) {
  test::GradCheck("dropout", {{"threshold", "0.5"}}, {Shape4(3, 2, 2, 3)});
  test::GradCheck("dropout", {{"threshold", "0.2"}}, {Shape4(5, 1, 1, 8)});
}

// cxxnet's default threshold is 0: without one the layer drops nothing, and says so.
TEST(Dropout, WithoutAThresholdDropsNothingAndSaysSo) {
  test::LayerRig<cpu, float> rig("dropout", {}, {Shape4(2, 3, 2, 2)});
  Random<cpu, float> rnd(3);
  rnd.SampleUniform(&rig.in[0]->data, -1.f, 1.f);
  rig.Forward(true);
  for (index_t i = 0; i < 24; ++i) ASSERT_EQ(rig.out[0]->data.dptr_[i], rig.in[0]->data.dptr_[i]);
  EXPECT_HAS(rig.layer->Note(), "no threshold is given, so it drops nothing (cxxnet's default threshold = 0");
  test::LayerRig<cpu, float> given("dropout", {{"threshold", "0"}}, {Shape4(2, 3, 2, 2)});
  EXPECT_EQ(given.layer->Note(), "");
}

TEST(Dropout, BadParametersNameLayerAndKey) {
  auto layer = nn::LayerRegistry<cpu>::Get().Create("dropout");
  layer->set_name("drop1");
  std::string m = test::ErrorOf([&] { layer->SetParam("threshold", "1.5"); });
  EXPECT_NE(m.find("drop1"), std::string::npos) << m;
  EXPECT_NE(m.find("threshold"), std::string::npos) << m;
  EXPECT_NE(test::ErrorOf([&] { layer->SetParam("threshold", "-0.1"); }), "no error");
  // p = 1 would divide by zero; 0.99999999 is 1 as a float.
  EXPECT_NE(test::ErrorOf([&] { layer->SetParam("threshold", "1"); }).find("is outside [0, 1)"), std::string::npos);
  m = test::ErrorOf([&] { layer->SetParam("threshold", "0.99999999"); });
  EXPECT_NE(m.find("value 0.99999999 (1 as stored) for key 'threshold' is outside [0, 1)"), std::string::npos) << m;
  EXPECT_TRUE(layer->SetParam("threshold", "0.9999999"));  // 0.99999988 as a float
}

TEST(Dropout, SaveLoadRoundTrip) {
  test::SaveLoadRoundTrip("dropout", {{"threshold", "0.3"}}, {Shape4(2, 3, 2, 2)});
}

}  // namespace
}  // namespace umbra
