// The image iterators (OpenCV): `img` reads a cxxnet list file and the images in a folder;
// `imgrec` (alias `imgbin`, cxxnet's name in pred.conf) reads a record file made by im2rec
// (record.h), labels from the records or, as cxxnet allowed, from an image_list (by index). Both decode on
// `nthread` threads (OpenMP) and augment each row (augment.h); image_mean names a mean file that is
// computed over the data set when missing (mean_image.h). Batching and padding: instance_iter.h.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>
#include <opencv2/imgcodecs.hpp>  // the flags only: the codecs are imgcodecs.h's plugin
#include <opencv2/imgproc.hpp>
#include <thread>
#include <unordered_map>

#include "augment.h"
#include "decode_image.h"
#include "image_list.h"
#include "instance_iter.h"
#include "umbra/io/image_bytes.h"
#include "umbra/io/record.h"
#include "umbra/regular_file.h"

namespace umbra::io {
namespace {

// fn(i) for i in [0, n) on up to nthread threads; the first exception is rethrown here, never let
// out of the parallel region (which would terminate).
template <typename Fn>
void ParallelFor(index_t n, int nthread, Fn fn) {
  std::exception_ptr err;
#pragma omp parallel for num_threads(nthread) schedule(dynamic)
  for (index_t i = 0; i < n; ++i) {
    try {
      fn(i);
    } catch (...) {
#pragma omp critical
      if (!err) err = std::current_exception();
    }
  }
  if (err) std::rethrow_exception(err);
}

class ImageIterBase : public InstanceIterator {
 public:
  bool SetParam(const std::string& k, const std::string& v) override {
    if (IsKey(k, "image_mean", "mean image file, computed over the data when missing")) mean_path_ = v;
    else if (IsKey(k, "nthread", "decoding threads")) nthread_ = int(ParseInt(k, v));
    else return augment_.SetParam(k, v) || InstanceIterator::SetParam(k, v);
    return true;
  }

 protected:
  struct Item {
    std::string bytes;
    std::vector<float> labels;
  };
  /// Sequential (one file handle): the encoded bytes and labels of instance i.
  virtual Item Load(index_t i) = 0;
  /// Where instance i comes from, for errors.
  virtual std::string Where(index_t i) const = 0;
  /// Checks, once the keys are, that every instance's source can be read (InitImages).
  virtual void CheckSources() const {}

 public:
  std::string Locate(uint64_t index) const override { return Where(index_t(index)); }

 protected:
  /// After the subclass has opened its data: augmentation, mean image, batches.
  void InitImages(index_t n) {
    UMBRA_CHECK(shape_[0] > 0, Name(), " needs input_shape (c,h,w)");
    InstallDecodeCapture();  // here, on one thread, not by the first decoding thread
    // Decoding threads: more than a few hundred only exhausts the process (OpenMP crashed at
    // 100000).
    UMBRA_CHECK(nthread_ > 0 && nthread_ <= 256, Name(), ": nthread must be in [1, 256], got ", nthread_);
    augment_.Init(shape_, Name());
    // Before the mean image, whose average over no instances wrote a file of NaNs (and was then
    // blamed for them).
    UMBRA_CHECK(n > 0, Name(), " holds no instances");
    CheckSources();
    stray_noted_.reset(new std::atomic<bool>[size_t(n)]());
    deep_checked_.reset(new std::atomic<bool>[size_t(n)]());
    UMBRA_CHECK(mean_path_.empty() || !augment_.HasMeanValues(), Name(),
                ": image_mean and mean_value (or mean_r/g/b) are both given; one mean is subtracted: keep one");
    if (!mean_path_.empty()) {
      if (!std::filesystem::exists(mean_path_)) {
        if (!silent_) std::cerr << Name() << ": computing the mean image into '" << mean_path_ << "' (over this block's data)" << std::endl;
        WriteMeanImage(mean_path_, ComputeMean(n));
      }
      augment_.SetMeanImage(ReadMeanImage(mean_path_));
    }
    InitBatches(n);
  }

  void FillRows(const std::vector<Row>& rows) override {
    std::vector<Item> items(rows.size());
    for (size_t j = 0; j < rows.size(); ++j) {
      items[j] = Load(rows[j].instance);
      UMBRA_CHECK(items[j].labels.size() == size_t(label_width_), Where(rows[j].instance), " has ",
                  items[j].labels.size(), " label(s) but label_width is ", label_width_);
    }
    const index_t d = shape_.Size();
    ParallelFor(index_t(rows.size()), nthread_, [&](index_t j) {
      const Row& r = rows[j];
      NamingImage(r.instance, [&] {
        const cv::Mat img = Decode(items[j].bytes, r.instance);
        Augmenting(r.instance, [&] { augment_.Process(img, r.seed, out_.data.dptr_ + r.row * d); });
      });
      std::copy(items[j].labels.begin(), items[j].labels.end(), out_.label.dptr_ + r.row * out_.label.stride_);
    });
  }

