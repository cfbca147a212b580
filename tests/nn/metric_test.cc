// Metrics on small known inputs.
#include "harness/tensor_util.h"
#include "umbra/nn/metric.h"

namespace umbra {
namespace {

TEST(Metric, ErrorLogLossRecall) {
  TensorContainer<cpu, 2> p(Shape2(3, 3)), y(Shape2(3, 1));
  const float pv[] = {0.7f, 0.2f, 0.1f, 0.1f, 0.3f, 0.6f, 0.3f, 0.4f, 0.3f};
  std::copy(pv, pv + 9, p.dptr_);
  y.dptr_[0] = 0, y.dptr_[1] = 1, y.dptr_[2] = 2;
  nn::Metric err("error"), ll("logloss"), r1("rec@1"), r2("rec@2");
  for (auto* m : {&err, &ll, &r1, &r2}) m->Add(p.view(), y.view());
  EXPECT_NEAR(err.Get(), 2.0 / 3, 1e-9);
  EXPECT_NEAR(ll.Get(), -(std::log(0.7) + std::log(0.3) + std::log(0.3)) / 3, 1e-6);
  EXPECT_NEAR(r1.Get(), 1.0 / 3, 1e-9);
  // Label 2 in row 3 ties class 0 for second place: equal scores rank by class index, so it is
  // third (cxxnet's sort left ties in no stated order; counting them as hits gave rec@N = 1 to
  // an output of equal scores).
  EXPECT_NEAR(r2.Get(), 2.0 / 3, 1e-9);
  TensorContainer<cpu, 2> flat(Shape2(3, 4), 0.25f);  // every class alike
  nn::Metric ferr("error"), frec1("rec@1"), frec2("rec@2");
  for (auto* m : {&ferr, &frec1, &frec2}) m->Add(flat.view(), y.view());
  EXPECT_NEAR(ferr.Get(), 2.0 / 3, 1e-9);  // arg-max is class 0
  EXPECT_NEAR(frec1.Get(), 1 - ferr.Get(), 1e-9);
  EXPECT_NEAR(frec2.Get(), 2.0 / 3, 1e-9);  // classes 0 and 1
  err.Clear();
  err.Add(p.view(), y.view(), 1);  // a padded batch: only the first row counts
  EXPECT_EQ(err.Get(), 0.0);
}

// A one-wide output is the probability of class 1 (a logistic's): error counts p > 0.5 against
// labels 0/1, logloss is the binary cross-entropy (label 1 was refused: no class index of a
// one-wide output but 0).
TEST(Metric, OneWideOutputIsABinaryPrediction) {
  TensorContainer<cpu, 2> p(Shape2(4, 1)), y(Shape2(4, 1));
  const float pv[] = {0.9f, 0.2f, 0.6f, 0.5f}, yv[] = {1, 0, 0, 1};
  std::copy(pv, pv + 4, p.dptr_);
  std::copy(yv, yv + 4, y.dptr_);
  nn::Metric err("error"), ll("logloss");
  err.Add(p.view(), y.view());
  ll.Add(p.view(), y.view());
  EXPECT_NEAR(err.Get(), 2.0 / 4, 1e-9);  // 0.6 for label 0, and 0.5 (not above) for label 1
  EXPECT_NEAR(ll.Get(), -(std::log(0.9) + std::log(0.8) + std::log(0.4) + std::log(0.5)) / 4, 1e-6);
  y.dptr_[3] = 0.5f;  // a soft target: logloss takes it, error does not
  EXPECT_HAS(test::ErrorOf([&] { err.Add(p.view(), y.view()); }),
             "metric error: label 0.5 of row 3 of the batch is not 0 or 1 (a one-wide output is a binary prediction");
  EXPECT_NO_THROW(ll.Add(p.view(), y.view()));
  y.dptr_[3] = 2;
  EXPECT_HAS(test::ErrorOf([&] { ll.Add(p.view(), y.view()); }), "label 2 of row 3 of the batch is outside [0, 1]");
}

// Labels as wide as the output (multi_logistic's multi-label targets) are a binary prediction
// per column: error and logloss average the columns per instance. Column 0 read as a class
// index gave meaningless figures with no word; rec@N refuses them.
TEST(Metric, MultiLabelScoresEachColumn) {
  TensorContainer<cpu, 2> p(Shape2(2, 3)), y(Shape2(2, 3));
  const float pv[] = {0.9f, 0.2f, 0.6f, 0.1f, 0.7f, 0.4f}, yv[] = {1, 0, 0, 0, 1, 1};
  std::copy(pv, pv + 6, p.dptr_);
  std::copy(yv, yv + 6, y.dptr_);
  nn::Metric err("error"), ll("logloss");
  err.Add(p.view(), y.view());
  ll.Add(p.view(), y.view());
  EXPECT_NEAR(err.Get(), (1.0 / 3 + 1.0 / 3) / 2, 1e-9);  // 0.6 for 0 in row 0, 0.4 for 1 in row 1
  const double row0 = -(std::log(0.9) + std::log(0.8) + std::log(0.4)) / 3;
  const double row1 = -(std::log(0.9) + std::log(0.7) + std::log(0.4)) / 3;
  EXPECT_NEAR(ll.Get(), (row0 + row1) / 2, 1e-6);
  y.dptr_[4] = 2;
  EXPECT_HAS(test::ErrorOf([&] { err.Add(p.view(), y.view()); }),
             "metric error: label 2 in column 1 of row 1 of the batch is not 0 or 1 (labels as wide as the output");
  TensorContainer<cpu, 2> narrow(Shape2(2, 2), 0.f);
  EXPECT_HAS(test::ErrorOf([&] { err.Add(p.view(), narrow.view()); }),
             "metric error: the labels are 2 wide but the output is 3 wide; labels wider than one are binary targets");
  EXPECT_HAS(test::ErrorOf([&] { nn::Metric("rec@1").Add(p.view(), y.view()); }),
             "metric rec@1: the labels are 3 wide, binary targets, one per output value (multi-label); rec@N ranks");
  // Known when the net is built: the data's label_width against the output.
  EXPECT_HAS(test::ErrorOf([] { nn::Metric("logloss").CheckWidth(3, 2); }), "metric logloss: the labels are 2 wide");
  EXPECT_NO_THROW(nn::Metric("error").CheckWidth(3, 3));
}

TEST(Metric, RmseAndErrors) {
  TensorContainer<cpu, 2> p(Shape2(2, 2), 1.f), y(Shape2(2, 2), 0.f);
  y.dptr_[0] = 3;
  nn::Metric r("rmse");
  r.Add(p.view(), y.view());
  EXPECT_NEAR(r.Get(), std::sqrt((4.0 + 1 + 1 + 1) / 4), 1e-6);
  EXPECT_NE(test::ErrorOf([] { nn::Metric m("accuracy"); }).find("rec@N"), std::string::npos);
  // rec@N: N whole (rec@5x was rec@5) and below the class count (rec@2 of 2 classes is always 1).
  for (const char* name : {"rec@5x", "rec@0", "rec@"})
    EXPECT_NE(test::ErrorOf([&] { nn::Metric m(name); }).find("rec@N needs a whole number N >= 1"), std::string::npos)
        << name;
  nn::Metric all("rec@2");
  EXPECT_NE(test::ErrorOf([&] { all.Add(p.view(), y.view()); })
                .find("metric rec@2 on an output of 2 classes counts every prediction; N must be below 2"),
            std::string::npos);
  nn::Metric e("error");
  // valid rows past the predictions, and labels of no width, were read past their ends.
  TensorContainer<cpu, 2> many(Shape2(100, 1), 0.f), none(Shape2(2, 0));
  EXPECT_HAS(test::ErrorOf([&] { e.Add(p.view(), many.view(), 100); }), "metric error: 100 valid rows of 2 predictions");
  EXPECT_HAS(test::ErrorOf([&] { e.Add(p.view(), none.view()); }), "metric error: labels of width 0");
  TensorContainer<cpu, 2> bad(Shape2(2, 1), 5.f);
  EXPECT_NE(test::ErrorOf([&] { e.Add(p.view(), bad.view()); }).find("label 5"), std::string::npos);
  // As strict as training: a fraction or a small negative number is no class (the cast took it).
  for (const float v : {2.5f, -0.5f, 1.5f, std::numeric_limits<float>::quiet_NaN()}) {
    TensorContainer<cpu, 2> frac(Shape2(2, 1), 0.f);
    frac.dptr_[1] = v;
    const std::string m = test::ErrorOf([&] { e.Add(p.view(), frac.view()); });
    EXPECT_NE(m.find("of row 1 of the batch is not a class index in [0, 2)"), std::string::npos) << v << ": " << m;
  }
  // With the batch's instances (DataBatch::index) the error names the instance, as training's
  // label check does: a row of the last batch named nothing findable in the data.
  TensorContainer<cpu, 2> last(Shape2(2, 1), 0.f);
  last.dptr_[1] = 200;
  EXPECT_NE(test::ErrorOf([&] { e.Add(p.view(), last.view(), 2, {9998, 9999}); })
                .find("metric error: label 200 of row 1 of the batch (instance 9999 of the data, from 0) is not a class"),
            std::string::npos);
}

// A NaN was never the arg-max nor ranked above the label: a net whose every output was NaN
// scored error 0 and rec@N 1. Every metric now refuses a non-finite prediction, naming it.
TEST(Metric, NonFinitePredictionsAreErrors) {
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  TensorContainer<cpu, 2> y(Shape2(2, 1), 0.f), wide(Shape2(2, 3), 0.f);
  for (const float v : {nan, inf, -inf}) {
    TensorContainer<cpu, 2> p(Shape2(2, 3), 0.2f);
    p.dptr_[3 + 1] = v;  // row 1, output 1
    for (const char* name : {"error", "logloss", "rec@1", "rec@2", "rmse"}) {
      nn::Metric m(name);
      const std::string e = test::ErrorOf([&] { m.Add(p.view(), std::string(name) == "rmse" ? wide.view() : y.view(),
                                                      2, {40, 41}); });
      EXPECT_HAS(e, std::string("metric ") + name + ": the prediction of row 1 of the batch (instance 41 of the data, "
                    "from 0) holds ");
      EXPECT_HAS(e, " at output 1 (non-finite");
    }
    TensorContainer<cpu, 2> one(Shape2(1, 1), v);  // a one-wide (binary) output
    nn::Metric err("error");
    EXPECT_HAS(test::ErrorOf([&] { err.Add(one.view(), y.view()); }), "metric error: the prediction of row 0");
  }
  // Rows past `valid` (a padded batch's) are not read.
  TensorContainer<cpu, 2> p(Shape2(2, 3), 0.2f);
  p.dptr_[3] = nan;
  nn::Metric err("error");
  EXPECT_NO_THROW(err.Add(p.view(), y.view(), 1));
}

// logloss takes the log of a probability: a score past [0, 1] gave a negative or made-up figure
// (a metric on a node no softmax's output). A softmax's rounding past 1 is taken.
TEST(Metric, LogLossRefusesScoresThatAreNoProbabilities) {
  TensorContainer<cpu, 2> y(Shape2(1, 1), 0.f);
  for (const float v : {5.f, -0.1f, 1.01f}) {
    TensorContainer<cpu, 2> p(Shape2(1, 2), 0.f);
    p.dptr_[1] = v;
    nn::Metric ll("logloss"), err("error");
    EXPECT_HAS(test::ErrorOf([&] { ll.Add(p.view(), y.view()); }), " at output 1, which is no probability; logloss "
               "scores a softmax's or a logistic's output");
    EXPECT_NO_THROW(err.Add(p.view(), y.view()));  // an arg-max needs no probabilities
  }
  TensorContainer<cpu, 2> p(Shape2(1, 2), 0.f);
  p.dptr_[0] = 1.00000012f;  // 1 + float's epsilon: a softmax's rounding
  nn::Metric ll("logloss");
  EXPECT_NO_THROW(ll.Add(p.view(), y.view()));
  TensorContainer<cpu, 2> one(Shape2(1, 1), 1.5f);  // a one-wide output, too
  EXPECT_HAS(test::ErrorOf([&] { ll.Add(one.view(), y.view()); }), "1.5 at output 0, which is no probability");
}

// rmse subtracted in float before widening: 3e38 - (-3e38) overflowed to inf.
TEST(Metric, RmseDifferencesInDouble) {
  TensorContainer<cpu, 2> p(Shape2(1, 1), 3e38f), y(Shape2(1, 1), -3e38f);
  nn::Metric r("rmse");
  r.Add(p.view(), y.view());
  EXPECT_NEAR(r.Get(), 6e38, 6e38 * 1e-6);
}

}  // namespace
}  // namespace umbra
