// Batch-norm statistics on the GPU (batch_norm_stats.h): one read of the data per pass, sums in
// double (sum(x^2) / m - mean^2 then loses nothing that matters in float), a fixed summation
// order (the same figures every run, whatever the GPU). Two layouts of a channel's values:
// strided (NCHW: outer runs of `inner` contiguous values) and contiguous (channels-last and
// vectors: a row of C channels per sample), each cut into about 2,048 blocks in all so that a
// 64-channel layer still fills an H200's 132 SMs, several times over (the rows read four
// channels a thread in a quarter of those blocks or more: MakePlan).
// Napkin (ResNet-50's first batch norm at batch 128: 128 x 64 x 112 x 112 floats, 411 MB):
// forward statistics read 411 MB (~0.1 ms at 4 TB/s), the backward sums 822 MB; the fused
// apply passes read and write as a plain relu does, so a batch norm with its relu moves 3 passes
// of the data forward and 5 backward; cuDNN's batch norm and a separate relu at least 5 and 8,
// the two-pass expressions before these kernels 4 and 9.
#include <cuda_bf16.h>

#include <algorithm>
#include <cmath>
#include <type_traits>

#include "batch_norm_stats.h"
#include "node_value.cuh"  // Wide, Put
#include "umbra/tensor/cuda/check.h"
#include "umbra/tensor/cuda/fast_div.h"
#include "umbra/tensor/cuda/launch.h"

