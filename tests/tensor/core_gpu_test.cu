// The tensor core on the GPU against the CPU: elementwise statements (flat and strided paths,
// every saver), dot on cuBLAS (every transpose, gemv, outer), Copy in every direction, Random<gpu>
// statistics and reproducibility, streams, and the caching allocator's reuse.
#include <algorithm>
#include <cmath>

#include "harness/gpu_compare.h"
#include "umbra/scoped_value.h"

namespace umbra {
namespace {

TEST(CoreGPU, ElementwiseSameAsCPU) {
  UMBRA_REQUIRE_GPU();
  for (auto s : {Shape2(1, 1), Shape2(3, 5), Shape2(17, 33), Shape2(1000, 1001)}) {
    auto a = test::RandomTensor(s, 1), b = test::RandomTensor(s, 2), c = test::RandomTensor(s, 3);
    auto f = [](auto y, auto a, auto b, auto c) {
      y += a * b + c * 2.f - F<op::sigmoid>(a) / (F<op::abs>(c) + 1.f);
      y *= F<op::maximum>(a, 0.5f);
    };
    EXPECT_TRUE((test::SameOnGPU<2, float>(f, s, 1e-5, a.view(), b.view(), c.view())));
  }
}

TEST(CoreGPU, PackedAndUnalignedFlatPaths) {
  UMBRA_REQUIRE_GPU();
  // Sizes that are not multiples of 4 exercise the packed kernel's tail; views starting one
  // element in are unaligned and take the scalar flat kernel. Both must agree with the CPU.
  for (index_t n : {1, 3, 4, 5, 1023, 4099, 1 << 20}) {
    auto a = test::RandomTensor(Shape1(n + 1), 30), b = test::RandomTensor(Shape1(n + 1), 31);
    auto aligned = [](auto y, auto a, auto b) { y += a * b - F<op::relu>(b) * 0.5f; };
    EXPECT_TRUE((test::SameOnGPU<1, float>(aligned, Shape1(n + 1), 1e-6, a.view(), b.view())));
    auto unaligned = [n](auto y, auto a, auto b) {
      auto ys = y.Slice(1, n + 1);
      ys = a.Slice(0, n) * 3.f + b.Slice(1, n + 1);
    };
    EXPECT_TRUE((test::SameOnGPU<1, float>(unaligned, Shape1(n + 1), 1e-6, a.view(), b.view())));
  }
  auto d = test::RandomTensor<1, double>(Shape1(1001), 32);
  auto dbl = [](auto y, auto d) { y = d * 2.0 + 1.0; };
  EXPECT_TRUE((test::SameOnGPU<1, double>(dbl, Shape1(1001), 1e-12, d.view())));
}

// The launch shapes bench_gpu compares (cuda::GridBlocksPerSM): a block an SM (every thread
// strides many times), the default, and a block per 256 items (no stride), on the packed,
// scalar flat and 2-D kernels.
TEST(CoreGPU, EveryLaunchShapeSameAsCPU) {
  UMBRA_REQUIRE_GPU();
  const ScopedValue keep(cuda::GridBlocksPerSM());
  for (const int per_sm : {1, 16, 0}) {
    cuda::GridBlocksPerSM() = per_sm;
    for (index_t n : {5, 4099, 1 << 18}) {
      auto a = test::RandomTensor(Shape1(n + 1), 33), b = test::RandomTensor(Shape1(n + 1), 34);
      auto aligned = [](auto y, auto a, auto b) { y = a * b - F<op::relu>(b) * 0.5f; };
      EXPECT_TRUE((test::SameOnGPU<1, float>(aligned, Shape1(n + 1), 1e-6, a.view(), b.view()))) << per_sm;
      auto unaligned = [n](auto y, auto a, auto b) { y.Slice(1, n + 1) = a.Slice(0, n) * 3.f + b.Slice(1, n + 1); };
      EXPECT_TRUE((test::SameOnGPU<1, float>(unaligned, Shape1(n + 1), 1e-6, a.view(), b.view()))) << per_sm;
    }
    auto m = test::RandomTensor(Shape2(300, 40), 35);
    auto strided = [](auto y, auto m) { y.SliceLast(1, 33) = m.SliceLast(5, 37) * 2.f; };
    EXPECT_TRUE((test::SameOnGPU<2, float>(strided, Shape2(300, 40), 1e-6, m.view()))) << per_sm;
  }
}

TEST(CoreGPU, StridedViewsUseThe2DPath) {
  UMBRA_REQUIRE_GPU();
  auto a = test::RandomTensor(Shape2(9, 20), 4);
  auto ga = test::ToGPU(a.view());
  TensorContainer<gpu, 2> gy(Shape2(9, 20), 0.f);
  Tensor<gpu, 2> dst = gy.SliceLast(3, 10);
  dst = ga.SliceLast(5, 12) * 3.f;
  auto y = test::ToCPU(gy.view());
  for (index_t i = 0; i < 9; ++i)
    for (index_t j = 0; j < 20; ++j) {
      const float want = (j >= 3 && j < 10) ? 3 * test::At(a.view(), i, j + 2) : 0.f;
      ASSERT_FLOAT_EQ(test::At(y.view(), i, j), want);
    }
}

TEST(CoreGPU, DotSameAsCPU) {
  UMBRA_REQUIRE_GPU();
  auto a = test::RandomTensor(Shape2(33, 65), 5), b = test::RandomTensor(Shape2(65, 17), 6);
  auto bt = test::RandomTensor(Shape2(17, 65), 7), at = test::RandomTensor(Shape2(65, 33), 8);
  auto x = test::RandomTensor(Shape1(65), 9), z = test::RandomTensor(Shape1(33), 10);
  auto nn = [](auto c, auto a, auto b) { c = dot(a, b); };
  auto nt = [](auto c, auto a, auto b) { c += dot(a, b.T()) * 0.5f; };
  auto tn = [](auto c, auto a, auto b) { c -= dot(a.T(), b); };
  auto tt = [](auto c, auto a, auto b) { c = dot(a.T(), b.T()); };
  EXPECT_TRUE((test::SameOnGPU<2, float>(nn, Shape2(33, 17), 1e-4, a.view(), b.view())));
  EXPECT_TRUE((test::SameOnGPU<2, float>(nt, Shape2(33, 17), 1e-4, a.view(), bt.view())));
  EXPECT_TRUE((test::SameOnGPU<2, float>(tn, Shape2(33, 17), 1e-4, at.view(), b.view())));
  EXPECT_TRUE((test::SameOnGPU<2, float>(tt, Shape2(33, 17), 1e-4, at.view(), bt.view())));
  auto gemv = [](auto y, auto a, auto x) { y = dot(a, x); };
  auto gemvt = [](auto y, auto a, auto x) { y += dot(x, a.T()); };
  EXPECT_TRUE((test::SameOnGPU<1, float>(gemv, Shape1(33), 1e-4, a.view(), x.view())));
  EXPECT_TRUE((test::SameOnGPU<1, float>(gemvt, Shape1(33), 1e-4, a.view(), x.view())));
  auto outer = [](auto o, auto p, auto q) { o = dot(p.T(), q); };
  EXPECT_TRUE((test::SameOnGPU<2, float>(outer, Shape2(33, 65), 1e-5, z.view(), x.view())));
  auto ad = test::RandomTensor<2, double>(Shape2(7, 5), 11);
  auto bd = test::RandomTensor<2, double>(Shape2(5, 3), 12);
  auto nnd = [](auto c, auto a, auto b) { c = dot(a, b); };
  EXPECT_TRUE((test::SameOnGPU<2, double>(nnd, Shape2(7, 3), 1e-12, ad.view(), bd.view())));
}

// tf32_matmul picks the product's compute type per call (cuda::FloatCompute), and leaves the
// per-device handle that threads share in full FP32: a mode set on it would reach another
// thread's product (the convolution GEMMs of one net and the dot of another, say).
TEST(CoreGPU, Tf32IsPerProductNotLeftOnTheSharedHandle) {
  UMBRA_REQUIRE_GPU();
  struct Restore {
    ~Restore() { cuda::MatmulTF32() = false; }
  } restore;
  // 1 + 2^-12 is a float, but TF32 keeps 10 bits of mantissa: rounded, it is 1.
  TensorContainer<cpu, 2> a(Shape2(1, 64)), b(Shape2(64, 1));
  a = 1.f + std::ldexp(1.f, -12);
  b = 1.f;
  auto ga = test::ToGPU(a.view()), gb = test::ToGPU(b.view());
  TensorContainer<gpu, 2> gc(Shape2(1, 1));
  const float exact = 64.f + std::ldexp(1.f, -6);
  auto product = [&](bool tf32) {
    cuda::MatmulTF32() = tf32;
    gc = dot(ga.view(), gb.view());
    return test::At(test::ToCPU(gc.view()).view(), 0, 0);
  };
  const float with_tf32 = product(true);
  cublasMath_t mode{};
  ASSERT_EQ(cublasGetMathMode(Stream<gpu>::GetBlasHandle(nullptr), &mode), CUBLAS_STATUS_SUCCESS);
  EXPECT_EQ(mode, CUBLAS_DEFAULT_MATH) << "a TF32 product left its mode on the shared handle";
  // TF32 allows tensor cores, which round a; cuBLAS may still take a full-FP32 kernel for so
  // small a product (the emulation always rounds).
#if UMBRA_CUDA_EMU
  EXPECT_EQ(with_tf32, 64.f);
#else
  EXPECT_TRUE(with_tf32 == 64.f || with_tf32 == exact) << with_tf32;
#endif
  EXPECT_EQ(product(false), exact);
}

TEST(CoreGPU, CopyEveryDirectionWithStrides) {
  UMBRA_REQUIRE_GPU();
  auto a = test::RandomTensor(Shape3(3, 4, 5), 13);
  test::Strided<3, float> sa(a.view());
  TensorContainer<gpu, 3> g1(Shape3(3, 4, 5)), g2(Shape3(3, 4, 9));
  Copy(g1.view(), sa.view);                    // strided host -> device
  Copy(g2.SliceLast(2, 7), g1.view());         // device -> strided device
  TensorContainer<cpu, 3> back(Shape3(3, 4, 5));
  Copy(back.view(), g2.SliceLast(2, 7));       // strided device -> host
  UMBRA_CUDA_CHECK(cudaDeviceSynchronize());
  EXPECT_TRUE(test::AllNear(back.view(), a.view(), 0));
}

TEST(CoreGPU, RandomStatisticsAndSeed) {
  UMBRA_REQUIRE_GPU();
  Random<gpu> r(3);
  TensorContainer<gpu, 2> u(Shape2(1001, 999)), g(Shape2(1001, 999));
  r.SampleUniform(&u, -1.f, 3.f);
  r.SampleGaussian(&g, 2.f, 0.5f);
  auto hu = test::ToCPU(u.view()), hg = test::ToCPU(g.view());
  double su = 0, sg = 0, sg2 = 0;
  for (index_t i = 0; i < hu.Size(); ++i) {
    ASSERT_GE(hu.dptr_[i], -1.f);
    ASSERT_LT(hu.dptr_[i], 3.f);
    su += hu.dptr_[i], sg += hg.dptr_[i], sg2 += double(hg.dptr_[i]) * hg.dptr_[i];
  }
  const double n = hu.Size(), mg = sg / n;
  EXPECT_NEAR(su / n, 1.0, 0.01);
  EXPECT_NEAR(mg, 2.0, 0.003);
  EXPECT_NEAR(sg2 / n - mg * mg, 0.25, 0.003);
  Random<gpu> r2(3);
  TensorContainer<gpu, 2> u2(Shape2(1001, 999));
  r2.SampleUniform(&u2, -1.f, 3.f);
  EXPECT_TRUE(test::AllNear(test::ToCPU(u2.view()).view(), hu.view(), 0));
}

TEST(CoreGPU, StreamsAndAllocatorReuse) {
  UMBRA_REQUIRE_GPU();
  Stream<gpu>* s = NewStream<gpu>();
  auto& alloc = cuda::CachingAllocator::Get();
  int dev = 0;
  UMBRA_CUDA_CHECK(cudaGetDevice(&dev));
  auto step = [&] {
    TensorContainer<gpu, 2> a(Shape2(256, 256)), b(Shape2(256, 256)), c(Shape2(256, 256));
    a.set_stream(s), b.set_stream(s), c.set_stream(s);
    a = 1.f, b = 2.f;
    c = dot(a.view(), b.view());
    s->Wait();
    // The product on the stream, after the fills queued on it: 256 terms of 1 * 2.
    const auto h = test::ToCPU(c.view());
    EXPECT_TRUE(std::all_of(h.dptr_, h.dptr_ + h.Size(), [](float v) { return v == 512.f; }));
  };
  step();
  const size_t mallocs = alloc.GetStats(dev).mallocs;
  for (int i = 0; i < 10; ++i) step();
  EXPECT_EQ(alloc.GetStats(dev).mallocs, mallocs) << "a warm loop must not call cudaMalloc";
  DeleteStream(s);
}

// Inside a capture, a freed block the graph holds serves any later request of 1 MiB or more it
// is large enough for (it is counted in use either way), while from the cache a block is handed
// out for at most twice its request: workspaces of 64, 8 and 32 MiB one after another hold one
// 64 MiB block in the graph, not three; a 4 KiB request does not take it. Released with the
// graph, the blocks go back to the cache.
TEST(CoreGPU, ACaptureReusesAnyHeldBlockLargeEnough) {
  UMBRA_REQUIRE_GPU();
  auto& alloc = cuda::CachingAllocator::Get();
  int dev = 0;
  UMBRA_CUDA_CHECK(cudaGetDevice(&dev));
  const auto before = alloc.GetStats(dev);
  const size_t mib = size_t(1) << 20;
  const int pool = alloc.BeginCapturePool();  // the allocator's side of a capture alone
  void* a = alloc.Alloc(64 * mib);
  alloc.Free(a);
  void* b = alloc.Alloc(8 * mib);
  EXPECT_EQ(b, a);
  alloc.Free(b);
  void* c = alloc.Alloc(32 * mib);
  EXPECT_EQ(c, a);
  alloc.Free(c);
  void* small = alloc.Alloc(4096);
  EXPECT_NE(small, a);
  alloc.Free(small);
  EXPECT_EQ(alloc.GetStats(dev).in_use, before.in_use + 64 * mib + 4096);  // held by the graph
  alloc.EndCapturePool();
  alloc.ReleaseCapturePool(pool);
  EXPECT_EQ(alloc.GetStats(dev).in_use, before.in_use);
  // Out of the capture, an 8 MiB request does not take the 64 MiB block back from the cache.
  void* d = alloc.Alloc(8 * mib);
  EXPECT_NE(d, a);
  alloc.Free(d);
}

// A capture's pool started with a reserved block (BeginCapturePool(reserve)): workspaces of
// growing sizes one after another (43, 64, 137 and 190 MiB, the stand-in's AlexNet's) all take
// it, and the graph holds that one block, where without the reserve it held one of each size.
// The reserve is what LargestFreed reports after a step that freed those workspaces.
TEST(CoreGPU, ACapturePoolStartsWithTheReservedBlock) {
  UMBRA_REQUIRE_GPU();
  auto& alloc = cuda::CachingAllocator::Get();
  int dev = 0;
  UMBRA_CUDA_CHECK(cudaGetDevice(&dev));
  const size_t mib = size_t(1) << 20;
  const size_t sizes[] = {43 * mib, 64 * mib, 137 * mib, 190 * mib};
  alloc.EmptyCache();  // the cache then holds just the blocks of the step below
  alloc.ResetLargestFreed(dev);
  for (size_t n : sizes) alloc.Free(alloc.Alloc(n));  // the uncaptured step
  EXPECT_EQ(alloc.LargestFreed(dev), 190 * mib);
  const auto before = alloc.GetStats(dev);
  for (size_t reserve : {size_t(0), alloc.LargestFreed(dev)}) {
    SCOPED_TRACE("reserve " + std::to_string(reserve));
    const int pool = alloc.BeginCapturePool(reserve);
    for (size_t n : sizes) alloc.Free(alloc.Alloc(n));
    const size_t held = alloc.GetStats(dev).in_use - before.in_use;
    EXPECT_EQ(held, reserve ? 190 * mib : (43 + 64 + 137 + 190) * mib);
    alloc.EndCapturePool();
    alloc.ReleaseCapturePool(pool);
    EXPECT_EQ(alloc.GetStats(dev).in_use, before.in_use);
  }
}

// A request the device cannot hold is one clear error naming the device and the sizes (after
// the allocator has given its cached blocks back and tried again), not a crash or a sticky CUDA
// error: the allocator's books are unchanged and the next allocation works.
TEST(CoreGPU, OutOfMemoryIsAClearError) {
  UMBRA_REQUIRE_GPU();
  auto& alloc = cuda::CachingAllocator::Get();
  int dev = 0;
  UMBRA_CUDA_CHECK(cudaGetDevice(&dev));
  const size_t in_use = alloc.GetStats(dev).in_use, huge = size_t(1) << 42;  // 4 TiB
  std::string msg;
  try {
    alloc.Free(alloc.Alloc(huge));
  } catch (const Error& e) {
    msg = e.what();
  }
  EXPECT_NE(msg.find("out of GPU memory on device " + std::to_string(dev)), std::string::npos) << msg;
  EXPECT_NE(msg.find("asked for " + std::to_string(huge) + " bytes"), std::string::npos) << msg;
  EXPECT_EQ(alloc.GetStats(dev).in_use, in_use);
  EXPECT_EQ(cudaGetLastError(), cudaSuccess);
  TensorContainer<gpu, 1> ok(Shape1(1024), 3.f);
  EXPECT_EQ(test::ToCPU(ok.view()).dptr_[1023], 3.f);
}

// The same inside a CUDA-graph capture (a step's graph being recorded): the error, but the
// cached blocks kept (giving them back waits for the device, which a capture forbids: CUDA
// would end the capture in failure), so the capture itself ends cleanly and the step can fall
// back to running plain.
TEST(CoreGPU, OutOfMemoryInACaptureKeepsItValid) {
  UMBRA_REQUIRE_GPU();
  auto& alloc = cuda::CachingAllocator::Get();
  int dev = 0;
  UMBRA_CUDA_CHECK(cudaGetDevice(&dev));
  alloc.Free(alloc.Alloc(size_t(1) << 20));  // a cached block, which a release would free
  const auto before = alloc.GetStats(dev);
  ASSERT_GT(before.cached, 0u);
  const cudaStream_t s = cuda::DefaultStream();
  const int pool = alloc.BeginCapturePool();
  if (cudaStreamBeginCapture(s, cudaStreamCaptureModeRelaxed) != cudaSuccess) {
    alloc.EndCapturePool();  // not left open for the tests after this one
    alloc.ReleaseCapturePool(pool);
    FAIL() << "no capture began";
  }
  std::string msg;
  try {
    alloc.Free(alloc.Alloc(size_t(1) << 42));  // 4 TiB
  } catch (const Error& e) {
    msg = e.what();
  }
  cudaGraph_t graph = nullptr;
  EXPECT_EQ(cudaStreamEndCapture(s, &graph), cudaSuccess);
  if (graph) cudaGraphDestroy(graph);
  alloc.EndCapturePool();
  alloc.ReleaseCapturePool(pool);
  EXPECT_NE(msg.find("out of GPU memory on device " + std::to_string(dev)), std::string::npos) << msg;
  EXPECT_EQ(alloc.GetStats(dev).cached, before.cached);
  EXPECT_EQ(alloc.GetStats(dev).in_use, before.in_use);
  cudaGetLastError();
}

}  // namespace
}  // namespace umbra
