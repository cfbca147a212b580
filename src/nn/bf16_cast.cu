// float <-> bfloat16 kernels (layers/bf16_cast.h): one grid-stride pass each, four elements a
// thread a step where both pointers allow 16-byte float and 8-byte bf16 accesses (the caching
// allocator's blocks and the net's arena offsets are 256-byte aligned; a view at another offset
// takes the one-element path). One 2-byte access a thread asks 64 bytes of a warp at a time,
// a quarter of what the float4 path of umbra's expressions (MapPackKernel) keeps in flight.
#include <cuda_bf16.h>

#include <algorithm>
#include <cstdint>

#include "bf16_cast.h"
#include "node_value.cuh"  // Bf16x4
#include "umbra/tensor/cuda/check.h"
#include "umbra/tensor/cuda/fast_div.h"

namespace umbra::nn {
namespace {

// Each cast as One(i) (element i) and Four(j) (elements 4j .. 4j + 3, aligned).
struct ToOp {
  const float* src;
  __nv_bfloat16* dst;
  UMBRA_XINLINE void One(size_t i) const { dst[i] = __float2bfloat16_rn(src[i]); }
  UMBRA_XINLINE void Four(size_t j) const {
    const float4 f = reinterpret_cast<const float4*>(src)[j];
    Bf16x4 b;
    b.v[0] = __float2bfloat16_rn(f.x), b.v[1] = __float2bfloat16_rn(f.y);
    b.v[2] = __float2bfloat16_rn(f.z), b.v[3] = __float2bfloat16_rn(f.w);
    reinterpret_cast<Bf16x4*>(dst)[j] = b;
  }
};
// dst = float(src), or dst += float(src) (a gradient accumulated).
struct FromOp {
  const __nv_bfloat16* src;
  float* dst;
  bool add;
  UMBRA_XINLINE void One(size_t i) const {
    dst[i] = add ? dst[i] + __bfloat162float(src[i]) : __bfloat162float(src[i]);
  }
  UMBRA_XINLINE void Four(size_t j) const {
    const Bf16x4 b = reinterpret_cast<const Bf16x4*>(src)[j];
    float4 f = make_float4(__bfloat162float(b.v[0]), __bfloat162float(b.v[1]), __bfloat162float(b.v[2]),
                           __bfloat162float(b.v[3]));
    float4* d = reinterpret_cast<float4*>(dst) + j;
    if (add) {
      const float4 o = *d;
      f.x += o.x, f.y += o.y, f.z += o.z, f.w += o.w;
    }
    *d = f;
  }
};
// dst = float(src) + bias[c], relu'd: c from i by two divisions fixed at launch (IndexDiv: a
// multiply-high each below 2^32 elements). Four aligned elements (Four) look their channel up
// once where the shape allows (`group`): all four in one plane (inner % 4 == 0: one channel),
// or four neighbouring channels of a row (channels-last, inner 1, C % 4 == 0); else once each.
// The wide pass ran at 0.61 of a device copy on the H200 with a lookup an element, the other
// casts at 0.96 (2026-12-04): eight divisions and four bias loads for four elements.
struct FromBiasOp {
  enum Group : uint8_t { kEach, kPlane, kRow };
  const __nv_bfloat16* src;
  const float* bias;
  float* dst;
  cuda::IndexDiv inner, channels;
  bool relu;
  Group group;
  UMBRA_XINLINE index_t Channel(size_t i) const {
    const index_t q = inner.Div(index_t(i));
    return q - channels.Div(q) * channels.d;
  }
  UMBRA_XINLINE float Apply(__nv_bfloat16 s, float b) const {
    float v = __bfloat162float(s);
    if (bias) v += b;                     // none: -0 stays -0
    return relu && v <= 0.f ? 0.f : v;  // op::relu's choice: -0 gives +0, NaN stays NaN
  }
  UMBRA_XINLINE float At(size_t i, __nv_bfloat16 s) const { return Apply(s, bias ? bias[Channel(i)] : 0.f); }
  // b[k]: the bias of element i + k, k < 4, i a multiple of 4.
  UMBRA_XINLINE void Biases(size_t i, float (&b)[4]) const {
    if (!bias) {
      b[0] = b[1] = b[2] = b[3] = 0.f;
    } else if (group == kEach) {
      for (int k = 0; k < 4; ++k) b[k] = bias[Channel(i + k)];
    } else {
      const index_t c = Channel(i);
      for (int k = 0; k < 4; ++k) b[k] = bias[group == kRow ? c + k : c];
    }
  }
  UMBRA_XINLINE void One(size_t i) const { dst[i] = At(i, src[i]); }
  UMBRA_XINLINE void Four(size_t j) const {
    const Bf16x4 s = reinterpret_cast<const Bf16x4*>(src)[j];
    float b[4];
    Biases(4 * j, b);
    reinterpret_cast<float4*>(dst)[j] =
        make_float4(Apply(s.v[0], b[0]), Apply(s.v[1], b[1]), Apply(s.v[2], b[2]), Apply(s.v[3], b[3]));
  }
};

// bf16 nodes (NetSpec::bf16_nodes): a convolution's bf16 output, bias and relu added in place,
// rounded once: x = bf16(relu(float(x) + bias[c])), the float path's arithmetic then a rounding.
struct BiasInPlaceOp {
  FromBiasOp f;  // its src is the bf16 data, its dst unused
  __nv_bfloat16* x;
  UMBRA_XINLINE void One(size_t i) const { x[i] = __float2bfloat16_rn(f.At(i, x[i])); }
  UMBRA_XINLINE void Four(size_t j) const {
    Bf16x4 v = reinterpret_cast<const Bf16x4*>(x)[j];
    float b[4];
    f.Biases(4 * j, b);
    for (int k = 0; k < 4; ++k) v.v[k] = __float2bfloat16_rn(f.Apply(v.v[k], b[k]));
    reinterpret_cast<Bf16x4*>(x)[j] = v;
  }
};
// A fused relu's backward on bf16 nodes: g = g * (y > 0 ? 1 : 0), as op::relu_grad multiplies
// (a NaN gradient stays NaN; exact in bf16).
struct MaskOp {
  __nv_bfloat16* g;
  const __nv_bfloat16* y;
  UMBRA_XINLINE static __nv_bfloat16 M(__nv_bfloat16 g, __nv_bfloat16 y) {
    return __float2bfloat16_rn(__bfloat162float(g) * (__bfloat162float(y) > 0.f ? 1.f : 0.f));
  }
  UMBRA_XINLINE void One(size_t i) const { g[i] = M(g[i], y[i]); }
  UMBRA_XINLINE void Four(size_t j) const {
    Bf16x4 a = reinterpret_cast<const Bf16x4*>(g)[j];
    const Bf16x4 b = reinterpret_cast<const Bf16x4*>(y)[j];
    for (int k = 0; k < 4; ++k) a.v[k] = M(a.v[k], b.v[k]);
    reinterpret_cast<Bf16x4*>(g)[j] = a;
  }
};

// bf16 nodes: y = bf16(sum of up to kMaxSum inputs, and y itself when acc; relu'd), summed in
// fp32 (eltwise_sum's forward, split's backward). The loop over the inputs is unrolled to
// kMaxSum so that x[j] is read from the kernel's parameters: a loop bound only at run time
// indexed them dynamically, which made every thread copy all 80 bytes of them to local memory
// first (an 80-byte stack frame in ptxas's report; now none).
constexpr int kMaxSum = 8;
struct SumOp {
  const __nv_bfloat16* x[kMaxSum];
  int k;
  bool acc, relu;
  __nv_bfloat16* y;
  UMBRA_XINLINE float Sum(size_t i) const {
    float s = acc ? __bfloat162float(y[i]) : 0.f;
#pragma unroll
    for (int j = 0; j < kMaxSum; ++j)
      if (j < k) s += __bfloat162float(x[j][i]);
    return relu && s <= 0.f ? 0.f : s;
  }
  UMBRA_XINLINE void One(size_t i) const { y[i] = __float2bfloat16_rn(Sum(i)); }
  UMBRA_XINLINE void Four(size_t j) const {
    Bf16x4 b;
    for (int q = 0; q < 4; ++q) b.v[q] = __float2bfloat16_rn(Sum(4 * j + q));
    reinterpret_cast<Bf16x4*>(y)[j] = b;
  }
};

// The channels-last filter's move (layers/swap_inner.h) fused with a cast: element i of
// dst (outer, b, a) from src (outer, a, b), the two axes' sizes divided as in FromBiasOp. One
// element a thread (the source is strided); Four is four Ones for the launch template.
struct SwapIndex {
  cuda::IndexDiv a, b;
  UMBRA_XINLINE size_t From(size_t i) const {
    const index_t q = a.Div(index_t(i)), ia = index_t(i) - q * a.d;  // q = o * b + jb
    const index_t o = b.Div(q), jb = q - o * b.d;
    return size_t((o * a.d + ia) * b.d + jb);
  }
};
// dst = bf16(src moved): a weight as cuDNN's channels-last bf16 convolution takes it.
struct SwapToOp {
  SwapIndex at;
  const float* src;
  __nv_bfloat16* dst;
  UMBRA_XINLINE void One(size_t i) const { dst[i] = __float2bfloat16_rn(src[at.From(i)]); }
  UMBRA_XINLINE void Four(size_t j) const {
    for (size_t k = 0; k < 4; ++k) One(4 * j + k);
  }
};
// dst += float(src moved): its bf16 weight gradient added into the layer's.
struct SwapFromAddOp {
  SwapIndex at;
  const __nv_bfloat16* src;
  float* dst;
  UMBRA_XINLINE void One(size_t i) const { dst[i] += __bfloat162float(src[at.From(i)]); }
  UMBRA_XINLINE void Four(size_t j) const {
    for (size_t k = 0; k < 4; ++k) One(4 * j + k);
  }
};

// n / 4 groups of four, then the n % 4 left over by block 0's first threads.
template <typename Op>
__global__ void Cast4(Op op, size_t n) {
  const size_t groups = n / 4;
  for (size_t j = blockIdx.x * size_t(blockDim.x) + threadIdx.x; j < groups; j += size_t(gridDim.x) * blockDim.x)
    op.Four(j);
  if (blockIdx.x == 0 && threadIdx.x < n - 4 * groups) op.One(4 * groups + threadIdx.x);
}
template <typename Op>
__global__ void Cast1(Op op, size_t n) {
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < n; i += size_t(gridDim.x) * blockDim.x)
    op.One(i);
}

unsigned Blocks(size_t n) { return unsigned(std::max<size_t>(1, std::min<size_t>((n + 255) / 256, 65535 * 4))); }

// Four at a time where `wide` (the pointers allow it), else one.
template <typename Op>
void Launch(const Op& op, bool wide, size_t n, void* stream) {
  if (n == 0) return;
  cudaStream_t s = cuda::OrDefault(static_cast<cudaStream_t>(stream));
  if (wide)
    UMBRA_LAUNCH(Blocks(n / 4), 256, 0, s, Cast4<Op>)(op, n);
  else
    UMBRA_LAUNCH(Blocks(n), 256, 0, s, Cast1<Op>)(op, n);
  UMBRA_CUDA_CHECK(cudaGetLastError());
}
bool Aligned(const void* p, size_t to) { return reinterpret_cast<uintptr_t>(p) % to == 0; }
// The bias + relu op over n elements of `inner`-element planes of `channels` channels (n > 0).
FromBiasOp BiasOp(const __nv_bfloat16* src, const float* bias, float* dst, size_t n, size_t inner, size_t channels,
                  bool relu) {
  const index_t planes = index_t((n - 1) / inner);  // the largest dividend of the second division
  const FromBiasOp::Group group = inner % 4 == 0                     ? FromBiasOp::kPlane
                                  : inner == 1 && channels % 4 == 0 ? FromBiasOp::kRow
                                                                    : FromBiasOp::kEach;
  return FromBiasOp{src, bias, dst, cuda::IndexDiv(index_t(inner), index_t(n - 1)),
                    cuda::IndexDiv(index_t(channels), planes), relu, group};
}
// Element i of (outer, b, a) from (outer, a, b), n = outer * a * b > 0 elements.
SwapIndex Swap(size_t n, size_t a, size_t b) {
  return SwapIndex{cuda::IndexDiv(index_t(a), index_t(n - 1)), cuda::IndexDiv(index_t(b), index_t((n - 1) / a))};
}
// A float and a bf16 side: 16- and 8-byte aligned for the wide path.
template <typename Op>
void Run(const Op& op, const void* f32, const void* b16, size_t n, void* stream) {
  Launch(op, Aligned(f32, 16) && Aligned(b16, 8), n, stream);
}

}  // namespace

