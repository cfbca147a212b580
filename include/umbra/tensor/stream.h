// Stream<Device>: where a tensor's work runs. Stream<cpu> is empty (work runs on the calling
// thread and its OpenMP team). Stream<gpu> owns a CUDA stream and a cuBLAS handle bound to it;
// every kernel, copy and BLAS call of a tensor with that stream is queued there, asynchronously.
// A tensor with stream_ == nullptr uses the thread's default stream (cuda::DefaultStream, not the
// legacy NULL stream) and a per-device shared handle. That handle has one workspace: products
// from two host threads on one device at the same time need a Stream<gpu> each (umbra issues a
// device's work from one thread).
#pragma once

#include "umbra/base.h"
#include "umbra/tensor/tensor.h"

#if defined(UMBRA_USE_CUDA) && UMBRA_USE_CUDA
#include <mutex>
#include <vector>

#include "umbra/tensor/cuda/allocator.h"
#include "umbra/tensor/cuda/check.h"
#endif

namespace umbra {

#if defined(UMBRA_USE_CUDA) && UMBRA_USE_CUDA
namespace cuda {
/// cuBLAS's workspace per handle: 32 MiB, PyTorch's size on Hopper (sm_90), what this is tuned for.
inline constexpr size_t kBlasWorkspaceBytes = size_t(32) << 20;
/// Gives handle `h` a workspace of its own from the caching allocator and returns it (the caller
/// frees it with the handle). Without one, cuBLAS takes its workspace from its own pool with
/// cudaMallocAsync, which inside a CUDA-graph capture records allocation nodes into the graph or
/// fails the capture. cublasSetStream resets the workspace: call this after it. From the caching
/// allocator so the peak counts it, as PyTorch's max_memory_allocated counts its own.
inline void* SetBlasWorkspace(cublasHandle_t h) {
  // Inside a capture the block would belong to the graph and go back to the cache with it,
  // while the handle still used it. Handles are made in the uncaptured warm-up step.
  cudaStreamCaptureStatus cap = cudaStreamCaptureStatusNone;
  UMBRA_CUDA_CHECK(cudaStreamIsCapturing(DefaultStream(), &cap));
  UMBRA_CHECK(cap == cudaStreamCaptureStatusNone,
              "a cuBLAS handle was first used inside a CUDA-graph capture; run the step once "
              "uncaptured first");
  void* ws = CachingAllocator::Get().Alloc(kBlasWorkspaceBytes);
  const cublasStatus_t st = cublasSetWorkspace(h, ws, kBlasWorkspaceBytes);
  if (st != CUBLAS_STATUS_SUCCESS) {
    CachingAllocator::Get().Free(ws);
    UMBRA_CUBLAS_CHECK(st);
  }
  return ws;
}
}  // namespace cuda
#endif

template <>
struct Stream<cpu> {
  /// Work on the CPU is synchronous: nothing to wait for.
  void Wait() {}
  bool CheckIdle() { return true; }
};

#if defined(UMBRA_USE_CUDA) && UMBRA_USE_CUDA
template <>
struct Stream<gpu> {
  cudaStream_t stream_ = nullptr;
  cublasHandle_t blas_handle_ = nullptr;
  void* blas_workspace_ = nullptr;  // blas_handle_'s (cuda::SetBlasWorkspace)
  int dev_id_ = 0;

