// dot() on the shapes of LeNet and MLP layers against calling the BLAS directly on the same
// buffers: oneDNN's dnnl_sgemm (what umbra's float dot uses) and, for reference, OpenBLAS's
// cblas_sgemm as Debian ships it (no OPENBLAS_CORETYPE). Reported as FLOP/s; run.py prints ratios.
#include <benchmark/benchmark.h>

#include "umbra/tensor.h"

using namespace umbra;

namespace {

struct GemmShape {
  const char* name;
  index_t m, n, k;
  bool ta, tb;
};
// MLP 784-512-512-10 and LeNet (conv as im2col GEMM over a batch of 100), batch 100.
constexpr GemmShape kShapes[] = {
    {"mlp_fc1_fwd", 100, 512, 784, false, true},   {"mlp_fc1_wgrad", 512, 784, 100, true, false},
    {"mlp_fc1_dgrad", 100, 784, 512, false, false}, {"mlp_fc2_fwd", 100, 512, 512, false, true},
    {"mlp_fc3_fwd", 100, 10, 512, false, true},    {"lenet_conv1", 32, 57600, 25, false, false},
    {"lenet_conv2", 64, 6400, 800, false, false},  {"lenet_fc1_fwd", 100, 100, 1024, false, true},
};

struct Operands {
  TensorContainer<cpu, 2> a, b, c;
  explicit Operands(const GemmShape& s)
      : a(s.ta ? Shape2(s.k, s.m) : Shape2(s.m, s.k)),
        b(s.tb ? Shape2(s.n, s.k) : Shape2(s.k, s.n)),
        c(Shape2(s.m, s.n)) {
    Random<cpu> r(1);
    r.SampleUniform(&a);
    r.SampleUniform(&b);
  }
};

void SetFlops(benchmark::State& st, const GemmShape& s) {
  st.counters["FLOPS"] = benchmark::Counter(2.0 * s.m * s.n * s.k * st.iterations(),
                                            benchmark::Counter::kIsRate);
}

void BM_Umbra(benchmark::State& st, GemmShape s) {
  Operands o(s);
  for (auto _ : st) {
    if (!s.ta && !s.tb) o.c = dot(o.a.view(), o.b.view());
    if (s.ta && !s.tb) o.c = dot(o.a.view().T(), o.b.view());
    if (!s.ta && s.tb) o.c = dot(o.a.view(), o.b.view().T());
    benchmark::ClobberMemory();
  }
  SetFlops(st, s);
}

#if defined(UMBRA_USE_DNNL) && UMBRA_USE_DNNL
void BM_DirectDnnl(benchmark::State& st, GemmShape s) {
  Operands o(s);
  for (auto _ : st) {
    dnnl_sgemm(s.ta ? 'T' : 'N', s.tb ? 'T' : 'N', s.m, s.n, s.k, 1.f, o.a.dptr_, o.a.stride_,
               o.b.dptr_, o.b.stride_, 0.f, o.c.dptr_, o.c.stride_);
    benchmark::ClobberMemory();
  }
  SetFlops(st, s);
}
#endif

void BM_DirectOpenBLAS(benchmark::State& st, GemmShape s) {
  Operands o(s);
  for (auto _ : st) {
    cblas_sgemm(CblasRowMajor, s.ta ? CblasTrans : CblasNoTrans, s.tb ? CblasTrans : CblasNoTrans,
                int(s.m), int(s.n), int(s.k), 1.f, o.a.dptr_, int(o.a.stride_), o.b.dptr_,
                int(o.b.stride_), 0.f, o.c.dptr_, int(o.c.stride_));
    benchmark::ClobberMemory();
  }
  SetFlops(st, s);
}

const bool kRegistered = [] {
  for (const GemmShape& s : kShapes) {
    benchmark::RegisterBenchmark((std::string("umbra/") + s.name).c_str(), BM_Umbra, s);
#if defined(UMBRA_USE_DNNL) && UMBRA_USE_DNNL
    benchmark::RegisterBenchmark((std::string("dnnl/") + s.name).c_str(), BM_DirectDnnl, s);
#endif
    benchmark::RegisterBenchmark((std::string("openblas/") + s.name).c_str(), BM_DirectOpenBLAS, s);
  }
  return true;
}();

}  // namespace

BENCHMARK_MAIN();
