// UMBRA_LAUNCH(grid, block, shared_bytes, stream, kernel)(args...): every kernel launch in umbra.
// With nvcc it is `kernel<<<grid, block, shared_bytes, stream>>>(args...)`; in the emulation
// build (UMBRA_CUDA_EMU) the host compiler builds the kernels and the launch runs the grid on the
// CPU (emu.h). The kernel comes last because template arguments hold commas.
#pragma once

#include "umbra/base.h"

// UMBRA_GRID_CONST(T) p: a kernel parameter that every thread reads and none writes, too large to
// copy per thread (a table of segments): CUDA's `const __grid_constant__ T` (one copy in the
// parameter space, one address for all threads), and in the emulation `const T&` to the launch's
// one copy. Copied per emulated thread, SgdMulti's 32 KB table was 60% of an emulated AlexNet
// step (one copy per 8 weights).
#if defined(UMBRA_CUDA_EMU) && !defined(__CUDACC__)
#include "umbra/tensor/cuda/emu.h"
// Each thread's call copies the launch's arguments into the kernel's by-value parameters, once.
#define UMBRA_LAUNCH(grid, block, shared_bytes, stream, ...)                  \
  ::umbra::cuda::emu::Launcher(grid, block, shared_bytes, stream,             \
                               [](const auto&... umbra_emu_args) { __VA_ARGS__(umbra_emu_args...); })
#define UMBRA_GRID_CONST(...) const __VA_ARGS__&
#else
#define UMBRA_LAUNCH(grid, block, shared_bytes, stream, ...) __VA_ARGS__<<<grid, block, shared_bytes, stream>>>
#define UMBRA_GRID_CONST(...) const __grid_constant__ __VA_ARGS__
#endif
