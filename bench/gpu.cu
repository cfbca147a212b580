// GPU benchmarks, timed with CUDA events (manual time): the fused `y = a*b + c*d - e` over 64M
// floats against a device-to-device cudaMemcpy of the same bytes (3 x 64M floats), a channel
// broadcast's pass on its flat and its 2-D path, launch shapes, the fused statement on this
// file's own kernels (unrolled, by hand), and dot()
// against calling cublasSgemm directly on the same buffers. run.py adds PyTorch's figures.
// Napkin: 1.5 GiB per fused statement; at ~4.2 TB/s that is ~0.38 ms.
#include <algorithm>
#include <cstdio>
#include <vector>

#include "gpu_timing.h"
#include "umbra/scoped_value.h"

using namespace umbra;
using bench::HaveGPU;
using bench::Filled;
using bench::TimeLoop;

namespace {

constexpr index_t kN = index_t(64) << 20;

// The fused statement's operands, y = a*b + c*d - e = 9 everywhere once computed.
struct Fused {
  TensorContainer<gpu, 1> a = Filled(Shape1(kN), 1.f), b = Filled(Shape1(kN), 2.f), c = Filled(Shape1(kN), 3.f),
                          d = Filled(Shape1(kN), 4.f), e = Filled(Shape1(kN), 5.f), y = Filled(Shape1(kN), 0.f);
};

// The fused statement's timed loop: BM_UmbraFusedGPU, and BM_GridGPU's launch shapes.
void TimeFused(benchmark::State& st) {
  Fused f;
  TimeLoop(st, [&] { f.y = f.a * f.b + f.c * f.d - f.e; });
  st.SetBytesProcessed(int64_t(st.iterations()) * 6 * kN * sizeof(float));
}

void BM_UmbraFusedGPU(benchmark::State& st) {
  if (HaveGPU(st)) TimeFused(st);
}

void BM_DeviceCopyGPU(benchmark::State& st) {
  if (!HaveGPU(st)) return;
  auto src = Filled(Shape1(3 * kN), 1.f);
  auto dst = Filled(Shape1(3 * kN), 0.f);
  TimeLoop(st, [&] {
    UMBRA_CUDA_CHECK(cudaMemcpyAsync(dst.dptr_, src.dptr_, 3 * kN * sizeof(float),
                                     cudaMemcpyDeviceToDevice, cuda::DefaultStream()));
  });
  st.SetBytesProcessed(int64_t(st.iterations()) * 6 * kN * sizeof(float));
}

// A batch norm's apply pass with its relu, y = relu(x * scale[c] + shift[c]), over ResNet-50's
// stem shape (128, 64, 112, 112: 411 MB each way) in either layout; `flat` 0 takes the 2-D path
// broadcasts took before 2026-12-05 (one 4-byte value a thread at a time), 1 the flat paths
// (16 bytes a tensor per access). Bytes: x read and y written, as the copy counts its bytes.
void BM_BroadcastGPU(benchmark::State& st, bool nhwc, bool flat) {
  if (!HaveGPU(st)) return;
  const index_t c = 64, rows = 128 * 112 * 112;
  const Shape<4> s = nhwc ? Shape4(rows, c, 1, 1) : Shape4(128, c, 112, 112);
  auto x = Filled(s, 0.5f);
  auto y = Filled(s, 0.f);
  auto scale = Filled(Shape1(c), 2.f);
  auto shift = Filled(Shape1(c), -0.25f);
  const ScopedValue path(cuda::BroadcastFlat(), flat);
  TimeLoop(st, [&] { y = F<op::relu>(x * broadcast<1>(scale.view(), s) + broadcast<1>(shift.view(), s)); });
  st.SetBytesProcessed(int64_t(st.iterations()) * 2 * s.Size() * int64_t(sizeof(float)));
}

// Launch shapes (cuda::GridBlocksPerSM) on two statements: a relu over ResNet's stem shape (411
// MB read and written, as a relu layer's forward) and the fused a*b+c*d-e above.
void BM_GridGPU(benchmark::State& st, bool relu, int per_sm) {
  if (!HaveGPU(st)) return;
  const ScopedValue shape(cuda::GridBlocksPerSM(), per_sm);
  if (relu) {
    const Shape<4> s = Shape4(128, 64, 112, 112);
    auto x = Filled(s, -0.5f);
    auto y = Filled(s, 0.f);
    TimeLoop(st, [&] { y = F<op::relu>(x); });
    st.SetBytesProcessed(int64_t(st.iterations()) * 2 * s.Size() * int64_t(sizeof(float)));
    return;
  }
  TimeFused(st);
}

// The fused statement on kernels of this file's own, to see where the rest of the way to the
// issue's torch.compile figure (4,429 GB/s against the device copy's 4,174, 2026-11-30; umbra
// 4,069 against 4,219 on 2026-12-04) might be, before the library's MapPackKernel changes:
// - BM_PackUnroll/U: the statement's own plans (the library's loads and stores), U packs of
//   four a thread a step (the library's kernel takes one, MapFlatKernel four values), 16
//   blocks an SM as the library launches;
// - BM_HandFused/{plain,streaming}: y = a*b+c*d-e by hand on float4 pointers, a block per 256
//   packs as torch.compile's kernels launch (no stride), with ordinary loads and stores or
//   with the streaming ones (__ldcs/__stcs: evict first, each byte read once), the one thing
//   the plans cannot say.
template <int kU, typename DstPlan, typename ExpPlan>
__global__ void __launch_bounds__(cuda::kBaseThreads) PackUnrolled(DstPlan dst, ExpPlan plan, index_t npack) {
  const index_t step = index_t(gridDim.x) * blockDim.x;
  index_t i = index_t(blockIdx.x) * blockDim.x + threadIdx.x;
  for (; i + (kU - 1) * step < npack; i += kU * step) {
    decltype(plan.EvalPack(i)) v[kU];
#pragma unroll
    for (int j = 0; j < kU; ++j) v[j] = plan.EvalPack(i + j * step);
#pragma unroll
    for (int j = 0; j < kU; ++j) dst.REvalPack(i + j * step) = v[j];
  }
  for (; i < npack; i += step) dst.REvalPack(i) = plan.EvalPack(i);
}

template <bool kStreaming>
__global__ void __launch_bounds__(cuda::kBaseThreads)
    HandFused(const float4* a, const float4* b, const float4* c, const float4* d, const float4* e, float4* y,
              index_t npack) {
  const index_t i = index_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= npack) return;
  auto ld = [](const float4* p) { return kStreaming ? __ldcs(p) : *p; };
  const float4 va = ld(a + i), vb = ld(b + i), vc = ld(c + i), vd = ld(d + i), ve = ld(e + i);
  const float4 r{va.x * vb.x + vc.x * vd.x - ve.x, va.y * vb.y + vc.y * vd.y - ve.y,
                 va.z * vb.z + vc.z * vd.z - ve.z, va.w * vb.w + vc.w * vd.w - ve.w};
  if (kStreaming)
    __stcs(y + i, r);
  else
    y[i] = r;
}

