// batch_norm's GPU statistics kernels (algo=expr: src/nn/layers/batch_norm_stats.cu) against the
// plain reference, the CPU layer in double: both layouts of a channel's values (NCHW runs, and
// channels-last / vector rows), several chunks per channel (the two-stage sums), column tiles
// cut short (30 channels one value a read, 40 four), a fused relu, inputs whose mean is far from 0 against their spread
// (offsets of 100 and -50 to values in [-2, 2): sums of x^2 in float would lose the variance
// there), batch_norm_no_ma, a backward without the input gradient, two training steps
// (gradients accumulate, moving averages move) and a test-mode pass after them.
#include <cmath>
#include <cstring>
#include <vector>

#include "batch_norm_stats.h"
#include "cudnn/conv_cudnn.h"  // CudnnBuilt
#include "harness/gpu_compare.h"
#include "harness/layer_check.h"
#include "umbra/nn/pass_scratch.h"
#include "umbra/tensor/cuda/allocator.h"
#include "umbra/scoped_value.h"
#include "umbra/tensor/bf16.h"

namespace umbra {
namespace {

struct BnCase {
  const char* type;
  Shape<4> in;  // (N, C, H, W); channels-last (N, H, W, C)
  bool nhwc, relu;
  float offset;  // added to inputs in [-2, 2)
  bool prop_grad = true;  // false: weight gradients only (a first layer)
};

// The double reference as float, to compare with the gpu's.
template <int N>
TensorContainer<cpu, N, float> ToFloat(const Tensor<cpu, N, double>& t) {
  TensorContainer<cpu, N, float> f(t.shape_);
  const Shape<2> s = t.shape_.FlatTo2D();
  for (index_t y = 0; y < s[0]; ++y)
    for (index_t x = 0; x < s[1]; ++x) f.dptr_[y * f.stride_ + x] = float(t.dptr_[y * t.stride_ + x]);
  return f;
}
// Float values into a double tensor (the same numbers on both sides).
template <int N>
void SetFrom(const Tensor<cpu, N, double>& d, const Tensor<cpu, N, float>& f) {
  const Shape<2> s = d.shape_.FlatTo2D();
  for (index_t y = 0; y < s[0]; ++y)
    for (index_t x = 0; x < s[1]; ++x) d.dptr_[y * d.stride_ + x] = f.dptr_[y * f.stride_ + x];
}

void Check(const BnCase& c) {
  SCOPED_TRACE(std::string(c.type) + " " + (c.nhwc ? "channels-last " : "") + (c.relu ? "relu " : "") +
               (c.prop_grad ? "" : "no input gradient ") + "offset " + std::to_string(c.offset));
  const test::KV p = {{"algo", "expr"}};
  test::LayerRig<cpu, double> rc(c.type, p, {c.in});
  test::LayerRig<gpu, float> rg(c.type, p, {c.in});
  if (c.nhwc) {
    rc.layer->SetChannelsLast();
    rg.layer->SetChannelsLast();
    rc.layer->InferShape({c.in});
    rg.layer->InferShape({c.in});
    rc.layer->InitWeights(rc.rnd);
    rg.layer->InitWeights(rg.rnd);
  }
  if (c.relu) {
    ASSERT_TRUE(rc.layer->FuseRelu());
    ASSERT_TRUE(rg.layer->FuseRelu());
  }
  auto wc = test::Weights(*rc.layer);
  auto wg = test::Weights(*rg.layer);
  ASSERT_EQ(wc.size(), wg.size());
  // gamma of both signs (the relu's mask flips with it), beta small.
  for (size_t k = 0; k < 2; ++k) {
    auto v = test::RandomTensor<2, float>(wg[k].first.shape_, 5 + k, k ? -0.5f : -1.5f, k ? 0.5f : 1.5f);
    SetFrom(wc[k].first, v.view());
    Copy(wg[k].first, v.view());
  }
  auto compare = [&](const char* what) {
    EXPECT_TRUE(test::AllNear(test::ToCPU(rg.out[0]->data).view(), ToFloat(rc.out[0]->data).view(), 1e-4))
        << what << ": output";
  };
  for (int step = 0; step < 2; ++step) {
    SCOPED_TRACE("step " + std::to_string(step));
    auto x = test::RandomTensor<4, float>(c.in, 11 + step, c.offset - 2.f, c.offset + 2.f);
    SetFrom(rc.in[0]->data, x.view());
    Copy(rg.in[0]->data, x.view());
    rc.Forward(true);
    rg.Forward(true);
    compare("forward");
    auto dy = test::RandomTensor<4, float>(c.in, 31 + step, -1.f, 1.f);
    SetFrom(rc.out[0]->grad, dy.view());
    Copy(rg.out[0]->grad, dy.view());
    rc.layer->Backward(c.prop_grad, rc.in, rc.out);
    rg.layer->Backward(c.prop_grad, rg.in, rg.out);
    if (c.prop_grad)
      EXPECT_TRUE(test::AllNear(test::ToCPU(rg.in[0]->grad).view(), ToFloat(rc.in[0]->grad).view(), 1e-4))
          << "input gradient";
    for (size_t k = 0; k < wc.size(); ++k) {
      EXPECT_TRUE(test::AllNear(test::ToCPU(wg[k].second).view(), ToFloat(wc[k].second).view(), 1e-4))
          << "gradient of weight " << k;
      EXPECT_TRUE(test::AllNear(test::ToCPU(wg[k].first).view(), ToFloat(wc[k].first).view(), 1e-4))
          << "weight " << k << " (moving statistics after the step)";
    }
  }
  rc.Forward(false);
  rg.Forward(false);
  compare("test-mode forward");
}

TEST(BatchNormGPU, StatsKernelsAsTheDoubleReference) {
  UMBRA_REQUIRE_GPU();
  const BnCase cases[] = {
      // 8192 values a channel: two chunks of the strided sums, each read four packs of four
      // values a thread at a time (4096 values a block, once); 7200: chunks of 3600 (900
      // packs: one unrolled round for the first 132 threads, the tail loop for the rest); 7 x 7
      // planes one value at a time.
      {"batch_norm", Shape4(8, 3, 32, 32), false, true, 100.f},
      {"batch_norm", Shape4(8, 3, 30, 30), false, true, -20.f},
      {"batch_norm", Shape4(4, 5, 7, 7), false, false, 0.f},
      // 1.2M values a channel: 293 chunks, more partials than a block's 256 threads merge in
      // one go; channels-last, 2,000 rows of 30 channels (one value a read: not a multiple of
      // 4): 16 row chunks, two partials a row of the 32 x 8 merging tile; of 24 channels (four
      // a read, a tile 8 threads across, 6 of them busy, by 32 rows).
      {"batch_norm", Shape4(2, 2, 600, 1000), false, true, 5.f},
      {"batch_norm", Shape4(5, 20, 20, 30), true, true, -5.f},
      {"batch_norm", Shape4(5, 20, 20, 24), true, true, -5.f},
      // 540 rows of 40 channels, four a read: five row chunks of 108, a tile 16 threads across
      // (10 busy) by 16 rows (one unrolled round of four rows a thread for some, then a tail).
      {"batch_norm", Shape4(6, 10, 9, 40), true, true, -50.f},
      {"batch_norm", Shape4(6, 10, 9, 40), true, false, 3.f},
      // Vectors (N, 1, 1, len): rows of features.
      {"batch_norm_no_ma", Shape4(300, 1, 1, 40), false, true, 20.f},
      {"batch_norm", Shape4(5, 1, 1, 6), false, false, 0.f},
      {"batch_norm_no_ma", Shape4(4, 5, 7, 7), false, true, 1.f},
      {"batch_norm", Shape4(4, 5, 7, 7), false, true, -1.f, false},
  };
  for (const BnCase& c : cases) Check(c);
}

// The sums called directly: four neighbours a read (packed) where a run's length (strided:
// inner > 1) or a row's channels (rows: inner = 1) are a multiple of 4 and every tensor is
// aligned to four elements; one value at a time where a tensor starts one or two elements off
// (all, or the addend alone), a run is 35 long, a row has 35 channels or StatsPacked() is off.
// Each against a double reference on the host: the forward's statistics, then the backward's
// sums with a relu fused over a sum's addend or decided from the output (the masked gradient
// written in place, as a residual block's last batch norm takes it), or with no relu.
// Runs of 4,096 in two chunks: 1,024 packs a block, the unrolled loop's four packs a thread.
// Rows: 36 channels (a tile 16 threads wide, 7 of them idle; 3 row chunks of 100, an unrolled
// round and the tail), 4 (one thread across, 256 rows a tile), 128 (32 across, 5 chunks of 120),
// 260 (three columns of tiles, the last with one thread busy), and more chunks than a tile has
// rows, so that a merging thread adds several partials: 5,000 rows of 64 (40 chunks, 16 rows a
// tile), 2,200 of 128 (18 chunks, 8 rows).
// Float tensors and bfloat16 ones (bf16 nodes: 8-byte packs; offsets of 1 and 2 misalign both).
TEST(BatchNormGPU, StatsReadPacksWhereAlignedAsOneAtATime) {
  UMBRA_REQUIRE_GPU();
  enum Mask { kNone, kAddend, kOutput };  // no relu; its mask from x and an addend; from y
  struct Case {
    index_t outer, channels, inner;
    int offset;  // elements every tensor starts past its allocation's start
    bool allow;
    Mask mask;
    int other_offset;  // elements the addend or y starts past the others' offset
    bool fwd_packed, bwd_packed;
  };
  const ScopedValue keep(nn::StatsPacked());  // the default again after, a throw included
  const Case cases[] = {
      {3, 5, 36, 0, true, kAddend, 0, true, true},     {3, 5, 36, 1, true, kAddend, 0, false, false},
      {3, 5, 36, 0, false, kAddend, 0, false, false},  {3, 5, 35, 0, true, kAddend, 0, false, false},
      {3, 5, 36, 0, true, kAddend, 1, true, false},    {3, 5, 36, 0, true, kOutput, 1, true, false},
      {2, 3, 4100, 0, true, kNone, 0, true, true},     {2, 3, 4100, 2, true, kNone, 0, false, false},
      {2, 3, 4096, 0, true, kAddend, 0, true, true},   {2, 3, 4096, 0, true, kOutput, 0, true, true},
      {300, 36, 1, 0, true, kAddend, 0, true, true},   {300, 36, 1, 1, true, kAddend, 0, false, false},
      {300, 36, 1, 0, false, kNone, 0, false, false},  {300, 35, 1, 0, true, kAddend, 0, false, false},
      {300, 36, 1, 0, true, kOutput, 1, true, false},  {700, 4, 1, 0, true, kOutput, 0, true, true},
      {600, 128, 1, 2, true, kNone, 0, false, false},  {600, 128, 1, 0, true, kAddend, 0, true, true},
      {300, 260, 1, 0, true, kAddend, 0, true, true},  {5000, 64, 1, 0, true, kOutput, 0, true, true},
      {2200, 128, 1, 0, true, kNone, 0, true, true},
  };
  const size_t kCases = sizeof(cases) / sizeof(cases[0]);
  for (size_t run = 0; run < 2 * kCases; ++run) {  // every case on float tensors, then on bf16 ones
    const bool bf16 = run >= kCases;
    const Case& c = cases[run % kCases];
    SCOPED_TRACE(std::string(bf16 ? "bf16, " : "") + std::to_string(c.outer) + " x " + std::to_string(c.channels) +
                 " x " + std::to_string(c.inner) + ", offset " + std::to_string(c.offset) +
                 (c.allow ? "" : ", packs off") + ", mask " + std::to_string(int(c.mask)) + ", other offset " +
                 std::to_string(c.other_offset));
    const nn::BnDims d{c.outer, c.channels, c.inner};
    const index_t n = c.outer * c.channels * c.inner, off = c.offset, oo = c.other_offset;
    const double m = double(c.outer * c.inner);
    const float eps = 1e-5f;
    // x's mean far from 0 against its spread: a variance summed in float would show.
    auto hx = test::RandomTensor(Shape1(n + off), 3, 4.f, 8.f), hgy = test::RandomTensor(Shape1(n + off), 4);
    auto hadd = test::RandomTensor(Shape1(n + off + oo), 5);  // the addend, or y
    // The node's values on the device (float or bf16; the host keeps them widened, bf16 ones
    // rounded first so that both sides read the same numbers) in buffers of float's size.
    auto device = [&](TensorContainer<cpu, 1>& h) {
      TensorContainer<gpu, 1> g(h.shape_);
      if (bf16) {
        std::vector<Bf16> v(size_t(h.shape_.Size()));
        for (size_t i = 0; i < v.size(); ++i) h.dptr_[i] = float(v[i] = Bf16(h.dptr_[i]));
        UMBRA_CUDA_CHECK(cudaMemcpy(g.dptr_, v.data(), v.size() * sizeof(Bf16), cudaMemcpyHostToDevice));
      } else {
        UMBRA_CUDA_CHECK(cudaMemcpy(g.dptr_, h.dptr_, h.shape_.Size() * sizeof(float), cudaMemcpyHostToDevice));
      }
      return g;
    };
    auto at_elem = [&](const TensorContainer<gpu, 1>& g, index_t i) -> void* {  // element i, either dtype
      return bf16 ? static_cast<void*>(reinterpret_cast<Bf16*>(g.dptr_) + i) : static_cast<void*>(g.dptr_ + i);
    };
    auto hgamma = test::RandomTensor(Shape1(c.channels), 6, -1.5f, 1.5f);
    auto hbeta = test::RandomTensor(Shape1(c.channels), 7, -0.5f, 0.5f);
    auto x = device(hx), gy = device(hgy), add = device(hadd);
    auto gamma = test::ToGPU(hgamma.view()), beta = test::ToGPU(hbeta.view());
    TensorContainer<gpu, 1> mean(Shape1(c.channels)), inv_std(Shape1(c.channels)), scale(Shape1(c.channels)),
        shift(Shape1(c.channels)), ggamma(Shape1(c.channels), 0.f), gbeta(Shape1(c.channels), 0.f),
        k1(Shape1(c.channels)), ka(Shape1(c.channels)), kc(Shape1(c.channels));
    // Partials over bytes of NaN (they are the pass gap's, written before read in each launch);
    // counts cleared once, for both launches.
    TensorContainer<gpu, 1, double> partials(Shape1(nn::BnPartialDoubles(d)));
    UMBRA_CUDA_CHECK(cudaMemset(partials.dptr_, 0xff, size_t(partials.shape_[0]) * sizeof(double)));
    TensorContainer<gpu, 1, float> counts(Shape1(nn::BnCountWords(d)));
    nn::BnCountsPrepare(d, reinterpret_cast<unsigned*>(counts.dptr_));
    const nn::BnScratch scratch{partials.dptr_, reinterpret_cast<unsigned*>(counts.dptr_)};
    nn::StatsPacked() = c.allow;
    nn::BnForwardStatsGPU(d,
                          {at_elem(x, off), bf16, gamma.dptr_, beta.dptr_, eps, 0.9f, nullptr, nullptr, mean.dptr_,
                           inv_std.dptr_, scale.dptr_, shift.dptr_},
                          scratch, nullptr);
    EXPECT_EQ(nn::LastStatsPacked(), c.fwd_packed) << "forward";
    nn::BnBackwardArgs b{at_elem(x, off), at_elem(gy, off), bf16,        mean.dptr_, inv_std.dptr_, scale.dptr_,
                         shift.dptr_,   gamma.dptr_,    c.mask != kNone, ggamma.dptr_, gbeta.dptr_, k1.dptr_,
                         ka.dptr_,      kc.dptr_};
    if (c.mask != kNone) {
      (c.mask == kAddend ? b.addend : b.y) = at_elem(add, off + oo);
      b.g_out = at_elem(gy, off);
    }
    nn::BnBackwardSumsGPU(d, b, scratch, nullptr);
    EXPECT_EQ(nn::LastStatsPacked(), c.bwd_packed) << "backward";
    auto rmean = test::ToCPU(mean.view()), rinv = test::ToCPU(inv_std.view()), rscale = test::ToCPU(scale.view());
    auto rshift = test::ToCPU(shift.view()), rgg = test::ToCPU(ggamma.view()), rgb = test::ToCPU(gbeta.view());
    auto rk1 = test::ToCPU(k1.view()), rka = test::ToCPU(ka.view()), rkc = test::ToCPU(kc.view());
    auto rg = test::ToCPU(gy.view());  // the gradient as written, widened
    if (bf16) {
      std::vector<Bf16> v(size_t(n + off));
      UMBRA_CUDA_CHECK(cudaMemcpy(v.data(), gy.dptr_, v.size() * sizeof(Bf16), cudaMemcpyDeviceToHost));
      for (size_t i = 0; i < v.size(); ++i) rg.dptr_[i] = float(v[i]);
    }
    // Plain pointers: a 1-D tensor's [] is a row view, not an element.
    const float *X = hx.dptr_, *GY = hgy.dptr_, *ADD = hadd.dptr_, *GAMMA = hgamma.dptr_, *BETA = hbeta.dptr_;
    const float *MEAN = rmean.dptr_, *INV = rinv.dptr_, *SCALE = rscale.dptr_, *SHIFT = rshift.dptr_, *G = rg.dptr_;
    const float *GG = rgg.dptr_, *GB = rgb.dptr_, *K1 = rk1.dptr_, *KA = rka.dptr_, *KC = rkc.dptr_;
    auto near = [](double got, double want) { return std::abs(got - want) <= 1e-5 * (1 + std::abs(want)); };
    for (index_t ch = 0; ch < c.channels; ++ch) {
      auto at = [&](index_t o, index_t i) { return off + (o * c.channels + ch) * c.inner + i; };
      double s = 0, q = 0;
      for (index_t o = 0; o < c.outer; ++o)
        for (index_t i = 0; i < c.inner; ++i) s += X[at(o, i)], q += double(X[at(o, i)]) * X[at(o, i)];
      const double mu = s / m, inv = 1 / std::sqrt(q / m - mu * mu + eps);
      EXPECT_TRUE(near(MEAN[ch], mu)) << "channel " << ch << ": mean " << MEAN[ch] << ", want " << mu;
      EXPECT_TRUE(near(INV[ch], inv)) << "channel " << ch << ": 1/std " << INV[ch] << ", want " << inv;
      EXPECT_TRUE(near(SCALE[ch], GAMMA[ch] * inv)) << "channel " << ch;
      EXPECT_TRUE(near(SHIFT[ch], BETA[ch] - mu * GAMMA[ch] * inv)) << "channel " << ch;
      // The backward from the device's statistics, its mask decided in float as the kernels
      // decide it (BnScale, then shift and the addend), or from y.
      double sg = 0, sgx = 0;
      int wrong = 0;
      for (index_t o = 0; o < c.outer; ++o)
        for (index_t i = 0; i < c.inner; ++i) {
          const index_t k = at(o, i);
          const float z =
              c.mask == kOutput ? ADD[k + oo] : nn::BnScale::Map(X[k], SCALE[ch]) + SHIFT[ch] + ADD[k + oo];
          const float g = c.mask != kNone && !(z > 0.f) ? 0.f : GY[k];
          wrong += G[k] != g;  // in place with the relu, untouched without
          sg += g;
          sgx += double(g) * double((X[k] - MEAN[ch]) * INV[ch]);
        }
      EXPECT_EQ(wrong, 0) << "channel " << ch << ": masked gradients written";
      EXPECT_TRUE(near(GB[ch], sg)) << "channel " << ch << ": sum(g) " << GB[ch] << ", want " << sg;
      EXPECT_TRUE(near(GG[ch], sgx)) << "channel " << ch << ": sum(g xhat) " << GG[ch] << ", want " << sgx;
      EXPECT_TRUE(near(KA[ch], sg / m)) << "channel " << ch;
      EXPECT_TRUE(near(KC[ch], sgx / m * INV[ch])) << "channel " << ch;
      EXPECT_TRUE(near(K1[ch], double(GAMMA[ch]) * INV[ch])) << "channel " << ch;
    }
  }
}

// algo=auto: umbra's kernels (which take a relu) at any width in either layout (until
// 2026-12-05 cuDNN's from 129 channels in the plain layout); algo=cudnn cuDNN's (which do not)
// at any width where built with it. Which path a layer took shows in whether it fuses a relu.
TEST(BatchNormGPU, AutoTakesUmbrasKernelsAtAnyWidth) {
  UMBRA_REQUIRE_GPU();
  struct Want {
    index_t channels;
    const char* algo;
    bool nhwc, own;
  };
  const bool cudnn = nn::CudnnBuilt();
  for (const Want& w : {Want{128, "auto", false, true}, Want{129, "auto", false, true}, Want{2048, "auto", false, true},
                        Want{256, "auto", true, true}, Want{64, "cudnn", false, !cudnn},
                        Want{256, "cudnn", false, !cudnn}}) {
    SCOPED_TRACE(std::to_string(w.channels) + " channels, algo " + w.algo + (w.nhwc ? ", channels-last" : ""));
    auto bn = nn::LayerRegistry<gpu, float>::Get().Create("batch_norm");
    bn->set_name("bn");
    ASSERT_TRUE(bn->SetParam("algo", w.algo));
    if (w.nhwc) bn->SetChannelsLast();
    bn->InferShape({w.nhwc ? Shape4(2, 3, 3, w.channels) : Shape4(2, w.channels, 3, 3)});
    EXPECT_EQ(bn->FuseRelu(), w.own);
  }
}

// The statistics kernels' partial sums come from the running pass's gap in the node arena
// (pass_buffer.h), where a layer kept 1 MiB of its own per wide channels-last layer: a layer
// lent a gap of NaN bytes computes bit for bit what one lent none computes, writes its partials
// there, and a step under the lend takes nothing from the allocator (its counts are kept, sized
// in InferShape). Both tilings: NCHW's strided sums and channels-last rows, each cut into
// several chunks a channel. (Partials that need clearing fail on the NaN; partials taken from
// the allocator fail the high-water check; partials taken from outside the lend fail the
// written check.)
TEST(BatchNormGPU, PartialSumsFromThePassGapAsWithoutOne) {
  UMBRA_REQUIRE_GPU();
  int dev = 0;
  UMBRA_CUDA_CHECK(cudaGetDevice(&dev));
  auto& alloc = cuda::CachingAllocator::Get();
  const size_t gap_bytes = size_t(1) << 20;
  void* gap = nullptr;
  UMBRA_CUDA_CHECK(cudaMalloc(&gap, gap_bytes));  // not the allocator's: its high water stays the layer's
  for (const bool nhwc : {false, true}) {
    SCOPED_TRACE(nhwc ? "channels-last" : "NCHW");
    const Shape<4> in = nhwc ? Shape4(8, 16, 16, 64) : Shape4(32, 16, 20, 20);
    // Several blocks a channel, so that the last block of each merges partials read back from
    // the gap (a shape of one block a channel would not test that merge).
    const nn::BnDims dims = nhwc ? nn::BnDims{8 * 16 * 16, 64, 1} : nn::BnDims{32, 16, 20 * 20};
    ASSERT_GT(nn::BnPartialDoubles(dims), 2 * dims.channels) << "one block a channel";
    const test::KV p = {{"algo", "expr"}};
    test::LayerRig<gpu, float> plain("batch_norm", p, {in}), lent("batch_norm", p, {in});
    for (auto* r : {&plain, &lent}) {
      if (!nhwc) continue;
      r->layer->SetChannelsLast();
      r->layer->InferShape({in});
      r->layer->InitWeights(r->rnd);
    }
    UMBRA_CUDA_CHECK(cudaMemset(gap, 0xff, gap_bytes));  // NaN in every double
    for (int step = 0; step < 2; ++step) {
      SCOPED_TRACE("step " + std::to_string(step));
      auto x = test::RandomTensor<4, float>(in, 41 + step, -1.f, 3.f);
      auto dy = test::RandomTensor<4, float>(in, 51 + step, -1.f, 1.f);
      for (auto* r : {&plain, &lent}) {
        Copy(r->in[0]->data, x.view());
        Copy(r->out[0]->grad, dy.view());
      }
      plain.Forward(true);
      plain.layer->Backward(true, plain.in, plain.out);
      UMBRA_CUDA_CHECK(cudaDeviceSynchronize());
      const size_t before = alloc.GetStats(dev).in_use;
      alloc.ResetHighWater(dev);
      {
        const nn::PassScratch::Lend forward(gap, gap_bytes);
        lent.Forward(true);
      }
      {
        const nn::PassScratch::Lend backward(gap, gap_bytes);
        lent.layer->Backward(true, lent.in, lent.out);
      }
      UMBRA_CUDA_CHECK(cudaDeviceSynchronize());
      // The first step sizes k1_ (a channel's floats); the second takes nothing.
      if (step == 1) EXPECT_EQ(alloc.GetStats(dev).high_water, before) << "bytes taken from the allocator";
      auto same = [](const Tensor<gpu, 4>& a, const Tensor<gpu, 4>& b) {
        const auto ha = test::ToCPU(a), hb = test::ToCPU(b);
        return std::memcmp(ha.dptr_, hb.dptr_, size_t(ha.shape_.Size()) * sizeof(float)) == 0;
      };
      EXPECT_TRUE(same(lent.out[0]->data, plain.out[0]->data)) << "output";
      EXPECT_TRUE(same(lent.in[0]->grad, plain.in[0]->grad)) << "input gradient";
      auto wp = test::Weights(*plain.layer), wl = test::Weights(*lent.layer);
      for (size_t k = 0; k < wp.size(); ++k) {
        const auto a = test::ToCPU(wl[k].second), b = test::ToCPU(wp[k].second);
        EXPECT_EQ(std::memcmp(a.dptr_, b.dptr_, size_t(a.shape_.Size()) * sizeof(float)), 0) << "gradient " << k;
      }
    }
    double first = 0;
    UMBRA_CUDA_CHECK(cudaMemcpy(&first, gap, sizeof(first), cudaMemcpyDeviceToHost));
    EXPECT_FALSE(std::isnan(first)) << "the partials were not written into the gap";
  }
  UMBRA_CUDA_CHECK(cudaFree(gap));
}

}  // namespace
}  // namespace umbra
