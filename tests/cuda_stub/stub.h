// What the CUDA stand-in (cuda_stub.cc) shares with the emulated kernels' runtime (emu.cc).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>
#include <cstring>
#include <functional>

namespace umbra_stub {
/// Runs `work` in stream order: now, or, while a stream is being captured, at each launch of
/// the graph captured (as a graph replays its kernels, copies and library calls).
void Submit(cudaStream_t stream, std::function<void()> work);
/// Lazy streams on or off (cuda_stub.cc; the environment's UMBRA_STUB_STREAMS=lazy turns them on
/// at start): queued work runs when the host waits for it. Off runs what is queued first.
/// Returns the setting before.
bool SetLazyStreams(bool on);
/// What the next cudaGetLastError returns.
void SetLastError(cudaError_t e);
/// Counts a kernel launch, a cuDNN call (UMBRA_STUB_LOG).
void CountKernel();
void CountCudnn();
/// cuDNN convolution calls (forward, backward-data, backward-filter) so far that ran algorithm
/// `algo` (cudnn_stub.cc; the searches answer algorithms 0, 1, ... as UMBRA_STUB_CUDNN_WS lists).
long ConvCallsWithAlgo(int algo);
/// The device memory cudaMalloc hands out in all (140 GiB at start; below what is in use, every
/// cudaMalloc fails until enough is freed); returns the limit before. And what is in use now.
size_t SetMemoryLimit(size_t bytes);
size_t MemoryUsed();
/// Reports "[stub] BAD range" unless [p, p + bytes) lies inside one live device allocation.
void CheckRange(const void* p, size_t bytes, const char* what);

// TF32 keeps 10 of float's 23 mantissa bits (rounded to nearest, ties away: close enough to the
// tensor cores' input conversion for a 1e-3 comparison either way).
inline float ToTF32(float x) {
  uint32_t u;
  memcpy(&u, &x, 4);
  if ((u & 0x7f800000u) != 0x7f800000u) u = (u + 0x1000u) & 0xffffe000u;
  memcpy(&x, &u, 4);
  return x;
}
inline float FromBF16(uint16_t b) {
  const uint32_t u = uint32_t(b) << 16;
  float x;
  memcpy(&x, &u, 4);
  return x;
}
/// Round to nearest even; NaN stays NaN.
inline uint16_t ToBF16(float x) {
  uint32_t u;
  memcpy(&u, &x, 4);
  if ((u & 0x7f800000u) == 0x7f800000u) return uint16_t((u >> 16) | ((u & 0xffff) ? 0x40 : 0));
  return uint16_t((u + 0x7fffu + ((u >> 16) & 1)) >> 16);
}
}  // namespace umbra_stub
