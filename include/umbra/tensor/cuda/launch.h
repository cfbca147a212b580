// UMBRA_LAUNCH(grid, block, shared_bytes, stream, kernel)(args...): every kernel launch in umbra.
// With nvcc it is `kernel<<<grid, block, shared_bytes, stream>>>(args...)`; in the emulation
// build (UMBRA_CUDA_EMU) the host compiler builds the kernels and the launch runs the grid on the
// CPU (emu.h). The kernel comes last because template arguments hold commas.
#pragma once

#include "umbra/base.h"

#if defined(UMBRA_CUDA_EMU) && !defined(__CUDACC__)
#include "umbra/tensor/cuda/emu.h"
#define UMBRA_LAUNCH(grid, block, shared_bytes, stream, ...)                  \
  ::umbra::cuda::emu::Launcher(grid, block, shared_bytes, stream,             \
                               [](auto... umbra_emu_args) { __VA_ARGS__(umbra_emu_args...); })
#else
#define UMBRA_LAUNCH(grid, block, shared_bytes, stream, ...) __VA_ARGS__<<<grid, block, shared_bytes, stream>>>
#endif
