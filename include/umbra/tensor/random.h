// Random<Device, DType>: uniform and gaussian sampling into tensors, reproducible from a seed.
// cpu: xoshiro256** (cpu/xoshiro.h) with umbra's own float conversion and normal numbers by the
// ziggurat (cpu/ziggurat.h), so the same seed gives the same numbers with any compiler or
// standard library (libm's exp and log decide only the rare wedge and tail cases). gpu:
// cuRAND's Philox generator on the generator's stream (its numbers differ from the cpu ones;
// each is reproducible).
// Sampling into gpu tensors launches kernels, so like every gpu statement it belongs in .cu code;
// the samples are written on the generator's stream (set_stream), not the destination's.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "umbra/tensor/cpu/xoshiro.h"
#include "umbra/tensor/cpu/ziggurat.h"
#include "umbra/tensor/engine.h"
#include "umbra/tensor/functors.h"

namespace umbra {

template <typename Device, typename DType = float>
class Random;

template <typename DType>
class Random<cpu, DType> {
 public:
  explicit Random(uint64_t seed = 0) { Seed(seed); }
  void Seed(uint64_t seed) { rng_.Seed(seed); }
  void set_stream(Stream<cpu>*) {}
  /// While on, Sample* leave their destination as it is and draw nothing (a net whose initial
  /// weights are replaced by a host net's; Net's constructor).
  void set_skip(bool on) { skip_ = on; }

  /// Uniform in [a, b).
  template <int N>
  void SampleUniform(Tensor<cpu, N, DType>* dst, DType a = 0, DType b = 1) {
    if (skip_) return;
    ++draws_;
    ForEach(dst, [&] { return a + (b - a) * NextUnit(); });
  }
  /// Normal with mean mu and standard deviation sigma.
  template <int N>
  void SampleGaussian(Tensor<cpu, N, DType>* dst, DType mu = 0, DType sigma = 1) {
    UMBRA_CHECK(sigma >= 0, "SampleGaussian: negative sigma ", sigma);
    if (skip_) return;
    ++draws_;
    // Blocks of numbers (cpu/ziggurat.h), laid out in the destination's element order.
    double block[cpu_random::kNormalBlock];
    index_t left = dst->shape_.Size();
    int pos = 0, m = 0;
    const Shape<2> s = dst->shape_.FlatTo2D();
    for (index_t y = 0; y < s[0]; ++y) {
      DType* row = dst->dptr_ + y * dst->stride_;
      for (index_t x = 0; x < s[1];) {
        if (pos == m) {
          m = int(std::min<index_t>(left, cpu_random::kNormalBlock));
          left -= m, pos = 0;
          cpu_random::StandardNormalBlock(block, m, rng_);
        }
        const index_t c = std::min<index_t>(m - pos, s[1] - x);
        for (index_t k = 0; k < c; ++k) row[x + k] = DType(mu + sigma * block[pos + k]);
        x += c, pos += int(c);
      }
    }
  }
  /// One uniform number in [0, 1) (for shuffles and dropout masks built on the host).
  double NextUnit() { return ++draws_, cpu_random::UnitOf(rng_()); }
  uint64_t NextU64() { return ++draws_, rng_(); }
  /// Calls that drew numbers so far: whether a piece of work used the generator (a training
  /// step that does cannot be replayed from a CUDA graph, which would repeat its numbers).
  uint64_t draws() const { return draws_; }

 private:
  template <int N, typename Fn>
  void ForEach(Tensor<cpu, N, DType>* dst, Fn fn) {
    // Sequential on purpose: the sequence must not depend on the thread count.
    const Shape<2> s = dst->shape_.FlatTo2D();
    for (index_t y = 0; y < s[0]; ++y)
      for (index_t x = 0; x < s[1]; ++x) dst->dptr_[y * dst->stride_ + x] = DType(fn());
  }
  cpu_random::Xoshiro256 rng_;
  uint64_t draws_ = 0;
  bool skip_ = false;
};

#if defined(UMBRA_USE_CUDA) && UMBRA_USE_CUDA
template <typename DType>
class Random<gpu, DType> {
  static_assert(std::is_same_v<DType, float> || std::is_same_v<DType, double>,
                "Random<gpu> samples float or double");

