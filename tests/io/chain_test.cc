// The chained iterators on a csv base: threadbuffer gives the base's batches in order (across
// epochs, after a mid-epoch restart), hands an error from its thread to the consumer, and shuts
// down cleanly; membuffer replays the first epoch.
#include "io_test_util.h"

namespace umbra::io::test {
namespace {

std::string Rows(const TempDir& dir, int n) {
  std::string text;
  for (int i = 0; i < n; ++i) text += std::to_string(i) + "," + std::to_string(i * 0.5) + "," + std::to_string(-i) + "\n";
  WriteText(dir / "rows.csv", text);
  return dir / "rows.csv";
}

std::vector<std::pair<std::string, std::string>> Keys(const std::string& file) {
  return {{"filename", file}, {"batch_size", "3"}, {"shuffle", "1"}, {"seed", "11"}};
}

std::unique_ptr<DataIterator> Chained(const std::string& chain, const std::string& file) {
  auto it = ChainIterator(chain, CreateIterator("csv"));
  for (auto& [k, v] : Keys(file)) EXPECT_TRUE(it->SetParam(k, v));  // keys reach the base
  it->Init();
  return it;
}

TEST(ThreadBuffer, SameBatchesAsItsBaseInOrder) {
  TempDir dir;
  const std::string f = Rows(dir, 17);
  auto base = Make("csv", Keys(f));
  auto tb = Chained("threadbuffer", f);
  EXPECT_EQ(tb->Value().data.shape_, base->Value().data.shape_);  // known right after Init
  for (uint64_t epoch : {0, 1, 2, 1}) {
    const auto want = Epoch(base.get(), epoch);
    ASSERT_EQ(want.size(), 6u);
    EXPECT_EQ(Epoch(tb.get(), epoch), want) << "epoch " << epoch;
  }
}

TEST(ThreadBuffer, RestartMidEpochAndBufferSize) {
  TempDir dir;
  const std::string f = Rows(dir, 17);
  auto base = Make("csv", Keys(f));
  auto tb = ChainIterator("threadbuffer", CreateIterator("csv"));
  EXPECT_TRUE(tb->SetParam("buffer_size", "4"));
  for (auto& [k, v] : Keys(f)) tb->SetParam(k, v);
  tb->Init();
  tb->SetEpoch(5);
  tb->BeforeFirst();
  ASSERT_TRUE(tb->Next());
  ASSERT_TRUE(tb->Next());
  tb->SetEpoch(2);  // mid-epoch: applies at the next BeforeFirst
  ASSERT_TRUE(tb->Next());
  EXPECT_EQ(Epoch(tb.get(), 2), Epoch(base.get(), 2));
  // Calling BeforeFirst twice, and once more after the end, changes nothing.
  tb->BeforeFirst();
  EXPECT_EQ(Epoch(tb.get(), 2), Epoch(base.get(), 2));
  EXPECT_FALSE(tb->Next());
  EXPECT_HAS(ErrorOf([&] { tb->SetParam("buffer_size", "3"); }), "threadbuffer: buffer_size cannot change once the iterator runs");
  EXPECT_HAS(ErrorOf([&] { ChainIterator("threadbuffer", CreateIterator("csv"))->SetParam("buffer_size", "9"); }),
             "threadbuffer: buffer_size must be in [1, 8], got 9");
}

// A base that fails on its third batch.
class Failing : public DataIterator {
 public:
  bool SetParam(const std::string&, const std::string&) override { return false; }
  void Init() override {
    x_.Resize(Shape4(2, 1, 1, 1), 0.f);
    y_.Resize(Shape2(2, 1), 0.f);
    out_.data = x_.view(), out_.label = y_.view(), out_.valid = 2, out_.index = {0, 1};
  }
  void SetEpoch(uint64_t) override {}
  void BeforeFirst() override { n_ = 0; }
  bool Next() override {
    if (++n_ == 3) UMBRA_THROW("cannot decode image 'cat.jpg'");
    x_.dptr_[0] = float(n_);
    return true;
  }
  const DataBatch& Value() const override { return out_; }

