// batch_norm and batch_norm_no_ma through the layer harness: shapes, training output and moving
// averages against plain loops (per channel and per feature of a vector), test mode with moving
// or batch statistics, gradient checks in training mode, bad shapes and parameters.
#include <cmath>
#include <limits>
#include <map>

#include "harness/layer_check.h"
#include "harness/tiny_net.h"

namespace umbra {
namespace {
UMBRA_COVERS_LAYER("batch_norm");
UMBRA_COVERS_LAYER("batch_norm_no_ma");

using Rig = test::LayerRig<cpu, double>;

std::map<std::string, Tensor<cpu, 2, double>> Weights(Rig& rig) {
  std::map<std::string, Tensor<cpu, 2, double>> w;
  rig.layer->VisitWeights([&](const std::string& tag, Tensor<cpu, 2, double> v,
                              Tensor<cpu, 2, double>) { w[tag] = v; });
  return w;
}

// Reference: channel c's values of (N, C, H, W) as a list of flat indices.
std::vector<index_t> Members(const Shape<4>& s, index_t c) {
  std::vector<index_t> idx;
  const index_t hw = s[2] * s[3];
  for (index_t n = 0; n < s[0]; ++n)
    for (index_t i = 0; i < hw; ++i) idx.push_back((n * s[1] + c) * hw + i);
  return idx;
}

void CheckTraining(const std::string& type, const Shape<4>& s, const Shape<4>& as_channels) {
  SCOPED_TRACE(type);
  Rig rig(type, {{"init_slope", "2"}, {"init_bias", "0.5"}, {"eps", "0.01"}}, {s});
  EXPECT_EQ(rig.out[0]->shape, s);
  Random<cpu, double> rnd(5);
  rnd.SampleUniform(&rig.in[0]->data, -2.0, 3.0);
  rig.Forward(true);
  auto w = Weights(rig);
  // The keys are floats: compare with exactly the values the layer holds.
  const double eps = double(0.01f), mo = double(0.9f);
  for (index_t c = 0; c < as_channels[1]; ++c) {
    const auto idx = Members(as_channels, c);
    double mean = 0, var = 0;
    for (index_t i : idx) mean += rig.in[0]->data.dptr_[i];
    mean /= idx.size();
    for (index_t i : idx) var += std::pow(rig.in[0]->data.dptr_[i] - mean, 2);
    var /= idx.size();
    for (index_t i : idx)
      EXPECT_NEAR(rig.out[0]->data.dptr_[i],
                  2 * (rig.in[0]->data.dptr_[i] - mean) / std::sqrt(var + eps) + 0.5, 1e-12);
    if (type == "batch_norm") {  // from (0, 1): one step of momentum 0.9, unbiased variance
      EXPECT_NEAR(w["moving_mean"].dptr_[c], (1 - mo) * mean, 1e-12);
      EXPECT_NEAR(w["moving_var"].dptr_[c], mo + (1 - mo) * var * idx.size() / (idx.size() - 1),
                  1e-12);
    }
  }
}

TEST(BatchNorm, TrainingUsesBatchStatistics) {
  CheckTraining("batch_norm", Shape4(3, 2, 2, 2), Shape4(3, 2, 2, 2));
  CheckTraining("batch_norm_no_ma", Shape4(2, 3, 1, 3), Shape4(2, 3, 1, 3));
  // A vector (N, 1, 1, len) is normalised per feature: as channels (N, len, 1, 1).
  CheckTraining("batch_norm", Shape4(5, 1, 1, 3), Shape4(5, 3, 1, 1));
}

// A constant channel (a dead filter's bias) normalises to exactly 0 in float, as nets run: its
// mean, a float sum times a rounded 1/m, missed the value by an ulp, and x - mean over sqrt(eps)
// made that 1e-4 at the default eps and about 1 at eps = 1e-20. (beta 0: the folded
// x * scale + shift keeps another beta to an ulp of mean * scale.)
TEST(BatchNorm, ConstantChannelNormalisesToZero) {
  for (const char* eps : {"1e-5", "1e-20"}) {
    SCOPED_TRACE(eps);
    test::LayerRig<cpu, float> rig("batch_norm", {{"eps", eps}}, {Shape4(64, 2, 8, 16)});
    const index_t plane = 8 * 16;
    for (index_t n = 0; n < 64; ++n)
      for (index_t i = 0; i < plane; ++i)
        rig.in[0]->data.dptr_[(n * 2) * plane + i] = 0.1f, rig.in[0]->data.dptr_[(n * 2 + 1) * plane + i] = 3.3f;
    rig.Forward(true);
    for (index_t i = 0; i < rig.out[0]->data.Size(); ++i) ASSERT_EQ(rig.out[0]->data.dptr_[i], 0.f) << i;
  }
}

// The variance's squares in double, as the mean's sum: (3e19)^2 overflowed a float square
// though the variance (1.1e38) fits one, and the channel came out as beta with no word.
TEST(BatchNorm, HugeValuesKeepAFiniteVariance) {
  test::LayerRig<cpu, float> rig("batch_norm", {}, {Shape4(16, 1, 1, 1)});
  for (index_t i = 0; i < 16; ++i) rig.in[0]->data.dptr_[i] = 0.f;
  rig.in[0]->data.dptr_[0] = 3e19f, rig.in[0]->data.dptr_[1] = -3e19f;
  rig.Forward(true);
  const double sd = std::sqrt(2 * 9e38 / 16);
  EXPECT_NEAR(rig.out[0]->data.dptr_[0], 3e19 / sd, 1e-4);
  EXPECT_NEAR(rig.out[0]->data.dptr_[1], -3e19 / sd, 1e-4);
  EXPECT_EQ(rig.out[0]->data.dptr_[2], 0.f);
}

TEST(BatchNorm, TestModeStatistics) {
  const Shape<4> s = Shape4(2, 2, 1, 3);
  Rig ma("batch_norm", {}, {s}), no("batch_norm_no_ma", {}, {s});
  auto w = Weights(ma);
  EXPECT_EQ(w.size(), 4u);
  EXPECT_EQ(Weights(no).size(), 2u);
  w["moving_mean"].dptr_[0] = 1, w["moving_mean"].dptr_[1] = -2;
  w["moving_var"].dptr_[0] = 4, w["moving_var"].dptr_[1] = 0.25;
  w["gamma"].dptr_[1] = 3, w["beta"].dptr_[0] = 1;
  for (index_t i = 0; i < 12; ++i) ma.in[0]->data.dptr_[i] = no.in[0]->data.dptr_[i] = i * 0.5;
  ma.Forward(false);
  for (index_t i = 0; i < 12; ++i) {
    const index_t c = (i / 3) % 2;
    const double want = c == 0 ? (i * 0.5 - 1) / std::sqrt(4 + double(1e-5f)) + 1
                               : 3 * (i * 0.5 + 2) / std::sqrt(0.25 + double(1e-5f));
    EXPECT_NEAR(ma.out[0]->data.dptr_[i], want, 1e-9);
  }
  EXPECT_EQ(w["moving_mean"].dptr_[0], 1);  // test mode leaves the averages alone
  // Backward after a test-mode forward treats the moving statistics as constants: every
  // element's gradient is gamma_c / sqrt(var_c + eps) times its own output gradient (random,
  // so that a gradient taken from another element or channel shows; written over NaN).
  Random<cpu, double> rnd(3);
  rnd.SampleUniform(&ma.out[0]->grad, -1.0, 1.0);
  ma.in[0]->grad = std::numeric_limits<double>::quiet_NaN();
  ma.layer->Backward(true, ma.in, ma.out);
  for (index_t i = 0; i < 12; ++i) {
    const index_t c = (i / 3) % 2;
    const double scale = c == 0 ? 1 / std::sqrt(4 + double(1e-5f)) : 3 / std::sqrt(0.25 + double(1e-5f));
    EXPECT_NEAR(ma.in[0]->grad.dptr_[i], scale * ma.out[0]->grad.dptr_[i], 1e-9) << "element " << i;
  }
  // batch_norm_no_ma normalises with the batch even at test time.
  no.Forward(false);
  Rig no_train("batch_norm_no_ma", {}, {s});
  Copy(no_train.in[0]->data.view(), no.in[0]->data.view());
  no_train.Forward(true);
  EXPECT_TRUE(test::AllNear(no.out[0]->data.view(), no_train.out[0]->data.view(), 1e-12));
}

// A batch norm with a sum (add: input 1 added, Layer::FuseAdd) and/or a relu (Layer::FuseRelu)
// fused in, against the unfused layer with those applied by hand: the output exactly the
// unfused output plus the addend, relu'd, in training and test mode; input 1's gradient is the
// output's, masked by the relu; the rest the unfused layer's given that gradient. relu: 0 none,
// 1 fused (after a sum, its mask from the output), 2 with a sum, its mask from the addend
// (Layer::AddendOutlivesBackward).
void ExpectFusedAsUnfused(const char* type, bool add, int relu) {
  SCOPED_TRACE(std::string(type) + (add ? " with a sum" : "") + (relu ? " with a relu" : "") +
               (relu == 2 ? ", its mask from the addend" : ""));
  const Shape<4> s = Shape4(3, 2, 2, 3);
  Rig plain(type, {{"init_bias", "0.3"}}, {s}), fused(type, {{"init_bias", "0.3"}}, add ? std::vector{s, s} : std::vector{s});
  if (add) ASSERT_TRUE(fused.layer->FuseAdd());
  if (relu) ASSERT_TRUE(fused.layer->FuseRelu());
  if (add) fused.layer->AddendOutlivesBackward(relu == 2);
  EXPECT_EQ(fused.layer->InputGradIsOutputGrad(1), add);
  EXPECT_FALSE(fused.layer->InputGradIsOutputGrad(0));
  EXPECT_TRUE(fused.layer->BackwardReadsInput(0));
  EXPECT_EQ(fused.layer->BackwardReadsInput(1), add && relu == 2);  // the relu's mask, recomputed
  EXPECT_EQ(fused.layer->BackwardReadsOutput(0), add && relu == 1);  // the relu's mask, from the sum
  Random<cpu, double> rnd(4);
  rnd.SampleUniform(&plain.in[0]->data, -2.0, 3.0);
  if (add) rnd.SampleUniform(&fused.in[1]->data, -1.0, 1.0);
  Copy(fused.in[0]->data.view(), plain.in[0]->data.view());
  for (bool train : {true, false}) {
    SCOPED_TRACE(train ? "training" : "test mode");
    plain.Forward(train);
    fused.Forward(train);
    int positive = 0;
    for (index_t i = 0; i < s.Size(); ++i) {
      const double z = plain.out[0]->data.dptr_[i] + (add ? fused.in[1]->data.dptr_[i] : 0.0);
      ASSERT_EQ(fused.out[0]->data.dptr_[i], relu ? std::max(z, 0.0) : z) << i;
      positive += z > 0;
      fused.out[0]->grad.dptr_[i] = i * 0.25 - 2;
      plain.out[0]->grad.dptr_[i] = !relu || z > 0 ? i * 0.25 - 2 : 0;  // what the sum and relu pass back
    }
    EXPECT_GT(positive, 0);
    EXPECT_LT(positive, s.Size());
    plain.layer->VisitWeights([](const std::string&, auto, Tensor<cpu, 2, double> g) { g = 0.0; });
    fused.layer->VisitWeights([](const std::string&, auto, Tensor<cpu, 2, double> g) { g = 0.0; });
    plain.layer->Backward(true, plain.in, plain.out);
    // What the fused backward says it does not read is NaN while it runs (the net gives those
    // buffers to other nodes): a read of it shows in every gradient.
    TensorContainer<cpu, 4, double> y_kept(fused.out[0]->data), addend_kept(fused.in[0]->data);
    if (add) Copy(addend_kept.view(), fused.in[1]->data.view());
    if (!fused.layer->BackwardReadsOutput(0)) fused.out[0]->data = std::nan("");
    if (add && !fused.layer->BackwardReadsInput(1)) fused.in[1]->data = std::nan("");
    fused.layer->Backward(true, fused.in, fused.out);
    Copy(fused.out[0]->data.view(), y_kept.view());
    if (add) Copy(fused.in[1]->data.view(), addend_kept.view());
    EXPECT_TRUE(test::AllNear(fused.in[0]->grad.view(), plain.in[0]->grad.view(), 1e-12));
    if (add) EXPECT_TRUE(test::AllNear(fused.in[1]->grad.view(), plain.out[0]->grad.view(), 0));
    std::vector<TensorContainer<cpu, 2, double>> a, b;
    plain.layer->VisitWeights([&](const std::string&, auto, Tensor<cpu, 2, double> g) { a.emplace_back(g); });
    fused.layer->VisitWeights([&](const std::string&, auto, Tensor<cpu, 2, double> g) { b.emplace_back(g); });
    for (size_t k = 0; k < a.size(); ++k) EXPECT_TRUE(test::AllNear(b[k].view(), a[k].view(), 1e-12)) << k;
  }
}

// A relu fused in: its mask recomputed from x (the output need not be kept).
TEST(BatchNorm, FusedRelu) {
  for (const char* type : {"batch_norm", "batch_norm_no_ma"}) ExpectFusedAsUnfused(type, false, 1);
  test::GradCheck("batch_norm", {{"init_bias", "0.2"}}, {Shape4(3, 2, 2, 2)}, {}, -1, 1, 1e-5, 60, 1, true);
  test::GradCheck("batch_norm_no_ma", {}, {Shape4(4, 1, 1, 3)}, {}, -1, 1, 1e-5, 60, 1, true);
}

// A sum fused in, with and without the relu after it, the mask from either source. Not after a
// relu of its own (that relu came before the sum).
TEST(BatchNorm, FusedSum) {
  for (const char* type : {"batch_norm", "batch_norm_no_ma"})
    for (const int relu : {0, 1, 2}) ExpectFusedAsUnfused(type, true, relu);
  Rig relu_first("batch_norm", {}, {Shape4(3, 2, 2, 3), Shape4(3, 2, 2, 3)});
  ASSERT_TRUE(relu_first.layer->FuseRelu());
  EXPECT_FALSE(relu_first.layer->FuseAdd());
  const Shape<4> s = Shape4(3, 2, 2, 2);
  test::GradCheck("batch_norm", {{"init_bias", "0.2"}}, {s, s}, {}, -1, 1, 1e-5, 60, 1, false, true);
  test::GradCheck("batch_norm", {{"init_bias", "0.2"}}, {s, s}, {}, -1, 1, 1e-5, 60, 1, true, true);
  test::GradCheck("batch_norm_no_ma", {}, {Shape4(4, 1, 1, 3), Shape4(4, 1, 1, 3)}, {}, -1, 1, 1e-5, 60, 1, true, true);
}

TEST(BatchNorm, GradientCheckTrainingMode) {
  test::GradCheck("batch_norm", {}, {Shape4(3, 2, 2, 2)});
  test::GradCheck("batch_norm", {{"init_slope", "1.5"}, {"init_bias", "0.2"}},
                  {Shape4(4, 1, 1, 3)});
  test::GradCheck("batch_norm_no_ma", {{"eps", "0.001"}}, {Shape4(2, 3, 2, 1)});
}

TEST(BatchNorm, BadShapeAndParameters) {
  for (const char* type : {"batch_norm", "batch_norm_no_ma"}) {
    auto layer = nn::LayerRegistry<cpu>::Get().Create(type);
    layer->set_name("bn1");
    // One value per channel (and one sample of a vector): no batch statistics.
    std::string m = test::ErrorOf([&] { layer->InferShape({Shape4(1, 3, 1, 1)}); });
    EXPECT_NE(m.find("bn1"), std::string::npos) << m;
    EXPECT_NE(m.find("(1,3,1,1)"), std::string::npos) << m;
    EXPECT_NE(test::ErrorOf([&] { layer->InferShape({Shape4(1, 1, 1, 5)}); }), "no error");
    m = test::ErrorOf([&] { layer->SetParam("bn_momentum", "1.5"); });
    EXPECT_NE(m.find("bn1"), std::string::npos) << m;
    EXPECT_NE(m.find("bn_momentum"), std::string::npos) << m;
    EXPECT_NE(test::ErrorOf([&] { layer->SetParam("eps", "-1"); }).find("eps"), std::string::npos);
    // The closed bound itself, below 1e-20 as a float (9.99999968e-21), as is the bound.
    EXPECT_TRUE(layer->SetParam("eps", "1e-20"));
    EXPECT_NE(test::ErrorOf([&] { layer->SetParam("eps", "9e-21"); }).find("value 9e-21 for key 'eps' is outside"),
              std::string::npos);
    EXPECT_FALSE(layer->SetParam("nhidden", "3"));
  }
}

// A net that only predicts normalises with the moving statistics: one vector a batch is fine
// there (pred with batch_size = 1 was refused), the same values as in a larger batch; a net
// that trains, and batch_norm_no_ma everywhere, still refuse it at set-up.
TEST(BatchNorm, PredictionTakesOneValueAChannel) {
  const auto spec = [](index_t batch, bool infer, const char* type) {
    nn::NetSpec s = test::TinySpec(5, true);
    s.input_shape[0] = batch;
    s.inference_only = infer;
    s.layers[1].type = type;
    return s;
  };
  nn::Net<cpu> two(spec(2, true, "batch_norm")), one(spec(1, true, "batch_norm"));
  for (nn::Net<cpu>* n : {&two, &one})
    n->VisitWeights([&](const std::string& name, Tensor<cpu, 2> w, Tensor<cpu, 2>) {
      for (index_t i = 0; i < w.Size(); ++i) w.dptr_[i] = 0.1f * float((i * 7) % 5) + 0.05f + (name.ends_with("bias") ? 0.3f : 0.f);
    });
  TensorContainer<cpu, 4> x(Shape4(2, 1, 1, 6));
  for (index_t i = 0; i < x.Size(); ++i) x.dptr_[i] = float(i % 5) - 1.5f;
  two.Forward(false, x.view());
  one.Forward(false, x.view().Slice(1, 2));
  const Tensor<cpu, 4> p2 = two.NodeByName("p").data.view(), p1 = one.NodeByName("p").data.view();
  for (index_t j = 0; j < 3; ++j) EXPECT_NEAR(p1.dptr_[j], p2.dptr_[3 + j], 1e-6);
  EXPECT_HAS(test::ErrorOf([&] { nn::Net<cpu> n(spec(1, false, "batch_norm")); }), "batch statistics need at least 2");
  EXPECT_HAS(test::ErrorOf([&] { nn::Net<cpu> n(spec(1, true, "batch_norm_no_ma")); }),
             "batch statistics need at least 2");
}

TEST(BatchNorm, SaveLoadRoundTrip) {
  // Test mode: batch_norm normalises with the loaded moving statistics, so they must round-trip.
  test::SaveLoadRoundTrip("batch_norm", {}, {Shape4(3, 2, 2, 2)});
  test::SaveLoadRoundTrip("batch_norm", {{"init_slope", "1.5"}}, {Shape4(4, 1, 1, 3)});
  test::SaveLoadRoundTrip("batch_norm_no_ma", {{"eps", "0.001"}}, {Shape4(2, 3, 2, 1)});
}

}  // namespace
}  // namespace umbra