 private:
  // Runs f, the decoding and augmenting of instance i, with the exceptions OpenCV throws for some
  // corrupt files (a header claiming more pixels than it allows), where it returns an empty image
  // for others, turned into an error naming the image.
  template <typename F>
  void NamingImage(index_t i, F&& f) const {
    try {
      f();
    } catch (const cv::Exception& e) {
      UMBRA_THROW("OpenCV failed on image ", Where(i), ": ", OpenCvWords(e));
    }
  }
  // Runs f, the augmenting of instance i, with its errors (a fixed crop the image cannot hold,
  // channels input_shape does not have) naming the image.
  template <typename F>
  void Augmenting(index_t i, F&& f) const {
    try {
      f();
    } catch (const Error& e) {
      UMBRA_THROW(e.message(), ": image ", Where(i));
    }
  }
  cv::Mat Decode(const std::string& file, index_t i) const {
    UMBRA_CHECK(!file.empty(), "cannot decode image ", Where(i), ": it holds no bytes");
    std::string pruned;
    // The deep walk (a PNG's pixel rows inflated) at an image's first decode of the run: later
    // epochs decode the same bytes.
    // Marked once a walk passed: marked when it began, a failed walk left the next decode to
    // OpenCV (a threadbuffer restarts its producer's epoch, begun at Init; threads decoding one
    // image at once), which said "libpng error: Not enough image data" and no reason. Threads
    // that decode an image at once may each walk it, the first time only.
    const bool deep = !deep_checked_[size_t(i)].load();
    const std::string problem = CheckImageBytes(file, &pruned, deep);
    if (problem.empty() && deep) deep_checked_[size_t(i)].store(true);
    UMBRA_CHECK(problem.empty(), "cannot decode image ", Where(i), ": ", problem);
    const std::string& bytes = pruned.empty() ? file : pruned;
    // Pixels no 8-bit decoding keeps (floating-point, a signed TIFF's): refused before OpenCV,
    // which decoded some into other numbers unsaid and refused others in its own words.
    const std::string unread = UnreadPixelsProblem(bytes);
    UMBRA_CHECK(unread.empty(), "cannot decode image ", Where(i), ": ", unread);
    // A PNM whose maxval is not 255 or 65535 is decoded as stored and scaled to 8 bits here
    // (OpenCV does not scale by it: a 10-bit PGM's white came out as 3).
    const unsigned maxval = PnmMaxval(bytes);
    const bool scale = maxval != 0 && maxval != 255 && maxval != 65535;
    std::string said;
    JpegWords jpeg;
    cv::Mat img = DecodeImage(bytes, (shape_[0] == 1 ? cv::IMREAD_GRAYSCALE : cv::IMREAD_COLOR) |
                                         (scale ? cv::IMREAD_ANYDEPTH : 0), &said, &jpeg);
    // A JPEG whose scans are corrupt decoded into garbage, libjpeg's warning on stderr naming no
    // file. Stray bytes are said with the image's name, once a run.
    UMBRA_CHECK(jpeg.problem.empty(), "cannot decode image ", Where(i), ": libjpeg: ", jpeg.problem);
    if (!jpeg.stray.empty() && !silent_ && !stray_noted_[size_t(i)].exchange(true))
      NoteStrayBytes(Name() + ": image " + Where(i), jpeg.stray);
    UMBRA_CHECK(!img.empty(), "cannot decode image ", Where(i), " (", bytes.size(), " bytes)",
                said.empty() ? "" : "; OpenCV: " + said);
    if (scale) img.convertTo(img, CV_8U, 255.0 / maxval);
    if (img.channels() == 3) cv::cvtColor(img, img, cv::COLOR_BGR2RGB);  // channel 0 = red
    // A crop needs an image at least input_shape large, so a smaller one is scaled up: said once,
    // since a list of the wrong images (or the wrong input_shape) would else train quietly.
    if ((img.rows < shape_[1] || img.cols < shape_[2]) && !silent_ && !small_noted_.exchange(true))
      std::fprintf(stderr, "note: %s: image %s is %dx%d, smaller than input_shape's %dx%d: it is scaled up to fit, "
                   "as is every smaller image after it (noted once)\n", Name().c_str(), Where(i).c_str(), img.rows,
                   img.cols, int(shape_[1]), int(shape_[2]));
    return img;
  }

