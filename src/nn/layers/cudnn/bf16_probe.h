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
#include "umbra/tensor/cuda/allocator.h"

namespace umbra::nn {

/// Runs trial(buf), buf a zeroed device buffer of `bytes` from the caching allocator, once per
/// `key` and device in the process (on the thread's default stream, when a net is shaped, never
/// inside a step), and says whether cuDNN took it. cuDNN's refusals (NOT_SUPPORTED, BAD_PARAM:
/// cuDNN has no kernel for that combination) are said once per `what` on stderr with its reason;
/// any other error propagates, unrecorded (a fault, not an answer).
template <typename Trial>
bool CudnnTakesBF16(const char* what, const std::string& key, size_t bytes, Trial trial) {
  static std::mutex mu;
  static std::map<std::string, bool> known;
  static std::set<std::string> said;
  std::lock_guard<std::mutex> lock(mu);
  int dev = 0;
  UMBRA_CUDA_CHECK(cudaGetDevice(&dev));
  const std::string k = std::string(what) + " " + key + " on device " + std::to_string(dev);
  if (auto it = known.find(k); it != known.end()) return it->second;
  CudnnHandle(nullptr);  // made and bound here: its own failure is not a refusal
  auto& alloc = cuda::CachingAllocator::Get();
  struct Buffer {  // given back on every path (in stream order, after the trial's work)
    cuda::CachingAllocator& a;
    void* p;
    ~Buffer() { a.Free(p); }
  } buf{alloc, alloc.Alloc(bytes)};
  bool took = true;
  std::string why;
  try {
    UMBRA_CUDA_CHECK(cudaMemsetAsync(buf.p, 0, bytes, cuda::DefaultStream()));
    trial(static_cast<char*>(buf.p));
    UMBRA_CUDA_CHECK(cudaStreamSynchronize(cuda::DefaultStream()));
  } catch (const Error& e) {
    const std::string& m = e.message();
    // A refusal is NOT_SUPPORTED (any of its sub-codes) or the plain BAD_PARAM; cuDNN 9's
    // BAD_PARAM_NULL_POINTER, _MISALIGNED_POINTER, ... would be umbra's own mistakes.
    const size_t colon = m.rfind(": ");
    const std::string code = colon == std::string::npos ? "" : m.substr(colon + 2);
    if (m.rfind("cuDNN call failed", 0) != 0 ||
        (code.find("NOT_SUPPORTED") == std::string::npos && code != "CUDNN_STATUS_BAD_PARAM"))
      throw;
    took = false;
    // "cuDNN call failed: cudnnX(args): status" said as "cudnnX: status".
    const size_t name = m.find("cudnn"), args = m.find('(', name), status = m.rfind(": ");
    why = name != std::string::npos && args != std::string::npos && status != std::string::npos && status > args
              ? m.substr(name, args - name) + m.substr(status)
              : m;
  }
  known[k] = took;
  if (!took && said.insert(what).second)
    std::fprintf(stderr, "umbra: cuDNN %zu refuses bf16 %s (%s: %s); umbra's own kernels take it, here and "
                 "wherever else it refuses\n", cudnnGetVersion(), what, key.c_str(), why.c_str());
  return took;
}

/// Offsets into a probe's buffer, 256-byte aligned as the caching allocator's blocks.
inline size_t ProbeAlign(size_t bytes) { return (bytes + 255) / 256 * 256; }

}  // namespace umbra::nn
