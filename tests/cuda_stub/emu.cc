// The runtime of the CUDA emulation build (include/umbra/tensor/cuda/emu.h): runs a kernel's grid
// on the CPU. A block's threads are coroutines, each on its own stack;
// the scheduler runs every runnable thread until it waits (barrier, shuffle) or ends, then
// releases a warp whose live lanes all wait at a shuffle, else the block once every live thread
// waits at the barrier. Anything else is a divergence a GPU would hang on or leave undefined:
// it is reported ("[emu] ...") and the process aborts. Kernels seen to run with no barrier or
// shuffle run their threads as plain calls afterwards. Large grids are split across CPU threads
// (UMBRA_EMU_THREADS, default: the machine's cores), each taking every k-th block, as blocks
// of a grid run in any order on a GPU. UMBRA_EMU_ORDER=reverse runs a block's threads, and a
// grid's blocks, last first: a kernel that reads what another thread wrote without a barrier
// between (a race on a GPU) then reads other values in one of the two orders, so running the gpu
// tests in both finds it (scripts/test does).
// The switch between coroutines is a few lines of x86-64 assembly rather than swapcontext,
// which makes a system call per switch: a 700-channel BatchNorm reduction is 180k emulated
// threads at 18 switches each, seconds per launch with swapcontext, milliseconds with this.
#include <sys/mman.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "stub.h"
#include "umbra/tensor/cuda/emu.h"

#if !defined(__x86_64__)
#error "the CUDA emulator's context switch is written for x86-64"
#endif
// umbra_emu_switch(save, load): saves the callee-saved registers on the current stack, stores
// the stack pointer in *save, and resumes the stack `load` (as left by an earlier switch, or as
// FreshStack builds it). Not MXCSR or the x87 control word, which the ABI has preserved across
// calls: the emulated threads and their scheduler are one CPU thread whose floating-point modes
// nothing between two switches changes (a kernel has no such modes to set), so they all run
// under the launching thread's, as when FreshStack copied those in. (Without them, and with the
// thread-locals in static TLS (CMakeLists.txt), the emulated ResNet-50 first-steps test ran in
// 84 s instead of 98 s, 2026-12-07; most of a switch is now the first read of the stack it
// resumes, a cache miss.)
extern "C" void umbra_emu_switch(void** save, void* load);
asm(R"(
  .text
  .globl umbra_emu_switch
  .hidden umbra_emu_switch
  .type umbra_emu_switch, @function
umbra_emu_switch:
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
  .size umbra_emu_switch, .-umbra_emu_switch
)");

