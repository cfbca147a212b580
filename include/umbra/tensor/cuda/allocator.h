// The caching GPU allocator: every device buffer of umbra comes from here, so training loops never
// call cudaMalloc/cudaFree after warm-up. Plain device memory only (never managed memory).
// Blocks are rounded (512 B granules below 1 MiB, 1 MiB granules above) and kept per device in a
// size-ordered free list on release. Reuse is immediate: correct when a device's work is on one
// stream or the caller has synchronised the other streams (as PyTorch's per-stream pools assume).
// On cudaMalloc failure the device's cache is released and the call retried once (not during a
// graph capture, which forbids the wait that release needs); a failure then throws umbra::Error
// with the device, the request and the allocator's usage.
// CUDA graphs: a captured graph replays with the addresses it was captured with, so a block its
// step used must never go to anyone else while the graph lives. Between BeginCapturePool and
// EndCapturePool (on the capturing thread), frees go to the capture's private free list, reused
// by allocations of the same capture (the graph runs in stream order); a block allocated during
// the capture goes there too when it is freed later. The graph owns them until
// ReleaseCapturePool gives them back to the cache (PyTorch's private graph pools). Held blocks
// count as in use: the peak includes what graphs reserve. So within a capture any held block
// large enough serves a request of 1 MiB or more, not only one up to twice the request as from
// the cache: a new block would add its whole size to what the graph holds for good, where the
// larger held one adds nothing. And a capture may start its pool with one block of a given size
// (BeginCapturePool(reserve): StepGraphs passes the largest block the uncaptured step freed,
// LargestFreed), which then serves the step's transients one after another: cuDNN workspaces of
// growing sizes otherwise held one block each (the stand-in's AlexNet with workspaces twice its
// activations held 43 + 64 + 137 + 190 MiB in its graph, 1,597 MiB at its peak against the plain
// step's 1,353).
#pragma once

#include <algorithm>
#include <cstddef>
#include <map>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include "umbra/tensor/cuda/check.h"

namespace umbra::cuda {

class CachingAllocator {
 public:
  struct Stats {
    size_t in_use = 0;      // bytes handed out
    size_t cached = 0;      // bytes held in free lists
    size_t high_water = 0;  // peak of in_use
    size_t mallocs = 0;     // cudaMalloc calls made
  };

  static CachingAllocator& Get() {
    static CachingAllocator* inst = new CachingAllocator();  // never destroyed: outlives users
    return *inst;
  }

  void* Alloc(size_t bytes) {
    if (bytes == 0) return nullptr;
    int dev = 0;
    UMBRA_CUDA_CHECK(cudaGetDevice(&dev));
    const size_t rounded = Round(bytes);
    std::lock_guard<std::mutex> lock(mu_);
    Pool& pool = PoolOf(dev);
    const int cap = CaptureHere(dev);
    if (cap >= 0) {
      auto& own = captures_[cap].free;
      auto it = own.lower_bound(rounded);  // the smallest held block large enough
      if (it != own.end() && (it->first <= 2 * rounded || rounded >= kAnyHeldFrom)) {
        void* p = it->second;
        live_[p] = Block{it->first, dev, cap};  // held by the graph all along: in_use unchanged
        own.erase(it);
        return p;
      }
    }
    size_t sz = 0;
    if (void* p = FromCacheLocked(pool, rounded, &sz)) {
      Track(pool, p, sz, dev, cap);
      return p;
    }
    void* p = nullptr;
    cudaError_t e = cudaMalloc(&p, rounded);
    // Out of memory: the cached blocks go back and the request is tried again, but not while a
    // graph is being captured (the release waits for the device, which a capture forbids and
    // would be invalidated by): the error below then ends the capture, and the step runs plain.
    if (e == cudaErrorMemoryAllocation && !Capturing()) {
      cudaGetLastError();
      ReleaseLocked(pool, dev);
      e = cudaMalloc(&p, rounded);
    }
    if (e != cudaSuccess) {
      cudaGetLastError();
      size_t free_b = 0, total_b = 0;
      cudaMemGetInfo(&free_b, &total_b);
      UMBRA_THROW("out of GPU memory on device ", dev, ": asked for ", bytes, " bytes (", rounded,
                  " rounded); umbra holds ", pool.stats.in_use, " in use and ", pool.stats.cached,
                  " cached; the device has ", free_b, " free of ", total_b, " (",
                  cudaGetErrorString(e), ")");
    }
    ++pool.stats.mallocs;
    Track(pool, p, rounded, dev, cap);
    return p;
  }

