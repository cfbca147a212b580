// Batch norm + relu, one training pass (forward with batch statistics, then backward with the
// input gradient), at ResNet-50's shapes for batch 128: umbra's own kernels (algo=expr, the relu
// fused: batch_norm_stats.cu) against cuDNN's batch norm followed by cuDNN's relu, in place,
// as nets run them with algo=auto. run.py --gpu prints both beside PyTorch eager
// (BatchNorm2d + relu(inplace=True), torchvision's ResNet) and the copy-speed floor of the
// passes the own path makes (3 forward, 5 backward). Which path a net should default to is
// what this table and run.py --gpu-own-kernels decide.
// Napkin: the stem's (128, 64, 112, 112) is 411 MB a tensor; 8 passes at ~4 TB/s ~0.8 ms.
#include <memory>
#include <string>

#include "gpu_timing.h"
#include "umbra/nn/registry.h"

using namespace umbra;

namespace {

struct BnShape {
  const char* name;
  index_t n, c, h, w;
};
constexpr BnShape kShapes[] = {{"r50_stem", 128, 64, 112, 112}, {"r50_s2", 128, 256, 56, 56}, {"r50_s5", 128, 2048, 7, 7}};

void BM_BatchNormRelu(benchmark::State& st, BnShape s, bool own, bool nhwc) {
  if (!bench::HaveGPU(st)) return;
  auto& reg = nn::LayerRegistry<gpu, float>::Get();
  const Shape<4> shape = nhwc ? Shape4(s.n, s.h, s.w, s.c) : Shape4(s.n, s.c, s.h, s.w);
  std::unique_ptr<nn::Layer<gpu, float>> bn = reg.Create("batch_norm"), relu;
  bn->set_name("bn");
  bn->SetParam("algo", own ? "expr" : "auto");
  if (nhwc) bn->SetChannelsLast();
  bn->InferShape({shape});
  // FuseRelu: the expression path takes the relu; cuDNN's path declines it (a relu layer follows).
  if (bn->FuseRelu() != own) {
    st.SkipWithError("built without cuDNN: no cuDNN batch norm to measure");
    return;
  }
  if (!own) {
    relu = reg.Create("relu");
    relu->set_name("relu");
    relu->InferShape({shape});
  }
  Random<gpu, float> rnd(1);
  bn->InitWeights(rnd);
  nn::Node<gpu, float> x, y;
  x.shape = y.shape = shape;
  x.Allocate();
  y.Allocate();
  rnd.SampleUniform(&x.data, -1.f, 1.f);
  rnd.SampleUniform(&y.grad, -1.f, 1.f);
  nn::ForwardContext<gpu, float> ctx;
  ctx.is_train = true;
  const std::vector<nn::Node<gpu, float>*> in = {&x}, out = {&y};
  bench::TimeLoop(st, [&] {
    bn->Forward(ctx, in, out);
    if (relu) {
      relu->Forward(ctx, out, out);
      relu->Backward(true, out, out);
    }
    bn->Backward(true, in, out);
  });
  st.counters["tensor_bytes"] = double(shape.Size()) * sizeof(float);
}

const bool kRegistered = [] {
  for (const BnShape& s : kShapes)
    for (bool nhwc : {false, true}) {
      if (nhwc && s.h == 7) continue;  // the NHWC rows: the two large shapes
      for (bool own : {true, false}) {
        const std::string name = std::string("bn_relu/") + (own ? "own" : "cudnn") + "/" + (nhwc ? "nhwc" : "nchw") + "/" + s.name;
        benchmark::RegisterBenchmark(name.c_str(), BM_BatchNormRelu, s, own, nhwc)
            ->UseManualTime()
            ->Unit(benchmark::kMillisecond);
      }
    }
  return true;
}();

}  // namespace
