// A statement whose destination shares memory with what it reads elsewhere than at the element
// being written (alias.h): refused for views, evaluated into new storage for a TensorContainer;
// reads at the same place, column blocks side by side and reshapes of the same memory still run.
// Also dot()'s overlap test on one-row views, reductions into their own source, and the plain `=`
// that streams large results.
#include <cmath>
#include <limits>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "harness/tensor_util.h"
#include "umbra/tensor/ext/all.h"

namespace umbra {
namespace {

using test::ErrorOf;

TensorContainer<cpu, 2> Iota(index_t rows, index_t cols) {
  TensorContainer<cpu, 2> t(Shape2(rows, cols));
  for (index_t i = 0; i < t.Size(); ++i) t.dptr_[i] = float(i);
  return t;
}

std::vector<float> Values(const Tensor<cpu, 2>& t) {
  std::vector<float> v;
  for (index_t y = 0; y < t.size(0); ++y)
    for (index_t x = 0; x < t.size(1); ++x) v.push_back(t.dptr_[y * t.stride_ + x]);
  return v;
}

// a = a.T() on a square view read elements it had overwritten: 0 3 6 / 3 4 7 / 6 7 8.
TEST(Alias, TransposeIntoItsOwnViewIsAnError) {
  auto a = Iota(3, 3);
  Tensor<cpu, 2> v = a.view();
  const std::string err = ErrorOf([&] { v = v.T(); });
  EXPECT_HAS(err, "shares memory");
  EXPECT_HAS(err, "index mapping");
  EXPECT_HAS(ErrorOf([&] { v += v.T(); }), "assignment (+=)");
  EXPECT_EQ(Values(a.view()), (std::vector<float>{0, 1, 2, 3, 4, 5, 6, 7, 8}));  // untouched
}

// A container takes the result into new storage: numpy's a = a.T and a += a.T.
TEST(Alias, ContainerTakesItsOwnTransposeAndSwap) {
  auto a = Iota(3, 3);
  a = a.view().T();
  EXPECT_EQ(Values(a.view()), (std::vector<float>{0, 3, 6, 1, 4, 7, 2, 5, 8}));
  auto s = Iota(3, 3);
  s += s.view().T();
  EXPECT_EQ(Values(s.view()), (std::vector<float>{0, 4, 8, 4, 8, 12, 8, 12, 16}));
  TensorContainer<cpu, 3> c(Shape3(2, 2, 2));
  for (index_t i = 0; i < 8; ++i) c.dptr_[i] = float(i);
  c = swapaxis<0, 1>(c.view());
  const std::vector<float> want{0, 1, 4, 5, 2, 3, 6, 7};
  EXPECT_EQ(std::vector<float>(c.dptr_, c.dptr_ + 8), want);
  auto m = Iota(2, 3);
  m = mirror(m.view());
  EXPECT_EQ(Values(m.view()), (std::vector<float>{2, 1, 0, 5, 4, 3}));
}

// Index mappings and offset views of the destination's memory, through views and write-through
// destinations: each was a silent wrong answer, one (the row shift) only with several threads.
TEST(Alias, MappedAndOffsetReadsOfTheDestinationAreErrors) {
  auto a = Iota(2, 3);
  Tensor<cpu, 2> v = a.view();
  EXPECT_HAS(ErrorOf([&] { v = mirror(v); }), "shares memory");
  TensorContainer<cpu, 3> c(Shape3(2, 2, 2), 1.f);
  Tensor<cpu, 3> cv = c.view();
  EXPECT_HAS(ErrorOf([&] { cv = swapaxis<1, 2>(cv); }), "shares memory");
  EXPECT_HAS(ErrorOf([&] { cv = transpose(cv, Shape3(0, 2, 1)); }), "shares memory");
  auto r = Iota(3, 2);
  Tensor<cpu, 2> x = r.view().Slice(0, 1), y = r.view().Slice(1, 3);
  EXPECT_HAS(ErrorOf([&] { concat<0>(x, y) = concat<0>(y, x); }), "shares memory");
  TensorContainer<cpu, 1> s(Shape1(6), 0.f);
  s.dptr_[0] = 7.f;
  EXPECT_HAS(ErrorOf([&] { slice<0>(s.view(), 1, 6) = slice<0>(s.view(), 0, 5); }), "shares memory");
  const std::string shifted = ErrorOf([&] { s.view().Slice(1, 6) = s.view().Slice(0, 5) + 1.f; });
  EXPECT_HAS(shifted, "at other elements");
  auto h = Iota(6, 4);
  TensorContainer<cpu, 2> row(Shape2(1, 4), -1.f);
  Tensor<cpu, 2> hv = h.view();
  EXPECT_HAS(ErrorOf([&] { hv = concat<0>(slice<0>(hv, 1, 6), row.view()); }), "shares memory");
  auto b = Iota(4, 4);
  Tensor<cpu, 2> bv = b.view();
  EXPECT_HAS(ErrorOf([&] { bv = broadcast<1>(bv[0], bv.shape_); }), "shares memory");
}

// A reduction into memory it reads: refused on both devices (the GPU's kernels raced where
// other blocks still read what one had written; reduce_test.cu), beside its source it runs.
TEST(Alias, ReductionIntoItsOwnSourceIsAnError) {
  auto m = Iota(4, 3);
  Tensor<cpu, 2> v = m.view();
  Tensor<cpu, 1> row = v[0];
  EXPECT_HAS(ErrorOf([&] { row = sum_rows(v); }), "reduce_except_dim<1>(sum): the destination (3) shares memory");
  EXPECT_HAS(ErrorOf([&] { row += reduce_except_dim<red::maximum, 1>(v.Slice(0, 2) * 2.f); }), "shares memory");
  EXPECT_HAS(ErrorOf([&] { v[2].Slice(0, 2) = sumall_except_dim<0>(v.Slice(1, 3)); }), "shares memory");
  EXPECT_EQ(Values(m.view()), (std::vector<float>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}));  // untouched
  row = sum_rows(v.Slice(1, 4));
  EXPECT_EQ(Values(m.view()), (std::vector<float>{18, 21, 24, 3, 4, 5, 6, 7, 8, 9, 10, 11}));
}

// What stays allowed: each element read where it is written (in place, savers reading the
// destination), disjoint column blocks of one matrix, a reshape over the same memory, and
// index mappings of other tensors.
TEST(Alias, SamePlaceAndDisjointReadsRun) {
  auto a = Iota(3, 4);
  Tensor<cpu, 2> v = a.view();
  v = v * 2.f + 1.f;
  v += F<op::relu>(v);
  EXPECT_EQ(a.dptr_[5], 22.f);  // (5 * 2 + 1) * 2
  auto m = Iota(2, 8);
  m.view().SliceLast(4, 8) = m.view().SliceLast(0, 4) * 10.f;
  EXPECT_EQ(m.dptr_[12], 80.f);  // m(1, 4) = m(1, 0) * 10
  EXPECT_EQ(m.dptr_[11], 11.f);
  Tensor<cpu, 1> flat = m.view().FlatTo1D();
  flat = reshape(m.view(), Shape1(16)) + 1.f;
  EXPECT_EQ(m.dptr_[12], 81.f);
  auto o = Iota(4, 3);
  v = o.view().T() + v;
  EXPECT_EQ(a.dptr_[1], 6.f + 3.f);  // a(0, 1) = 4 * 1 + 2, plus o(1, 0)
}

// Two parts of a write-through destination on one memory race as two writes of one element
// (`+=` lost updates by thread count); a slice of a tensor is the region it covers, so disjoint
// slices along any dimension move, where a padded tensor's inner slice (no one region) is refused.
TEST(Alias, DestinationPartsAndSlicesAlongInnerDimensions) {
  auto a = Iota(4, 3), b = Iota(4, 3);
  Tensor<cpu, 2> av = a.view();
  EXPECT_HAS(ErrorOf([&] { concat<0>(av, av) += concat<0>(b.view(), b.view()); }), "two parts of the destination");
  EXPECT_HAS(ErrorOf([&] { concat<1>(av, av) = 1.f; }), "two parts of the destination");
  TensorContainer<cpu, 3> t(Shape3(2, 4, 3));
  for (index_t i = 0; i < t.Size(); ++i) t.dptr_[i] = float(i);
  slice<1>(t.view(), 0, 2) = slice<1>(t.view(), 2, 4) * 10.f;
  EXPECT_EQ(t.dptr_[0], 60.f);        // t(0, 0, 0) = t(0, 2, 0) * 10
  EXPECT_EQ(t.dptr_[12 + 5], 230.f);  // t(1, 1, 2) = t(1, 3, 2) * 10
  EXPECT_HAS(ErrorOf([&] { slice<1>(t.view(), 1, 3) = slice<1>(t.view(), 0, 2); }), "shares memory");
  TensorContainer<cpu, 3> p(Shape3(2, 4, 3), 1.f, /*pad=*/true);
  ASSERT_NE(p.stride_, 3);
  EXPECT_HAS(ErrorOf([&] { slice<1>(p.view(), 0, 2) = slice<1>(p.view(), 2, 4); }), "shares memory");
}

// A container whose new shape cannot be allocated is left empty, not with that shape and no
// memory; a compound assignment of the wrong shape says which, before it allocates.
TEST(Alias, ContainerFailuresLeaveItConsistent) {
  TensorContainer<cpu, 2> a(Shape2(2, 2), 5.f);
  TensorContainer<cpu, 1> v(Shape1(4), 1.f);
  EXPECT_HAS(ErrorOf([&] { a = broadcast<1>(v.view(), Shape2(index_t(1) << 62, 4)); }), "cannot allocate");
  EXPECT_EQ(a.shape_[0], 0);
  EXPECT_EQ(a.dptr_, nullptr);
  a = broadcast<0>(v.view(), Shape2(4, 3));  // usable again
  EXPECT_EQ(a.dptr_[11], 1.f);
  auto s = Iota(3, 3);
  EXPECT_HAS(ErrorOf([&] { s -= s.view().Slice(0, 2); }), "shape mismatch in assignment (-=)");
  s /= s.view().T() + 1.f;
  EXPECT_FLOAT_EQ(s.dptr_[1], 1.f / 4.f);  // s(0, 1) / (s(1, 0) + 1)
}

// dot() refused a vector in a matrix's padding columns as overlapping, by its stride alone:
// the same memory as m[0].Slice(4, 8) (stride 4) was refused, as m.SliceLast(4, 8)[0] (stride 8)
// taken.
TEST(Alias, DotTakesAOneRowViewBesideItsOperand) {
  auto m = Iota(4, 8);
  Tensor<cpu, 2> w = m.view().SliceLast(0, 4);
  TensorContainer<cpu, 1> x(Shape1(4), 1.f);
  Tensor<cpu, 1> y = m.view()[0].Slice(4, 8);
  y = dot(w, x.view());
  for (index_t i = 0; i < 4; ++i) EXPECT_EQ(y.dptr_[i], float(i * 8 * 4 + 6)) << i;  // row i of w summed
  EXPECT_HAS(ErrorOf([&] { Tensor<cpu, 1> z = m.view()[0].Slice(2, 6); z = dot(w, x.view()); }),
             "shares memory with an operand");
}

// The plain `=` into 32 MiB or more streams its stores in per-thread ranges; where n / threads
// was a whole number of 64-element tiles, the last n % threads elements were never written.
TEST(Alias, StreamingStoreWritesEveryElementAtAnyThreadCount) {
#ifdef _OPENMP
  const int keep = omp_get_max_threads();
  for (const auto& [threads, n] : {std::pair<int, index_t>{2, 8388609}, {3, 8388673}}) {
    SCOPED_TRACE(threads);
    TensorContainer<cpu, 1> a(Shape1(n), 1.f), d(Shape1(n), -7.f);
    omp_set_num_threads(threads);
    d = a.view() + 1.f;
    omp_set_num_threads(keep);
    index_t wrong = 0;
    for (index_t i = 0; i < n; ++i) wrong += d.dptr_[i] != 2.f;
    EXPECT_EQ(wrong, 0) << "last element " << d.dptr_[n - 1];
  }
#else
  GTEST_SKIP() << "built without OpenMP";
#endif
}

// Indices truncate toward zero as values in [0, depth): -0.5 (a cast made it 0) and NaN are no
// class.
TEST(Alias, OneHotNegativeFractionAndNaNAreNoClass) {
  TensorContainer<cpu, 1> idx(Shape1(4));
  idx.dptr_[0] = -0.5f, idx.dptr_[1] = 2.7f, idx.dptr_[2] = -0.9f, idx.dptr_[3] = std::nanf("");
  TensorContainer<cpu, 2> o(Shape2(4, 3));
  o = one_hot_encode(idx.view(), 3);
  EXPECT_EQ(Values(o.view()), (std::vector<float>{0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0}));
  // Past 2^24 a float's x + 1 and depth round: the class is compared as the truncated index.
  const index_t depth = (index_t(1) << 24) + 1;
  TensorContainer<cpu, 1> big(Shape1(1), float(index_t(1) << 24));
  TensorContainer<cpu, 2> ob(Shape2(1, depth));
  ob = one_hot_encode(big.view(), depth);
  EXPECT_EQ(ob.dptr_[index_t(1) << 24], 1.f);  // the last class
  EXPECT_EQ(ob.dptr_[(index_t(1) << 24) - 1], 0.f);
}

// A shape whose bytes pass size_t wrapped to 0 bytes: a null tensor, written through unsaid.
TEST(Alias, AllocationPastSizeTIsAnError) {
  const index_t big = index_t(1) << 31;
  EXPECT_HAS(ErrorOf([&] { TensorContainer<cpu, 2> c(Shape2(big, big)); }), "overflows");
  EXPECT_HAS(ErrorOf([&] { TensorContainer<cpu, 2> c(Shape2(big * 4, big)); }), "overflows");
  // 2^64 - 4 bytes: no product wraps, but rounding up to 64 bytes did (a 56-byte block).
  EXPECT_HAS(ErrorOf([&] { TensorContainer<cpu, 2> c(Shape2(big - 1, big + 1)); }), "overflows");
  Tensor<cpu, 2> t(nullptr, Shape2(big - 1, big + 1));
  EXPECT_HAS(ErrorOf([&] { AllocSpace(&t); }), "overflows");
  EXPECT_EQ(t.dptr_, nullptr);
}

}  // namespace
}  // namespace umbra
