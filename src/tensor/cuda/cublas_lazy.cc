// cuBLAS loaded when umbra first calls it, not when a program starts. Loading libcublas also
// loads libcublasLt, whose start-up code took 0.37 s of every process's start on this project's
// machines (an empty program linked to it: 0.37 s; to cuDNN, cuRAND or cudart: under 0.01 s), so
// `umbra --version`, a CPU training run and each test process of a CUDA build paid it without
// ever touching a GPU. This library (libumbra_cublas.so) defines the cuBLAS functions umbra calls,
// with the header's own signatures (a mismatch is a compile error: they are declared extern "C"
// by cublas_v2.h), and forwards each to the real library, opened at the first call. It is a
// shared library so that a library preloaded in front of it (the tests' CUDA stand-in,
// tests/cuda_stub) still takes these names, as it took the real library's.
// Without cuBLAS on the machine, every call returns CUBLAS_STATUS_NOT_INITIALIZED and
// cublasGetStatusString says why the library did not load (the checks in check.h print it); a
// function the loaded cuBLAS lacks returns the same, and the string names the function.
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <dlfcn.h>

#include <atomic>
#include <string>

namespace {

#define UMBRA_STR2(x) #x
#define UMBRA_STR(x) UMBRA_STR2(x)
// The soname of the cuBLAS these headers declare, as one literal (gpu-check's probe prints the
// file it resolves to). A test builds this file for a soname no machine has.
#ifndef UMBRA_CUBLAS_SONAME
#define UMBRA_CUBLAS_SONAME "libcublas.so." UMBRA_STR(CUBLAS_VER_MAJOR)
#endif
const char kSoname[] = UMBRA_CUBLAS_SONAME;

struct Loaded {
  void* handle = nullptr;
  std::string error;  // why it did not load
};

// Never destroyed (allocated once): a static's destructor that makes a first cuBLAS call at
// exit still finds it.
const Loaded& Library() {
  static const Loaded& lib = *[] {
    auto* l = new Loaded;
    // The usual search first (LD_LIBRARY_PATH, this library's run path, the loader's cache),
    // then the folder of the CUDA runtime this process runs, where the toolkit keeps cuBLAS.
    l->handle = dlopen(kSoname, RTLD_NOW | RTLD_LOCAL);
    if (l->handle) return l;
    l->error = dlerror();
    Dl_info info{};
    if (dladdr(reinterpret_cast<void*>(&cudaGetDeviceCount), &info) && info.dli_fname) {
      std::string dir = info.dli_fname;
      dir.erase(dir.find_last_of('/') + 1);
      if (!dir.empty()) {
        l->handle = dlopen((dir + kSoname).c_str(), RTLD_NOW | RTLD_LOCAL);
        if (!l->handle) l->error += std::string("; ") + dlerror();
      }
    }
    if (l->handle) l->error.clear();
    return l;
  }();
  return lib;
}

// The last function the loaded cuBLAS lacked (cublasGetStatusString names it).
std::atomic<const char*> g_lacks{nullptr};

// The real function `name`, or null when cuBLAS did not load (or lacks it).
template <typename Fn>
Fn* Real(const char* name) {
  const Loaded& l = Library();
  if (!l.handle) return nullptr;
  auto* f = reinterpret_cast<Fn*>(dlsym(l.handle, name));
  if (!f) g_lacks = name;
  return f;
}

}  // namespace