void CastToBF16(const float* src, uint16_t* dst, size_t n, void* stream) {
  auto* d = reinterpret_cast<__nv_bfloat16*>(dst);
  Run(ToOp{src, d}, src, d, n, stream);
}
void CastFromBF16(const uint16_t* src, float* dst, size_t n, void* stream, bool add) {
  auto* s = reinterpret_cast<const __nv_bfloat16*>(src);
  Run(FromOp{s, dst, add}, dst, s, n, stream);
}
void CastFromBF16Bias(const uint16_t* src, const float* bias, float* dst, size_t n, size_t inner, size_t channels,
                      bool relu, void* stream) {
  if (n == 0) return;
  auto* s = reinterpret_cast<const __nv_bfloat16*>(src);
  Run(BiasOp(s, bias, dst, n, inner, channels, relu), dst, s, n, stream);
}
void BiasReluBF16(uint16_t* x, const float* bias, size_t n, size_t inner, size_t channels, bool relu, void* stream) {
  if (n == 0) return;
  auto* b = reinterpret_cast<__nv_bfloat16*>(x);
  Launch(BiasInPlaceOp{BiasOp(b, bias, nullptr, n, inner, channels, relu), b}, Aligned(b, 8), n, stream);
}
void SwapInnerToBF16(const float* src, uint16_t* dst, size_t outer, size_t a, size_t b, void* stream) {
  const size_t n = outer * a * b;
  if (n == 0) return;
  Launch(SwapToOp{Swap(n, a, b), src, reinterpret_cast<__nv_bfloat16*>(dst)}, false, n, stream);
}
void SwapInnerFromBF16Add(const uint16_t* src, float* dst, size_t outer, size_t a, size_t b, void* stream) {
  const size_t n = outer * a * b;
  if (n == 0) return;
  Launch(SwapFromAddOp{Swap(n, a, b), reinterpret_cast<const __nv_bfloat16*>(src), dst}, false, n, stream);
}
void SumBF16(uint16_t* y, const uint16_t* const* x, size_t k, size_t n, bool relu, void* stream) {
  // Up to kMaxSum inputs a pass; more add to the first pass's rounded sum (split's backward
  // with over eight outputs: no net here has one).
  for (size_t j0 = 0; j0 < k; j0 += kMaxSum) {
    SumOp op{};
    op.k = int(std::min<size_t>(kMaxSum, k - j0));
    op.acc = j0 > 0;
    op.relu = relu && j0 + kMaxSum >= k;
    op.y = reinterpret_cast<__nv_bfloat16*>(y);
    bool aligned = Aligned(y, 8);
    for (int q = 0; q < op.k; ++q) {
      op.x[q] = reinterpret_cast<const __nv_bfloat16*>(x[j0 + q]);
      aligned = aligned && Aligned(x[j0 + q], 8);
    }
    Launch(op, aligned, n, stream);
  }
}
void CopyBF16(uint16_t* dst, const uint16_t* src, size_t n, void* stream) {
  if (n == 0 || dst == src) return;
  UMBRA_CUDA_CHECK(cudaMemcpyAsync(dst, src, n * sizeof(uint16_t), cudaMemcpyDeviceToDevice,
                                   cuda::OrDefault(static_cast<cudaStream_t>(stream))));
}
void ReluMaskBF16(uint16_t* grad, const uint16_t* y, size_t n, void* stream) {
  auto* g = reinterpret_cast<__nv_bfloat16*>(grad);
  auto* v = reinterpret_cast<const __nv_bfloat16*>(y);
  Launch(MaskOp{g, v}, Aligned(g, 8) && Aligned(v, 8), n, stream);
}

}  // namespace umbra::nn
