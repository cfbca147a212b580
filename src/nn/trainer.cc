// The float net and trainer on the cpu, compiled once here; net.h and trainer.h declare them
// extern, so the CLI's tasks, the benchmarks, the example and the tests link these.
#include "umbra/nn/trainer.h"

namespace umbra::nn {

template class Net<cpu, float>;
template class Trainer<cpu, float>;

}  // namespace umbra::nn
