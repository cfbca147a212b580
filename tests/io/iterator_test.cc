// Iterator contracts common to every base iterator (iterator.h), checked on csv: the registry's
// error for unknown names, the keys each lists (ListKeys), end-of-epoch padding (valid, index,
// also with round_batch), and shuffling that covers each instance once per epoch and depends
// only on (seed, epoch); and data paths that are no regular files refused before they are opened.
#include <sys/stat.h>
#include <unistd.h>  // symlink

#include <algorithm>
#include <system_error>

#include "io_test_util.h"
#include "umbra/io/mean_image.h"
#include "umbra/io/mnist.h"
#include "umbra/io/record.h"

namespace umbra::io::test {
namespace {

// Five instances: label i, data (10i, 10i+1).
std::string FiveRows(const TempDir& dir) {
  std::string text;
  for (int i = 0; i < 5; ++i) text += std::to_string(i) + "," + std::to_string(10 * i) + "," + std::to_string(10 * i + 1) + "\n";
  WriteText(dir / "five.csv", text);
  return dir / "five.csv";
}

TEST(IterRegistry, UnknownNamesListTheKnownOnes) {
  const std::string msg = ErrorOf([] { CreateIterator("imagenet"); });
  for (const char* name : {"unknown iterator 'imagenet'", "csv", "img", "imgrec", "mnist", "threadbuffer", "membuffer"})
    EXPECT_HAS(msg, name);
  EXPECT_HAS(ErrorOf([] { ChainIterator("prefetch", CreateIterator("csv")); }), "iterator 'prefetch' cannot be chained; chained: membuffer, threadbuffer");
  // A chained one first in its block was "unknown iterator 'membuffer'".
  EXPECT_HAS(ErrorOf([] { CreateIterator("membuffer"); }),
             "iterator 'membuffer' is chained onto the iterator before it in its block (iter = csv, then iter = "
             "membuffer), and begins none; known first: csv");
  // cxxnet's iterators umbra has not are named for what they were ("cannot be chained" misnamed
  // cxxnet's attachtxt).
  EXPECT_HAS(ErrorOf([] { ChainIterator("attachtxt", CreateIterator("csv")); }),
             "iterator 'attachtxt': cxxnet's attachtxt (extra data per instance from a text file) is not in umbra");
  EXPECT_HAS(ErrorOf([] { CreateIterator("imgbinx"); }),
             "iterator 'imgbinx': cxxnet's imgbinx (its older image page formats) is not in umbra");
  const auto names = IteratorNames();
  for (const char* name : {"csv", "img", "imgbin", "imgrec", "mnist"})
    EXPECT_NE(std::find(names.begin(), names.end(), name), names.end()) << name;
}

// io::ListKeys walks an iterator's SetParam: every key it lists is one SetParam takes (true, or
// an error about the value), each once, with a text; a chained iterator lists its own keys and
// its base's; listing changes nothing (the keys set before still count).
TEST(IterRegistry, ListKeysNamesEveryKeyOnce) {
  auto known = [](DataIterator& it, const std::string& key) {
    bool taken = false;
    try {
      taken = it.SetParam(key, "1");
    } catch (const Error&) {
      taken = true;  // a value this key refuses: the key is known
    }
    return taken;
  };
  std::vector<std::string> types = IteratorNames();
  for (const std::string& type : types) {
    std::unique_ptr<DataIterator> it;
    try {
      it = CreateIterator(type);
    } catch (const Error&) {
      continue;  // an image iterator without OpenCV (checked below)
    }
    const std::vector<KeyDoc> keys = ListKeys(*it);
    EXPECT_GE(keys.size(), 5u) << type;
    for (size_t i = 0; i < keys.size(); ++i) {
      EXPECT_TRUE(known(*it, keys[i].name)) << type << ": " << keys[i].name;
      EXPECT_FALSE(keys[i].doc.empty()) << type << ": " << keys[i].name;
      for (size_t j = 0; j < i; ++j) EXPECT_NE(keys[i].name, keys[j].name) << type;
    }
    EXPECT_FALSE(known(*it, "shufle")) << type;
  }
  auto chained = ChainIterator("threadbuffer", CreateIterator("csv"));
  const std::vector<KeyDoc> keys = ListKeys(*chained);
  for (const char* name : {"buffer_size", "filename", "shuffle"})
    EXPECT_TRUE(std::ranges::any_of(keys, [&](const KeyDoc& d) { return d.name == name; })) << name;
  // Set, listed, then read: the file named before the listing is the one Init opens.
  const TempDir dir;
  auto csv = CreateIterator("csv");
  csv->SetParam("filename", FiveRows(dir));
  csv->SetParam("batch_size", "2");
  ListKeys(*csv);
  csv->Init();
  csv->BeforeFirst();
  ASSERT_TRUE(csv->Next());
  EXPECT_EQ(csv->Value().label.dptr_[0], 0.f);
}

TEST(IterPadding, LastBatchWrapsAndValidCountsRealRows) {
  TempDir dir;
  auto it = Make("csv", {{"filename", FiveRows(dir)}, {"batch_size", "2"}});
  const auto batches = Epoch(it.get(), 0);
  ASSERT_EQ(batches.size(), 3u);
  EXPECT_EQ(batches[0].valid, 2);
  EXPECT_EQ(batches[1].valid, 2);
  EXPECT_EQ(batches[2].valid, 1);
  EXPECT_EQ(batches[2].index, (std::vector<uint64_t>{4, 0}));  // wrapped to the first instance
  EXPECT_EQ(batches[2].label, (std::vector<float>{4, 0}));
  EXPECT_EQ(batches[2].data, (std::vector<float>{40, 41, 0, 1}));
  EXPECT_EQ(batches[1].index, (std::vector<uint64_t>{2, 3}));
}

TEST(IterPadding, RoundBatchStillCountsOnlyRealRows) {
  // round_batch is accepted (cxxnet configs set it) and changes nothing (iterator.h), and valid
  // always counts real rows: evaluation and pred must not count a filler row twice.
  TempDir dir;
  for (const char* rb : {"0", "1"}) {
    auto it = Make("csv", {{"filename", FiveRows(dir)}, {"batch_size", "2"}, {"round_batch", rb}});
    const auto batches = Epoch(it.get(), 0);
    ASSERT_EQ(batches.size(), 3u);
    EXPECT_EQ(batches[2].valid, 1);
    EXPECT_EQ(batches[2].index, (std::vector<uint64_t>{4, 0}));
  }
  // A switch, as cxxnet's: 7 was accepted.
  EXPECT_HAS(ErrorOf([&] { Make("csv", {{"filename", FiveRows(dir)}, {"batch_size", "2"}, {"round_batch", "7"}}); }),
             "round_batch = '7' must be 0 or 1");
}

// The filler rows move on through the order from epoch to epoch: with shuffle = 0, five rows in
// batches of two repeat rows 0, 1, 2, 3, 4 in epochs 0-4 (each once), not row 0 every epoch.
TEST(IterPadding, FillerRowsMoveOnEachEpoch) {
  TempDir dir;
  auto it = Make("csv", {{"filename", FiveRows(dir)}, {"batch_size", "2"}});
  for (uint64_t epoch = 0; epoch < 7; ++epoch) {
    const auto batches = Epoch(it.get(), epoch);
    ASSERT_EQ(batches.size(), 3u);
    EXPECT_EQ(batches[2].index, (std::vector<uint64_t>{4, epoch % 5})) << epoch;
    EXPECT_EQ(batches[2].valid, 1);
  }
  auto big = Make("csv", {{"filename", FiveRows(dir)}, {"batch_size", "7"}});  // two filler rows
  EXPECT_EQ(Epoch(big.get(), 1)[0].index, (std::vector<uint64_t>{0, 1, 2, 3, 4, 2, 3}));
  EXPECT_EQ(Epoch(big.get(), 2)[0].index, (std::vector<uint64_t>{0, 1, 2, 3, 4, 4, 0}));
}

// The mnist iterator batches on its own: the same filler rule.
TEST(IterPadding, MnistFillerRowsMoveOnEachEpoch) {
  TempDir dir;
  const auto idx = [](std::vector<uint32_t> dims, std::string data) {
    std::string s = {'\0', '\0', '\x08', char(dims.size())};
    for (uint32_t d : dims)
      for (int b = 3; b >= 0; --b) s += char(d >> (8 * b) & 0xff);
    return s + data;
  };
  WriteText(dir / "img", idx({5, 2, 2}, std::string(20, '\x7f')));
  WriteText(dir / "lab", idx({5}, std::string("\0\1\2\3\4", 5)));
  auto it = Make("mnist", {{"path_img", dir / "img"}, {"path_label", dir / "lab"}, {"batch_size", "2"}});
  for (uint64_t epoch = 0; epoch < 6; ++epoch) {
    const auto batches = Epoch(it.get(), epoch);
    ASSERT_EQ(batches.size(), 3u);
    EXPECT_EQ(batches[2].index, (std::vector<uint64_t>{4, epoch % 5})) << epoch;
    EXPECT_EQ(batches[2].label, (std::vector<float>{4, float(epoch % 5)})) << epoch;
  }
}

TEST(IterPadding, BatchLargerThanDataSet) {
  TempDir dir;
  auto it = Make("csv", {{"filename", FiveRows(dir)}, {"batch_size", "7"}});
  const auto batches = Epoch(it.get(), 0);
  ASSERT_EQ(batches.size(), 1u);
  EXPECT_EQ(batches[0].valid, 5);
  EXPECT_EQ(batches[0].index, (std::vector<uint64_t>{0, 1, 2, 3, 4, 0, 1}));
}

TEST(IterShuffle, EachInstanceOncePerEpochAndReproducible) {
  TempDir dir;
  const std::string f = FiveRows(dir);
  auto a = Make("csv", {{"filename", f}, {"batch_size", "2"}, {"shuffle", "1"}, {"seed", "7"}});
  auto b = Make("csv", {{"filename", f}, {"batch_size", "2"}, {"shuffle", "1"}, {"seed", "7"}});
  std::vector<uint64_t> seen;
  for (const Snap& s : Epoch(a.get(), 3))
    for (index_t r = 0; r < s.valid; ++r) {
      seen.push_back(s.index[r]);
      EXPECT_EQ(s.label[r], float(s.index[r]));  // rows stay with their labels
    }
  std::sort(seen.begin(), seen.end());
  EXPECT_EQ(seen, (std::vector<uint64_t>{0, 1, 2, 3, 4}));
  EXPECT_EQ(Epoch(a.get(), 3), Epoch(b.get(), 3));
  // Another epoch, another order (for this seed; 1 in 120 orders could coincide).
  EXPECT_NE(Epoch(a.get(), 3), Epoch(b.get(), 4));
}

// seed_data is the data's seed wherever the global seed comes: after it, seed = 1 replaced it.
TEST(IterShuffle, SeedDataWinsOverTheGlobalSeed) {
  TempDir dir;
  const std::string f = FiveRows(dir);
  WriteText(dir / "img", std::string("\0\0\x08\x03\0\0\0\x05\0\0\0\x01\0\0\0\x01", 16) + "abcde");
  WriteText(dir / "lab", std::string("\0\0\x08\x01\0\0\0\x05\0\1\2\3\4", 13));
  const std::vector<std::pair<std::string, std::string>> csv = {{"filename", f}, {"batch_size", "5"}, {"shuffle", "1"}},
      mnist = {{"path_img", dir / "img"}, {"path_label", dir / "lab"}, {"batch_size", "5"}, {"shuffle", "1"}};
  for (const auto& [type, keys] : {std::pair{"csv", csv}, std::pair{"mnist", mnist}}) {
    const auto with = [&](std::vector<std::pair<std::string, std::string>> extra) {
      auto kv = keys;
      kv.insert(kv.end(), extra.begin(), extra.end());
      auto it = Make(type, kv);
      std::vector<Snap> epochs;
      for (uint64_t e = 0; e < 4; ++e) epochs.push_back(Epoch(it.get(), e)[0]);
      return epochs;
    };
    const auto seven = with({{"seed", "7"}});
    EXPECT_EQ(with({{"seed_data", "7"}, {"seed", "1"}}), seven) << type;
    EXPECT_EQ(with({{"seed", "1"}, {"seed_data", "7"}}), seven) << type;
    EXPECT_NE(with({{"seed", "1"}}), seven) << type;  // 4 epochs of 5! orders: no coincidence
  }
}

// A data path that is a named pipe hung the run in open() (no writer ever came); a folder failed
// with the library's words. Both are refused, naming the file, before anything opens them.
TEST(IterFiles, PathsThatAreNoRegularFilesAreRefused) {
  TempDir dir;
  const std::string fifo = dir / "pipe";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  for (const std::string& p : {fifo, dir.path()}) {
    EXPECT_HAS(ErrorOf([&] { ReadIdx(p); }), "cannot open idx file '" + p + "': not a regular file");
    EXPECT_HAS(ErrorOf([&] { Make("csv", {{"filename", p}}); }), "cannot open csv file '" + p + "': not a regular file");
    EXPECT_HAS(ErrorOf([&] { RecordReader r(p); }), "cannot open record file '" + p + "': not a regular file");
    EXPECT_HAS(ErrorOf([&] { ReadMeanImage(p); }), "cannot open mean image '" + p + "': not a regular file");
  }
  EXPECT_HAS(ErrorOf([&] { ReadIdx(dir / "none.idx"); }), "cannot open idx file '" + (dir / "none.idx") + "': no such file");
  // A link to itself is said so, not "no such file".
  const std::string loop = dir / "loop.idx";
  ASSERT_EQ(symlink(loop.c_str(), loop.c_str()), 0);
  EXPECT_HAS(ErrorOf([&] { ReadIdx(loop); }), "cannot open idx file '" + loop + "': " + std::make_error_code(std::errc::too_many_symbolic_link_levels).message());
}

}  // namespace
}  // namespace umbra::io::test

#if !(defined(UMBRA_USE_OPENCV) && UMBRA_USE_OPENCV)
namespace umbra::io::test {
namespace {
TEST(IterRegistry, ImageIteratorsWithoutOpenCvSayWhy) {
  for (const char* name : {"img", "imgrec", "imgbin"})
    EXPECT_HAS(ErrorOf([&] { CreateIterator(name); }), "umbra was built without OpenCV");
}
}  // namespace
}  // namespace umbra::io::test
#endif
