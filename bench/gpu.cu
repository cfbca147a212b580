// GPU benchmarks, timed with CUDA events (manual time): the fused `y = a*b + c*d - e` over 64M
// floats against a device-to-device cudaMemcpy of the same bytes (3 x 64M floats), a channel
// broadcast's pass on its flat and its 2-D path, launch shapes, and dot()
// against calling cublasSgemm directly on the same buffers. run.py adds PyTorch's figures.
// Napkin: 1.5 GiB per fused statement; at ~4.2 TB/s that is ~0.38 ms.
#include "gpu_timing.h"
#include "umbra/scoped_value.h"

using namespace umbra;
using bench::HaveGPU;
using bench::TimeLoop;

namespace {

constexpr index_t kN = index_t(64) << 20;

// The fused statement's timed loop: BM_UmbraFusedGPU, and BM_GridGPU's launch shapes.
void TimeFused(benchmark::State& st) {
  TensorContainer<gpu, 1> a(Shape1(kN), 1.f), b(Shape1(kN), 2.f), c(Shape1(kN), 3.f),
      d(Shape1(kN), 4.f), e(Shape1(kN), 5.f), y(Shape1(kN), 0.f);
  TimeLoop(st, [&] { y = a * b + c * d - e; });
  st.SetBytesProcessed(int64_t(st.iterations()) * 6 * kN * sizeof(float));
}

void BM_UmbraFusedGPU(benchmark::State& st) {
  if (HaveGPU(st)) TimeFused(st);
}

void BM_DeviceCopyGPU(benchmark::State& st) {
  if (!HaveGPU(st)) return;
  TensorContainer<gpu, 1> src(Shape1(3 * kN), 1.f), dst(Shape1(3 * kN), 0.f);
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
  TensorContainer<gpu, 4> x(s, 0.5f), y(s, 0.f);
  TensorContainer<gpu, 1> scale(Shape1(c), 2.f), shift(Shape1(c), -0.25f);
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
    TensorContainer<gpu, 4> x(s, -0.5f), y(s, 0.f);
    TimeLoop(st, [&] { y = F<op::relu>(x); });
    st.SetBytesProcessed(int64_t(st.iterations()) * 2 * s.Size() * int64_t(sizeof(float)));
    return;
  }
  TimeFused(st);
}

struct GemmShape {
  const char* name;
  index_t m, n, k;
};
constexpr GemmShape kShapes[] = {{"mlp_fc1_fwd", 100, 512, 784},
                                 {"lenet_conv2", 64, 6400, 800},
                                 {"square_4096", 4096, 4096, 4096}};

void BM_UmbraDotGPU(benchmark::State& st, GemmShape s) {
  if (!HaveGPU(st)) return;
  TensorContainer<gpu, 2> a(Shape2(s.m, s.k), 1.f), b(Shape2(s.k, s.n), 1.f), c(Shape2(s.m, s.n));
  TimeLoop(st, [&] { c = dot(a.view(), b.view()); });
  st.counters["FLOPS"] =
      benchmark::Counter(2.0 * s.m * s.n * s.k * st.iterations(), benchmark::Counter::kIsRate);
}

void BM_CublasDirectGPU(benchmark::State& st, GemmShape s) {
  if (!HaveGPU(st)) return;
  TensorContainer<gpu, 2> a(Shape2(s.m, s.k), 1.f), b(Shape2(s.k, s.n), 1.f), c(Shape2(s.m, s.n));
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
  for (const bool nhwc : {false, true})
    for (const bool flat : {true, false})
      benchmark::RegisterBenchmark(
          (std::string("BM_Broadcast/") + (nhwc ? "nhwc/" : "nchw/") + (flat ? "flat" : "2d")).c_str(),
          BM_BroadcastGPU, nhwc, flat)
          ->UseManualTime();
  for (const GemmShape& s : kShapes) {
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
