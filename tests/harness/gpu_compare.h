// GPU test helpers (include from .cu tests only): skip cleanly without a device, move tensors
// between host and device, and run one device-generic statement on cpu and gpu to compare.
// Pattern: write the statement once as a generic lambda over tensors, e.g.
//   auto f = [](auto out, auto a) { out = broadcast<1>(a, out.shape_) * 2.f; };
// then ExpectSameOnGPU(f, cpu_out_shape, cpu_inputs...).
#pragma once

#include <string>
#include <type_traits>
#include <vector>

#include "harness/tensor_util.h"

#define UMBRA_REQUIRE_GPU()                                                                \
  do {                                                                                     \
    if (::umbra::GPUCount() == 0)                                                          \
      GTEST_SKIP() << "no CUDA device visible: GPU test skipped (run scripts/gpu-check on " \
                      "a machine with an NVIDIA GPU)";                                     \
  } while (0)

namespace umbra::test {

template <int N, typename DType>
inline TensorContainer<gpu, N, DType> ToGPU(const Tensor<cpu, N, DType>& t) {
  TensorContainer<gpu, N, DType> g(t.shape_);
  Copy(g.view(), t);
  UMBRA_CUDA_CHECK(cudaDeviceSynchronize());
  return g;
}
template <int N, typename DType>
inline TensorContainer<cpu, N, DType> ToCPU(const Tensor<gpu, N, DType>& t) {
  UMBRA_CUDA_CHECK(cudaDeviceSynchronize());
  TensorContainer<cpu, N, DType> h(t.shape_);
  Copy(h.view(), t);
  UMBRA_CUDA_CHECK(cudaDeviceSynchronize());
  return h;
}

/// Runs f(out, inputs...) on cpu tensors and on gpu copies; expects the same output. `init`
/// pre-fills the output (for +=-style statements).
template <int N, typename DType, typename Fn, typename... In>
inline ::testing::AssertionResult SameOnGPU(Fn f, const Shape<N>& out_shape, double tol,
                                            const In&... in) {
  TensorContainer<cpu, N, DType> out_c = RandomTensor<N, DType>(out_shape, 99);
  auto out_g = ToGPU(out_c.view());
  auto gin = std::make_tuple(ToGPU(in)...);
  f(out_c.view(), in...);
  std::apply([&](auto&... g) { f(out_g.view(), g.view()...); }, gin);
  auto back = ToCPU(out_g.view());
  return AllNear(back.view(), out_c.view(), tol);
}

/// A training batch on the host (hx, hy) and on the device (x, y): inputs uniform in [-1, 1)
/// drawn from `seed` (RandomTensor), one label a row, label(i) for row i.
struct RandomBatch {
  template <typename Label>
  RandomBatch(const Shape<4>& shape, uint64_t seed, Label label)
      : hx(RandomTensor<4, float>(shape, seed)), hy(Labels(shape[0], label)), x(ToGPU(hx.view())), y(ToGPU(hy.view())) {}
  TensorContainer<cpu, 4> hx;
  TensorContainer<cpu, 2> hy;
  TensorContainer<gpu, 4> x;
  TensorContainer<gpu, 2> y;

 private:
  template <typename Label>
  static TensorContainer<cpu, 2> Labels(index_t n, Label label) {
    TensorContainer<cpu, 2> t(Shape2(n, 1));
    for (index_t i = 0; i < n; ++i) t.dptr_[i] = float(label(i));
    return t;
  }
};

/// Two GPU nets' weights, in visiting order, agree within `tol` (nets trained two ways that must
/// end in the same place). `Net` is anything with VisitWeights over gpu float tensors.
template <typename Net>
inline void ExpectSameWeights(Net& a, Net& b, double tol) {
  std::vector<TensorContainer<cpu, 2>> wa, wb;
  a.VisitWeights([&](const std::string&, Tensor<gpu, 2> w, Tensor<gpu, 2>) { wa.push_back(ToCPU(w)); });
  b.VisitWeights([&](const std::string&, Tensor<gpu, 2> w, Tensor<gpu, 2>) { wb.push_back(ToCPU(w)); });
  ASSERT_EQ(wa.size(), wb.size());
  for (size_t k = 0; k < wa.size(); ++k) EXPECT_TRUE(AllNear(wa[k].view(), wb[k].view(), tol)) << "weight " << k;
}

/// `passes` training passes (forward and backward, no update: weight gradients add up) of a CPU
/// net and a GPU net on the same batch (a RandomBatch's host and device copies).
template <typename CpuNet, typename GpuNet>
inline void PassesOnBoth(CpuNet& hc, GpuNet& gc, const RandomBatch& b, int passes) {
  for (int pass = 0; pass < passes; ++pass) {
    hc.Forward(true, b.hx.view(), &b.hy.view());
    hc.Backward();
    gc.Forward(true, b.x.view(), &b.y.view());
    gc.Backward();
  }
}

/// A net's weight gradients in visiting order, on the host (a CPU net's copied, a GPU net's
/// brought over).
template <typename Net>
inline std::vector<TensorContainer<cpu, 2>> Gradients(Net& net) {
  std::vector<TensorContainer<cpu, 2>> out;
  net.VisitWeights([&](const std::string&, auto, auto g) {
    if constexpr (std::is_same_v<decltype(g), Tensor<cpu, 2>>)
      out.emplace_back(g);
    else
      out.push_back(ToCPU(g));
  });
  return out;
}

/// Draws a net's biases and batch norm's beta (within +-0.1) and gamma (in [0.5, 1.5]), the
/// same numbers for the same net: at their constant start (0 and 1) one applied to the wrong
/// channel changes nothing. `Net` as for ExpectSameWeights.
template <typename Net>
inline void RandomShifts(Net& net) {
  uint64_t seed = 21;
  net.VisitWeights([&](const std::string& name, Tensor<gpu, 2> w, Tensor<gpu, 2>) {
    const bool gamma = name.ends_with(".gamma");
    if (!gamma && !name.ends_with(".bias") && !name.ends_with(".beta")) return;
    Copy(w, RandomTensor<2, float>(w.shape_, seed++, gamma ? 0.5f : -0.1f, gamma ? 1.5f : 0.1f).view());
  });
}

}  // namespace umbra::test
