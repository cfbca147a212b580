// The check before every BLAS product (OpenBLAS's cblas_*, cuBLAS's gemm and gemv, through dot()
// or a layer's bf16 GEMM): both take sizes and leading dimensions as int, and one past 2^31 - 1
// would wrap into another product, or a refusal that names no size.
#pragma once

#include <algorithm>
#include <climits>

#include "umbra/base.h"
#include "umbra/logging.h"

namespace umbra {

/// An error naming `what` and the product's sizes where any of them passes 2^31 - 1.
inline void CheckBlasSizes(const char* what, index_t m, index_t n, index_t k, index_t lda, index_t ldb,
                           index_t ldc) {
  UMBRA_CHECK(std::max({m, n, k, lda, ldb, ldc}) <= index_t(INT_MAX), what, " (", m, " x ", k, ") by (", k, " x ", n,
              ") product (row strides ", lda, ", ", ldb, ", ", ldc,
              ") has a size past 2^31 - 1, beyond the 32-bit sizes BLAS takes");
}

}  // namespace umbra
