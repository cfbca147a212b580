// conv through the layer harness: shapes, forward against a direct 7-loop convolution (groups,
// stride, pad, bias), gradient checks of input and weights, chunked batches, bad parameters.
#include <cmath>

#include "cudnn/conv_cudnn.h"  // PickAlgo
#include "harness/layer_check.h"

namespace umbra {
namespace {
UMBRA_COVERS_LAYER("conv");

// Direct convolution: y[n, m, oy, ox] = b[m] + sum over the group's channels and taps.
std::vector<double> DirectConv(const Tensor<cpu, 4, double>& x, const Tensor<cpu, 2, double>& w,
                               const double* bias, index_t m, index_t kh, index_t kw, index_t s,
                               index_t ph, index_t pw, index_t g) {
  const index_t n = x.size(0), c = x.size(1), h = x.size(2), wd = x.size(3);
  const index_t oh = (h + 2 * ph - kh) / s + 1, ow = (wd + 2 * pw - kw) / s + 1;
  const index_t cg = c / g, mg = m / g;
  std::vector<double> y;
  for (index_t i = 0; i < n; ++i)
    for (index_t o = 0; o < m; ++o)
      for (index_t oy = 0; oy < oh; ++oy)
        for (index_t ox = 0; ox < ow; ++ox) {
          double acc = bias ? bias[o] : 0;
          for (index_t cc = 0; cc < cg; ++cc)
            for (index_t ky = 0; ky < kh; ++ky)
              for (index_t kx = 0; kx < kw; ++kx) {
                const index_t yy = oy * s - ph + ky, xx = ox * s - pw + kx;
                if (yy < 0 || yy >= h || xx < 0 || xx >= wd) continue;
                acc += test::At(x, i, (o / mg) * cg + cc, yy, xx) *
                       test::At(w, o, (cc * kh + ky) * kw + kx);
              }
          y.push_back(acc);
        }
  return y;
}

void CheckAgainstDirect(const test::KV& kv, Shape<4> in, index_t m, index_t kh, index_t kw,
                        index_t s, index_t ph, index_t pw, index_t g, bool bias) {
  test::LayerRig<cpu, double> rig("conv", kv, {in});
  Random<cpu, double> rnd(5);
  rnd.SampleUniform(&rig.in[0]->data, -1.0, 1.0);
  Tensor<cpu, 2, double> w, b;
  rig.layer->VisitWeights([&](const std::string& tag, Tensor<cpu, 2, double> t,
                              Tensor<cpu, 2, double>) {
    rnd.SampleUniform(&t, -1.0, 1.0);  // a random bias too, so broadcasting is checked
    (tag == "wmat" ? w : b) = t;
  });
  ASSERT_EQ(w.shape_, Shape2(m, in[1] / g * kh * kw));
  rig.Forward();
  const index_t oh = (in[2] + 2 * ph - kh) / s + 1, ow = (in[3] + 2 * pw - kw) / s + 1;
  ASSERT_EQ(rig.out[0]->shape, Shape4(in[0], m, oh, ow));
  test::ExpectEqualsRef(rig.out[0]->data.view(),
                        DirectConv(rig.in[0]->data, w, bias ? b.dptr_ : nullptr, m, kh, kw, s,
                                   ph, pw, g),
                        1e-12);
}

TEST(Conv, ForwardMatchesDirectConvolution) {
  CheckAgainstDirect({{"nchannel", "3"}, {"kernel_size", "3"}}, Shape4(2, 2, 5, 6), 3, 3, 3, 1,
                     0, 0, 1, true);
  CheckAgainstDirect({{"nchannel", "4"}, {"kernel_height", "3"}, {"kernel_width", "2"},
                      {"stride", "2"}, {"pad_y", "1"}, {"pad_x", "2"}, {"ngroup", "2"}},
                     Shape4(3, 4, 7, 5), 4, 3, 2, 2, 1, 2, 2, true);
  CheckAgainstDirect({{"nchannel", "6"}, {"kernel_size", "1"}, {"ngroup", "3"}, {"no_bias", "1"}},
                     Shape4(2, 3, 2, 3), 6, 1, 1, 1, 0, 0, 3, false);
  // temp_col_max 1 = 2^18 elements: forces chunks of 2 images ((27 x 65^2) columns per image).
  CheckAgainstDirect({{"nchannel", "2"}, {"kernel_size", "3"}, {"pad", "1"},
                      {"temp_col_max", "1"}},
                     Shape4(5, 3, 65, 65), 2, 3, 3, 1, 1, 1, 1, true);
}

TEST(Conv, KnownAnswer) {
  // One 3x3 image of 1..9, a 2x2 kernel of ones, bias 0.5: sums of each 2x2 block.
  test::LayerRig<cpu, float> rig("conv", {{"nchannel", "1"}, {"kernel_size", "2"},
                                          {"init_bias", "0.5"}},
                                 {Shape4(1, 1, 3, 3)});
  rig.layer->VisitWeights([](const std::string& tag, Tensor<cpu, 2> w, Tensor<cpu, 2>) {
    if (tag == "wmat") w = 1.f;
  });
  for (index_t i = 0; i < 9; ++i) rig.in[0]->data.dptr_[i] = float(i + 1);
  rig.Forward();
  test::ExpectEqualsRef(rig.out[0]->data.view(), {12.5, 16.5, 24.5, 28.5}, 1e-6);
}

TEST(Conv, GradientCheck) {
  test::GradCheck("conv", {{"nchannel", "3"}, {"kernel_size", "3"}}, {Shape4(2, 2, 5, 4)});
  test::GradCheck("conv", {{"nchannel", "4"}, {"kernel_size", "3"}, {"stride", "2"},
                           {"pad", "1"}, {"ngroup", "2"}},
                  {Shape4(2, 4, 6, 7)});
  test::GradCheck("conv", {{"nchannel", "2"}, {"kernel_height", "2"}, {"kernel_width", "3"},
                           {"pad_x", "1"}, {"no_bias", "1"}, {"init", "xavier"}},
                  {Shape4(3, 1, 4, 4)});
  // Several chunks of images (each 27 x 65^2 column > 2^18 / 2): accumulation across chunks.
  test::GradCheck("conv", {{"nchannel", "2"}, {"kernel_size", "3"}, {"pad", "1"},
                           {"temp_col_max", "1"}},
                  {Shape4(3, 3, 65, 65)}, {}, -1, 1, 1e-5, 20);
}

// A relu fused in (Layer::FuseRelu): max(0, conv + bias) in one pass, gradients through the
// mask; oneDNN (float, algo auto, where built with it) declines and the relu runs as written.
TEST(Conv, FusedRelu) {
  const test::KV keys = {{"nchannel", "3"}, {"kernel_size", "3"}, {"algo", "im2col"}, {"init", "xavier"}, {"init_bias", "0.05"}};
  test::LayerRig<cpu, float> plain("conv", keys, {Shape4(2, 2, 5, 4)}), fused("conv", keys, {Shape4(2, 2, 5, 4)});
  ASSERT_TRUE(fused.layer->FuseRelu());
  EXPECT_TRUE(fused.layer->BackwardReadsOutput(0));  // the mask
  Random<cpu> rnd(3);
  rnd.SampleUniform(&plain.in[0]->data, -1.f, 1.f);
  Copy(fused.in[0]->data, plain.in[0]->data);
  plain.Forward();
  fused.Forward();
  int positive = 0;
  for (index_t i = 0; i < plain.out[0]->data.Size(); ++i) {
    ASSERT_EQ(fused.out[0]->data.dptr_[i], std::max(plain.out[0]->data.dptr_[i], 0.f));
    positive += plain.out[0]->data.dptr_[i] > 0;
  }
  EXPECT_GT(positive, 0);
  EXPECT_LT(positive, plain.out[0]->data.Size());
  test::GradCheck("conv", {{"nchannel", "3"}, {"kernel_size", "3"}, {"pad", "1"}, {"init", "xavier"}}, {Shape4(2, 2, 5, 4)}, {}, -1, 1,
                  1e-5, 60, 1, true);
  test::GradCheck("conv", {{"nchannel", "2"}, {"kernel_size", "3"}, {"no_bias", "1"}, {"init", "xavier"}}, {Shape4(2, 2, 4, 4)}, {}, -1, 1,
                  1e-5, 60, 1, true);
#if defined(UMBRA_USE_DNNL) && UMBRA_USE_DNNL
  test::LayerRig<cpu, float> dnnl("conv", {{"nchannel", "3"}, {"kernel_size", "3"}}, {Shape4(2, 2, 5, 4)});
  EXPECT_FALSE(dnnl.layer->FuseRelu());
#endif
}

TEST(Conv, BadShapesAndParameters) {
  auto layer = nn::LayerRegistry<cpu>::Get().Create("conv");
  layer->set_name("c1");
  std::string m = test::ErrorOf([&] { layer->InferShape({Shape4(1, 2, 5, 5)}); });
  EXPECT_NE(m.find("nchannel"), std::string::npos) << m;
  layer->SetParam("nchannel", "4");
  m = test::ErrorOf([&] { layer->InferShape({Shape4(1, 2, 5, 5)}); });
  EXPECT_NE(m.find("kernel_size"), std::string::npos) << m;
  layer->SetParam("kernel_size", "3");
  layer->SetParam("ngroup", "4");
  m = test::ErrorOf([&] { layer->InferShape({Shape4(1, 2, 5, 5)}); });
  EXPECT_NE(m.find("c1"), std::string::npos) << m;
  EXPECT_NE(m.find("ngroup"), std::string::npos) << m;
  layer->SetParam("ngroup", "1");
  m = test::ErrorOf([&] { layer->InferShape({Shape4(1, 2, 2, 5)}); });
  EXPECT_NE(m.find("c1"), std::string::npos) << m;
  EXPECT_NE(m.find("(1,2,2,5)"), std::string::npos) << m;
  m = test::ErrorOf([&] { layer->SetParam("stride", "0"); });
  EXPECT_NE(m.find("stride"), std::string::npos) << m;
  EXPECT_NE(m.find("c1"), std::string::npos) << m;
  EXPECT_NE(test::ErrorOf([&] { layer->SetParam("pad", "-1"); }).find("pad"), std::string::npos);
  // pad_y = -1 written out is the default the help gives: pad's value; below that, an error.
  layer->SetParam("pad", "1");
  layer->SetParam("pad_y", "-1");
  EXPECT_EQ(layer->InferShape({Shape4(1, 2, 5, 5)})[0], Shape4(1, 4, 5, 5));
  layer->SetParam("pad_y", "0");
  EXPECT_EQ(layer->InferShape({Shape4(1, 2, 5, 5)})[0], Shape4(1, 4, 3, 5));
  EXPECT_NE(test::ErrorOf([&] { layer->SetParam("pad_x", "-2"); }).find("pad_x"), std::string::npos);
  // The later key wins, as in cxxnet: kernel_size and pad set both sides, replacing a side's key
  // given before them (kernel_height = 3, kernel_size = 5 was 3 rows by 5 columns), with a note.
  layer->SetParam("kernel_height", "1");
  layer->SetParam("kernel_size", "3");
  layer->SetParam("pad", "0");
  EXPECT_EQ(layer->InferShape({Shape4(1, 2, 5, 5)})[0], Shape4(1, 4, 3, 3));
  EXPECT_NE(layer->KeyWithoutEffect("kernel_height").find("kernel_size after it sets both sides"), std::string::npos);
  EXPECT_NE(layer->KeyWithoutEffect("pad_y").find("pad after it sets both sides"), std::string::npos);
  layer->SetParam("kernel_width", "1");
  EXPECT_EQ(layer->InferShape({Shape4(1, 2, 5, 5)})[0], Shape4(1, 4, 3, 5));
  EXPECT_EQ(layer->KeyWithoutEffect("kernel_width"), "");
  // cxxnet's cuDNN choices are auto here (they were refused).
  EXPECT_TRUE(layer->SetParam("algo", "fast"));
  EXPECT_TRUE(layer->SetParam("algo", "balance"));
  EXPECT_EQ(layer->InferShape({Shape4(1, 2, 5, 5)})[0], Shape4(1, 4, 3, 5));
  EXPECT_FALSE(layer->SetParam("nhidden", "3"));
  // A pad of 1e9 both ways: an error before any backend is made (oneDNN's float layer died of
  // SIGFPE inside InferShape), on every path.
  for (const char* algo : {"auto", "im2col"}) {
    auto big = nn::LayerRegistry<cpu>::Get().Create("conv");
    big->set_name("c2");
    for (auto [k, v] : {std::pair{"nchannel", "4"}, {"kernel_size", "3"}, {"pad", "1000000000"}, {"algo", algo}})
      big->SetParam(k, v);
    m = test::ErrorOf([&] { big->InferShape({Shape4(1, 1, 28, 28)}); });
    EXPECT_NE(m.find("c2"), std::string::npos) << m;
    EXPECT_NE(m.find("output shape (1,4,2000000026,2000000026) is too large (more than 2^40 elements)"),
              std::string::npos) << m;
  }
  // Weights past 2^40 elements (their size wrapped to a negative one), and an output that fits
  // the shape check but not the machine, are said before oneDNN is asked (its "could not create
  // a primitive" named no size).
  for (const char* algo : {"auto", "im2col"}) {
    SCOPED_TRACE(algo);
    auto huge = nn::LayerRegistry<cpu>::Get().Create("conv");
    huge->set_name("c3");
    for (auto [k, v] : {std::pair{"nchannel", "4"}, {"kernel_size", "2147483647"}, {"pad", "1073741820"},
                        {"stride", "2147483647"}, {"algo", algo}})
      huge->SetParam(k, v);
    m = test::ErrorOf([&] { huge->InferShape({Shape4(1, 3, 8, 8)}); });
    EXPECT_NE(m.find("layer 'c3' (conv): weights of shape (4,3x2147483647x2147483647) are too large (more than 2^40 "
                     "elements)"), std::string::npos) << m;
  }
  auto wide = nn::LayerRegistry<cpu>::Get().Create("conv");
  for (auto [k, v] : {std::pair{"nchannel", "2147483647"}, {"kernel_size", "3"}}) wide->SetParam(k, v);
  m = test::ErrorOf([&] { wide->InferShape({Shape4(10, 3, 8, 8)}); });
  EXPECT_NE(m.find("out of host memory"), std::string::npos) << m;
}

}  // namespace
}  // namespace umbra

