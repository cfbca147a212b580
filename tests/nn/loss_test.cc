// l2_loss, lp_loss and multi_logistic through the layer harness: outputs, losses and gradients
// against plain loops, gradient checks of the mean loss, lp with p = 2 equal to l2, grad_scale,
// label/input shape errors, bad parameters; labels checked on the host (Net::CheckLabels) for
// these and softmax.
#include <cmath>
#include <limits>

#include "harness/layer_check.h"

namespace umbra {
namespace {
UMBRA_COVERS_LAYER("l2_loss");
UMBRA_COVERS_LAYER("lp_loss");
UMBRA_COVERS_LAYER("multi_logistic");

// Runs forward and backward on (N=2, 1, 1, 3) with fixed inputs and labels.
struct LossRun {
  test::LayerRig<cpu, double> rig;
  static constexpr double kX[6] = {0.5, -1.0, 2.0, 3.0, 0.0, -0.25};
  LossRun(const std::string& type, const test::KV& kv, const std::vector<double>& labels)
      : rig(type, kv, {Shape4(2, 1, 1, 3)}) {
    for (int i = 0; i < 6; ++i) rig.in[0]->data.dptr_[i] = kX[i];
    rig.SetLabel(labels, 3);
    rig.Forward();
    rig.layer->Backward(true, rig.in, rig.out);
  }
  double out(int i) const { return rig.out[0]->data.dptr_[i]; }
  double grad(int i) const { return rig.in[0]->grad.dptr_[i]; }
};
const std::vector<double> kY = {1.0, -1.0, 0.0, 2.5, 1.0, 0.0};
const std::vector<double> kBits = {1, 0, 1, 0, 0, 1};

TEST(L2Loss, KnownAnswer) {
  LossRun r("l2_loss", {{"grad_scale", "3"}}, kY);
  double loss = 0;
  for (int i = 0; i < 6; ++i) {
    const double d = LossRun::kX[i] - kY[i];
    EXPECT_DOUBLE_EQ(r.out(i), LossRun::kX[i]);
    EXPECT_NEAR(r.grad(i), 3 * 2 * d / 2, 1e-12);  // grad_scale 2 d / N, cxxnet's last l2_loss
    loss += d * d;
  }
  EXPECT_NEAR(r.rig.layer->Loss(), loss / 2, 1e-12);  // mean over 2 samples, unscaled
}

// cxxnet's lp_loss: gradient p sign(d) |d|^(p-1); with p = 2 it is l2_loss (as in cxxnet's last
// version, where l2_loss was lp_loss).
TEST(LpLoss, KnownAnswerAndP2IsL2) {
  LossRun r("lp_loss", {{"p", "3"}}, kY);
  double loss = 0;
  for (int i = 0; i < 6; ++i) {
    const double d = LossRun::kX[i] - kY[i];
    EXPECT_NEAR(r.grad(i), 3 * (d > 0 ? 1 : -1) * d * d / 2, 1e-12);
    loss += std::fabs(d * d * d);
  }
  EXPECT_NEAR(r.rig.layer->Loss(), loss / 2, 1e-12);
  LossRun lp("lp_loss", {}, kY), l2("l2_loss", {}, kY);
  EXPECT_NEAR(lp.rig.layer->Loss(), l2.rig.layer->Loss(), 1e-12);
  for (int i = 0; i < 6; ++i) EXPECT_NEAR(lp.grad(i), l2.grad(i), 1e-12);
}

TEST(MultiLogistic, KnownAnswer) {
  LossRun r("multi_logistic", {{"grad_scale", "0.5"}}, kBits);
  double loss = 0;
  for (int i = 0; i < 6; ++i) {
    const double s = 1 / (1 + std::exp(-LossRun::kX[i]));
    EXPECT_NEAR(r.out(i), s, 1e-12);
    EXPECT_NEAR(r.grad(i), 0.5 * (s - kBits[i]) / 2, 1e-12);
    loss -= kBits[i] * std::log(s) + (1 - kBits[i]) * std::log(1 - s);
  }
  EXPECT_NEAR(r.rig.layer->Loss(), loss / 2, 1e-12);
}

TEST(MultiLogistic, SaturatedLogitsGiveFiniteLoss) {
  test::LayerRig<cpu, float> rig("multi_logistic", {}, {Shape4(1, 1, 1, 2)});
  rig.in[0]->data.dptr_[0] = 200.f, rig.in[0]->data.dptr_[1] = -200.f;
  rig.SetLabel({0, 1}, 2);
  rig.Forward();
  EXPECT_NEAR(rig.layer->Loss(), 400.0, 1e-3);  // log(1 - sigmoid(200)) computed as -200
}

// The layer checks its labels itself on the cpu, as softmax does: a C++ caller's Trainer::Train
// has no Net::CheckLabels before it, and a label of 2 made the loss unbounded below.
TEST(MultiLogistic, ForwardRefusesALabelOutsideZeroOne) {
  test::LayerRig<cpu, float> rig("multi_logistic", {}, {Shape4(2, 1, 1, 2)});
  rig.SetLabel({0, 1, 1, 2}, 2);
  EXPECT_HAS(test::ErrorOf([&] { rig.Forward(); }), "sample 1: label 1 is 2, outside [0, 1]");
  test::LayerRig<cpu, float> l2("l2_loss", {}, {Shape4(2, 1, 1, 2)});
  l2.SetLabel({0, 1, 1, std::numeric_limits<float>::infinity()}, 2);
  EXPECT_HAS(test::ErrorOf([&] { l2.Forward(); }), "sample 1: label 1 is inf");
}

// log(1 + e^-|x|) written out lost e^-|x| below float's epsilon (a confident right answer at
// |x| = 20 cost 0, at 10 it was 4e-4 off): log1p keeps it.
TEST(MultiLogistic, ConfidentLogitsKeepTheirSmallLoss) {
  test::LayerRig<cpu, float> rig("multi_logistic", {}, {Shape4(1, 1, 1, 3)});
  const float xs[3] = {20.f, -20.f, 10.f};
  std::copy(xs, xs + 3, rig.in[0]->data.dptr_);
  rig.SetLabel({1, 0, 1}, 3);
  rig.Forward();
  const double want = 2 * std::log1p(std::exp(-20.0)) + std::log1p(std::exp(-10.0));
  EXPECT_NEAR(rig.layer->Loss() / want, 1.0, 1e-5);
}

TEST(ElementLosses, GradientCheck) {
  std::vector<double> y(24), bits(24);
  for (int i = 0; i < 24; ++i) y[i] = 0.1 * (i % 7) - 0.3, bits[i] = (i * 5) % 3 == 0;
  test::GradCheck("l2_loss", {}, {Shape4(4, 2, 3, 1)}, y, -1, 1, 1e-5, 60, 6);
  test::GradCheck("lp_loss", {{"p", "3"}}, {Shape4(4, 2, 3, 1)}, y, -1, 1, 1e-5, 60, 6);
  test::GradCheck("lp_loss", {{"p", "1"}}, {Shape4(3, 1, 1, 8)}, y, -1, 1, 1e-5, 60, 8);
  test::GradCheck("multi_logistic", {}, {Shape4(4, 1, 1, 6)}, bits, -3, 3, 1e-5, 60, 6);
}

TEST(ElementLosses, ShapeErrorsNameLayerAndShapes) {
  for (const char* type : {"l2_loss", "lp_loss", "multi_logistic"}) {
    test::LayerRig<cpu, float> rig(type, {}, {Shape4(2, 1, 1, 3)});
    EXPECT_EQ(rig.out[0]->shape, Shape4(2, 1, 1, 3));
    rig.SetLabel({1, 2}, 1);  // one label per sample, but three features
    const std::string m = test::ErrorOf([&] { rig.Forward(); });
    EXPECT_NE(m.find("test_" + std::string(type)), std::string::npos) << m;
    EXPECT_NE(m.find("(2,1)"), std::string::npos) << m;
    EXPECT_NE(m.find("(2,1,1,3)"), std::string::npos) << m;
    auto layer = nn::LayerRegistry<cpu>::Get().Create(type);
    layer->set_name("ls1");
    const std::string e = test::ErrorOf([&] { layer->InferShape({Shape4(2, 0, 1, 1)}); });
    EXPECT_NE(e.find("ls1"), std::string::npos) << e;
    EXPECT_NE(e.find("(2,0,1,1)"), std::string::npos) << e;
  }
}

TEST(ElementLosses, BadParametersNameKey) {
  auto lp = nn::LayerRegistry<cpu>::Get().Create("lp_loss");
  lp->set_name("lp9");
  std::string m = test::ErrorOf([&] { lp->SetParam("p", "0.5"); });
  EXPECT_NE(m.find("lp9"), std::string::npos) << m;
  EXPECT_NE(m.find("'p'"), std::string::npos) << m;
  m = test::ErrorOf([&] { lp->SetParam("grad_scale", "x"); });
  EXPECT_NE(m.find("grad_scale"), std::string::npos) << m;
  EXPECT_FALSE(nn::LayerRegistry<cpu>::Get().Create("l2_loss")->SetParam("p", "3"));
  EXPECT_FALSE(nn::LayerRegistry<cpu>::Get().Create("multi_logistic")->SetParam("p", "3"));
}

TEST(ElementLosses, SaveLoadRoundTrip) {
  test::SaveLoadRoundTrip("l2_loss", {}, {Shape4(2, 1, 1, 3)}, kY, 3);
  test::SaveLoadRoundTrip("lp_loss", {{"p", "3"}}, {Shape4(2, 1, 1, 3)}, kY, 3);
  test::SaveLoadRoundTrip("multi_logistic", {}, {Shape4(2, 1, 1, 3)}, kBits, 3);
}

// Prediction through a loss layer of several outputs gives its output without labels (a width-1
// stand-in label was refused: a regression or multi-label net could not predict or evaluate).
TEST(ElementLosses, PredictWithoutLabels) {
  for (const char* type : {"l2_loss", "lp_loss", "multi_logistic"}) {
    nn::NetSpec s;
    s.input_shape = Shape4(2, 1, 1, 3);
    s.layers = {test::L(type, "loss", {"in"}, {"p"})};
    nn::Net<cpu, float> net(s);
    TensorContainer<cpu, 4> x(s.input_shape, 0.5f);
    net.Forward(false, x.view());
    const float want = std::string(type) == "multi_logistic" ? 1 / (1 + std::exp(-0.5f)) : 0.5f;
    for (index_t i = 0; i < 6; ++i) EXPECT_FLOAT_EQ(net.Output().data.dptr_[i], want) << type;
  }
}

// Net::CheckLabels: what each loss layer refuses in a batch's labels, naming the layer, the
// sample and, where the data gives it, the instance; good labels pass.
TEST(LossLabels, CheckedOnTheHostBeforeAStep) {
  auto net_with = [](const std::string& type) {
    nn::NetSpec s;
    s.input_shape = Shape4(2, 1, 1, 3);
    s.layers = {test::L(type, "loss", {"in"}, {"p"})};
    return nn::Net<cpu, float>(s);
  };
  auto problem = [](const nn::Net<cpu, float>& net, std::vector<float> y, index_t width,
                    std::vector<uint64_t> index = {}) {
    TensorContainer<cpu, 2> label(Shape2(2, width));
    std::copy(y.begin(), y.end(), label.dptr_);
    return test::ErrorOf([&] {
      net.CheckLabels(label.view(), index, [](uint64_t i) { return i == 41 ? "y.csv:43" : ""; });
    });
  };
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  auto softmax = net_with("softmax");
  EXPECT_EQ(problem(softmax, {0, 2}, 1), "no error");
  EXPECT_HAS(problem(softmax, {0, 3}, 1, {40, 41}),
             "layer 'loss' (softmax): sample 1 (instance 41 of the data, from 0: y.csv:43): label 3 is outside [0, 3)");
  EXPECT_HAS(problem(softmax, {3, 0}, 1, {40, 41}), "sample 0 (instance 40 of the data, from 0): label 3");
  EXPECT_HAS(problem(softmax, {-1, 0}, 1), "layer 'loss' (softmax): sample 0: label -1 is outside [0, 3)");
  EXPECT_HAS(problem(softmax, {1.5f, 0}, 1), "sample 0: label 1.5 is not a whole class index");
  // With the digits that make it not whole (1.0000001 was printed as 1).
  EXPECT_HAS(problem(softmax, {1.0000001f, 0}, 1), "sample 0: label 1.0000001 is not a whole class index");
  EXPECT_HAS(problem(softmax, {nan, 0}, 1), "sample 0: label nan is outside [0, 3)");
  EXPECT_HAS(problem(softmax, {0, 1, 2, 0}, 2), "sample 0: 2 labels, want 1 class index");
  for (const char* type : {"l2_loss", "lp_loss", "multi_logistic"}) {
    SCOPED_TRACE(type);
    auto net = net_with(type);
    const bool logistic = std::string(type) == "multi_logistic";
    const std::vector<float> good =
        logistic ? std::vector<float>{0, 1, 0.5f, 1, 0, 0.25f} : std::vector<float>{0, 1, 2, 3, 4, 5};
    EXPECT_EQ(problem(net, good, 3), "no error");
    std::vector<float> with_inf = good, with_nan = good;
    with_inf[4] = inf, with_nan[0] = nan;
    // A logistic's target is a probability: 2 or -1 made its loss unbounded below.
    if (logistic) {
      EXPECT_HAS(problem(net, {0, 1, 0, 2, 0, 0}, 3), "sample 1: label 0 is 2, outside [0, 1] (a target probability)");
      EXPECT_HAS(problem(net, {0, -1, 0, 0, 0, 0}, 3), "sample 0: label 1 is -1, outside [0, 1]");
    }
    EXPECT_HAS(problem(net, with_inf, 3, {7, 8}), "sample 1 (instance 8 of the data, from 0): label 1 is inf");
    EXPECT_HAS(problem(net, with_nan, 3), "sample 0: label 0 is nan");
    EXPECT_HAS(problem(net, {0, 1}, 1), "sample 0: 1 labels, want one per feature: 3");
  }
}

}  // namespace
}  // namespace umbra
