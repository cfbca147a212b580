// fixconn: a fully-connected layer whose connection matrix W (nhidden, C*H*W) is read from a text
// file and never trained. out (N,1,1,nhidden) = in (N, C*H*W) W^T, no bias; Backward only writes
// gin = gout W. W is not shown to the weight visitor, so updaters never touch it and model files
// do not save it: a loaded model rebuilds it from fixconn_weight. The file is read in InferShape,
// where fan_in is known, and checked strictly (errors name the layer, the file and the line).
// As cxxnet: keys nhidden and fixconn_weight, and by default cxxnet's own file format (a header
// "nrow ncol nonzero", then "row col value" triplets, 0-based), so cxxnet configs run unchanged;
// fixconn_format = dense reads nhidden rows of fan_in numbers instead. Unlike cxxnet, the input
// need not be a vector: it is flattened as fullc, and an entry given twice is an error.
#pragma once

#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "param_layer.h"
#include "umbra/parse.h"
#include "umbra/regular_file.h"

namespace umbra::nn {

struct FixconnParam {
  int nhidden = 0;
  std::string fixconn_weight;
  std::string fixconn_format = "sparse";
  static const ParamDecl<FixconnParam>& Decl() {
    static const ParamDecl<FixconnParam> d = [] {
      ParamDecl<FixconnParam> d;
      d.Field(&FixconnParam::nhidden, "nhidden", "number of output units").Min(1).Required();
      d.Field(&FixconnParam::fixconn_weight, "fixconn_weight",
              "text file holding the fixed matrix W (nhidden, fan_in = C*H*W of the input)")
          .Required();
      d.Field(&FixconnParam::fixconn_format, "fixconn_format",
              "dense: nhidden lines of fan_in numbers; sparse (cxxnet's format): a line "
              "'nrow ncol nonzero', then nonzero lines 'row col value' (0-based; others are 0)")
          .OneOf({"dense", "sparse"});
      return d;
    }();
    return d;
  }
};

namespace detail {
/// A whitespace-separated word of the file and the 1-based line it is on.
struct FixconnToken {
  std::string text;
  int line;
};

/// Reads W (rows, cols) row-major from `path` in the given format; errors start with `owner`.
inline std::vector<double> ReadFixconnMatrix(const std::string& path, index_t rows, index_t cols,
                                             const std::string& format, const std::string& owner) {
  const std::string not_file = NotRegularFile(path);
  UMBRA_CHECK(not_file.empty(), owner, ": cannot open fixconn_weight file '", path, "': ", not_file);
  std::ifstream f(path);
  UMBRA_CHECK(f.is_open(), owner, ": cannot open fixconn_weight file '", path, "': ",
              std::strerror(errno));
  const std::string where = owner + ": fixconn_weight file '" + path + "'";
  auto number = [&](const FixconnToken& t) {
    const auto x = ParseReal(t.text);
    // Finite as a float, the weights' type: 1e39 became inf and every prediction NaN.
    UMBRA_CHECK(x && std::isfinite(float(*x)), where, " line ", t.line, ": '", t.text,
                "' is not a finite float");
    return *x;
  };
  // The count checked before the matrix is made: 2^24 x 2^40 wrapped to 0 elements, which the
  // entries were then written past (the weights' own allocation, which checks, comes after).
  size_t count = 0;
  const size_t room = umbra::detail::HostMemoryBytes() / sizeof(double);
  UMBRA_CHECK(!__builtin_mul_overflow(size_t(rows), size_t(cols), &count) && (room == 0 || count <= room), owner,
              ": a fixconn matrix of nhidden x the input's size, ", rows, " x ", cols,
              " doubles, is more than ", umbra::detail::HostMemoryLimit().what, " memory");
  std::vector<double> w(count, 0.0);
  std::string text;
  int line_no = 0, row = 0;
  if (format == "dense") {
    // One matrix row per non-blank line, so that a short or long row is caught where it is.
    while (std::getline(f, text)) {
      ++line_no;
      std::istringstream words(text);
      std::vector<FixconnToken> toks;
      for (std::string s; words >> s;) toks.push_back({s, line_no});
      if (toks.empty()) continue;
      UMBRA_CHECK(row < rows, where, " line ", line_no, ": more than nhidden = ", rows,
                  " rows (one row of W per line)");
      UMBRA_CHECK(index_t(toks.size()) == cols, where, " line ", line_no, " (row ", row + 1,
                  ") has ", toks.size(), " numbers, expected fan_in = ", cols,
                  " (C*H*W of the input)");
      for (index_t c = 0; c < cols; ++c) w[size_t(row) * cols + c] = number(toks[c]);
      ++row;
    }
    UMBRA_CHECK(row == rows, where, " has ", row, " rows (ending at line ", line_no,
                "), expected nhidden = ", rows);
    return w;
  }
  // sparse: cxxnet read it with fscanf, so only the order of the words matters, not the lines.
  std::vector<FixconnToken> toks;
  while (std::getline(f, text)) {
    ++line_no;
    std::istringstream words(text);
    for (std::string s; words >> s;) toks.push_back({s, line_no});
  }
  size_t next = 0;
  auto word = [&](const char* what) -> const FixconnToken& {
    UMBRA_CHECK(next < toks.size(), where, " ends at line ", line_no, " where ", what,
                " was expected");
    return toks[next++];
  };
  auto index = [&](const FixconnToken& t, index_t limit, const char* what) {
    const auto x = ParseInteger(t.text, 0);
    UMBRA_CHECK(x, where, " line ", t.line, ": '", t.text, "' is ", IndexProblem(t.text), " (", what, ")");
    UMBRA_CHECK(limit < 0 || *x < limit, where, " line ", t.line, ": ", what, " ", *x, " is out of range [0, ", limit,
                ")");
    return *x;
  };
  const FixconnToken& r = word("the header 'nrow ncol nonzero'");
  const long long nrow = index(r, -1, "nrow");
  const long long ncol = index(word("ncol"), -1, "ncol");
  const long long nnz = index(word("nonzero"), -1, "nonzero");
  UMBRA_CHECK(nrow == rows && ncol == cols, where, " line ", r.line, ": the header says ", nrow,
              " x ", ncol, ", expected nhidden x fan_in = ", rows, " x ", cols);
  // An entry given twice is an error, not the last one winning as in cxxnet: the file's writer
  // may have meant a sum (scipy's COO matrices add duplicates) or made a mistake.
  std::vector<int> entered_at(w.size(), 0);
  for (long long k = 0; k < nnz; ++k) {
    const FixconnToken& t = word("an entry 'row col value'");
    const long long i = index(t, rows, "row");
    const long long j = index(word("a column"), cols, "column");
    int& first = entered_at[size_t(i) * cols + j];
    UMBRA_CHECK(first == 0, where, " line ", t.line, ": entry (", i, ", ", j, ") was given before, on line ", first);
    first = t.line;
    w[size_t(i) * cols + j] = number(word("a value"));
  }
  UMBRA_CHECK(next == toks.size(), where, " line ", next < toks.size() ? toks[next].line : 0,
              ": '", next < toks.size() ? toks[next].text : "", "' follows the ", nnz,
              " entries the header announced");
  return w;
}
}  // namespace detail

template <typename xpu, typename DType>
class FixconnLayer : public ParamLayer<FixconnParam, xpu, DType> {
 public:
  using NodeList = typename Layer<xpu, DType>::NodeList;
  const char* Type() const override { return "fixconn"; }

