// Whether cuDNN takes bfloat16 data in one of its legacy calls (batch norm, pooling, activation),
// found by trying it. cuDNN's documents do not settle it (PyTorch keeps bf16 batch norm away
// from cuDNN altogether), and a refusal (NOT_SUPPORTED) would come only at the first training
// step, ending the run; umbra's own kernels take bf16 nodes for each of these layers, so a
// backend factory asks here first and returns null, the layer keeping its own path, where cuDNN
// refuses. Include only where UMBRA_USE_CUDNN is set.
#pragma once

#include <cstddef>
#include <cstdio>
#include <map>
#include <mutex>
#include <set>
#include <string>

#include "cudnn_util.h"

namespace umbra::nn {

/// Runs trial(buf), buf a zeroed device buffer of `bytes`, once per `key` in the process (on
/// the default stream, outside any step: the factories run when a net is shaped), and says
/// whether cuDNN took it. A cuDNN error from the trial is a refusal, said once per `what` on
/// stderr with cuDNN's reason; any other error (CUDA's) propagates.
template <typename Trial>
bool CudnnTakesBF16(const char* what, const std::string& key, size_t bytes, Trial trial) {
  static std::mutex mu;
  static std::map<std::string, bool> known;
  static std::set<std::string> said;
  std::lock_guard<std::mutex> lock(mu);
  const std::string k = std::string(what) + " " + key;
  if (auto it = known.find(k); it != known.end()) return it->second;
  void* buf = nullptr;
  UMBRA_CUDA_CHECK(cudaMalloc(&buf, bytes));
  bool took = true;
  std::string why;
  try {
    UMBRA_CUDA_CHECK(cudaMemsetAsync(buf, 0, bytes, cuda::DefaultStream()));
    trial(static_cast<char*>(buf));
    UMBRA_CUDA_CHECK(cudaStreamSynchronize(cuda::DefaultStream()));
  } catch (const Error& e) {
    if (e.message().rfind("cuDNN call failed", 0) != 0) {
      cudaFree(buf);
      throw;
    }
    took = false;
    // "cuDNN call failed: cudnnX(args): status" said as "cudnnX: status".
    const std::string& m = e.message();
    const size_t name = m.find("cudnn"), args = m.find('(', name), status = m.rfind(": ");
    why = name != std::string::npos && args != std::string::npos && status != std::string::npos && status > args
              ? m.substr(name, args - name) + m.substr(status)
              : m;
  }
  UMBRA_CUDA_CHECK(cudaFree(buf));
  known[k] = took;
  if (!took && said.insert(what).second)
    std::fprintf(stderr, "umbra: cuDNN %zu refuses bf16 %s (%s: %s); umbra's own kernels take it, here and "
                 "wherever else it refuses\n", cudnnGetVersion(), what, key.c_str(), why.c_str());
  return took;
}

/// Offsets into a probe's buffer, 256-byte aligned as the caching allocator's blocks.
inline size_t ProbeAlign(size_t bytes) { return (bytes + 255) / 256 * 256; }

}  // namespace umbra::nn
