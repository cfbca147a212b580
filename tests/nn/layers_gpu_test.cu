// Every registered layer on the gpu against the cpu, from the same template: the same inputs,
// weights (copied from the cpu layer; biases, batch norm's gamma and beta and prelu's slopes
// drawn at random rather than left at their constant start), labels and output gradients;
// forward outputs, input gradients and weight gradients must agree within a stated tolerance
// (float; cuBLAS and oneDNN sum in other orders). Stochastic layers (dropout, rrelu/insanity) are compared in test mode,
// where they are deterministic, and checked in training against their definitions
// (StochasticLayersTrainAsDefined). Tolerance 2e-4 relative (1e-3 for TF32 convolutions, allowed by
// default as in PyTorch: their inputs, weights and output gradients are rounded to TF32's 10-bit
// mantissa on the host first, so direct and implicit-GEMM products are exact and only summation
// order differs; gradients see note kTf32Grad). A row per layer type; a test fails for any
// registered type without a row, so a new layer cannot skip its gpu check. Skips cleanly
// without a device.
#include <algorithm>
#include <cstring>
#include <fstream>
#include <limits>
#include <map>

#include "cudnn/conv_cudnn.h"
#include "cudnn/pool_cudnn.h"
#include "harness/gpu_compare.h"
#include "harness/layer_check.h"
#include "umbra/tensor/bf16.h"

