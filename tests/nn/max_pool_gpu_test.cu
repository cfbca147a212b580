// umbra's max pooling kernels (src/nn/layers/max_pool_gpu.h: each window's winner kept by the
// forward, a gather backward from those bytes; the GPU max_pooling layer's default) against the
// CPU layer, element for element and exactly: outputs, and input gradients summed in the same
// window order. Inputs are small integers, so windows tie often (the first maximum in row-major
// order takes the gradient, as on the CPU, in cuDNN and in PyTorch), with -inf and NaN cells in
// some windows; output gradients are multiples of 1/8, so sums of them are exact in float and in
// bf16. Each window shape in both layouts and with float and bf16 nodes. Skips without a device.
#include <cmath>
#include <cstring>
#include <limits>

#include "harness/gpu_compare.h"
#include "harness/layer_check.h"
#include "max_pool_gpu.h"
#include "umbra/scoped_value.h"
#include "umbra/tensor/bf16.h"

// Helpers in a namespace of this file's own: the suite compiles as one unit (UMBRA_UNITY_TESTS).
namespace umbra::max_pool_gpu_test {
namespace {

struct Win {
  const char* what;
  test::KV keys;
  Shape<4> in;  // (N, C, H, W)
};

std::vector<Win> Windows() {
  return {
      {"3x3 stride 2, ceil mode (ResNet's stem)", {{"kernel_size", "3"}, {"stride", "2"}}, Shape4(2, 3, 9, 8)},
      {"2x2 stride 2 (tiling)", {{"kernel_size", "2"}, {"stride", "2"}}, Shape4(2, 3, 6, 8)},
      {"3x3 stride 1 pad 1", {{"kernel_size", "3"}, {"stride", "1"}, {"pad", "1"}}, Shape4(2, 3, 5, 6)},
      {"2x2 stride 3 (cells in no window)", {{"kernel_size", "2"}, {"stride", "3"}}, Shape4(2, 3, 8, 7)},
      {"3x2 stride 2 pad 1x0",
       {{"kernel_height", "3"}, {"kernel_width", "2"}, {"stride", "2"}, {"pad_y", "1"}, {"pad_x", "0"}},
       Shape4(2, 3, 7, 6)},
      {"5x5 stride 2 pad 2", {{"kernel_size", "5"}, {"stride", "2"}, {"pad", "2"}}, Shape4(1, 2, 9, 9)},
      {"15x17 stride 4 (255 cells: a byte's last index)",
       {{"kernel_height", "15"}, {"kernel_width", "17"}, {"stride", "4"}},
       Shape4(1, 2, 20, 23)},
      {"16x16 stride 4 (256 cells: the expressions)", {{"kernel_size", "16"}, {"stride", "4"}}, Shape4(1, 2, 20, 21)},
  };
}

// Values in {-2, ..., 2} (ties everywhere); in the first plane a 3x3 block of -inf at the
// corner and one of NaN from column 4 (whole windows of them for 2x2 and 3x3 windows at stride
// 2), and in the others a NaN or -inf every 7th cell (windows mixing them with numbers).
std::vector<float> Inputs(const Shape<4>& s, bool special = true) {
  std::vector<float> v(s.Size());
  uint32_t r = 12345;
  for (float& x : v) {
    r = r * 1664525u + 1013904223u;
    x = float(int(r >> 29) % 5 - 2);
  }
  if (!special) return v;
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  for (index_t y = 0; y < std::min<index_t>(3, s[2]); ++y)
    for (index_t x = 0; x < std::min<index_t>(3, s[3]); ++x) {
      v[y * s[3] + x] = -inf;
      if (x + 4 < s[3]) v[y * s[3] + x + 4] = nan;
    }
  for (size_t i = size_t(s[2] * s[3]); i < v.size(); i += 7) v[i] = (i / 7) % 2 ? nan : -inf;
  return v;
}

// Multiples of 1/8 in [-1, 1): a sum of up to 32 of them is exact in bf16 (8 significant bits).
std::vector<float> Grads(index_t n) {
  std::vector<float> v(n);
  uint32_t r = 777;
  for (float& x : v) {
    r = r * 1664525u + 1013904223u;
    x = float(int(r >> 28) - 8) / 8.f;
  }
  return v;
}

// (N, C, H, W) values to (N, H, W, C) (to_nhwc), or back; s: the (N, C, H, W) shape.
std::vector<float> Relayout(const std::vector<float>& v, const Shape<4>& s, bool to_nhwc) {
  std::vector<float> o(v.size());
  const index_t plane = s[2] * s[3];
  for (index_t n = 0; n < s[0]; ++n)
    for (index_t c = 0; c < s[1]; ++c)
      for (index_t i = 0; i < plane; ++i) {
        const index_t nchw = (n * s[1] + c) * plane + i, nhwc = (n * plane + i) * s[1] + c;
        (to_nhwc ? o[nhwc] : o[nchw]) = to_nhwc ? v[nchw] : v[nhwc];
      }
  return o;
}

// A node's values from the host: floats, or with bf16 their bfloat16 bits at the buffer's start
// (a bf16 node's layout: NetSpec::bf16_nodes).
void Put(Tensor<gpu, 4> t, const std::vector<float>& v, bool bf16) {
  TensorContainer<cpu, 4> h(t.shape_);
  if (bf16) {
    auto* b = reinterpret_cast<uint16_t*>(h.dptr_);
    for (size_t i = 0; i < v.size(); ++i) b[i] = Bf16(v[i]).bits;
  } else {
    std::memcpy(h.dptr_, v.data(), v.size() * sizeof(float));
  }
  Copy(t, h.view());
  UMBRA_CUDA_CHECK(cudaDeviceSynchronize());
}
std::vector<float> Get(const Tensor<gpu, 4>& t, bool bf16) {
  TensorContainer<cpu, 4> h = test::ToCPU(t);
  std::vector<float> v(t.shape_.Size());
  for (size_t i = 0; i < v.size(); ++i) {
    Bf16 b;
    b.bits = reinterpret_cast<const uint16_t*>(h.dptr_)[i];
    v[i] = bf16 ? float(b) : h.dptr_[i];
  }
  return v;
}

// Where a and b differ (NaN equal to NaN, -0 to 0), at most a few, for a failure message.
::testing::AssertionResult Same(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size()) return ::testing::AssertionFailure() << "sizes " << a.size() << " and " << b.size();
  std::string diff;
  int bad = 0;
  for (size_t i = 0; i < a.size(); ++i)
    if (!(a[i] == b[i] || (std::isnan(a[i]) && std::isnan(b[i]))) && bad++ < 5)
      diff += " [" + std::to_string(i) + "] " + std::to_string(a[i]) + " vs " + std::to_string(b[i]);
  if (bad == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << bad << " of " << a.size() << " differ:" << diff;
}

// Output elements of the layer for window w.
index_t OutCount(const Win& w) {
  test::LayerRig<cpu, float> rig("max_pooling", w.keys, {w.in});
  return rig.out[0]->shape.Size();
}

struct Result {
  std::vector<float> y, gx;  // (N, C, OH, OW), (N, C, H, W)
};

Result OnCPU(const Win& w, const std::vector<float>& x, const std::vector<float>& gy) {
  test::LayerRig<cpu, float> rig("max_pooling", w.keys, {w.in});
  std::memcpy(rig.in[0]->data.dptr_, x.data(), x.size() * sizeof(float));
  rig.Forward(true);
  std::memcpy(rig.out[0]->grad.dptr_, gy.data(), gy.size() * sizeof(float));
  rig.layer->Backward(true, rig.in, rig.out);
  const Tensor<cpu, 4>& y = rig.out[0]->data;
  const Tensor<cpu, 4>& gx = rig.in[0]->grad;
  return {std::vector<float>(y.dptr_, y.dptr_ + y.shape_.Size()),
          std::vector<float>(gx.dptr_, gx.dptr_ + gx.shape_.Size())};
}

// The GPU layer (algo as given) on x and gy in (N, C, ...) order; train: the forward's mode.
// fwd_packed: whether the forward took four channels a thread (nn::LastMaxPoolPacked() after it).
Result OnGPU(const Win& w, const std::vector<float>& x, const std::vector<float>& gy, bool nhwc, bool bf16,
             bool train = true, bool* reads_values = nullptr, bool* fwd_packed = nullptr) {
  auto layer = nn::LayerRegistry<gpu, float>::Get().Create("max_pooling");
  layer->set_name("pool");
  for (auto& [k, v] : w.keys) EXPECT_TRUE(layer->SetParam(k, v)) << k;
  if (nhwc) layer->SetChannelsLast();
  if (bf16) layer->SetBF16();
  const Shape<4> s = w.in, xs = nhwc ? Shape4(s[0], s[2], s[3], s[1]) : s;
  const Shape<4> ys = layer->InferShape({xs})[0];
  const Shape<4> yn = nhwc ? Shape4(ys[0], ys[3], ys[1], ys[2]) : ys;  // (N, C, OH, OW)
  if (reads_values) *reads_values = layer->BackwardReadsInput(0) || layer->BackwardReadsOutput(0);
  nn::Node<gpu, float> in, out;
  in.shape = xs, out.shape = ys;
  in.Allocate();
  out.Allocate();
  Put(in.data, nhwc ? Relayout(x, s, true) : x, bf16);
  in.grad = std::numeric_limits<float>::quiet_NaN();  // backward must write every cell
  nn::ForwardContext<gpu, float> ctx;
  ctx.is_train = train;
  layer->Forward(ctx, {&in}, {&out});
  if (fwd_packed) *fwd_packed = nn::LastMaxPoolPacked();
  Put(out.grad, nhwc ? Relayout(gy, yn, true) : gy, bf16);
  layer->Backward(true, {&in}, {&out});
  Result r{Get(out.data, bf16), Get(in.grad, bf16)};
  r.y.resize(yn.Size()), r.gx.resize(s.Size());  // bf16: the values' part of the float buffers
  if (nhwc) r.y = Relayout(r.y, yn, false), r.gx = Relayout(r.gx, s, false);
  return r;
}

TEST(MaxPoolGPU, KernelsMatchTheCpuExactly) {
  UMBRA_REQUIRE_GPU();
  for (const Win& w : Windows()) {
    const std::vector<float> x = Inputs(w.in), gy = Grads(OutCount(w));
    const Result cpu = OnCPU(w, x, gy);
    for (bool nhwc : {false, true})
      for (bool bf16 : {false, true}) {
        SCOPED_TRACE(std::string(w.what) + (nhwc ? ", channels-last" : "") + (bf16 ? ", bf16 nodes" : ""));
        const Result g = OnGPU(w, x, gy, nhwc, bf16);
        EXPECT_TRUE(Same(g.y, cpu.y)) << "output";
        EXPECT_TRUE(Same(g.gx, cpu.gx)) << "input gradient";
      }
  }
}

// Channels-last with 8 channels: four channels a thread (max_pool_gpu.cu's PoolFwd4, PoolBwd4)
// where nn::MaxPoolPacked() allows, one at a time where not; both the CPU's results exactly, on
// every window above but the 256-cell one (which the kernels leave to the expressions), with
// ties, NaN and -inf windows, gaps, padding and a 255-cell window, float and bf16 nodes, and
// which path each pass took. (The layer's nodes start aligned; 3 channels never pack.)
TEST(MaxPoolGPU, ChannelsLastFourChannelsAThreadMatchTheCpuExactly) {
  UMBRA_REQUIRE_GPU();
  const ScopedValue keep(nn::MaxPoolPacked());
  for (Win w : Windows()) {
    if (std::string(w.what).find("256 cells") != std::string::npos) continue;  // the expressions' path
    w.in[1] = 8;
    const std::vector<float> x = Inputs(w.in), gy = Grads(OutCount(w));
    const Result cpu = OnCPU(w, x, gy);
    for (bool packed : {true, false})
      for (bool bf16 : {false, true}) {
        SCOPED_TRACE(std::string(w.what) + (packed ? ", packed" : ", one at a time") + (bf16 ? ", bf16 nodes" : ""));
        nn::MaxPoolPacked() = packed;
        bool fwd = !packed;
        const Result g = OnGPU(w, x, gy, true, bf16, true, nullptr, &fwd);
        EXPECT_EQ(fwd, packed) << "forward";
        EXPECT_EQ(nn::LastMaxPoolPacked(), packed) << "backward";
        EXPECT_TRUE(Same(g.y, cpu.y)) << "output";
        EXPECT_TRUE(Same(g.gx, cpu.gx)) << "input gradient";
      }
  }
}

// The checks above can only fail if ties, NaNs and gaps are there to get wrong.
TEST(MaxPoolGPU, InputsExerciseTiesAndSpecialCells) {
  const Win w = Windows()[0];
  const std::vector<float> x = Inputs(w.in);
  const Result r = OnCPU(w, x, Grads(OutCount(w)));
  int tied = 0, neg_inf = 0, nan = 0;
  for (float v : r.y) neg_inf += std::isinf(v), nan += std::isnan(v);
  const index_t oh = PoolOutSize(9, 3, 2, true), ow = PoolOutSize(8, 3, 2, true);
  ASSERT_EQ(oh * ow * 6, OutCount(w));
  for (index_t p = 0; p < 6; ++p)  // windows holding their maximum twice or more
    for (index_t oy = 0; oy < oh; ++oy)
      for (index_t ox = 0; ox < ow; ++ox) {
        int hits = 0;
        for (index_t y = oy * 2; y < std::min<index_t>(oy * 2 + 3, 9); ++y)
          for (index_t xx = ox * 2; xx < std::min<index_t>(ox * 2 + 3, 8); ++xx)
            hits += x[(p * 9 + y) * 8 + xx] == r.y[(p * oh + oy) * ow + ox];
        tied += hits > 1;
      }
  EXPECT_GT(tied, 20) << "windows with tied maxima";
  EXPECT_GE(neg_inf, 1) << "windows of -inf cells";
  EXPECT_GE(nan, 2) << "windows holding NaN cells";
}

// Backward after a test-mode forward (gradients under a batch norm's moving statistics,
// Bf16NodesGPU.TestModeBackwardAsFloatNodes) uses that forward's winners as well.
TEST(MaxPoolGPU, BackwardAfterTestModeForward) {
  UMBRA_REQUIRE_GPU();
  const Win w = Windows()[0];
  const std::vector<float> x = Inputs(w.in), gy = Grads(OutCount(w));
  const Result cpu = OnCPU(w, x, gy);
  const Result g = OnGPU(w, x, gy, false, false, false);
  EXPECT_TRUE(Same(g.gx, cpu.gx));
}

// algo=auto takes the kernels (neither value read backward: the net may reuse both buffers);
// cudnn and expr keep cuDNN and the expressions, which read them; all agree (on numbers: which
// NaN cell cuDNN's backward gives a NaN window's gradient is not documented).
TEST(MaxPoolGPU, AlgoKeyChoosesThePath) {
  UMBRA_REQUIRE_GPU();
  const Win w = Windows()[1];  // 2x2 stride 2: cuDNN pools it too
  const std::vector<float> x = Inputs(w.in, false), gy = Grads(OutCount(w));
  const Result cpu = OnCPU(w, x, gy);
  for (const char* algo : {"auto", "cudnn", "expr"}) {
    SCOPED_TRACE(algo);
    Win a = w;
    a.keys.push_back({"algo", algo});
    bool reads = true;
    const Result g = OnGPU(a, x, gy, false, false, true, &reads);
    EXPECT_EQ(reads, std::string(algo) != "auto");
    EXPECT_TRUE(Same(g.y, cpu.y));
    EXPECT_TRUE(Same(g.gx, cpu.gx));
  }
}

// A backward with no forward at the layer's shape has no winners to read: one error naming
// the layer, not a read of stale or unset bytes.
TEST(MaxPoolGPU, BackwardBeforeForwardIsAnError) {
  UMBRA_REQUIRE_GPU();
  auto layer = nn::LayerRegistry<gpu, float>::Get().Create("max_pooling");
  layer->set_name("pool1");
  layer->SetParam("kernel_size", "3");
  layer->SetParam("stride", "2");
  const Shape<4> s = Shape4(1, 2, 9, 9);
  nn::Node<gpu, float> in, out;
  in.shape = s;
  out.shape = layer->InferShape({s})[0];
  in.Allocate();
  out.Allocate();
  try {
    layer->Backward(true, {&in}, {&out});
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("pool1"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("backward before any forward"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace umbra::max_pool_gpu_test
