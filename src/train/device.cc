// dev = cpu | gpu | gpu:N (job.h ParseDevice), and the gpu entry points of a build without CUDA.
#include <cctype>

#include "src/train/train_loop-inl.h"

namespace umbra::train {

int ParseDevice(const Job& job) {
  const std::string dev = job.Get("dev", "cpu"), where = job.Where("dev");
#if defined(UMBRA_USE_CUDA) && UMBRA_USE_CUDA
  // cxxnet's default was gpu: its configs (ImageNet.conf) name no dev, and ran here on the CPU
  // unsaid where a GPU stood idle. Said where one is visible.
  if (!job.global.count("dev") && !job.GetSwitch("silent", false) && !job.GetSwitch("test_io", false)) {
    if (const int count = GPUCount(); count > 0)
      std::fprintf(stderr, "note: no dev key: running on the CPU (cxxnet's default was the GPU); this machine has "
                   "%d GPU(s): dev = gpu runs on GPU 0\n", count);
  }
#endif
  if (dev == "cpu") return -1;
  UMBRA_CHECK(dev.rfind("gpu", 0) == 0, where, ": dev = ", dev, " is not cpu, gpu or gpu:N");
  int id = 0;
  if (dev.size() > 3) {
    const std::string n = dev.substr(4);
    UMBRA_CHECK(dev[3] == ':' && !n.empty(), where, ": dev = ", dev, " is not cpu, gpu or gpu:N");
    // cxxnet's gpu:0-3 and gpu:0,1; a leading '-' (gpu:-1) is no list, just no index.
    UMBRA_CHECK(n.find_first_of("-,", 1) == std::string::npos, where, ": dev = ", dev,
                ": ", job.Get("task", "train") == "train" || job.Get("task", "train") == "finetune" ? "training"
                                                                                                   : "running a net",
                " on several GPUs is not supported yet; name one, e.g. dev = gpu:0");
    UMBRA_CHECK(n.find_first_not_of("0123456789") == std::string::npos && n.size() < 4, where, ": dev = ", dev,
                " is not cpu, gpu or gpu:N");
    id = std::stoi(n);
  }
#if defined(UMBRA_USE_CUDA) && UMBRA_USE_CUDA
  const int count = GPUCount();
  UMBRA_CHECK(count > 0, where, ": dev = ", dev, ": no CUDA device is visible on this machine; pass dev=cpu");
  UMBRA_CHECK(id < count, where, ": dev = ", dev, ": there is no GPU ", id, "; this machine has ", count,
              " (gpu:0 .. gpu:", count - 1, ")");
#else
  UMBRA_THROW(where, ": dev = ", dev, ": this umbra was built without CUDA (no nvcc when it was configured); ",
              "pass dev=cpu");
#endif
  return id;
}

#if !(defined(UMBRA_USE_CUDA) && UMBRA_USE_CUDA)
// Unreachable: ParseDevice refuses gpu in such a build.
int TrainLoopGpu(Job&, const TrainSetup&, int) { UMBRA_THROW("this umbra was built without CUDA"); }
int PredictLoopGpu(Job&, int) { UMBRA_THROW("this umbra was built without CUDA"); }
#endif

}  // namespace umbra::train
