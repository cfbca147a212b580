// Status checks for every CUDA runtime, cuBLAS and cuRAND call: each failure throws umbra::Error
// naming the call, the library's own message and file:line. Included only when UMBRA_USE_CUDA.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <curand.h>

#include "umbra/logging.h"
#include "umbra/tensor/cuda/launch.h"

namespace umbra::cuda {

/// The stream umbra's gpu work runs on when a tensor names none: the calling thread's default
/// stream (cudaStreamPerThread), not the legacy NULL stream. For work issued from one thread the
/// order is the same; the difference is that it can be captured into a CUDA graph (the legacy
/// stream cannot) and does not wait for, nor hold up, other blocking streams. It does still
/// synchronise with the legacy stream itself: a call on that one (a plain cudaMemcpy, a library
/// given stream 0) would wait for it and break a capture. Libraries (cuBLAS, cuDNN, cuRAND) are
/// handed this stream explicitly for that reason.
inline cudaStream_t DefaultStream() { return cudaStreamPerThread; }
/// `s`, or the default stream for null.
inline cudaStream_t OrDefault(cudaStream_t s) { return s ? s : DefaultStream(); }

inline const char* CurandStatusString(curandStatus_t s) {
  switch (s) {
    case CURAND_STATUS_SUCCESS: return "success";
    case CURAND_STATUS_VERSION_MISMATCH: return "version mismatch";
    case CURAND_STATUS_NOT_INITIALIZED: return "generator not initialised";
    case CURAND_STATUS_ALLOCATION_FAILED: return "allocation failed";
    case CURAND_STATUS_TYPE_ERROR: return "wrong generator type";
    case CURAND_STATUS_OUT_OF_RANGE: return "argument out of range";
    case CURAND_STATUS_LENGTH_NOT_MULTIPLE: return "length not a multiple of the dimension (normal needs even counts)";
    case CURAND_STATUS_LAUNCH_FAILURE: return "kernel launch failure";
    case CURAND_STATUS_INITIALIZATION_FAILED: return "initialisation failed (no usable GPU?)";
    case CURAND_STATUS_ARCH_MISMATCH: return "architecture mismatch";
    default: return "internal error";
  }
}

}  // namespace umbra::cuda

#define UMBRA_CUDA_CHECK(call)                                                       \
  do {                                                                               \
    cudaError_t umbra_e_ = (call);                                                   \
    if (umbra_e_ != cudaSuccess) [[unlikely]]                                        \
      ::umbra::detail::Throw(__FILE__, __LINE__, "CUDA call failed: " #call ": ",    \
                             cudaGetErrorName(umbra_e_), " (", cudaGetErrorString(umbra_e_), ")"); \
  } while (0)

#define UMBRA_CUBLAS_CHECK(call)                                                      \
  do {                                                                                \
    cublasStatus_t umbra_e_ = (call);                                                 \
    if (umbra_e_ != CUBLAS_STATUS_SUCCESS) [[unlikely]]                               \
      ::umbra::detail::Throw(__FILE__, __LINE__, "cuBLAS call failed: " #call ": ",   \
                             cublasGetStatusString(umbra_e_));                        \
  } while (0)

#define UMBRA_CURAND_CHECK(call)                                                      \
  do {                                                                                \
    curandStatus_t umbra_e_ = (call);                                                 \
    if (umbra_e_ != CURAND_STATUS_SUCCESS) [[unlikely]]                               \
      ::umbra::detail::Throw(__FILE__, __LINE__, "cuRAND call failed: " #call ": ",   \
                             ::umbra::cuda::CurandStatusString(umbra_e_));            \
  } while (0)
