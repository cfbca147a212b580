// Pooling layers through the harness: cxxnet's ceil-mode output sizes, forward against a plain
// loop (overhanging and padded windows clipped), gradient checks of every type, bad parameters.
#include <algorithm>
#include <cmath>
#include <limits>

#include "harness/layer_check.h"

namespace umbra {
namespace {
UMBRA_COVERS_LAYER("max_pooling");
UMBRA_COVERS_LAYER("avg_pooling");
UMBRA_COVERS_LAYER("sum_pooling");
UMBRA_COVERS_LAYER("global_max_pooling");
UMBRA_COVERS_LAYER("global_avg_pooling");

// Plain pooling loop; kind 0 max, 1 sum, 2 avg (divided by the full window, as cxxnet).
std::vector<double> LoopPool(const Tensor<cpu, 4, double>& x, int kind, index_t k, index_t s,
                             index_t p, index_t oh, index_t ow) {
  std::vector<double> y;
  for (index_t n = 0; n < x.size(0); ++n)
    for (index_t c = 0; c < x.size(1); ++c)
      for (index_t oy = 0; oy < oh; ++oy)
        for (index_t ox = 0; ox < ow; ++ox) {
          double acc = kind == 0 ? -std::numeric_limits<double>::infinity() : 0;
          for (index_t h = oy * s - p; h < oy * s - p + k; ++h)
            for (index_t w = ox * s - p; w < ox * s - p + k; ++w) {
              if (h < 0 || h >= x.size(2) || w < 0 || w >= x.size(3)) continue;
              const double v = test::At(x, n, c, h, w);
              acc = kind == 0 ? std::max(acc, v) : acc + v;
            }
          y.push_back(kind == 2 ? acc / double(k * k) : acc);
        }
  return y;
}

TEST(Pooling, CeilModeShapesAndForward) {
  const char* types[] = {"max_pooling", "sum_pooling", "avg_pooling"};
  struct Case { index_t h, w, k, s, p, oh, ow; };
  // 6 with k3 s2: cxxnet gives min(6-3+1, 5)/2+1 = 3 (floor mode would give 2): overhang.
  const Case cases[] = {{6, 7, 3, 2, 0, 3, 3}, {5, 5, 2, 2, 1, 3, 3}, {4, 4, 3, 1, 0, 2, 2},
                        {3, 3, 3, 3, 0, 1, 1}};
  for (int kind = 0; kind < 3; ++kind)
    for (const Case& c : cases) {
      SCOPED_TRACE(std::string(types[kind]) + " case h=" + std::to_string(c.h));
      test::LayerRig<cpu, double> rig(types[kind],
                                      {{"kernel_size", std::to_string(c.k)},
                                       {"stride", std::to_string(c.s)},
                                       {"pad", std::to_string(c.p)}},
                                      {Shape4(2, 3, c.h, c.w)});
      ASSERT_EQ(rig.out[0]->shape, Shape4(2, 3, c.oh, c.ow));
      Random<cpu, double> rnd(3);
      rnd.SampleUniform(&rig.in[0]->data, -1.0, 1.0);
      rig.Forward();
      test::ExpectEqualsRef(rig.out[0]->data.view(),
                            LoopPool(rig.in[0]->data, kind, c.k, c.s, c.p, c.oh, c.ow), 1e-12);
    }
}

TEST(Pooling, KnownAnswerAndGlobal) {
  // 1..16 in a 4x4 plane; 2x2 windows at stride 2.
  test::LayerRig<cpu, float> mx("max_pooling", {{"kernel_size", "2"}, {"stride", "2"}},
                                {Shape4(1, 1, 4, 4)});
  test::LayerRig<cpu, float> av("avg_pooling", {{"kernel_size", "2"}, {"stride", "2"}},
                                {Shape4(1, 1, 4, 4)});
  test::LayerRig<cpu, float> gm("global_max_pooling", {}, {Shape4(1, 1, 4, 4)});
  test::LayerRig<cpu, float> ga("global_avg_pooling", {}, {Shape4(1, 1, 4, 4)});
  for (auto* r : {&mx, &av, &gm, &ga}) {
    for (index_t i = 0; i < 16; ++i) r->in[0]->data.dptr_[i] = float(i + 1);
    r->Forward();
  }
  test::ExpectEqualsRef(mx.out[0]->data.view(), {6, 8, 14, 16}, 1e-6);
  test::ExpectEqualsRef(av.out[0]->data.view(), {3.5, 5.5, 11.5, 13.5}, 1e-6);
  EXPECT_EQ(gm.out[0]->shape, Shape4(1, 1, 1, 1));
  test::ExpectEqualsRef(gm.out[0]->data.view(), {16}, 1e-6);
  test::ExpectEqualsRef(ga.out[0]->data.view(), {8.5}, 1e-6);
  test::LayerRig<cpu, float> g2("global_avg_pooling", {}, {Shape4(3, 5, 2, 7)});
  EXPECT_EQ(g2.out[0]->shape, Shape4(3, 5, 1, 1));
}

// A NaN is the maximum of a window holding one, and the window's first NaN takes its gradient
// (PyTorch's max_pool2d propagates it too): skipping NaN cells hid a diverged layer from the
// loss (a window of NaNs gave -inf, a relu 0). Maxout and global max pooling share the reducer.
TEST(Pooling, MaxPropagatesNaN) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  test::LayerRig<cpu, float> mx("max_pooling", {{"kernel_size", "2"}, {"stride", "2"}}, {Shape4(1, 1, 4, 4)});
  test::LayerRig<cpu, float> gm("global_max_pooling", {}, {Shape4(1, 1, 4, 4)});
  test::LayerRig<cpu, float> mo("maxout", {{"num_maxout", "2"}}, {Shape4(1, 4, 1, 2)});
  for (auto* r : {&mx, &gm}) {
    for (index_t i = 0; i < 16; ++i) r->in[0]->data.dptr_[i] = float(i + 1);
    r->in[0]->data.dptr_[0] = r->in[0]->data.dptr_[1] = r->in[0]->data.dptr_[15] = nan;  // two in one window
    r->Forward();
  }
  const float xo[8] = {nan, 1, 2, 3, 4, 5, nan, nan};  // maxout pairs: (nan, 2), (1, 3), (4, nan), (5, nan)
  std::copy(xo, xo + 8, mo.in[0]->data.dptr_);
  mo.Forward();
  const Tensor<cpu, 4> y = mx.out[0]->data.view(), g = gm.out[0]->data.view(), o = mo.out[0]->data.view();
  EXPECT_TRUE(std::isnan(y.dptr_[0]) && y.dptr_[1] == 8 && y.dptr_[2] == 14 && std::isnan(y.dptr_[3]));
  EXPECT_TRUE(std::isnan(g.dptr_[0]));
  EXPECT_TRUE(std::isnan(o.dptr_[0]) && o.dptr_[1] == 3 && std::isnan(o.dptr_[2]) && std::isnan(o.dptr_[3]));
  for (auto* r : {&mx, &gm, &mo}) {
    for (index_t i = 0; i < r->out[0]->grad.Size(); ++i) r->out[0]->grad.dptr_[i] = float(i + 1);
    r->layer->Backward(true, r->in, r->out);
  }
  const float want_mx[16] = {1, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 3, 0, 4};  // the first NaN of each window
  const float want_gm[16] = {1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  const float want_mo[8] = {1, 0, 0, 2, 0, 0, 3, 4};
  for (index_t i = 0; i < 16; ++i) {
    EXPECT_EQ(mx.in[0]->grad.dptr_[i], want_mx[i]) << "max_pooling, cell " << i;
    EXPECT_EQ(gm.in[0]->grad.dptr_[i], want_gm[i]) << "global_max_pooling, cell " << i;
  }
  for (index_t i = 0; i < 8; ++i) EXPECT_EQ(mo.in[0]->grad.dptr_[i], want_mo[i]) << "maxout, cell " << i;
}

// An infinite gradient goes to the window's maximum alone: inf * 0 gave the other cells of a
// tiled window NaN on the CPU (the GPU kernels and the overlapping windows' path gave 0).
TEST(Pooling, InfiniteGradientReachesTheMaximumOnly) {
  const float inf = std::numeric_limits<float>::infinity();
  for (const char* k : {"2", "3"}) {  // 2x2 stride 2 tiles the image; 3x3 stride 1 overlaps
    SCOPED_TRACE(std::string("kernel ") + k);
    const bool tiled = std::string(k) == "2";
    test::LayerRig<cpu, float> r("max_pooling", {{"kernel_size", k}, {"stride", tiled ? "2" : "1"}},
                                 {Shape4(1, 1, 4, 4)});
    for (index_t i = 0; i < 16; ++i) r.in[0]->data.dptr_[i] = float(i + 1);  // each window's maximum is its last
    r.Forward();
    for (index_t i = 0; i < 4; ++i) r.out[0]->grad.dptr_[i] = i % 2 ? -inf : inf;
    r.layer->Backward(true, r.in, r.out);
    for (index_t i = 0; i < 16; ++i) {
      const float g = r.in[0]->grad.dptr_[i];
      EXPECT_FALSE(std::isnan(g)) << "cell " << i;
      const bool maximum = tiled ? (i / 4) % 2 == 1 && i % 2 == 1 : i / 4 >= 2 && i % 4 >= 2;
      if (!maximum) EXPECT_EQ(g, 0.f) << "cell " << i;
    }
  }
  test::LayerRig<cpu, float> mo("maxout", {{"num_maxout", "2"}}, {Shape4(1, 4, 1, 2)});
  for (index_t i = 0; i < 8; ++i) mo.in[0]->data.dptr_[i] = float(i);  // channel 2g + 1 wins each pair
  mo.Forward();
  for (index_t i = 0; i < 4; ++i) mo.out[0]->grad.dptr_[i] = inf;
  mo.layer->Backward(true, mo.in, mo.out);
  const float want[8] = {0, 0, inf, inf, 0, 0, inf, inf};
  for (index_t i = 0; i < 8; ++i) EXPECT_EQ(mo.in[0]->grad.dptr_[i], want[i]) << "maxout, cell " << i;
}

TEST(Pooling, GradientCheck) {
  // Random uniform inputs have no ties, so max is differentiable at the sample points.
  for (const char* t : {"max_pooling", "sum_pooling", "avg_pooling"}) {
    test::GradCheck(t, {{"kernel_size", "3"}, {"stride", "2"}}, {Shape4(2, 2, 6, 7)});  // overhang
    test::GradCheck(t, {{"kernel_size", "2"}}, {Shape4(1, 3, 4, 5)});  // overlapping, stride 1
    test::GradCheck(t, {{"kernel_height", "3"}, {"kernel_width", "2"}, {"stride", "2"},
                        {"pad_y", "1"}, {"pad_x", "1"}},
                    {Shape4(2, 1, 5, 6)});
  }
  test::GradCheck("global_max_pooling", {}, {Shape4(2, 3, 4, 5)});
  test::GradCheck("global_avg_pooling", {}, {Shape4(2, 3, 4, 5)});
}

TEST(Pooling, BadShapesAndParameters) {
  auto layer = nn::LayerRegistry<cpu>::Get().Create("max_pooling");
  layer->set_name("p1");
  std::string m = test::ErrorOf([&] { layer->InferShape({Shape4(1, 2, 5, 5)}); });
  EXPECT_NE(m.find("kernel_size"), std::string::npos) << m;
  layer->SetParam("kernel_size", "4");
  m = test::ErrorOf([&] { layer->InferShape({Shape4(1, 2, 3, 5)}); });
  EXPECT_NE(m.find("p1"), std::string::npos) << m;
  EXPECT_NE(m.find("(1,2,3,5)"), std::string::npos) << m;
  layer->SetParam("pad", "4");
  m = test::ErrorOf([&] { layer->InferShape({Shape4(1, 2, 8, 8)}); });
  EXPECT_NE(m.find("pad"), std::string::npos) << m;
  m = test::ErrorOf([&] { layer->SetParam("stride", "0"); });
  EXPECT_NE(m.find("stride"), std::string::npos) << m;
  EXPECT_NE(m.find("p1"), std::string::npos) << m;
  EXPECT_FALSE(layer->SetParam("nchannel", "3"));
  // pad_y = -1 written out is the default the help gives: pad's value; below that, an error.
  layer->SetParam("stride", "1");
  layer->SetParam("pad", "1");
  layer->SetParam("pad_x", "-1");
  layer->SetParam("pad_y", "0");
  EXPECT_EQ(layer->InferShape({Shape4(1, 2, 8, 8)})[0], Shape4(1, 2, 5, 7));
  EXPECT_NE(test::ErrorOf([&] { layer->SetParam("pad_y", "-2"); }).find("pad_y"), std::string::npos);
  // The later key wins, as in cxxnet: pad after pad_y sets both; kernel_size after kernel_width.
  layer->SetParam("pad", "0");
  layer->SetParam("kernel_width", "2");
  layer->SetParam("kernel_size", "4");
  EXPECT_EQ(layer->InferShape({Shape4(1, 2, 8, 8)})[0], Shape4(1, 2, 5, 5));
  EXPECT_NE(layer->KeyWithoutEffect("pad_y").find("pad after it sets both sides"), std::string::npos);
  EXPECT_NE(layer->KeyWithoutEffect("kernel_width").find("kernel_size after it sets both sides"), std::string::npos);
  auto global = nn::LayerRegistry<cpu>::Get().Create("global_avg_pooling");
  EXPECT_FALSE(global->SetParam("kernel_size", "3"));
}

TEST(Pooling, SaveLoadRoundTrip) {
  for (const char* t : {"max_pooling", "avg_pooling", "sum_pooling"})
    test::SaveLoadRoundTrip(t, {{"kernel_size", "3"}, {"stride", "2"}}, {Shape4(2, 2, 6, 7)});
  test::SaveLoadRoundTrip("global_max_pooling", {}, {Shape4(2, 3, 4, 5)});
  test::SaveLoadRoundTrip("global_avg_pooling", {}, {Shape4(2, 3, 4, 5)});
}

}  // namespace
}  // namespace umbra
