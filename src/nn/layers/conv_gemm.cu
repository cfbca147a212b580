// FwdGemmGPU, WgradGemmGPU and DgradGemmGPU (conv_gemm.h): the columns by umbra's patch2col and col2patch
// expressions, the gradient's swap by a swapaxis expression (each one fused pass), the products
// by cuBLAS.
#include "conv_gemm.h"

#include <algorithm>
#include <limits>

#include "umbra/tensor.h"

namespace umbra::nn {
namespace {

// What both passes share: a Stream<gpu> that only names the caller's stream, for the
// expressions (the GEMMs take the default stream's handle, which is that stream: the cuDNN
// backend runs on no other), the geometry's views and the chunk's scratch.
struct Chunks {
  Chunks(const ConvGemmGeom& geom, index_t chunk, void* scratch, void* stream, bool tf32)
      : g(geom), colp(static_cast<float*>(scratch)) {
    UMBRA_CHECK(chunk >= 1 && g.groups >= 1 && g.c % g.groups == 0 && g.oc % g.groups == 0,
                "convolution GEMM: chunk ", chunk, ", groups ", g.groups);
    on.stream_ = cuda::OrDefault(static_cast<cudaStream_t>(stream));
    pq = g.oh * g.ow, krows = g.c * g.kh * g.kw, kg = krows / g.groups, mg = g.oc / g.groups;
    tmpp = colp + krows * chunk * pq;
    patch = PatchParam{.kh = g.kh, .kw = g.kw, .sh = g.sh, .sw = g.sw, .ph = g.ph, .pw = g.pw};
    h = Stream<gpu>::GetBlasHandle(nullptr);
    compute = cuda::FloatCompute(tf32);  // per product: the shared handle's mode is not touched
  }
  Chunks(const Chunks&) = delete;
  Chunks& operator=(const Chunks&) = delete;
  // Column-major C (m, n) = op(A) op(B) + beta C, float, at the chunk's compute type.
  void Gemm(cublasOperation_t ta, cublasOperation_t tb, index_t m, index_t n, index_t k, const float* a,
            index_t lda, const float* b, index_t ldb, float beta, float* out, index_t ldc) const {
    const float one = 1;
    UMBRA_CUBLAS_CHECK(cublasGemmEx(h, ta, tb, int(m), int(n), int(k), &one, a, CUDA_R_32F, int(lda), b, CUDA_R_32F,
                                    int(ldb), &beta, out, CUDA_R_32F, int(ldc), compute, CUBLAS_GEMM_DEFAULT));
  }
  // tmp (oc, b*pq) = gy's images [n0, n0 + b) with image and channel swapped.
  Tensor<gpu, 2, float> SwappedGradient(const float* gy, index_t n0, index_t b) {
    const Tensor<gpu, 4, float> gyt(const_cast<float*>(gy), Shape4(g.n, g.oc, g.oh, g.ow), &on);
    Tensor<gpu, 2, float> tmp(tmpp, Shape2(g.oc, b * pq), &on);
    Tensor<gpu, 3, float> t3 = tmp.View(Shape3(g.oc, b, pq));
    t3 = swapaxis<0, 1>(gyt.Slice(n0, n0 + b).View(Shape3(b, g.oc, pq)));
    return tmp;
  }
  Tensor<gpu, 2, float> Columns(index_t b) { return Tensor<gpu, 2, float>(colp, Shape2(krows, b * pq), &on); }

