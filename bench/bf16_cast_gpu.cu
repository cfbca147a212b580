// The bf16 path's conversions over 64M elements (src/nn/bf16_cast.cu): float to bfloat16 (every
// bf16 convolution's and fullc's operands), and bfloat16 back to float with a per-channel bias
// and relu ((128, 64, 56, 56)-shaped planes, a convolution's output as dtype=bf16 converts it).
// Each moves 6 bytes an element; run.py --gpu prints them against the device copy (the same
// bytes) and the first beside PyTorch's x.to(torch.bfloat16).
// Napkin: 384 MiB a cast; at ~4.2 TB/s ~0.1 ms.
#include <cstdint>

#include "bf16_cast.h"
#include "gpu_timing.h"

using namespace umbra;

namespace {

constexpr index_t kCastN = index_t(64) << 20;
constexpr index_t kChannels = 64, kPlane = 56 * 56;

void BM_Bf16To(benchmark::State& st) {
  if (!bench::HaveGPU(st)) return;
  auto x = bench::Filled(Shape1(kCastN), 1.5f);
  TensorContainer<gpu, 1> half(Shape1(kCastN / 2));  // bf16 in half the floats
  auto* dst = reinterpret_cast<uint16_t*>(half.dptr_);
  bench::TimeLoop(st, [&] { nn::CastToBF16(x.dptr_, dst, size_t(kCastN), cuda::DefaultStream()); });
  st.SetBytesProcessed(int64_t(st.iterations()) * 6 * kCastN);
}

void BM_Bf16FromBiasRelu(benchmark::State& st) {
  if (!bench::HaveGPU(st)) return;
  auto x = bench::Filled(Shape1(kCastN), -0.25f);
  auto bias = bench::Filled(Shape1(kChannels), 0.5f);
  TensorContainer<gpu, 1> half(Shape1(kCastN / 2)), y(Shape1(kCastN));
  auto* src = reinterpret_cast<uint16_t*>(half.dptr_);
  nn::CastToBF16(x.dptr_, src, size_t(kCastN), cuda::DefaultStream());
  bench::TimeLoop(st, [&] {
    nn::CastFromBF16Bias(src, bias.dptr_, y.dptr_, size_t(kCastN), kPlane, kChannels, true, cuda::DefaultStream());
  });
  st.SetBytesProcessed(int64_t(st.iterations()) * 6 * kCastN);
}

}  // namespace

BENCHMARK(BM_Bf16To)->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Bf16FromBiasRelu)->UseManualTime()->Unit(benchmark::kMillisecond);
