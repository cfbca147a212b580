// Max pooling kernels that keep each window's winning cell (max_pool_gpu.h). One thread per
// output (forward) or per input (backward), flat over the tensor in its layout so that
// neighbouring threads touch neighbouring addresses (x for NCHW, channels for NHWC; channels-last
// with C a multiple of 4, four channels a thread: PoolFwd4, PoolBwd4); 32-bit indices, split
// into coordinates by multiplication (FastDiv).
// Napkin (ResNet's stem pool at batch 128: x 128 x 64 x 112 x 112 floats, 411 MB; y 103 MB):
// forward reads x and writes y and 26 MB of bytes (~0.14 ms at 4 TB/s); backward reads gy and
// the bytes (each about 2.25 times, from cache) and writes gx (~0.14 ms), where the unpool
// expression also read x and y and rescanned each winner's window (2.88 ms measured).
#include <cuda_bf16.h>

#include <limits>

#include "max_pool_gpu.h"
#include "node_value.cuh"  // Wide, Put, Load4, Store4, IsPackAligned
#include "umbra/tensor/cuda/check.h"
#include "umbra/tensor/cuda/eval.cuh"
#include "umbra/tensor/cuda/fast_div.h"
#include "umbra/tensor/cuda/launch.h"

namespace umbra::nn {
namespace {

constexpr uint8_t kNone = 255;  // no cell yet (every window has one: a NaN or -inf cell wins at last)

// The geometry in the kernels' 32-bit terms. A flat index is split by d0, d1, d2 into
// coordinates, fastest first: NCHW (col, row, plane), NHWC (channel, col, row, sample).
struct Geo {
  uint32_t c, h, w, oh, ow;
  int ky, kx, sy, sx, py, px;
  cuda::FastDiv d0, d1, d2, dsy, dsx;
};

// The kernels' geometry, splitting the flat index of a tensor of rows x cols a plane (the
// forward's output, the backward's input).
Geo Make(const MaxPoolGeom& g, int64_t rows, int64_t cols) {
  Geo k{uint32_t(g.c), uint32_t(g.h), uint32_t(g.w), uint32_t(g.oh), uint32_t(g.ow), g.ky, g.kx, g.sy, g.sx, g.py,
        g.px, {}, {}, {}, cuda::FastDiv(uint32_t(g.sy)), cuda::FastDiv(uint32_t(g.sx))};
  if (g.nhwc) {
    k.d0 = cuda::FastDiv(uint32_t(g.c)), k.d1 = cuda::FastDiv(uint32_t(cols)), k.d2 = cuda::FastDiv(uint32_t(rows));
  } else {
    k.d0 = cuda::FastDiv(uint32_t(cols)), k.d1 = cuda::FastDiv(uint32_t(rows));
  }
  return k;
}

// Flat index i of a (.., rows, cols) tensor in its layout -> (row, col), the base address of
// its (sample, channel) in a tensor of r2 x c2 per plane, and that tensor's row and column
// strides. NCHW: plane p = i / (rows * cols), base p * r2 * c2. NHWC: base (s * r2 * c2) * C + ch.
template <bool kNhwc>
struct Coords {
  uint32_t row, col, base, rs, cs;
  __device__ Coords(const Geo& k, uint32_t i, uint32_t r2, uint32_t c2) {
    if constexpr (kNhwc) {
      const uint32_t t = k.d0.Div(i), ch = i - t * k.c;
      const uint32_t u = k.d1.Div(t);
      col = t - u * k.d1.d;
      const uint32_t s = k.d2.Div(u);
      row = u - s * k.d2.d;
      base = s * r2 * c2 * k.c + ch, rs = c2 * k.c, cs = k.c;
    } else {
      const uint32_t t = k.d0.Div(i);
      col = i - t * k.d0.d;
      const uint32_t p = k.d1.Div(t);
      row = t - p * k.d1.d;
      base = p * r2 * c2, rs = c2, cs = 1;
    }
  }
};

// Output (oy, ox)'s window in the input: its unclipped corner (y0, x0) and its cells clipped to
// the image, rows [ylo, yhi) and columns [xlo, xhi). Both forward kernels' loops.
struct Window {
  int y0, x0, ylo, yhi, xlo, xhi;
  __device__ Window(const Geo& k, uint32_t oy, uint32_t ox)
      : y0(int(oy) * k.sy - k.py), x0(int(ox) * k.sx - k.px) {
    ylo = y0 > 0 ? y0 : 0, yhi = y0 + k.ky < int(k.h) ? y0 + k.ky : int(k.h);
    xlo = x0 > 0 ? x0 : 0, xhi = x0 + k.kx < int(k.w) ? x0 + k.kx : int(k.w);
  }
};
// The outputs whose windows hold input cell (row, col): (qy, qx) the padded cell, windows oy
// with oy*sy <= qy < oy*sy + ky in [oy0, oy1] (likewise columns). Both backward kernels' loops.
struct Covering {
  int qy, qx, oy0, oy1, ox0, ox1;
  __device__ Covering(const Geo& k, uint32_t row, uint32_t col) : qy(int(row) + k.py), qx(int(col) + k.px) {
    const int ly = int(k.dsy.Div(uint32_t(qy))), lx = int(k.dsx.Div(uint32_t(qx)));
    oy0 = qy >= k.ky ? int(k.dsy.Div(uint32_t(qy - k.ky))) + 1 : 0, oy1 = ly < int(k.oh) ? ly : int(k.oh) - 1;
    ox0 = qx >= k.kx ? int(k.dsx.Div(uint32_t(qx - k.kx))) + 1 : 0, ox1 = lx < int(k.ow) ? lx : int(k.ow) - 1;
  }
  // The kept byte that gives cell (qy, qx) window (oy, ox)'s gradient.
  __device__ int Cell(const Geo& k, int oy, int ox) const { return (qy - oy * k.sy) * k.kx + (qx - ox * k.sx); }
};

template <typename T, bool kNhwc>
__global__ void __launch_bounds__(cuda::kBaseThreads)
    PoolFwd(Geo k, const T* __restrict__ x, T* __restrict__ y, uint8_t* __restrict__ arg, uint32_t n) {
  const uint32_t step = gridDim.x * blockDim.x;
  for (uint32_t i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += step) {
    const Coords<kNhwc> o(k, i, k.h, k.w);  // output (oy, ox); base and strides in x
    const Window wn(k, o.row, o.col);
    // red::maximum's order: a later cell wins only when greater, so the first maximum keeps it;
    // a -inf maximum goes to the first -inf cell, as the CPU's PartialGrad (==) picks it; the
    // first NaN wins over any number and keeps it (NaN propagates, as in red::maximum).
    float best = -std::numeric_limits<float>::infinity();
    int at = kNone;
    for (int r = wn.ylo; r < wn.yhi; ++r)
      for (int c = wn.xlo; c < wn.xhi; ++c) {
        const float v = Wide(x[o.base + uint32_t(r) * o.rs + uint32_t(c) * o.cs]);
        if (v > best || (v != v && best == best) || (at == kNone && v == best))
          best = v, at = (r - wn.y0) * k.kx + (c - wn.x0);
      }
    Put(y + i, best);
    if (arg) arg[i] = uint8_t(at);
  }
}

template <typename T, bool kNhwc>
__global__ void __launch_bounds__(cuda::kBaseThreads)
    PoolBwd(Geo k, const uint8_t* __restrict__ arg, const T* __restrict__ gy, T* __restrict__ gx, uint32_t n) {
  const uint32_t step = gridDim.x * blockDim.x;
  for (uint32_t i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += step) {
    const Coords<kNhwc> in(k, i, k.oh, k.ow);  // input (h, w); base and strides in gy
    const Covering cv(k, in.row, in.col);
    float s = 0.f;
    for (int oy = cv.oy0; oy <= cv.oy1; ++oy)
      for (int ox = cv.ox0; ox <= cv.ox1; ++ox) {
        const uint32_t o = in.base + uint32_t(oy) * in.rs + uint32_t(ox) * in.cs;
        if (arg[o] == cv.Cell(k, oy, ox)) s += Wide(gy[o]);
      }
    Put(gx + i, s);
  }
}

// Channels-last, four neighbouring channels a thread, where C is a multiple of 4 and every
// tensor starts on four elements (the bytes on 4): the flat index counts packs of four, and the
// coordinates of a geometry of C / 4 "channels" (PackGeo) give pack addresses. Each lane keeps
// its own maximum, cell and sum, in the one-at-a-time kernels' order, so the results are theirs
// bit for bit; a thread reads 16 bytes of x a cell (8 of bf16) and does the index work once for
// four channels. The backward reads a pack of gy where any lane's byte names the cell.
template <typename T>
__global__ void __launch_bounds__(cuda::kBaseThreads)
    PoolFwd4(Geo k, const T* __restrict__ x, T* __restrict__ y, uint8_t* __restrict__ arg, uint32_t n4) {
  const uint32_t step = gridDim.x * blockDim.x;
  for (uint32_t i = blockIdx.x * blockDim.x + threadIdx.x; i < n4; i += step) {
    const Coords<true> o(k, i, k.h, k.w);  // output (oy, ox); base and strides in packs of x
    const Window wn(k, o.row, o.col);
    float best[4];
    int at[4];
#pragma unroll
    for (int e = 0; e < 4; ++e) best[e] = -std::numeric_limits<float>::infinity(), at[e] = kNone;
    for (int r = wn.ylo; r < wn.yhi; ++r)
      for (int c = wn.xlo; c < wn.xhi; ++c) {
        float v[4];
        Load4(x + 4 * size_t(o.base + uint32_t(r) * o.rs + uint32_t(c) * o.cs), v);
        const int cell = (r - wn.y0) * k.kx + (c - wn.x0);
        // The one-at-a-time rule per lane, as selects: with branches ptxas kept the lanes in
        // 16 bytes of local memory (a spill the build refuses).
#pragma unroll
        for (int e = 0; e < 4; ++e) {
          const bool take =
              (v[e] > best[e]) | ((v[e] != v[e]) & (best[e] == best[e])) | ((at[e] == kNone) & (v[e] == best[e]));
          best[e] = take ? v[e] : best[e];
          at[e] = take ? cell : at[e];
        }
      }
    Store4(y + 4 * size_t(i), best);
    if (arg)
      *reinterpret_cast<uchar4*>(arg + 4 * size_t(i)) =
          make_uchar4(uint8_t(at[0]), uint8_t(at[1]), uint8_t(at[2]), uint8_t(at[3]));
  }
}

template <typename T>
__global__ void __launch_bounds__(cuda::kBaseThreads)
    PoolBwd4(Geo k, const uint8_t* __restrict__ arg, const T* __restrict__ gy, T* __restrict__ gx, uint32_t n4) {
  const uint32_t step = gridDim.x * blockDim.x;
  for (uint32_t i = blockIdx.x * blockDim.x + threadIdx.x; i < n4; i += step) {
    const Coords<true> in(k, i, k.oh, k.ow);  // input (h, w); base and strides in packs of gy
    const Covering cv(k, in.row, in.col);
    float s[4] = {0.f, 0.f, 0.f, 0.f};
    for (int oy = cv.oy0; oy <= cv.oy1; ++oy)
      for (int ox = cv.ox0; ox <= cv.ox1; ++ox) {
        const size_t o = 4 * size_t(in.base + uint32_t(oy) * in.rs + uint32_t(ox) * in.cs);
        const uchar4 a = *reinterpret_cast<const uchar4*>(arg + o);
        const int want = cv.Cell(k, oy, ox);
        const bool hit[4] = {a.x == want, a.y == want, a.z == want, a.w == want};
        if (!(hit[0] || hit[1] || hit[2] || hit[3])) continue;
        float g[4];
        Load4(gy + o, g);
#pragma unroll
        for (int e = 0; e < 4; ++e)
          if (hit[e]) s[e] += g[e];
      }
    Store4(gx + 4 * size_t(i), s);
  }
}

// The packed kernels' geometry: C / 4 channels of packs.
Geo PackGeo(const MaxPoolGeom& g, int64_t rows, int64_t cols) {
  MaxPoolGeom g4 = g;
  g4.c = g.c / 4;
  return Make(g4, rows, cols);
}
// Whether the packed kernels take g with these tensors (T's elements; the bytes may be null).
template <typename T>
bool Packs(const MaxPoolGeom& g, const void* a, const void* b, const uint8_t* arg) {
  return g.nhwc && g.c % 4 == 0 && MaxPoolPacked() && IsPackAligned(static_cast<const T*>(a)) &&
         IsPackAligned(static_cast<const T*>(b)) && reinterpret_cast<uintptr_t>(arg) % 4 == 0;
}

// One pass's launch, a thread per element of the tensor it writes (rows x cols a plane: the
// forward's y, the backward's gx): kernel K4 over packs of four channels where `packed`, else the layout's
// one-at-a-time kernel; each takes (geometry, a..., count).
template <auto K4, auto KNhwc, auto KNchw, typename... A>
void Launch(const MaxPoolGeom& g, int64_t rows, int64_t cols, bool packed, cudaStream_t st, A... a) {
  const uint32_t n = uint32_t(g.n * g.c * rows * cols);
  LastMaxPoolPacked() = packed;
  if (packed)
    UMBRA_LAUNCH(cuda::GridFor(n / 4), cuda::kBaseThreads, 0, st, K4)(PackGeo(g, rows, cols), a..., n / 4);
  else if (g.nhwc)
    UMBRA_LAUNCH(cuda::GridFor(n), cuda::kBaseThreads, 0, st, KNhwc)(Make(g, rows, cols), a..., n);
  else
    UMBRA_LAUNCH(cuda::GridFor(n), cuda::kBaseThreads, 0, st, KNchw)(Make(g, rows, cols), a..., n);
  UMBRA_CUDA_CHECK(cudaGetLastError());
}

template <typename T>
void Forward(const MaxPoolGeom& g, const void* x, void* y, uint8_t* arg, cudaStream_t st) {
  Launch<PoolFwd4<T>, PoolFwd<T, true>, PoolFwd<T, false>>(g, g.oh, g.ow, Packs<T>(g, x, y, arg), st,
                                                            static_cast<const T*>(x), static_cast<T*>(y), arg);
}

template <typename T>
void Backward(const MaxPoolGeom& g, const uint8_t* arg, const void* gy, void* gx, cudaStream_t st) {
  Launch<PoolBwd4<T>, PoolBwd<T, true>, PoolBwd<T, false>>(g, g.h, g.w, Packs<T>(g, gy, gx, arg), st, arg,
                                                            static_cast<const T*>(gy), static_cast<T*>(gx));
}

}  // namespace

bool& MaxPoolPacked() {
  static bool on = true;
  return on;
}
bool& LastMaxPoolPacked() {
  static thread_local bool packed = false;  // as LastStatsPacked(): another thread's launch never shows
  return packed;
}

bool MaxPoolArgmaxFits(const MaxPoolGeom& g) {
  constexpr int64_t kMax = (int64_t(1) << 31) - 1;
  const bool sized = g.n >= 1 && g.c >= 1 && g.h >= 1 && g.w >= 1 && g.oh >= 1 && g.ow >= 1;
  return sized && g.ky >= 1 && g.kx >= 1 && g.sy >= 1 && g.sx >= 1 && int64_t(g.ky) * g.kx <= 255 &&
         g.n * g.c * g.h * g.w <= kMax && g.n * g.c * g.oh * g.ow <= kMax;
}

void MaxPoolForwardGPU(const MaxPoolGeom& g, const void* x, void* y, uint8_t* arg, void* stream) {
  UMBRA_CHECK(MaxPoolArgmaxFits(g), "MaxPoolForwardGPU: geometry outside the kernels' range");
  const cudaStream_t st = cuda::OrDefault(static_cast<cudaStream_t>(stream));
  if (g.bf16)
    Forward<__nv_bfloat16>(g, x, y, arg, st);
  else
    Forward<float>(g, x, y, arg, st);
}

void MaxPoolBackwardGPU(const MaxPoolGeom& g, const uint8_t* arg, const void* gy, void* gx, void* stream) {
  UMBRA_CHECK(MaxPoolArgmaxFits(g), "MaxPoolBackwardGPU: geometry outside the kernels' range");
  const cudaStream_t st = cuda::OrDefault(static_cast<cudaStream_t>(stream));
  if (g.bf16)
    Backward<__nv_bfloat16>(g, arg, gy, gx, st);
  else
    Backward<float>(g, arg, gy, gx, st);
}

}  // namespace umbra::nn