  const ConvGemmGeom& g;
  index_t pq = 0, krows = 0, kg = 0, mg = 0;
  float *colp, *tmpp = nullptr;
  PatchParam patch;
  Stream<gpu> on;
  cublasHandle_t h = nullptr;
  cublasComputeType_t compute = CUBLAS_COMPUTE_32F;
};

}  // namespace

size_t ConvGemmScratchBytes(const ConvGemmGeom& g, index_t b) {
  return size_t(g.c * g.kh * g.kw + g.oc) * size_t(b * g.oh * g.ow) * sizeof(float);
}

index_t ConvGemmChunkFor(const ConvGemmGeom& g, size_t bytes) {
  const size_t one = ConvGemmScratchBytes(g, 1);
  // A chunk's GEMM spans b * oh * ow, an int to cuBLAS: a larger chunk would be refused by the
  // GEMM's size check during the search, instead of not being a candidate.
  const size_t most = size_t(std::numeric_limits<int>::max()) / size_t(std::max<index_t>(g.oh * g.ow, 1));
  return one ? index_t(std::min({size_t(g.n), bytes / one, most})) : 0;
}

void WgradGemmGPU(const ConvGemmGeom& g, index_t chunk, const float* x, const float* gy, float* gw, void* scratch,
                  bool tf32, void* stream) {
  Chunks c(g, chunk, scratch, stream, tf32);
  const Tensor<gpu, 4, float> xt(const_cast<float*>(x), Shape4(g.n, g.c, g.h, g.w), &c.on);
  for (index_t n0 = 0; n0 < g.n; n0 += chunk) {
    const index_t b = std::min(chunk, g.n - n0), m = b * c.pq;
    c.SwappedGradient(gy, n0, b);
    Tensor<gpu, 2, float> col = c.Columns(b);
    col = unpack_patch2col(xt.Slice(n0, n0 + b), c.patch);
    // Row-major gw_i (mg, kg) += tmp_i (mg, m) col_i^T (m, kg); column-major that is
    // gw_i^T (kg, mg) += col_i^T tmp_i^T, with col_i and tmp_i (m, kg) and (m, mg) at ld m.
    CheckBlasSizes("weight-gradient GEMM: a", c.kg, c.mg, m, m, m, c.kg);
    for (index_t i = 0; i < g.groups; ++i)
      c.Gemm(CUBLAS_OP_T, CUBLAS_OP_N, c.kg, c.mg, m, c.colp + i * c.kg * m, m, c.tmpp + i * c.mg * m, m, 1,
             gw + i * c.mg * c.kg, c.kg);
  }
}

void FwdGemmGPU(const ConvGemmGeom& g, index_t chunk, const float* x, const float* w, float* y, void* scratch,
                bool tf32, void* stream) {
  Chunks c(g, chunk, scratch, stream, tf32);
  const Tensor<gpu, 4, float> xt(const_cast<float*>(x), Shape4(g.n, g.c, g.h, g.w), &c.on);
  const float one = 1, zero = 0;
  for (index_t n0 = 0; n0 < g.n; n0 += chunk) {
    const index_t b = std::min(chunk, g.n - n0), m = b * c.pq;
    Tensor<gpu, 2, float> col = c.Columns(b);
    col = unpack_patch2col(xt.Slice(n0, n0 + b), c.patch);
    // Per image j and group i, row-major y_ji (mg, pq) = w_i (mg, kg) col_ij (kg, pq), col_ij
    // being columns [j pq, (j + 1) pq) of group i's rows at ld m; column-major that is
    // y_ji^T (pq, mg) = col_ij^T (pq, kg) w_i^T (kg, mg), image j's block oc * pq floats on.
    CheckBlasSizes("forward GEMM: a", c.pq, c.mg, c.kg, m, c.kg, c.pq);
    for (index_t i = 0; i < g.groups; ++i)
      UMBRA_CUBLAS_CHECK(cublasGemmStridedBatchedEx(
          c.h, CUBLAS_OP_N, CUBLAS_OP_N, int(c.pq), int(c.mg), int(c.kg), &one, c.colp + i * c.kg * m, CUDA_R_32F,
          int(m), (long long)c.pq, w + i * c.mg * c.kg, CUDA_R_32F, int(c.kg), 0, &zero,
          y + (n0 * g.oc + i * c.mg) * c.pq, CUDA_R_32F, int(c.pq), (long long)(g.oc * c.pq), int(b), c.compute,
          CUBLAS_GEMM_DEFAULT));
  }
}

void DgradGemmGPU(const ConvGemmGeom& g, index_t chunk, const float* gy, const float* w, float* gx, void* scratch,
                  bool tf32, void* stream) {
  Chunks c(g, chunk, scratch, stream, tf32);
  Tensor<gpu, 4, float> gxt(gx, Shape4(g.n, g.c, g.h, g.w), &c.on);
  for (index_t n0 = 0; n0 < g.n; n0 += chunk) {
    const index_t b = std::min(chunk, g.n - n0), m = b * c.pq;
    c.SwappedGradient(gy, n0, b);
    // Row-major col_i (kg, m) = w_i^T (kg, mg) tmp_i (mg, m); column-major that is
    // col_i^T (m, kg) = tmp_i^T (m, mg) w_i (mg, kg), w_i being (kg, mg) at ld kg.
    CheckBlasSizes("data-gradient GEMM: a", m, c.kg, c.mg, m, c.kg, m);
    for (index_t i = 0; i < g.groups; ++i)
      c.Gemm(CUBLAS_OP_N, CUBLAS_OP_T, m, c.kg, c.mg, c.tmpp + i * c.mg * m, m, w + i * c.mg * c.kg, c.kg, 0,
             c.colp + i * c.kg * m, m);
    Tensor<gpu, 4, float> gxb = gxt.Slice(n0, n0 + b);
    gxb = pack_col2patch(c.Columns(b), gxb.shape_, c.patch);
  }
}

}  // namespace umbra::nn
