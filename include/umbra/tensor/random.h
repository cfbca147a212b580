// Random<Device, DType>: uniform and gaussian sampling into tensors, reproducible from a seed.
// cpu: xoshiro256** (cpu/xoshiro.h) with umbra's own float conversion and normal numbers by the
// ziggurat (cpu/ziggurat.h), so the same seed gives the same numbers with any compiler or
// standard library (libm's exp and log decide only the rare wedge and tail cases). gpu: uniform
// numbers by umbra's Philox4x32-10 kernel from a counter in device memory (philox.h: a CUDA
// graph's replays draw new numbers), normal numbers by cuRAND's Philox generator; both on the
// generator's stream, other numbers than the cpu's, each reproducible from the seed.
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
#include "umbra/tensor/philox.h"

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
#if UMBRA_CUDA_KERNELS
namespace cuda {
// Philox uniform numbers in [a, b): out[i] = min(u * (b - a) + a, below_b) with u in [0, 1)
// from the seed state[0] and counter state[1] + i / kPer (four floats or two doubles a counter).
// Both are read from device memory, not passed by value, so that a graph's replays see what
// Seed and PhiloxAdvance wrote since its capture. All threads read state[1] before
// PhiloxAdvance, queued after, moves it.
template <typename DType>
__global__ void PhiloxUniformKernel(DType* out, index_t n, const uint64_t* state, DType a, DType scale,
                                    DType below_b) {
  constexpr index_t kPer = sizeof(DType) == 8 ? 2 : 4;
  const uint64_t seed = state[0], base = state[1];
  const index_t step = index_t(gridDim.x) * blockDim.x;
  for (index_t c = index_t(blockIdx.x) * blockDim.x + threadIdx.x; c * kPer < n; c += step) {
    uint32_t r[4];
    philox::Numbers(seed, base + uint64_t(c), r);
#pragma unroll
    for (index_t k = 0; k < kPer; ++k) {
      if (c * kPer + k >= n) break;
      DType u;
      if constexpr (kPer == 4) u = philox::UnitFloat(r[k]);
      else u = philox::UnitDouble(r[2 * k], r[2 * k + 1]);
      const DType v = u * scale + a;
      out[c * kPer + k] = v < below_b ? v : below_b;
    }
  }
}
template <int = 0>  // a template: defined in every translation unit that launches it
__global__ void PhiloxAdvance(uint64_t* state, uint64_t counters) {
  state[1] += counters;
}
}  // namespace cuda
#endif

template <typename DType>
class Random<gpu, DType> {
  static_assert(std::is_same_v<DType, float> || std::is_same_v<DType, double>,
                "Random<gpu> samples float or double");

 public:
  explicit Random(uint64_t seed = 0)
      : state_(static_cast<uint64_t*>(cuda::CachingAllocator::Get().Alloc(2 * sizeof(uint64_t)))) {
    // Nothing leaks when a call below throws (no destructor runs for a half-made object).
    try {
      UMBRA_CURAND_CHECK(curandCreateGenerator(&gen_, CURAND_RNG_PSEUDO_PHILOX4_32_10));
      // cuRAND's own default is the legacy stream; umbra's is cuda::DefaultStream().
      UMBRA_CURAND_CHECK(curandSetStream(gen_, cuda::DefaultStream()));
      Seed(seed);
    } catch (...) {
      Release();
      throw;
    }
  }
  ~Random() { Release(); }
  Random(const Random&) = delete;
  Random& operator=(const Random&) = delete;

