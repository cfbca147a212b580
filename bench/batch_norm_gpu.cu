// Batch norm + relu, one training pass (forward with batch statistics, then backward with the
// input gradient), at ResNet-50's shapes for batch 128: umbra's own kernels (algo=expr, the relu
// fused: batch_norm_stats.cu) against cuDNN's batch norm followed by cuDNN's relu, in place,
// as plain-layout nets ran them with algo=auto until 2026-12-04 (from 129 channels until
// 2026-12-05; umbra's kernels now at every width).
// run.py --gpu prints both beside PyTorch eager (BatchNorm2d + relu(inplace=True),
// torchvision's ResNet) and the copy-speed floor of the passes the own path makes (3 forward,
// 5 backward). Which path a net should default to is
// what this table and run.py --gpu-own-kernels decide. The nhwc_bf16 rows take bf16 nodes
// (NetSpec::bf16_nodes: cuDNN's bf16 batch norm and relu, or umbra's kernels on the widened
// values), channels-last as a bf16 net runs them beside PyTorch's autocast.
// The *_scalar rows: umbra's kernels with the statistics read one value at a time
// (nn::StatsPacked() off), as before 2026-12-05 (nchw) and before 2026-12-05's third session
// (nhwc: four channels of a row a read since); the rows without it read four at a time.
// Napkin: the stem's (128, 64, 112, 112) is 411 MB a tensor; 8 passes at ~4 TB/s ~0.8 ms.
#include <memory>
#include <string>

#include "batch_norm_stats.h"
#include "gpu_timing.h"
#include "umbra/nn/registry.h"
#include "umbra/scoped_value.h"
#include "umbra/tensor/bf16.h"

using namespace umbra;

namespace {

struct BnShape {
  const char* name;
  index_t n, c, h, w;
};
constexpr BnShape kBnShapes[] = {{"r50_stem", 128, 64, 112, 112}, {"r50_s2", 128, 256, 56, 56}, {"r50_s5", 128, 2048, 7, 7}};

// Uniform [-1, 1) values in t, as bf16 in its first half when bf16.
void Fill(Random<gpu, float>& rnd, Tensor<gpu, 4, float>* t, bool bf16) {
  if (!bf16) {
    rnd.SampleUniform(t, -1.f, 1.f);
    return;
  }
  TensorContainer<gpu, 4, float> tmp(t->shape_);
  rnd.SampleUniform(&tmp, -1.f, 1.f);
  Tensor<gpu, 4, Bf16> t16(reinterpret_cast<Bf16*>(t->dptr_), t->shape_, t->stream_);
  t16 = tcast<Bf16>(tmp.view());
}

void BM_BatchNormRelu(benchmark::State& st, BnShape s, bool own, bool nhwc, bool bf16, bool packed) {
  if (!bench::HaveGPU(st)) return;
  const ScopedValue packs(nn::StatsPacked(), packed);
  auto& reg = nn::LayerRegistry<gpu, float>::Get();
  const Shape<4> shape = nhwc ? Shape4(s.n, s.h, s.w, s.c) : Shape4(s.n, s.c, s.h, s.w);
  std::unique_ptr<nn::Layer<gpu, float>> bn = reg.Create("batch_norm"), relu;
  bn->set_name("bn");
  bn->SetParam("algo", own ? "expr" : "cudnn");  // cudnn: auto picks umbra's kernels channels-last
  if (nhwc) bn->SetChannelsLast();
  if (bf16) bn->SetBF16();
  bn->InferShape({shape});
  // FuseRelu: the expression path takes the relu; cuDNN's path declines it (a relu layer follows).
  if (bn->FuseRelu() != own) {
    st.SkipWithError("built without cuDNN: no cuDNN batch norm to measure");
    return;
  }
  if (!own) {
    relu = reg.Create("relu");
    relu->set_name("relu");
    if (nhwc) relu->SetChannelsLast();
    if (bf16) relu->SetBF16();
    relu->InferShape({shape});
  }
  Random<gpu, float> rnd(1);
  bn->InitWeights(rnd);
  nn::Node<gpu, float> x, y;
  x.shape = y.shape = shape;
  x.Allocate();
  y.Allocate();
  Fill(rnd, &x.data, bf16);
  Fill(rnd, &y.grad, bf16);
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
  st.counters["tensor_bytes"] = double(shape.Size()) * (bf16 ? 2 : sizeof(float));
}

const bool kBnRegistered = [] {
  for (const BnShape& s : kBnShapes)
    for (const char* layout : {"nchw", "nchw_scalar", "nhwc", "nhwc_scalar", "nhwc_bf16", "nhwc_bf16_scalar"}) {
      const bool nhwc = layout[1] == 'h', bf16 = std::string(layout).find("bf16") != std::string::npos;
      const bool scalar = std::string(layout).ends_with("scalar");
      if ((nhwc || scalar) && s.h == 7) continue;  // NHWC and the packs' A/B: the two large shapes
      for (bool own : {true, false}) {
        if (scalar && !own) continue;
        const std::string name = std::string("bn_relu/") + (own ? "own" : "cudnn") + "/" + layout + "/" + s.name;
        benchmark::RegisterBenchmark(name.c_str(), BM_BatchNormRelu, s, own, nhwc, bf16, !scalar)
            ->UseManualTime()
            ->Unit(benchmark::kMillisecond);
      }
    }
  return true;
}();

}  // namespace
