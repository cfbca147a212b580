// What the CUDA stand-in (cuda_stub.cc) shares with the emulated kernels' runtime (emu.cc).
#pragma once

#include <cuda_runtime.h>

#include <functional>

namespace umbra_stub {
/// Runs `work` in stream order: now, or, while a stream is being captured, at each launch of
/// the graph captured (as a graph replays its kernels, copies and library calls).
void Submit(cudaStream_t stream, std::function<void()> work);
/// What the next cudaGetLastError returns.
void SetLastError(cudaError_t e);
/// Counts a kernel launch (UMBRA_STUB_LOG).
void CountKernel();
}  // namespace umbra_stub
