// Max pooling, one training pass (forward, then the input gradient), at the shapes of the
// example nets' costliest pools for batch 128: umbra's own kernels (the layer's default: each
// window's winner kept as a byte, a gather backward; src/nn/layers/max_pool_gpu.h), the pool and
// unpool expressions they replaced (algo=expr, rows under layouts nchw_expr and nhwc_expr), the
// channels-last kernels one channel a thread (nhwc_scalar, against nhwc's four) and,
// where cuDNN can pool the window (its floor-mode output size equals cxxnet's ceil-mode one),
// cuDNN's (algo=cudnn). run.py --gpu prints them beside PyTorch eager's max_pool2d (ceil_mode:
// the same windows) and the copy-speed floor of the pass.
// Why: the first H200 run's profile (bench/RESULTS.md, 2026-12-04) put ResNet-18's one max
// pool (3x3, stride 2, on 112x112, which cuDNN cannot pool: umbra's expressions) at 12% of its
// step, its backward 2.88 ms at 321 GB/s, 8x its forward; AlexNet's three (cuDNN's) backward
// at 5.3-7.6x their forward.
// Floor of the kernels' pass: forward reads x and writes y and a byte per output (1.31 tensors
// of x's size at stride 2), backward reads gy and the bytes and writes dx (1.31): 2.63 x's bytes.
#include <memory>
#include <string>

#include "gpu_timing.h"
#include "max_pool_gpu.h"
#include "umbra/nn/registry.h"
#include "umbra/scoped_value.h"

using namespace umbra;

namespace {

struct PoolShape {
  const char* name;
  index_t n, c, h, w;
};
// ResNet-18/50's stem pool (cuDNN cannot: 55 against 56 outputs) and AlexNet's first (it can).
constexpr PoolShape kPoolShapes[] = {{"resnet_stem", 128, 64, 112, 112}, {"alexnet_pool1", 128, 64, 55, 55}};

// algo: the layer's key (auto: umbra's kernels; expr; cudnn). packed: nn::MaxPoolPacked() (off:
// the channels-last kernels one channel a thread, as before 2026-12-05's third session).
void BM_MaxPool(benchmark::State& st, PoolShape s, const char* algo, bool nhwc, bool packed) {
  if (!bench::HaveGPU(st)) return;
  const ScopedValue packs(nn::MaxPoolPacked(), packed);
  auto& reg = nn::LayerRegistry<gpu, float>::Get();
  std::unique_ptr<nn::Layer<gpu, float>> pool = reg.Create("max_pooling");
  pool->set_name("pool");
  pool->SetParam("kernel_size", "3");
  pool->SetParam("stride", "2");
  pool->SetParam("algo", algo);
  if (nhwc) pool->SetChannelsLast();
  const Shape<4> shape = nhwc ? Shape4(s.n, s.h, s.w, s.c) : Shape4(s.n, s.c, s.h, s.w);
  nn::Node<gpu, float> x, y;
  x.shape = shape;
  y.shape = pool->InferShape({shape})[0];
  x.Allocate();
  y.Allocate();
  Random<gpu, float> rnd(1);
  rnd.SampleUniform(&x.data, -1.f, 1.f);
  x.data = F<op::relu>(x.data);  // after a relu, as in the nets: a window's max is often 0's tie
  rnd.SampleUniform(&y.grad, -1.f, 1.f);
  nn::ForwardContext<gpu, float> ctx;
  ctx.is_train = true;
  const std::vector<nn::Node<gpu, float>*> in = {&x}, out = {&y};
  bench::TimeLoop(st, [&] {
    pool->Forward(ctx, in, out);
    pool->Backward(true, in, out);
  });
  st.counters["tensor_bytes"] = double(shape.Size()) * sizeof(float);
}

const bool kPoolRegistered = [] {
  struct Row {
    const char *column, *algo, *suffix;  // run.py's own/cudnn columns; expressions as layouts *_expr
  };
  // The kernels one channel a thread in the channels-last layout (packs off): layout nhwc_scalar.
  for (const PoolShape& s : kPoolShapes)
    benchmark::RegisterBenchmark((std::string("max_pool/own/nhwc_scalar/") + s.name).c_str(), BM_MaxPool, s, "auto",
                                 true, false)
        ->UseManualTime()
        ->Unit(benchmark::kMillisecond);
  for (const PoolShape& s : kPoolShapes)
    for (const char* layout : {"nchw", "nhwc"})
      for (const Row& r : {Row{"own", "auto", ""}, Row{"own", "expr", "_expr"}, Row{"cudnn", "cudnn", ""}}) {
        // cuDNN's floor-mode size against the layer's ceil-mode one: where they differ (or the
        // build has no cuDNN) algo=cudnn keeps the expressions, and a "cudnn" row would time
        // them again.
        const bool cudnn = r.column[0] == 'c';
#ifndef UMBRA_BENCH_CUDNN
        if (cudnn) continue;
#endif
        if (cudnn && PoolOutSize(s.h, 3, 2, false) != PoolOutSize(s.h, 3, 2, true)) continue;
        const std::string name = std::string("max_pool/") + r.column + "/" + layout + r.suffix + "/" + s.name;
        benchmark::RegisterBenchmark(name.c_str(), BM_MaxPool, s, r.algo, layout[1] == 'h', true)
            ->UseManualTime()
            ->Unit(benchmark::kMillisecond);
      }
  return true;
}();

}  // namespace