// kind: 2 or 4 (BM_PackUnroll), 0 (BM_HandFused plain), -1 (streaming).
void BM_FusedKernelGPU(benchmark::State& st, int kind) {
  if (!HaveGPU(st)) return;
  Fused f;
  const index_t npack = kN / 4;
  const cudaStream_t s = cuda::DefaultStream();
  auto f4 = [](const TensorContainer<gpu, 1>& t) { return reinterpret_cast<float4*>(t.dptr_); };
  const auto yp = expr::MakePlan(f.y.view());
  const auto xp = expr::MakePlan(f.a.view() * f.b.view() + f.c.view() * f.d.view() - f.e.view());
  TimeLoop(st, [&] {
    const int hand = int((npack + cuda::kBaseThreads - 1) / cuda::kBaseThreads), pgrid = cuda::GridFor(npack);
    if (kind == 2)
      UMBRA_LAUNCH(pgrid, cuda::kBaseThreads, 0, s, PackUnrolled<2>)(yp, xp, npack);
    else if (kind == 4)
      UMBRA_LAUNCH(pgrid, cuda::kBaseThreads, 0, s, PackUnrolled<4>)(yp, xp, npack);
    else if (kind == 0)
      UMBRA_LAUNCH(hand, cuda::kBaseThreads, 0, s, HandFused<false>)(f4(f.a), f4(f.b), f4(f.c), f4(f.d), f4(f.e),
                                                                     f4(f.y), npack);
    else
      UMBRA_LAUNCH(hand, cuda::kBaseThreads, 0, s, HandFused<true>)(f4(f.a), f4(f.b), f4(f.c), f4(f.d), f4(f.e),
                                                                     f4(f.y), npack);
    UMBRA_CUDA_CHECK(cudaGetLastError());
  });
  st.SetBytesProcessed(int64_t(st.iterations()) * 6 * kN * sizeof(float));
  // A kernel that skipped elements would look fast: the elements not 1*2 + 3*4 - 5 (run.py
  // prints the median repetition's count beside the row, and each repetition with any says so
  // on stderr, which gpu-check keeps; under the stand-in, whose kernels do not run, all are).
  std::vector<float> h(size_t(kN), 0.f);
  UMBRA_CUDA_CHECK(cudaMemcpy(h.data(), f.y.dptr_, h.size() * sizeof(float), cudaMemcpyDeviceToHost));
  const auto wrong = std::count_if(h.begin(), h.end(), [](float v) { return v != 9.f; });
  st.counters["wrong"] = double(wrong);
  if (wrong) std::fprintf(stderr, "bench_gpu: the fused statement's kernel %d left %lld elements wrong\n", kind,
                          static_cast<long long>(wrong));
}