 public:
  explicit Random(uint64_t seed = 0) {
    UMBRA_CURAND_CHECK(curandCreateGenerator(&gen_, CURAND_RNG_PSEUDO_PHILOX4_32_10));
    // cuRAND's own default is the legacy stream; umbra's is cuda::DefaultStream().
    UMBRA_CURAND_CHECK(curandSetStream(gen_, cuda::DefaultStream()));
    Seed(seed);
  }
  ~Random() {
    if (gen_) curandDestroyGenerator(gen_);
  }
  Random(const Random&) = delete;
  Random& operator=(const Random&) = delete;

  void Seed(uint64_t seed) {
    UMBRA_CURAND_CHECK(curandSetPseudoRandomGeneratorSeed(gen_, seed));
    UMBRA_CURAND_CHECK(curandSetGeneratorOffset(gen_, 0));
  }
  /// Calls that drew numbers so far (as Random<cpu>::draws).
  uint64_t draws() const { return draws_; }
  /// As Random<cpu>::set_skip. A net's initial weights, drawn here, would also grow the draw
  /// buffer to its largest weight (144 MiB for AlexNet's fc6), kept afterwards.
  void set_skip(bool on) { skip_ = on; }
  void set_stream(Stream<gpu>* s) {
    stream_ = s;
    UMBRA_CURAND_CHECK(curandSetStream(gen_, Stream<gpu>::GetStream(s)));
  }

#if UMBRA_CUDA_KERNELS
  /// Uniform in [a, b) (cuRAND draws (0, 1]; 1 - u maps it to [0, 1)).
  template <int N>
  void SampleUniform(Tensor<gpu, N, DType>* dst, DType a = 0, DType b = 1) {
    if (skip_) return;
    ++draws_;
    Tensor<gpu, 1, DType> buf = Buffer(dst->Size());
    if constexpr (std::is_same_v<DType, float>)
      UMBRA_CURAND_CHECK(curandGenerateUniform(gen_, buf.dptr_, buf.Size()));
    else
      UMBRA_CURAND_CHECK(curandGenerateUniformDouble(gen_, buf.dptr_, buf.Size()));
    Tensor<gpu, N, DType> src = buf.Slice(0, dst->Size()).View(dst->shape_);
    // Evaluate on the generator's stream, where cuRAND filled the buffer (the destination's own
    // stream would race with it). Rounding can make (1 - u) * (b - a) + a equal b for tiny u:
    // clamp to the largest value below b to keep the interval half-open.
    Tensor<gpu, N, DType> out = *dst;
    out.stream_ = stream_;
    const DType below_b = b > a ? std::nextafter(b, a) : b;
    out = F<op::minimum>((DType(1) - src) * (b - a) + a, below_b);
  }
  template <int N>
  void SampleGaussian(Tensor<gpu, N, DType>* dst, DType mu = 0, DType sigma = 1) {
    UMBRA_CHECK(sigma >= 0, "SampleGaussian: negative sigma ", sigma);
    if (skip_) return;
    ++draws_;
    // cuRAND's normal generator needs an even count: draw into a rounded-up buffer.
    const index_t n = dst->Size(), even = n + (n & 1);
    Tensor<gpu, 1, DType> buf = Buffer(even);
    if constexpr (std::is_same_v<DType, float>)
      UMBRA_CURAND_CHECK(curandGenerateNormal(gen_, buf.dptr_, even, mu, sigma));
    else
      UMBRA_CURAND_CHECK(curandGenerateNormalDouble(gen_, buf.dptr_, even, mu, sigma));
    Tensor<gpu, N, DType> out = *dst;  // on the generator's stream, as in SampleUniform
    out.stream_ = stream_;
    out = buf.Slice(0, n).View(dst->shape_) + DType(0);
  }
#endif

 private:
  Tensor<gpu, 1, DType> Buffer(index_t n) {
    const index_t want = n + (n & 1);
    if (buffer_.shape_[0] < want) buffer_.Resize(Shape1(want));
    Tensor<gpu, 1, DType> b = buffer_;
    b.stream_ = stream_;
    b.shape_[0] = want;
    b.stride_ = want;
    return b;
  }
  curandGenerator_t gen_ = nullptr;
  Stream<gpu>* stream_ = nullptr;
  uint64_t draws_ = 0;
  bool skip_ = false;
  TensorContainer<gpu, 1, DType> buffer_;
};
#endif

}  // namespace umbra
