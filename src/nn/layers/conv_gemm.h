// A convolution's passes as explicit columns and GEMMs: umbra's own candidates beside cuDNN's
// forward, backward-filter and backward-data algorithms. cudnn/conv_cudnn.cc times them in the
// same search as cuDNN's, and each call picks among them all by the same rule (PickAlgo), so
// they run only where the search measured them faster, or as fast with less scratch.
// Why candidates: on the H200 (the 2026-12-04 profile) AlexNet's backward passes took 2-6x their
// forwards (conv1's weight gradient alone 2.09 ms, twice its forward, with no data gradient to
// compute; conv5's backward 0.75 ms against a 0.13 ms forward), where a backward's two products
// should cost about twice a forward. With few input channels and a large stride (conv1: 3
// channels, 11x11, stride 4), or small planes and many channels (conv5: 256 channels of 13x13),
// an implicit-GEMM kernel gathers or scatters its operand at scattered addresses; written out
// once as columns, the product is one dense GEMM with a long dimension (images x output
// pixels), which cuBLAS runs near its peak. Napkin for conv1's weight gradient at batch 128:
// columns of 363 x 387,200 floats (562 MB) written and read back, 18 GFLOP of TF32: ~0.4-0.5 ms
// at the H200's bandwidth. Measured, not assumed: the search decides. Kernels and GEMMs in
// conv_gemm.cu (CUDA builds).
#pragma once

#include <cstddef>

#include "umbra/base.h"

namespace umbra::nn {

/// x (n, c, h, w) and y (n, oc, oh, ow), NCHW floats; weights (oc, c/groups * kh * kw).
struct ConvGemmGeom {
  index_t n, c, h, w, oc, oh, ow, groups, kh, kw, sh, sw, ph, pw;
};

/// Bytes of scratch for chunks of `b` images: their columns (c*kh*kw, b*oh*ow) and the output
/// gradient with image and channel swapped (oc, b*oh*ow), floats.
size_t ConvGemmScratchBytes(const ConvGemmGeom& g, index_t b);
/// The most images (up to n, and few enough that b * oh * ow fits cuBLAS's int) whose chunk fits
/// `bytes` of scratch; 0 where not even one does.
index_t ConvGemmChunkFor(const ConvGemmGeom& g, size_t bytes);

/// gw += the weight gradient from x and gy, `chunk` images at a time through `scratch`
/// (ConvGemmScratchBytes(g, chunk) bytes): per chunk x's columns and gy swapped, then one GEMM
/// per group, on tensor cores in TF32 where tf32 (as cuDNN's TF32 convolutions) and in full FP32
/// otherwise. On `stream`: null or the thread's default stream (its cuBLAS handle).
void WgradGemmGPU(const ConvGemmGeom& g, index_t chunk, const float* x, const float* gy, float* gw, void* scratch,
                  bool tf32, void* stream);
/// y = the convolution of x with w (written; no bias), `chunk` images at a time through `scratch`
/// (ConvGemmScratchBytes(g, chunk) bytes, of which it uses the columns): per chunk x's columns,
/// then per group one strided-batched GEMM whose batch is the chunk's images, each image's
/// product written straight into its (oc, oh, ow) block of y, with no swap. A candidate beside
/// cuDNN's forward algorithms for the same reason as the backward ones: AlexNet's conv1 forward
/// took 0.97 ms on the H200 (18 TFLOP/s), 3 input channels with an 11x11 stride-4 window.
void FwdGemmGPU(const ConvGemmGeom& g, index_t chunk, const float* x, const float* w, float* y, void* scratch,
                bool tf32, void* stream);
/// gx = the data gradient from gy and w (written), the same way round: per chunk gy swapped, the
/// columns' gradient by one GEMM per group (w^T times it), and the columns summed back into
/// their images (col2im).
void DgradGemmGPU(const ConvGemmGeom& g, index_t chunk, const float* gy, const float* w, float* gx, void* scratch,
                  bool tf32, void* stream);

}  // namespace umbra::nn
