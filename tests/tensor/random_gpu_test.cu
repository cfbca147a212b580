// Random<gpu>'s uniform numbers: Philox4x32-10 of the seed and a counter in device memory
// (philox.h), the same numbers on the host's reference; the counter moves by each draw and
// restarts with the seed; a CUDA graph that captured a draw draws the next numbers on each
// replay, as plain calls would (a host-side generator's captured call repeats its numbers).
#include "harness/gpu_compare.h"
#include "umbra/tensor/philox.h"

namespace umbra {
namespace random_gpu_test {

// The host's reference: n numbers in [0, 1) from counter `first` on.
template <typename DType>
std::vector<DType> Reference(uint64_t seed, uint64_t first, index_t n) {
  std::vector<DType> v;
  for (uint64_t c = first; index_t(v.size()) < n; ++c) {
    uint32_t r[4];
    philox::Numbers(seed, c, r);
    if constexpr (sizeof(DType) == 4)
      for (int k = 0; k < 4 && index_t(v.size()) < n; ++k) v.push_back(philox::UnitFloat(r[k]));
    else
      for (int k = 0; k < 2 && index_t(v.size()) < n; ++k) v.push_back(philox::UnitDouble(r[2 * k], r[2 * k + 1]));
  }
  return v;
}

template <typename DType>
void ExpectNumbers(const Tensor<gpu, 1, DType>& got, const std::vector<DType>& want, const char* what) {
  const TensorContainer<cpu, 1, DType> h = test::ToCPU(got);
  ASSERT_EQ(h.Size(), index_t(want.size()));
  index_t bad = 0;
  for (index_t i = 0; i < h.Size(); ++i) bad += h.dptr_[i] != want[size_t(i)];
  EXPECT_EQ(bad, 0) << what << ": " << bad << " of " << h.Size() << " numbers differ";
}

template <typename DType>
void CountersOfTheSeed() {
  const uint64_t seed = 0x1234567890abcdefull;
  Random<gpu, DType> r(seed);
  constexpr index_t kPer = sizeof(DType) == 4 ? 4 : 2;
  TensorContainer<gpu, 1, DType> a(Shape1(10)), b(Shape1(7));
  r.SampleUniform(&a);
  r.SampleUniform(&b);  // from the counter after a's (10 numbers: 3 counters of floats, 5 of doubles)
  ExpectNumbers(a.view(), Reference<DType>(seed, 0, 10), "first draw");
  ExpectNumbers(b.view(), Reference<DType>(seed, (10 + kPer - 1) / kPer, 7), "second draw");
  r.Seed(seed);  // restarts the counter
  r.SampleUniform(&b);
  ExpectNumbers(b.view(), Reference<DType>(seed, 0, 7), "after Seed");
  EXPECT_EQ(r.draws(), 0u);  // uniform draws are not what refuses a CUDA graph
}

TEST(RandomGPU, UniformNumbersArePhiloxOfTheSeedAndCounter) {
  UMBRA_REQUIRE_GPU();
  CountersOfTheSeed<float>();
  CountersOfTheSeed<double>();
}

// A strided destination gets the numbers of a dense one of its size, in row order, its
// padding untouched.
TEST(RandomGPU, StridedDestinationTakesTheDenseNumbers) {
  UMBRA_REQUIRE_GPU();
  TensorContainer<gpu, 2> big(Shape2(3, 8), 5.f);
  Tensor<gpu, 2> v = big.view().Slice(0, 3);
  v.shape_[1] = 5;  // 3 x 5 inside rows of 8
  Random<gpu> r(9);
  r.SampleUniform(&v, -2.f, 2.f);
  Random<gpu> dense_r(9);
  TensorContainer<gpu, 1> dense(Shape1(15));
  dense_r.SampleUniform(&dense, -2.f, 2.f);
  const auto h = test::ToCPU(big.view());
  const auto d = test::ToCPU(dense.view());
  for (index_t y = 0; y < 3; ++y)
    for (index_t x = 0; x < 8; ++x) {
      if (x < 5)
        EXPECT_EQ(h.dptr_[y * 8 + x], d.dptr_[y * 5 + x]) << y << "," << x;
      else
        EXPECT_EQ(h.dptr_[y * 8 + x], 5.f) << "padding " << y << "," << x;
    }
}

// One draw captured into a graph: each replay gives the numbers the next plain call would.
TEST(RandomGPU, GraphReplaysDrawTheNextNumbers) {
  UMBRA_REQUIRE_GPU();
  const index_t n = 1001;
  Random<gpu> plain(21), graphed(21);
  TensorContainer<gpu, 1> want(Shape1(n)), got(Shape1(n));
  plain.SampleUniform(&want);  // both warm: the draw buffer exists before the capture
  graphed.SampleUniform(&got);
  const cudaStream_t s = cuda::DefaultStream();
  auto& alloc = cuda::CachingAllocator::Get();
  const int pool = alloc.BeginCapturePool();
  ASSERT_EQ(cudaStreamBeginCapture(s, cudaStreamCaptureModeRelaxed), cudaSuccess);
  graphed.SampleUniform(&got);
  cudaGraph_t graph = nullptr;
  ASSERT_EQ(cudaStreamEndCapture(s, &graph), cudaSuccess);
  alloc.EndCapturePool();
  cudaGraphExec_t exec = nullptr;
  ASSERT_EQ(cudaGraphInstantiate(&exec, graph, 0), cudaSuccess);
  cudaGraphDestroy(graph);
  for (int replay = 0; replay < 3; ++replay) {
    SCOPED_TRACE(replay);
    UMBRA_CUDA_CHECK(cudaGraphLaunch(exec, s));
    plain.SampleUniform(&want);
    const auto w = test::ToCPU(want.view());
    ExpectNumbers(got.view(), std::vector<float>(w.dptr_, w.dptr_ + n), "replay");
  }
  UMBRA_CUDA_CHECK(cudaDeviceSynchronize());
  cudaGraphExecDestroy(exec);
  alloc.ReleaseCapturePool(pool);
}

}  // namespace random_gpu_test
}  // namespace umbra
