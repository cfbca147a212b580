// Reductions on the GPU against the CPU result: the tree-reduction kernels (rows, and middle-dim
// groups in chunks, every saver, scale) and the reduce_with_axis / argmax chainers. Float sums are summed
// in another order on each device, so they agree to 1e-5 * max(1, |value|), not bit for bit
// (and, where a sum cancels, to a fraction of the terms' magnitude: CancellingSumsSameAsCPU).
#include "harness/gpu_compare.h"
#include "umbra/tensor/ext/reduce.h"

namespace umbra {
namespace {

TEST(ReduceGPU, ExceptDimSameAsCPU) {
  UMBRA_REQUIRE_GPU();
  auto x = test::RandomTensor(Shape4(5, 7, 9, 11), 1);
  auto mid = [](auto out, auto in) { out += 0.5f * sumall_except_dim<1>(in * in); };
  EXPECT_TRUE((test::SameOnGPU<1, float>(mid, Shape1(7), 1e-5, x.view())));
  auto first = [](auto out, auto in) { out = reduce_except_dim<red::maximum, 0>(in); };
  EXPECT_TRUE((test::SameOnGPU<1, float>(first, Shape1(5), 0, x.view())));
  auto last = [](auto out, auto in) { out -= sumall_except_dim<3>(in); };
  EXPECT_TRUE((test::SameOnGPU<1, float>(last, Shape1(11), 1e-5, x.view())));
}

// At most 64 elements an output take one thread each (ReduceGroupSmallKernel): rows inside a
// group, several outer blocks, savers, the maximum, and either side of the 64.
TEST(ReduceGPU, ExceptDimFewElementsAnOutputSameAsCPU) {
  UMBRA_REQUIRE_GPU();
  auto x = test::RandomTensor(Shape4(3, 4, 2, 5), 13);  // keep 1: 30 an output, 2 rows a group
  auto mid = [](auto out, auto in) { out += 0.5f * sumall_except_dim<1>(in); };
  EXPECT_TRUE((test::SameOnGPU<1, float>(mid, Shape1(4), 1e-5, x.view())));
  auto mx = [](auto out, auto in) { out = reduce_except_dim<red::maximum, 2>(in); };  // 60 an output
  EXPECT_TRUE((test::SameOnGPU<1, float>(mx, Shape1(2), 0, x.view())));
  auto sum = [](auto out, auto in) { out = sumall_except_dim<1>(in) * 0.25f; };
  auto at = test::RandomTensor(Shape3(8, 6, 8), 14), past = test::RandomTensor(Shape3(5, 6, 13), 15);
  EXPECT_TRUE((test::SameOnGPU<1, float>(sum, Shape1(6), 1e-5, at.view())));    // 64: one thread
  EXPECT_TRUE((test::SameOnGPU<1, float>(sum, Shape1(6), 1e-5, past.view())));  // 65: a block
}

// A bias gradient: sums of 50,176 values in [-1, 1] per channel, which can cancel to near 0
// (seed 2 has a channel summing to -1.99 where most are ~100). The two orders' roundings follow
// the terms' magnitude, not the sum's: allowed 2e-8 * sum |x| (seeds 2-9 differed by at most
// 3.7e-9 of it), about 5e-4 here, beside the usual 1e-5 * max(1, |sum|).
TEST(ReduceGPU, CancellingSumsSameAsCPU) {
  UMBRA_REQUIRE_GPU();
  auto big = test::RandomTensor(Shape4(64, 32, 28, 28), 2);
  TensorContainer<cpu, 1> sum(Shape1(32)), abs_sum(Shape1(32));
  sum = sumall_except_dim<1>(big.view());
  abs_sum = sumall_except_dim<1>(F<op::abs>(big.view()));
  auto big_g = test::ToGPU(big.view());
  TensorContainer<gpu, 1> sum_g(Shape1(32));
  sum_g = sumall_except_dim<1>(big_g.view());
  auto back = test::ToCPU(sum_g.view());
  for (index_t c = 0; c < 32; ++c)
    EXPECT_NEAR(back.dptr_[c], sum.dptr_[c], 2e-8 * abs_sum.dptr_[c] + 1e-5 * std::max(1.f, std::fabs(sum.dptr_[c])))
        << "channel " << c;
}

// Middle-dimension reductions are cut into chunks per channel (several blocks per channel when
// channels are few, chunk edges inside rows); channel-rich and sample-per-row shapes take one.
TEST(ReduceGPU, ExceptDimChunkedSameAsCPU) {
  UMBRA_REQUIRE_GPU();
  auto bn = test::RandomTensor(Shape4(32, 64, 56, 56), 6);  // ResNet's first stage, batch 32
  auto sum = [](auto out, auto in) { out = sumall_except_dim<1>(in) * (1.f / 100352); };
  EXPECT_TRUE((test::SameOnGPU<1, float>(sum, Shape1(64), 1e-5, bn.view())));
  auto mx = [](auto out, auto in) { out = reduce_except_dim<red::maximum, 1>(in); };
  EXPECT_TRUE((test::SameOnGPU<1, float>(mx, Shape1(64), 0, bn.view())));
  // BatchNorm's variance: an expression with a broadcast, not a plain tensor.
  auto mean = test::RandomTensor(Shape1(64), 7);
  auto var = [](auto out, auto in, auto m) {
    out += sumall_except_dim<1>(F<op::square>(in - broadcast<1>(m, in.shape_)));
  };
  EXPECT_TRUE((test::SameOnGPU<1, float>(var, Shape1(64), 1e-5, bn.view(), mean.view())));
  auto deep = test::RandomTensor(Shape4(16, 2048, 7, 7), 8);  // ResNet-50's last stage
  EXPECT_TRUE((test::SameOnGPU<1, float>(sum, Shape1(2048), 1e-5, deep.view())));
  auto x4 = test::RandomTensor(Shape4(6, 5, 9, 700), 12);
  auto odd = test::RandomTensor(Shape3(7, 3, 5), 9);
  auto mid3 = [](auto out, auto in) { out -= sumall_except_dim<1>(in); };
  EXPECT_TRUE((test::SameOnGPU<1, float>(mid3, Shape1(3), 1e-5, odd.view())));
  auto first = test::RandomTensor(Shape3(2, 40000, 3), 11);  // keep dim 0: two outputs, many chunks
  auto keep0 = [](auto out, auto in) { out = sumall_except_dim<0>(in) * 0.001f; };
  EXPECT_TRUE((test::SameOnGPU<1, float>(keep0, Shape1(2), 1e-5, first.view())));
  auto keep2 = [](auto out, auto in) { out = reduce_except_dim<red::maximum, 2>(in); };  // dim 2 of 4
  EXPECT_TRUE((test::SameOnGPU<1, float>(keep2, Shape1(9), 0, x4.view())));
  auto rows = test::RandomTensor(Shape2(5000, 10), 10);  // a per-sample loss: one output per row
  auto per_row = [](auto out, auto in) { out = sumall_except_dim<0>(in); };
  EXPECT_TRUE((test::SameOnGPU<1, float>(per_row, Shape1(5000), 1e-5, rows.view())));
}

// A chunked reduction (16 sums of 25,088 values) into a destination on a stream of its own,
// and the CPU's sums.
struct OwnStreamCase {
  TensorContainer<cpu, 1> want{Shape1(16)};
  TensorContainer<gpu, 4> x;
  Stream<gpu>* s = NewStream<gpu>(false);
  TensorContainer<gpu, 1> out{Shape1(16)};
  explicit OwnStreamCase(uint64_t seed) {
    auto hx = test::RandomTensor(Shape4(32, 16, 28, 28), seed);
    want = sumall_except_dim<1>(hx.view());
    x = test::ToGPU(hx.view());
    out.set_stream(s);
  }
  ~OwnStreamCase() { DeleteStream(s); }
  bool Near() const { return test::AllNear(test::ToCPU(out.view()).view(), want.view(), 1e-5); }
};

// The chunked path's scratch there comes from CUDA's stream-ordered pool, not from the cache
// (whose blocks the default stream's work may still use).
TEST(ReduceGPU, ChunkedOnItsOwnStreamSameAsCPU) {
  UMBRA_REQUIRE_GPU();
  OwnStreamCase c(13);
  for (int i = 0; i < 3; ++i) {
    TensorContainer<gpu, 4> busy(c.x.shape_);  // default-stream work that frees a block
    busy = c.x.view() * 2.f;
    c.out = sumall_except_dim<1>(c.x.view());
  }
  c.s->Wait();
  EXPECT_TRUE(c.Near());
}

// The same inside a capture of that stream: its scratch is allocated and freed in the stream's
// order, with no wait for the stream (a wait would end the capture in failure), and each replay
// of the graph gives the sums again.
TEST(ReduceGPU, ChunkedOnItsOwnStreamCaptured) {
  UMBRA_REQUIRE_GPU();
  OwnStreamCase c(14);
  const cudaStream_t cs = Stream<gpu>::GetStream(c.s);
  ASSERT_EQ(cudaStreamBeginCapture(cs, cudaStreamCaptureModeRelaxed), cudaSuccess);
  try {
    c.out = sumall_except_dim<1>(c.x.view());
  } catch (const std::exception& e) {
    ADD_FAILURE() << "the captured reduction threw: " << e.what();
  }
  cudaGraph_t g = nullptr;
  ASSERT_EQ(cudaStreamEndCapture(cs, &g), cudaSuccess);  // after the catch: never left capturing
  cudaGraphExec_t exec = nullptr;
  ASSERT_EQ(cudaGraphInstantiate(&exec, g, 0), cudaSuccess);
  for (int i = 0; i < 2; ++i) {
    UMBRA_CUDA_CHECK(cudaMemsetAsync(c.out.dptr_, 0, sizeof(float) * 16, cs));
    UMBRA_CUDA_CHECK(cudaGraphLaunch(exec, cs));
    c.s->Wait();
    EXPECT_TRUE(c.Near()) << "replay " << i;
  }
  cudaGraphExecDestroy(exec);
  cudaGraphDestroy(g);
}

TEST(ReduceGPU, SumRowsOfStridedViewSameAsCPU) {
  UMBRA_REQUIRE_GPU();
  auto g = test::RandomTensor(Shape2(300, 1003), 3);
  auto f = [](auto out, auto in) { out = sum_rows(in.SliceLast(2, in.size(1))); };
  EXPECT_TRUE((test::SameOnGPU<1, float>(f, Shape1(1001), 1e-5, g.view())));
  auto thin = test::RandomTensor(Shape2(5000, 3), 4);
  auto h = [](auto out, auto in) { out = sum_rows(in); };
  EXPECT_TRUE((test::SameOnGPU<1, float>(h, Shape1(3), 1e-5, thin.view())));
}

TEST(ReduceGPU, WithAxisSameAsCPU) {
  UMBRA_REQUIRE_GPU();
  auto x = test::RandomTensor(Shape3(17, 7, 33), 5);
  auto sum1 = [](auto out, auto in) { out = reduce_with_axis<red::sum>(in, 1) * 2.f + 1.f; };
  EXPECT_TRUE((test::SameOnGPU<2, float>(sum1, Shape2(17, 33), 1e-5, x.view())));
  auto max0 = [](auto out, auto in) { out = reduce_with_axis<red::maximum, true>(in, 0); };
  EXPECT_TRUE((test::SameOnGPU<3, float>(max0, Shape3(1, 7, 33), 0, x.view())));
  auto arg2 = [](auto out, auto in) { out = argmax(in, -1); };
  EXPECT_TRUE((test::SameOnGPU<2, float>(arg2, Shape2(17, 7), 0, x.view())));
}

// A destination inside the source raced where other blocks still read what one had written
// (sumall_except_dim<0> into a row of its source): refused on the host, as on the CPU, for
// every kernel alike; a destination beside it runs.
TEST(ReduceGPU, IntoItsOwnSourceIsAnError) {
  UMBRA_REQUIRE_GPU();
  auto m = test::RandomTensor(Shape2(4, 6), 5);
  auto g = test::ToGPU(m.view());
  Tensor<gpu, 2> v = g.view();
  Tensor<gpu, 1> row = v[0];
  EXPECT_HAS(test::ErrorOf([&] { row = sum_rows(v); }), "shares memory with the source");
  EXPECT_HAS(test::ErrorOf([&] { row.Slice(0, 4) = sumall_except_dim<0>(v); }), "shares memory");
  EXPECT_HAS(test::ErrorOf([&] { row = sumall_except_dim<1>(v.Slice(0, 2) * 2.f); }), "shares memory");
  row = sumall_except_dim<1>(v.Slice(1, 4));  // rows 1-3: beside row 0
  auto back = test::ToCPU(g.view());
  for (index_t x = 0; x < 6; ++x) {
    const float want = m.dptr_[6 + x] + m.dptr_[12 + x] + m.dptr_[18 + x];
    EXPECT_NEAR(back.dptr_[x], want, 1e-5f) << x;
    EXPECT_EQ(back.dptr_[6 + x], m.dptr_[6 + x]) << x;
  }
}

}  // namespace
}  // namespace umbra