namespace umbra::cuda::emu {
namespace {

enum class Wait { kRun, kBarrier, kShuffle, kDone };

/// The builtins of one emulated thread.
struct ThreadState {
  uint3 thread_idx, block_idx;
  dim3 block_dim, grid_dim;
};

struct Thread {
  void* sp = nullptr;  // saved stack pointer while switched out
  ThreadState st;
  Wait wait = Wait::kRun;
  const char* file = nullptr;  // where it waits at a barrier
  int line = 0;
};

constexpr size_t kStackBytes = size_t(256) << 10;  // per emulated thread; touched pages only
constexpr size_t kSlotBytes = 16;                  // largest value a shuffle moves

struct Block {
  std::vector<Thread> threads;
  std::vector<unsigned char> slots;  // one kSlotBytes slot per thread, for shuffles
  void* scheduler = nullptr;
  Thread* running = nullptr;
  const std::function<void()>* body = nullptr;
  bool direct = false, waited = false;
};

thread_local const ThreadState* g_current = nullptr;

/// Makes `s` the running thread: the builtins the kernel reads.
void Enter(const ThreadState& s) {
  g_current = &s;
  threadIdx = s.thread_idx;
  blockIdx = s.block_idx;
  blockDim = s.block_dim;
  gridDim = s.grid_dim;
}
thread_local Block* g_block = nullptr;
/// The coroutine stacks of this CPU thread, unmapped when it ends (the CPU threads that share
/// a large grid end with each launch).
struct Stacks {
  std::vector<void*> maps;
  ~Stacks() {
    for (void* p : maps) munmap(p, kStackBytes);
  }
};
thread_local Stacks g_stacks;

/// UMBRA_EMU_ORDER=reverse: threads and blocks run last first (see the file comment).
std::atomic<bool> g_reverse = [] {
  const char* e = getenv("UMBRA_EMU_ORDER");
  if (!e || !*e || strcmp(e, "forward") == 0) return false;
  if (strcmp(e, "reverse") == 0) return true;
  fprintf(stderr, "[emu] UMBRA_EMU_ORDER=%s: expected forward or reverse\n", e);
  abort();
}();
bool Reversed() { return g_reverse.load(std::memory_order_relaxed); }

std::mutex g_mu;
std::set<const void*> g_without_barriers;  // kernels seen to run without barriers or shuffles

[[noreturn]] void Fail(const char* what) {
  const ThreadState& s = *g_current;
  fprintf(stderr, "[emu] %s (block (%u,%u,%u), thread (%u,%u,%u))\n", what, s.block_idx.x, s.block_idx.y,
          s.block_idx.z, s.thread_idx.x, s.thread_idx.y, s.thread_idx.z);
  abort();
}

void* Stack(size_t i) {
  while (g_stacks.maps.size() <= i) {
    void* p = mmap(nullptr, kStackBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) {
      fprintf(stderr, "[emu] cannot map a thread stack\n");
      abort();
    }
    g_stacks.maps.push_back(p);
  }
  return g_stacks.maps[i];
}

[[noreturn]] void Entry() {
  Block& b = *g_block;
  (*b.body)();
  b.running->wait = Wait::kDone;
  umbra_emu_switch(&b.running->sp, b.scheduler);
  __builtin_unreachable();
}

/// A stack that umbra_emu_switch resumes into Entry: the saved registers (zero), Entry as the
/// return address, and below the top a null return address for Entry, so that it starts with
/// the stack aligned as after a call.
void* FreshStack(void* stack) {
  void** sp = reinterpret_cast<void**>(static_cast<char*>(stack) + kStackBytes);
  *--sp = nullptr;
  *--sp = reinterpret_cast<void*>(&Entry);
  for (int r = 0; r < 6; ++r) *--sp = nullptr;  // rbp rbx r12 r13 r14 r15
  return sp;
}

void Yield(Wait w) {
  Block& b = *g_block;
  if (b.direct)
    Fail("a kernel that once ran without __syncthreads or shuffles waits at one now: the emulator ran it as plain calls");
  b.waited = true;
  Thread* t = b.running;
  t->wait = w;
  umbra_emu_switch(&t->sp, b.scheduler);
}

/// Runs one block's threads as coroutines to the end (see the file comment).
void RunCoroutines(Block& b, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    Thread& t = b.threads[i];
    t.wait = Wait::kRun;
    t.sp = FreshStack(Stack(i));
  }
  const bool rev = Reversed();
  for (;;) {
    for (size_t k = 0; k < n; ++k) {
      Thread& t = b.threads[rev ? n - 1 - k : k];
      if (t.wait != Wait::kRun) continue;
      b.running = &t;
      Enter(t.st);
      umbra_emu_switch(&b.scheduler, t.sp);
    }
    // One pass counts each warp's waits (a warp whose live lanes all wait at a shuffle is
    // released), a second checks the barrier waits and releases them: each pass reads every
    // thread, a few nanoseconds against the two switches a wait costs, but once per wait.
    size_t done = 0, at_barrier = 0;
    bool released = false;
    for (size_t w = 0; w < n; w += 32) {
      const size_t e = std::min(n, w + 32);
      size_t shuffling = 0, exited = 0;
      for (size_t i = w; i < e; ++i) {
        const Wait s = b.threads[i].wait;
        shuffling += s == Wait::kShuffle;
        exited += s == Wait::kDone;
        at_barrier += s == Wait::kBarrier;
      }
      done += exited;
      if (shuffling == 0) continue;
      Enter(b.threads[w].st);
      if (exited) Fail("a full-mask warp shuffle that some lanes of the warp never reach (they exited)");
      if (shuffling == e - w) {
        for (size_t i = w; i < e; ++i) b.threads[i].wait = Wait::kRun;
        released = true;
      }
    }
    if (done == n) return;
    if (released) continue;
    if (at_barrier + done != n) {
      Enter(b.threads[0].st);
      Fail("threads of one block wait at different barriers or shuffles (divergent __syncthreads)");
    }
    // Every waiting thread is at a barrier: the same one (a barrier's file name is one string
    // literal, so equal pointers are the common case; strcmp only where they differ), and then
    // all run on. Exited threads count as arrived, as on Volta and later.
    const Thread* first = nullptr;
    for (size_t i = 0; i < n; ++i) {
      Thread& t = b.threads[i];
      if (t.wait != Wait::kBarrier) continue;
      if (!first) first = &t;
      if (t.line != first->line || (t.file != first->file && strcmp(t.file, first->file) != 0)) {
        Enter(t.st);
        char what[1024];
        snprintf(what, sizeof what, "threads of one block wait at different barriers: %s:%d and %s:%d", first->file,
                 first->line, t.file, t.line);
        Fail(what);
      }
      t.wait = Wait::kRun;
    }
  }
}

/// Runs blocks first, first + step, ... of the grid on this CPU thread; true if any waited.
bool RunBlocks(dim3 grid, dim3 block, bool direct, const std::function<void()>& body, size_t first, size_t step) {
  const size_t n = size_t(block.x) * block.y * block.z, nblocks = size_t(grid.x) * grid.y * grid.z;
  Block b;
  b.body = &body;
  b.direct = direct;
  b.threads.resize(n);
  b.slots.resize(n * kSlotBytes);
  Block* outer = g_block;
  g_block = &b;
  const bool rev = Reversed();
  for (size_t kk = first; kk < nblocks; kk += step) {
    const size_t k = rev ? nblocks - 1 - kk : kk;
    const unsigned bx = unsigned(k % grid.x), by = unsigned(k / grid.x % grid.y), bz = unsigned(k / grid.x / grid.y);
    size_t i = 0;
    for (unsigned tz = 0; tz < block.z; ++tz)
      for (unsigned ty = 0; ty < block.y; ++ty)
        for (unsigned tx = 0; tx < block.x; ++tx, ++i)
          b.threads[i].st = ThreadState{uint3{tx, ty, tz}, uint3{bx, by, bz}, block, grid};
    if (direct) {
      for (size_t j = 0; j < n; ++j) {
        i = rev ? n - 1 - j : j;
        b.running = &b.threads[i];
        Enter(b.threads[i].st);
        body();
      }
    } else {
      RunCoroutines(b, n);
    }
  }
  g_block = outer;
  return b.waited;
}

size_t CpuThreads() {
  static const size_t n = [] {
    const char* e = getenv("UMBRA_EMU_THREADS");
    const long v = e ? atol(e) : long(std::thread::hardware_concurrency());
    return size_t(v < 1 ? 1 : v);
  }();
  return n;
}

void RunNow(dim3 grid, dim3 block, const void* kernel, const std::function<void()>& body) {
  bool direct;
  {
    std::lock_guard<std::mutex> l(g_mu);
    direct = g_without_barriers.count(kernel) != 0;
  }
  const size_t nblocks = size_t(grid.x) * grid.y * grid.z;
  const size_t threads = nblocks * block.x * block.y * block.z;
  // Small grids on this thread: starting CPU threads would cost more than they save.
  const size_t workers = threads < 16384 ? 1 : std::min(nblocks, CpuThreads());
  std::atomic<bool> waited = false;
  std::vector<std::thread> pool;
  for (size_t w = 1; w < workers; ++w)
    pool.emplace_back([&, w] { if (RunBlocks(grid, block, direct, body, w, workers)) waited = true; });
  if (RunBlocks(grid, block, direct, body, 0, workers)) waited = true;
  for (auto& t : pool) t.join();
  if (!direct && !waited) {
    std::lock_guard<std::mutex> l(g_mu);
    g_without_barriers.insert(kernel);
  }
}

}  // namespace