 private:
  int n_ = 0;
  TensorContainer<cpu, 4> x_;
  TensorContainer<cpu, 2> y_;
  DataBatch out_;
};

TEST(ThreadBuffer, ErrorOnTheThreadIsRethrownToTheConsumer) {
  auto tb = ChainIterator("threadbuffer", std::make_unique<Failing>());
  tb->Init();
  tb->BeforeFirst();
  ASSERT_TRUE(tb->Next());
  EXPECT_EQ(tb->Value().data.dptr_[0], 1.f);
  ASSERT_TRUE(tb->Next());
  EXPECT_EQ(tb->Value().data.dptr_[0], 2.f);
  EXPECT_HAS(ErrorOf([&] { tb->Next(); }), "cannot decode image 'cat.jpg'");
  EXPECT_HAS(ErrorOf([&] { tb->Next(); }), "cat.jpg");  // stays failed until restarted
  tb->BeforeFirst();  // a restart recovers
  ASSERT_TRUE(tb->Next());
  EXPECT_EQ(tb->Value().data.dptr_[0], 1.f);
}

TEST(ThreadBuffer, DestroysCleanlyWithAFullQueueOrMidEpoch) {
  TempDir dir;
  const std::string f = Rows(dir, 50);
  for (int consumed = 0; consumed < 4; ++consumed) {
    auto tb = Chained("threadbuffer", f);
    for (int i = 0; i < consumed; ++i) ASSERT_TRUE(tb->Next());
  }  // each destructor joins its thread; a hang here fails by timeout
}

TEST(MemBuffer, ReplaysTheFirstEpoch) {
  TempDir dir;
  const std::string f = Rows(dir, 8);
  auto base = Make("csv", Keys(f));
  const auto first = Epoch(base.get(), 0);
  ::testing::internal::CaptureStderr();
  auto mb = Chained("membuffer", f);
  // Said once at Init: shuffle = 1 gives the same order each round behind membuffer.
  EXPECT_HAS(::testing::internal::GetCapturedStderr(),
             "note: membuffer replays epoch 0's batches every round (as cxxnet's), so the order and images these "
             "keys draw are the same each round: shuffle; leave membuffer out for new ones");
  // Without a random key: no note.
  ::testing::internal::CaptureStderr();
  auto quiet = ChainIterator("membuffer", CreateIterator("csv"));
  for (auto& [k, v] : Keys(f))
    if (k != "shuffle") quiet->SetParam(k, v);
  quiet->Init();
  EXPECT_EQ(::testing::internal::GetCapturedStderr().find("membuffer replays"), std::string::npos);
  EXPECT_EQ(Epoch(mb.get(), 0), first);
  EXPECT_EQ(Epoch(mb.get(), 1), first);  // frozen: the base would shuffle differently
  EXPECT_NE(Epoch(base.get(), 1), first);
  mb->BeforeFirst();
  ASSERT_TRUE(mb->Next());
  mb->BeforeFirst();  // restart mid-epoch
  EXPECT_EQ(Epoch(mb.get(), 7), first);
}

// cxxnet's max_nbatch (default 100): the first batches alone, replayed, and said; 0 keeps all.
TEST(MemBuffer, KeepsTheFirstMaxNbatchBatches) {
  TempDir dir;
  const std::string f = Rows(dir, 8);
  auto base = Make("csv", Keys(f));
  const auto first = Epoch(base.get(), 0);
  ASSERT_GT(first.size(), 2u);
  const auto chained = [&](const char* max) {
    auto mb = ChainIterator("membuffer", CreateIterator("csv"));
    for (auto& [k, v] : Keys(f))
      if (k != "shuffle") mb->SetParam(k, v);
    if (max) EXPECT_TRUE(mb->SetParam("max_nbatch", max));
    mb->Init();
    return mb;
  };
  const auto unshuffled = [&] {
    auto b = CreateIterator("csv");
    for (auto& [k, v] : Keys(f))
      if (k != "shuffle") b->SetParam(k, v);
    b->Init();
    return Epoch(b.get(), 0);
  }();
  ::testing::internal::CaptureStderr();
  auto two = chained("2");
  EXPECT_HAS(::testing::internal::GetCapturedStderr(),
             "note: membuffer keeps the epoch's first 2 batches (max_nbatch = 2), and every round uses those alone: "
             "any later ones go unused (max_nbatch = 0 keeps them all)");
  EXPECT_EQ(Epoch(two.get(), 3), std::vector(unshuffled.begin(), unshuffled.begin() + 2));
  ::testing::internal::CaptureStderr();
  auto all = chained("0");
  auto fits = chained(nullptr);  // 100 by default: more than the epoch's
  EXPECT_EQ(::testing::internal::GetCapturedStderr().find("membuffer keeps"), std::string::npos);
  EXPECT_EQ(Epoch(all.get(), 1), unshuffled);
  EXPECT_EQ(Epoch(fits.get(), 1), unshuffled);
  EXPECT_HAS(ErrorOf([&] { chained("-1"); }), "membuffer: max_nbatch must be at least 0");
}

TEST(MemBuffer, UnderThreadBuffer) {
  TempDir dir;
  const std::string f = Rows(dir, 8);
  auto base = Make("csv", Keys(f));
  auto it = ChainIterator("threadbuffer", ChainIterator("membuffer", CreateIterator("csv")));
  for (auto& [k, v] : Keys(f)) EXPECT_TRUE(it->SetParam(k, v));
  it->Init();
  EXPECT_EQ(Epoch(it.get(), 3), Epoch(base.get(), 0));
}

}  // namespace
}  // namespace umbra::io::test
