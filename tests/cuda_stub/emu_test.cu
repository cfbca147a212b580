// The CUDA emulator itself (include/umbra/tensor/cuda/emu.h, emu.cc), built in the emulation
// build only: shuffles and barriers mean what they mean on a GPU, divergence a GPU would hang on
// is a clear abort, atomics hold across the CPU threads that share a grid, bad launches fail
// like CUDA's, and work captured into a graph runs at each replay, not at capture.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <numeric>
#include <thread>
#include <vector>

#include "stub.h"
#include "umbra/tensor/cuda/check.h"

namespace {

template <typename T>
struct DeviceArray {
  T* p = nullptr;
  size_t n;
  explicit DeviceArray(size_t count) : n(count) {
    UMBRA_CUDA_CHECK(cudaMalloc(reinterpret_cast<void**>(&p), n * sizeof(T)));
    UMBRA_CUDA_CHECK(cudaMemset(p, 0, n * sizeof(T)));
  }
  ~DeviceArray() { cudaFree(p); }
  std::vector<T> Host() const {
    std::vector<T> h(n);
    UMBRA_CUDA_CHECK(cudaMemcpy(h.data(), p, n * sizeof(T), cudaMemcpyDeviceToHost));
    return h;
  }
};

// Lazy streams on or off for its lifetime, whatever UMBRA_STUB_STREAMS says (cuda_stub.cc).
struct StreamsMode {
  bool was;
  explicit StreamsMode(bool lazy) : was(umbra_stub::SetLazyStreams(lazy)) {}
  ~StreamsMode() { umbra_stub::SetLazyStreams(was); }
};

__global__ void Shuffles(int* out) {
  const int lane = int(threadIdx.x % 32), v = int(blockIdx.x * 1000 + threadIdx.x);
  int* o = out + (blockIdx.x * blockDim.x + threadIdx.x) * 4;
  o[0] = __shfl_xor_sync(0xffffffffu, v, 5);
  o[1] = __shfl_down_sync(0xffffffffu, v, 3);
  o[2] = __shfl_up_sync(0xffffffffu, v, 2, 16);
  o[3] = __shfl_sync(0xffffffffu, v, 7);
  (void)lane;
}

TEST(Emu, ShufflesExchangeWithinTheWarp) {
  DeviceArray<int> out(2 * 64 * 4);
  UMBRA_LAUNCH(2, 64, 0, nullptr, Shuffles)(out.p);
  UMBRA_CUDA_CHECK(cudaGetLastError());
  const std::vector<int> h = out.Host();
  for (int b = 0; b < 2; ++b)
    for (int t = 0; t < 64; ++t) {
      const int lane = t % 32, warp0 = t - lane, base = b * 1000;
      const int* o = &h[(b * 64 + t) * 4];
      EXPECT_EQ(o[0], base + warp0 + (lane ^ 5)) << t;
      EXPECT_EQ(o[1], base + (lane + 3 < 32 ? t + 3 : t)) << t;
      EXPECT_EQ(o[2], base + (lane % 16 >= 2 ? t - 2 : t)) << t;
      EXPECT_EQ(o[3], base + warp0 + 7) << t;
    }
}

/// Tree sum of 256 values per block through shared memory: wrong without the barriers.
__global__ void BlockSum(const float* in, float* out) {
  __shared__ float s[256];
  const unsigned t = threadIdx.x;
  s[t] = in[blockIdx.x * 256 + t];
  __syncthreads();
  for (unsigned h = 128; h > 0; h >>= 1) {
    if (t < h) s[t] += s[t + h];
    __syncthreads();
  }
  if (t == 0) out[blockIdx.x] = s[0];
}

TEST(Emu, BarriersOrderSharedMemory) {
  const int blocks = 300;  // over the one-CPU-thread limit: blocks shared across CPU threads
  std::vector<float> in(blocks * 256);
  std::iota(in.begin(), in.end(), 0.f);
  DeviceArray<float> din(in.size()), dout(blocks);
  UMBRA_CUDA_CHECK(cudaMemcpy(din.p, in.data(), in.size() * 4, cudaMemcpyHostToDevice));
  for (int rep = 0; rep < 2; ++rep) {  // the second launch knows the kernel waits
    UMBRA_LAUNCH(blocks, 256, 0, nullptr, BlockSum)(din.p, dout.p);
    const std::vector<float> h = dout.Host();
    for (int b = 0; b < blocks; ++b) {
      double want = 0;
      for (int t = 0; t < 256; ++t) want += in[b * 256 + t];
      ASSERT_FLOAT_EQ(h[b], float(want)) << "block " << b;
    }
  }
}

/// Shifts a block's values one place left through shared memory, but without the barrier
/// between reading the right neighbour and overwriting its own slot: a race on a GPU.
__global__ void RacyShiftLeft(const float* in, float* out) {
  __shared__ float s[64];
  const unsigned t = threadIdx.x;
  s[t] = in[t];
  __syncthreads();
  const float v = t + 1 < 64 ? s[t + 1] : 0.f;
  s[t] = v;  // a correct kernel waits at __syncthreads() before this store
  __syncthreads();
  out[t] = s[t];
}

// The first-first order happens to run this race as intended (each thread reads its neighbour
// before the neighbour runs); the last-first order (UMBRA_EMU_ORDER=reverse, which scripts/test
// runs the gpu tests in as well) reads the overwritten slots.
TEST(Emu, TheReverseOrderShowsARaceTheForwardOrderHides) {
  const StreamsMode eager(false);  // each launch runs in the order set when it is issued
  std::vector<float> in(64);
  std::iota(in.begin(), in.end(), 1.f);
  DeviceArray<float> din(64), dout(64);
  UMBRA_CUDA_CHECK(cudaMemcpy(din.p, in.data(), 64 * 4, cudaMemcpyHostToDevice));
  auto run = [&](bool reverse) {
    const bool before = umbra::cuda::emu::SetReverseOrder(reverse);
    UMBRA_LAUNCH(1, 64, 0, nullptr, RacyShiftLeft)(din.p, dout.p);
    umbra::cuda::emu::SetReverseOrder(before);
    return dout.Host();
  };
  std::vector<float> want(64, 0.f);
  std::copy(in.begin() + 1, in.end(), want.begin());
  EXPECT_EQ(run(false), want);
  const std::vector<float> reversed = run(true);
  EXPECT_NE(reversed, want);
  EXPECT_EQ(reversed[62], 0.f);  // thread 62 read slot 63 after thread 63 wrote its 0
}

__global__ void WaitOnce(int* out) {
  __syncthreads();
  if (threadIdx.x == 0) out[blockIdx.x] += 1;
}

long ResidentMiB() {
  long pages = 0, resident = 0;
  std::ifstream("/proc/self/statm") >> pages >> resident;
  return resident * 4096 / (1 << 20);
}

// Each large launch's helper CPU threads map a stack per emulated thread (whose top pages a
// coroutine touches); they must unmap them when they end: 80 launches of 1,024-thread blocks
// would otherwise keep over 300 MiB.
TEST(Emu, ManyLargeLaunchesKeepNoStacks) {
  DeviceArray<int> out(16);
  UMBRA_LAUNCH(16, 1024, 0, nullptr, WaitOnce)(out.p);
  const long before = ResidentMiB();
  for (int rep = 1; rep < 80; ++rep) UMBRA_LAUNCH(16, 1024, 0, nullptr, WaitOnce)(out.p);
  for (int v : out.Host()) EXPECT_EQ(v, 80);
  EXPECT_LT(ResidentMiB() - before, 64) << "MiB kept by 79 launches";
}

__global__ void CountAll(unsigned long long* n, float* f) {
  atomicAdd(n, 1ull);
  atomicAdd(f, 0.5f);
}

TEST(Emu, AtomicsHoldAcrossCpuThreads) {
  DeviceArray<unsigned long long> n(1);
  DeviceArray<float> f(1);
  UMBRA_LAUNCH(dim3(64, 4), dim3(128, 2), 0, nullptr, CountAll)(n.p, f.p);
  EXPECT_EQ(n.Host()[0], 64ull * 4 * 128 * 2);
  EXPECT_EQ(f.Host()[0], 0.5f * 64 * 4 * 128 * 2);
}

__global__ void DivergentBarrier(int* out) {
  if (threadIdx.x < 16) __syncthreads();
  out[threadIdx.x] = 1;
  __syncthreads();
}
__global__ void ShuffleAfterExit(int* out) {
  if (threadIdx.x >= 8) return;
  out[threadIdx.x] = __shfl_xor_sync(0xffffffffu, int(threadIdx.x), 1);
}
__global__ void BarrierOnlySometimes(int* out, int wait) {
  if (wait) __syncthreads();
  out[threadIdx.x] = 1;
}

TEST(EmuDeathTest, DivergenceIsAClearAbort) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  const StreamsMode eager(false);  // the launch itself aborts
  DeviceArray<int> out(64);
  EXPECT_DEATH(UMBRA_LAUNCH(1, 64, 0, nullptr, DivergentBarrier)(out.p), "different barriers: .*emu_test.cu:[0-9]+ and .*emu_test.cu:[0-9]+");
  EXPECT_DEATH(UMBRA_LAUNCH(1, 32, 0, nullptr, ShuffleAfterExit)(out.p), "some lanes of the warp never reach");
  // (One launch site: the emulator knows a kernel by the site that launches it.)
  EXPECT_DEATH(
      for (int wait : {0, 1}) UMBRA_LAUNCH(1, 32, 0, nullptr, BarrierOnlySometimes)(out.p, wait),
      "once ran without __syncthreads");
}