  // The mean of the centre crops, accumulated in double, in chunks decoded in parallel.
  MeanImage ComputeMean(index_t n) {
    const index_t d = shape_.Size(), chunk = 256;
    std::vector<double> sum(d, 0.0);
    std::vector<float> rows(chunk * d);
    for (index_t b = 0; b < n; b += chunk) {
      const index_t m = std::min(chunk, n - b);
      std::vector<std::string> bytes(m);
      for (index_t j = 0; j < m; ++j) bytes[j] = Load(b + j).bytes;
      ParallelFor(m, nthread_, [&](index_t j) {
        NamingImage(b + j, [&] {
          const cv::Mat img = Decode(bytes[j], b + j);
          Augmenting(b + j, [&] { augment_.ProcessPlain(img, &rows[j * d]); });
        });
      });
      for (index_t j = 0; j < m; ++j)
        for (index_t p = 0; p < d; ++p) sum[p] += rows[j * d + p];
    }
    MeanImage mean{shape_, std::vector<float>(d)};
    for (index_t p = 0; p < d; ++p) mean.values[p] = float(sum[p] / double(n));
    return mean;
  }

 protected:
  int nthread() const { return nthread_; }

 private:
  std::string mean_path_;
  mutable std::atomic<bool> small_noted_{false};  // decoding threads share it
  std::unique_ptr<std::atomic<bool>[]> stray_noted_;  // per instance: its JPEG's stray bytes were said
  std::unique_ptr<std::atomic<bool>[]> deep_checked_;  // per instance: CheckImageBytes's deep walk was done
  int nthread_ = int(std::clamp(std::thread::hardware_concurrency(), 1u, 4u));
  Augmenter augment_;
};

class ImageListIterator : public ImageIterBase {
 public:
  bool SetParam(const std::string& k, const std::string& v) override {
    if (IsKey(k, "image_list", "list file: index, label(s), image path per line")) list_path_ = v;
    else if (IsKey(k, "image_root", "folder the list's paths are relative to")) root_ = v;
    else return ImageIterBase::SetParam(k, v);
    return true;
  }
  void Init() override {
    UMBRA_CHECK(!list_path_.empty(), "img iterator needs image_list");
    list_ = ReadImageList(list_path_, label_width_);
    prefix_ = RootIsPrefix(root_);
    if (prefix_ && !silent_)
      std::fprintf(stderr, "note: %s: image_root '%s' is no folder: it is written before each listed path, as "
                   "cxxnet joined them ('%s')\n", Name().c_str(), root_.c_str(), Path(0).c_str());
    InitImages(index_t(list_.size()));
  }

 protected:
  std::string Name() const override { return "img iterator ('" + list_path_ + "')"; }
  std::string Where(index_t i) const override {
    // A prefix root is named in each error too: its note is not said under silent, and a
    // mistyped folder reads as one ("data/imgaes" + "a.png").
    return "'" + Path(i) + "' (" + list_path_ + ":" + std::to_string(list_[i].line) + ")" +
           (prefix_ ? " (image_root '" + root_ + "' names no folder: it was written before the listed path)" : "");
  }
  Item Load(index_t i) override {
    return Item{ReadImageFile(Path(i), Where(i)), list_[i].labels};
  }

