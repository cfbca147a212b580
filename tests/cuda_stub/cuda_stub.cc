// A stand-in for the CUDA runtime, cuBLAS, cuRAND and (cudnn_stub.cc) cuDNN, preloaded (LD_PRELOAD) into umbra's
// GPU binaries on a machine without a GPU so that the host side of every GPU code path runs:
// device memory is host memory (mmap'd lazily), copies and memsets happen, kernels and library
// compute calls do nothing, descriptors remember their shapes so that output-size queries
// answer, the "device" has 140 GiB and 132 SMs. Numbers computed on the "device" are
// meaningless; what this catches is host logic that throws, crashes, launches an impossible grid
// or hands a copy, cuBLAS or cuDNN a buffer smaller than its shape says (reported as
// "[stub] BAD ..."). tests/cli/gpu_host_paths.sh drives it. Any CUDA entry point the binaries
// use must be here: the test lists the binaries' CUDA symbols missing from this library and
// fails on any.
// Built with UMBRA_STUB_COMPUTE (library umbra_cuda_emu) it is the device of the emulation
// build (include/umbra/tensor/cuda/emu.h): cuBLAS calls compute with OpenBLAS, cuRAND draws
// numbers, the device reports 8 SMs (smaller grids: the emulator runs every thread), and
// umbra's kernels run on the CPU (emu.cc). In both forms, work issued to a stream while it is
// captured is recorded and runs at each cudaGraphLaunch, as on a GPU. Work runs as it is issued,
// or with lazy streams (below) when the host waits for it.
#include <cuda_runtime.h>
#include <cublas_v2.h>
#include <curand.h>
#include <sys/mman.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <set>
#include <memory>
#include <mutex>
#include <vector>

#include "stub.h"
#ifdef UMBRA_STUB_COMPUTE
#include <cblas.h>

#include <random>
static constexpr int kSMs = 8;
#else
static constexpr int kSMs = 132;
#endif

