// What the GPU benchmarks of bench_gpu share: skip without a device, and time each iteration
// with CUDA events on the default stream (Google Benchmark's manual time), so host launch
// overhead only counts where the device waits for it.
#pragma once

#include <benchmark/benchmark.h>

#include "umbra/tensor.h"

namespace umbra::bench {

inline bool HaveGPU(benchmark::State& st) {
  if (GPUCount() > 0) return true;
  st.SkipWithError("no CUDA device");
  return false;
}

// A device tensor holding v everywhere, filled by one kernel: TensorContainer's (shape, value)
// constructor stages the values on the host (one definition for .cc and .cu files), which
// for the benchmarks' 256 MiB arrays is host time on any machine and seconds each under the
// CUDA stand-in on a machine whose page faults are slow (tests/cli/gpu_host_paths.sh).
template <int N>
TensorContainer<gpu, N> Filled(const Shape<N>& s, float v) {
  TensorContainer<gpu, N> t(s);
  t = v;
  return t;
}

// Times `body` with events; each iteration is one run of the measured work.
template <typename Fn>
void TimeLoop(benchmark::State& st, Fn body) {
  cudaEvent_t t0, t1;
  UMBRA_CUDA_CHECK(cudaEventCreate(&t0));
  UMBRA_CUDA_CHECK(cudaEventCreate(&t1));
  body();  // warm-up
  for (auto _ : st) {
    UMBRA_CUDA_CHECK(cudaEventRecord(t0, cuda::DefaultStream()));
    body();
    UMBRA_CUDA_CHECK(cudaEventRecord(t1, cuda::DefaultStream()));
    UMBRA_CUDA_CHECK(cudaEventSynchronize(t1));
    float ms = 0;
    UMBRA_CUDA_CHECK(cudaEventElapsedTime(&ms, t0, t1));
    st.SetIterationTime(ms / 1e3);
  }
  cudaEventDestroy(t0);
  cudaEventDestroy(t1);
}

}  // namespace umbra::bench
