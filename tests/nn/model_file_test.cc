// Model files: the container round-trips, refuses every truncation and corruption with a clear
// error, writes atomically; checkpoints restore a trainer exactly (with update_period and
// pending gradients), and a model of another network is refused naming the weight.
#include <unistd.h>
#include <zlib.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>

#include <gmock/gmock.h>

#include "harness/file_size_limit.h"
#include "harness/layer_check.h"
#include "harness/tiny_net.h"
#include "umbra/nn/checkpoint.h"

namespace umbra {
namespace {

nn::NetSpec Spec(index_t hidden = 5) { return test::TinySpec(hidden, true); }
using Batch = test::TinyBatch;

nn::ModelFile Sample() {
  nn::ModelFile m;
  m.net = "netconfig = start\nlayer[0->1] = fullc:fc1\nnetconfig = end\n";
  m.meta["round"] = "7";
  m.tensors.push_back({"fc1.wmat", {2, 3}, {1, 2, 3, 4, 5, 6}});
  m.tensors.push_back({"fc1.bias", {1, 3}, {-1, 0.5f, 1e-30f}});
  m.tensors.push_back({"empty", {0, 4}, {}});
  return m;
}
std::string TempPath(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("umbra_mf_" + std::to_string(getpid()) + "_" + name)).string();
}

TEST(ModelFile, RoundTripsEverything) {
  const nn::ModelFile m = Sample();
  const std::string bytes = nn::EncodeModelFile(m);
  EXPECT_EQ(bytes.substr(0, 8), "UMBRAMDL");
  EXPECT_EQ(bytes.substr(bytes.size() - 4), "UEND");
  const nn::ModelFile r = nn::DecodeModelFile(bytes, "mem");
  EXPECT_EQ(r.net, m.net);
  EXPECT_EQ(r.meta, m.meta);
  ASSERT_EQ(r.tensors.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(r.tensors[i].name, m.tensors[i].name);
    EXPECT_EQ(r.tensors[i].shape, m.tensors[i].shape);
    EXPECT_EQ(r.tensors[i].data, m.tensors[i].data);
  }
}

TEST(ModelFile, RefusesEveryTruncation) {
  const std::string bytes = nn::EncodeModelFile(Sample());
  for (size_t n = 0; n < bytes.size(); ++n) {
    try {
      nn::DecodeModelFile(bytes.substr(0, n), "cut.model");
      ADD_FAILURE() << "a file cut to " << n << " of " << bytes.size() << " bytes was accepted";
    } catch (const Error& e) {
      EXPECT_THAT(e.what(), ::testing::HasSubstr("cut.model")) << n;
    }
  }
}

TEST(ModelFile, RefusesCorruptionAndOtherFiles) {
  const std::string bytes = nn::EncodeModelFile(Sample());
  // Every single flipped byte is caught: magic, version, header, data or checksum.
  for (size_t at = 0; at < bytes.size(); at += 7) {
    std::string bad = bytes;
    bad[at] = char(bad[at] ^ 0x5a);
    EXPECT_THROW(nn::DecodeModelFile(bad, "bad.model"), Error) << at;
  }
  std::string data_flip = bytes;
  data_flip[bytes.size() - 12] ^= 1;
  EXPECT_THAT(test::ErrorOf([&] { nn::DecodeModelFile(data_flip, "x.model"); }), ::testing::HasSubstr("corrupt (checksum mismatch)"));
  EXPECT_THAT(test::ErrorOf([&] { nn::DecodeModelFile(std::string(100, 'a'), "x.model"); }), ::testing::HasSubstr("not an umbra model file"));
  std::string v2 = bytes;
  v2[8] = 2;
  EXPECT_THAT(test::ErrorOf([&] { nn::DecodeModelFile(v2, "x.model"); }), ::testing::HasSubstr("format version 2"));
  EXPECT_THAT(test::ErrorOf([&] { nn::ReadModelFile(TempPath("missing")); }), ::testing::HasSubstr("cannot open model file"));
  // Not read forever (/dev/zero hung) nor as an empty file (a directory was "truncated").
  EXPECT_THAT(test::ErrorOf([&] { nn::ReadModelFile("/tmp"); }), ::testing::HasSubstr("'/tmp': not a regular file"));
  EXPECT_THAT(test::ErrorOf([&] { nn::ReadModelFile("/dev/zero"); }), ::testing::HasSubstr("'/dev/zero': not a regular file"));
}

// A file whose header is text_at(data_offset), with no tensor data, sealed with a valid checksum:
// a crafted header as the reader sees it past its checksum.
std::string Sealed(const std::function<std::string(size_t)>& text_at) {
  const std::string sample = nn::EncodeModelFile(Sample());
  std::string text;
  size_t offset = 0;
  for (;;) {  // data_offset counts the header, which holds it: until stable
    text = text_at(offset);
    const size_t aligned = (24 + text.size() + 63) / 64 * 64;  // the layout's 64-byte data offset
    if (offset == aligned) break;
    offset = aligned;
  }
  std::string file = sample.substr(0, 16) + std::string(8, '\0') + text + std::string(offset - 24 - text.size(), '\0');
  for (int b = 0; b < 8; ++b) file[16 + b] = char(uint64_t(text.size()) >> (8 * b) & 0xff);
  const uint32_t crc = uint32_t(crc32(0L, reinterpret_cast<const Bytef*>(file.data()), uInt(file.size())));
  for (int b = 0; b < 4; ++b) file += char(crc >> (8 * b) & 0xff);
  return file + sample.substr(sample.size() - 4);
}
// A header of one tensor "t" with no bytes, its entry's fields `fields`, and `extra` at the top.
std::string OneTensor(const std::string& fields, const std::string& extra = "") {
  return Sealed([&](size_t offset) {
    return R"({"version":)" + std::to_string(nn::ModelFile::kVersion) + R"(,"net":"","meta":{},"tensors":[{"name":"t",)" +
           R"("dtype":"float32",)" + fields + R"(}],"data_offset":)" + std::to_string(offset) + extra + "}";
  });
}

// A checksum-valid header whose shape entry is a list nested 100,000 deep: an error naming the
// tensor (dumping the entry into the message recursed until the stack ran out: SIGSEGV).
TEST(ModelFile, ADeeplyNestedShapeEntryIsNamedNotDumped) {
  const int depth = 100000;
  const std::string shape = std::string(depth, '[') + "1" + std::string(depth, ']');
  const std::string file = OneTensor(R"("shape":[)" + shape + R"(],"offset":0,"nbytes":0)");
  EXPECT_THAT(test::ErrorOf([&] { nn::DecodeModelFile(file, "deep.model"); }),
              ::testing::HasSubstr("model file 'deep.model': tensor 't' has a shape entry that is no whole number: "
                                   "a JSON array"));
}

// Checksum-valid headers the Python reader refuses, refused here too: nlohmann ended its input
// at a NUL (JSON, a NUL and junk were read), kept the last of a key given twice (a doubled
// "tensors" or "shape" was read as its second), and read 2^80 as a double ("no whole number").
TEST(ModelFile, RefusesANulAKeyTwiceAndAnOutOfRangeNumber) {
  const std::string fields = R"("shape":[0],"offset":0,"nbytes":0)";
  EXPECT_NO_THROW(nn::DecodeModelFile(OneTensor(fields), "ok.model"));
  const std::string nul = Sealed([&](size_t offset) {
    return R"({"version":1,"net":"","meta":{},"tensors":[],"data_offset":)" + std::to_string(offset) +
           std::string("}\0\xff junk", 8);
  });
  EXPECT_THAT(test::ErrorOf([&] { nn::DecodeModelFile(nul, "nul.model"); }),
              ::testing::HasSubstr("model file 'nul.model' has a malformed header: a NUL byte at offset "));
  EXPECT_THAT(test::ErrorOf([&] { nn::DecodeModelFile(OneTensor(fields, R"(,"tensors":[])"), "x.model"); }),
              ::testing::HasSubstr("model file 'x.model' has a malformed header: the key \"tensors\" appears twice "
                                   "in one object"));
  EXPECT_THAT(test::ErrorOf([&] { nn::DecodeModelFile(OneTensor(fields + R"(,"shape":[0,0])"), "x.model"); }),
              ::testing::HasSubstr("the key \"shape\" appears twice"));
  EXPECT_THAT(test::ErrorOf([&] {
                nn::DecodeModelFile(OneTensor(R"("shape":[0],"offset":1208925819614629174706176,"nbytes":0)"), "x.model");
              }),
              ::testing::HasSubstr("tensor 't' has an offset past a 64-bit integer's range: "));
  EXPECT_THAT(test::ErrorOf([&] { nn::DecodeModelFile(OneTensor(R"("shape":[0],"offset":0.5,"nbytes":0)"), "x.model"); }),
              ::testing::HasSubstr("tensor 't' has an offset that is no whole number: 0.5"));
  // Below 2^64 but written as a double: no whole number, as the Python reader says.
  EXPECT_THAT(test::ErrorOf([&] { nn::DecodeModelFile(OneTensor(R"("shape":[0],"offset":1e19,"nbytes":0)"), "x.model"); }),
              ::testing::HasSubstr("tensor 't' has an offset that is no whole number: 1e+19"));
  // Past a double: nlohmann's error, cut (it quoted all 5,000 digits).
  const std::string e = test::ErrorOf([&] {
    nn::DecodeModelFile(OneTensor(R"("shape":[0],"offset":)" + std::string(5000, '9') + R"(,"nbytes":0)"), "x.model");
  });
  EXPECT_THAT(e, ::testing::HasSubstr("model file 'x.model' has a malformed header: "));
  EXPECT_THAT(e, ::testing::HasSubstr("number overflow"));
  EXPECT_LT(e.size(), 600u) << e;
}

// A field that should be text and is not is named (nlohmann's "type must be string, but is
// number" named none): net, a meta entry, meta itself.
TEST(ModelFile, AHeaderFieldThatIsNoTextIsNamed) {
  const auto header = [](const std::string& net, const std::string& meta) {
    return Sealed([&](size_t offset) {
      return R"({"version":1,"net":)" + net + R"(,"meta":)" + meta + R"(,"tensors":[],"data_offset":)" +
             std::to_string(offset) + "}";
    });
  };
  const auto error = [](const std::string& file) {
    return test::ErrorOf([&] { nn::DecodeModelFile(file, "x.model"); });
  };
  EXPECT_NO_THROW(nn::DecodeModelFile(header(R"("")", R"({"round":"3"})"), "ok.model"));
  EXPECT_THAT(error(header(R"("")", R"({"round":3})")),
              ::testing::HasSubstr("model file 'x.model' has a malformed header: meta's 'round' is 3, not text"));
  EXPECT_THAT(error(header("7", "{}")),
              ::testing::HasSubstr("model file 'x.model' has a malformed header: net is 7, not text"));
  EXPECT_THAT(error(header(R"("")", "[]")),
              ::testing::HasSubstr("model file 'x.model' has a malformed header: meta is a JSON array, not an object"));
}

// The writer keeps the reader's rules: a ModelFile built in code with a name twice, a value that
// is not finite or a negative dimension was written, then refused by every reader.
TEST(ModelFile, WritesNoFileItsReaderRefuses) {
  nn::ModelFile twice = Sample();
  twice.tensors.push_back(twice.tensors[0]);
  nn::ModelFile nan = Sample();
  nan.tensors[0].data[1] = std::numeric_limits<float>::quiet_NaN();
  nn::ModelFile negative = Sample();
  negative.tensors[0].shape = {-1, -int64_t(negative.tensors[0].data.size())};
  const std::string name = Sample().tensors[0].name;
  EXPECT_THAT(test::ErrorOf([&] { nn::EncodeModelFile(twice); }), ::testing::HasSubstr("'" + name + "' appears twice"));
  EXPECT_THAT(test::ErrorOf([&] { nn::EncodeModelFile(nan); }),
              ::testing::HasSubstr("'" + name + "' holds nan at element 1; a model's values are finite"));
  EXPECT_THAT(test::ErrorOf([&] { nn::EncodeModelFile(negative); }), ::testing::HasSubstr("has a bad shape"));
}

// A NaN weight loaded quietly gave wrong predictions with success (a relu made it 0 on its way).
TEST(ModelFile, RefusesNonFiniteValuesAndTellsItsOwnFiles) {
  // The writer refuses such a file (below): the value is put into a finite file's bytes, and
  // the checksum (the 4 bytes before the end mark) made again.
  for (const float v : {std::numeric_limits<float>::quiet_NaN(), -std::numeric_limits<float>::infinity()}) {
    nn::ModelFile m = Sample();
    const float marker = 12345.25f;
    m.tensors[1].data[2] = marker;
    std::string file = nn::EncodeModelFile(m);
    const size_t at = file.find(std::string(reinterpret_cast<const char*>(&marker), 4));
    ASSERT_NE(at, std::string::npos);
    std::memcpy(file.data() + at, &v, 4);
    const size_t body = file.size() - 8;
    const uint32_t crc = uint32_t(crc32(0L, reinterpret_cast<const Bytef*>(file.data()), uInt(body)));
    for (int b = 0; b < 4; ++b) file[body + size_t(b)] = char(crc >> (8 * b) & 0xff);
    std::ostringstream want;
    want << "model file 'nf.model': tensor 'fc1.bias' holds " << v << " at element 2; a model's values are finite";
    EXPECT_THAT(test::ErrorOf([&] { nn::DecodeModelFile(file, "nf.model"); }), ::testing::HasSubstr(want.str()));
  }
  const std::string path = TempPath("own.model"), text = TempPath("own.txt");
  nn::WriteModelFile(path, Sample());
  std::ofstream(text) << "UMBRAMD";
  EXPECT_TRUE(nn::IsModelFile(path));
  EXPECT_FALSE(nn::IsModelFile(text));
  EXPECT_FALSE(nn::IsModelFile(TempPath("missing")));
  EXPECT_FALSE(nn::IsModelFile("/tmp"));
  std::filesystem::remove(path);
  std::filesystem::remove(text);
}

TEST(ModelFile, WritesAtomicallyAndKeepsTheOldFileOnFailure) {
  const std::string path = TempPath("atomic.model");
  nn::WriteModelFile(path, Sample());
  nn::ModelFile m2 = Sample();
  m2.meta["round"] = "8";
  nn::WriteModelFile(path, m2);
  EXPECT_EQ(nn::ReadModelFile(path).meta.at("round"), "8");
  for (auto& f : std::filesystem::directory_iterator(std::filesystem::temp_directory_path()))
    EXPECT_EQ(f.path().string().find(path + ".tmp"), std::string::npos) << "temporary file left behind";
  // A write that cannot happen (no such folder) is an error naming the file.
  EXPECT_THAT(test::ErrorOf([&] { nn::WriteModelFile(TempPath("no/such/dir/x.model"), Sample()); }), ::testing::HasSubstr("cannot write model file"));
  // An unencodable model (shape and data disagree) fails before the old file is touched.
  nn::ModelFile bad = Sample();
  bad.tensors[0].shape = {5, 5};
  EXPECT_THAT(test::ErrorOf([&] { nn::WriteModelFile(path, bad); }), ::testing::HasSubstr("shape holds 25 values but 6 are given"));
  EXPECT_EQ(nn::ReadModelFile(path).meta.at("round"), "8");
  {  // a disk that fills halfway through the write: one error, and the old model stays
    const test::FileSizeLimit full(64);
    nn::ModelFile m3 = Sample();
    m3.meta["round"] = "9";
    EXPECT_THAT(test::ErrorOf([&] { nn::WriteModelFile(path, m3); }),
                ::testing::AllOf(::testing::HasSubstr("writing model file '" + path + "' failed"),
                                 ::testing::HasSubstr("; it is left as it was")));
  }
  EXPECT_EQ(nn::ReadModelFile(path).meta.at("round"), "8");
  for (auto& f : std::filesystem::directory_iterator(std::filesystem::temp_directory_path()))
    EXPECT_EQ(f.path().string().find(path + ".tmp"), std::string::npos) << "temporary file left behind";
  std::filesystem::remove(path);
}

TEST(Checkpoint, RestoresATrainerExactlyWithPendingGradients) {
  for (int period : {1, 2}) {
    SCOPED_TRACE(period);
    nn::UpdaterSettings us;
    us.Set("updater", "adam");
    us.Set("lr", "0.05");
    nn::Trainer<cpu> a(Spec(), us, period);
    for (uint64_t i = 0; i < 3; ++i) a.Step(Batch(i).x.view(), Batch(i).y.view());
    // Through bytes, as a file would.
    const nn::ModelFile saved = nn::DecodeModelFile(nn::EncodeModelFile(nn::SaveCheckpoint(a, "net")), "mem");
    EXPECT_EQ(saved.Find("fc1.wmat:grad") != nullptr, period == 2);
    EXPECT_NE(saved.Find("bn.moving_mean"), nullptr);
    for (uint64_t i = 3; i < 7; ++i) a.Step(Batch(i).x.view(), Batch(i).y.view());

    nn::NetSpec other = Spec();
    other.seed = 1234;
    nn::Trainer<cpu> b(other, us, period);
    nn::RestoreCheckpoint(b, saved, "mem");
    EXPECT_EQ(b.steps(), 3);
    for (uint64_t i = 3; i < 7; ++i) b.Step(Batch(i).x.view(), Batch(i).y.view());
    const nn::ModelFile fa = nn::SaveCheckpoint(a, "net"), fb = nn::SaveCheckpoint(b, "net");
    ASSERT_EQ(fa.tensors.size(), fb.tensors.size());
    for (size_t k = 0; k < fa.tensors.size(); ++k) {
      EXPECT_EQ(fa.tensors[k].name, fb.tensors[k].name);
      EXPECT_EQ(fa.tensors[k].data, fb.tensors[k].data) << fa.tensors[k].name << " differs after resuming";
    }
  }
}

// update_period may change at a resume when no gradients are pending: the new run's periods start
// at the resume (3 steps saved under period 1, then period 2: the first update after 2 more
// steps, not after 1 as the step count's remainder would have it). With gradients pending, the
// file and the run must agree; another updater's state is named as such.
TEST(Checkpoint, AnotherUpdatePeriodOrUpdaterAtAResume) {
  nn::UpdaterSettings us;
  us.Set("lr", "0.05");
  us.Set("momentum", "0.9");
  nn::Trainer<cpu> a(Spec(), us, 1);
  for (uint64_t i = 0; i < 3; ++i) a.Step(Batch(i).x.view(), Batch(i).y.view());
  const nn::ModelFile saved = nn::DecodeModelFile(nn::EncodeModelFile(nn::SaveCheckpoint(a, "net")), "mem");
  EXPECT_EQ(saved.meta.at("update_period"), "1");
  EXPECT_EQ(saved.meta.at("pending_steps"), "0");
  nn::Trainer<cpu> b(Spec(), us, 2);
  nn::RestoreCheckpoint(b, saved, "a.model");
  EXPECT_EQ(b.pending_steps(), 0);
  b.Step(Batch(3).x.view(), Batch(3).y.view());
  EXPECT_TRUE(b.pending_gradients());
  EXPECT_EQ(b.updates(), a.updates());
  const nn::ModelFile half = nn::SaveCheckpoint(b, "net");
  EXPECT_EQ(half.meta.at("pending_steps"), "1");
  b.Step(Batch(4).x.view(), Batch(4).y.view());
  EXPECT_EQ(b.updates(), a.updates() + 1);
  // Pending gradients of period 2 into a run of period 3.
  nn::Trainer<cpu> c(Spec(), us, 3);
  EXPECT_THAT(test::ErrorOf([&] { nn::RestoreCheckpoint(c, half, "b.model"); }),
              ::testing::HasSubstr("model file 'b.model' holds the gradients of 1 step(s) summed for an update every "
                                   "update_period = 2 steps, but this run has update_period = 3: resume with "
                                   "update_period = 2"));
  // Meta entries written by hand (the checksum covers whatever was written).
  for (const auto& [key, value, what] : std::vector<std::tuple<std::string, std::string, std::string>>{
           {"steps", "x", "its steps = 'x' is not an integer"},
           {"update_period", "0", "its update_period = 0 is not a period"},
           {"pending_steps", "99999999999999999999", "its pending_steps = '99999999999999999999' is out of range"},
           {"pending_steps", "5", "its pending_steps = 5 is outside 0 .. update_period - 1 = 2"}}) {
    nn::ModelFile odd = half;
    odd.meta[key] = value;
    if (key == "pending_steps" && value == "5") odd.meta["update_period"] = "3";
    EXPECT_THAT(test::ErrorOf([&] { nn::RestoreCheckpoint(c, odd, "o.model"); }), ::testing::HasSubstr(what)) << key;
  }
  nn::UpdaterSettings adam = us;
  adam.Set("updater", "adam");
  // Another updater's state (sgd's into adam, adam's into sgd): the weights and the count go
  // on, the state starts from 0 (as cxxnet's resumes; it saved none), and the answer says so.
  nn::Trainer<cpu> d(Spec(), adam, 1);
  size_t tensors_with_updater = 0;  // weights, not counting moving statistics
  d.VisitUpdaterState([&](const std::string& name, Tensor<cpu, 2>) { tensors_with_updater += name.ends_with(":momentum"); });
  EXPECT_EQ(nn::RestoreCheckpoint(d, saved, "a.model").size(), tensors_with_updater);
  EXPECT_EQ(d.updates(), a.updates());
  const auto tensors = [](nn::Trainer<cpu>& t) {
    std::map<std::string, std::vector<float>> out;
    for (const nn::ModelTensor& x : nn::SaveCheckpoint(t, "net").tensors) out[x.name] = x.data;
    return out;
  };
  const auto from_sgd = tensors(a), in_adam = tensors(d);
  for (const auto& [name, values] : in_adam) {
    if (name.ends_with(":momentum") || name.ends_with(":second_moment"))
      EXPECT_TRUE(std::ranges::all_of(values, [](float v) { return v == 0; })) << name;
    else
      EXPECT_EQ(values, from_sgd.at(name)) << name;
  }
  nn::Trainer<cpu> e(Spec(), adam, 1);
  e.Step(Batch(0).x.view(), Batch(0).y.view());
  nn::Trainer<cpu> f(Spec(), us, 1);
  EXPECT_EQ(nn::RestoreCheckpoint(f, nn::SaveCheckpoint(e, "net"), "e.model").size(), tensors_with_updater);
  EXPECT_TRUE(nn::RestoreCheckpoint(f, saved, "a.model").empty());  // the same updater's: restored
  EXPECT_EQ(tensors(f), from_sgd);
  // Weight by weight: a layer's own updater changed (fc1:updater = adam) restarts fc1's state
  // alone; the others' momentum is read (a whole-net rule refused the file as another network's).
  nn::UpdaterSettings fc1_adam = us;
  fc1_adam.Set("fc1:updater", "adam");
  nn::Trainer<cpu> g(Spec(), fc1_adam, 1);
  EXPECT_EQ(nn::RestoreCheckpoint(g, saved, "a.model"), (std::vector<std::string>{"fc1.bias", "fc1.wmat"}));
  for (const auto& [name, values] : tensors(g)) {
    if (name.rfind("fc1.", 0) == 0 && (name.ends_with(":momentum") || name.ends_with(":second_moment")))
      EXPECT_TRUE(std::ranges::all_of(values, [](float v) { return v == 0; })) << name;
    else
      EXPECT_EQ(values, from_sgd.at(name)) << name;
  }
  // ... and back: fc1's adam moments into sgd restart it; the rest is read.
  g.Step(Batch(0).x.view(), Batch(0).y.view());
  nn::Trainer<cpu> h(Spec(), us, 1);
  EXPECT_EQ(nn::RestoreCheckpoint(h, nn::SaveCheckpoint(g, "net"), "g.model"),
            (std::vector<std::string>{"fc1.bias", "fc1.wmat"}));
  // A state set of no updater (one momentum missing, or one of a weight the net lacks) is a
  // damaged or another net's file: an error, as before, not a restart.
  nn::ModelFile partial = saved;
  std::erase_if(partial.tensors, [](const nn::ModelTensor& t) { return t.name == "fc1.bias:momentum"; });
  EXPECT_THAT(test::ErrorOf([&] { nn::RestoreCheckpoint(f, partial, "p.model"); }),
              ::testing::HasSubstr("model file 'p.model' does not match the network: it has no 'fc1.bias:momentum'"));
  nn::ModelFile stray = saved;
  stray.tensors.push_back(stray.tensors.back());
  stray.tensors.back().name = "fc9.wmat:momentum";
  EXPECT_THAT(test::ErrorOf([&] { nn::RestoreCheckpoint(f, stray, "s.model"); }),
              ::testing::HasSubstr("'fc9.wmat:momentum' is not in the network of the config"));
  nn::ModelFile none = saved;
  std::erase_if(none.tensors, [](const nn::ModelTensor& t) { return t.name.ends_with(":momentum"); });
  EXPECT_THAT(test::ErrorOf([&] { nn::RestoreCheckpoint(f, none, "n.model"); }), ::testing::HasSubstr("it has no '"));
}

// A weight that went NaN while the loss stayed finite (a relu after it outputs 0) is no model.
TEST(Checkpoint, RefusesNonFiniteWeights) {
  nn::UpdaterSettings us;
  nn::Trainer<cpu> a(Spec(), us);
  a.Step(Batch(0).x.view(), Batch(0).y.view());
  EXPECT_NO_THROW(nn::SaveCheckpoint(a, "net"));
  a.net().VisitWeights([](const std::string& name, Tensor<cpu, 2> w, Tensor<cpu, 2>) {
    if (name == "fc1.wmat") w.dptr_[3] = std::numeric_limits<float>::quiet_NaN();
  });
  EXPECT_THAT(test::ErrorOf([&] { nn::SaveCheckpoint(a, "net"); }),
              ::testing::HasSubstr("'fc1.wmat' holds nan after 1 steps, although the loss stayed finite: the model is "
                                   "not saved"));
}

// A counter read back negative (a hand-made file whose checksum was mended) is refused: the
// learning-rate schedules count from it.
TEST(Checkpoint, RefusesNegativeCounters) {
  nn::UpdaterSettings us;
  nn::Trainer<cpu> a(Spec(5), us);
  nn::ModelFile m = nn::SaveCheckpoint(a, "net");
  m.meta["updates"] = "-7";
  EXPECT_THAT(test::ErrorOf([&] { nn::RestoreCheckpoint(a, m, "a.model"); }),
              ::testing::HasSubstr("model file 'a.model': its steps = 0 and updates = -7 must not be negative"));
}

TEST(Checkpoint, RefusesAnotherNetworkNamingTheWeight) {
  nn::UpdaterSettings us;
  nn::Trainer<cpu> a(Spec(5), us), b(Spec(7), us);
  const nn::ModelFile m = nn::SaveCheckpoint(a, "net");
  EXPECT_THAT(test::ErrorOf([&] { nn::RestoreCheckpoint(b, m, "a.model"); }), ::testing::HasSubstr("'fc1.wmat' has shape (5,6)"));
  nn::ModelFile extra = m;
  extra.tensors.push_back({"fc9.wmat", {1, 1}, {0}});
  EXPECT_THAT(test::ErrorOf([&] { nn::RestoreCheckpoint(a, extra, "a.model"); }), ::testing::HasSubstr("'fc9.wmat' is not in the network"));
  nn::ModelFile missing = m;
  missing.tensors.erase(missing.tensors.begin());
  EXPECT_THAT(test::ErrorOf([&] { nn::RestoreCheckpoint(a, missing, "a.model"); }), ::testing::HasSubstr("it has no 'fc1.wmat'"));
  // Finetuning copies what fits by name and shape and leaves the rest.
  const auto copied = nn::LoadWeights(b.net(), m, "a.model", false);
  EXPECT_EQ(std::find(copied.begin(), copied.end(), "fc1.wmat"), copied.end());
  EXPECT_NE(std::find(copied.begin(), copied.end(), "fc2.bias"), copied.end());
  EXPECT_THAT(test::ErrorOf([&] { nn::LoadWeights(b.net(), m, "a.model", true); }), ::testing::HasSubstr("has shape (5,6)"));
  // Prediction (strict) refuses a file with a weight the net lacks (it predicted from the shared
  // weights alone); the updater's state in it is no weight, and finetuning leaves extras alone.
  EXPECT_THAT(test::ErrorOf([&] { nn::LoadWeights(a.net(), extra, "a.model", true); }),
              ::testing::HasSubstr("its weight 'fc9.wmat' is not in the network of the config"));
  EXPECT_NO_THROW(nn::LoadWeights(a.net(), extra, "a.model", false));
  nn::ModelFile state = m;
  state.tensors.push_back({"fc1.wmat:momentum", {1, 1}, {0}});
  EXPECT_NO_THROW(nn::LoadWeights(a.net(), state, "a.model", true));
  // A ModelFile built in code whose values are fewer than its shape holds (the reader's files
  // never are): an error, not a read past them.
  nn::ModelFile short_data = m;
  short_data.tensors[0].data.resize(1);
  EXPECT_THAT(test::ErrorOf([&] { nn::LoadWeights(a.net(), short_data, "mem", false); }),
              ::testing::HasSubstr("model file 'mem': 'fc1.wmat' has shape (5,6) but holds 1 values"));
}

}  // namespace
}  // namespace umbra
