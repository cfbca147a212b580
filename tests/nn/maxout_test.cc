// maxout through the layer harness: shapes (images and vectors), a known answer and the routing
// of the gradient to the maxima, gradient checks, bad shapes and parameters.
#include "harness/layer_check.h"

namespace umbra {
namespace {
UMBRA_COVERS_LAYER("maxout");

TEST(Maxout, Shapes) {
  test::LayerRig<cpu, float> img("maxout", {{"num_maxout", "3"}}, {Shape4(2, 6, 2, 3)});
  EXPECT_EQ(img.out[0]->shape, Shape4(2, 2, 2, 3));
  test::LayerRig<cpu, float> vec("maxout", {{"num_maxout", "2"}}, {Shape4(2, 1, 1, 6)});
  EXPECT_EQ(vec.out[0]->shape, Shape4(2, 1, 1, 3));
  test::LayerRig<cpu, float> cx("maxout", {{"maxout_unit", "3"}}, {Shape4(2, 1, 1, 6)});  // cxxnet's key
  EXPECT_EQ(cx.out[0]->shape, Shape4(2, 1, 1, 2));
  auto layer = nn::LayerRegistry<cpu>::Get().Create("maxout");
  layer->set_name("mo1");
  std::string m = test::ErrorOf([&] { layer->InferShape({Shape4(2, 5, 1, 1)}); });
  EXPECT_NE(m.find("num_maxout"), std::string::npos) << m;  // required key missing
  ASSERT_TRUE(layer->SetParam("num_maxout", "2"));
  m = test::ErrorOf([&] { layer->InferShape({Shape4(2, 5, 3, 1)}); });
  EXPECT_NE(m.find("mo1"), std::string::npos) << m;
  EXPECT_NE(m.find("(2,5,3,1)"), std::string::npos) << m;
}

TEST(Maxout, KnownAnswerAndGradientRouting) {
  // (N=2, C=4, H=1, W=3), k = 2: out[n, g, w] = max(in[n, 2g, w], in[n, 2g+1, w]).
  test::LayerRig<cpu, float> rig("maxout", {{"num_maxout", "2"}}, {Shape4(2, 4, 1, 3)});
  Tensor<cpu, 4> x = rig.in[0]->data;
  for (index_t i = 0; i < x.Size(); ++i) x.dptr_[i] = float((i * 7) % 11) - 5.f;
  rig.Forward();
  for (index_t i = 0; i < rig.out[0]->grad.Size(); ++i) rig.out[0]->grad.dptr_[i] = float(i + 1);
  rig.layer->Backward(true, rig.in, rig.out);
  for (index_t n = 0; n < 2; ++n)
    for (index_t g = 0; g < 2; ++g)
      for (index_t w = 0; w < 3; ++w) {
        const float a = test::At(x, n, 2 * g, 0, w), b = test::At(x, n, 2 * g + 1, 0, w);
        EXPECT_EQ(test::At(rig.out[0]->data.view(), n, g, 0, w), std::max(a, b));
        const float go = test::At(rig.out[0]->grad.view(), n, g, 0, w);
        EXPECT_EQ(test::At(rig.in[0]->grad.view(), n, 2 * g, 0, w), a >= b ? go : 0.f);
        EXPECT_EQ(test::At(rig.in[0]->grad.view(), n, 2 * g + 1, 0, w), b >= a ? go : 0.f);
      }
}

TEST(Maxout, GradientCheck) {
  // Random inputs: ties (where max is not differentiable) have probability 0.
  test::GradCheck("maxout", {{"num_maxout", "3"}}, {Shape4(2, 6, 2, 2)});
  test::GradCheck("maxout", {{"num_maxout", "2"}}, {Shape4(3, 1, 1, 8)});
  test::GradCheck("maxout", {{"num_maxout", "1"}}, {Shape4(2, 3, 1, 2)});
}

TEST(Maxout, BadParametersNameKey) {
  auto layer = nn::LayerRegistry<cpu>::Get().Create("maxout");
  layer->set_name("mo2");
  std::string m = test::ErrorOf([&] { layer->SetParam("num_maxout", "0"); });
  EXPECT_NE(m.find("mo2"), std::string::npos) << m;
  EXPECT_NE(m.find("num_maxout"), std::string::npos) << m;
  EXPECT_NE(test::ErrorOf([&] { layer->SetParam("num_maxout", "two"); }).find("num_maxout"),
            std::string::npos);
}

TEST(Maxout, SaveLoadRoundTrip) {
  test::SaveLoadRoundTrip("maxout", {{"num_maxout", "3"}}, {Shape4(2, 6, 2, 2)});
}

}  // namespace
}  // namespace umbra
