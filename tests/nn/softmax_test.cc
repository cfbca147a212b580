// softmax through the layer harness: shapes, probabilities/loss/gradient against a plain loop,
// gradient check of the mean cross-entropy, label errors, grad_scale, bad parameters.
#include <cmath>
#include <limits>

#include "harness/layer_check.h"

namespace umbra {
namespace {
UMBRA_COVERS_LAYER("softmax");

TEST(Softmax, ShapeAndBadShape) {
  test::LayerRig<cpu, float> rig("softmax", {}, {Shape4(3, 2, 1, 2)});
  EXPECT_EQ(rig.out[0]->shape, Shape4(3, 2, 1, 2));
  auto layer = nn::LayerRegistry<cpu>::Get().Create("softmax");
  layer->set_name("sm1");
  const std::string m = test::ErrorOf([&] { layer->InferShape({Shape4(4, 1, 1, 1)}); });
  EXPECT_NE(m.find("sm1"), std::string::npos) << m;
  EXPECT_NE(m.find("(4,1,1,1)"), std::string::npos) << m;
}

TEST(Softmax, KnownAnswerWithGradScale) {
  test::LayerRig<cpu, double> rig("softmax", {{"grad_scale", "2"}}, {Shape4(3, 1, 1, 4)});
  const double x[12] = {1, 2, 3, 4, -1, 0, 0, 5, 100, 100, 99, 0};  // row 3: huge but stable
  for (int i = 0; i < 12; ++i) rig.in[0]->data.dptr_[i] = x[i];
  rig.SetLabel({3, 0, 2});
  rig.Forward();
  rig.layer->Backward(true, rig.in, rig.out);
  const int label[3] = {3, 0, 2};
  double loss = 0;
  for (int n = 0; n < 3; ++n) {
    double mx = x[4 * n], s = 0;
    for (int k = 0; k < 4; ++k) mx = std::max(mx, x[4 * n + k]);
    for (int k = 0; k < 4; ++k) s += std::exp(x[4 * n + k] - mx);
    for (int k = 0; k < 4; ++k) {
      const double p = std::exp(x[4 * n + k] - mx) / s;
      EXPECT_NEAR(rig.out[0]->data.dptr_[4 * n + k], p, 1e-12);
      EXPECT_NEAR(rig.in[0]->grad.dptr_[4 * n + k], 2 * (p - (k == label[n])) / 3, 1e-12);
    }
    loss -= std::log(std::exp(x[4 * n + label[n]] - mx) / s);
  }
  EXPECT_NEAR(rig.layer->Loss(), loss / 3, 1e-12);  // Loss() is not scaled by grad_scale
}

TEST(Softmax, NaNInputGivesNaNLossNotAClampedOne) {
  // The clamp that keeps -log(0) finite must not turn a diverged net's NaN into a finite loss.
  test::LayerRig<cpu, float> rig("softmax", {}, {Shape4(2, 1, 1, 3)});
  for (int i = 0; i < 6; ++i) rig.in[0]->data.dptr_[i] = float(i);
  rig.in[0]->data.dptr_[4] = std::nanf("");
  rig.SetLabel({0, 1});
  rig.Forward();
  EXPECT_TRUE(std::isnan(rig.layer->Loss()));
}

// A probability that underflows in float (a logit gap past about 87) gave a loss clamped at
// 69.1 whatever the gap; the loss is the gap, as PyTorch's cross-entropy says.
// Another class's logit of -inf, or one further than a float holds below the row's largest,
// gives that class an infinite term: it must not reach the label's loss (0 * inf is NaN).
TEST(Softmax, LossPastTheProbabilitiesUnderflow) {
  const float inf = std::numeric_limits<float>::infinity();
  test::LayerRig<cpu, float> rig("softmax", {}, {Shape4(6, 1, 1, 3)});
  const float x[18] = {0, 200, 0, 0, 100, 95, 3, 90, 1000, 2, 0, 0, 0, -inf, 1, 3e38f, -3e38f, 0};
  for (int i = 0; i < 18; ++i) rig.in[0]->data.dptr_[i] = x[i];
  const int label[6] = {0, 0, 1, 0, 0, 0};
  rig.SetLabel({0, 0, 1, 0, 0, 0});
  rig.Forward();
  double want = 0;
  for (int n = 0; n < 6; ++n) {
    double mx = -1e300, s = 0;
    for (int k = 0; k < 3; ++k) mx = std::max(mx, double(x[3 * n + k]));
    for (int k = 0; k < 3; ++k) s += std::exp(x[3 * n + k] - mx);
    const double loss = mx + std::log(s) - x[3 * n + label[n]];
    EXPECT_NEAR(rig.layer->PerSampleLoss().dptr_[n], loss, 1e-5 * std::max(1.0, loss)) << "row " << n;
    want += loss;
  }
  EXPECT_NEAR(rig.layer->Loss() / (want / 6), 1.0, 1e-5);
}

TEST(Softmax, GradientCheck) {
  test::GradCheck("softmax", {}, {Shape4(4, 1, 1, 5)}, {0, 4, 2, 1}, -3, 3);
  test::GradCheck("softmax", {}, {Shape4(3, 2, 2, 1)}, {3, 0, 1});
}

TEST(Softmax, BadLabelsNameLayerAndLabel) {
  test::LayerRig<cpu, float> rig("softmax", {}, {Shape4(2, 1, 1, 3)});
  rig.SetLabel({1, 3});
  std::string m = test::ErrorOf([&] { rig.Forward(); });
  EXPECT_NE(m.find("test_softmax"), std::string::npos) << m;
  EXPECT_NE(m.find("label 3"), std::string::npos) << m;
  rig.SetLabel({-1, 0});
  EXPECT_NE(test::ErrorOf([&] { rig.Forward(); }).find("label -1"), std::string::npos);
  rig.SetLabel({0, 1, 2, 0}, 2);  // two columns: not class indices
  m = test::ErrorOf([&] { rig.Forward(); });
  EXPECT_NE(m.find("(2,2)"), std::string::npos) << m;
  rig.SetLabel({0, 1.5f});
  EXPECT_NE(test::ErrorOf([&] { rig.Forward(); }).find("sample 1: label 1.5 is not a whole class index"),
            std::string::npos);
  // In a double net, a label float would round to a whole class is still refused.
  test::LayerRig<cpu, double> exact("softmax", {}, {Shape4(2, 1, 1, 3)});
  exact.SetLabel({0, 2.0000001});
  EXPECT_HAS(test::ErrorOf([&] { exact.Forward(); }), "sample 1: label 2.0000000999999998 is not a whole class index");
}

TEST(Softmax, PredictionWithoutLabels) {
  test::LayerRig<cpu, float> rig("softmax", {}, {Shape4(1, 1, 1, 2)});
  rig.in[0]->data.dptr_[0] = 0, rig.in[0]->data.dptr_[1] = std::log(3.f);
  rig.Forward(false);
  EXPECT_NEAR(rig.out[0]->data.dptr_[1], 0.75f, 1e-6f);
}

TEST(Softmax, BadParametersNameKey) {
  auto layer = nn::LayerRegistry<cpu>::Get().Create("softmax");
  layer->set_name("sm2");
  const std::string m = test::ErrorOf([&] { layer->SetParam("grad_scale", "big"); });
  EXPECT_NE(m.find("sm2"), std::string::npos) << m;
  EXPECT_NE(m.find("grad_scale"), std::string::npos) << m;
  EXPECT_FALSE(layer->SetParam("nhidden", "3"));
}

TEST(Softmax, SaveLoadRoundTrip) {
  test::SaveLoadRoundTrip("softmax", {}, {Shape4(3, 1, 1, 4)}, {3, 0, 2});
}

}  // namespace
}  // namespace umbra
