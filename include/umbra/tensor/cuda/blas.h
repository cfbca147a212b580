// cuBLAS calls behind dot() on gpu tensors. cuBLAS is column-major: a row-major C = A B is the
// column-major C^T = B^T A^T, so operands and m/n swap and leading dimensions are the row strides.
// Host API only: usable from .cc files. Runs on the tensor's stream (its own handle).
#pragma once

#include <atomic>
#include <cstdint>

#include "umbra/tensor/blas_sizes.h"
#include "umbra/tensor/cuda/check.h"
#include "umbra/tensor/stream.h"

namespace umbra::cuda {

/// TF32 tensor cores in float matrix products: off by default (full FP32, PyTorch's default for
/// matmul); process-wide, read at each float GEMM (the trainer's tf32_matmul key sets it).
inline std::atomic<bool>& MatmulTF32() {
  static std::atomic<bool> on{false};
  return on;
}

/// The compute type of a float product, chosen per call: TF32 tensor cores or full FP32. The
/// handles' math mode stays CUBLAS_DEFAULT_MATH (Stream<gpu>::GetBlasHandle), so a per-device
/// handle shared by threads holds no mode that one thread could change under another's product.
inline cublasComputeType_t FloatCompute(bool tf32) {
  return tf32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
}

inline void Gemm(cublasHandle_t h, bool ta, bool tb, index_t m, index_t n, index_t k, float alpha,
                 const float* a, index_t lda, const float* b, index_t ldb, float beta, float* c,
                 index_t ldc) {
  UMBRA_CUBLAS_CHECK(cublasGemmEx(h, tb ? CUBLAS_OP_T : CUBLAS_OP_N, ta ? CUBLAS_OP_T : CUBLAS_OP_N, int(n), int(m),
                                  int(k), &alpha, b, CUDA_R_32F, int(ldb), a, CUDA_R_32F, int(lda), &beta, c,
                                  CUDA_R_32F, int(ldc), FloatCompute(MatmulTF32()), CUBLAS_GEMM_DEFAULT));
}
inline void Gemm(cublasHandle_t h, bool ta, bool tb, index_t m, index_t n, index_t k, double alpha,
                 const double* a, index_t lda, const double* b, index_t ldb, double beta,
                 double* c, index_t ldc) {
  UMBRA_CUBLAS_CHECK(cublasDgemm(h, tb ? CUBLAS_OP_T : CUBLAS_OP_N, ta ? CUBLAS_OP_T : CUBLAS_OP_N,
                                 int(n), int(m), int(k), &alpha, b, int(ldb), a, int(lda), &beta, c,
                                 int(ldc)));
}
/// C (m,n) fp32 = alpha op(A) op(B) + beta C with A and B in bfloat16 (uint16_t storage) and
/// fp32 accumulation on tensor cores: the products of the layers' dtype=bf16 option.
inline void GemmBF16(cublasHandle_t h, bool ta, bool tb, index_t m, index_t n, index_t k, float alpha,
                     const uint16_t* a, index_t lda, const uint16_t* b, index_t ldb, float beta, float* c,
                     index_t ldc) {
  CheckBlasSizes("bf16: a", m, n, k, lda, ldb, ldc);
  UMBRA_CUBLAS_CHECK(cublasGemmEx(h, tb ? CUBLAS_OP_T : CUBLAS_OP_N, ta ? CUBLAS_OP_T : CUBLAS_OP_N, int(n), int(m),
                                  int(k), &alpha, b, CUDA_R_16BF, int(ldb), a, CUDA_R_16BF, int(lda), &beta, c,
                                  CUDA_R_32F, int(ldc), CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
}

/// y = alpha * op(A(m,n)) x + beta * y, A row-major: in column-major terms A is (n,m), so the
/// transpose flag flips.
inline void Gemv(cublasHandle_t h, bool ta, index_t m, index_t n, float alpha, const float* a,
                 index_t lda, const float* x, float beta, float* y) {
  UMBRA_CUBLAS_CHECK(cublasSgemv(h, ta ? CUBLAS_OP_N : CUBLAS_OP_T, int(n), int(m), &alpha, a,
                                 int(lda), x, 1, &beta, y, 1));
}
inline void Gemv(cublasHandle_t h, bool ta, index_t m, index_t n, double alpha, const double* a,
                 index_t lda, const double* x, double beta, double* y) {
  UMBRA_CUBLAS_CHECK(cublasDgemv(h, ta ? CUBLAS_OP_N : CUBLAS_OP_T, int(n), int(m), &alpha, a,
                                 int(lda), x, 1, &beta, y, 1));
}

}  // namespace umbra::cuda
