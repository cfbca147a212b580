// CPU thread set-up: one OpenMP pool for everything (elementwise loops and oneDNN's GEMM share it)
// and denormal flushing on every compute thread, so that saturated activations producing tiny
// values do not fall onto the slow microcode path (measured: a 4x slowdown on a sigmoid net).
#pragma once

#if defined(__SSE__) || defined(__x86_64__)
#include <xmmintrin.h>
#include <pmmintrin.h>
#endif
#ifdef _OPENMP
#include <omp.h>
#endif

namespace umbra {

/// Sets flush-to-zero and denormals-are-zero on the calling thread and on every thread of the
/// OpenMP pool. Call once at start-up (the trainer and demo do).
inline void SetFlushDenormals() {
#if defined(__SSE__) || defined(__x86_64__)
  auto set = [] {
    _MM_SET_FLUSH_ZERO_MODE(_MM_FLUSH_ZERO_ON);
    _MM_SET_DENORMALS_ZERO_MODE(_MM_DENORMALS_ZERO_ON);
  };
  set();
#ifdef _OPENMP
#pragma omp parallel
  set();
#endif
#endif
}

/// Threads an OpenMP parallel region will use (1 without OpenMP).
inline int NumThreads() {
#ifdef _OPENMP
  return omp_get_max_threads();
#else
  return 1;
#endif
}

}  // namespace umbra