// A float4 read from an address that is not a multiple of 16 faults on a GPU; the emulation
// build checks the alignment of every access (-fsanitize=alignment) and aborts.
__global__ void LoadFloat4(const float* in, float* out) {
  const float4 v = *reinterpret_cast<const float4*>(in);
  out[threadIdx.x] = v.x + v.w;
}

TEST(EmuDeathTest, AMisalignedVectorAccessAborts) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  const StreamsMode eager(false);  // the launch itself aborts
  DeviceArray<float> in(8), out(32);
  UMBRA_LAUNCH(1, 32, 0, nullptr, LoadFloat4)(in.p, out.p);
  UMBRA_CUDA_CHECK(cudaDeviceSynchronize());
  EXPECT_DEATH(UMBRA_LAUNCH(1, 32, 0, nullptr, LoadFloat4)(in.p + 1, out.p),
               "misaligned address .* for type 'const (struct )?float4', which requires 16 byte alignment");
}

TEST(Emu, BadLaunchIsCudasError) {
  DeviceArray<int> out(64);
  UMBRA_LAUNCH(1, 2048, 0, nullptr, BarrierOnlySometimes)(out.p, 0);
  EXPECT_EQ(cudaGetLastError(), cudaErrorInvalidConfiguration);
  UMBRA_LAUNCH(0, 32, 0, nullptr, BarrierOnlySometimes)(out.p, 0);
  EXPECT_EQ(cudaGetLastError(), cudaErrorInvalidConfiguration);
  EXPECT_EQ(cudaGetLastError(), cudaSuccess);
}

