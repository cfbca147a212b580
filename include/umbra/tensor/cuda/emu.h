// CUDA kernels on the CPU, for the emulation build (cmake -DUMBRA_CUDA_EMU=ON; scripts/test runs
// it). The host compiler builds umbra's kernels as plain functions; UMBRA_LAUNCH hands each one
// to RunGrid, which runs every thread of the grid on the calling CPU thread: blocks one after
// another, the threads of a block as coroutines that switch at __syncthreads and at warp
// shuffles, so barriers and shuffles mean what they mean on a GPU. Device memory is host memory
// (tests/cuda_stub/cuda_stub.cc with UMBRA_STUB_COMPUTE, which also computes cuBLAS and cuRAND
// calls and records and replays CUDA graphs); the runtime is tests/cuda_stub/emu.cc. Blocks of
// a large grid run on several CPU threads at once.
// What this checks: every index, bound and grid-stride loop of umbra's own kernels, barrier and
// shuffle use (a thread waiting at a barrier its block never reaches, or a shuffle its warp does
// not all reach, is an error, not a hang), graph capture and replay. What it cannot: speed, races
// the GPU's memory model would expose, the device compiler's numerics, cuDNN (off in this build).
#pragma once

#include <cuda_runtime.h>

#include <atomic>
#include <cstddef>
#include <functional>

namespace umbra::cuda::emu {

/// Runs `thread` once per thread of grid x block in stream order (now, or at replay when the
/// stream is being captured into a graph). `kernel` identifies the kernel and its launch site:
/// one seen to run without a barrier or shuffle later runs its threads as plain calls, which
/// is much faster.
void RunGrid(dim3 grid, dim3 block, size_t shared_bytes, cudaStream_t stream, const void* kernel,
             std::function<void()> thread);
/// Barrier of the running thread's block, called at file:line (all its threads must wait at
/// the same one).
void SyncThreads(const char* file, int line);
/// Runs a block's threads and a grid's blocks last first (true) or first first (false, the
/// default; UMBRA_EMU_ORDER=reverse makes true the start value): a race reads other values in
/// one of the two orders. Returns the order it replaces.
bool SetReverseOrder(bool reverse);
/// Warp exchange: each lane offers `bytes` at `in` and receives, at `out`, what lane
/// src(lane) offered; kind 0 xor, 1 down, 2 up, 3 an absolute lane (as __shfl_*_sync).
void WarpShuffle(const void* in, void* out, size_t bytes, int kind, int arg, int width, unsigned mask);

template <typename Fn>
struct Launcher {
  dim3 grid, block;
  size_t shared_bytes;
  cudaStream_t stream;
  Fn kernel;
  Launcher(dim3 g, dim3 b, size_t s, cudaStream_t st, Fn k) : grid(g), block(b), shared_bytes(s), stream(st), kernel(k) {}
  /// Arguments are copied, as a kernel launch copies them.
  template <typename... Args>
  void operator()(Args... args) const {
    static const char key = 0;  // one per kernel instantiation
    RunGrid(grid, block, shared_bytes, stream, &key, [k = kernel, args...]() { k(args...); });
  }
};
template <typename Fn>
Launcher(dim3, dim3, size_t, cudaStream_t, Fn) -> Launcher<Fn>;

}  // namespace umbra::cuda::emu

// The device builtins and intrinsics umbra's kernels use (their reserved names are CUDA's). The
// builtins are variables, not macros (other headers use the names for members); the scheduler
// sets them to the running emulated thread's values at every switch.
inline thread_local uint3 threadIdx, blockIdx;
inline thread_local dim3 blockDim, gridDim;
#define __launch_bounds__(...)
// Shared by the block's threads: they are coroutines on one CPU thread, blocks run in turn.
#undef __shared__
#define __shared__ static thread_local

inline void __syncthreads(const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  ::umbra::cuda::emu::SyncThreads(file, line);
}
template <typename T>
inline T __shfl_xor_sync(unsigned mask, T v, int lane_mask, int width = 32) {
  T out;
  ::umbra::cuda::emu::WarpShuffle(&v, &out, sizeof(T), 0, lane_mask, width, mask);
  return out;
}
template <typename T>
inline T __shfl_down_sync(unsigned mask, T v, unsigned delta, int width = 32) {
  T out;
  ::umbra::cuda::emu::WarpShuffle(&v, &out, sizeof(T), 1, int(delta), width, mask);
  return out;
}
template <typename T>
inline T __shfl_up_sync(unsigned mask, T v, unsigned delta, int width = 32) {
  T out;
  ::umbra::cuda::emu::WarpShuffle(&v, &out, sizeof(T), 2, int(delta), width, mask);
  return out;
}
template <typename T>
inline T __shfl_sync(unsigned mask, T v, int src_lane, int width = 32) {
  T out;
  ::umbra::cuda::emu::WarpShuffle(&v, &out, sizeof(T), 3, src_lane, width, mask);
  return out;
}
/// Blocks of one grid may run on several CPU threads.
template <typename T>
inline T atomicAdd(T* address, T v) {
  return std::atomic_ref<T>(*address).fetch_add(v);
}
/// Orders the calling thread's writes before its later ones for every other thread, as the
/// GPU's fence does for the grid (blocks running on other CPU threads).
inline void __threadfence() { std::atomic_thread_fence(std::memory_order_seq_cst); }
