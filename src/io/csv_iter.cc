// The `csv` iterator: a text file of numbers, one instance a row, label column(s) first and then
// the c*h*w data values in (C, H, W) order, as cxxnet's csv iterator read them. Keys: filename (or
// path_data), has_header, plus the InstanceIterator keys. Without input_shape the row is taken as
// flat data (1, 1, columns - label_width). The whole file is held in memory as floats.
#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>

#include "instance_iter.h"
#include "umbra/parse.h"
#include "umbra/regular_file.h"

namespace umbra::io {
namespace {

class CsvIterator : public InstanceIterator {
 public:
  bool SetParam(const std::string& k, const std::string& v) override {
    if (IsKey(k, "filename", "the csv file: label column(s), then c*h*w values per row") ||
        IsKey(k, "path_data", "another name for filename"))
      path_ = v;
    else if (IsKey(k, "has_header", "1: the first line names the columns")) header_ = ParseSwitch(k, v);
    else return InstanceIterator::SetParam(k, v);
    return true;
  }

  std::string Locate(uint64_t index) const override {
    return index < lines_.size() ? path_ + ":" + std::to_string(lines_[index]) : std::string();
  }
  void Init() override {
    UMBRA_CHECK(!path_.empty(), "csv iterator needs filename (or path_data)");
    CheckRegularFile(path_, "csv file");
    std::ifstream in(path_);
    UMBRA_CHECK(in.good(), "cannot open csv file '", path_, "'");
    std::string line;
    std::vector<float> row;
    size_t cols = 0;
    int no = 0;
    // A gzip'd csv was "a NUL byte at column 1": named for what it is.
    UMBRA_CHECK(!RegularFileStartsWith(path_, "\x1f\x8b"), "csv file '", path_,
                "' is gzip-compressed; csv files are read as text: gunzip it");
    // As UTF-16 (a spreadsheet's "Unicode text"), by its byte-order mark: it was "a NUL byte".
    UMBRA_CHECK(!RegularFileStartsWith(path_, "\xff\xfe") && !RegularFileStartsWith(path_, "\xfe\xff"), "csv file '",
                path_, "' is UTF-16 text (by its byte-order mark); csv files are read as ASCII or UTF-8: convert it ",
                "(iconv -f UTF-16 -t UTF-8)");
    if (header_) ++no, std::getline(in, line);
    while (std::getline(in, line)) {
      ++no;
      // A UTF-8 byte-order mark (spreadsheets on Windows write one) is no part of the first value.
      if (no == 1 && line.starts_with("\xEF\xBB\xBF")) line.erase(0, 3);
      // A NUL ended the row's text where it stood (the rest dropped, or a short row's count).
      if (const size_t nul = line.find('\0'); nul != std::string::npos)
        UMBRA_THROW(path_, ":", no, ": a NUL byte at column ", 1 + std::count(line.begin(), line.begin() + nul, ','),
                    " (a csv file is text)");
      // Rows ending in a lone CR (classic Mac OS) are one line here: said so, not "column 5 '4\r1'".
      const std::string cr = CarriageReturnProblem(line, ',');
      UMBRA_CHECK(cr.empty(), path_, ":", no, ": ", cr);
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      ParseRow(line, no, &row);
      if (cols == 0) {
        cols = row.size();
        if (shape_[0] == 0) {
          UMBRA_CHECK(cols > size_t(label_width_), path_, ":", no, ": ", cols, " column(s) leave no data after ",
                      label_width_, " label column(s)");
          shape_ = Shape3(1, 1, index_t(cols) - label_width_);
        }
        UMBRA_CHECK(cols == size_t(label_width_) + shape_.Size(), path_, ":", no, ": ", cols,
                    " columns, expected label_width + c*h*w = ", label_width_, " + ", shape_.Size(), " = ",
                    label_width_ + shape_.Size(), " (input_shape ", shape_[0], ",", shape_[1], ",", shape_[2], ")");
      }
      UMBRA_CHECK(row.size() == cols, path_, ":", no, ": ", row.size(), " columns, expected ", cols);
      values_.insert(values_.end(), row.begin(), row.end());
      lines_.push_back(no);
    }
    UMBRA_CHECK(cols > 0, "csv file '", path_, "' holds no rows");
    cols_ = cols;
    InitBatches(index_t(values_.size() / cols));
  }

 protected:
  std::string Name() const override { return "csv iterator ('" + path_ + "')"; }
  void FillRows(const std::vector<Row>& rows) override {
    const index_t d = shape_.Size();
    for (const Row& r : rows) {
      const float* src = values_.data() + size_t(r.instance) * cols_;
      std::memcpy(out_.label.dptr_ + r.row * out_.label.stride_, src, label_width_ * sizeof(float));
      std::memcpy(out_.data.dptr_ + r.row * d, src + label_width_, d * sizeof(float));
    }
  }

 private:
  void ParseRow(const std::string& line, int no, std::vector<float>* row) const {
    row->clear();
    const char* p = line.c_str();
    for (int col = 1;; ++col) {
      while (*p == ' ' || *p == '\t') ++p;
      char* end = nullptr;
      errno = 0;
      const float v = std::strtof(p, &end);
      const char* q = end;
      while (*q == ' ' || *q == '\t' || *q == '\r') ++q;
      if (end == p || (*q != ',' && *q != '\0')) {
        const char* stop = std::strchr(p, ',');
        std::string field = stop ? std::string(p, stop) : std::string(p);
        UMBRA_THROW(path_, ":", no, ": column ", col, " '", Visible(field), "' is not a number");
      }
      // strtof reads hexadecimal (0x10 as 16), as numpy's and pandas' readers do not.
      const char* digits = p + (*p == '-' || *p == '+');
      if (digits[0] == '0' && (digits[1] == 'x' || digits[1] == 'X')) {
        const char* stop = std::strchr(p, ',');
        UMBRA_THROW(path_, ":", no, ": column ", col, " '", stop ? std::string(p, stop) : std::string(p),
                    "' is hexadecimal, which is not read; write it in decimal");
      }
      // nan, inf and overflowing values (1e39 is inf as a float) would reach the weights (and
      // batch norm's moving statistics, read only in test mode) or make a metric NaN: never data.
      if (!std::isfinite(v)) {
        const char* stop = std::strchr(p, ',');
        UMBRA_THROW(path_, ":", no, ": column ", col, " '", stop ? std::string(p, stop) : std::string(p),
                    "' is not a finite float");
      }
      row->push_back(v);
      if (*q == '\0') break;
      p = q + 1;
    }
  }

  std::string path_;
  bool header_ = false;
  size_t cols_ = 0;
  std::vector<float> values_;
  std::vector<int> lines_;  // each row's line in the file (Locate)
};

const bool kRegistered = RegisterIterator("csv", [] { return std::unique_ptr<DataIterator>(new CsvIterator()); });

}  // namespace
}  // namespace umbra::io
