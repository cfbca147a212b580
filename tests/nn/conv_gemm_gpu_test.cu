// umbra's columns-and-GEMM passes (conv_gemm.h): against double references summed on the host
// for strides, padding, groups, chunks that do not divide the batch and a one-image chunk, in
// full FP32 (and TF32 where a call asks for it); the weight gradient added to what the gradient
// held (the layer accumulates), the data gradient and the forward's output written. And the cuDNN convolution taking them where its
// search measures them faster (in the emulation the stand-in's cuDNN reports times no run of
// them can match, UMBRA_STUB_CUDNN_MS): the layers' gradients are then still the CPU layers',
// over two passes, and each layer names them as what ran.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <string>
#include <vector>

#include "harness/conv_reference.h"
#include "harness/gpu_compare.h"
#include "umbra/nn/net.h"
#include "conv_gemm.h"

namespace umbra {
namespace conv_gemm_test {

// gw of x and gy.
std::vector<double> Reference(const nn::ConvGemmGeom& g, const std::vector<float>& x, const std::vector<float>& gy) {
  std::vector<double> gw(size_t(g.oc * (g.c / g.groups) * g.kh * g.kw), 0.0);
  test::ForEachConvTap(g, [&](size_t xi, size_t wi, size_t yi) { gw[wi] += double(x[xi]) * gy[yi]; });
  return gw;
}

// gx of gy and w.
std::vector<double> DataReference(const nn::ConvGemmGeom& g, const std::vector<float>& gy,
                                  const std::vector<float>& w) {
  std::vector<double> gx(size_t(g.n * g.c * g.h * g.w), 0.0);
  test::ForEachConvTap(g, [&](size_t xi, size_t wi, size_t yi) { gx[xi] += double(w[wi]) * gy[yi]; });
  return gx;
}

// A host tensor's values; a device tensor of NaN (an output every element of which must be written).
template <int dim>
std::vector<float> Values(const TensorContainer<cpu, dim>& t) {
  return std::vector<float>(t.dptr_, t.dptr_ + t.shape_.Size());
}
TensorContainer<gpu, 4> NanOnDevice(const Shape<4>& s) {
  TensorContainer<cpu, 4> nan(s);
  std::fill(nan.dptr_, nan.dptr_ + s.Size(), std::nanf(""));
  return test::ToGPU(nan.view());
}
// got[i] within 1e-4 relative of base[i] + want[i] (base: what an accumulated output held).
void ExpectNear(const std::vector<float>& got, const std::vector<double>& want, const char* what,
                const std::vector<float>* base = nullptr) {
  for (size_t i = 0; i < want.size(); ++i)
    ASSERT_NEAR(got[i], (base ? (*base)[i] : 0.0) + want[i], 1e-4 * (1 + std::fabs(want[i]))) << what << i;
}

void Check(nn::ConvGemmGeom g, index_t chunk) {
  g.oh = (g.h + 2 * g.ph - g.kh) / g.sh + 1, g.ow = (g.w + 2 * g.pw - g.kw) / g.sw + 1;
  SCOPED_TRACE("c " + std::to_string(g.c) + " oc " + std::to_string(g.oc) + " groups " + std::to_string(g.groups) +
               " k " + std::to_string(g.kh) + "x" + std::to_string(g.kw) + " stride " + std::to_string(g.sh) +
               " pad " + std::to_string(g.ph) + " chunk " + std::to_string(chunk));
  const auto hx = test::RandomTensor<4, float>(Shape4(g.n, g.c, g.h, g.w), 3);
  const auto hgy = test::RandomTensor<4, float>(Shape4(g.n, g.oc, g.oh, g.ow), 4);
  const auto hgw = test::RandomTensor<2, float>(Shape2(g.oc, g.c / g.groups * g.kh * g.kw), 5);
  auto x = test::ToGPU(hx.view());
  auto gy = test::ToGPU(hgy.view());
  auto gw = test::ToGPU(hgw.view());
  TensorContainer<gpu, 1> scratch(Shape1(index_t(nn::ConvGemmScratchBytes(g, chunk) / sizeof(float))));
  nn::WgradGemmGPU(g, chunk, x.dptr_, gy.dptr_, gw.dptr_, scratch.dptr_, /*tf32=*/false, nullptr);
  const std::vector<float> w = Values(test::ToCPU(gw.view())), w0 = Values(hgw);
  ExpectNear(w, Reference(g, Values(hx), Values(hgy)), "weight element ", &w0);
  // The data gradient and the forward's output, each over NaN: every element written.
  auto gx = NanOnDevice(Shape4(g.n, g.c, g.h, g.w));
  nn::DgradGemmGPU(g, chunk, gy.dptr_, gw.dptr_, gx.dptr_, scratch.dptr_, /*tf32=*/false, nullptr);
  ExpectNear(Values(test::ToCPU(gx.view())), DataReference(g, Values(hgy), w), "data element ");
  auto y = NanOnDevice(Shape4(g.n, g.oc, g.oh, g.ow));
  nn::FwdGemmGPU(g, chunk, x.dptr_, gw.dptr_, y.dptr_, scratch.dptr_, /*tf32=*/false, nullptr);
  ExpectNear(Values(test::ToCPU(y.view())), test::ConvForwardReference(g, Values(hx), w), "output element ");
}

TEST(ConvGemmGPU, AsTheReference) {
  UMBRA_REQUIRE_GPU();
  // n, c, h, w, oc, (oh, ow), groups, kh, kw, sh, sw, ph, pw
  Check({5, 3, 23, 23, 4, 0, 0, 1, 11, 11, 4, 4, 2, 2}, 2);  // conv1's shape, small: 3 chunks, the last of 1
  Check({5, 3, 23, 23, 4, 0, 0, 1, 11, 11, 4, 4, 2, 2}, 5);  // the whole batch at once
  Check({3, 4, 9, 7, 6, 0, 0, 2, 3, 3, 1, 1, 1, 1}, 1);      // two groups, one image a chunk
  Check({3, 4, 9, 7, 6, 0, 0, 2, 3, 3, 1, 1, 1, 1}, 2);      // two groups, two images a chunk
  Check({2, 5, 8, 8, 3, 0, 0, 1, 1, 1, 2, 2, 0, 0}, 2);      // 1x1, stride 2 (ResNet's shortcut)
}

// The tf32 argument reaches each of the three GEMMs as its compute type (cuda::FloatCompute):
// with x and gy of 1 + 2^-12 (a float, but 1 in TF32's 10 bits of mantissa) and w of 1, every
// output is an exact count times 1 + 2^-12 in full FP32, and the count itself where the product
// rounds its inputs to TF32, as the emulation always does and tensor cores do (a GPU's cuBLAS may
// still pick a full-FP32 kernel for so small a product: either answer there).
TEST(ConvGemmGPU, Tf32IsEachCallsChoice) {
  UMBRA_REQUIRE_GPU();
  nn::ConvGemmGeom g{2, 2, 4, 3, 3, 0, 0, 1, 2, 2, 1, 1, 0, 0};
  g.oh = g.h - g.kh + 1, g.ow = g.w - g.kw + 1;
  const float v = 1.f + std::ldexp(1.f, -12);
  TensorContainer<cpu, 4> hx(Shape4(g.n, g.c, g.h, g.w)), hgy(Shape4(g.n, g.oc, g.oh, g.ow));
  TensorContainer<cpu, 2> hw(Shape2(g.oc, g.c * g.kh * g.kw));
  hx = v;
  hgy = v;
  hw = 1.f;
  auto x = test::ToGPU(hx.view()), gy = test::ToGPU(hgy.view());
  auto w = test::ToGPU(hw.view());
  TensorContainer<gpu, 1> scratch(Shape1(index_t(nn::ConvGemmScratchBytes(g, 2) / sizeof(float))));
  for (const bool tf32 : {false, true}) {
    SCOPED_TRACE(tf32 ? "tf32" : "fp32");
    // The exact count of each output (the double references on inputs of 1), and the FP32 value.
    TensorContainer<cpu, 4> ones_x(hx.shape_), ones_gy(hgy.shape_);
    ones_x = 1.f;
    ones_gy = 1.f;
    const auto check = [&](const std::vector<float>& got, const std::vector<double>& count, const char* what) {
      for (size_t i = 0; i < count.size(); ++i) {
        const float fp32 = float(count[i]) * v, rounded = float(count[i]);
#if UMBRA_CUDA_EMU
        ASSERT_EQ(got[i], tf32 ? rounded : fp32) << what << i;
#else
        ASSERT_TRUE(got[i] == fp32 || (tf32 && got[i] == rounded)) << what << i << ": " << got[i];
#endif
      }
    };
    TensorContainer<gpu, 2> gw(hw.shape_);
    gw = 0.f;
    nn::WgradGemmGPU(g, 2, x.dptr_, test::ToGPU(ones_gy.view()).dptr_, gw.dptr_, scratch.dptr_, tf32, nullptr);
    check(Values(test::ToCPU(gw.view())), Reference(g, Values(ones_x), Values(ones_gy)), "weight element ");
    auto gx = NanOnDevice(hx.shape_);
    nn::DgradGemmGPU(g, 2, gy.dptr_, w.dptr_, gx.dptr_, scratch.dptr_, tf32, nullptr);
    check(Values(test::ToCPU(gx.view())), DataReference(g, Values(ones_gy), Values(hw)), "data element ");
    auto y = NanOnDevice(hgy.shape_);
    nn::FwdGemmGPU(g, 2, x.dptr_, w.dptr_, y.dptr_, scratch.dptr_, tf32, nullptr);
    check(Values(test::ToCPU(y.view())), test::ConvForwardReference(g, Values(ones_x), Values(hw)), "output element ");
  }
}

TEST(ConvGemmGPU, ChunksWithinTheScratch) {
  UMBRA_REQUIRE_GPU();  // the functions live in the CUDA build
  const nn::ConvGemmGeom g{128, 3, 224, 224, 64, 55, 55, 1, 11, 11, 4, 4, 2, 2};
  // (363 + 64) rows of 3,025 floats an image: 5,166,700 bytes.
  EXPECT_EQ(nn::ConvGemmScratchBytes(g, 1), size_t(427) * 3025 * 4);
  EXPECT_EQ(nn::ConvGemmChunkFor(g, size_t(64) << 20), 12);
  EXPECT_EQ(nn::ConvGemmChunkFor(g, size_t(1) << 40), 128);  // never past the batch
  EXPECT_EQ(nn::ConvGemmChunkFor(g, 5166699), 0);
  // A 1x1 convolution of 1024 x 1024 images: 8 MiB a chunk image, so a 16 GiB workspace would
  // take 2,048 of them, one too many for cuBLAS's int dimension b * oh * ow.
  const nn::ConvGemmGeom big{4096, 1, 1024, 1024, 1, 1024, 1024, 1, 1, 1, 1, 1, 0, 0};
  EXPECT_EQ(nn::ConvGemmChunkFor(big, size_t(16) << 30), 2047);
  EXPECT_EQ(nn::ConvGemmChunkFor(big, size_t(8) << 20), 1);
}

// Two passes of a two-convolution net without an update, both convolutions' weight gradients
// and the second's data gradient (which the first one's gradients read) from umbra's GEMMs
// where the search finds them fastest: added up as on the CPU.
TEST(ConvGemmGPU, TheConvolutionTakesThemWhereTheSearchFindsThemFaster) {
  UMBRA_REQUIRE_GPU();
#if defined(UMBRA_CUDA_EMU)
  setenv("UMBRA_STUB_CUDNN_MS", "10000", 1);
#endif
  using nn::LayerSpec;
  nn::NetSpec s;
  s.input_shape = Shape4(3, 3, 13, 11);  // a geometry of its own: searches are kept per process
  s.seed = 7;
  s.layers = {LayerSpec{"conv", "c1", {"in"}, {"c1"}, {{"nchannel", "6"}, {"kernel_size", "5"}, {"stride", "2"},
                                                       {"pad", "1"}, {"tf32", "0"}}},
              LayerSpec{"relu", "r1", {"c1"}, {"c1"}, {}},
              LayerSpec{"conv", "c2", {"c1"}, {"c2"}, {{"nchannel", "4"}, {"kernel_size", "3"}, {"ngroup", "2"},
                                                       {"tf32", "0"}}},
              LayerSpec{"flatten", "f", {"c2"}, {"f"}, {}},
              LayerSpec{"fullc", "fc", {"f"}, {"o"}, {{"nhidden", "3"}}},
              LayerSpec{"softmax", "loss", {"o"}, {"p"}, {}}};
  nn::Net<cpu> hc(s);
  nn::Net<gpu> gc(s);
  const test::RandomBatch b(s.input_shape, 2, [](index_t i) { return i % 3; });
  test::PassesOnBoth(hc, gc, b, 2);
#if defined(UMBRA_CUDA_EMU)
  unsetenv("UMBRA_STUB_CUDNN_MS");
  for (size_t l = 0; l < 2; ++l) {
    const std::string how = gc.LayerAt(l).Implementation();
    EXPECT_NE(how.find("fwd umbra_gemm(3 images) fp32 "), std::string::npos) << how;
    EXPECT_NE(how.find("wgrad umbra_gemm(3 images) fp32 "), std::string::npos) << how;
    // The first layer has no data gradient to compute.
    EXPECT_EQ(how.find("dgrad umbra_gemm(3 images) fp32 ") != std::string::npos, l == 1) << how;
  }
#endif
  const auto want = test::Gradients(hc), got = test::Gradients(gc);
  ASSERT_EQ(want.size(), 6u);
  ASSERT_EQ(got.size(), 6u);
  // The convolutions' weights and biases (fc's bias gradient nearly cancels over the classes:
  // its norm is too small for a relative bound of this size). The second convolution's bias
  // gradient nearly cancels too (a norm of 8e-6 on a 2026-12-05 machine, AMD family 26, where
  // the CPU reference's rounding put it 2.3e-4 off): bounded by a hundredth of the largest
  // convolution gradient's norm where its own is smaller. Its terms are no GEMM's: a wrong one
  // is off by its whole size.
  double largest = 0;
  for (size_t k = 0; k < 4; ++k) largest = std::max(largest, test::Norm(want[k].view()));
  for (size_t k = 0; k < 4; ++k)
    EXPECT_TRUE(test::NormNear(got[k].view(), want[k].view(), 2e-4, 1e-2 * largest)) << "gradient " << k;
}

}  // namespace conv_gemm_test
}  // namespace umbra
