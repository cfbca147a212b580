// tcast on the GPU against the CPU result: float -> double (flat and strided), float -> int,
// and a float -> int -> float round trip inside one statement.
#include "harness/gpu_compare.h"
#include "umbra/tensor/ext/tcast.h"

namespace umbra {
namespace {

TEST(TcastGPU, SameAsCPU) {
  UMBRA_REQUIRE_GPU();
  auto x = test::RandomTensor(Shape2(17, 9), 1, -20.f, 20.f);
  auto to_d = [](auto out, auto a) { out = tcast<double>(a) * 2.0; };
  EXPECT_TRUE((test::SameOnGPU<2, double>(to_d, Shape2(17, 9), 0, x.view())));
  auto to_d_strided = [](auto out, auto a) { out = tcast<double>(a.SliceLast(1, 8)) + 1.0; };
  EXPECT_TRUE((test::SameOnGPU<2, double>(to_d_strided, Shape2(17, 7), 0, x.view())));
  auto to_i = [](auto out, auto a) { out = tcast<int>(a * 3.f); };
  EXPECT_TRUE((test::SameOnGPU<2, int>(to_i, Shape2(17, 9), 0, x.view())));
  auto round_trip = [](auto out, auto a) { out = tcast<float>(tcast<int>(a)) - a; };
  EXPECT_TRUE((test::SameOnGPU<2, float>(round_trip, Shape2(17, 9), 0, x.view())));
}

}  // namespace
}  // namespace umbra
