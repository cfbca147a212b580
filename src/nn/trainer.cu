// The float net and trainer on the gpu, compiled once here (by nvcc, so that their expressions
// become kernels; by the host compiler in the emulation build); net.h and trainer.h declare them
// extern.
#include "umbra/nn/trainer.h"

namespace umbra::nn {

template class Net<gpu, float>;
template class Trainer<gpu, float>;

}  // namespace umbra::nn
