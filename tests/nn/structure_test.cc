// flatten, split, concat, ch_concat, eltwise_sum and bias through the layer harness: shapes
// (and mismatched inputs named in the error), known answers by plain loops, gradient checks in
// double, bad inputs. split's outputs: the rig replicates its single inferred shape.
#include "harness/layer_check.h"

namespace umbra {
namespace {
UMBRA_COVERS_LAYER("flatten");
UMBRA_COVERS_LAYER("split");
UMBRA_COVERS_LAYER("concat");
UMBRA_COVERS_LAYER("ch_concat");
UMBRA_COVERS_LAYER("eltwise_sum");
UMBRA_COVERS_LAYER("bias");

template <typename DType>
void FillInputs(test::LayerRig<cpu, DType>& rig, uint64_t seed) {
  Random<cpu, DType> rnd(seed);
  for (auto* n : rig.in) rnd.SampleUniform(&n->data, DType(-1), DType(1));
}

TEST(Flatten, ShapeAndKnownAnswer) {
  test::LayerRig<cpu, float> rig("flatten", {}, {Shape4(2, 3, 2, 4)});
  ASSERT_EQ(rig.out[0]->shape, Shape4(2, 1, 1, 24));
  FillInputs(rig, 1);
  rig.Forward();
  for (index_t i = 0; i < 48; ++i) ASSERT_EQ(rig.out[0]->data.dptr_[i], rig.in[0]->data.dptr_[i]);
  test::GradCheck("flatten", {}, {Shape4(2, 3, 2, 2)});
}

TEST(Split, CopiesAndSumsGradients) {
  test::LayerRig<cpu, double> rig("split", {}, {Shape4(2, 2, 1, 3)}, false, 3);
  EXPECT_EQ(rig.layer->NumOut(), -1);
  ASSERT_EQ(rig.out.size(), 3u);
  FillInputs(rig, 2);
  rig.Forward();
  for (int j = 0; j < 3; ++j) {
    EXPECT_EQ(rig.out[j]->shape, Shape4(2, 2, 1, 3));
    rig.out[j]->grad = double(j + 1);
    for (index_t i = 0; i < 12; ++i) ASSERT_EQ(rig.out[j]->data.dptr_[i], rig.in[0]->data.dptr_[i]);
  }
  rig.layer->Backward(true, rig.in, rig.out);
  for (index_t i = 0; i < 12; ++i) ASSERT_EQ(rig.in[0]->grad.dptr_[i], 6.0);
  test::GradCheck("split", {}, {Shape4(3, 2, 2, 1)});  // two outputs (the rig's default)
}

TEST(Concat, WidthAndChannelKnownAnswer) {
  test::LayerRig<cpu, float> rig("concat", {}, {Shape4(2, 1, 1, 3), Shape4(2, 1, 1, 1), Shape4(2, 1, 1, 2)});
  ASSERT_EQ(rig.out[0]->shape, Shape4(2, 1, 1, 6));
  FillInputs(rig, 3);
  rig.Forward();
  for (index_t n = 0; n < 2; ++n) {
    index_t x = 0;
    for (auto* in : rig.in)
      for (index_t k = 0; k < in->shape[3]; ++k, ++x)
        ASSERT_EQ(test::At(rig.out[0]->data.view(), n, 0, 0, x), test::At(in->data.view(), n, 0, 0, k));
  }
  test::LayerRig<cpu, float> ch("ch_concat", {}, {Shape4(2, 2, 2, 3), Shape4(2, 3, 2, 3)});
  ASSERT_EQ(ch.out[0]->shape, Shape4(2, 5, 2, 3));
  FillInputs(ch, 4);
  ch.Forward();
  for (index_t n = 0; n < 2; ++n)
    for (index_t c = 0; c < 5; ++c)
      for (index_t h = 0; h < 2; ++h)
        for (index_t w = 0; w < 3; ++w)
          ASSERT_EQ(test::At(ch.out[0]->data.view(), n, c, h, w),
                    c < 2 ? test::At(ch.in[0]->data.view(), n, c, h, w)
                          : test::At(ch.in[1]->data.view(), n, c - 2, h, w));
}

TEST(Concat, GradientCheck) {
  test::GradCheck("concat", {}, {Shape4(2, 1, 1, 3), Shape4(2, 1, 1, 4)});
  test::GradCheck("concat", {}, {Shape4(2, 2, 2, 1), Shape4(2, 2, 2, 2), Shape4(2, 2, 2, 3)});
  test::GradCheck("ch_concat", {}, {Shape4(2, 1, 2, 3), Shape4(2, 3, 2, 3)});
  test::GradCheck("ch_concat", {}, {Shape4(3, 2, 1, 1), Shape4(3, 1, 1, 1), Shape4(3, 2, 1, 1)});
}

TEST(EltwiseSum, KnownAnswerAndGradientCheck) {
  test::LayerRig<cpu, double> rig("eltwise_sum", {}, {Shape4(2, 3, 1, 2), Shape4(2, 3, 1, 2), Shape4(2, 3, 1, 2)});
  ASSERT_EQ(rig.out[0]->shape, Shape4(2, 3, 1, 2));
  FillInputs(rig, 5);
  rig.Forward();
  for (index_t i = 0; i < 12; ++i)
    ASSERT_NEAR(rig.out[0]->data.dptr_[i],
                rig.in[0]->data.dptr_[i] + rig.in[1]->data.dptr_[i] + rig.in[2]->data.dptr_[i], 1e-15);
  test::GradCheck("eltwise_sum", {}, {Shape4(2, 2, 2, 2), Shape4(2, 2, 2, 2)});
}

// A relu fused in (Layer::FuseRelu): max(0, sum) for one, two and more inputs, every input's
// gradient the output gradient where the sum was positive, and gradient checks.
TEST(EltwiseSum, FusedRelu) {
  for (int n : {2, 3, 4}) {
    SCOPED_TRACE(std::to_string(n) + " inputs");
    test::LayerRig<cpu, double> rig("eltwise_sum", {}, std::vector<Shape<4>>(n, Shape4(2, 3, 1, 2)));
    ASSERT_TRUE(rig.layer->FuseRelu());
    EXPECT_TRUE(rig.layer->BackwardReadsOutput(0));  // the mask
    FillInputs(rig, 5);
    rig.Forward();
    int positive = 0;
    for (index_t i = 0; i < 12; ++i) {
      double sum = 0;
      for (auto* in : rig.in) sum += in->data.dptr_[i];
      ASSERT_NEAR(rig.out[0]->data.dptr_[i], std::max(sum, 0.0), 1e-15);
      rig.out[0]->grad.dptr_[i] = i + 1.0;
      positive += sum > 0;
    }
    EXPECT_GT(positive, 0);
    EXPECT_LT(positive, 12);  // both sides of the kink
    rig.layer->Backward(true, rig.in, rig.out);
    for (auto* in : rig.in)
      for (index_t i = 0; i < 12; ++i)
        ASSERT_EQ(in->grad.dptr_[i], rig.out[0]->data.dptr_[i] > 0 ? i + 1.0 : 0.0);
  }
  test::GradCheck("eltwise_sum", {}, {Shape4(2, 2, 2, 2), Shape4(2, 2, 2, 2)}, {}, -1, 1, 1e-5, 60, 1, true);
  test::GradCheck("eltwise_sum", {}, {Shape4(2, 2, 1, 3), Shape4(2, 2, 1, 3), Shape4(2, 2, 1, 3)}, {}, -1, 1, 1e-5, 60,
                  1, true);
}

TEST(Bias, KnownAnswerInplaceAndGradientCheck) {
  for (bool inplace : {false, true}) {
    test::LayerRig<cpu, double> rig("bias", {{"init_bias", "0.5"}}, {Shape4(3, 1, 1, 4)}, inplace);
    ASSERT_EQ(rig.out[0]->shape, Shape4(3, 1, 1, 4));
    Tensor<cpu, 2, double> b, gb;
    rig.layer->VisitWeights([&](const std::string& tag, Tensor<cpu, 2, double> w, Tensor<cpu, 2, double> g) {
      EXPECT_EQ(tag, "bias");
      b = w, gb = g;
    });
    ASSERT_EQ(b.shape_, Shape2(1, 4));
    EXPECT_EQ(b.dptr_[0], 0.5);
    b.dptr_[3] = -1;
    FillInputs(rig, 6);
    TensorContainer<cpu, 4, double> x(rig.in[0]->data.view());
    rig.Forward();
    for (index_t i = 0; i < 12; ++i)
      ASSERT_DOUBLE_EQ(rig.out[0]->data.dptr_[i], x.dptr_[i] + (i % 4 == 3 ? -1 : 0.5));
    for (index_t i = 0; i < 12; ++i) rig.out[0]->grad.dptr_[i] = double(i);
    rig.layer->Backward(true, rig.in, rig.out);
    for (index_t k = 0; k < 4; ++k) EXPECT_DOUBLE_EQ(gb.dptr_[k], 3.0 * k + 12);
    for (index_t i = 0; i < 12; ++i) ASSERT_EQ(rig.in[0]->grad.dptr_[i], double(i));
  }
  test::GradCheck("bias", {}, {Shape4(4, 1, 1, 5)});
}

TEST(Structure, BadInputsNameLayerAndShapes) {
  auto& reg = nn::LayerRegistry<cpu>::Get();
  auto cat = reg.Create("ch_concat");
  cat->set_name("cc");
  std::string m = test::ErrorOf([&] { cat->InferShape({Shape4(2, 1, 3, 3), Shape4(2, 4, 3, 2)}); });
  EXPECT_NE(m.find("cc"), std::string::npos) << m;
  EXPECT_NE(m.find("(2,1,3,3)"), std::string::npos) << m;
  EXPECT_NE(m.find("(2,4,3,2)"), std::string::npos) << m;
  m = test::ErrorOf([&] { reg.Create("concat")->InferShape({Shape4(2, 1, 1, 3), Shape4(3, 1, 1, 3)}); });
  EXPECT_NE(m.find("(3,1,1,3)"), std::string::npos) << m;
  m = test::ErrorOf([&] { reg.Create("concat")->InferShape({Shape4(2, 1, 1, 3)}); });
  EXPECT_NE(m.find("at least 2"), std::string::npos) << m;
  m = test::ErrorOf([&] { reg.Create("eltwise_sum")->InferShape({Shape4(2, 1, 1, 3), Shape4(2, 1, 1, 4)}); });
  EXPECT_NE(m.find("eltwise_sum"), std::string::npos) << m;
  EXPECT_NE(m.find("(2,1,1,4)"), std::string::npos) << m;
  auto bias = reg.Create("bias");
  bias->set_name("b7");
  m = test::ErrorOf([&] { bias->InferShape({Shape4(2, 3, 1, 4)}); });
  EXPECT_NE(m.find("b7"), std::string::npos) << m;
  EXPECT_NE(m.find("(2,3,1,4)"), std::string::npos) << m;
  m = test::ErrorOf([&] { bias->SetParam("init_bias", "x"); });
  EXPECT_NE(m.find("init_bias"), std::string::npos) << m;
  EXPECT_EQ(reg.Create("split")->NumIn(), 1);
  EXPECT_EQ(reg.Create("eltwise_sum")->NumIn(), -1);
}

TEST(Structure, SaveLoadRoundTrip) {
  test::SaveLoadRoundTrip("flatten", {}, {Shape4(2, 3, 2, 2)});
  test::SaveLoadRoundTrip("split", {}, {Shape4(2, 2, 1, 3)});
  test::SaveLoadRoundTrip("concat", {}, {Shape4(2, 1, 1, 3), Shape4(2, 1, 1, 2)});
  test::SaveLoadRoundTrip("ch_concat", {}, {Shape4(2, 2, 2, 3), Shape4(2, 1, 2, 3)});
  test::SaveLoadRoundTrip("eltwise_sum", {}, {Shape4(2, 3, 1, 2), Shape4(2, 3, 1, 2)});
  test::SaveLoadRoundTrip("bias", {{"init_bias", "0.5"}}, {Shape4(3, 1, 1, 4)});
}

}  // namespace
}  // namespace umbra