static std::mutex mu;
static std::map<void*, size_t> blocks;
static size_t limit = (size_t)140 << 30, used = 0;
static cudaError_t last = cudaSuccess;
// Work the binary asked of the "device", printed at exit with UMBRA_STUB_LOG set: launches per
// training step are host-side facts (what CUDA graphs and fusion remove), countable here.
static struct Counts {
  long kernels = 0, cudnn = 0, cublas = 0, copies = 0;
  // Host waits for the device: stream and device synchronisations and blocking copies (each
  // drains the queue on a GPU), and event waits (the prefetcher's, on its copy stream).
  long waits = 0, event_waits = 0;
  long pinned = 0;  // pinned host allocations (each costly on a GPU; freeing one waits for the device)
  ~Counts() {
    if (getenv("UMBRA_STUB_LOG"))
      fprintf(stderr, "[stub] calls: %ld kernels, %ld cuDNN, %ld cuBLAS, %ld copies/memsets; waits: %ld, on events %ld; "
              "pinned allocations %ld\n", kernels, cudnn, cublas, copies, waits, event_waits, pinned);
  }
} counts;
// Stream capture: one capture at a time per host thread.
// Per host thread: work another thread issues meanwhile (a prefetcher's copy on its own stream)
// is not captured, as on a GPU. (Captured streams are not told apart: umbra captures a step
// from the one thread that issues it.)
static thread_local bool capturing = false;
static thread_local std::vector<std::function<void()>> recorded;
using Work = std::vector<std::function<void()>>;
// Lazy streams (UMBRA_STUB_STREAMS=lazy, or umbra_stub::SetLazyStreams): as on a GPU, work
// issued to a stream waits in that stream's queue and runs, in the stream's order, only when
// the host needs it done: a stream, device or event synchronisation, cudaFree or cudaFreeHost
// (which synchronise on a GPU too), a copy into pageable host memory; a blocking copy or memset
// waits for the default stream only (umbra's other streams are non-blocking). Work queued
// behind a cudaStreamWaitEvent runs after the recording stream's work up to that record. So a
// host read without a wait sees the old values, a copy from pinned memory reads what the host
// wrote after issuing it, and a stream that skips a wait for another's event runs before that
// stream's work (one schedule of those a GPU may run: a missing wait shows in the direction
// this one takes). Eager (the default): work runs as it is issued. Null and cudaStreamLegacy
// are the thread's default stream here; cuBLAS runs on its handle's stream, cuDNN and cuRAND
// on the default one (where umbra issues them).
struct StubEvent {
  double t = 0;  // first: the host clock when it completed (cudaEventElapsedTime reads it)
  uint64_t recorded = 0;       // records issued (lazy streams)
  std::set<uint64_t> pending;  // those not yet reached by their stream (a later record on
                               // another stream may complete first)
  cudaStream_t stream = nullptr;  // of the last record
  enum { kNever, kOutside, kInside } last = kNever;  // where its last record was issued
};
struct Queued {
  std::function<void()> work;
  StubEvent* record = nullptr;  // or: completes record `gen` of this event
  StubEvent* wait = nullptr;    // or: waits for record `gen` of this event, issued on `on`
  uint64_t gen = 0;
  cudaStream_t on = nullptr;
};
static bool lazy = [] {
  const char* v = getenv("UMBRA_STUB_STREAMS");
  return v && !strcmp(v, "lazy");
}();
static std::recursive_mutex qmu;
static std::map<cudaStream_t, std::deque<Queued>> queues;
static cudaStream_t Canon(cudaStream_t s) { return s == nullptr || s == cudaStreamLegacy ? cudaStreamPerThread : s; }
static double NowMs() {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
// Runs stream s's queue until record `gen` of e is done (all of it for e null).
static void DrainUntil(cudaStream_t s, const StubEvent* e, uint64_t gen) {
  std::lock_guard<std::recursive_mutex> l(qmu);
  while (!(e && !e->pending.count(gen)) && !queues[s].empty()) {
    Queued q = std::move(queues[s].front());
    queues[s].pop_front();
    if (q.wait) {
      DrainUntil(q.on, q.wait, q.gen);
    } else if (q.record) {
      q.record->pending.erase(q.gen);
      q.record->t = NowMs();
    } else {
      q.work();
    }
  }
}
static void Drain(cudaStream_t s) {
  if (lazy) DrainUntil(Canon(s), nullptr, 0);
}
// Every stream, the thread's default one last: a device-wide wait then runs the other streams'
// work before the default stream's, so one that should have waited for the default stream's
// work and did not reads what is not there yet (the other order is shown by the waits for the
// default stream alone: losses, metrics, copies to the host).
static void DrainAll() {
  if (!lazy) return;
  std::lock_guard<std::recursive_mutex> l(qmu);
  for (bool more = true; more;) {
    more = false;
    for (auto& [s, q] : queues)
      if (s != cudaStreamPerThread && !q.empty()) {
        DrainUntil(s, nullptr, 0);
        more = true;
        break;  // a drained wait may have run other streams: look again
      }
    if (!more && !queues[cudaStreamPerThread].empty()) {
      DrainUntil(cudaStreamPerThread, nullptr, 0);
      more = true;
    }
  }
}
// Whether p lies inside one of the allocations (start -> bytes) of m.
template <typename Map>
static bool Inside(const Map& m, const void* p) {
  std::lock_guard<std::mutex> l(mu);
  auto it = m.upper_bound(static_cast<typename Map::key_type>(const_cast<void*>(p)));
  if (it == m.begin()) return false;
  --it;
  return static_cast<const char*>(p) < static_cast<const char*>(it->first) + it->second;
}
// Pinned host allocations (cudaHostAlloc, cudaMallocHost): copies from and into them are
// asynchronous; pageable memory is staged or waited for, as CUDA does.
static std::map<const void*, size_t> pinned;
static bool IsPinned(const void* p) { return Inside(pinned, p); }
// The direction of a copy; cudaMemcpyDefault's from where the pointers lie.
static bool IsDevice(const void* p) { return Inside(blocks, p); }
static cudaMemcpyKind Direction(cudaMemcpyKind k, const void* d, const void* s) {
  if (k != cudaMemcpyDefault) return k;
  const bool dd = IsDevice(d), sd = IsDevice(s);
  return dd && sd ? cudaMemcpyDeviceToDevice : dd ? cudaMemcpyHostToDevice : sd ? cudaMemcpyDeviceToHost
                                                                                : cudaMemcpyHostToHost;
}
namespace umbra_stub {
void Submit(cudaStream_t s, std::function<void()> work) {
  if (capturing) {
    recorded.push_back(std::move(work));
  } else if (lazy) {
    std::lock_guard<std::recursive_mutex> l(qmu);
    queues[Canon(s)].push_back(Queued{std::move(work)});
  } else {
    work();
  }
}
bool SetLazyStreams(bool on) {
  DrainAll();
  const bool was = lazy;
  lazy = on;
  return was;
}
void SetLastError(cudaError_t e) { last = e; }
void CountKernel() { ++counts.kernels; }
void CountCudnn() { ++counts.cudnn; }
size_t SetMemoryLimit(size_t bytes) {
  std::lock_guard<std::mutex> l(mu);
  const size_t was = limit;
  limit = bytes;
  return was;
}
size_t MemoryUsed() {
  std::lock_guard<std::mutex> l(mu);
  return used;
}
}  // namespace umbra_stub
using umbra_stub::CheckRange;
using umbra_stub::FromBF16;
using umbra_stub::ToBF16;
using umbra_stub::ToTF32;
using umbra_stub::Submit;
static void* Map(size_t n) {
  void* p = mmap(nullptr, n ? n : 1, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) return nullptr;
  // Large blocks in 2 MiB pages where the kernel grants them: on a virtual machine whose page
  // faults are slow, the first touch of a benchmark's 256 MiB arrays in 4 KiB pages took seconds
  // (bench_gpu's runs under the stand-in, 2026-12-05).
  if (n >= (size_t(2) << 20)) madvise(p, n, MADV_HUGEPAGE);
  return p;
}
// A device range the binary hands to a copy or a library call must lie inside one live
// cudaMalloc block: a null, freed or foreign pointer, or a size past the block's end, is what
// would be an illegal address on a GPU ("[stub] BAD range"). (The caching allocator's slack
// and its shared arena hide overruns smaller than a block.)
void umbra_stub::CheckRange(const void* p, size_t bytes, const char* what) {
  if (bytes == 0) return;
  std::lock_guard<std::mutex> l(mu);
  auto it = blocks.upper_bound(const_cast<void*>(p));
  if (it != blocks.begin()) {
    --it;
    const char* b = static_cast<const char*>(it->first);
    if (static_cast<const char*>(p) >= b && static_cast<const char*>(p) + bytes <= b + it->second) return;
  }
  fprintf(stderr, "[stub] BAD range: %s %p + %zu bytes is not inside one device allocation\n", what, p, bytes);
}
extern "C" {
cudaError_t cudaGetDeviceCount(int* n) { *n = 1; return cudaSuccess; }
cudaError_t cudaGetDevice(int* d) { *d = 0; return cudaSuccess; }
cudaError_t cudaSetDevice(int) { return cudaSuccess; }
cudaError_t cudaGetDeviceProperties_v2(cudaDeviceProp* p, int) {
  memset(p, 0, sizeof(*p)); strcpy(p->name, "stub H200"); p->totalGlobalMem = limit; p->multiProcessorCount = kSMs;
  p->major = 9; p->minor = 0; return cudaSuccess; }
cudaError_t cudaGetDeviceProperties(cudaDeviceProp* p, int d) { return cudaGetDeviceProperties_v2(p, d); }
cudaError_t cudaMalloc(void** p, size_t n) {
  std::lock_guard<std::mutex> l(mu);
  if (used > limit || n > limit - used) { last = cudaErrorMemoryAllocation; return last; }
  *p = Map(n); if (!*p) { last = cudaErrorMemoryAllocation; return last; }
#ifdef UMBRA_STUB_COMPUTE
  // Fresh pages read as zero, device memory as whatever was there: all-ones bytes (NaN in
  // float and bf16) make a read of memory nobody wrote show in the results. Not the cuDNN
  // searches' scratch (up to the 1 GiB workspace cap, allocated per search, write-only) whole:
  // a large block gets its first and last MiB, where a node arena's or a buffer's ends lie.
  constexpr size_t kMiB = size_t(1) << 20;
  if (n < 512 * kMiB) memset(*p, 0xFF, n);
  else memset(*p, 0xFF, kMiB), memset(static_cast<char*>(*p) + n - kMiB, 0xFF, kMiB);
#endif
  blocks[*p] = n; used += n;
  if (getenv("UMBRA_STUB_LOG") && n >= (size_t(1) << 20)) fprintf(stderr, "[stub] cudaMalloc %.1f MiB (total %.1f)\n", n / 1048576.0, used / 1048576.0);
  return cudaSuccess; }
// Gives a cudaMalloc block back; false for a pointer that is not one.
static bool Unmap(void* p) {
  std::lock_guard<std::mutex> l(mu);
  auto it = blocks.find(p); if (it == blocks.end()) return false;
  munmap(p, it->second); used -= it->second; blocks.erase(it); return true; }
cudaError_t cudaFree(void* p) {
  DrainAll();  // CUDA's cudaFree waits for the device
  return Unmap(p) || !p ? cudaSuccess : cudaErrorInvalidValue; }
// Stream-ordered allocation (a reduction's scratch on a stream of its own), allowed inside a
// capture as CUDA's is: allocated at once; freed in the stream's order (lazy streams: when the
// stream's work before it has run). A block freed inside a capture is kept (CUDA's graph keeps
// its memory for its replays; here, for the process: the graph's recorded work may read it at
// every replay).
cudaError_t cudaMallocAsync(void** p, size_t n, cudaStream_t) { return cudaMalloc(p, n); }
cudaError_t cudaFreeAsync(void* p, cudaStream_t st) {
  if (capturing) return cudaSuccess;
  if (!lazy) return cudaFree(p);
  Submit(st, [p] { Unmap(p); });
  return cudaSuccess; }
static cudaError_t HostAlloc(void** p, size_t n) {
  ++counts.pinned; *p = malloc(n ? n : 1);
  std::lock_guard<std::mutex> l(mu); pinned[*p] = n ? n : 1; return cudaSuccess; }
cudaError_t cudaHostAlloc(void** p, size_t n, unsigned) { return HostAlloc(p, n); }
cudaError_t cudaMallocHost(void** p, size_t n) { return HostAlloc(p, n); }
cudaError_t cudaFreeHost(void* p) {
  DrainAll();  // as CUDA's, which waits for the device
  { std::lock_guard<std::mutex> l(mu); pinned.erase(p); }
  free(p); return cudaSuccess; }
cudaError_t cudaPointerGetAttributes(cudaPointerAttributes* a, const void* p) {
  *a = cudaPointerAttributes{};  // IsPinned and IsDevice lock the maps
  a->type = IsPinned(p) ? cudaMemoryTypeHost : IsDevice(p) ? cudaMemoryTypeDevice : cudaMemoryTypeUnregistered;
  return cudaSuccess; }
cudaError_t cudaGetLastError(void) { cudaError_t e = last; last = cudaSuccess; return e; }
cudaError_t cudaPeekAtLastError(void) { return last; }
const char* cudaGetErrorString(cudaError_t e) { return e == cudaErrorMemoryAllocation ? "out of memory (stub)" : "stub error"; }
const char* cudaGetErrorName(cudaError_t) { return "stubError"; }
cudaError_t cudaMemGetInfo(size_t* f, size_t* t) { *f = used < limit ? limit - used : 0; *t = limit; return cudaSuccess; }
// Waiting for the device while this thread captures is refused and ends the capture in failure,
// as CUDA's legacy synchronisation does.
static thread_local bool capture_invalidated = false;
cudaError_t cudaDeviceSynchronize(void) {
  if (capturing) { capture_invalidated = true; return cudaErrorStreamCaptureUnsupported; }
  DrainAll(); ++counts.waits; return cudaSuccess; }
// Streams are not told apart: a stream wait while this thread captures is taken as a wait for
// the captured stream, which CUDA refuses, ending the capture in failure.
cudaError_t cudaStreamSynchronize(cudaStream_t st) {
  if (capturing) { capture_invalidated = true; return cudaErrorStreamCaptureUnsupported; }
  Drain(st); ++counts.waits; return cudaSuccess; }
// h rows of w bytes, pitches dp and sp, in st's order. With lazy streams a pageable source is
// staged as the call returns (later host writes do not reach the copy), and a copy into
// pageable memory returns once copied, as CUDA's do.
static cudaError_t CopyRows(void* d, size_t dp, const void* s, size_t sp, size_t w, size_t h, cudaMemcpyKind k,
                            cudaStream_t st) {
  auto rows = [=](const char* from) { for (size_t i = 0; i < h; ++i) memmove((char*)d + i * dp, from + i * sp, w); };
  const cudaMemcpyKind dir = lazy && !capturing ? Direction(k, d, s) : k;
  if (lazy && !capturing && dir == cudaMemcpyHostToDevice && !IsPinned(s) && h > 0) {
    auto staged = std::make_shared<std::vector<char>>((const char*)s, (const char*)s + (h - 1) * sp + w);
    Submit(st, [=] { rows(staged->data()); }); return cudaSuccess;
  }
  if (lazy && !capturing && dir == cudaMemcpyDeviceToHost && !IsPinned(d)) { Drain(st); rows((const char*)s); return cudaSuccess; }
  Submit(st, [=] { rows((const char*)s); }); return cudaSuccess; }
cudaError_t cudaMemcpyAsync(void* d, const void* s, size_t n, cudaMemcpyKind k, cudaStream_t st) {
  ++counts.copies;
  if (k == cudaMemcpyHostToDevice || k == cudaMemcpyDeviceToDevice) CheckRange(d, n, "cudaMemcpyAsync destination");
  if (k == cudaMemcpyDeviceToHost || k == cudaMemcpyDeviceToDevice) CheckRange(s, n, "cudaMemcpyAsync source");
  return CopyRows(d, n, s, n, n, 1, k, st); }
cudaError_t cudaMemcpy(void* d, const void* s, size_t n, cudaMemcpyKind) {
  if (capturing) return cudaErrorStreamCaptureImplicit;
  ++counts.waits;
  Drain(nullptr); memmove(d, s, n); return cudaSuccess; }  // after the default stream, not non-blocking ones
cudaError_t cudaMemcpy2DAsync(void* d, size_t dp, const void* s, size_t sp, size_t w, size_t h, cudaMemcpyKind k, cudaStream_t st) {
  return CopyRows(d, dp, s, sp, w, h, k, st); }
cudaError_t cudaMemsetAsync(void* d, int v, size_t n, cudaStream_t st) {
  ++counts.copies; CheckRange(d, n, "cudaMemsetAsync");
  if (n < (size_t(256) << 20)) Submit(st, [=] { memset(d, v, n); });
  return cudaSuccess; }
cudaError_t cudaMemset(void* d, int v, size_t n) {
  if (capturing) return cudaErrorStreamCaptureImplicit;
  CheckRange(d, n, "cudaMemset"); Drain(nullptr); memset(d, v, n); return cudaSuccess; }
cudaError_t cudaDeviceGetAttribute(int* v, cudaDeviceAttr, int) { *v = kSMs; return cudaSuccess; }
cudaError_t cudaEventCreate(cudaEvent_t* e) { *e = (cudaEvent_t) new StubEvent; return cudaSuccess; }
cudaError_t cudaEventCreateWithFlags(cudaEvent_t* e, unsigned) { *e = (cudaEvent_t) new StubEvent; return cudaSuccess; }
// An event holds the host's clock when it was recorded (the stand-in's work is done by then),
// so event-timed loops measure something: Google Benchmark's manual timing, at a constant
// 0.01 ms, ran 10,000 iterations of a 256 MB host copy to fill its 0.1 s (bench/run.py --gpu).
// Lazy streams: the clock when the stream reaches the record.
cudaError_t cudaEventRecord(cudaEvent_t e, cudaStream_t st) {
  StubEvent* ev = (StubEvent*)e;
  std::lock_guard<std::recursive_mutex> l(qmu);
  ev->last = capturing ? StubEvent::kInside : StubEvent::kOutside;
  if (!lazy || capturing) { ev->t = NowMs(); return cudaSuccess; }
  ev->stream = Canon(st);
  Queued q; q.record = ev; q.gen = ++ev->recorded;
  ev->pending.insert(q.gen);
  queues[ev->stream].push_back(std::move(q));
  return cudaSuccess;
}
cudaError_t cudaEventSynchronize(cudaEvent_t e) {
  ++counts.event_waits;
  StubEvent* ev = (StubEvent*)e;
  std::lock_guard<std::recursive_mutex> l(qmu);
  if (lazy) DrainUntil(ev->stream, ev, ev->recorded);
  return cudaSuccess; }
cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t a, cudaEvent_t b) {
  double ta, tb;
  std::memcpy(&ta, a, sizeof ta), std::memcpy(&tb, b, sizeof tb);
  *ms = std::max(float(tb - ta), 1e-3f);  // never zero: a timed loop must end
  return cudaSuccess;
}
// Lazy streams: an event stays allocated, as queued waits and records may still name it.
cudaError_t cudaEventDestroy(cudaEvent_t e) { if (!lazy) delete (StubEvent*)e; return cudaSuccess; }
// Inside a capture, a wait for an event recorded outside it would cross the capture's boundary:
// refused, ending the capture in failure, as CUDA does (cudaErrorStreamCaptureIsolation).
cudaError_t cudaStreamWaitEvent(cudaStream_t st, cudaEvent_t e, unsigned) {
  StubEvent* ev = (StubEvent*)e;
  std::lock_guard<std::recursive_mutex> l(qmu);
  if (capturing && ev->last == StubEvent::kOutside) { capture_invalidated = true; return cudaErrorStreamCaptureIsolation; }
  if (!lazy || capturing || !ev->pending.count(ev->recorded)) return cudaSuccess;
  Queued q; q.wait = ev; q.gen = ev->recorded; q.on = ev->stream;
  queues[Canon(st)].push_back(std::move(q));
  return cudaSuccess; }
cudaError_t cudaStreamCreateWithFlags(cudaStream_t* s, unsigned) { *s = (cudaStream_t)malloc(8); return cudaSuccess; }
// Lazy streams: its queued work still runs (a GPU finishes it after the call returns).
cudaError_t cudaStreamDestroy(cudaStream_t s) {
  Drain(s);
  { std::lock_guard<std::recursive_mutex> l(qmu); queues.erase(s); }
  free(s); return cudaSuccess; }
// A graph (and its executable form) is the work recorded during its capture.
cudaError_t cudaStreamBeginCapture(cudaStream_t, cudaStreamCaptureMode) {
  if (capturing) return cudaErrorIllegalState;
  capturing = true; recorded.clear(); return cudaSuccess; }
cudaError_t cudaStreamEndCapture(cudaStream_t, cudaGraph_t* g) {
  if (!capturing) return cudaErrorIllegalState;
  capturing = false;
  if (capture_invalidated) { capture_invalidated = false; recorded.clear(); *g = nullptr; return cudaErrorStreamCaptureInvalidated; }
  *g = (cudaGraph_t) new Work(std::move(recorded)); recorded.clear(); return cudaSuccess; }
cudaError_t cudaStreamIsCapturing(cudaStream_t, cudaStreamCaptureStatus* s) {
  *s = capturing ? cudaStreamCaptureStatusActive : cudaStreamCaptureStatusNone; return cudaSuccess; }
cudaError_t cudaGraphInstantiate(cudaGraphExec_t* e, cudaGraph_t g, unsigned long long) {
  *e = (cudaGraphExec_t) new Work(*(Work*)g); return cudaSuccess; }
cudaError_t cudaGraphLaunch(cudaGraphExec_t e, cudaStream_t st) {
  for (auto& w : *(Work*)e) Submit(st, w);
  return cudaSuccess; }
cudaError_t cudaGraphExecDestroy(cudaGraphExec_t e) { delete (Work*)e; return cudaSuccess; }
cudaError_t cudaGraphDestroy(cudaGraph_t g) { delete (Work*)g; return cudaSuccess; }
// Kernel registration and launch: nothing runs.
void** __cudaRegisterFatBinary(void*) { static void* h[4]; return h; }
void __cudaRegisterFatBinaryEnd(void**) {}
void __cudaUnregisterFatBinary(void**) {}
// Imported by host code nvcc compiles unoptimised (the tests' -O0, UMBRA_TEST_OPT): its caller,
// crt/host_runtime.h's static __nv_init_managed_rt_with_module, is never called and -O3 drops it;
// -O0 keeps it. cli.gpu_host_paths fails on any CUDA symbol a binary imports that the stub lacks.
char __cudaInitModule(void**) { return 1; }
void __cudaRegisterFunction(void**, const char*, char*, const char*, int, uint3*, uint3*, dim3*, dim3*, int*) {}
cudaError_t __cudaGetKernel(void** k, const void*) { static int dummy; *k = &dummy; return cudaSuccess; }
cudaError_t __cudaLaunchKernel(const void*, dim3, dim3, void**, size_t, cudaStream_t) { ++counts.kernels; return cudaSuccess; }
cudaError_t cudaLaunchKernel(const void*, dim3, dim3, void**, size_t, cudaStream_t) { ++counts.kernels; return cudaSuccess; }
unsigned __cudaPushCallConfiguration(dim3 g, dim3 b, size_t, void*) {
  if (g.x == 0 || g.y == 0 || g.z == 0 || b.x * b.y * b.z == 0 || b.x * b.y * b.z > 1024 || g.y > 65535 || g.z > 65535) {
    fprintf(stderr, "[stub] BAD LAUNCH grid (%u,%u,%u) block (%u,%u,%u)\n", g.x, g.y, g.z, b.x, b.y, b.z);
    last = cudaErrorInvalidConfiguration;
  }
  return 0; }
cudaError_t __cudaPopCallConfiguration(dim3* g, dim3* b, size_t* sm, void* st) { *g = dim3(1); *b = dim3(1); *sm = 0; *(cudaStream_t*)st = 0; return cudaSuccess; }
// cuBLAS / cuRAND
// A handle: its math mode first (read through a cublasMath_t* below), then its workspace, which
// cublasSetStream resets to cuBLAS's own pool as the real library does. That pool is allocated
// from inside a graph capture (real cuBLAS 12.2+: cudaMallocAsync nodes, or a failed capture), so
// a captured product on a handle without its own workspace is refused here.
struct StubBlas { cublasMath_t math; void* ws; size_t ws_bytes; cudaStream_t stream; };
cublasStatus_t cublasCreate_v2(cublasHandle_t* h) { *h = (cublasHandle_t)calloc(1, sizeof(StubBlas)); return CUBLAS_STATUS_SUCCESS; }
cublasStatus_t cublasDestroy_v2(cublasHandle_t h) { free(h); return CUBLAS_STATUS_SUCCESS; }
cublasStatus_t cublasSetStream_v2(cublasHandle_t h, cudaStream_t s) { ((StubBlas*)h)->ws = nullptr; ((StubBlas*)h)->stream = s; return CUBLAS_STATUS_SUCCESS; }
cublasStatus_t cublasSetWorkspace_v2(cublasHandle_t h, void* ws, size_t bytes) {
  if (bytes) CheckRange(ws, bytes, "cublasSetWorkspace");
  ((StubBlas*)h)->ws = ws; ((StubBlas*)h)->ws_bytes = bytes; return CUBLAS_STATUS_SUCCESS; }
static bool CapturedWithoutWorkspace(cublasHandle_t h, const char* call) {
  if (!capturing || ((StubBlas*)h)->ws) return false;
  fprintf(stderr, "[stub] %s captured on a handle without cublasSetWorkspace\n", call);
  return true; }
cublasStatus_t cublasSetMathMode(cublasHandle_t h, cublasMath_t m) { *(cublasMath_t*)h = m; return CUBLAS_STATUS_SUCCESS; }
cublasStatus_t cublasGetMathMode(cublasHandle_t h, cublasMath_t* m) { *m = *(cublasMath_t*)h; return CUBLAS_STATUS_SUCCESS; }
const char* cublasGetStatusString(cublasStatus_t) { return "stub"; }
}
#ifdef UMBRA_STUB_COMPUTE
static CBLAS_TRANSPOSE Op(cublasOperation_t t) { return t == CUBLAS_OP_N ? CblasNoTrans : CblasTrans; }
// A column-major matrix of r x c with leading dimension ld, copied to floats (TF32-rounded).
static std::vector<float> Floats(const void* p, cudaDataType t, int ld, int r, int c, bool tf32) {
  std::vector<float> v(size_t(ld) * (c ? c - 1 : 0) + r);
  for (size_t i = 0; i < v.size(); ++i) {
    float x = t == CUDA_R_16BF ? FromBF16(((const uint16_t*)p)[i]) : ((const float*)p)[i];
    v[i] = tf32 ? ToTF32(x) : x;
  }
  return v; }
