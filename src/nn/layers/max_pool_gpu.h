// umbra's own max pooling on the GPU, the max_pooling layer's default there (pooling-inl.h):
// the forward keeps, for each output, which cell of its window held the maximum (one byte), so
// the backward is a gather that reads only the output gradient and those bytes, never the input
// or the output again. Why: the unpool expression recomputes each window's first maximum from x
// and y (ResNet's stem pool backward took 2.88 ms on the H200, 8x its forward), and cuDNN's
// backward likewise reads x, y and dy (AlexNet's three: 5-7x their forward). Kernels in
// max_pool_gpu.cu (CUDA builds); the CPU keeps its pool/unpool expressions and scatter path.
#pragma once

#include <cstdint>

#include "umbra/base.h"

namespace umbra::nn {

/// Input x (n, c, h, w) pooled by ky x kx windows at strides sy, sx with padding py, px into
/// (n, c, oh, ow); held as (n, h, w, c) and (n, oh, ow, c) when nhwc; float or, with bf16,
/// bfloat16 values (NetSpec::bf16_nodes). Window (oy, ox) covers rows [oy*sy - py, oy*sy - py +
/// ky) and columns likewise, clipped to the image (padded and overhanging cells never win).
struct MaxPoolGeom {
  int64_t n, c, h, w, oh, ow;
  int ky, kx, sy, sx, py, px;
  bool nhwc, bf16;
};

/// Whether the kernels take g: windows of at most 255 cells (a byte per output, 255 meaning
/// "no cell": a window of NaNs only) and fewer than 2^31 input and output elements (32-bit
/// indices). The caller guarantees the rest (the pooling layer's checks): 0 <= pad < kernel,
/// and every window holding at least one cell of the image.
bool MaxPoolArgmaxFits(const MaxPoolGeom& g);

/// Whether channels-last kernels may take four neighbouring channels a thread, where C is a
/// multiple of 4 and the tensors start on four elements (default on; off for a test's or a
/// benchmark's comparison). Not thread-safe: set it outside any step.
bool& MaxPoolPacked();
/// Whether the last launch (forward or backward) took four channels a thread (a test hook).
bool& LastMaxPoolPacked();

/// Bytes of window indices the forward keeps for g: one per output element.
inline int64_t MaxPoolArgmaxBytes(const MaxPoolGeom& g) { return g.n * g.c * g.oh * g.ow; }

/// y = max over each window of x (written), and arg[o] = the row-major offset (within the
/// unclipped ky x kx window) of the window's first cell equal to that maximum: the cell that the
/// CPU's unpool, cuDNN and PyTorch give the gradient. A window holding a NaN gives NaN, and its
/// first NaN cell (as red::maximum). arg may be null (nothing kept). Runs on
/// `stream` (null: the default one).
void MaxPoolForwardGPU(const MaxPoolGeom& g, const void* x, void* y, uint8_t* arg, void* stream);

/// gx (written, x's shape and layout) = for each input cell, the sum of gy over the windows
/// whose kept index names it, added in window order (oy, then ox, ascending), as the CPU's
/// scatter adds them; in float, rounded once for bf16. arg: the last forward's indices.
void MaxPoolBackwardGPU(const MaxPoolGeom& g, const uint8_t* arg, const void* gy, void* gx, void* stream);

}  // namespace umbra::nn