__global__ void AddOne(float* x, int n) {
  for (int i = int(blockIdx.x * blockDim.x + threadIdx.x); i < n; i += int(gridDim.x * blockDim.x)) x[i] += 1.f;
}

TEST(Emu, GraphsRunWhenReplayedNotWhenCaptured) {
  const int n = 1000;
  DeviceArray<float> x(n);
  std::vector<float> host(n, 2.f), back(n);
  DeviceArray<float> other(4);
  cudaStream_t s;
  UMBRA_CUDA_CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
  UMBRA_CUDA_CHECK(cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal));
  UMBRA_CUDA_CHECK(cudaMemcpyAsync(x.p, host.data(), n * 4, cudaMemcpyHostToDevice, s));
  UMBRA_LAUNCH(4, 128, 0, s, AddOne)(x.p, n);
  UMBRA_LAUNCH(4, 128, 0, s, AddOne)(x.p, n);
  // Another host thread's work (a prefetcher's copy) is not part of the capture: it runs now.
  const float four[4] = {1, 2, 3, 4};
  std::thread([&] { UMBRA_CUDA_CHECK(cudaMemcpyAsync(other.p, four, 16, cudaMemcpyHostToDevice, nullptr)); }).join();
  cudaGraph_t g;
  UMBRA_CUDA_CHECK(cudaStreamEndCapture(s, &g));
  EXPECT_EQ(other.Host()[3], 4.f) << "another thread's copy waited for a replay";
  EXPECT_EQ(x.Host()[0], 0.f) << "captured work ran at capture";
  cudaGraphExec_t e;
  UMBRA_CUDA_CHECK(cudaGraphInstantiate(&e, g, 0));
  for (int rep = 0; rep < 2; ++rep) {
    host.assign(n, float(rep * 10));  // a replay reads the host buffer as it is then
    UMBRA_CUDA_CHECK(cudaGraphLaunch(e, s));
    UMBRA_CUDA_CHECK(cudaStreamSynchronize(s));
    back = x.Host();
    for (int i = 0; i < n; ++i) ASSERT_EQ(back[i], float(rep * 10 + 2)) << i;
  }
  cudaGraphExecDestroy(e);
  cudaGraphDestroy(g);
  cudaStreamDestroy(s);
}

