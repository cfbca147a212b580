// fixconn through the layer harness: shapes, a known answer (dense and cxxnet's sparse file
// format), gradient check of the input (W is fixed, so none for weights), no weight shown to the
// visitor, and every malformed file rejected with the layer, the file and the line named.
#include <fstream>

#include "harness/layer_check.h"

namespace umbra {
namespace {
UMBRA_COVERS_LAYER("fixconn");

// Writes `text` to a file under the gtest temporary directory and returns its path.
std::string WriteTemp(const std::string& name, const std::string& text) {
  const std::string path = ::testing::TempDir() + "umbra_fixconn_" + name;
  std::ofstream(path) << text;
  return path;
}

test::KV Params(const std::string& path, int nhidden, const std::string& format = "dense") {
  return {{"nhidden", std::to_string(nhidden)}, {"fixconn_weight", path}, {"fixconn_format", format}};
}

// W (2, 4) = [[1, 0, 2, 0], [0, -1, 0, 0.5]]; x (3, 2, 1, 2) with row i = (i, i+1, i+2, i+3).
void CheckKnownAnswer(const test::KV& params) {
  test::LayerRig<cpu, float> rig("fixconn", params, {Shape4(3, 2, 1, 2)});
  ASSERT_EQ(rig.out[0]->shape, Shape4(3, 1, 1, 2));
  for (index_t i = 0; i < 12; ++i) rig.in[0]->data.dptr_[i] = float(i / 4 + i % 4);
  rig.Forward();
  for (index_t i = 0; i < 3; ++i) {
    EXPECT_FLOAT_EQ(rig.out[0]->data.dptr_[2 * i], i + 2 * (i + 2));
    EXPECT_FLOAT_EQ(rig.out[0]->data.dptr_[2 * i + 1], -(i + 1) + 0.5f * (i + 3));
  }
  // gin = gout W; with gout = (1, 2) in every row: (1, -2, 2, 1).
  for (index_t i = 0; i < 6; ++i) rig.out[0]->grad.dptr_[i] = float(1 + i % 2);
  rig.layer->Backward(true, rig.in, rig.out);
  const float g[4] = {1, -2, 2, 1};
  for (index_t i = 0; i < 12; ++i) EXPECT_FLOAT_EQ(rig.in[0]->grad.dptr_[i], g[i % 4]) << i;
}

TEST(Fixconn, KnownAnswerDense) {
  CheckKnownAnswer(Params(WriteTemp("dense", "1 0 2 0\n\n  0 -1 0 0.5  \n"), 2));
}

TEST(Fixconn, KnownAnswerSparseCxxnetFormat) {
  // cxxnet read "nrow ncol nonzero" then 0-based "row col value" triplets; missing entries are 0.
  CheckKnownAnswer(Params(WriteTemp("sparse", "2 4 4\n0 0 1\n0 2 2\n1 1 -1\n1 3 0.5\n"), 2, "sparse"));
}

TEST(Fixconn, NoTrainableWeightAndNoWeightGradient) {
  test::LayerRig<cpu, float> rig("fixconn", Params(WriteTemp("nw", "1 2\n3 4\n5 6\n"), 3),
                                 {Shape4(2, 1, 1, 2)});
  int shown = 0;
  rig.layer->VisitWeights([&](const std::string&, Tensor<cpu, 2>, Tensor<cpu, 2>) { ++shown; });
  EXPECT_EQ(shown, 0);
  // Without prop_grad, Backward leaves the input gradient alone.
  rig.in[0]->grad = 7.f;
  rig.out[0]->grad = 1.f;
  rig.layer->Backward(false, rig.in, rig.out);
  for (index_t i = 0; i < 4; ++i) EXPECT_EQ(rig.in[0]->grad.dptr_[i], 7.f);
}

TEST(Fixconn, GradientCheck) {
  test::GradCheck("fixconn", Params(WriteTemp("g1", "0.5 -1 2 0 1 3\n1 1 1 1 1 1\n-2 0.25 0 0 1 -1\n"), 3),
                  {Shape4(4, 3, 2, 1)});
  test::GradCheck("fixconn", Params(WriteTemp("g2", "2 6 3\n0 0 1.5\n1 5 -2\n0 3 0.5\n"), 2, "sparse"),
                  {Shape4(2, 1, 1, 6)});
}

TEST(Fixconn, SaveLoadRoundTrip) {
  test::SaveLoadRoundTrip("fixconn", Params(WriteTemp("rt", "1 2 3\n-1 0 4\n"), 2), {Shape4(3, 1, 1, 3)});
}

// The error of InferShape on a (2, 3, 1, 1) input (fan_in 3) with nhidden 2 and the given file.
std::string FileError(const std::string& name, const std::string& text, const std::string& format = "dense") {
  auto layer = nn::LayerRegistry<cpu>::Get().Create("fixconn");
  layer->set_name("fx7");
  for (auto& [k, v] : Params(WriteTemp(name, text), 2, format)) layer->SetParam(k, v);
  return test::ErrorOf([&] { layer->InferShape({Shape4(2, 3, 1, 1)}); });
}

void ExpectMentions(const std::string& m, const std::vector<std::string>& parts) {
  for (auto& p : parts) EXPECT_NE(m.find(p), std::string::npos) << "'" << p << "' not in: " << m;
}

TEST(Fixconn, MalformedFilesNameLayerFileAndLine) {
  ExpectMentions(FileError("short", "1 2 3\n4 5\n"), {"fx7", "umbra_fixconn_short", "line 2", "has 2 numbers", "3"});
  ExpectMentions(FileError("long", "1 2 3 4\n4 5 6\n"), {"fx7", "umbra_fixconn_long", "line 1", "has 4"});
  ExpectMentions(FileError("nan", "1 2 3\n4 x5 6\n"), {"fx7", "umbra_fixconn_nan", "line 2", "'x5'"});
  ExpectMentions(FileError("inf", "1 2 inf\n4 5 6\n"), {"line 1", "'inf'"});
  ExpectMentions(FileError("big", "1 2 3\n4 1e39 6\n"), {"line 2", "'1e39' is not a finite float"});  // inf as a float
  ExpectMentions(FileError("few", "1 2 3\n"), {"fx7", "umbra_fixconn_few", "has 1 rows", "nhidden = 2"});
  ExpectMentions(FileError("many", "1 2 3\n\n4 5 6\n7 8 9\n"), {"fx7", "line 4", "more than nhidden = 2"});
  ExpectMentions(FileError("empty", ""), {"has 0 rows"});
  const std::string missing = ::testing::TempDir() + "umbra_fixconn_no_such_file";
  auto layer = nn::LayerRegistry<cpu>::Get().Create("fixconn");
  layer->set_name("fx7");
  for (auto& [k, v] : Params(missing, 2)) layer->SetParam(k, v);
  ExpectMentions(test::ErrorOf([&] { layer->InferShape({Shape4(2, 3, 1, 1)}); }),
                 {"fx7", "cannot open", missing});
  // The same file fits one input and not another: checked when fan_in is known.
  EXPECT_EQ(FileError("ok", "1 2 3\n4 5 6\n"), "no error");
}

TEST(Fixconn, MalformedSparseFiles) {
  ExpectMentions(FileError("s_shape", "2 4 0\n", "sparse"), {"fx7", "line 1", "2 x 4", "2 x 3"});
  ExpectMentions(FileError("s_row", "2 3 1\n2 0 1\n", "sparse"), {"line 2", "row 2", "[0, 2)"});
  ExpectMentions(FileError("s_col", "2 3 1\n1 -1 1\n", "sparse"), {"line 2", "'-1'", "column"});
  ExpectMentions(FileError("s_val", "2 3 1\n1 1 abc\n", "sparse"), {"line 2", "'abc'"});
  ExpectMentions(FileError("s_few", "2 3 2\n1 1 1\n", "sparse"), {"umbra_fixconn_s_few", "ends at line 2"});
  ExpectMentions(FileError("s_more", "2 3 1\n1 1 1\n0 0 1\n", "sparse"), {"line 3", "'0'", "1 entries"});
  ExpectMentions(FileError("s_head", "", "sparse"), {"ends at line 0", "header"});
  ExpectMentions(FileError("s_twice", "2 3 3\n1 2 1\n0 0 1\n1 2 5\n", "sparse"),
                 {"umbra_fixconn_s_twice", "line 4", "entry (1, 2) was given before, on line 2"});
}

TEST(Fixconn, BadParametersNameLayerAndKey) {
  auto layer = nn::LayerRegistry<cpu>::Get().Create("fixconn");
  layer->set_name("fx9");
  ExpectMentions(test::ErrorOf([&] { layer->InferShape({Shape4(1, 1, 1, 3)}); }), {"fx9", "nhidden"});
  layer->SetParam("nhidden", "2");
  ExpectMentions(test::ErrorOf([&] { layer->InferShape({Shape4(1, 1, 1, 3)}); }), {"fx9", "fixconn_weight"});
  ExpectMentions(test::ErrorOf([&] { layer->SetParam("nhidden", "0"); }), {"fx9", "nhidden"});
  ExpectMentions(test::ErrorOf([&] { layer->SetParam("fixconn_format", "csv"); }),
                 {"fx9", "fixconn_format", "sparse"});
  layer->SetParam("fixconn_weight", WriteTemp("bp", "1\n2\n"));
  ExpectMentions(test::ErrorOf([&] { layer->InferShape({Shape4(1, 0, 1, 3)}); }), {"fx9", "empty input"});
  EXPECT_FALSE(layer->SetParam("no_bias", "1"));  // no bias: W is all there is
  // 2^24 x 2^40 wrapped to an empty matrix that the file's entry was then written past.
  layer->SetParam("nhidden", "16777216");
  layer->SetParam("fixconn_format", "sparse");
  layer->SetParam("fixconn_weight", WriteTemp("huge", "16777216 1099511627776 1\n0 0 1\n"));
  ExpectMentions(test::ErrorOf([&] { layer->InferShape({Shape4(1, 1, 1, index_t(1) << 40)}); }),
                 {"fx9", "16777216 x 1099511627776", "more than " + umbra::detail::HostMemoryLimit().what + " memory"});
}

}  // namespace
}  // namespace umbra