 private:
  std::string Path(index_t i) const { return ImagePath(root_, list_[i].path, prefix_); }
  // Every listed file is looked at once (a stat, on nthread threads): one missing failed when its
  // batch was read, a training block's partway through a round, an eval block's after a round.
  void CheckSources() const override {
    const index_t n = index_t(list_.size());
    std::atomic<index_t> first{n}, missing{0};
    const auto start = std::chrono::steady_clock::now();
    ParallelFor(n, nthread(), [&](index_t i) {
      if (NotRegularFile(Path(i)).empty()) return;
      ++missing;
      for (index_t f = first.load(); i < f && !first.compare_exchange_weak(f, i);) {
      }
    });
    // On a slow file system (a cold network mount) the looking takes time: said where it did.
    const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (took > 5 && !silent_)
      std::fprintf(stderr, "note: %s: looking at its %lld listed files took %.0f s (nthread = %d looks in "
                   "parallel)\n", Name().c_str(), static_cast<long long>(n), took, nthread());
    if (missing == 0) return;
    const index_t i = first.load();
    UMBRA_THROW("cannot open image ", Where(i), ": ", NotRegularFile(Path(i)),
                missing > 1 ? " (and " + std::to_string(missing - 1) + " more of the " + std::to_string(n) +
                                  " listed images cannot be opened)"
                            : std::string());
  }
  std::string list_path_, root_;
  bool prefix_ = false;  // RootIsPrefix(root_)
  std::vector<ImageListEntry> list_;
};

class ImageRecIterator : public ImageIterBase {
 public:
  bool SetParam(const std::string& k, const std::string& v) override {
    if (IsKey(k, "image_rec", "record file written by umbra im2rec, or a .rec of cxxnet's or mxnet's im2rec") ||
        IsKey(k, "image_bin", "another name for image_rec"))
      rec_path_ = v;
    else if (IsKey(k, "image_list", "optional list file whose labels replace the records' (cxxnet)")) list_path_ = v;
    else return ImageIterBase::SetParam(k, v);
    return true;
  }
  void Init() override {
    UMBRA_CHECK(!rec_path_.empty(), "imgrec iterator needs image_rec (or image_bin)");
    reader_ = std::make_unique<RecordReader>(rec_path_);
    // As cxxnet's, the list's labels are found by the record's index: the list may hold the
    // lines in another order, and more of them (one list for several record files).
    if (!list_path_.empty()) {
      list_ = ReadImageList(list_path_, label_width_, /*path_optional=*/true);
      for (size_t j = 0; j < list_.size(); ++j) {
        const auto [it, fresh] = by_index_.emplace(list_[j].index, j);
        UMBRA_CHECK(fresh, list_path_, ":", list_[j].line, ": index ", list_[j].index, " again (line ",
                    list_[it->second].line, " has it): the records' labels are found by index");
      }
      // Every record's index, read now (its header only): one the list lacks failed at that
      // record's first read, epochs into a run, and records packed under one index (a list of
      // zeros) all took that index's label, unsaid.
      std::unordered_map<uint64_t, size_t> record_of;
      label_line_.resize(reader_->size());
      for (size_t r = 0; r < reader_->size(); ++r) {
        const uint64_t index = reader_->Index(r);
        UMBRA_CHECK(by_index_.count(index), Where(index_t(r)), " has index ", index, ", which image list '",
                    list_path_, "' does not hold (the records' labels are found by index)");
        const auto [it, fresh] = record_of.emplace(index, r);
        UMBRA_CHECK(fresh, Where(index_t(r)), " has index ", index, ", as record ", it->second, " has: image_list '",
                    list_path_, "' would give both its one label (line ", list_[by_index_[index]].line,
                    "); repack the images with an index each");
        label_line_[r] = list_[by_index_[index]].line;
      }
    } else if (reader_->size() > 0) {
      // The records' label count against label_width, now: it was first met as the metric's
      // "the labels are 3 wide but the output is 10 wide", which named neither.
      const size_t labels = reader_->Read(0).labels.size();
      UMBRA_CHECK(labels == size_t(label_width_), Where(0), " holds ", labels, " label(s), but label_width = ",
                  label_width_, "; give label_width = ", labels);
    }
    InitImages(index_t(reader_->size()));
  }

 protected:
  std::string Name() const override { return "imgrec iterator ('" + rec_path_ + "')"; }
  std::string Where(index_t i) const override {
    return "record " + std::to_string(i) + " of '" + rec_path_ + "' (offset " + std::to_string(reader_->offset(i)) + ")";
  }

 public:
  // Relabelled records take their labels from the list: a label error names its line too.
  std::string Locate(uint64_t index) const override {
    return Where(index_t(index)) + (index < label_line_.size() ? ", its label from " + list_path_ + ":" +
                                                                     std::to_string(label_line_[index])
                                                               : std::string());
  }

 protected:
  Item Load(index_t i) override {
    Record r = reader_->Read(size_t(i));
    if (!list_path_.empty()) {
      const auto it = by_index_.find(r.index);
      UMBRA_CHECK(it != by_index_.end(), Where(i), " has index ", r.index, ", which image list '", list_path_,
                  "' does not hold");
      r.labels = list_[it->second].labels;
    }
    return Item{std::move(r.payload), std::move(r.labels)};
  }

 private:
  std::string rec_path_, list_path_;
  std::unique_ptr<RecordReader> reader_;
  std::vector<ImageListEntry> list_;
  std::unordered_map<uint64_t, size_t> by_index_;  // list_'s entry of each index
  std::vector<int> label_line_;  // with image_list: each record's label line in it (Locate)
};

const bool kImg = RegisterIterator("img", [] { return std::unique_ptr<DataIterator>(new ImageListIterator()); });
const bool kRec = RegisterIterator("imgrec", [] { return std::unique_ptr<DataIterator>(new ImageRecIterator()); });
const bool kBin = RegisterIterator("imgbin", [] { return std::unique_ptr<DataIterator>(new ImageRecIterator()); });

}  // namespace
}  // namespace umbra::io