// Lazy streams (cuda_stub.cc): work runs when the host waits for it, a stream's work after the
// events it waits for, so a missing wait shows in the values, as it may on a GPU.
TEST(Emu, LazyStreamsRunWorkWhenWaitedFor) {
  const StreamsMode lazy(true);
  const int n = 256;
  DeviceArray<float> x(n);
  float* pin = nullptr;
  UMBRA_CUDA_CHECK(cudaMallocHost(reinterpret_cast<void**>(&pin), n * sizeof(float)));
  cudaStream_t copy;
  UMBRA_CUDA_CHECK(cudaStreamCreateWithFlags(&copy, cudaStreamNonBlocking));
  cudaEvent_t copied;
  UMBRA_CUDA_CHECK(cudaEventCreateWithFlags(&copied, cudaEventDisableTiming));
  const cudaStream_t compute = cudaStreamPerThread;
  auto put = [&](float v) {  // x = v from pinned memory on `copy`
    std::fill(pin, pin + n, v);
    UMBRA_CUDA_CHECK(cudaMemcpyAsync(x.p, pin, n * sizeof(float), cudaMemcpyHostToDevice, copy));
  };
  // A copy from pinned memory reads it when it runs: here at the wait, after the host wrote again.
  put(1.f);
  std::fill(pin, pin + n, 2.f);
  UMBRA_CUDA_CHECK(cudaStreamSynchronize(copy));
  EXPECT_EQ(x.Host()[0], 2.f);
  // A pageable source is staged as the call returns: later host writes do not reach the copy.
  std::vector<float> pageable(n, 3.f);
  UMBRA_CUDA_CHECK(cudaMemcpyAsync(x.p, pageable.data(), n * sizeof(float), cudaMemcpyHostToDevice, copy));
  pageable.assign(n, 4.f);
  UMBRA_CUDA_CHECK(cudaStreamSynchronize(copy));
  EXPECT_EQ(x.Host()[0], 3.f);
  // A kernel that waits for the copy's event adds to the copied values.
  put(5.f);
  UMBRA_CUDA_CHECK(cudaEventRecord(copied, copy));
  UMBRA_CUDA_CHECK(cudaStreamWaitEvent(compute, copied, 0));
  UMBRA_LAUNCH(1, 128, 0, compute, AddOne)(x.p, n);
  UMBRA_CUDA_CHECK(cudaStreamSynchronize(compute));
  EXPECT_EQ(x.Host()[0], 6.f);
  // One that does not wait runs first when the host waits for its stream: the copy then
  // overwrites its sum (8 had it run after the copy). A blocking copy waits for the default
  // stream, not for a non-blocking one.
  put(7.f);
  UMBRA_LAUNCH(1, 128, 0, compute, AddOne)(x.p, n);
  EXPECT_EQ(x.Host()[0], 7.f);  // the kernel's 6 + 1; the copy has not run
  UMBRA_CUDA_CHECK(cudaStreamSynchronize(copy));
  EXPECT_EQ(x.Host()[0], 7.f);
  // At a device-wide wait the other streams run before the default one: a copy that should have
  // waited for the kernel before it reads the old values.
  UMBRA_LAUNCH(1, 128, 0, compute, AddOne)(x.p, n);
  UMBRA_CUDA_CHECK(cudaMemcpyAsync(pin, x.p, sizeof(float), cudaMemcpyDeviceToHost, copy));
  UMBRA_CUDA_CHECK(cudaDeviceSynchronize());
  EXPECT_EQ(pin[0], 7.f);
  EXPECT_EQ(x.Host()[0], 8.f);
  // A copy into pinned memory lands when the host waits for it, not before.
  pin[0] = -1.f;
  UMBRA_CUDA_CHECK(cudaMemcpyAsync(pin, x.p, sizeof(float), cudaMemcpyDeviceToHost, compute));
  EXPECT_EQ(pin[0], -1.f);
  UMBRA_CUDA_CHECK(cudaEventRecord(copied, compute));
  UMBRA_CUDA_CHECK(cudaEventSynchronize(copied));
  EXPECT_EQ(pin[0], 8.f);
  UMBRA_CUDA_CHECK(cudaEventDestroy(copied));
  UMBRA_CUDA_CHECK(cudaStreamDestroy(copy));
  UMBRA_CUDA_CHECK(cudaFreeHost(pin));
}