  void Free(void* p) {
    if (!p) return;
    std::lock_guard<std::mutex> lock(mu_);
    auto it = live_.find(p);
    UMBRA_CHECK(it != live_.end(), "CachingAllocator::Free of a pointer it did not allocate");
    const Block b = it->second;
    live_.erase(it);
    // The graph's: allocated during its capture, or freed while it is captured here.
    int cap = b.capture >= 0 && captures_.count(b.capture) ? b.capture : -1;
    if (cap < 0) cap = CaptureHere(b.dev);
    if (cap >= 0) {
      captures_[cap].free.emplace(b.size, p);  // still held: in_use unchanged
      return;
    }
    Pool& pool = PoolOf(b.dev);
    pool.stats.in_use -= b.size;
    pool.stats.cached += b.size;
    pool.largest_freed = std::max(pool.largest_freed, b.size);
    pool.free.emplace(b.size, p);
  }

  /// Starts a graph's private pool on the current device (one capture at a time); returns its id.
  /// reserve > 0: the pool starts with a block of at least that many bytes, from the cache or
  /// the driver (none where the driver has too little: the capture then allocates as it goes).
  int BeginCapturePool(size_t reserve = 0) {
    int dev = 0;
    UMBRA_CUDA_CHECK(cudaGetDevice(&dev));
    const size_t rounded = reserve ? Round(reserve) : 0;  // its error before a capture is begun
    std::lock_guard<std::mutex> lock(mu_);
    UMBRA_CHECK(capturing_ < 0, "CachingAllocator: a graph capture is already in progress");
    capturing_ = next_capture_++;
    capture_thread_ = std::this_thread::get_id();
    Capture& c = captures_[capturing_];
    c.dev = dev;
    if (reserve) {
      Pool& pool = PoolOf(dev);
      size_t sz = rounded;
      void* p = FromCacheLocked(pool, rounded, &sz);
      if (!p) {
        if (cudaMalloc(&p, rounded) == cudaSuccess) {
          ++pool.stats.mallocs;
        } else {
          cudaGetLastError();
          p = nullptr;
        }
      }
      if (p) {
        Track(pool, p, sz, dev, capturing_);
        live_.erase(p);
        c.free.emplace(sz, p);  // held by the graph, free for its step's requests
      }
    }
    return capturing_;
  }
  /// Ends the capture: its freed blocks stay with the graph.
  void EndCapturePool() {
    std::lock_guard<std::mutex> lock(mu_);
    capturing_ = -1;
  }
  /// The graph of pool `id` is gone and its work finished: its blocks return to the cache.
  void ReleaseCapturePool(int id) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = captures_.find(id);
    if (it == captures_.end()) return;
    Pool& pool = PoolOf(it->second.dev);
    for (auto& kv : it->second.free) {
      pool.free.insert(kv);
      pool.stats.in_use -= kv.first;
      pool.stats.cached += kv.first;
    }
    captures_.erase(it);
    for (auto& [p, b] : live_)  // still in use elsewhere: freed to the cache from now on
      if (b.capture == id) b.capture = -1;
    if (capturing_ == id) capturing_ = -1;
  }

  /// Returns all cached (unused) blocks of the current device to CUDA.
  void EmptyCache() {
    int dev = 0;
    UMBRA_CUDA_CHECK(cudaGetDevice(&dev));
    std::lock_guard<std::mutex> lock(mu_);
    ReleaseLocked(PoolOf(dev), dev);
  }

  /// EmptyCache, unless a graph is being captured (the release waits for the device, which a
  /// capture forbids); whether it did.
  bool TryEmptyCache() {
    if (Capturing()) return false;
    EmptyCache();
    return true;
  }

  /// Whether a graph is being captured (one of umbra's, or one begun on this thread's stream):
  /// then nothing may wait for the device, and addresses a graph holds must stay.
  bool IsCapturing() const { return Capturing(); }

  /// The largest block given back to the cache since ResetLargestFreed (or the start): what a
  /// step's largest transient took, for BeginCapturePool's reserve.
  size_t LargestFreed(int dev) {
    std::lock_guard<std::mutex> lock(mu_);
    return PoolOf(dev).largest_freed;
  }
  void ResetLargestFreed(int dev) {
    std::lock_guard<std::mutex> lock(mu_);
    PoolOf(dev).largest_freed = 0;
  }