struct GemmShape {
  const char* name;
  index_t m, n, k;
};
constexpr GemmShape kGemmShapes[] = {{"mlp_fc1_fwd", 100, 512, 784},
                                 {"lenet_conv2", 64, 6400, 800},
                                 {"square_4096", 4096, 4096, 4096}};

void BM_UmbraDotGPU(benchmark::State& st, GemmShape s) {
  if (!HaveGPU(st)) return;
  auto a = Filled(Shape2(s.m, s.k), 1.f);
  auto b = Filled(Shape2(s.k, s.n), 1.f);
  TensorContainer<gpu, 2> c(Shape2(s.m, s.n));
  TimeLoop(st, [&] { c = dot(a.view(), b.view()); });
  st.counters["FLOPS"] =
      benchmark::Counter(2.0 * s.m * s.n * s.k * st.iterations(), benchmark::Counter::kIsRate);
}

void BM_CublasDirectGPU(benchmark::State& st, GemmShape s) {
  if (!HaveGPU(st)) return;
  auto a = Filled(Shape2(s.m, s.k), 1.f);
  auto b = Filled(Shape2(s.k, s.n), 1.f);
  TensorContainer<gpu, 2> c(Shape2(s.m, s.n));
  cublasHandle_t h = Stream<gpu>::GetBlasHandle(nullptr);
  const float one = 1, zero = 0;
  TimeLoop(st, [&] {
    UMBRA_CUBLAS_CHECK(cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, int(s.n), int(s.m), int(s.k), &one,
                                   b.dptr_, int(s.n), a.dptr_, int(s.k), &zero, c.dptr_, int(s.n)));
  });
  st.counters["FLOPS"] =
      benchmark::Counter(2.0 * s.m * s.n * s.k * st.iterations(), benchmark::Counter::kIsRate);
}

const bool kRegistered = [] {
  for (const bool relu : {true, false})
    for (const int per_sm : {8, 16, 32, 0})
      benchmark::RegisterBenchmark(
          (std::string("BM_Grid/") + (relu ? "relu/" : "fused/") + std::to_string(per_sm)).c_str(), BM_GridGPU, relu,
          per_sm)
          ->UseManualTime();
  for (const int u : {2, 4})
    benchmark::RegisterBenchmark(("BM_PackUnroll/" + std::to_string(u)).c_str(), BM_FusedKernelGPU, u)
        ->UseManualTime();
  for (const int kind : {0, -1})
    benchmark::RegisterBenchmark(kind ? "BM_HandFused/streaming" : "BM_HandFused/plain", BM_FusedKernelGPU, kind)
        ->UseManualTime();
  for (const bool nhwc : {false, true})
    for (const bool flat : {true, false})
      benchmark::RegisterBenchmark(
          (std::string("BM_Broadcast/") + (nhwc ? "nhwc/" : "nchw/") + (flat ? "flat" : "2d")).c_str(),
          BM_BroadcastGPU, nhwc, flat)
          ->UseManualTime();
  for (const GemmShape& s : kGemmShapes) {
    benchmark::RegisterBenchmark((std::string("umbra_gpu/") + s.name).c_str(), BM_UmbraDotGPU, s)
        ->UseManualTime();
    benchmark::RegisterBenchmark((std::string("cublas/") + s.name).c_str(), BM_CublasDirectGPU, s)
        ->UseManualTime();
  }
  return true;
}();

}  // namespace

BENCHMARK(BM_UmbraFusedGPU)->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_DeviceCopyGPU)->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK_MAIN();