// Inside a capture, waiting for an event recorded outside it is refused and ends the capture
// in failure, as CUDA does; an event recorded inside it may be waited for.
TEST(Emu, ACaptureRefusesAWaitForAnEventFromOutside) {
  cudaStream_t s;
  UMBRA_CUDA_CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
  cudaEvent_t outside, inside;
  UMBRA_CUDA_CHECK(cudaEventCreateWithFlags(&outside, cudaEventDisableTiming));
  UMBRA_CUDA_CHECK(cudaEventCreateWithFlags(&inside, cudaEventDisableTiming));
  UMBRA_CUDA_CHECK(cudaEventRecord(outside, cudaStreamPerThread));
  cudaGraph_t g = nullptr;
  UMBRA_CUDA_CHECK(cudaStreamBeginCapture(s, cudaStreamCaptureModeRelaxed));
  UMBRA_CUDA_CHECK(cudaEventRecord(inside, s));
  EXPECT_EQ(cudaStreamWaitEvent(s, inside, 0), cudaSuccess);
  EXPECT_EQ(cudaStreamWaitEvent(s, outside, 0), cudaErrorStreamCaptureIsolation);
  EXPECT_EQ(cudaStreamEndCapture(s, &g), cudaErrorStreamCaptureInvalidated);
  EXPECT_EQ(g, nullptr);
  cudaEventDestroy(outside);
  cudaEventDestroy(inside);
  cudaStreamDestroy(s);
}

// Fresh device memory holds NaN (all-ones bytes), not the zeros of fresh host pages: a kernel
// or library call that reads what nobody wrote gives NaN in the tests' results.
TEST(Emu, FreshDeviceMemoryIsNaN) {
  float* p = nullptr;
  UMBRA_CUDA_CHECK(cudaMalloc(reinterpret_cast<void**>(&p), 64 * sizeof(float)));
  std::vector<float> h(64);
  UMBRA_CUDA_CHECK(cudaMemcpy(h.data(), p, 64 * sizeof(float), cudaMemcpyDeviceToHost));
  for (float v : h) EXPECT_TRUE(std::isnan(v));
  cudaFree(p);
}

}  // namespace
