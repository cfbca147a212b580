// The float <-> bfloat16 kernels of the bf16 path (src/nn/bf16_cast.cu) against a host
// reference: round to nearest even (ties, infinities, -0, the largest float rounding to
// infinity), exact widening, the add mode, and the bias + relu conversion with the channel of
// each element in both layouts, for every length's n % 4 and for pointers that do and do not
// allow the four-at-a-time path; the channels-last filter moved as it is cast (and its gradient
// back); a bias gradient summed from bf16 values.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <limits>
#include <vector>

#include <xmmintrin.h>

#include "batch_norm_stats.h"
#include "bf16_cast.h"
#include "harness/gpu_compare.h"

namespace umbra {
namespace bf16_cast_gpu_test {

uint16_t RoundToBf16(float f) {  // finite or infinite f (no NaN here)
  uint32_t u;
  std::memcpy(&u, &f, 4);
  u += 0x7fffu + ((u >> 16) & 1u);
  return uint16_t(u >> 16);
}
float Widen(uint16_t b) {
  const uint32_t u = uint32_t(b) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
uint32_t Bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
// IEEE denormals on the host for the reference's float arithmetic, as on the GPU: the trainer
// sets flush-to-zero and denormals-are-zero on its thread (SetFlushDenormals), and a test that
// trained earlier in this process would leave them set (the emulation's kernels would follow
// the host, a GPU would not).
struct IeeeDenormals {
  unsigned saved = _mm_getcsr();
  IeeeDenormals() { _mm_setcsr(saved & ~0x8040u); }  // FTZ (bit 15) and DAZ (bit 6) off
  ~IeeeDenormals() { _mm_setcsr(saved); }
};

// Device memory with room for an offset, freed at the end.
template <typename T>
struct Dev {
  T* p = nullptr;
  explicit Dev(size_t n) { UMBRA_CUDA_CHECK(cudaMalloc(&p, (n + 8) * sizeof(T))); }
  ~Dev() { cudaFree(p); }
  void Put(const std::vector<T>& v, size_t off) {
    UMBRA_CUDA_CHECK(cudaMemcpy(p + off, v.data(), v.size() * sizeof(T), cudaMemcpyHostToDevice));
  }
  std::vector<T> Get(size_t n, size_t off) const {
    std::vector<T> v(n);
    UMBRA_CUDA_CHECK(cudaDeviceSynchronize());
    UMBRA_CUDA_CHECK(cudaMemcpy(v.data(), p + off, n * sizeof(T), cudaMemcpyDeviceToHost));
    return v;
  }
};

std::vector<float> Values(size_t n, uint64_t seed) {
  const float inf = std::numeric_limits<float>::infinity();
  // ties to even both ways, just past a tie, -0, infinities, the largest float (to infinity)
  const std::vector<float> special = {1.00390625f, 1.01171875f, std::nextafter(1.00390625f, 2.f), -0.f, inf, -inf,
                                      std::numeric_limits<float>::max(), -3.5f, 1e-40f};
  auto r = test::RandomTensor<1, float>(Shape1(index_t(std::max<size_t>(n, 1))), seed, -4.f, 4.f);
  std::vector<float> v(r.dptr_, r.dptr_ + n);
  for (size_t i = 0; i < n && i < special.size(); ++i) v[(i * 7) % n] = special[i];
  return v;
}

const size_t kLengths[] = {0, 1, 3, 4, 5, 8, 37, 1029};

TEST(Bf16CastGPU, ToBf16RoundsToNearestEven) {
  UMBRA_REQUIRE_GPU();
  const IeeeDenormals ieee;
  for (size_t n : kLengths)
    for (size_t off_f : {0, 1})
      for (size_t off_b : {0, 1, 2}) {
        SCOPED_TRACE("n " + std::to_string(n) + " offsets " + std::to_string(off_f) + ", " + std::to_string(off_b));
        const std::vector<float> x = Values(n, 1 + n);
        Dev<float> f(n);
        Dev<uint16_t> b(n);
        f.Put(x, off_f);
        nn::CastToBF16(f.p + off_f, b.p + off_b, n, nullptr);
        const std::vector<uint16_t> got = b.Get(n, off_b);
        for (size_t i = 0; i < n; ++i) ASSERT_EQ(got[i], RoundToBf16(x[i])) << "element " << i << " = " << x[i];
      }
}

TEST(Bf16CastGPU, FromBf16WidensAndAdds) {
  UMBRA_REQUIRE_GPU();
  const IeeeDenormals ieee;
  for (size_t n : kLengths)
    for (size_t off_f : {0, 1})
      for (size_t off_b : {0, 2})
        for (bool add : {false, true}) {
          SCOPED_TRACE("n " + std::to_string(n) + " offsets " + std::to_string(off_f) + ", " + std::to_string(off_b) +
                       (add ? " add" : ""));
          std::vector<uint16_t> h(n);
          for (size_t i = 0; i < n; ++i) h[i] = RoundToBf16(Values(n, 2 + n)[i]);
          const std::vector<float> before = Values(n, 3 + n);
          Dev<uint16_t> b(n);
          Dev<float> f(n);
          b.Put(h, off_b);
          f.Put(before, off_f);
          nn::CastFromBF16(b.p + off_b, f.p + off_f, n, nullptr, add);
          const std::vector<float> got = f.Get(n, off_f);
          for (size_t i = 0; i < n; ++i) {
            const float want = add ? before[i] + Widen(h[i]) : Widen(h[i]);
            if (std::isnan(want))
              EXPECT_TRUE(std::isnan(got[i])) << "element " << i;  // inf + -inf
            else
              ASSERT_EQ(Bits(got[i]), Bits(want)) << "element " << i;
          }
        }
}

// The bias + relu cases: (n, c, h, w) planes of `inner` elements, or channels-last (inner 1);
// bias or none; relu or not; offsets `offs` of the destination; bf16 values with a NaN among
// them (relu keeps it, as op::relu does) and a bias drawn per channel. fn(bf16 values,
// bias, float reference of each element, n, inner, c, offset, bias?, relu?).
template <typename Fn>
void ForBiasCases(std::initializer_list<size_t> offs, uint64_t seed, Fn fn) {
  struct Layout {
    size_t n, c, inner;
  };
  // Planes of 8 and 12 (four elements a bias lookup) and rows of 8 channels (four neighbouring
  // channels a lookup) as well as the rest (a lookup an element).
  for (Layout l : {Layout{3, 5, 7}, Layout{2, 4, 9}, Layout{3, 6, 1}, Layout{1, 1, 5}, Layout{5, 3, 1}, Layout{3, 5, 8},
                   Layout{2, 3, 12}, Layout{5, 8, 1}, Layout{2, 4, 1}})
    for (size_t off : offs)
      for (bool bias : {false, true})
        for (bool relu : {false, true}) {
          const size_t n = l.n * l.c * l.inner;
          SCOPED_TRACE("shape " + std::to_string(l.n) + "x" + std::to_string(l.c) + "x" + std::to_string(l.inner) +
                       " offset " + std::to_string(off) + (bias ? " bias" : "") + (relu ? " relu" : ""));
          std::vector<uint16_t> h(n);
          const std::vector<float> x = Values(n, seed + n);
          for (size_t i = 0; i < n; ++i) h[i] = RoundToBf16(x[i]);
          h[n / 2] = 0x7fc0;  // a NaN
          const auto rb = test::RandomTensor<1, float>(Shape1(index_t(l.c)), seed + 1, -4.f, 4.f);
          const std::vector<float> bv(rb.dptr_, rb.dptr_ + l.c);
          std::vector<float> want(n);
          for (size_t i = 0; i < n; ++i) {
            want[i] = Widen(h[i]);
            if (bias) want[i] += bv[(i / l.inner) % l.c];  // none: -0 stays -0
            if (relu) want[i] = op::relu::Map(want[i]);
          }
          fn(h, bv, want, n, l.inner, l.c, off, bias, relu);
        }
}

TEST(Bf16CastGPU, FromBf16WithBiasAndRelu) {
  UMBRA_REQUIRE_GPU();
  const IeeeDenormals ieee;
  ForBiasCases({0, 1}, 4, [](const std::vector<uint16_t>& h, const std::vector<float>& bv,
                             const std::vector<float>& want, size_t n, size_t inner, size_t c, size_t off, bool bias,
                             bool relu) {
    Dev<uint16_t> b(n);
    Dev<float> f(n), dbias(c);
    b.Put(h, 0);
    dbias.Put(bv, 0);
    nn::CastFromBF16Bias(b.p, bias ? dbias.p : nullptr, f.p + off, n, inner, c, relu, nullptr);
    const std::vector<float> got = f.Get(n, off);
    for (size_t i = 0; i < n; ++i) {
      if (std::isnan(want[i]))
        EXPECT_TRUE(std::isnan(got[i])) << "element " << i;
      else
        ASSERT_EQ(Bits(got[i]), Bits(want[i])) << "element " << i;
    }
  });
}

// bf16 nodes (NetSpec::bf16_nodes): a bf16 convolution output's bias and relu added in place,
// rounded once (the float result above, then to nearest even), for offsets of 0, 1 and 2
// elements (the wide path needs 8-byte alignment).
TEST(Bf16CastGPU, BiasAndReluInPlaceInBf16) {
  UMBRA_REQUIRE_GPU();
  const IeeeDenormals ieee;
  ForBiasCases({0, 1, 2}, 6, [](const std::vector<uint16_t>& h, const std::vector<float>& bv,
                                const std::vector<float>& want, size_t n, size_t inner, size_t c, size_t off, bool bias,
                                bool relu) {
    Dev<uint16_t> b(n);
    Dev<float> dbias(c);
    b.Put(h, off);
    dbias.Put(bv, 0);
    nn::BiasReluBF16(b.p + off, bias ? dbias.p : nullptr, n, inner, c, relu, nullptr);
    const std::vector<uint16_t> got = b.Get(n, off);
    for (size_t i = 0; i < n; ++i) {
      if (std::isnan(want[i]))
        EXPECT_TRUE(std::isnan(Widen(got[i]))) << "element " << i;
      else
        ASSERT_EQ(got[i], RoundToBf16(want[i])) << "element " << i;
    }
  });
}

// A fused relu's backward on bf16 nodes: g * (y > 0 ? 1 : 0) in place (NaN gradients stay NaN
// where multiplied by 0, -0 where a negative one is), every n % 4, offsets 0-2 on both sides.
TEST(Bf16CastGPU, ReluMaskInBf16) {
  UMBRA_REQUIRE_GPU();
  const IeeeDenormals ieee;
  for (size_t n : kLengths)
    for (size_t off_g : {0, 2})
      for (size_t off_y : {0, 1, 2}) {
        SCOPED_TRACE("n " + std::to_string(n) + " offsets " + std::to_string(off_g) + ", " + std::to_string(off_y));
        std::vector<uint16_t> g(n), y(n);
        const std::vector<float> gv = Values(n, 8 + n), yv = Values(n, 9 + n);
        for (size_t i = 0; i < n; ++i) g[i] = RoundToBf16(gv[i]), y[i] = RoundToBf16(yv[i]);
        if (n > 2) g[1] = 0x7fc0, y[1] = 0xc000;  // a NaN gradient where the value is -2
        Dev<uint16_t> dg(n), dy(n);
        dg.Put(g, off_g);
        dy.Put(y, off_y);
        nn::ReluMaskBF16(dg.p + off_g, dy.p + off_y, n, nullptr);
        const std::vector<uint16_t> got = dg.Get(n, off_g);
        for (size_t i = 0; i < n; ++i) {
          const float want = Widen(g[i]) * (Widen(y[i]) > 0.f ? 1.f : 0.f);
          if (std::isnan(want))
            EXPECT_TRUE(std::isnan(Widen(got[i]))) << "element " << i;
          else
            ASSERT_EQ(got[i], RoundToBf16(want)) << "element " << i;
        }
      }
}

// A channels-last bf16 convolution's filter: (outer, a, b) moved to (outer, b, a) and cast, and
// its gradient moved back and added, each in one pass; shapes with a or b of 1 (1x1 kernels,
// one input channel a group), at offsets of 0 and 1 elements.
TEST(Bf16CastGPU, FilterMovedAsItIsCastAndBack) {
  UMBRA_REQUIRE_GPU();
  const IeeeDenormals ieee;
  struct Dims {
    size_t outer, a, b;
  };
  for (Dims d : {Dims{1, 1, 1}, Dims{3, 4, 9}, Dims{5, 1, 9}, Dims{2, 7, 1}, Dims{64, 27, 25}})
    for (size_t off : {0, 1}) {
      const size_t n = d.outer * d.a * d.b;
      SCOPED_TRACE("(" + std::to_string(d.outer) + ", " + std::to_string(d.a) + ", " + std::to_string(d.b) +
                   ") offset " + std::to_string(off));
      auto moved = [&](size_t i) {  // the (outer, a, b) index of element i of (outer, b, a)
        const size_t ia = i % d.a, jb = (i / d.a) % d.b, o = i / (d.a * d.b);
        return (o * d.a + ia) * d.b + jb;
      };
      const std::vector<float> w = Values(n, 20 + n), before = Values(n, 21 + n);
      Dev<float> f(n), g(n);
      Dev<uint16_t> b(n);
      f.Put(w, off);
      nn::SwapInnerToBF16(f.p + off, b.p + off, d.outer, d.a, d.b, nullptr);
      const std::vector<uint16_t> cast = b.Get(n, off);
      for (size_t i = 0; i < n; ++i) ASSERT_EQ(cast[i], RoundToBf16(w[moved(i)])) << "element " << i;
      // Back: the bf16 (outer, b, a) array, seen as (outer, b', a') with a' = b, b' = a.
      g.Put(before, off);
      nn::SwapInnerFromBF16Add(b.p + off, g.p + off, d.outer, d.b, d.a, nullptr);
      const std::vector<float> got = g.Get(n, off);
      for (size_t i = 0; i < n; ++i) {
        const float want = before[i] + Widen(cast[(i / (d.a * d.b)) * d.a * d.b + (i % d.b) * d.a + (i / d.b) % d.a]);
        if (std::isnan(want))
          EXPECT_TRUE(std::isnan(got[i])) << "element " << i;  // inf + -inf
        else
          ASSERT_EQ(Bits(got[i]), Bits(want)) << "element " << i;
      }
    }
}

// A bf16-node convolution's bias gradient: per-channel sums of bf16 values added into fp32 ones
// (ChannelSumsBF16GPU, batch_norm_stats.cu), in both layouts and with channels cut into several
// chunks. Values k / 64 (|k| <= 256, exact in bf16) keep every double sum exact, so any order
// gives the one rounding the reference makes.
TEST(Bf16CastGPU, BiasGradientSummedFromBf16) {
  UMBRA_REQUIRE_GPU();
  struct Case {
    int64_t outer, channels, inner;
  };
  // (N, C, H*W) planes: one chunk, two chunks a channel; (rows, C) channels-last: one and three
  // row chunks, C past a warp's 32, and 64 channels (four a read, 16 threads across a row).
  for (Case c : {Case{2, 3, 7}, Case{3, 5, 2000}, Case{9, 4, 1}, Case{300, 37, 1}, Case{300, 64, 1}}) {
    SCOPED_TRACE("(" + std::to_string(c.outer) + ", " + std::to_string(c.channels) + ", " + std::to_string(c.inner) +
                 ")");
    const size_t n = size_t(c.outer * c.channels * c.inner);
    const auto r = test::RandomTensor<1, float>(Shape1(index_t(n)), 30 + n, -256.f, 256.f);
    std::vector<uint16_t> x(n);
    std::vector<double> sum(size_t(c.channels), 0.0);
    for (size_t i = 0; i < n; ++i) {
      const float v = std::round(r.dptr_[i]) / 64.f;
      x[i] = RoundToBf16(v);
      ASSERT_EQ(Widen(x[i]), v);
      sum[(i / size_t(c.inner)) % size_t(c.channels)] += v;
    }
    const auto a = test::RandomTensor<1, float>(Shape1(index_t(c.channels)), 31, -1.f, 1.f);
    const std::vector<float> before(a.dptr_, a.dptr_ + c.channels);
    const nn::BnDims d{c.outer, c.channels, c.inner};
    Dev<uint16_t> dx(n);
    Dev<float> acc(before.size());
    Dev<double> part(size_t(nn::BnPartialDoubles(d)));
    Dev<unsigned> counts(size_t(nn::BnCountWords(d)));
    dx.Put(x, 0);
    acc.Put(before, 0);
    part.Put(std::vector<double>(size_t(nn::BnPartialDoubles(d)), std::nan("")), 0);  // written before read
    nn::BnCountsClear(d, counts.p, nullptr);
    const nn::BnScratch scratch{part.p, counts.p};
    // Twice on the same scratch: the last block of each column finishes its channels and puts
    // the column's count back for the next launch (a count left over would finish none).
    for (int round = 1; round <= 2; ++round) {
      nn::ChannelSumsBF16GPU(d, dx.p, acc.p, scratch, nullptr);
      // 4 bf16 values a read: of a 2000-value plane, or 4 channels of a row where C is a multiple of 4
      EXPECT_EQ(nn::LastStatsPacked(), c.inner > 1 ? c.inner % 4 == 0 : c.channels % 4 == 0);
      const std::vector<float> got = acc.Get(before.size(), 0);
      for (size_t k = 0; k < before.size(); ++k) {
        float want = float(double(before[k]) + sum[k]);
        if (round == 2) want = float(double(want) + sum[k]);
        ASSERT_EQ(Bits(got[k]), Bits(want)) << "channel " << k << ", launch " << round;
      }
    }
  }
}

}  // namespace bf16_cast_gpu_test
}  // namespace umbra
