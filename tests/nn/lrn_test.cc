// lrn through the harness: shape, forward against a plain loop over the clipped channel window,
// gradient checks for several windows/exponents, bad parameters.
#include <cmath>

#include "harness/layer_check.h"

namespace umbra {
namespace {
UMBRA_COVERS_LAYER("lrn");

TEST(Lrn, ForwardMatchesLoop) {
  const index_t n = 3;
  const double alpha = 0.5, beta = 0.75, knorm = 2;
  test::LayerRig<cpu, double> rig("lrn", {{"local_size", "3"}, {"alpha", "0.5"},
                                          {"beta", "0.75"}, {"knorm", "2"}},
                                  {Shape4(2, 4, 2, 3)});
  ASSERT_EQ(rig.out[0]->shape, Shape4(2, 4, 2, 3));
  Random<cpu, double> rnd(9);
  rnd.SampleUniform(&rig.in[0]->data, -2.0, 2.0);
  rig.Forward();
  const Tensor<cpu, 4, double>& x = rig.in[0]->data;
  std::vector<double> ref;
  for (index_t i = 0; i < 2; ++i)
    for (index_t c = 0; c < 4; ++c)
      for (index_t h = 0; h < 2; ++h)
        for (index_t w = 0; w < 3; ++w) {
          double sq = 0;
          for (index_t k = c - n / 2; k <= c + n / 2; ++k)
            if (k >= 0 && k < 4) sq += test::At(x, i, k, h, w) * test::At(x, i, k, h, w);
          ref.push_back(test::At(x, i, c, h, w) * std::pow(knorm + alpha / n * sq, -beta));
        }
  test::ExpectEqualsRef(rig.out[0]->data.view(), ref, 1e-12);
}

TEST(Lrn, KnownAnswerDefaults) {
  // One channel, cxxnet's defaults (local_size 3, knorm 1), alpha 3e-3 and beta 0.75: x = 10
  // gives 10 * (1 + 3e-3/3 * 100)^-0.75 = 10 * 1.1^-0.75.
  test::LayerRig<cpu, float> rig("lrn", {{"alpha", "3e-3"}, {"beta", "0.75"}}, {Shape4(1, 1, 1, 1)});
  rig.in[0]->data.dptr_[0] = 10.f;
  rig.Forward();
  EXPECT_NEAR(rig.out[0]->data.dptr_[0], 10 * std::pow(1.1, -0.75), 1e-5);
  // alpha and beta have no default (cxxnet left them unset).
  for (const char* missing : {"alpha", "beta"}) {
    auto layer = nn::LayerRegistry<cpu>::Get().Create("lrn");
    layer->set_name("norm1");
    layer->SetParam(std::string(missing) == "alpha" ? "beta" : "alpha", "0.5");
    EXPECT_HAS(test::ErrorOf([&] { layer->InferShape({Shape4(1, 3, 2, 2)}); }),
               "norm1' (lrn): required key '" + std::string(missing) + "'");
  }
}

TEST(Lrn, GradientCheck) {
  test::GradCheck("lrn", {{"local_size", "5"}, {"alpha", "1e-3"}, {"beta", "0.75"}}, {Shape4(2, 7, 3, 2)});
  // Large alpha so that the cross-channel term matters as much as the direct one.
  test::GradCheck("lrn", {{"local_size", "3"}, {"alpha", "2"}, {"beta", "0.75"}},
                  {Shape4(2, 5, 2, 3)});
  test::GradCheck("lrn", {{"local_size", "1"}, {"alpha", "1"}, {"beta", "1.5"}, {"knorm", "0.5"}},
                  {Shape4(1, 3, 2, 2)});
  test::GradCheck("lrn", {{"local_size", "9"}, {"alpha", "3"}, {"beta", "0.5"}},
                  {Shape4(1, 4, 3, 3)}, {}, -2, 2);  // window wider than C: fully clipped
}

TEST(Lrn, BadParameters) {
  auto layer = nn::LayerRegistry<cpu>::Get().Create("lrn");
  layer->set_name("norm1");
  layer->SetParam("alpha", "1e-4");
  layer->SetParam("beta", "0.75");
  layer->SetParam("local_size", "4");
  std::string m = test::ErrorOf([&] { layer->InferShape({Shape4(1, 8, 5, 5)}); });
  EXPECT_NE(m.find("norm1"), std::string::npos) << m;
  EXPECT_NE(m.find("local_size"), std::string::npos) << m;
  m = test::ErrorOf([&] { layer->SetParam("alpha", "-1"); });
  EXPECT_NE(m.find("alpha"), std::string::npos) << m;
  EXPECT_NE(m.find("norm1"), std::string::npos) << m;
  EXPECT_NE(test::ErrorOf([&] { layer->SetParam("knorm", "0"); }).find("knorm"),
            std::string::npos);
  EXPECT_FALSE(layer->SetParam("nsize", "5"));
}

TEST(Lrn, SaveLoadRoundTrip) {
  test::SaveLoadRoundTrip("lrn", {{"local_size", "3"}, {"alpha", "0.5"}, {"beta", "0.75"}}, {Shape4(2, 5, 2, 2)});
}

}  // namespace
}  // namespace umbra