namespace umbra {
namespace {

struct Case {
  std::string type;
  test::KV params;
  std::vector<Shape<4>> in;
  std::vector<float> label;  // empty: no label; otherwise one value per row (width 1) or more
  index_t label_width = 1;
  bool stochastic = false;
  bool inplace = false;  // out == in, as configs run activations
  bool fuse_relu = false;  // a relu fused in (Layer::FuseRelu), as nets do after these layers
  int fuse_add = 0;  // 1: a sum fused in (Layer::FuseAdd), the second input its addend; 2: with
                     // a relu, its mask from the addend (Layer::AddendOutlivesBackward), not the output
};

std::string FixconnFile() {
  const std::string path = ::testing::TempDir() + "umbra_gpu_fixconn.txt";
  std::ofstream(path) << "0.5 -1 2 0 1 3\n1 1 1 1 1 1\n-2 0.25 0 0 1 -1\n";
  return path;
}

// n labels around `mid`, each other than its neighbours (within +-0.7).
std::vector<float> Spread(size_t n, float mid) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = mid + 0.1f * float(int(i * 5 % 13) - 6) + 0.01f * float(i % 3);
  return v;
}

std::vector<Case> Cases() {
  const Shape<4> img = Shape4(3, 4, 6, 5), flat = Shape4(4, 1, 1, 7);
  return {
      {"fullc", {{"nhidden", "5"}}, {Shape4(4, 3, 2, 1)}},
      {"conv", {{"nchannel", "4"}, {"kernel_size", "3"}, {"stride", "2"}, {"pad", "1"}}, {img}},
      {"conv", {{"nchannel", "6"}, {"kernel_size", "3"}, {"ngroup", "2"}}, {img}},
      // The im2col + cuBLAS path against the same cpu result: with the rows above (cuDNN when
      // built with it), cuDNN and non-cuDNN paths agree.
      {"conv", {{"nchannel", "4"}, {"kernel_size", "3"}, {"stride", "2"}, {"pad", "1"}, {"algo", "im2col"}}, {img}},
      {"conv", {{"nchannel", "6"}, {"kernel_size", "3"}, {"ngroup", "2"}, {"algo", "im2col"}}, {img}},
      {"conv", {{"nchannel", "5"}, {"kernel_size", "3"}, {"tf32", "0"}}, {img}},
      {"conv", {{"nchannel", "4"}, {"kernel_size", "3"}, {"pad", "1"}, {"dtype", "bf16"}}, {img}},
      {"conv", {{"nchannel", "4"}, {"kernel_size", "3"}, {"dtype", "bf16"}, {"tf32", "0"}}, {img}},
      {"fullc", {{"nhidden", "6"}, {"dtype", "bf16"}}, {Shape4(4, 3, 2, 1)}},
      {"fullc", {{"nhidden", "5"}}, {Shape4(4, 3, 2, 1)}, {}, 1, false, false, true},
      {"fullc", {{"nhidden", "6"}, {"dtype", "bf16"}}, {Shape4(4, 3, 2, 1)}, {}, 1, false, false, true},
      {"conv", {{"nchannel", "4"}, {"kernel_size", "3"}, {"pad", "1"}}, {img}, {}, 1, false, false, true},
      {"conv", {{"nchannel", "4"}, {"kernel_size", "3"}, {"no_bias", "1"}}, {img}, {}, 1, false, false, true},
      {"conv", {{"nchannel", "4"}, {"kernel_size", "3"}, {"algo", "im2col"}}, {img}, {}, 1, false, false, true},
      // bf16: bias and relu applied as cuDNN's bf16 output is converted back
      {"conv", {{"nchannel", "4"}, {"kernel_size", "3"}, {"pad", "1"}, {"dtype", "bf16"}}, {img}, {}, 1, false, false, true},
      // Windows and padding unequal along the axes (images are 6 x 5): a swapped pair shows.
      {"conv", {{"nchannel", "4"}, {"kernel_height", "3"}, {"kernel_width", "2"}, {"pad_y", "1"}, {"pad_x", "0"}}, {img}},
      {"conv", {{"nchannel", "4"}, {"kernel_height", "3"}, {"kernel_width", "2"}, {"pad_y", "1"}, {"pad_x", "0"},
                {"algo", "im2col"}}, {img}},
      {"conv", {{"nchannel", "4"}, {"kernel_height", "3"}, {"kernel_width", "2"}, {"pad_y", "1"}, {"pad_x", "0"},
                {"dtype", "bf16"}}, {img}},
      {"max_pooling", {{"kernel_height", "3"}, {"kernel_width", "2"}, {"stride", "1"}, {"pad_y", "1"}, {"pad_x", "0"}}, {img}},
      {"avg_pooling", {{"kernel_height", "3"}, {"kernel_width", "2"}, {"stride", "1"}, {"pad_y", "1"}, {"pad_x", "0"}}, {img}},
      {"fixconn", {{"nhidden", "3"}, {"fixconn_weight", FixconnFile()}, {"fixconn_format", "dense"}}, {Shape4(2, 2, 1, 3)}},
      // max pooling: umbra's kernels by default, cuDNN (where it pools alike) and the expressions
      {"max_pooling", {{"kernel_size", "3"}, {"stride", "2"}}, {img}},  // ceil mode
      {"max_pooling", {{"kernel_size", "2"}, {"stride", "2"}}, {Shape4(3, 4, 6, 8)}},
      {"max_pooling", {{"kernel_size", "2"}, {"stride", "2"}, {"algo", "cudnn"}}, {Shape4(3, 4, 6, 8)}},
      {"max_pooling", {{"kernel_size", "3"}, {"stride", "1"}, {"pad", "1"}}, {img}},
      {"max_pooling", {{"kernel_size", "3"}, {"stride", "1"}, {"pad", "1"}, {"algo", "cudnn"}}, {img}},
      {"max_pooling", {{"kernel_size", "3"}, {"stride", "2"}, {"algo", "cudnn"}}, {img}},  // expressions
      {"max_pooling", {{"kernel_size", "2"}, {"stride", "2"}, {"algo", "expr"}}, {Shape4(3, 4, 6, 8)}},
      {"avg_pooling", {{"kernel_size", "3"}, {"stride", "1"}, {"pad", "1"}}, {img}},  // cuDNN, padded
      {"avg_pooling", {{"kernel_size", "2"}, {"stride", "2"}}, {img}},
      {"sum_pooling", {{"kernel_size", "3"}, {"stride", "1"}}, {img}},
      {"global_max_pooling", {}, {img}},
      {"global_max_pooling", {{"algo", "expr"}}, {img}},
      {"global_avg_pooling", {}, {img}},
      {"global_avg_pooling", {{"algo", "expr"}}, {img}},
      {"global_avg_pooling", {}, {Shape4(2, 3, 4, 4)}},  // backward on the packed path
      {"lrn", {{"local_size", "3"}, {"alpha", "0.5"}, {"beta", "0.75"}}, {img}},
      // batch norm: algo=auto is umbra's kernels (cuDNN's from 129 channels until 2026-12-05)
      {"batch_norm", {}, {img}},
      {"batch_norm", {}, {Shape4(2, 130, 2, 3)}},
      {"batch_norm", {{"algo", "cudnn"}}, {img}},
      {"batch_norm", {{"algo", "cudnn"}}, {Shape4(2, 130, 2, 3)}},
      {"batch_norm", {{"algo", "expr"}}, {img}},
      {"batch_norm", {}, {Shape4(5, 1, 1, 6)}},  // a vector: per feature
      {"batch_norm", {{"algo", "cudnn"}}, {Shape4(5, 1, 1, 6)}},
      {"batch_norm_no_ma", {}, {img}},
      {"batch_norm_no_ma", {{"algo", "cudnn"}}, {img}},
      {"batch_norm", {{"algo", "expr"}}, {img}, {}, 1, false, false, true},
      {"batch_norm_no_ma", {{"algo", "expr"}}, {Shape4(5, 1, 1, 6)}, {}, 1, false, false, true},
      // A ResNet block's last batch norm with the residual sum (and its relu) fused in.
      {"batch_norm", {{"algo", "expr"}}, {img, img}, {}, 1, false, false, false, 1},
      {"batch_norm", {{"algo", "expr"}}, {img, img}, {}, 1, false, false, true, 1},
      {"batch_norm", {{"algo", "expr"}}, {img, img}, {}, 1, false, false, true, 2},
      // A batch over the 65535 cuDNN takes: algo=auto keeps umbra's kernels (so a relu fuses).
      {"batch_norm", {}, {Shape4(65536, 1, 1, 3)}, {}, 1, false, false, true},
      {"bias", {}, {flat}},
      {"prelu", {{"init_slope", "0.3"}}, {img}},
      // relu, sigmoid, tanh and softmax: cuDNN when built with it, and the expressions.
      {"relu", {}, {img}},
      {"relu", {{"algo", "expr"}}, {img}},
      {"sigmoid", {}, {img}},
      {"sigmoid", {{"algo", "expr"}}, {img}},
      {"tanh", {}, {img}},
      {"tanh", {{"algo", "expr"}}, {img}},
      {"relu", {}, {img}, {}, 1, false, true},
      {"relu", {}, {Shape4(2, 8, 256, 256)}},  // 1M elements: cuDNN's launch over a long row
      {"sigmoid", {}, {img}, {}, 1, false, true},
      {"tanh", {}, {img}, {}, 1, false, true},
      {"softplus", {}, {img}},
      {"elu", {}, {img}},
      {"leaky_relu", {}, {img}},
      {"xelu", {}, {img}},
      {"maxout", {{"num_maxout", "2"}}, {img}},
      {"flatten", {}, {img}},
      {"to_nhwc", {}, {img}},
      {"to_nchw", {}, {img}},
      {"to_nchw", {}, {Shape4(3, 1, 1, 5)}},  // the identity in memory: a copy
      {"split", {}, {img}},
      {"concat", {}, {Shape4(3, 1, 1, 4), Shape4(3, 1, 1, 6)}},
      {"ch_concat", {}, {Shape4(3, 2, 3, 3), Shape4(3, 3, 3, 3)}},
      {"eltwise_sum", {}, {img, img}},
      {"eltwise_sum", {}, {img, img, img}, {}, 1, false, false, true},
      {"dropout", {{"threshold", "0.5"}}, {img}, {}, 1, true},
      {"rrelu", {}, {img}, {}, 1, true},
      {"insanity", {}, {img}, {}, 1, true},
      {"softmax", {}, {Shape4(4, 1, 1, 5)}, {0, 4, 2, 1}},
      {"softmax", {{"algo", "expr"}}, {Shape4(4, 1, 1, 5)}, {0, 4, 2, 1}},
      {"softmax", {}, {Shape4(3, 2, 2, 3)}, {11, 0, 5}},  // classes over C x H x W
      // labels that differ per element: a constant one hides a label read from the wrong place
      {"l2_loss", {}, {flat}, Spread(28, 0.25f), 7},
      {"lp_loss", {{"p", "3"}}, {flat}, Spread(28, -0.5f), 7},
      {"multi_logistic", {}, {flat}, {1, 0, 1, 1, 0, 0, 1, 0, 0, 1, 1, 0, 1, 0, 1, 1, 1, 0, 0, 0, 1, 0, 1, 0, 1, 1, 0, 1}, 7},
  };
}

// Rounds to TF32 (10 mantissa bits) or bf16 (7), to nearest: such values multiply exactly on
// tensor cores.
void Round(float* p, index_t n, bool bf16) {
  const uint32_t half = bf16 ? 0x8000u : 0x1000u, mask = bf16 ? ~0xffffu : ~0x1fffu;
  for (index_t i = 0; i < n; ++i) {
    uint32_t u;
    std::memcpy(&u, p + i, 4);
    u = (u + half) & mask;
    std::memcpy(p + i, &u, 4);
  }
}

void Compare(const Case& c) {
  std::string what = c.type;  // rows of one type differ by keys: name them in failures
  for (auto& [k, v] : c.params) what += " " + k + "=" + v;
  if (c.inplace) what += " (in place)";
  if (c.fuse_add) what += c.fuse_add == 2 ? " (sum fused, mask from the addend)" : " (sum fused)";
  if (c.fuse_relu) what += " (relu fused)";
  SCOPED_TRACE(what);
  test::LayerRig<cpu, float> rc(c.type, c.params, c.in, c.inplace);
  test::LayerRig<gpu, float> rg(c.type, c.params, c.in, c.inplace);
  if (c.fuse_add) {
    ASSERT_TRUE(rc.layer->FuseAdd());
    ASSERT_TRUE(rg.layer->FuseAdd());
    rc.layer->AddendOutlivesBackward(c.fuse_add == 2);
    rg.layer->AddendOutlivesBackward(c.fuse_add == 2);
  }
  // A cpu layer that declines the relu (conv on oneDNN) gets it applied here: max(0, .) on its
  // outputs, and the gradient masked by them.
  bool cpu_relu = false;
  if (c.fuse_relu) {
    ASSERT_TRUE(rg.layer->FuseRelu());
    cpu_relu = !rc.layer->FuseRelu();
  }
  auto cpu_forward = [&](bool train) {
    rc.Forward(train);
    if (cpu_relu)
      for (auto* o : rc.out) o->data = F<op::relu>(o->data);
  };
  // TF32 (cuDNN's default math for float convolutions on the H200) rounds to 10 mantissa bits;
  // dtype=bf16 rows round their operands to bf16 (7 bits): the cpu gets the same rounded
  // operands, so the products agree up to summation order and the bf16 rounding of gradients.
  bool tf32 = c.type == "conv", bf16 = false;
  for (auto& [k, v] : c.params) {
    tf32 = tf32 && !(k == "algo" || (k == "tf32" && v == "0"));
    bf16 = bf16 || (k == "dtype" && v == "bf16");
  }
  // Biases and batch norm's beta start at 0, gamma at 1, prelu's slopes all alike: random
  // ones instead, so that one applied to the wrong channel shows. Biases within +-0.1: conv
  // and fullc outputs here are within about +-0.2 (weights drawn with sigma 0.01), and larger
  // ones would leave a fused relu all on or all off (checked below).
  uint64_t seed = 41;
  rc.layer->VisitWeights([&](const std::string& tag, Tensor<cpu, 2> w, Tensor<cpu, 2>) {
    if (tag != "bias" && tag != "beta" && tag != "gamma" && tag != "slope") return;
    const float lo = tag == "gamma" ? 0.5f : tag == "slope" ? 0.f : -0.1f;
    const float hi = tag == "gamma" ? 1.5f : tag == "slope" ? 1.f : 0.1f;
    Copy(w, test::RandomTensor<2, float>(w.shape_, seed++, lo, hi).view());
  });
  auto wc = test::Weights(*rc.layer);
  auto wg = test::Weights(*rg.layer);
  ASSERT_EQ(wc.size(), wg.size());
  for (size_t k = 0; k < wc.size(); ++k) {
    if (tf32 || bf16) Round(wc[k].first.dptr_, wc[k].first.Size(), bf16);
    Copy(wg[k].first, wc[k].first);
  }
  std::vector<TensorContainer<cpu, 4>> xs, dys;
  for (size_t i = 0; i < c.in.size(); ++i) {
    xs.push_back(test::RandomTensor<4, float>(c.in[i], 11 + i, -2.f, 2.f));
    if (tf32 || bf16) Round(xs[i].dptr_, xs[i].Size(), bf16);
    Copy(rc.in[i]->data, xs[i].view());
    Copy(rg.in[i]->data, xs[i].view());
  }
  TensorContainer<gpu, 2> glabel;
  if (!c.label.empty()) {
    rc.SetLabel(c.label, c.label_width);
    glabel.Resize(rc.label.shape_);
    Copy(glabel.view(), rc.label.view());
    rg.ctx.label = &glabel.view();
  }
  const bool train = !c.stochastic;
  cpu_forward(train);
  rg.Forward(train);
  // bf16 conv: outputs and gradients come back through bf16 buffers (8 bits of mantissa); bf16
  // fullc writes fp32 from exact products of the rounded operands.
  const double tol = bf16 && c.type == "conv" ? 1e-2 : tf32 ? 1e-3 : 2e-4;
  // kTf32Grad: TF32 gradients may come from Winograd or FFT algorithms (cuDNN times them all),
  // which round their transformed operands to TF32 again: an element's error is then about
  // 2^-11 of the sum of its ~30 terms' sizes (up to 2 each here), 1-7e-3 at worst, not of its own
  // size. Their whole-tensor L2 error stays near 2^-11 of the tensor's: within 1e-3 (NormNear),
  // each element within 1e-2. A wrong gradient is off by its own size.
  const bool tf32_grads = tf32 && !bf16;
  // bf16 conv values are small here (rms 0.03-0.06), where AllNear's tol * max(1, |x|) bounds
  // each by 17-33% of its size: the whole tensor within 1e-2 (L2, relative) as well.
  auto values_near = [&](const auto& g, const auto& ref) {
    const ::testing::AssertionResult each = test::AllNear(g, ref, tol);
    return each && bf16 && c.type == "conv" ? test::NormNear(g, ref, 1e-2) : each;
  };
  auto grads_near = [&](const auto& g, const auto& ref) {
    if (!tf32_grads) return values_near(g, ref);
    const ::testing::AssertionResult each = test::AllNear(g, ref, 1e-2);
    return each ? test::NormNear(g, ref, tol) : each;
  };
  for (size_t j = 0; j < rc.out.size(); ++j)
    EXPECT_TRUE(values_near(test::ToCPU(rg.out[j]->data).view(), rc.out[j]->data)) << "output " << j;
  if (c.fuse_relu) {  // a relu that passes everything or nothing would check nothing of its own
    const Tensor<cpu, 4>& o = rc.out[0]->data;
    const double on = double(std::count_if(o.dptr_, o.dptr_ + o.shape_.Size(), [](float v) { return v > 0.f; })) /
                      double(o.shape_.Size());
    EXPECT_TRUE(on > 0.1 && on < 0.9) << "the fused relu passes " << on << " of the outputs";
  }
  if (c.stochastic) return;  // test-mode forward only: no backward defined after it
  for (size_t j = 0; j < rc.out.size(); ++j) {
    dys.push_back(test::RandomTensor<4, float>(rc.out[j]->shape, 31 + j, -1.f, 1.f));
    auto& dy = dys.back();
    if (tf32 || bf16) Round(dy.dptr_, dy.Size(), bf16);
    Copy(rc.out[j]->grad, dy.view());
    Copy(rg.out[j]->grad, dy.view());
    if (cpu_relu) rc.out[j]->grad = rc.out[j]->grad * F<op::relu_grad>(rc.out[j]->data);
  }
  // Backward writes the inputs' gradients (=): they start as NaN on both devices where they
  // are not an output's too (in place), so a kernel that adds to them fails.
  for (size_t i = 0; i < rc.in.size(); ++i) {
    if (std::ranges::count(rc.out, rc.in[i])) continue;
    rc.in[i]->grad = std::numeric_limits<float>::quiet_NaN();
    rg.in[i]->grad = std::numeric_limits<float>::quiet_NaN();
  }
  rc.layer->Backward(true, rc.in, rc.out);
  rg.layer->Backward(true, rg.in, rg.out);
  for (size_t i = 0; i < rc.in.size(); ++i)
    EXPECT_TRUE(grads_near(test::ToCPU(rg.in[i]->grad).view(), rc.in[i]->grad)) << "input gradient " << i;
  for (size_t k = 0; k < wc.size(); ++k)
    EXPECT_TRUE(grads_near(test::ToCPU(wg[k].second).view(), wc[k].second)) << "weight gradient " << k;
  if (rc.layer->IsLoss()) EXPECT_NEAR(rg.layer->Loss(), rc.layer->Loss(), 1e-4 * std::max(1.0, std::fabs(rc.layer->Loss())));
  // Test mode after a training pass: moving statistics (batch_norm) were updated alike.
  cpu_forward(false);
  rg.Forward(false);
  for (size_t j = 0; j < rc.out.size(); ++j)
    EXPECT_TRUE(values_near(test::ToCPU(rg.out[j]->data).view(), rc.out[j]->data)) << "test-mode output " << j;
  // Without prop_grad (Net::DecideGradients: no weight reaches the inputs; cuDNN's filter-only
  // and scratch paths) after the same training forward: the same weight gradients, added (+=)
  // to what the gradients held (random values G0: a kernel that writes over them, as cuDNN's
  // beta = 0 would, fails), and the inputs' gradients left as they were (a sentinel) where
  // they are not an output's too.
  constexpr float kSentinel = 4321.f;
  for (size_t i = 0; i < rg.in.size(); ++i) Copy(rg.in[i]->data, xs[i].view());
  rg.Forward(true);
  for (size_t j = 0; j < rg.out.size(); ++j) Copy(rg.out[j]->grad, dys[j].view());
  std::vector<TensorContainer<cpu, 2>> g0;
  for (size_t k = 0; k < wg.size(); ++k) {
    g0.push_back(test::RandomTensor<2, float>(wg[k].second.shape_, 61 + k, -1.f, 1.f));
    Copy(wg[k].second, g0.back().view());
  }
  for (auto* n : rg.in) n->grad = kSentinel;
  rg.layer->Backward(false, rg.in, rg.out);
  for (size_t k = 0; k < wc.size(); ++k) {
    TensorContainer<cpu, 2> added = test::ToCPU(wg[k].second);
    added -= g0[k].view();
    EXPECT_TRUE(grads_near(added.view(), wc[k].second)) << "weight gradient " << k
                                                        << " without prop_grad, added to the gradient's values";
  }
  for (size_t i = 0; i < rg.in.size(); ++i) {
    if (std::ranges::count(rg.out, rg.in[i])) continue;
    auto g = test::ToCPU(rg.in[i]->grad);
    EXPECT_EQ(std::count(g.dptr_, g.dptr_ + g.Size(), kSentinel), index_t(g.Size()))
        << "Backward without prop_grad wrote input " << i << "'s gradient";
  }
}

// relu's NaN and infinities as the cpu's op::relu treats them (a NaN stays NaN), on both GPU
// paths; the gradient passes where the output is positive (+inf) only. At a NaN output cuDNN's
// backward (CUDNN_PROPAGATE_NAN documents the forward) may give 0, as the expressions do, or NaN.
TEST(LayersGPU, ReluNonFiniteInputsAsCPU) {
  UMBRA_REQUIRE_GPU();
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  const std::vector<float> xs = {nan, inf, -inf, -1.f, 0.f, 2.f, -nan, 3.f};
  for (const char* algo : {"auto", "expr"}) {
    SCOPED_TRACE(algo);
    test::LayerRig<cpu, float> rc("relu", {{"algo", algo}}, {Shape4(1, 1, 2, 4)}, true);
    test::LayerRig<gpu, float> rg("relu", {{"algo", algo}}, {Shape4(1, 1, 2, 4)}, true);
    std::copy(xs.begin(), xs.end(), rc.in[0]->data.dptr_);
    Copy(rg.in[0]->data, rc.in[0]->data);
    rc.Forward(true);
    rg.Forward(true);
    auto got = test::ToCPU(rg.out[0]->data);
    for (size_t i = 0; i < xs.size(); ++i) {
      if (std::isnan(xs[i])) {
        EXPECT_TRUE(std::isnan(got.dptr_[i]) && std::isnan(rc.out[0]->data.dptr_[i])) << "x = " << xs[i];
        continue;
      }
      EXPECT_EQ(got.dptr_[i], rc.out[0]->data.dptr_[i]) << "x = " << xs[i];
    }
    for (size_t i = 0; i < xs.size(); ++i) rc.out[0]->grad.dptr_[i] = float(i + 1);
    Copy(rg.out[0]->grad, rc.out[0]->grad);
    rc.layer->Backward(true, rc.in, rc.out);
    rg.layer->Backward(true, rg.in, rg.out);
    auto g = test::ToCPU(rg.in[0]->grad);
    for (size_t i = 0; i < xs.size(); ++i) {
      if (std::isnan(xs[i]) && std::string(algo) == "auto" && std::isnan(g.dptr_[i])) continue;
      EXPECT_EQ(g.dptr_[i], rc.in[0]->grad.dptr_[i]) << "x = " << xs[i];
    }
  }
}

// The softmax loss where a probability underflows (a logit gap past about 87) comes from the
// logits, on the gpu as on the cpu (cuDNN's probabilities and the expression kernel's); another
// class's logit of -inf, or one past a float below the largest, leaves the loss finite.
TEST(LayersGPU, SoftmaxLossPastUnderflowAsCPU) {
  UMBRA_REQUIRE_GPU();
  const float inf = std::numeric_limits<float>::infinity();
  const std::vector<float> xs = {0, 200, 0, 0, 100, 95, 3, 90, 1000, 2, 0, 0, 0, -inf, 1, 3e38f, -3e38f, 0};
  for (const char* algo : {"auto", "expr"}) {
    SCOPED_TRACE(algo);
    test::LayerRig<cpu, float> rc("softmax", {{"algo", algo}}, {Shape4(6, 1, 1, 3)});
    test::LayerRig<gpu, float> rg("softmax", {{"algo", algo}}, {Shape4(6, 1, 1, 3)});
    std::copy(xs.begin(), xs.end(), rc.in[0]->data.dptr_);
    Copy(rg.in[0]->data, rc.in[0]->data);
    rc.SetLabel({0, 0, 1, 0, 0, 0});
    rg.SetLabel({0, 0, 1, 0, 0, 0});
    rc.Forward(true);
    rg.Forward(true);
    auto got = test::ToCPU(rg.layer->PerSampleLoss());
    for (index_t n = 0; n < 6; ++n) {
      const float want = rc.layer->PerSampleLoss().dptr_[n];
      EXPECT_TRUE(std::isfinite(want)) << n;
      EXPECT_NEAR(got.dptr_[n], want, 1e-5 * std::max(1.f, want)) << n;
    }
    EXPECT_NEAR(rc.layer->PerSampleLoss().dptr_[2], 910.f, 1e-3);
  }
}

// Dropout and rrelu/insanity in training draw their masks and divisors on the device (umbra's
// Philox kernel), other numbers than the cpu's: the GPU pass is checked against the layers'
// definitions instead. Each output is 0 or x / (1 - p) (dropout), x or x / a with a in
// [lb, ub] (rrelu: the divisor is rounded to a float, 1 / (1 / a) may round up to ub); the
// dropped share and the divisors' mean are within 6 standard deviations of p and (lb + ub) / 2
// (16,384 draws); backward writes (over NaN) dy times the same factor, and nothing without
// prop_grad.
TEST(LayersGPU, StochasticLayersTrainAsDefined) {
  UMBRA_REQUIRE_GPU();
  const Shape<4> shape = Shape4(4, 8, 16, 32);
  const double n = double(shape.Size());
  struct Row {
    const char* type;
    test::KV params;
  };
  for (const Row& r : std::vector<Row>{{"dropout", {{"threshold", "0.3"}}},
                                       {"rrelu", {{"lb", "2"}, {"ub", "5"}}},
                                       {"insanity", {}}}) {
    SCOPED_TRACE(r.type);
    const bool dropout = std::string(r.type) == "dropout";
    const double p = 0.3, lb = dropout ? 0 : r.params.empty() ? 5 : 2, ub = r.params.empty() ? 10 : 5;  // insanity: cxxnet's
    test::LayerRig<gpu, float> rg(r.type, r.params, {shape});
    const auto x = test::RandomTensor<4, float>(shape, 5, -2.f, 2.f);
    Copy(rg.in[0]->data, x.view());
    rg.Forward(true);
    const auto y = test::ToCPU(rg.out[0]->data);
    std::vector<double> factor(x.Size());  // y / x, as the definition allows it
    double dropped = 0, negatives = 0, divisors = 0, divisors_sq = 0;
    for (index_t i = 0; i < x.Size(); ++i) {
      const double xi = x.dptr_[i], yi = y.dptr_[i];
      ASSERT_NE(xi, 0.0);
      if (dropout) {
        const bool kept = yi != 0;
        dropped += !kept;
        factor[i] = kept ? 1 / (1 - p) : 0;
        if (kept) ASSERT_NEAR(yi, xi / (1 - p), 1e-6 * std::fabs(yi)) << "element " << i;
      } else if (xi > 0) {
        ASSERT_EQ(yi, xi) << "element " << i;
        factor[i] = 1;
      } else {
        const double a = xi / yi;
        ASSERT_TRUE(a >= lb * (1 - 1e-6) && a <= ub * (1 + 1e-6)) << "element " << i << ": divisor " << a;
        factor[i] = yi / xi;
        negatives += 1, divisors += a, divisors_sq += a * a;
      }
    }
    if (dropout) {
      EXPECT_NEAR(dropped / n, p, 6 * std::sqrt(p * (1 - p) / n)) << "share dropped";
    } else {
      // U(lb, ub): mean (lb + ub) / 2, variance (ub - lb)^2 / 12.
      const double sd = (ub - lb) / std::sqrt(12.0), mean = divisors / negatives;
      EXPECT_NEAR(mean, (lb + ub) / 2, 6 * sd / std::sqrt(negatives)) << "mean divisor";
      EXPECT_NEAR(std::sqrt(divisors_sq / negatives - mean * mean), sd, 0.05 * sd) << "divisors' spread";
    }
    const auto dy = test::RandomTensor<4, float>(shape, 6, -1.f, 1.f);
    Copy(rg.out[0]->grad, dy.view());
    rg.in[0]->grad = std::numeric_limits<float>::quiet_NaN();
    rg.layer->Backward(true, rg.in, rg.out);
    const auto gx = test::ToCPU(rg.in[0]->grad);
    for (index_t i = 0; i < x.Size(); ++i)
      ASSERT_NEAR(gx.dptr_[i], dy.dptr_[i] * factor[i], 1e-6 * std::max(1.0, double(std::fabs(gx.dptr_[i]))))
          << "input gradient, element " << i;
    rg.in[0]->grad = 4321.f;
    rg.layer->Backward(false, rg.in, rg.out);
    const auto kept = test::ToCPU(rg.in[0]->grad);
    EXPECT_EQ(std::count(kept.dptr_, kept.dptr_ + kept.Size(), 4321.f), index_t(kept.Size()))
        << "Backward without prop_grad wrote the input's gradient";
    // The next training pass draws anew.
    rg.Forward(true);
    const auto y2 = test::ToCPU(rg.out[0]->data);
    EXPECT_FALSE(test::AllNear(y2.view(), y.view(), 0.0)) << "a second training pass drew the same numbers";
  }
}

// The GPU-only conversions of bf16-node nets, as layers (their kernels: bf16_cast_gpu_test):
// to_bf16 then to_fp32 gives x rounded to bf16 (to nearest even) and takes dy back rounded the
// same way, each input gradient written over NaN.
TEST(LayersGPU, Bf16ConversionLayersRoundTrip) {
  UMBRA_REQUIRE_GPU();
  const Shape<4> shape = Shape4(3, 4, 6, 5);
  test::LayerRig<gpu, float> to_bf16("to_bf16", {}, {shape}), to_fp32("to_fp32", {}, {shape});
  const auto x = test::RandomTensor<4, float>(shape, 3, -3.f, 3.f), dy = test::RandomTensor<4, float>(shape, 4, -1.f, 1.f);
  Copy(to_bf16.in[0]->data, x.view());
  to_bf16.Forward(true);
  Copy(to_fp32.in[0]->data, to_bf16.out[0]->data);  // the bf16 values fill the first half
  to_fp32.Forward(true);
  Copy(to_fp32.out[0]->grad, dy.view());
  for (auto* rig : {&to_bf16, &to_fp32}) rig->in[0]->grad = std::numeric_limits<float>::quiet_NaN();
  to_fp32.layer->Backward(true, to_fp32.in, to_fp32.out);
  Copy(to_bf16.out[0]->grad, to_fp32.in[0]->grad);
  to_bf16.layer->Backward(true, to_bf16.in, to_bf16.out);
  const auto y = test::ToCPU(to_fp32.out[0]->data), gx = test::ToCPU(to_bf16.in[0]->grad);
  for (index_t i = 0; i < x.Size(); ++i) {
    ASSERT_EQ(y.dptr_[i], float(Bf16(x.dptr_[i]))) << "value " << i << " = " << x.dptr_[i];
    ASSERT_EQ(gx.dptr_[i], float(Bf16(dy.dptr_[i]))) << "gradient " << i << " = " << dy.dptr_[i];
  }
}

TEST(LayersGPU, EveryRegisteredLayerHasACase) {
  std::set<std::string> have;
  for (auto& c : Cases()) have.insert(c.type);
  for (auto& n : nn::LayerRegistry<cpu>::Get().Names()) EXPECT_TRUE(have.count(n)) << "no gpu case for layer " << n;
  // Layers only the GPU registers have no cpu layer to compare with: each names its own test
  // here, so a new one cannot go unchecked either.
  const std::map<std::string, std::string> gpu_only = {{"to_bf16", "LayersGPU.Bf16ConversionLayersRoundTrip"},
                                                       {"to_fp32", "LayersGPU.Bf16ConversionLayersRoundTrip"}};
  for (auto& n : nn::LayerRegistry<gpu>::Get().Names())
    EXPECT_TRUE(have.count(n) || gpu_only.count(n)) << "no gpu case or test for the gpu-only layer " << n;
}

TEST(LayersGPU, ForwardAndBackwardSameAsCPU) {
  UMBRA_REQUIRE_GPU();
  for (const Case& c : Cases()) Compare(c);
}

// cuDNN's descriptors hold at most 2^31 - 1 elements: past that the cuDNN backends decline
// (null, before any descriptor or bf16 probe) and the layers keep their own kernels, as cuDNN
// would refuse at the first step. Pooling and a convolution's filter lacked the check.
TEST(LayersGPU, CudnnBackendsDeclineSizesPastInt) {
  UMBRA_REQUIRE_GPU();
  if (!nn::CudnnBuilt()) GTEST_SKIP() << "built without cuDNN";
  EXPECT_EQ(nn::MakeCudnnPool(true, 32, 64, 1024, 1024, 512, 512, 2, 2, 2, 2, 0, 0), nullptr);  // 2^31 in
  EXPECT_EQ(nn::MakeCudnnPool(false, 16, 64, 1024, 2048, 1024, 2048, 3, 3, 1, 1, 1, 1, false, true), nullptr);
  EXPECT_NE(nn::MakeCudnnPool(true, 2, 3, 8, 8, 4, 4, 2, 2, 2, 2, 0, 0), nullptr);
  nn::CudnnConvOptions opt;
  opt.tf32 = false;
  EXPECT_EQ(nn::MakeCudnnConv(1, 8192, 7, 7, 8192, 1, 1, 1, 7, 7, 1, 1, 0, 0, false, opt, nullptr), nullptr);
  EXPECT_NE(nn::MakeCudnnConv(1, 8, 7, 7, 8, 1, 1, 1, 7, 7, 1, 1, 0, 0, false, opt, nullptr), nullptr);
}

}  // namespace
}  // namespace umbra