  /// Blocks the host until all work queued on this stream is done; reports asynchronous errors.
  void Wait() { UMBRA_CUDA_CHECK(cudaStreamSynchronize(stream_)); }
  bool CheckIdle() {
    cudaError_t e = cudaStreamQuery(stream_);
    if (e == cudaSuccess) return true;
    if (e == cudaErrorNotReady) return false;
    UMBRA_CUDA_CHECK(e);
    return false;
  }
  static cudaStream_t GetStream(Stream<gpu>* s) { return s ? s->stream_ : cuda::DefaultStream(); }
  /// The cuBLAS handle for work on `s` (a shared per-device handle for the default stream).
  static cublasHandle_t GetBlasHandle(Stream<gpu>* s) {
    if (s) return s->blas_handle_;
    int dev = 0;
    UMBRA_CUDA_CHECK(cudaGetDevice(&dev));
    static std::mutex mu;
    static std::vector<cublasHandle_t> handles;
    std::lock_guard<std::mutex> lock(mu);
    if (static_cast<int>(handles.size()) <= dev) handles.resize(dev + 1, nullptr);
    if (!handles[dev]) {
      cublasHandle_t h = nullptr;
      UMBRA_CUBLAS_CHECK(cublasCreate(&h));
      try {
        // Full FP32 in matrix products by default (PyTorch's default too); TF32 is opt-in.
        UMBRA_CUBLAS_CHECK(cublasSetMathMode(h, CUBLAS_DEFAULT_MATH));
        // Bound once: the default stream is one handle value for every thread (each thread's
        // own stream), and cublasSetStream would reset the workspace on every call. The
        // workspace lives as long as the handle: the process.
        UMBRA_CUBLAS_CHECK(cublasSetStream(h, cuda::DefaultStream()));
        cuda::SetBlasWorkspace(h);
      } catch (...) {
        cublasDestroy(h);
        throw;
      }
      handles[dev] = h;
    }
    return handles[dev];
  }
};
#endif

/// Creates a stream on the current device. On gpu it is non-blocking with its own cuBLAS handle.
template <typename Device>
inline Stream<Device>* NewStream(bool create_blas_handle = true, int dev_id = -1);

template <>
inline Stream<cpu>* NewStream<cpu>(bool, int) {
  return new Stream<cpu>();
}

template <typename Device>
inline void DeleteStream(Stream<Device>* stream);

template <>
inline void DeleteStream<cpu>(Stream<cpu>* stream) {
  delete stream;
}

#if defined(UMBRA_USE_CUDA) && UMBRA_USE_CUDA
template <>
inline Stream<gpu>* NewStream<gpu>(bool create_blas_handle, int dev_id) {
  auto* s = new Stream<gpu>();
  try {
    if (dev_id >= 0) UMBRA_CUDA_CHECK(cudaSetDevice(dev_id));
    UMBRA_CUDA_CHECK(cudaGetDevice(&s->dev_id_));
    UMBRA_CUDA_CHECK(cudaStreamCreateWithFlags(&s->stream_, cudaStreamNonBlocking));
    if (create_blas_handle) {
      UMBRA_CUBLAS_CHECK(cublasCreate(&s->blas_handle_));
      UMBRA_CUBLAS_CHECK(cublasSetStream(s->blas_handle_, s->stream_));
      UMBRA_CUBLAS_CHECK(cublasSetMathMode(s->blas_handle_, CUBLAS_DEFAULT_MATH));
      s->blas_workspace_ = cuda::SetBlasWorkspace(s->blas_handle_);
      // The workspace is a cached block, which work still queued on the default stream may
      // use (the cache reuses blocks in that stream's order): the new stream starts after it.
      cudaEvent_t ev = nullptr;
      UMBRA_CUDA_CHECK(cudaEventCreateWithFlags(&ev, cudaEventDisableTiming));
      const cudaError_t rec = cudaEventRecord(ev, cuda::DefaultStream());
      const cudaError_t wait = rec == cudaSuccess ? cudaStreamWaitEvent(s->stream_, ev, 0) : rec;
      cudaEventDestroy(ev);  // released once the wait is satisfied
      UMBRA_CUDA_CHECK(wait);
    }
  } catch (...) {
    if (s->blas_workspace_) cuda::CachingAllocator::Get().Free(s->blas_workspace_);  // nothing used it yet
    if (s->blas_handle_) cublasDestroy(s->blas_handle_);
    if (s->stream_) cudaStreamDestroy(s->stream_);
    delete s;
    throw;
  }
  return s;
}
template <>
inline void DeleteStream<gpu>(Stream<gpu>* stream) {
  if (!stream) return;
  // Destruction paths must not throw; errors here would only repeat an earlier reported one.
  if (stream->blas_workspace_) {
    // The allocator hands a freed block out at once (to work on any stream): the stream's last
    // products must be done with the workspace first.
    cudaStreamSynchronize(stream->stream_);
    cuda::CachingAllocator::Get().Free(stream->blas_workspace_);
  }
  if (stream->blas_handle_) cublasDestroy(stream->blas_handle_);
  if (stream->stream_) cudaStreamDestroy(stream->stream_);
  delete stream;
}

/// Number of visible CUDA devices; 0 when there is no driver or no device (never throws).
inline int GPUCount() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky "no device" error so later calls are not confused
    return 0;
  }
  return n;
}
#else
inline int GPUCount() { return 0; }
#endif

}  // namespace umbra
