// CPU BLAS calls behind dot(), row-major. float GEMM goes to oneDNN's dnnl_sgemm when the build
// found it (UMBRA_USE_DNNL): measured on this project's 2-core machines it is 2.4-5x faster than
// Debian's OpenBLAS on the LeNet/MLP shapes (bench/RESULTS.md), picks its AVX-512 kernels itself,
// and runs on the same OpenMP pool as umbra's loops (one pool, no oversubscription). double, and
// float without oneDNN, go to CBLAS (OpenBLAS), used mainly by gradient checks.
#pragma once

#include <cblas.h>

#include "umbra/base.h"

#if defined(UMBRA_USE_DNNL) && UMBRA_USE_DNNL
#include <dnnl.h>
#endif

namespace umbra::blas {

/// C(m,n) = alpha * op(A) * op(B) + beta * C, all row-major with leading dimensions.
inline void Gemm(bool ta, bool tb, index_t m, index_t n, index_t k, float alpha, const float* a,
                 index_t lda, const float* b, index_t ldb, float beta, float* c, index_t ldc) {
#if defined(UMBRA_USE_DNNL) && UMBRA_USE_DNNL
  dnnl_status_t st = dnnl_sgemm(ta ? 'T' : 'N', tb ? 'T' : 'N', m, n, k, alpha, a, lda, b, ldb,
                                beta, c, ldc);
  UMBRA_CHECK(st == dnnl_success, "dnnl_sgemm failed with status ", int(st), " for m=", m,
              " n=", n, " k=", k);
#else
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
              int(m), int(n), int(k), alpha, a, int(lda), b, int(ldb), beta, c, int(ldc));
#endif
}
inline void Gemm(bool ta, bool tb, index_t m, index_t n, index_t k, double alpha, const double* a,
                 index_t lda, const double* b, index_t ldb, double beta, double* c, index_t ldc) {
  cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
              int(m), int(n), int(k), alpha, a, int(lda), b, int(ldb), beta, c, int(ldc));
}
/// y(m or n) = alpha * op(A(m,n)) * x + beta * y.
inline void Gemv(bool ta, index_t m, index_t n, float alpha, const float* a, index_t lda,
                 const float* x, float beta, float* y) {
#if defined(UMBRA_USE_DNNL) && UMBRA_USE_DNNL
  // y = op(A) x as a one-column GEMM: oneDNN has no gemv, and its sgemm handles n=1 well.
  const index_t rows = ta ? n : m, inner = ta ? m : n;
  dnnl_status_t st = dnnl_sgemm(ta ? 'T' : 'N', 'N', rows, 1, inner, alpha, a, lda, x, 1, beta, y, 1);
  UMBRA_CHECK(st == dnnl_success, "dnnl_sgemm (gemv) failed with status ", int(st));
#else
  cblas_sgemv(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, int(m), int(n), alpha, a, int(lda), x,
              1, beta, y, 1);
#endif
}
inline void Gemv(bool ta, index_t m, index_t n, double alpha, const double* a, index_t lda,
                 const double* x, double beta, double* y) {
  cblas_dgemv(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, int(m), int(n), alpha, a, int(lda), x,
              1, beta, y, 1);
}

}  // namespace umbra::blas
