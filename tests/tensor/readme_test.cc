// The README's "one screen" example, compiled and checked: if the README's API drifts, this fails.
// Keep the statements below identical to README.md.
#include "harness/tensor_util.h"

namespace umbra {
namespace {

TEST(Readme, OneScreenExampleRuns) {
  TensorContainer<cpu, 2> x(Shape2(100, 784)), w(Shape2(10, 784)), out(Shape2(100, 10));
  TensorContainer<cpu, 1> b(Shape1(10), 0.f);
  Random<cpu> rnd(0);                        // reproducible from the seed
  rnd.SampleGaussian(&w, 0.f, 0.01f);
  x = 0.5f;                                  // a container's memory starts unset

  out = dot(x.view(), w.view().T());         // GEMM (oneDNN / OpenBLAS on cpu, cuBLAS on gpu)
  out += repmat(b.view(), 100);              // broadcast, fused into one loop
  out = F<op::relu>(out * 2.f - 1.f);        // elementwise: one loop, assign-safe
  Softmax(out.view(), out.view());           // row-wise, numerically stable
  TensorContainer<cpu, 1> db(Shape1(10));
  db = sum_rows(out.view());                 // reductions

  double total = 0;
  for (index_t i = 0; i < 10; ++i) total += db.dptr_[i];
  EXPECT_NEAR(total, 100.0, 1e-3);  // each of the 100 softmax rows sums to 1
}

}  // namespace
}  // namespace umbra
