// Shared by the cuDNN backends (conv_cudnn.cc, pool_cudnn.cc): the status check and the
// per-device handle. Include only where UMBRA_USE_CUDNN is set (it includes cudnn.h).
#pragma once

#include <cudnn.h>

#include <cstdio>
#include <map>
#include <mutex>

#include "umbra/tensor/cuda/check.h"

#define UMBRA_CUDNN_CHECK(call)                                                                \
  do {                                                                                         \
    cudnnStatus_t umbra_e_ = (call);                                                           \
    if (umbra_e_ != CUDNN_STATUS_SUCCESS) [[unlikely]]                                         \
      ::umbra::detail::Throw(__FILE__, __LINE__, "cuDNN call failed: " #call ": ",             \
                             cudnnGetErrorString(umbra_e_));                                   \
  } while (0)

namespace umbra::nn {

/// One cuDNN handle per device, made on first use and kept for the process, bound to `stream`
/// (null: cuda::DefaultStream()).
inline cudnnHandle_t CudnnHandle(cudaStream_t stream) {
  static std::mutex mu;
  static std::map<int, cudnnHandle_t> handles;
  int dev = 0;
  UMBRA_CUDA_CHECK(cudaGetDevice(&dev));
  cudnnHandle_t h = nullptr;
  {
    std::lock_guard<std::mutex> lock(mu);
    auto it = handles.find(dev);
    if (it == handles.end()) {
      if (handles.empty() && cudnnGetVersion() < size_t(CUDNN_VERSION)) {
        // Binaries built elsewhere and carried (scripts/gpu-check --build-only) may meet an
        // older cuDNN 9: NVIDIA promises nothing for that, so say so once, where it shows.
        std::fprintf(stderr, "umbra: built against cuDNN %d, running with the older %zu: a call it "
                     "lacks fails as a cuDNN error\n", CUDNN_VERSION, cudnnGetVersion());
      }
      UMBRA_CUDNN_CHECK(cudnnCreate(&h));
      handles[dev] = h;
    } else {
      h = it->second;
    }
  }
  UMBRA_CUDNN_CHECK(cudnnSetStream(h, cuda::OrDefault(stream)));
  return h;
}

}  // namespace umbra::nn
