// Fused elementwise bandwidth on the CPU: umbra's `y = a*b + c*d - e` over 64M floats against a
// plain copy of the same number of bytes (memcpy of 3 x 64M floats, split over the same OpenMP
// threads). Both report bytes moved (reads + writes) per second; run.py prints the ratio and the
// PyTorch eager figure from the same run.
// Napkin: 6 arrays x 256 MiB = 1.5 GiB per statement.
#include <benchmark/benchmark.h>

#include <cstring>

#include "umbra/tensor.h"

using namespace umbra;

namespace {

constexpr index_t kN = index_t(64) << 20;

struct Arrays {
  TensorContainer<cpu, 1> a{Shape1(kN), 1.f}, b{Shape1(kN), 2.f}, c{Shape1(kN), 3.f},
      d{Shape1(kN), 4.f}, e{Shape1(kN), 5.f}, y{Shape1(kN), 0.f};
};
Arrays& Data() {
  static Arrays* arrays = new Arrays();  // allocated and touched once (first-touch by all threads)
  return *arrays;
}

void BM_UmbraFused(benchmark::State& state) {
  Arrays& m = Data();
  for (auto _ : state) {
    m.y = m.a * m.b + m.c * m.d - m.e;
    benchmark::DoNotOptimize(m.y.dptr_);
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * 6 * kN * sizeof(float));
}

void BM_PlainCopy(benchmark::State& state) {
  // The peer: copy 3 arrays' worth (768 MiB) = 1.5 GiB of reads + writes, like the fused statement.
  Arrays& m = Data();
  // a, b, c are separate allocations: copy each into d, e, y.
  float* srcs[3] = {m.a.dptr_, m.b.dptr_, m.c.dptr_};
  float* dsts[3] = {m.d.dptr_, m.e.dptr_, m.y.dptr_};
  for (auto _ : state) {
#pragma omp parallel
    {
#ifdef _OPENMP
      const index_t nt = omp_get_num_threads(), t = omp_get_thread_num();
#else
      const index_t nt = 1, t = 0;
#endif
      const index_t chunk = (kN + nt - 1) / nt, lo = t * chunk, hi = std::min(kN, lo + chunk);
      for (int k = 0; k < 3; ++k)
        if (hi > lo) std::memcpy(dsts[k] + lo, srcs[k] + lo, (hi - lo) * sizeof(float));
    }
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * 6 * kN * sizeof(float));
}

}  // namespace

BENCHMARK(BM_UmbraFused)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_PlainCopy)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_MAIN();