namespace umbra {
namespace {

// The CPU float path runs oneDNN's convolution (when built with it); it must agree with the
// im2col reference path, which the double gradient checks above cover, in forward and backward.
TEST(Conv, OneDnnPathMatchesIm2col) {
  const std::vector<std::pair<test::KV, Shape<4>>> cases = {
      {{{"nchannel", "4"}, {"kernel_size", "3"}}, Shape4(2, 3, 7, 6)},
      {{{"nchannel", "6"}, {"kernel_size", "3"}, {"stride", "2"}, {"pad", "1"}, {"ngroup", "3"}}, Shape4(3, 6, 9, 8)},
      {{{"nchannel", "5"}, {"kernel_height", "5"}, {"kernel_width", "3"}, {"pad_y", "2"}, {"no_bias", "1"}}, Shape4(2, 1, 8, 8)},
  };
  for (const auto& [kv, shape] : cases) {
    test::KV fast = kv, ref = kv;
    ref.push_back({"algo", "im2col"});
    test::LayerRig<cpu, float> a("conv", fast, {shape}), b("conv", ref, {shape});
    Random<cpu> rnd(3);
    rnd.SampleUniform(&a.in[0]->data, -1.f, 1.f);
    Copy(b.in[0]->data.view(), a.in[0]->data.view());
    std::vector<Tensor<cpu, 2>> wa, wb, ga, gb;
    a.layer->VisitWeights([&](const std::string&, Tensor<cpu, 2> w, Tensor<cpu, 2> g) { wa.push_back(w), ga.push_back(g); });
    b.layer->VisitWeights([&](const std::string&, Tensor<cpu, 2> w, Tensor<cpu, 2> g) { wb.push_back(w), gb.push_back(g); });
    for (size_t i = 0; i < wa.size(); ++i) {
      rnd.SampleUniform(&wa[i], -1.f, 1.f);
      Copy(wb[i], wa[i]);
      ga[i] = 0.5f, gb[i] = 0.5f;  // gradients accumulate onto what is there
    }
    a.Forward(), b.Forward();
    EXPECT_TRUE(test::AllNear(a.out[0]->data.view(), b.out[0]->data.view(), 1e-4));
    rnd.SampleUniform(&a.out[0]->grad, -1.f, 1.f);
    Copy(b.out[0]->grad.view(), a.out[0]->grad.view());
    a.layer->Backward(true, a.in, a.out);
    b.layer->Backward(true, b.in, b.out);
    EXPECT_TRUE(test::AllNear(a.in[0]->grad.view(), b.in[0]->grad.view(), 1e-4));
    for (size_t i = 0; i < ga.size(); ++i) EXPECT_TRUE(test::AllNear(ga[i], gb[i], 1e-4)) << "weight " << i;
  }
}

TEST(Conv, SaveLoadRoundTrip) {
  test::SaveLoadRoundTrip("conv", {{"nchannel", "3"}, {"kernel_size", "3"}}, {Shape4(2, 2, 5, 4)});
  test::SaveLoadRoundTrip("conv", {{"nchannel", "4"}, {"kernel_size", "2"}, {"ngroup", "2"},
                                   {"no_bias", "1"}, {"pad", "1"}}, {Shape4(1, 4, 3, 3)});
}

// The cuDNN search's pick (PickAlgo, the rule itself: no cuDNN here): among the usable results
// within 3% of the fastest, the one that adds the least memory (none if its workspace fits what
// the pass's gap has free, else all of it), the faster of two that add the same; unusable
// results (failed, over the cap, math not allowed) never, however fast or small. No gap here.
TEST(Conv, CudnnPickTakesTheLeastWorkspaceWithinTheSlack) {
  using nn::AlgoTrial, nn::PickAlgo;
  const size_t MiB = size_t(1) << 20;
  const std::vector<AlgoTrial> t = {{0.5f, 0, false},          // fastest and free, but unusable
                                    {1.00f, 600 * MiB, true},  // fastest usable
                                    {1.02f, 40 * MiB, true},   // within 3%: least workspace
                                    {1.025f, 40 * MiB, true},  // as small, slower
                                    {1.05f, 0, true}};         // smallest, but 5% slower
  EXPECT_EQ(PickAlgo(t), 2);
  EXPECT_EQ(PickAlgo(t, 0, 0.0), 1);   // no slack: the fastest
  EXPECT_EQ(PickAlgo(t, 0, 0.06), 4);  // wide enough for the free one
  EXPECT_EQ(PickAlgo({{1.f, 0, false}}), -1);
  EXPECT_EQ(PickAlgo({}), -1);
  // A time that is no time (NaN, or a failed result's -1) never wins, nor sets the limit.
  EXPECT_EQ(PickAlgo({{std::nanf(""), 0, true}, {2.f, 8, true}}), 1);
  EXPECT_EQ(PickAlgo({{-1.f, 0, true}, {2.f, 8, true}}), 1);
  // Listed slowest first (the search sorts by time, the rule does not rely on it).
  EXPECT_EQ(PickAlgo({{2.f, 0, true}, {1.01f, 8, true}, {1.f, 9, true}}), 1);
}

// With a gap: a workspace that fits what is free of it adds nothing, so the fastest of those
// within the slack that fit; where none fits, the least workspace as without a gap.
TEST(Conv, CudnnPickTakesTheFastestThatFitsTheGap) {
  using nn::AlgoTrial, nn::PickAlgo;
  const size_t MiB = size_t(1) << 20;
  const std::vector<AlgoTrial> t = {{1.00f, 600 * MiB, true},
                                    {1.01f, 100 * MiB, true},
                                    {1.02f, 40 * MiB, true},
                                    {1.04f, 0, true}};  // outside the slack, free
  EXPECT_EQ(PickAlgo(t, 600 * MiB), 0);      // the fastest fits, exactly
  EXPECT_EQ(PickAlgo(t, 600 * MiB - 1), 1);  // a byte short: the next fastest that fits
  EXPECT_EQ(PickAlgo(t, 100 * MiB), 1);
  EXPECT_EQ(PickAlgo(t, 50 * MiB), 2);
  EXPECT_EQ(PickAlgo(t, 39 * MiB), 2);          // none fits: the least workspace within the slack
  EXPECT_EQ(PickAlgo(t, 1000 * MiB, 0.05), 0);  // all fit: the fastest, however wide the slack
  // Of two that fit, the faster, even where the slower needs no workspace at all.
  EXPECT_EQ(PickAlgo({{1.f, 0, true}, {0.99f, 8 * MiB, true}}, 8 * MiB), 1);
}

}  // namespace
}  // namespace umbra
