// Updaters against hand-computed steps, schedules against their formulas, and settings resolution
// (global, tag:key, layer:key).
#include "harness/tensor_util.h"
#include "umbra/nn/updater.h"

namespace umbra {
namespace {
using nn::UpdaterParam;

nn::Updater<cpu, double> Make(std::vector<std::pair<std::string, std::string>> kv) {
  nn::UpdaterSettings s;
  for (auto& [k, v] : kv) EXPECT_TRUE(s.Set(k, v)) << k;
  return nn::Updater<cpu, double>(s.For("fc1.wmat"), Shape2(1, 2));
}

TEST(Updater, SgdMomentumWeightDecayByHand) {
  auto u = Make({{"lr", "0.1"}, {"momentum", "0.9"}, {"wd", "0.01"}});
  TensorContainer<cpu, 2, double> w(Shape2(1, 2)), g(Shape2(1, 2));
  w.dptr_[0] = 1, w.dptr_[1] = -2;
  double m0 = 0, w0 = 1;
  for (int t = 0; t < 3; ++t) {
    g.dptr_[0] = 0.5 * (t + 1), g.dptr_[1] = 0;
    u.Update(w.view(), g.view(), t);
    m0 = 0.9 * m0 - 0.1 * (0.5 * (t + 1) + 0.01 * w0);
    w0 += m0;
    EXPECT_NEAR(w.dptr_[0], w0, 1e-7);  // lr, momentum, wd are stored as float
    EXPECT_EQ(g.dptr_[0], 0.0) << "gradient cleared after the update";
  }
}

// The one-pass sgd loop read as many values of its state as the weight has: a weight of another
// shape than the updater's overran it.
TEST(Updater, AWeightOfAnotherShapeIsAnError) {
  auto u = Make({{"lr", "0.1"}});
  TensorContainer<cpu, 2, double> w(Shape2(20, 20), 0.0), g(Shape2(20, 20), 0.0);
  EXPECT_HAS(test::ErrorOf([&] { u.Update(w.view(), g.view(), 0); }),
             "updater made for a weight of shape (1,2) given weight (20,20) and gradient (20,20)");
}

TEST(Updater, NesterovByHand) {
  auto u = Make({{"updater", "nag"}, {"lr", "0.1"}, {"momentum", "0.5"}});
  TensorContainer<cpu, 2, double> w(Shape2(1, 2), 1.0), g(Shape2(1, 2));
  double m = 0, x = 1;
  for (int t = 0; t < 3; ++t) {
    g = 2.0;
    u.Update(w.view(), g.view(), t);
    const double mn = 0.5 * m - 0.1 * 2.0;
    x += -0.5 * m + 1.5 * mn;
    m = mn;
    EXPECT_NEAR(w.dptr_[1], x, 1e-7);  // lr, momentum are stored as float
  }
}

TEST(Updater, AdamByHand) {
  // cxxnet's keys: beta1 and beta2 are the new gradient's weights, 1 - the usual betas (0.9, 0.98).
  auto u = Make({{"updater", "adam"}, {"lr", "0.01"}, {"beta1", "0.1"}, {"beta2", "0.02"}, {"eps", "1e-8"}});
  TensorContainer<cpu, 2, double> w(Shape2(1, 2), 1.0), g(Shape2(1, 2));
  // Parameters are stored as float: the reference uses the same float values.
  const double b1 = 1 - double(0.1f), b2 = 1 - double(0.02f), lr = 0.01f, eps = 1e-8f;
  double m = 0, v = 0, x = 1;
  for (int t = 0; t < 4; ++t) {
    const double gv = 0.3 - 0.2 * t;
    g = gv;
    u.Update(w.view(), g.view(), t);
    m = b1 * m + (1 - b1) * gv;
    v = b2 * v + (1 - b2) * gv * gv;
    const double mh = m / (1 - std::pow(b1, t + 1)), vh = v / (1 - std::pow(b2, t + 1));
    // The paper's efficient form: eps is added to sqrt(v) before the bias correction.
    x -= lr * mh / (std::sqrt(vh) + eps / std::sqrt(1 - std::pow(b2, t + 1)));
    EXPECT_NEAR(w.dptr_[0], x, 1e-12);
  }
}

TEST(Updater, ClippingAndGradScale) {
  auto u = Make({{"lr", "1"}, {"momentum", "0"}, {"clip_gradient", "0.5"}, {"grad_scale", "2"}});
  TensorContainer<cpu, 2, double> w(Shape2(1, 2), 0.0), g(Shape2(1, 2));
  g.dptr_[0] = 0.1, g.dptr_[1] = -3;
  u.Update(w.view(), g.view(), 0);
  EXPECT_NEAR(w.dptr_[0], -0.2, 1e-12);  // 0.1 * 2, inside the clip
  EXPECT_NEAR(w.dptr_[1], 0.5, 1e-12);   // -6 clipped to -0.5
}

// cxxnet's schedules (updater/param.h there): whole steps of lr:step updates (integer division:
// the rate is constant within a step), the base rate before start_epoch and the schedule of
// the whole count after it, floored at minimum_lr (default 1e-5).
TEST(Updater, SchedulesFollowTheirFormulas) {
  UpdaterParam p;
  p.lr = 0.1f, p.lr_step = 10, p.lr_gamma = 0.5f, p.lr_alpha = 0.75f, p.lr_factor = 0.1f;
  p.lr_schedule = "constant";
  EXPECT_NEAR(p.LearningRate(1000), 0.1, 1e-7);
  p.lr_schedule = "expdecay";
  EXPECT_NEAR(p.LearningRate(9), 0.1, 1e-7);  // within the first step
  EXPECT_NEAR(p.LearningRate(25), 0.1 * std::pow(0.5, 2), 1e-7);
  EXPECT_NEAR(p.LearningRate(29), 0.1 * std::pow(0.5, 2), 1e-7);
  EXPECT_NEAR(p.LearningRate(30), 0.1 * std::pow(0.5, 3), 1e-7);
  p.lr_schedule = "polydecay";
  EXPECT_NEAR(p.LearningRate(25), 0.1 * std::pow(1 + 2 * 0.5, -0.75), 1e-7);
  p.lr_schedule = "factor";
  EXPECT_NEAR(p.LearningRate(25), 0.1 * 0.01, 1e-9);
  EXPECT_NEAR(p.LearningRate(1000), 1e-5, 1e-12);  // 0.1 * 0.1^100, floored at the default minimum
  p.lr_minimum = 0.005f;
  EXPECT_NEAR(p.LearningRate(25), 0.005, 1e-9);
  p.lr_minimum = 0, p.lr_start_epoch = 20;
  EXPECT_NEAR(p.LearningRate(19), 0.1, 1e-7);         // the base rate before start_epoch
  EXPECT_NEAR(p.LearningRate(25), 0.1 * 0.01, 1e-9);  // then the schedule of all 25 updates
  // The floor never raises a base rate below it (eta = 0 stays 0).
  p.lr = 0, p.lr_minimum = 1e-5f, p.lr_start_epoch = 0;
  EXPECT_EQ(p.LearningRate(25), 0.0);
}

// cxxnet's final_momentum caps momentum wherever either is given; without it, no cap (cxxnet's
// default 0.9 held momentum = 0.95 at 0.9: netconfig notes that).
TEST(Updater, FinalMomentumCapsMomentum) {
  nn::UpdaterSettings s;
  EXPECT_TRUE(s.Set("momentum", "0.95"));
  EXPECT_FLOAT_EQ(s.For("fc1.wmat").momentum, 0.95f);
  EXPECT_TRUE(s.Set("bias:final_momentum", "0.9"));
  EXPECT_FLOAT_EQ(s.For("fc1.bias").momentum, 0.9f);
  EXPECT_FLOAT_EQ(s.For("fc1.wmat").momentum, 0.95f);
  EXPECT_TRUE(s.Set("fc1:momentum", "0.5"));  // below the cap: as written
  EXPECT_FLOAT_EQ(s.For("fc1.bias").momentum, 0.5f);
}

TEST(Updater, SettingsResolveGlobalThenTagThenLayer) {
  nn::UpdaterSettings s;
  EXPECT_TRUE(s.Set("lr", "0.1"));
  EXPECT_TRUE(s.Set("bias:lr", "0.2"));
  EXPECT_TRUE(s.Set("fc2:lr", "0.3"));
  EXPECT_TRUE(s.Set("lr:schedule", "expdecay"));
  EXPECT_FALSE(s.Set("nhidden", "10"));
  EXPECT_FLOAT_EQ(s.For("fc1.wmat").lr, 0.1f);
  EXPECT_FLOAT_EQ(s.For("fc1.bias").lr, 0.2f);
  EXPECT_FLOAT_EQ(s.For("fc2.bias").lr, 0.3f);
  EXPECT_EQ(s.For("fc1.wmat").lr_schedule, "expdecay");
  EXPECT_NE(test::ErrorOf([&] { s.Set("lr:schedule", "cosine"); }).find("expdecay"), std::string::npos);
  // layer:tag:key (cxxnet's wmat:lr inside a layer) beats the layer's and the tag's settings.
  EXPECT_TRUE(s.Set("fc2:bias:lr", "0.4"));
  EXPECT_TRUE(s.Set("fc2:wmat:lr:schedule", "constant"));
  EXPECT_FLOAT_EQ(s.For("fc2.bias").lr, 0.4f);
  EXPECT_FLOAT_EQ(s.For("fc2.wmat").lr, 0.3f);
  EXPECT_EQ(s.For("fc2.wmat").lr_schedule, "constant");
  EXPECT_EQ(s.For("fc2.bias").lr_schedule, "expdecay");
  EXPECT_FALSE(s.Set("fc2:bias:nhidden", "3"));
  // cxxnet's eta: prefix for the schedule's keys, global and scoped.
  EXPECT_TRUE(s.Set("eta:gamma", "0.25"));
  EXPECT_TRUE(s.Set("fc2:bias:eta:schedule", "factor"));
  EXPECT_FLOAT_EQ(s.For("fc1.wmat").lr_gamma, 0.25f);
  EXPECT_EQ(s.For("fc2.bias").lr_schedule, "factor");
  EXPECT_NE(test::ErrorOf([&] { s.Set("eta:step", "2.5"); }).find("bad value '2.5' for key 'eta:step': expected an integer"),
            std::string::npos);
}

// cxxnet's batch_norm tagged gamma and beta "wmat", its prelu the slope "bias": its configs'
// wmat:/bias: keys reach them (Inception-BN's wmat:lr = 0.05 trained its batch norms at 0.05),
// and their own tags, more specific, win.
TEST(Updater, BatchNormAndPreluAnswerToCxxnetTags) {
  nn::UpdaterSettings s;
  EXPECT_TRUE(s.Set("wmat:lr", "0.05"));
  EXPECT_TRUE(s.Set("wmat:wd", "1e-4"));
  EXPECT_TRUE(s.Set("bias:lr", "0.1"));
  EXPECT_TRUE(s.Set("bias:wd", "0"));
  EXPECT_TRUE(s.Set("wd", "0.5"));
  EXPECT_FLOAT_EQ(s.For("bn1.gamma").lr, 0.05f);
  EXPECT_FLOAT_EQ(s.For("bn1.beta").lr, 0.05f);
  EXPECT_FLOAT_EQ(s.For("bn1.beta").wd, 1e-4f);
  EXPECT_FLOAT_EQ(s.For("pr1.slope").lr, 0.1f);
  EXPECT_FLOAT_EQ(s.For("pr1.slope").wd, 0.f);
  EXPECT_FLOAT_EQ(s.For("bn1.moving_mean").wd, 0.5f);  // statistics: no updater reads them
  EXPECT_TRUE(s.Set("beta:wd", "0"));
  EXPECT_TRUE(s.Set("bn1:wmat:lr", "0.2"));
  EXPECT_TRUE(s.Set("bn1:gamma:lr", "0.3"));
  EXPECT_FLOAT_EQ(s.For("bn1.beta").wd, 0.f);
  EXPECT_FLOAT_EQ(s.For("bn1.gamma").wd, 1e-4f);
  EXPECT_FLOAT_EQ(s.For("bn1.beta").lr, 0.2f);
  EXPECT_FLOAT_EQ(s.For("bn1.gamma").lr, 0.3f);
  EXPECT_FLOAT_EQ(s.For("bn2.gamma").lr, 0.05f);
  const std::set<std::string> known = nn::ScopeNames({"bn1.gamma", "bn1.beta", "pr1.slope"});
  for (const char* scope : {"wmat", "bias", "gamma", "bn1.wmat", "pr1.bias", "pr1.slope"})
    EXPECT_TRUE(known.count(scope)) << scope;
  EXPECT_FALSE(known.count("bn1.bias"));
}

}  // namespace
}  // namespace umbra
