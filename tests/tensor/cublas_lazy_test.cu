// libumbra_cublas (src/tensor/cuda/cublas_lazy.cc) opens cuBLAS at the first call and forwards to
// it: the real library's own answer comes back, and it is then mapped into the process. (That a
// process which never calls it does not load it is cli.cublas_not_loaded_at_start.) No device
// needed: cuBLAS answers this call without one.
#include <gtest/gtest.h>

#include <dlfcn.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "umbra/tensor/cuda/check.h"

namespace umbra {
namespace {

#if !UMBRA_CUDA_EMU
bool Mapped(const std::string& name) {
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line))
    if (line.find(name) != std::string::npos) return true;
  return false;
}
#endif

TEST(CublasLazy, ForwardsToTheRealLibraryOpenedAtTheFirstCall) {
#if UMBRA_CUDA_EMU
  GTEST_SKIP() << "the emulation's runtime defines cuBLAS itself";
#else
  const char* preload = std::getenv("LD_PRELOAD");
  if (preload && std::string(preload).find("cuda_stub") != std::string::npos)
    GTEST_SKIP() << "the CUDA stand-in is preloaded and takes cuBLAS's names";
  const char* first = cublasGetStatusString(CUBLAS_STATUS_INVALID_VALUE);
  // Opened by that call (RTLD_NOLOAD: a handle only to a library already loaded), and the answer
  // is the real function's own string, not the shim's "cuBLAS could not be loaded".
  const std::string so = "libcublas.so." + std::to_string(CUBLAS_VER_MAJOR);
  void* lib = dlopen(so.c_str(), RTLD_NOW | RTLD_NOLOAD);
  ASSERT_NE(lib, nullptr) << so << " is not loaded after a call";
  using Fn = const char*(cublasStatus_t);
  auto* real = reinterpret_cast<Fn*>(dlsym(lib, "cublasGetStatusString"));
  ASSERT_NE(real, nullptr);
  EXPECT_EQ(first, real(CUBLAS_STATUS_INVALID_VALUE)) << first;
  EXPECT_EQ(cublasGetStatusString(CUBLAS_STATUS_SUCCESS), real(CUBLAS_STATUS_SUCCESS));
  EXPECT_NE(reinterpret_cast<void*>(&cublasGetStatusString), reinterpret_cast<void*>(real))
      << "the call went to cuBLAS directly, not through libumbra_cublas";
  EXPECT_TRUE(Mapped("/libumbra_cublas.so"));
  dlclose(lib);
#endif
}

}  // namespace
}  // namespace umbra
