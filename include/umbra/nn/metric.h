// Evaluation metrics over predictions on the host: error (arg-max against the label), logloss
// (mean -log p of the label's class), rmse (against labels of the prediction's width), rec@N
// (the label among the N highest scores; equal scores ranked by class index). A one-wide output
// is a binary prediction (the probability of class 1, labels 0 or 1): error counts p > 0.5
// against the label, logloss is the binary cross-entropy. Labels as wide as the output, more
// than one (multi_logistic's multi-label targets), are as many binary predictions: error and
// logloss score each column so and average them per instance, as cxxnet's did for its label
// fields wider than one; rec@N refuses them (cxxnet's read them as several class indices, the
// share of them among the N highest scores: labels no loss here trains on).
// Accumulate with Add, read with Get, Clear per round.
// Names as in cxxnet configs (metric = error, metric = rec@5).
#pragma once

#include <algorithm>
#include <cmath>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "umbra/parse.h"
#include "umbra/tensor.h"

namespace umbra::nn {

class Metric {
 public:
  explicit Metric(const std::string& name) : name_(name) {
    if (name.rfind("rec@", 0) == 0) {
      const auto n = ParseInteger(name.substr(4), 1, 1 << 30);  // whole text: rec@5x was rec@5
      UMBRA_CHECK(n, "bad metric '", name, "': rec@N needs a whole number N >= 1");
      topn_ = int(*n);
      kind_ = kRec;
    } else if (name == "error") {
      kind_ = kError;
    } else if (name == "logloss") {
      kind_ = kLogLoss;
    } else if (name == "rmse") {
      kind_ = kRMSE;
    } else {
      UMBRA_THROW("unknown metric '", name, "'; known: error, logloss, rmse, rec@N");
    }
  }
  /// Where an instance comes from ("bad.csv:6"), added to errors that name one (a data
  /// iterator's Locate).
  void set_locate(std::function<std::string(uint64_t)> locate) { locate_ = std::move(locate); }
  /// pred (n, k) scores or probabilities; label (n, w): class index in column 0, or targets for
  /// rmse. Only the first `valid` rows count (padded batches).
  /// index[i], where given, is row i's instance in the data (DataBatch::index), named in errors.
  void Add(const Tensor<cpu, 2, float>& pred, const Tensor<cpu, 2, float>& label, index_t valid = -1,
           const std::vector<uint64_t>& index = {}) {
    const index_t n = valid < 0 ? pred.size(0) : valid, k = pred.size(1);
    CheckWidth(k);
    // valid past the predictions, or labels of no width, read past their rows unchecked.
    UMBRA_CHECK(n >= 0 && n <= pred.size(0), "metric ", name_, ": ", n, " valid rows of ", pred.size(0),
                " predictions");
    UMBRA_CHECK(label.size(0) >= n, "metric ", name_, ": ", label.size(0), " labels for ", n, " predictions");
    UMBRA_CHECK(label.size(1) >= 1 || n == 0, "metric ", name_, ": labels of width 0");
    // Row i's instance in the data, where known, for errors: its row in the batch named nothing findable.
    const auto instance = [&](index_t i) {
      if (size_t(i) >= index.size()) return std::string();
      const std::string at = locate_ ? locate_(index[size_t(i)]) : "";
      return " (" + InstanceOfTheData(index[size_t(i)], at) + ")";
    };
    if (n > 0) CheckLabelWidth(k, label.size(1));
    for (index_t i = 0; i < n; ++i) {
      const float* p = pred.dptr_ + i * pred.stride_;
      const float* y = label.dptr_ + i * label.stride_;
      // A NaN is never the arg-max nor ranked above the label: a net whose outputs were all NaN
      // scored error 0 and rec@N 1.
      const float* bad = std::find_if(p, p + k, [](float v) { return !std::isfinite(v); });
      UMBRA_CHECK(bad == p + k, "metric ", name_, ": the prediction of row ", i, " of the batch", instance(i),
                  " holds ", *bad, " at output ", bad - p, " (non-finite: the network diverged on this data, or a "
                  "value passed float's range)");
      // A probability's log: a score past [0, 1] (a metric on a node no softmax or logistic
      // output) gave a negative or a made-up log-loss. The slack is the rounding of a softmax.
      const float* off = kind_ == kLogLoss ? std::find_if(p, p + k, [](float v) { return v < 0 || v > 1.0001f; })
                                           : p + k;
      UMBRA_CHECK(off == p + k, "metric logloss: the prediction of row ", i, " of the batch", instance(i), " holds ",
                  *off, " at output ", off - p, ", which is no probability; logloss scores a softmax's or a "
                  "logistic's output");
      if (kind_ == kRMSE) {
        UMBRA_CHECK(label.size(1) == k, "metric rmse: label width ", label.size(1), " differs from prediction width ", k);
        double s = 0;
        for (index_t j = 0; j < k; ++j) s += (double(p[j]) - y[j]) * (double(p[j]) - y[j]);
        sum_ += s / k;
      } else if ((k == 1 || label.size(1) > 1) && kind_ != kRec) {
        // One output (a logistic's probability): a binary prediction; error takes p > 0.5 for
        // class 1 (cxxnet's took p > 0, every probability but 0: its error of a logistic was the
        // share of label 0), logloss is the binary cross-entropy. (The class index of a one-wide
        // output could only be 0: label 1 was refused after a round.) Multi-label: one such
        // prediction per column, averaged. Column 0 read as a class index scored 0/1 targets
        // as nonsense, with no word.
        const index_t w = label.size(1);  // 1, or k (CheckLabelWidth)
        double s = 0;
        for (index_t j = 0; j < w; ++j) {
          UMBRA_CHECK(y[j] >= 0 && y[j] <= 1 && (kind_ == kLogLoss || y[j] == 0 || y[j] == 1), "metric ", name_,
                      ": label ", y[j], w > 1 ? " in column " + std::to_string(j) : std::string(), " of row ", i,
                      " of the batch", instance(i), kind_ == kError ? " is not 0 or 1" : " is outside [0, 1]",
                      w > 1 ? " (labels as wide as the output are binary targets: the probability of each)"
                            : " (a one-wide output is a binary prediction: the probability of class 1)");
          const double q = std::clamp(double(p[j]), 1e-15, 1 - 1e-15);
          if (kind_ == kError) s += (p[j] > 0.5f) != (y[j] == 1);
          else s -= y[j] * std::log(q) + (1 - y[j]) * std::log(1 - q);
        }
        sum_ += s / w;
      } else {
        // As strict as training's loss layers: 2.5 or -0.5 is no class (the cast would take 2 or 0).
        UMBRA_CHECK(y[0] >= 0 && y[0] < float(k) && y[0] == std::floor(y[0]), "metric ", name_, ": label ", y[0],
                    " of row ", i, " of the batch",
                    instance(i),
                    " is not a class index in [0, ", k, ")");
        const index_t c = index_t(y[0]);
        if (kind_ == kError) {
          sum_ += index_t(std::max_element(p, p + k) - p) != c;
        } else if (kind_ == kLogLoss) {
          sum_ -= std::log(std::max(p[c], 1e-15f));
        } else {
          // Classes ranked before the label: higher scores, and equal ones of lower index (the
          // order error's arg-max takes, so rec@1 = 1 - error). Counting only higher scores
          // gave an output of equal scores rec@N = 1 whatever its labels.
          index_t above = 0;
          for (index_t j = 0; j < k; ++j) above += p[j] > p[c] || (p[j] == p[c] && j < c);
          sum_ += above < topn_;
        }
      }
    }
    count_ += n;
  }
  /// rec@10 on 10 classes counts every prediction: a figure of 1 that says nothing; and rmse
  /// needs a label per output value. An error when the net is built (MetricSet, with the data's
  /// `label_width` where known: else after a round of training), and at every Add.
  void CheckWidth(index_t k, index_t label_width = -1) const {
    UMBRA_CHECK(kind_ != kRec || topn_ < k, "metric ", name_, " on an output of ", k,
                " classes counts every prediction; N must be below ", k);
    UMBRA_CHECK(kind_ != kRMSE || label_width < 0 || label_width == k, "metric rmse: the labels are ", label_width,
                " wide but the output is ", k, " wide; rmse needs a label per output value (label_width = ", k, ")");
    CheckLabelWidth(k, label_width);
  }
  /// Labels wider than one (multi-label): error and logloss need one per output value; rec@N
  /// none (it ranks classes against one class index).
  void CheckLabelWidth(index_t k, index_t label_width) const {
    if (label_width <= 1 || kind_ == kRMSE) return;
    UMBRA_CHECK(kind_ != kRec, "metric ", name_, ": the labels are ", label_width, " wide, binary targets, one per "
                "output value (multi-label); rec@N ranks the classes against one class index (cxxnet's read wider "
                "labels as several class indices); error and logloss score each column");
    UMBRA_CHECK(label_width == k, "metric ", name_, ": the labels are ", label_width, " wide but the output is ", k,
                " wide; labels wider than one are binary targets, one per output value (label_width = ", k, ")");
  }
  double Get() const {
    if (count_ == 0) return 0;
    return kind_ == kRMSE ? std::sqrt(sum_ / count_) : sum_ / count_;
  }
  void Clear() { sum_ = 0, count_ = 0; }
  const std::string& name() const { return name_; }

 private:
  enum Kind { kError, kLogLoss, kRMSE, kRec } kind_;
  std::string name_;
  int topn_ = 1;
  double sum_ = 0;
  index_t count_ = 0;
  std::function<std::string(uint64_t)> locate_;
};

}  // namespace umbra::nn
