// The training and prediction loops on the gpu: the same templates as on the cpu
// (train_loop-inl.h, predict_loop-inl.h), compiled by nvcc so that the net's, the layers' and
// the updaters' expressions become kernels. Selects the device first; everything the loops
// allocate then lives on it (the caching allocator is per device).
#include "src/train/predict_loop-inl.h"
#include "src/train/train_loop-inl.h"
#include "umbra/tensor/cuda/blas.h"

namespace umbra::train {
namespace {

void UseDevice(const Job& job, int dev) {
  UMBRA_CUDA_CHECK(cudaSetDevice(dev));
  // TF32 in matrix products only when asked (PyTorch's default is full FP32 there); in
  // convolutions it is the conv layers' tf32 key (on by default, as in PyTorch).
  cuda::MatmulTF32() = job.GetInt("tf32_matmul", 0) != 0;
  cudaDeviceProp p{};
  UMBRA_CUDA_CHECK(cudaGetDeviceProperties(&p, dev));
  std::fprintf(stderr, "dev = gpu:%d (%s, %.0f GiB)\n", dev, p.name, double(p.totalGlobalMem) / (1 << 30));
}

}  // namespace

int TrainLoopGpu(Job& job, const TrainSetup& s, int dev) {
  UseDevice(job, dev);
  return TrainLoop<gpu>(job, s);
}
int PredictLoopGpu(Job& job, int dev) {
  UseDevice(job, dev);
  return PredictLoop<gpu>(job);
}

}  // namespace umbra::train
