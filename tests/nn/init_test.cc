// Weight initialisation rules (InitWeight in layer.h) on fullc and conv: the spread of the drawn
// weights against each formula, given as init (the usual Glorot/He formulas) and as cxxnet's
// random_type (cxxnet's), the last of the two keys winning.
#include <cmath>

#include "harness/layer_check.h"

namespace umbra {
namespace {

// Standard deviation and largest magnitude of a layer's wmat.
std::pair<double, double> Spread(const std::string& type, const test::KV& keys, const Shape<4>& in) {
  test::LayerRig<cpu, float> rig(type, keys, {in});
  double sum = 0, sq = 0, most = 0;
  index_t n = 0;
  rig.layer->VisitWeights([&](const std::string& tag, Tensor<cpu, 2> w, Tensor<cpu, 2>) {
    if (tag != "wmat") return;
    for (index_t i = 0; i < w.shape_.Size(); ++i) {
      const double v = w.dptr_[i];
      sum += v, sq += v * v, most = std::max(most, std::fabs(v)), ++n;
    }
  });
  const double mean = sum / double(n);
  return {std::sqrt(sq / double(n) - mean * mean), most};
}

TEST(Init, FormulasOfInitAndOfCxxnetsRandomType) {
  // fullc: fan_in 300, fan_out = outputs = 200 (60,000 weights: the spread within 3%).
  const test::KV fc = {{"nhidden", "200"}};
  const Shape<4> fc_in = Shape4(2, 3, 10, 10);
  const auto with = [](test::KV kv, std::initializer_list<std::pair<std::string, std::string>> more) {
    kv.insert(kv.end(), more);
    return kv;
  };
  const double u = 1 / std::sqrt(3.0);  // the spread of U(-1, 1)
  EXPECT_NEAR(Spread("fullc", with(fc, {{"init", "xavier"}}), fc_in).first, std::sqrt(6.0 / 500) * u, 0.03 * 0.063);
  EXPECT_NEAR(Spread("fullc", with(fc, {{"random_type", "xavier"}}), fc_in).first, std::sqrt(3.0 / 500) * u,
              0.03 * 0.045);
  EXPECT_NEAR(Spread("fullc", with(fc, {{"init", "kaiming"}}), fc_in).first, std::sqrt(2.0 / 300), 0.03 * 0.082);
  EXPECT_NEAR(Spread("fullc", with(fc, {{"random_type", "kaiming"}}), fc_in).first, std::sqrt(2.0 / 200), 0.03 * 0.1);
  // uniform: init_sigma bounds init's; cxxnet's ignores it; init_uniform bounds both.
  EXPECT_LE(Spread("fullc", with(fc, {{"init", "uniform"}, {"init_sigma", "0.05"}}), fc_in).second, 0.05);
  EXPECT_NEAR(Spread("fullc", with(fc, {{"random_type", "uniform"}, {"init_sigma", "0.05"}}), fc_in).first,
              std::sqrt(3.0 / 500) * u, 0.03 * 0.045);
  EXPECT_LE(Spread("fullc", with(fc, {{"random_type", "xavier"}, {"init_uniform", "0.01"}}), fc_in).second, 0.01);
  // The last key wins: a layer's init after a global random_type gives the usual formula.
  EXPECT_NEAR(Spread("fullc", with(fc, {{"random_type", "kaiming"}, {"init", "kaiming"}}), fc_in).first,
              std::sqrt(2.0 / 300), 0.03 * 0.082);
  EXPECT_NEAR(Spread("fullc", with(fc, {{"init", "kaiming"}, {"random_type", "kaiming"}}), fc_in).first,
              std::sqrt(2.0 / 200), 0.03 * 0.1);
  // conv: 64 channels of 8 x 3 x 5 kernels (fan_in 120, fan_out 64, outputs 64 x 15 = 960).
  const test::KV cv = {{"nchannel", "64"}, {"kernel_height", "3"}, {"kernel_width", "5"}};
  const Shape<4> cv_in = Shape4(1, 8, 9, 9);
  EXPECT_NEAR(Spread("conv", with(cv, {{"init", "kaiming"}}), cv_in).first, std::sqrt(2.0 / 120), 0.04 * 0.13);
  EXPECT_NEAR(Spread("conv", with(cv, {{"random_type", "kaiming"}}), cv_in).first, std::sqrt(2.0 / 960),
              0.04 * 0.046);
  EXPECT_NEAR(Spread("conv", with(cv, {{"random_type", "xavier"}}), cv_in).first, std::sqrt(3.0 / 184) * u,
              0.04 * 0.074);
  // Grouped, cxxnet's fans are a group's: 2 groups of 32 channels over 4 input channels
  // (fan_in 4 x 15 = 60, fan_out 32); init = xavier keeps its fan_out of 64.
  EXPECT_NEAR(Spread("conv", with(cv, {{"random_type", "xavier"}, {"ngroup", "2"}}), cv_in).first,
              std::sqrt(3.0 / 92) * u, 0.04 * 0.104);
  EXPECT_NEAR(Spread("conv", with(cv, {{"init", "xavier"}, {"ngroup", "2"}}), cv_in).first,
              std::sqrt(6.0 / 124) * u, 0.04 * 0.127);
}

// An error names the key as written: random_type = bogus was "bad value 'bogus' for key 'init'".
TEST(Init, ABadRandomTypeNamesRandomType) {
  auto l = nn::LayerRegistry<cpu>::Get().Create("fullc");
  l->set_name("f");
  const std::string m = test::ErrorOf([&] { l->SetParam("random_type", "bogus"); });
  EXPECT_NE(m.find("key 'random_type'"), std::string::npos) << m;
  EXPECT_EQ(m.find("'init'"), std::string::npos) << m;
}

}  // namespace
}  // namespace umbra