  /// Restarts both sequences (the uniform one's seed and counter in the generator's stream
  /// order). The copy's source is the generator's own (pageable) member, not this call's stack:
  /// CUDA documents an asynchronous copy from pageable memory only as "might be synchronous",
  /// and a wait here would cost a round one host wait (cli.gpu_host_paths allows 3).
  void Seed(uint64_t seed) {
    seed_host_[0] = seed, seed_host_[1] = 0;
    UMBRA_CUDA_CHECK(cudaMemcpyAsync(state_, seed_host_, sizeof(seed_host_), cudaMemcpyHostToDevice,
                                     Stream<gpu>::GetStream(stream_)));
    UMBRA_CURAND_CHECK(curandSetPseudoRandomGeneratorSeed(gen_, seed));
    UMBRA_CURAND_CHECK(curandSetGeneratorOffset(gen_, 0));
  }
  /// Calls that drew numbers a CUDA graph's replay would repeat (as Random<cpu>::draws):
  /// normal numbers, which cuRAND's host-side generator draws. Uniform numbers move a counter
  /// in device memory (philox.h), which each replay reads anew: they are not counted.
  uint64_t draws() const { return draws_; }
  /// As Random<cpu>::set_skip. A net's initial weights, drawn here, would also grow the draw
  /// buffer to its largest weight (144 MiB for AlexNet's fc6), kept afterwards.
  void set_skip(bool on) { skip_ = on; }
  void set_stream(Stream<gpu>* s) {
    // The state's writes queued so far (Seed, draws' counter moves) are done before the new
    // stream's draws read it.
    UMBRA_CUDA_CHECK(cudaStreamSynchronize(Stream<gpu>::GetStream(stream_)));
    stream_ = s;
    UMBRA_CURAND_CHECK(curandSetStream(gen_, Stream<gpu>::GetStream(s)));
  }

#if UMBRA_CUDA_KERNELS
  /// Uniform in [a, b), by Philox4x32-10 from the device-side seed and counter (philox.h):
  /// the same numbers whether the call runs plainly or from a CUDA graph's replay. A dense
  /// destination is written by the one kernel, with no draw buffer (which a graph's replays
  /// would write into: it must not be regrown after a capture).
  template <int N>
  void SampleUniform(Tensor<gpu, N, DType>* dst, DType a = 0, DType b = 1) {
    if (skip_) return;
    const index_t n = dst->Size(), per = sizeof(DType) == 8 ? 2 : 4, counters = (n + per - 1) / per;
    if (n == 0) return;
    // Written on the generator's stream (the destination's own would race with the draw); a
    // strided destination through the draw buffer, in its row order. Rounding can make
    // u * (b - a) + a equal b for u close to 1: clamped to the largest value below b, to keep
    // the interval half-open.
    const bool dense = dst->CheckContiguous();
    Tensor<gpu, 1, DType> buf = dense ? Tensor<gpu, 1, DType>(dst->dptr_, Shape1(n), stream_) : Buffer(n);
    const cudaStream_t s = Stream<gpu>::GetStream(stream_);
    const DType below_b = b > a ? std::nextafter(b, a) : b;
    UMBRA_LAUNCH(cuda::GridFor(counters), cuda::kBaseThreads, 0, s, cuda::PhiloxUniformKernel<DType>)(
        buf.dptr_, n, state_, a, DType(b - a), below_b);
    UMBRA_CUDA_CHECK(cudaGetLastError());
    UMBRA_LAUNCH(1, 1, 0, s, cuda::PhiloxAdvance<>)(state_, uint64_t(counters));
    UMBRA_CUDA_CHECK(cudaGetLastError());
    if (dense) return;
    Tensor<gpu, N, DType> out = *dst;
    out.stream_ = stream_;
    out = buf.Slice(0, n).View(dst->shape_) + DType(0);
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
  void Release() {
    if (gen_) curandDestroyGenerator(gen_);
    gen_ = nullptr;
    cuda::CachingAllocator::Get().Free(state_);
    state_ = nullptr;
  }
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
  uint64_t* state_ = nullptr;  // device: the seed, and the next uniform draw's first Philox counter
  uint64_t seed_host_[2] = {0, 0};  // Seed's source, alive as long as the copy may read it
  Stream<gpu>* stream_ = nullptr;
  uint64_t draws_ = 0;
  bool skip_ = false;
  TensorContainer<gpu, 1, DType> buffer_;
};
#endif

}  // namespace umbra