  Stats GetStats(int dev) {
    std::lock_guard<std::mutex> lock(mu_);
    return PoolOf(dev).stats;
  }
  void ResetHighWater(int dev) {
    std::lock_guard<std::mutex> lock(mu_);
    Pool& pool = PoolOf(dev);
    pool.stats.high_water = pool.stats.in_use;
  }

 private:
  struct Pool {
    std::multimap<size_t, void*> free;
    Stats stats;
    size_t largest_freed = 0;  // LargestFreed
  };
  // Within a capture, held blocks of any larger size serve requests from this size on (below
  // it, at most twice the request, as from the cache: a small buffer that lives through the step
  // must not sit on the workspaces' block).
  static constexpr size_t kAnyHeldFrom = size_t(1) << 20;
  struct Block {
    size_t size;
    int dev;
    int capture = -1;  // the graph capture it was allocated in, if any
  };

  static size_t Round(size_t b) {
    constexpr size_t kSmall = 512, kLarge = size_t(1) << 20;
    // Rounded up, a size within 1 MiB of 2^64 wrapped to 0 (AllocBytes refuses tensors past 2^63).
    UMBRA_CHECK(b <= SIZE_MAX - kLarge, "CachingAllocator: cannot allocate ", b, " bytes");
    return b < kLarge ? (b + kSmall - 1) / kSmall * kSmall : (b + kLarge - 1) / kLarge * kLarge;
  }
  Pool& PoolOf(int dev) {
    if (static_cast<int>(pools_.size()) <= dev) pools_.resize(dev + 1);
    return pools_[dev];
  }
  // Whether a graph is being captured: one of umbra's (any thread), or one a caller began on
  // this thread's stream without BeginCapturePool.
  bool Capturing() const {
    if (capturing_ >= 0) return true;
    cudaStreamCaptureStatus st = cudaStreamCaptureStatusNone;
    const bool asked = cudaStreamIsCapturing(DefaultStream(), &st) == cudaSuccess;
    if (!asked) cudaGetLastError();
    return !asked || st != cudaStreamCaptureStatusNone;  // unknown: assume so, no wait
  }
  // The capture in progress on this thread and device, or -1.
  int CaptureHere(int dev) const {
    if (capturing_ < 0 || capture_thread_ != std::this_thread::get_id()) return -1;
    return captures_.at(capturing_).dev == dev ? capturing_ : -1;
  }
  // Best fit from the cache, but never a block more than twice the request (bounded waste): the
  // block, taken out of the cache, with its size in *sz; null where none fits.
  static void* FromCacheLocked(Pool& pool, size_t rounded, size_t* sz) {
    auto it = pool.free.lower_bound(rounded);
    if (it == pool.free.end() || it->first > 2 * rounded) return nullptr;
    void* p = it->second;
    *sz = it->first;
    pool.free.erase(it);
    pool.stats.cached -= *sz;
    return p;
  }
  void Track(Pool& pool, void* p, size_t sz, int dev, int capture = -1) {
    live_[p] = Block{sz, dev, capture};
    pool.stats.in_use += sz;
    if (pool.stats.in_use > pool.stats.high_water) pool.stats.high_water = pool.stats.in_use;
  }
  void ReleaseLocked(Pool& pool, int dev) {
    int cur = 0;
    cudaGetDevice(&cur);
    if (cur != dev) cudaSetDevice(dev);
    // Blocks may still be read by queued kernels: finish them before giving memory back.
    cudaDeviceSynchronize();
    for (auto& kv : pool.free) {
      cudaFree(kv.second);
      pool.stats.cached -= kv.first;  // what graphs' private pools hold stays counted
    }
    pool.free.clear();
    if (cur != dev) cudaSetDevice(cur);
  }

  struct Capture {
    int dev = 0;
    std::multimap<size_t, void*> free;  // the graph's blocks not in use at the moment
  };

  std::mutex mu_;
  std::vector<Pool> pools_;
  std::map<int, Capture> captures_;
  int capturing_ = -1, next_capture_ = 0;
  std::thread::id capture_thread_;
  std::unordered_map<void*, Block> live_;
};

}  // namespace umbra::cuda
