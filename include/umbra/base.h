// Base definitions shared by every umbra module: index type, device tags, the host/device inline
// macro and CPU thread helpers. Errors are in logging.h. Nothing here allocates or needs CUDA.
// Next: tensor/shape.h, tensor/tensor.h.
#pragma once

#include <cstdint>

#include "umbra/logging.h"

#ifdef __CUDACC__
#define UMBRA_XINLINE __host__ __device__ __forceinline__
#define UMBRA_DEVICE __device__
#else
#define UMBRA_XINLINE inline __attribute__((always_inline))
#define UMBRA_DEVICE
#endif

/// 1 where GPU kernels are compiled: by nvcc, or by the host compiler in the emulation build
/// (UMBRA_CUDA_EMU, tests/cuda_stub/emu.cc: kernels run on the CPU for the emulated gpu tests).
/// Code that launches a kernel is guarded by it; elsewhere a gpu statement is a compile error.
#if (defined(__CUDACC__) || defined(UMBRA_CUDA_EMU)) && defined(UMBRA_USE_CUDA) && UMBRA_USE_CUDA
#define UMBRA_CUDA_KERNELS 1
#else
#define UMBRA_CUDA_KERNELS 0
#endif

/// No-alias qualifier for raw pointers in hand-written loops.
#define UMBRA_RESTRICT __restrict__

namespace umbra {

/// Index and size type of shapes and loops. Signed 64-bit: tensors past 2^31 elements are real
/// (a 64M-float fused statement is a benchmark here), and signed arithmetic keeps `y - pad` sane.
using index_t = int64_t;

/// Device tag: host memory, evaluated by the CPU loop (OpenMP above a size threshold).
struct cpu {
  static constexpr int kDevMask = 1 << 0;
  static constexpr bool kDevCPU = true;
  static constexpr const char* kName = "cpu";
};
/// Device tag: CUDA device memory, evaluated by one generated kernel per statement.
struct gpu {
  static constexpr int kDevMask = 1 << 1;
  static constexpr bool kDevCPU = false;
  static constexpr const char* kName = "gpu";
};

/// True when this build has the CUDA path (nvcc found and UMBRA_USE_CUDA not switched off).
#if defined(UMBRA_USE_CUDA) && UMBRA_USE_CUDA
inline constexpr bool kHasCUDA = true;
#else
inline constexpr bool kHasCUDA = false;
#endif

}  // namespace umbra
