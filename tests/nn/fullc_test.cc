// fullc through the layer harness: shapes, a known answer, gradient check, bad parameters.
#include "harness/layer_check.h"

namespace umbra {
namespace {
UMBRA_COVERS_LAYER("fullc");

TEST(Fullc, ShapeAndKnownAnswer) {
  test::LayerRig<cpu, float> rig("fullc", {{"nhidden", "2"}, {"init_bias", "0.5"}},
                                 {Shape4(3, 2, 1, 2)});
  EXPECT_EQ(rig.out[0]->shape, Shape4(3, 1, 1, 2));
  // W = [[1,0,0,0],[0,1,1,1]] by hand; x row i = (i, i, i, i).
  rig.layer->VisitWeights([](const std::string& tag, Tensor<cpu, 2> w, Tensor<cpu, 2>) {
    if (tag == "wmat") {
      w = 0.f;
      w.dptr_[0] = 1, w.dptr_[5] = 1, w.dptr_[6] = 1, w.dptr_[7] = 1;
    }
  });
  for (index_t i = 0; i < 12; ++i) rig.in[0]->data.dptr_[i] = float(i / 4);
  rig.Forward();
  for (index_t i = 0; i < 3; ++i) {
    EXPECT_FLOAT_EQ(rig.out[0]->data.dptr_[2 * i], i + 0.5f);
    EXPECT_FLOAT_EQ(rig.out[0]->data.dptr_[2 * i + 1], 3 * i + 0.5f);
  }
}

// Random input, weights and bias against a plain loop (the rows above are constant, so a
// wrong order of the input's elements would pass them): y[n][j] = b[j] + sum_k W[j][k] x[n][k],
// x[n] the sample's (C, H, W) values in order.
TEST(Fullc, RandomAgainstPlainLoop) {
  const Shape<4> in = Shape4(3, 2, 3, 2);
  test::LayerRig<cpu, double> rig("fullc", {{"nhidden", "5"}}, {in});
  Random<cpu, double> rnd(5);
  rnd.SampleUniform(&rig.in[0]->data, -1.0, 1.0);
  auto w = test::Weights(*rig.layer);
  ASSERT_EQ(w.size(), 2u);
  rnd.SampleUniform(&w[0].first, -1.0, 1.0);
  rnd.SampleUniform(&w[1].first, -1.0, 1.0);
  rig.Forward();
  const double *x = rig.in[0]->data.dptr_, *W = w[0].first.dptr_, *b = w[1].first.dptr_;
  for (index_t n = 0; n < 3; ++n)
    for (index_t j = 0; j < 5; ++j) {
      double want = b[j];
      for (index_t k = 0; k < 12; ++k) want += W[j * 12 + k] * x[n * 12 + k];
      EXPECT_NEAR(rig.out[0]->data.dptr_[n * 5 + j], want, 1e-12) << "row " << n << ", unit " << j;
    }
}

TEST(Fullc, GradientCheck) {
  test::GradCheck("fullc", {{"nhidden", "5"}}, {Shape4(4, 3, 2, 1)});
  test::GradCheck("fullc", {{"nhidden", "3"}, {"no_bias", "1"}, {"init", "xavier"}},
                  {Shape4(2, 1, 1, 7)});
}

// A relu fused in (Layer::FuseRelu): max(0, x W^T + b) in the bias pass, gradients through the
// mask (read from the output).
TEST(Fullc, FusedRelu) {
  for (const char* no_bias : {"0", "1"}) {
    SCOPED_TRACE(std::string("no_bias=") + no_bias);
    const test::KV keys = {{"nhidden", "6"}, {"no_bias", no_bias}, {"init", "xavier"}, {"init_bias", "0.05"}};
    test::LayerRig<cpu, double> plain("fullc", keys, {Shape4(4, 3, 2, 1)}), fused("fullc", keys, {Shape4(4, 3, 2, 1)});
    ASSERT_TRUE(fused.layer->FuseRelu());
    EXPECT_TRUE(fused.layer->BackwardReadsOutput(0));
    Random<cpu, double> rnd(3);
    rnd.SampleUniform(&plain.in[0]->data, -1.0, 1.0);
    Copy(fused.in[0]->data, plain.in[0]->data);
    plain.Forward();
    fused.Forward();
    int positive = 0;
    for (index_t i = 0; i < 24; ++i) {
      ASSERT_EQ(fused.out[0]->data.dptr_[i], std::max(plain.out[0]->data.dptr_[i], 0.0));
      positive += plain.out[0]->data.dptr_[i] > 0;
    }
    EXPECT_GT(positive, 0);
    EXPECT_LT(positive, 24);
    test::GradCheck("fullc", keys, {Shape4(4, 3, 2, 1)}, {}, -1, 1, 1e-5, 60, 1, true);
  }
}

TEST(Fullc, BadParametersNameLayerAndKey) {
  auto layer = nn::LayerRegistry<cpu>::Get().Create("fullc");
  layer->set_name("fc9");
  EXPECT_EQ(test::ErrorOf([&] { layer->InferShape({Shape4(1, 1, 1, 3)}); }).find("nhidden") !=
                std::string::npos,
            true);
  const std::string m = test::ErrorOf([&] { layer->SetParam("nhidden", "ten"); });
  EXPECT_NE(m.find("fc9"), std::string::npos) << m;
  EXPECT_NE(m.find("nhidden"), std::string::npos) << m;
  EXPECT_NE(test::ErrorOf([&] { layer->SetParam("nhidden", "0"); }), "no error");
  EXPECT_NE(test::ErrorOf([&] { layer->SetParam("init", "magic"); }).find("xavier"), std::string::npos);
  EXPECT_FALSE(layer->SetParam("no_such_key", "1"));
}

TEST(Fullc, SaveLoadRoundTrip) {
  test::SaveLoadRoundTrip("fullc", {{"nhidden", "5"}}, {Shape4(4, 3, 2, 1)});
  test::SaveLoadRoundTrip("fullc", {{"nhidden", "3"}, {"no_bias", "1"}}, {Shape4(2, 1, 1, 7)});
}

}  // namespace
}  // namespace umbra