bool SetReverseOrder(bool reverse) { return g_reverse.exchange(reverse); }

void SyncThreads(const char* file, int line) {
  if (g_block && g_block->running) {
    g_block->running->file = file;
    g_block->running->line = line;
  }
  Yield(Wait::kBarrier);
}

void WarpShuffle(const void* in, void* out, size_t bytes, int kind, int arg, int width, unsigned mask) {
  Block& b = *g_block;
  if (mask != 0xffffffffu) Fail("a warp shuffle with a partial mask (not emulated)");
  if (bytes > kSlotBytes || width < 1 || width > 32 || (width & (width - 1)))
    Fail("a warp shuffle of a value over 16 bytes or a width that is not a power of two up to 32");
  const size_t self = size_t(b.running - b.threads.data());
  const int lane = int(self % 32);
  memcpy(&b.slots[self * kSlotBytes], in, bytes);
  Yield(Wait::kShuffle);  // every lane of the warp has offered its value
  const int base = lane & ~(width - 1), sub = lane - base;
  int src = lane;
  switch (kind) {
    case 0: src = base + ((sub ^ arg) & (width - 1)); break;
    case 1: src = sub + arg < width ? lane + arg : lane; break;
    case 2: src = sub - arg >= 0 ? lane - arg : lane; break;
    default: src = base + (arg & (width - 1)); break;
  }
  memcpy(out, &b.slots[(self - size_t(lane) + size_t(src)) * kSlotBytes], bytes);
  Yield(Wait::kShuffle);  // every lane has read before any offers its next value
}

void RunGrid(dim3 grid, dim3 block, size_t shared_bytes, cudaStream_t stream, const void* kernel,
             std::function<void()> thread) {
  const unsigned long long threads = 1ull * block.x * block.y * block.z;
  if (grid.x == 0 || grid.y == 0 || grid.z == 0 || threads == 0 || threads > 1024 || block.z > 64 ||
      grid.y > 65535 || grid.z > 65535 || shared_bytes > (size_t(48) << 10)) {
    fprintf(stderr, "[stub] BAD LAUNCH grid (%u,%u,%u) block (%u,%u,%u) shared %zu\n", grid.x, grid.y, grid.z, block.x,
            block.y, block.z, shared_bytes);
    umbra_stub::SetLastError(cudaErrorInvalidConfiguration);
    return;
  }
  umbra_stub::CountKernel();
  umbra_stub::Submit(stream, [grid, block, kernel, body = std::move(thread)]() { RunNow(grid, block, kernel, body); });
}

}  // namespace umbra::cuda::emu