namespace umbra::nn {
namespace {

constexpr int kThreads = 256;
// Values a thread reads before it sums any: a thread's one 4-byte read at a time keeps about 8
// KB in flight on an SM of 2,048 threads, where streaming an H200's HBM takes several times that
// (umbra's elementwise kernels keep 16 bytes a thread in flight: MapFlatKernel's unrolling,
// MapPackKernel's float4; they reach 0.96 of a device copy). The sums keep their order. Both
// layouts read four neighbours a read where they can (the strided sums' kPacked, the row sums'
// kV = 4): kUnroll packs in flight, where a thread's share of a chunk has that many (a row
// tile of few channels is tall: 256 rows at 4 channels, against chunks of ~128 rows below
// 262,144 rows, so small tensors take the tail loop, and some of the tile idles).
constexpr int kUnroll = 4;
// Blocks a launch aims at: several waves of resident blocks, so that the last wave's idle SMs
// cost little (more than 8 blocks of 256 threads never fit an SM).
constexpr int64_t kTargetBlocks = 2048;

// What a pass adds per value: the forward's (x, x^2), the backward's (g, g * xhat), over float
// or bfloat16 nodes (T). `Chan` holds the per-channel constants a block loads once. Get reads a
// value's inputs and Add sums them, apart, so that a thread issues kUnroll reads before it
// waits for any (the loops below).
template <typename T>
struct StatsLoad {
  const T* x;
  struct Chan {};
  using Val = float;
  __device__ Chan At(int64_t) const { return {}; }
  __device__ Val Get(int64_t idx) const { return Wide(x[idx]); }
  __device__ void Add(const Chan&, int64_t, Val x, double& s, double& q) const {
    const double v = x;
    s += v;
    q += v * v;
  }
  // Four neighbours in one read (the packed strided sums), added in their order.
  struct Pack {
    float x[4];
  };
  __device__ Pack GetPack(int64_t idx) const {
    Pack p;
    Load4(x + idx, p.x);
    return p;
  }
  // Value e of a pack goes to channel slot e * kStep of k, s and q: kStep 0 for four values of
  // one channel's run (the packed strided sums), 1 for four neighbouring channels of a row (the
  // packed row sums), each into its own sums.
  template <int kStep>
  __device__ void Add4(const Chan* k, int64_t idx, const Pack& p, double* s, double* q) const {
#pragma unroll
    for (int e = 0; e < 4; ++e) Add(k[e * kStep], idx + e, p.x[e], s[e * kStep], q[e * kStep]);
  }
  bool Packable() const { return IsPackAligned(x); }
};
template <typename T>
struct GradLoad {
  const T *x, *gy;
  const float *mean, *inv_std, *scale, *shift;
  bool relu;
  const T *addend, *y;  // a fused sum's other input, or its value (BnBackwardArgs); may be null
  T* g_out;             // gy, to take the masked g in place; may be null
  struct Chan {
    float mean, inv_std, scale, shift;
  };
  struct Val {
    float x, gy, other;  // other: the output (y) or the addend, where the relu's mask needs one
  };
  __device__ Chan At(int64_t c) const { return {mean[c], inv_std[c], scale[c], shift[c]}; }
  // The tensor the relu's mask reads besides x (Val::other): y, else the addend; null without a
  // relu or either.
  __device__ const T* Other() const { return relu ? (y ? y : addend) : nullptr; }
  __device__ Val Get(int64_t idx) const {
    const T* o = Other();
    return {Wide(x[idx]), Wide(gy[idx]), o ? Wide(o[idx]) : 0.f};
  }
  // The forward's relu decision, computed as its expression computes it (BnScale, then the
  // addend), or read from its output, and applied as the input-gradient pass applies it: gy * 0
  // or 1 (a NaN or inf gy stays NaN).
  __device__ float Masked(const Chan& k, const Val& v) const {
    if (!relu) return v.gy;
    const float z = y        ? v.other
                    : addend ? BnScale::Map(v.x, k.scale) + k.shift + v.other
                             : BnScale::Map(v.x, k.scale) + k.shift;
    return v.gy * (z > 0.f ? 1.f : 0.f);
  }
  __device__ void Sum(const Chan& k, float xv, float g, double& s, double& q) const {
    s += g;
    q += double(g) * double((xv - k.mean) * k.inv_std);
  }
  // Each element is read (Get, GetPack) before it is written, by the same thread, so g_out may
  // be gy. The written g is exact: gy or 0 (or NaN).
  __device__ void Add(const Chan& k, int64_t idx, const Val& v, double& s, double& q) const {
    const float g = Masked(k, v);
    if (g_out) Put(g_out + idx, g);
    Sum(k, v.x, g, s, q);
  }
  struct Pack {
    float x[4], gy[4], other[4];
  };
  __device__ Pack GetPack(int64_t idx) const {
    Pack p;
    Load4(x + idx, p.x);
    Load4(gy + idx, p.gy);
    if (const T* o = Other())
      Load4(o + idx, p.other);
    else
      p.other[0] = p.other[1] = p.other[2] = p.other[3] = 0.f;
    return p;
  }
  template <int kStep>  // as StatsLoad's
  __device__ void Add4(const Chan* k, int64_t idx, const Pack& p, double* s, double* q) const {
    float g[4];
#pragma unroll
    for (int e = 0; e < 4; ++e) g[e] = Masked(k[e * kStep], {p.x[e], p.gy[e], p.other[e]});
    if (g_out) Store4(g_out + idx, g);
#pragma unroll
    for (int e = 0; e < 4; ++e) Sum(k[e * kStep], p.x[e], g[e], s[e * kStep], q[e * kStep]);
  }
  bool Packable() const {
    return IsPackAligned(x) && IsPackAligned(gy) && IsPackAligned(addend) && IsPackAligned(y) &&
           IsPackAligned(g_out);
  }
};

// Per channel, from its two sums (s, q) over m values: the forward's statistics, or the
// backward's gradients and coefficients (batch_norm_stats.h).
__device__ inline void FinishChannel(const BnForwardArgs& a, int64_t c, double s, double q, double m) {
  const double mean = s / m, var = std::max(q / m - mean * mean, 0.0);
  const float inv_std = float(1.0 / std::sqrt(var + double(a.eps))), scale = a.gamma[c] * inv_std;
  a.mean[c] = float(mean);
  a.inv_std[c] = inv_std;
  a.scale[c] = scale;
  a.shift[c] = a.beta[c] - float(mean) * scale;
  if (a.moving_mean) {
    const float mo = a.momentum;
    a.moving_mean[c] = a.moving_mean[c] * mo + float(mean) * (1.f - mo);
    a.moving_var[c] = a.moving_var[c] * mo + float(var) * float((1.0 - double(mo)) * m / (m - 1));
  }
}
__device__ inline void FinishChannel(const BnBackwardArgs& a, int64_t c, double sg, double sgx, double m) {
  a.gbeta[c] += float(sg);
  a.ggamma[c] += float(sgx);
  const double inv_std = a.inv_std[c];
  a.k1[c] = float(double(a.gamma[c]) * inv_std);
  a.ka[c] = float(sg / m);
  a.kc[c] = float(sgx / m * inv_std);
}

struct SumArgs {
  float* acc;
};
__device__ inline void FinishChannel(const SumArgs& a, int64_t c, double s, double, double) {
  a.acc[c] = float(double(a.acc[c]) + s);
}

// A column of blocks sums the same channels over `parts` chunks of their values: the last of
// them to finish merges the column's partial sums and finishes its channels, so each launch
// adds as a separate merging launch would, one launch fewer. Each writer of a partial fences it
// before the column's count is taken; the last block fences again before it reads the
// partials, through volatile loads (from L2, not L1 lines its SM might hold stale), as the CUDA
// programming guide's threadfence reduction does, and puts the count back to 0 for the next
// launch (and for a graph's replays). The merge is spread over the block's threads (chunks
// first, first + stride, ...; then the block's fixed tree), as ~2,048 blocks a launch give a
// channel up to hundreds of partials: a fixed order still, and no long chain in one thread.
__device__ inline void Merge(const double* part, int64_t channels, int64_t c, int parts, int first, int stride,
                             double& s, double& q) {
  const volatile double* v = part;
  for (int p = first; p < parts; p += stride) {
    s += v[c * parts + p];
    q += v[(channels + c) * parts + p];
  }
}
// ss[0] and sq[0] become the sums of ss[0 .. kThreads) and sq[...]: a fixed tree, every thread
// of the block calling (it synchronises).
__device__ inline void BlockSum(double* ss, double* sq, int tid) {
  __syncthreads();
  for (int h = kThreads / 2; h > 0; h >>= 1) {
    if (tid < h) {
      ss[tid] += ss[tid + h];
      sq[tid] += sq[tid + h];
    }
    __syncthreads();
  }
}
// The same down the `rows` rows (a power of 2) of a tile `w` threads wide, per column: ss[e][tid]
// (tid = ty * w + tx) for each of a thread's kV channels e.
template <int kV>
__device__ inline void ColumnSum(double (*ss)[kThreads], double (*sq)[kThreads], int tid, int ty, int w, int rows) {
  __syncthreads();
  for (int h = rows / 2; h > 0; h >>= 1) {
    if (ty < h)
      for (int e = 0; e < kV; ++e) {
        ss[e][tid] += ss[e][tid + h * w];
        sq[e][tid] += sq[e][tid + h * w];
      }
    __syncthreads();
  }
}

// Channel-major layout: block (c, p) sums chunk p of channel c's n = outer * inner values
// (flat index t -> run o = t / inner, offset t - o * inner) into part[c * parts + p] and
// part[(C + c) * parts + p]; column c is channel c. kPacked: a thread reads four neighbours at
// a time (Load::GetPack), where a run's length and the chunks are multiples of 4 and the
// tensors aligned to four elements (MakePlan, Run): 64 bytes of a float tensor in flight a
// thread instead of 16 (32 instead of 8 for bf16), and one index division per four values.
template <bool kPacked, typename Load, typename Args>
__global__ void __launch_bounds__(kThreads)
    StridedSums(Load ld, Args args, int64_t channels, uint32_t n, uint32_t chunk, cuda::FastDiv inner, double m,
                double* part, unsigned* count) {
  __shared__ double ss[kThreads], sq[kThreads];
  __shared__ bool last;
  const int tid = threadIdx.x;
  const int64_t c = blockIdx.x, parts = gridDim.y;
  const typename Load::Chan k = ld.At(c);
  const uint64_t begin = uint64_t(blockIdx.y) * chunk, end = begin + chunk < n ? begin + chunk : n;
  double s = 0, q = 0;
  auto at = [&](uint64_t u) {  // flat index -> the value's address
    const uint32_t t = uint32_t(u), o = inner.Div(t);
    return (int64_t(o) * channels + c) * inner.d + (t - o * inner.d);
  };
  if constexpr (kPacked) {  // u counts packs of 4: values 4u .. 4u + 3, in one run
    const uint64_t pend = end / 4;
    uint64_t u = begin / 4 + tid;
    for (; u + (kUnroll - 1) * kThreads < pend; u += kUnroll * kThreads) {
      int64_t idx[kUnroll];
      typename Load::Pack v[kUnroll];
#pragma unroll
      for (int j = 0; j < kUnroll; ++j) idx[j] = at(4 * (u + j * kThreads)), v[j] = ld.GetPack(idx[j]);
#pragma unroll
      for (int j = 0; j < kUnroll; ++j) ld.template Add4<0>(&k, idx[j], v[j], &s, &q);
    }
    for (; u < pend; u += kThreads) {
      const int64_t idx = at(4 * u);
      ld.template Add4<0>(&k, idx, ld.GetPack(idx), &s, &q);
    }
  } else {
    uint64_t u = begin + tid;
    for (; u + (kUnroll - 1) * kThreads < end; u += kUnroll * kThreads) {
      int64_t idx[kUnroll];
      typename Load::Val v[kUnroll];
#pragma unroll
      for (int j = 0; j < kUnroll; ++j) idx[j] = at(u + j * kThreads), v[j] = ld.Get(idx[j]);
#pragma unroll
      for (int j = 0; j < kUnroll; ++j) ld.Add(k, idx[j], v[j], s, q);  // in u's order, as one at a time
    }
    for (; u < end; u += kThreads) {
      const int64_t idx = at(u);
      ld.Add(k, idx, ld.Get(idx), s, q);
    }
  }
  ss[tid] = s;
  sq[tid] = q;
  BlockSum(ss, sq, tid);
  if (tid == 0) {
    part[c * parts + blockIdx.y] = ss[0];
    part[(channels + c) * parts + blockIdx.y] = sq[0];
    __threadfence();
    last = atomicAdd(&count[c], 1u) == unsigned(parts - 1);
  }
  __syncthreads();
  if (!last) return;
  __threadfence();  // the reading side's fence, in every thread that reads partials
  double ts = 0, tq = 0;
  Merge(part, channels, c, int(parts), tid, kThreads, ts, tq);
  ss[tid] = ts;  // thread 0 read ss[0] before the barrier above
  sq[tid] = tq;
  BlockSum(ss, sq, tid);
  if (tid == 0) {
    FinishChannel(args, c, ss[0], sq[0], m);
    count[c] = 0;
  }
}

// Row-major layout (rows, C): block (x, p) of w x rows threads (blockDim; w * rows = kThreads)
// sums w * kV neighbouring channels over row chunk p, thread (tx, ty) channels
// (x * w + tx) * kV .. + kV - 1 of rows ty, ty + rows, ...: a warp reads whole neighbouring
// rows' worth of channels (coalesced). kV = 1: 32 x 8 threads, a value a read. kV = 4: four
// neighbouring channels a read (Load::GetPack, Add4<1>), where C is a multiple of 4 and the
// tensors aligned to four elements; w the least power of 2 that covers a row's C / 4 packs, at
// most 32 (RowTileWidth), so that a 64-channel row takes 16 threads and a warp reads two rows,
// 512 contiguous bytes of floats. Column x is those channels; each thread keeps kV pairs of sums.
template <int kV, typename Load, typename Args>
__global__ void __launch_bounds__(kThreads)
    ContiguousSums(Load ld, Args args, int64_t channels, int64_t rows, int64_t chunk, double m, double* part,
                   unsigned* count) {
  __shared__ double ss[kV][kThreads], sq[kV][kThreads];
  __shared__ bool last;
  const int tx = threadIdx.x, ty = threadIdx.y, w = blockDim.x, h = blockDim.y, tid = ty * w + tx;
  const int64_t c = (int64_t(blockIdx.x) * w + tx) * kV, parts = gridDim.y;  // the thread's first channel
  const int64_t begin = int64_t(blockIdx.y) * chunk, end = std::min(begin + chunk, rows);
  using Item = std::conditional_t<kV == 4, typename Load::Pack, typename Load::Val>;
  typename Load::Chan k[kV];
  double s[kV] = {}, q[kV] = {};
  auto get = [&](int64_t idx) {
    if constexpr (kV == 4)
      return ld.GetPack(idx);
    else
      return ld.Get(idx);
  };
  auto add = [&](int64_t idx, const Item& v) {
    if constexpr (kV == 4)
      ld.template Add4<1>(k, idx, v, s, q);
    else
      ld.Add(k[0], idx, v, s[0], q[0]);
  };
  if (c < channels) {  // kV divides C (Run), so all kV channels are there
    for (int e = 0; e < kV; ++e) k[e] = ld.At(c + e);
    int64_t r = begin + ty;
    for (; r + (kUnroll - 1) * h < end; r += kUnroll * h) {
      Item v[kUnroll];
#pragma unroll
      for (int j = 0; j < kUnroll; ++j) v[j] = get((r + j * h) * channels + c);
#pragma unroll
      for (int j = 0; j < kUnroll; ++j) add((r + j * h) * channels + c, v[j]);
    }
    for (; r < end; r += h) add(r * channels + c, get(r * channels + c));
  }
  for (int e = 0; e < kV; ++e) ss[e][tid] = s[e], sq[e][tid] = q[e];
  ColumnSum<kV>(ss, sq, tid, ty, w, h);
  if (ty == 0 && c < channels) {
    for (int e = 0; e < kV; ++e) {
      part[(c + e) * parts + blockIdx.y] = ss[e][tx];
      part[(channels + c + e) * parts + blockIdx.y] = sq[e][tx];
    }
    __threadfence();
  }
  __syncthreads();  // the block's partials all fenced before its count
  if (tid == 0) {
    // Fenced again in the thread that counts: PTX's release is a fence and a write in one
    // thread (cumulative over what the barrier showed it), which the writers' fences alone are
    // not; CUDA's grid sync counts the same way.
    __threadfence();
    last = atomicAdd(&count[blockIdx.x], 1u) == unsigned(parts - 1);
  }
  __syncthreads();
  if (!last) return;
  __threadfence();  // the reading side's fence, in every thread that reads partials
  double ts[kV] = {}, tq[kV] = {};
  if (c < channels)
    for (int e = 0; e < kV; ++e) Merge(part, channels, c + e, int(parts), ty, h, ts[e], tq[e]);
  for (int e = 0; e < kV; ++e) ss[e][tid] = ts[e], sq[e][tid] = tq[e];  // row 0 read ss before the barriers above
  ColumnSum<kV>(ss, sq, tid, ty, w, h);
  if (ty == 0 && c < channels)
    for (int e = 0; e < kV; ++e) FinishChannel(args, c + e, ss[e][tx], sq[e][tx], m);
  if (tid == 0) count[blockIdx.x] = 0;
}

// The row sums' tile width (threads across a row): 32 one value at a time; packed, the least
// power of 2 at or above C / 4, at most 32.
int RowTileWidth(int64_t channels, bool packed) {
  int w = packed ? 1 : 32;
  while (w < 32 && w < channels / 4) w *= 2;
  return w;
}
// Columns of blocks the row sums launch: C / (w * kV) rounded up.
int64_t RowColumns(int64_t channels, bool packed) {
  const int64_t per = int64_t(RowTileWidth(channels, packed)) * (packed ? 4 : 1);
  return (channels + per - 1) / per;
}

// The launch shape both layouts use: blocks across channels, and `parts` chunks of each.
struct Plan {
  bool strided;
  int parts;
  int64_t chunk;
};
Plan MakePlan(const BnDims& d) {
  Plan p;
  p.strided = d.inner > 1;
  if (p.strided) {
    const int64_t n = d.outer * d.inner;
    p.parts = int(std::max<int64_t>(
        1, std::min<int64_t>((kTargetBlocks + d.channels - 1) / d.channels, (n + 4095) / 4096)));
    p.chunk = (n + p.parts - 1) / p.parts;
    if (d.inner % 4 == 0 && n > 0) {  // chunks of whole packs (the packed sums'), whether or not they run
      p.chunk = (p.chunk + 3) / 4 * 4;
      p.parts = int((n + p.chunk - 1) / p.chunk);
    }
  } else {
    // Chunks sized for the one-at-a-time tile, which the packed one shares (it has as many
    // columns or fewer: a quarter from 128 channels): the scratch's size is the shape's alone,
    // as before the packed tile. Sized for the packed tile's columns, the partials (2 doubles
    // a channel a chunk) would take 4 MiB a wide layer instead of 1 (kTargetBlocks' 2,048
    // blocks of 128 channels against 32): 107 MiB over a channels-last ResNet-50 against 47
    // when each layer kept its own; from the pass's gap since, that costs gap room only, and
    // whether the extra blocks pay is for a device run to say. The packed launches have 512
    // blocks or more at its large shapes instead, about two waves of the packed backward (2
    // resident blocks an SM at ptxas's 113-128 registers).
    const int64_t bx = RowColumns(d.channels, false);
    p.parts = int(std::max<int64_t>(1, std::min<int64_t>((kTargetBlocks + bx - 1) / bx, (d.outer + 127) / 128)));
    p.chunk = (d.outer + p.parts - 1) / p.parts;
  }
  return p;
}

// Columns of blocks, each with its count (rows of channels: the one-at-a-time tile's, as many
// as the packed tile's or more).
int64_t Columns(const BnDims& d, const Plan& p) { return p.strided ? d.channels : RowColumns(d.channels, false); }

// The sums of `ld` over every channel, finished with `args`: one launch.
template <typename Load, typename Args>
void Run(const BnDims& d, const Load& ld, const Args& args, const BnScratch& s, void* stream) {
  const cudaStream_t st = cuda::OrDefault(static_cast<cudaStream_t>(stream));
  const Plan p = MakePlan(d);
  const double m = double(d.outer) * double(d.inner);
  double* const scratch = s.partials;
  unsigned* const count = s.counts;
  if (p.strided) {
    const int64_t n = d.outer * d.inner;
    UMBRA_CHECK(n < (int64_t(1) << 32), "batch_norm on the GPU: ", n, " values per channel; at most 2^32 - 1");
    const bool packed = d.inner % 4 == 0 && ld.Packable() && StatsPacked();
    LastStatsPacked() = packed;
    const dim3 grid(unsigned(d.channels), unsigned(p.parts));
    const cuda::FastDiv inner(uint32_t(d.inner));
    if (packed)
      UMBRA_LAUNCH(grid, kThreads, 0, st, StridedSums<true, Load, Args>)(ld, args, d.channels, uint32_t(n),
                                                                          uint32_t(p.chunk), inner, m, scratch, count);
    else
      UMBRA_LAUNCH(grid, kThreads, 0, st, StridedSums<false, Load, Args>)(ld, args, d.channels, uint32_t(n),
                                                                           uint32_t(p.chunk), inner, m, scratch, count);
  } else {
    const bool packed = d.channels % 4 == 0 && ld.Packable() && StatsPacked();
    LastStatsPacked() = packed;
    const int w = RowTileWidth(d.channels, packed);
    const dim3 grid(unsigned(RowColumns(d.channels, packed)), unsigned(p.parts)), block(w, kThreads / w);
    if (packed)
      UMBRA_LAUNCH(grid, block, 0, st, ContiguousSums<4, Load, Args>)(ld, args, d.channels, d.outer, p.chunk, m,
                                                                       scratch, count);
    else
      UMBRA_LAUNCH(grid, block, 0, st, ContiguousSums<1, Load, Args>)(ld, args, d.channels, d.outer, p.chunk, m,
                                                                       scratch, count);
  }
  UMBRA_CUDA_CHECK(cudaGetLastError());
}

}  // namespace

bool& StatsPacked() {
  static bool on = true;
  return on;
}
bool& LastStatsPacked() {
  static thread_local bool packed = false;  // as cuda::LastMapPath(): a launch on another thread never shows
  return packed;
}

int64_t BnPartialDoubles(const BnDims& d) { return 2 * d.channels * MakePlan(d).parts; }
int64_t BnCountWords(const BnDims& d) { return Columns(d, MakePlan(d)); }

void BnCountsClear(const BnDims& d, unsigned* counts, void* stream) {
  UMBRA_CUDA_CHECK(cudaMemsetAsync(counts, 0, size_t(BnCountWords(d)) * sizeof(unsigned),
                                   cuda::OrDefault(static_cast<cudaStream_t>(stream))));
}

void BnCountsPrepare(const BnDims& d, unsigned* counts) {
  UMBRA_CUDA_CHECK(cudaMemset(counts, 0, size_t(BnCountWords(d)) * sizeof(unsigned)));
  UMBRA_CUDA_CHECK(cudaDeviceSynchronize());  // the layers' streams do not wait for the legacy one
}

void BnForwardStatsGPU(const BnDims& d, const BnForwardArgs& a, const BnScratch& scratch, void* stream) {
  if (a.bf16)
    Run(d, StatsLoad<__nv_bfloat16>{reinterpret_cast<const __nv_bfloat16*>(a.x)}, a, scratch, stream);
  else
    Run(d, StatsLoad<float>{static_cast<const float*>(a.x)}, a, scratch, stream);
}

void BnBackwardSumsGPU(const BnDims& d, const BnBackwardArgs& a, const BnScratch& scratch, void* stream) {
  if (a.bf16) {
    using B = __nv_bfloat16;
    Run(d,
        GradLoad<B>{reinterpret_cast<const B*>(a.x), reinterpret_cast<const B*>(a.gy), a.mean, a.inv_std, a.scale,
                    a.shift, a.relu, reinterpret_cast<const B*>(a.addend), reinterpret_cast<const B*>(a.y),
                    reinterpret_cast<B*>(a.g_out)},
        a, scratch, stream);
  } else {
    Run(d,
        GradLoad<float>{static_cast<const float*>(a.x), static_cast<const float*>(a.gy), a.mean, a.inv_std, a.scale,
                        a.shift, a.relu, static_cast<const float*>(a.addend), static_cast<const float*>(a.y),
                        static_cast<float*>(a.g_out)},
        a, scratch, stream);
  }
}

void ChannelSumsBF16GPU(const BnDims& d, const uint16_t* x, float* acc, const BnScratch& scratch, void* stream) {
  UMBRA_CHECK(d.inner <= 1 || d.outer * d.inner < (int64_t(1) << 32), "a bf16 convolution's bias gradient on the GPU: ",
              d.outer * d.inner, " values per channel; at most 2^32 - 1");
  // The forward statistics' load: its sum of squares goes unused.
  Run(d, StatsLoad<__nv_bfloat16>{reinterpret_cast<const __nv_bfloat16*>(x)}, SumArgs{acc}, scratch, stream);
}

}  // namespace umbra::nn