#endif
extern "C" {
cublasStatus_t cublasSgemm_v2(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k, const float* alpha, const float* A, int lda, const float* B, int ldb, const float* beta, float* C, int ldc) {
  ++counts.cublas;
  if (CapturedWithoutWorkspace(h, "cublasSgemm_v2")) return CUBLAS_STATUS_NOT_SUPPORTED;
  if (m < 0 || n < 0 || k < 0) fprintf(stderr, "[stub] BAD SGEMM %d %d %d\n", m, n, k);
  // Column-major: op(A) is m x k, op(B) k x n, C m x n; a matrix of r rows and c columns with
  // leading dimension ld spans ld * (c - 1) + r elements.
  auto span = [](int ld, int r, int c) { return r && c ? (size_t(ld) * (c - 1) + r) * 4 : size_t(0); };
  const bool na = ta == CUBLAS_OP_N, nb = tb == CUBLAS_OP_N;
  if (k > 0) {
    CheckRange(A, span(lda, na ? m : k, na ? k : m), "cublasSgemm A");
    CheckRange(B, span(ldb, nb ? k : n, nb ? n : k), "cublasSgemm B");
  }
  CheckRange(C, span(ldc, m, n), "cublasSgemm C");
#ifdef UMBRA_STUB_COMPUTE
  if (m == 0 || n == 0) return CUBLAS_STATUS_SUCCESS;
  const float a = *alpha, b = *beta;
  if (*(cublasMath_t*)h == CUBLAS_TF32_TENSOR_OP_MATH) {
    Submit(((StubBlas*)h)->stream, [=] {
      std::vector<float> fa = Floats(A, CUDA_R_32F, lda, na ? m : k, na ? k : m, true);
      std::vector<float> fb = Floats(B, CUDA_R_32F, ldb, nb ? k : n, nb ? n : k, true);
      cblas_sgemm(CblasColMajor, Op(ta), Op(tb), m, n, k, a, fa.data(), lda, fb.data(), ldb, b, C, ldc); });
  } else {
    Submit(((StubBlas*)h)->stream, [=] { cblas_sgemm(CblasColMajor, Op(ta), Op(tb), m, n, k, a, A, lda, B, ldb, b, C, ldc); });
  }
#else
  (void)h; (void)alpha; (void)beta;
#endif
  return CUBLAS_STATUS_SUCCESS; }
cublasStatus_t cublasDgemm_v2(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k, const double* alpha, const double* A, int lda, const double* B, int ldb, const double* beta, double* C, int ldc) {
  ++counts.cublas;
  if (CapturedWithoutWorkspace(h, "cublasDgemm_v2")) return CUBLAS_STATUS_NOT_SUPPORTED;
#ifdef UMBRA_STUB_COMPUTE
  if (m == 0 || n == 0) return CUBLAS_STATUS_SUCCESS;
  const double a = *alpha, b = *beta;
  Submit(((StubBlas*)h)->stream, [=] { cblas_dgemm(CblasColMajor, Op(ta), Op(tb), m, n, k, a, A, lda, B, ldb, b, C, ldc); });
#else
  (void)ta; (void)tb; (void)m; (void)n; (void)k; (void)alpha; (void)A; (void)lda; (void)B; (void)ldb; (void)beta; (void)C; (void)ldc;
#endif
  return CUBLAS_STATUS_SUCCESS; }
cublasStatus_t cublasSgemv_v2(cublasHandle_t h, cublasOperation_t t, int m, int n, const float* alpha, const float* A, int lda, const float* x, int incx, const float* beta, float* y, int incy) {
  ++counts.cublas;
  if (CapturedWithoutWorkspace(h, "cublasSgemv_v2")) return CUBLAS_STATUS_NOT_SUPPORTED;
#ifdef UMBRA_STUB_COMPUTE
  const float a = *alpha, b = *beta;
  Submit(((StubBlas*)h)->stream, [=] { cblas_sgemv(CblasColMajor, Op(t), m, n, a, A, lda, x, incx, b, y, incy); });
#else
  (void)t; (void)m; (void)n; (void)alpha; (void)A; (void)lda; (void)x; (void)incx; (void)beta; (void)y; (void)incy;
#endif
  return CUBLAS_STATUS_SUCCESS; }
cublasStatus_t cublasDgemv_v2(cublasHandle_t h, cublasOperation_t t, int m, int n, const double* alpha, const double* A, int lda, const double* x, int incx, const double* beta, double* y, int incy) {
  ++counts.cublas;
  if (CapturedWithoutWorkspace(h, "cublasDgemv_v2")) return CUBLAS_STATUS_NOT_SUPPORTED;
#ifdef UMBRA_STUB_COMPUTE
  const double a = *alpha, b = *beta;
  Submit(((StubBlas*)h)->stream, [=] { cblas_dgemv(CblasColMajor, Op(t), m, n, a, A, lda, x, incx, b, y, incy); });
#else
  (void)t; (void)m; (void)n; (void)alpha; (void)A; (void)lda; (void)x; (void)incx; (void)beta; (void)y; (void)incy;
#endif
  return CUBLAS_STATUS_SUCCESS; }
// The bytes of one element of a GemmEx operand.
static int ElementBytes(cudaDataType t) { return t == CUDA_R_16BF || t == CUDA_R_16F ? 2 : t == CUDA_R_64F ? 8 : 4; }
cublasStatus_t cublasGemmEx(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k, const void* alpha,
                            const void* A, cudaDataType at, int lda, const void* B, cudaDataType bt, int ldb, const void* beta,
                            void* C, cudaDataType ct, int ldc, cublasComputeType_t compute, cublasGemmAlgo_t) {
  ++counts.cublas;
  if (CapturedWithoutWorkspace(h, "cublasGemmEx")) return CUBLAS_STATUS_NOT_SUPPORTED;
  auto span = [](int ld, int r, int c, cudaDataType t) {
    return r && c ? (size_t(ld) * (c - 1) + r) * ElementBytes(t) : size_t(0);
  };
  const bool na = ta == CUBLAS_OP_N, nb = tb == CUBLAS_OP_N;
  if (k > 0) {
    CheckRange(A, span(lda, na ? m : k, na ? k : m, at), "cublasGemmEx A");
    CheckRange(B, span(ldb, nb ? k : n, nb ? n : k, bt), "cublasGemmEx B");
  }
  CheckRange(C, span(ldc, m, n, ct), "cublasGemmEx C");
#ifdef UMBRA_STUB_COMPUTE
  // Float alpha/beta and accumulation (CUBLAS_COMPUTE_32F*); float or bf16 operands and result.
  if (m == 0 || n == 0) return CUBLAS_STATUS_SUCCESS;
  const float a = *(const float*)alpha, b = *(const float*)beta;
  const bool tf32 = compute == CUBLAS_COMPUTE_32F_FAST_TF32 ||
                    (compute == CUBLAS_COMPUTE_32F && *(cublasMath_t*)h == CUBLAS_TF32_TENSOR_OP_MATH);
  Submit(((StubBlas*)h)->stream, [=] {
    std::vector<float> fa = Floats(A, at, lda, na ? m : k, na ? k : m, tf32);
    std::vector<float> fb = Floats(B, bt, ldb, nb ? k : n, nb ? n : k, tf32);
    std::vector<float> fc = Floats(C, ct, ldc, m, n, false);
    cblas_sgemm(CblasColMajor, Op(ta), Op(tb), m, n, k, a, fa.data(), lda, fb.data(), ldb, b, fc.data(), ldc);
    for (int j = 0; j < n; ++j)
      for (int i = 0; i < m; ++i) {
        const size_t o = size_t(j) * ldc + i;
        if (ct == CUDA_R_16BF) ((uint16_t*)C)[o] = ToBF16(fc[o]);
        else ((float*)C)[o] = fc[o];
      } });
#else
  (void)h; (void)alpha; (void)beta; (void)compute;
#endif
  return CUBLAS_STATUS_SUCCESS; }
// As batchCount products, each checked and computed as one cublasGemmEx (the forward
// convolution's GEMM per image).
cublasStatus_t cublasGemmStridedBatchedEx(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n,
                                          int k, const void* alpha, const void* A, cudaDataType at, int lda,
                                          long long sa, const void* B, cudaDataType bt, int ldb, long long sb,
                                          const void* beta, void* C, cudaDataType ct, int ldc, long long sc, int count,
                                          cublasComputeType_t compute, cublasGemmAlgo_t algo) {
  if (count < 0) fprintf(stderr, "[stub] BAD batch count %d\n", count);
  for (int i = 0; i < count; ++i)
    if (const cublasStatus_t e = cublasGemmEx(h, ta, tb, m, n, k, alpha, (const char*)A + i * sa * ElementBytes(at),
                                              at, lda, (const char*)B + i * sb * ElementBytes(bt), bt, ldb, beta,
                                              (char*)C + i * sc * ElementBytes(ct), ct, ldc, compute, algo);
        e != CUBLAS_STATUS_SUCCESS)
      return e;
  return CUBLAS_STATUS_SUCCESS; }
}  // extern "C"
// A generator: its seed and offset pick a stream of numbers (a Mersenne twister here, not
// Philox: the same seeds draw other numbers than on a GPU, with the same distributions).
struct Gen { unsigned long long seed = 0, offset = 0; };
curandStatus_t curandCreateGenerator(curandGenerator_t* g, curandRngType_t) { *g = (curandGenerator_t) new Gen; return CURAND_STATUS_SUCCESS; }
curandStatus_t curandDestroyGenerator(curandGenerator_t g) { delete (Gen*)g; return CURAND_STATUS_SUCCESS; }
curandStatus_t curandSetStream(curandGenerator_t, cudaStream_t) { return CURAND_STATUS_SUCCESS; }
curandStatus_t curandSetPseudoRandomGeneratorSeed(curandGenerator_t g, unsigned long long s) { ((Gen*)g)->seed = s; return CURAND_STATUS_SUCCESS; }
curandStatus_t curandSetGeneratorOffset(curandGenerator_t g, unsigned long long o) { ((Gen*)g)->offset = o; return CURAND_STATUS_SUCCESS; }
#ifdef UMBRA_STUB_COMPUTE
// Each call draws from (seed, offset) and advances the offset by what it drew, as cuRAND does.
template <typename T, typename Dist>
static void Draw(curandGenerator_t g, T* out, size_t n, Dist dist) {
  Gen& gen = *(Gen*)g;
  const std::vector<uint32_t> key{uint32_t(gen.seed), uint32_t(gen.seed >> 32), uint32_t(gen.offset),
                                  uint32_t(gen.offset >> 32)};
  gen.offset += n;
  Submit(nullptr, [out, n, dist, key]() mutable {
    std::seed_seq seq(key.begin(), key.end());
    std::mt19937_64 rng(seq);
    for (size_t i = 0; i < n; ++i) out[i] = dist(rng);
  });
}
// cuRAND's uniform is in (0, 1].
template <typename T>
struct OpenClosed {
  std::uniform_real_distribution<T> u{T(0), T(1)};
  T operator()(std::mt19937_64& r) { return T(1) - u(r); }
};
#endif
extern "C" {
curandStatus_t curandGenerateUniform(curandGenerator_t g, float* out, size_t n) {
#ifdef UMBRA_STUB_COMPUTE
  Draw(g, out, n, OpenClosed<float>{});
#else
  (void)g; (void)out; (void)n;
#endif
  return CURAND_STATUS_SUCCESS; }
curandStatus_t curandGenerateUniformDouble(curandGenerator_t g, double* out, size_t n) {
#ifdef UMBRA_STUB_COMPUTE
  Draw(g, out, n, OpenClosed<double>{});
#else
  (void)g; (void)out; (void)n;
#endif
  return CURAND_STATUS_SUCCESS; }
curandStatus_t curandGenerateNormal(curandGenerator_t g, float* out, size_t n, float mean, float sd) {
  if (n % 2) { fprintf(stderr, "[stub] BAD curandGenerateNormal odd n=%zu\n", n); return CURAND_STATUS_LENGTH_NOT_MULTIPLE; }
#ifdef UMBRA_STUB_COMPUTE
  Draw(g, out, n, std::normal_distribution<float>(mean, sd));
#else
  (void)g; (void)out; (void)mean; (void)sd;
#endif
  return CURAND_STATUS_SUCCESS; }
curandStatus_t curandGenerateNormalDouble(curandGenerator_t g, double* out, size_t n, double mean, double sd) {
  if (n % 2) { fprintf(stderr, "[stub] BAD curandGenerateNormalDouble odd n=%zu\n", n); return CURAND_STATUS_LENGTH_NOT_MULTIPLE; }
#ifdef UMBRA_STUB_COMPUTE
  Draw(g, out, n, std::normal_distribution<double>(mean, sd));
#else
  (void)g; (void)out; (void)mean; (void)sd;
#endif
  return CURAND_STATUS_SUCCESS; }
}