  std::vector<Shape<4>> InferShape(const std::vector<Shape<4>>& in) override {
    this->CheckRequired();
    const Shape<4>& s = in[0];
    const index_t fan_in = s.ProdShape(1, 4);
    UMBRA_CHECK(fan_in > 0, this->Describe(), ": empty input ", s);
    const index_t nh = this->p_.nhidden;
    const std::vector<double> w = detail::ReadFixconnMatrix(
        this->p_.fixconn_weight, nh, fan_in, this->p_.fixconn_format, this->Describe());
    host_.Resize(Shape2(nh, fan_in));
    for (size_t i = 0; i < w.size(); ++i) host_.dptr_[i] = DType(w[i]);
    return {Shape4(s[0], 1, 1, nh)};
  }
  // Not random: the matrix comes from the file; host_ outlives the (possibly async) copy.
  void InitWeights(Random<xpu, DType>&) override {
    wmat_.Resize(host_.shape_);
    Copy(wmat_.view(), host_.view());
  }
  void Forward(const ForwardContext<xpu, DType>&, const NodeList& in, const NodeList& out) override {
    Tensor<xpu, 2, DType> x = in[0]->Mat(), y = out[0]->Mat();
    y = dot(x, wmat_.view().T());
  }
  // No weight gradient: W is fixed.
  // dx = dy W: no value is read.
  bool BackwardReadsInput(int) const override { return false; }
  bool BackwardReadsOutput(int) const override { return false; }
  void Backward(bool prop_grad, const NodeList& in, const NodeList& out) override {
    if (!prop_grad) return;
    Tensor<xpu, 2, DType> gx = in[0]->Mat(true), gy = out[0]->Mat(true);
    gx = dot(gy, wmat_.view());
  }
  // VisitWeights stays empty on purpose: see the file comment.

 private:
  TensorContainer<cpu, 2, DType> host_;
  TensorContainer<xpu, 2, DType> wmat_;
};

}  // namespace umbra::nn