// One lookup per function, on its first call (thread-safe: a function-local static). Fn: the
// function's type, where the header overloads its name in C++ (cublasGemmEx).
#define UMBRA_FORWARD_AS(Fn, fn, ...)                  \
  static Fn* const real = Real<Fn>(#fn);               \
  if (!real) return CUBLAS_STATUS_NOT_INITIALIZED;     \
  return real(__VA_ARGS__)
#define UMBRA_FORWARD(fn, ...) UMBRA_FORWARD_AS(decltype(fn), fn, __VA_ARGS__)

extern "C" {

cublasStatus_t CUBLASWINAPI cublasCreate_v2(cublasHandle_t* handle) { UMBRA_FORWARD(cublasCreate_v2, handle); }

cublasStatus_t CUBLASWINAPI cublasDestroy_v2(cublasHandle_t handle) { UMBRA_FORWARD(cublasDestroy_v2, handle); }

cublasStatus_t CUBLASWINAPI cublasSetStream_v2(cublasHandle_t handle, cudaStream_t stream) {
  UMBRA_FORWARD(cublasSetStream_v2, handle, stream);
}

cublasStatus_t CUBLASWINAPI cublasSetMathMode(cublasHandle_t handle, cublasMath_t mode) {
  UMBRA_FORWARD(cublasSetMathMode, handle, mode);
}

cublasStatus_t CUBLASWINAPI cublasGetMathMode(cublasHandle_t handle, cublasMath_t* mode) {
  UMBRA_FORWARD(cublasGetMathMode, handle, mode);
}

cublasStatus_t CUBLASWINAPI cublasSetWorkspace_v2(cublasHandle_t handle, void* workspace, size_t bytes) {
  UMBRA_FORWARD(cublasSetWorkspace_v2, handle, workspace, bytes);
}

const char* CUBLASWINAPI cublasGetStatusString(cublasStatus_t status) {
  static auto* const real = Real<decltype(cublasGetStatusString)>("cublasGetStatusString");
  const char* lacks = g_lacks;
  if (status == CUBLAS_STATUS_NOT_INITIALIZED && lacks) {  // what the shim itself returned
    thread_local std::string why;
    why = std::string(kSoname) + " has no " + lacks;
    return why.c_str();
  }
  if (real) return real(status);
  static const std::string why = "cuBLAS could not be loaded (" + Library().error + ")";
  return why.c_str();
}

cublasStatus_t CUBLASWINAPI cublasSgemm_v2(cublasHandle_t handle, cublasOperation_t ta, cublasOperation_t tb, int m,
                                           int n, int k, const float* alpha, const float* a, int lda, const float* b,
                                           int ldb, const float* beta, float* c, int ldc) {
  UMBRA_FORWARD(cublasSgemm_v2, handle, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

cublasStatus_t CUBLASWINAPI cublasDgemm_v2(cublasHandle_t handle, cublasOperation_t ta, cublasOperation_t tb, int m,
                                           int n, int k, const double* alpha, const double* a, int lda,
                                           const double* b, int ldb, const double* beta, double* c, int ldc) {
  UMBRA_FORWARD(cublasDgemm_v2, handle, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

cublasStatus_t CUBLASWINAPI cublasSgemv_v2(cublasHandle_t handle, cublasOperation_t trans, int m, int n,
                                           const float* alpha, const float* a, int lda, const float* x, int incx,
                                           const float* beta, float* y, int incy) {
  UMBRA_FORWARD(cublasSgemv_v2, handle, trans, m, n, alpha, a, lda, x, incx, beta, y, incy);
}

cublasStatus_t CUBLASWINAPI cublasDgemv_v2(cublasHandle_t handle, cublasOperation_t trans, int m, int n,
                                           const double* alpha, const double* a, int lda, const double* x, int incx,
                                           const double* beta, double* y, int incy) {
  UMBRA_FORWARD(cublasDgemv_v2, handle, trans, m, n, alpha, a, lda, x, incx, beta, y, incy);
}

cublasStatus_t CUBLASWINAPI cublasGemmEx(cublasHandle_t handle, cublasOperation_t ta, cublasOperation_t tb, int m,
                                         int n, int k, const void* alpha, const void* a, cudaDataType a_type, int lda,
                                         const void* b, cudaDataType b_type, int ldb, const void* beta, void* c,
                                         cudaDataType c_type, int ldc, cublasComputeType_t compute,
                                         cublasGemmAlgo_t algo) {
  using Fn = cublasStatus_t(cublasHandle_t, cublasOperation_t, cublasOperation_t, int, int, int, const void*,
                            const void*, cudaDataType, int, const void*, cudaDataType, int, const void*, void*,
                            cudaDataType, int, cublasComputeType_t, cublasGemmAlgo_t);
  UMBRA_FORWARD_AS(Fn, cublasGemmEx, handle, ta, tb, m, n, k, alpha, a, a_type, lda, b, b_type, ldb, beta, c, c_type,
                   ldc, compute, algo);
}

cublasStatus_t CUBLASWINAPI cublasGemmStridedBatchedEx(cublasHandle_t handle, cublasOperation_t ta,
                                                       cublasOperation_t tb, int m, int n, int k, const void* alpha,
                                                       const void* a, cudaDataType a_type, int lda,
                                                       long long int stride_a, const void* b, cudaDataType b_type,
                                                       int ldb, long long int stride_b, const void* beta, void* c,
                                                       cudaDataType c_type, int ldc, long long int stride_c, int batch,
                                                       cublasComputeType_t compute, cublasGemmAlgo_t algo) {
  using Fn = cublasStatus_t(cublasHandle_t, cublasOperation_t, cublasOperation_t, int, int, int, const void*,
                            const void*, cudaDataType, int, long long int, const void*, cudaDataType, int,
                            long long int, const void*, void*, cudaDataType, int, long long int, int,
                            cublasComputeType_t, cublasGemmAlgo_t);
  UMBRA_FORWARD_AS(Fn, cublasGemmStridedBatchedEx, handle, ta, tb, m, n, k, alpha, a, a_type, lda, stride_a, b, b_type,
                   ldb, stride_b, beta, c, c_type, ldc, stride_c, batch, compute, algo);
}

}  // extern "C"
