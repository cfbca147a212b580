// The augmentation pipeline of augment.h: scale ratio -> warp -> crop -> mirror ->
// (x - mean) * scale, then x * contrast + illumination. Random draws happen in that order and
// only for enabled options, so a config and a seed fix the result.
#include "augment.h"

#include <algorithm>
#include <cmath>
#include <opencv2/imgproc.hpp>

#include "instance_iter.h"
#include "umbra/parse.h"

namespace umbra::io {
namespace {

float Uniform(Random<cpu>* rnd, float lo, float hi) { return lo + float(rnd->NextUnit()) * (hi - lo); }
int UniformInt(Random<cpu>* rnd, int lo, int hi) { return lo + int(rnd->NextU64() % uint64_t(hi - lo + 1)); }

// Scales img up (keeping its aspect) until it is at least h x w: a crop needs that much image.
cv::Mat AtLeast(const cv::Mat& img, int h, int w) {
  if (img.rows >= h && img.cols >= w) return img;
  const double f = std::max(double(h) / img.rows, double(w) / img.cols);
  cv::Mat out;
  cv::resize(img, out, cv::Size(std::max(w, int(std::ceil(img.cols * f))), std::max(h, int(std::ceil(img.rows * f)))),
             0, 0, cv::INTER_LINEAR);
  return out;
}

constexpr float kMaxScale = 16;  // an image scaled up 16 times before its crop
constexpr int kMaxSide = 16384;  // pixels of a crop's side

// crop_y_start / crop_x_start: a row or column, or -1 for the centre (-5 was taken as the centre).
int CropStart(const std::string& k, const std::string& v) {
  const long s = ParseInt(k, v);
  UMBRA_CHECK(s >= -1, "iterator key ", k, " = '", v, "' must be a pixel (>= 0) or -1 (the centre)");
  return int(s);
}
// min_crop_size / max_crop_size: a side, or 0 for none (-5 was taken as none).
int CropSize(const std::string& k, const std::string& v) {
  const long s = ParseInt(k, v);
  UMBRA_CHECK(s >= 0 && s <= kMaxSide, "iterator key ", k, " = '", v, "' must be a side in [1, ", kMaxSide,
              "] pixels, or 0 (none)");
  return int(s);
}
// min_scale_ratio / max_scale_ratio: a factor in (0, kMaxScale].
float ScaleRatio(const std::string& k, const std::string& v) {
  const float r = ParseFloat(k, v);
  UMBRA_CHECK(r > 0 && r <= kMaxScale, "iterator key ", k, " = '", v, "' must be a factor in (0, ", kMaxScale, "]");
  return r;
}
// rotate: an angle above 0, or 0 or -1 for none (cxxnet turned by rotate where it was above 0,
// else drew max_rotate_angle's: rotate = 0 beside a max_rotate_angle turned nothing here, unsaid);
// -90 was taken as none, as cxxnet took every value below 0.
float Rotate(const std::string& k, const std::string& v) {
  const float r = ParseFloat(k, v);
  UMBRA_CHECK(r == -1 || (r >= 0 && r <= 360), "iterator key ", k, " = '", v,
              "' must be an angle in (0, 360] degrees, or 0 or -1 (none); a turn of a degrees clockwise is 360 - a");
  return r;
}
// rotate_list: angles, one drawn per image (cxxnet's; its draw never took the list's last angle).
// Blanks around an angle and a comma at the end are taken, as cxxnet's reading took them.
std::vector<float> RotateList(const std::string& k, const std::string& v) {
  std::vector<float> list;
  size_t at = 0;
  while (at < v.size()) {
    size_t end = v.find(',', at);
    if (end == std::string::npos) end = v.size();
    std::string a = v.substr(at, end - at);
    const size_t s = a.find_first_not_of(" \t"), t = a.find_last_not_of(" \t");
    a = s == std::string::npos ? "" : a.substr(s, t - s + 1);
    // An empty entry (0,,90) was "rotate_list = '' is not a number", the list unnamed.
    UMBRA_CHECK(!a.empty() || end == v.size(), "iterator key ", k, " = '", v, "': entry ", list.size() + 1,
                " is empty (angles in degrees a,b,...)");
    if (a.empty()) break;  // a comma at the end
    const float r = ParseFloat(k, a);
    UMBRA_CHECK(r >= -360 && r <= 360, "iterator key ", k, " = '", v, "': angle ", a,
                " is outside [-360, 360] degrees");
    list.push_back(r);
    at = end + 1;
  }
  UMBRA_CHECK(!list.empty(), "iterator key ", k, " = '", v, "' lists no angle (degrees a,b,...)");
  return list;
}
// min_img_size / max_img_size: a side of the warped image, in pixels, 0 for none.
float ImgSize(const std::string& k, const std::string& v) {
  const float s = ParseFloat(k, v);
  UMBRA_CHECK(s >= 0 && s <= kMaxSide, "iterator key ", k, " = '", v, "' must be a side in (0, ", kMaxSide,
              "] pixels, or 0 (none)");
  return s;
}
// max_rotate_angle: whole degrees, since the angle is drawn among the whole ones in [-m, m] (cxxnet's
// draw); 0.5 drew only 0, and 3e9 overflowed the int it is drawn as.
float MaxAngle(const std::string& k, const std::string& v) {
  const float m = ParseFloat(k, v);
  UMBRA_CHECK(m >= 0 && m <= 180 && m == std::floor(m), "iterator key ", k, " = '", v,
              "' must be a whole number of degrees in [0, 180]");
  return m;
}
}  // namespace

bool Augmenter::SetParam(const std::string& k, const std::string& v) {
  if (IsKey(k, "rand_crop", "1: crop at a random place (training); 0: the centre")) rand_crop_ = ParseSwitch(k, v);
  else if (IsKey(k, "rand_mirror", "1: mirror left-right with probability 1/2")) rand_mirror_ = ParseSwitch(k, v);
  else if (IsKey(k, "mirror", "1: mirror every image left-right")) mirror_ = ParseSwitch(k, v);
  else if (IsKey(k, "crop_y_start", "fixed crop: top row (default -1: centre); places the "
                 "min_crop_size crop too")) crop_y_ = CropStart(k, v);
  else if (IsKey(k, "crop_x_start", "fixed crop: left column (default -1: centre)")) crop_x_ = CropStart(k, v);
  else if (IsKey(k, "min_crop_size", "crop a square of a random side in [min, max] (placed by rand_crop, else "
                 "centred, or at crop_y_start / crop_x_start), then resize it to input_shape"))
    min_crop_ = CropSize(k, v);
  else if (IsKey(k, "max_crop_size", "see min_crop_size")) max_crop_ = CropSize(k, v);
  else if (IsKey(k, "max_aspect_ratio", "random aspect change up to this fraction, in [0, 1)"))
    max_aspect_ = ParseFloat(k, v);
  else if (IsKey(k, "max_rotate_angle", "random rotation up to this many degrees either way (whole, at most 180)"))
    max_angle_ = MaxAngle(k, v);
  else if (IsKey(k, "rotate", "a fixed rotation in degrees in (0, 360] (default -1, or 0: none, or "
                 "max_rotate_angle's)"))
    rotate_ = Rotate(k, v);
  else if (IsKey(k, "rotate_list", "angles a,b,...: each image turns by one drawn among them (wins over rotate "
                 "and max_rotate_angle)"))
    rotate_list_ = RotateList(k, v);
  else if (IsKey(k, "min_img_size", "the warped image is at least this many pixels wide and high (filled with "
                 "fill_value), cxxnet's; 0: none"))
    min_img_ = ImgSize(k, v);
  else if (IsKey(k, "max_img_size", "the warped image is at most this many pixels wide and high (its centre "
                 "kept), cxxnet's; 0: none"))
    max_img_ = ImgSize(k, v);
  else if (IsKey(k, "max_shear_ratio", "random shear up to this ratio, at most 1")) max_shear_ = ParseFloat(k, v);
  else if (IsKey(k, "min_scale_ratio", "cxxnet's earlier scale: each image scaled by a factor drawn in [min, max] "
                 "before the warp; one made smaller sits centred on a fill_value canvas of its former size"))
    min_ratio_ = ScaleRatio(k, v);
  else if (IsKey(k, "max_scale_ratio", "see min_scale_ratio")) max_ratio_ = ScaleRatio(k, v);
  else if (IsKey(k, "min_random_scale", "random scale of the image in [min, max] (default 1)") ||
           IsKey(k, "min_scale", "another name for min_random_scale"))
    min_scale_ = ParseFloat(k, v);
  else if (IsKey(k, "max_random_scale", "see min_random_scale; at most 16") ||
           IsKey(k, "max_scale", "another name for max_random_scale"))
    max_scale_ = ParseFloat(k, v);
  else if (IsKey(k, "mean_r", "subtracted from channel 0 (red)")) mean_[0] = ParseFloat(k, v);
  else if (IsKey(k, "mean_g", "subtracted from channel 1 (green)")) mean_[1] = ParseFloat(k, v), mean_g_b_ = true;
  else if (IsKey(k, "mean_b", "subtracted from channel 2 (blue)")) mean_[2] = ParseFloat(k, v), mean_g_b_ = true;
  else if (IsKey(k, "mean_value", "subtracted from every channel; or a,b,c: from channels 0, 1, 2 (cxxnet's form)")) {
    // cxxnet's form is three values; its source named them b,g,r but subtracted the first from
    // channel 0 (red), and so on: channel order, as here.
    const auto comma = std::ranges::count(v, ',');
    UMBRA_CHECK(comma == 0 || comma == 2, "iterator key mean_value = '", v,
                "': one value (for every channel) or three, a,b,c (for channels 0, 1, 2)");
    mean_g_b_ = true;
    if (comma == 0) {
      mean_[0] = mean_[1] = mean_[2] = ParseFloat(k, v);
    } else {
      std::string rest = v;
      for (int c = 0; c < 3; ++c) {
        const size_t end = rest.find(',');
        mean_[c] = ParseFloat(k, rest.substr(0, end));
        rest = end == std::string::npos ? "" : rest.substr(end + 1);
      }
    }
  }
  else if (IsKey(k, "scale", "multiplies every value after the mean is subtracted (default 1)")) {
    const float s = ParseFloat(k, v);
    UMBRA_CHECK(s != 0, "iterator key scale must not be 0 (every input would be 0)");
    scale_ = s;
  }
  else if (IsKey(k, "divideby", "divides every value after the mean is subtracted (scale = 1 / divideby)")) {
    const float d = ParseFloat(k, v);
    UMBRA_CHECK(d != 0, "iterator key divideby must not be 0");
    scale_ = 1.0f / d;
  } else if (IsKey(k, "max_random_contrast", "values less the mean, times 1 + a random number in [-c, c] "
                   "(with no mean, a change of brightness)"))
    max_contrast_ = ParseFloat(k, v);
  else if (IsKey(k, "max_random_illumination", "plus a random number in [-i, i], in pixel units (before scale)"))
    max_illum_ = ParseFloat(k, v);
  else if (IsKey(k, "fill_value", "the value of pixels a warp brings in from outside the image (default 255)")) {
    fill_ = ParseFloat(k, v);
    // OpenCV saturates it to a pixel: 1000 was 255 unsaid.
    UMBRA_CHECK(fill_ >= 0 && fill_ <= 255, "iterator key fill_value = '", v, "' must be a pixel value in [0, 255]");
  }
  else return false;
  return true;
}

void Augmenter::Init(const Shape<3>& shape, const std::string& who) {
  shape_ = shape, who_ = who;
  UMBRA_CHECK(shape[0] == 1 || shape[0] == 3, who, ": input_shape must have 1 (gray) or 3 (RGB) channels, got ",
              shape[0]);
  // A gray input has channel 0 only, which takes mean_r: another mean_g or mean_b was dropped
  // without a word.
  // (A mean_r alone is taken: mean_g and mean_b at their 0 said nothing.)
  UMBRA_CHECK(shape[0] == 3 || !mean_g_b_ || (mean_[1] == mean_[0] && mean_[2] == mean_[0]), who, ": mean_g and mean_b (",
              mean_[1], ", ", mean_[2], ") differ from mean_r (", mean_[0], "), but a gray input_shape (1 channel) "
              "has channel 0 only, which takes mean_r; give mean_value or mean_r");
  UMBRA_CHECK(max_aspect_ >= 0 && max_aspect_ < 1, who, ": max_aspect_ratio must be in [0, 1), got ", max_aspect_);
  UMBRA_CHECK(min_scale_ > 0 && min_scale_ <= max_scale_, who, ": need 0 < min_random_scale <= max_random_scale, got ",
              min_scale_, " and ", max_scale_);
  UMBRA_CHECK(max_angle_ >= 0 && max_shear_ >= 0 && max_contrast_ >= 0 && max_illum_ >= 0, who,
              ": max_rotate_angle, max_shear_ratio, max_random_contrast, max_random_illumination must be >= 0");
  // Sizes no image of a data set reaches (as the crop sizes' bound, where they are set: a crop of
  // 100000 scaled every image to gigabytes, one of 2e9 overflowed an int inside OpenCV).
  UMBRA_CHECK(max_scale_ <= kMaxScale && max_shear_ <= 1, who, ": max_random_scale must be at most ", kMaxScale,
              " and max_shear_ratio at most 1, got ", max_scale_, " and ", max_shear_);
  UMBRA_CHECK(max_img_ == 0 || min_img_ <= max_img_, who, ": min_img_size ", min_img_, " > max_img_size ",
              max_img_);
  // cxxnet read the pair only when both were above 0: one alone did nothing, unsaid.
  UMBRA_CHECK((min_ratio_ > 0) == (max_ratio_ > 0), who, ": min_scale_ratio and max_scale_ratio go together (",
              min_ratio_ > 0 ? "max" : "min", "_scale_ratio is not given)");
  UMBRA_CHECK(min_ratio_ <= max_ratio_, who, ": min_scale_ratio ", min_ratio_, " > max_scale_ratio ", max_ratio_);
  // The two scales multiply: each within kMaxScale made up to 256 times.
  UMBRA_CHECK(max_ratio_ == 0 || max_ratio_ * max_scale_ <= kMaxScale, who, ": max_scale_ratio ", max_ratio_,
              " times max_random_scale ", max_scale_, " scales an image by more than ", kMaxScale);
  if (min_crop_ > 0 || max_crop_ > 0) {
    if (min_crop_ <= 0) min_crop_ = max_crop_;
    if (max_crop_ <= 0) max_crop_ = min_crop_;
    UMBRA_CHECK(min_crop_ <= max_crop_, who, ": min_crop_size ", min_crop_, " > max_crop_size ", max_crop_);
  }
}

void Augmenter::SetMeanImage(MeanImage m) {
  UMBRA_CHECK(m.shape == shape_, who_, ": the mean image has shape ", m.shape, " but input_shape is ", shape_,
              " (delete the mean file to recompute it)");
  mean_img_ = std::move(m);
}

cv::Mat Augmenter::Warp(const cv::Mat& img, Random<cpu>* rnd) const {
  double angle = rotate_ > 0 ? rotate_ : 0;
  if (!rotate_list_.empty())  // more than one angle is a random warp: rnd is set
    angle = rotate_list_[rotate_list_.size() == 1 ? 0 : size_t(UniformInt(rnd, 0, int(rotate_list_.size()) - 1))];
  else if (rotate_ <= 0 && max_angle_ > 0)
    angle = UniformInt(rnd, -int(max_angle_), int(max_angle_));
  const float shear = max_shear_ > 0 ? Uniform(rnd, -max_shear_, max_shear_) : 0;
  const float scale = max_scale_ > min_scale_ ? Uniform(rnd, min_scale_, max_scale_) : min_scale_;
  const float ratio = max_aspect_ > 0 ? 1 + Uniform(rnd, -max_aspect_, max_aspect_) : 1;
  // cxxnet's parametrisation: the x and y scales average to `scale` and stand in the ratio `ratio`.
  const double hs = 2.0 * scale / (1 + ratio), ws = ratio * hs;
  double a = std::cos(angle * M_PI / 180), b = std::sin(angle * M_PI / 180);
  if (std::fmod(angle, 90.0) == 0) a = std::round(a), b = std::round(b);  // exact quarter turns
  // A = R(angle) * Shear(shear) * diag(ws, hs), mapping source to destination around the centres;
  // positive angles turn the picture counter-clockwise as displayed (OpenCV's convention).
  const double m00 = a * ws, m01 = (a * shear + b) * hs, m10 = -b * ws, m11 = (-b * shear + a) * hs;
  // The canvas: the scaled image's size, within [min_img_size, max_img_size] (cxxnet's: a smaller
  // canvas keeps the centre, a larger one is filled around it).
  const auto side = [&](int n) {
    double s = n * double(scale);
    if (max_img_ > 0) s = std::min(s, double(max_img_));
    return std::max(1, int(std::lround(std::max(s, double(min_img_)))));
  };
  const int w = side(img.cols), h = side(img.rows);
  const double cx = (img.cols - 1) / 2.0, cy = (img.rows - 1) / 2.0, dx = (w - 1) / 2.0, dy = (h - 1) / 2.0;
  cv::Mat M = (cv::Mat_<double>(2, 3) << m00, m01, dx - m00 * cx - m01 * cy, m10, m11, dy - m10 * cx - m11 * cy);
  cv::Mat out;
  cv::warpAffine(img, out, M, cv::Size(w, h), cv::INTER_LINEAR, cv::BORDER_CONSTANT, cv::Scalar::all(fill_));
  return out;
}

cv::Mat Augmenter::ScaleByRatio(const cv::Mat& img, Random<cpu>* rnd) const {
  const float f = max_ratio_ > min_ratio_ ? Uniform(rnd, min_ratio_, max_ratio_) : min_ratio_;
  // Truncated, as cxxnet's int sizes were (at least 1 pixel). cxxnet passed rows as the width:
  // the same for its square images; here each side keeps its own.
  const int h = std::max(1, int(img.rows * f)), w = std::max(1, int(img.cols * f));
  cv::Mat scaled;
  cv::resize(img, scaled, cv::Size(w, h), 0, 0, cv::INTER_LINEAR);
  if (h >= img.rows || w >= img.cols) return scaled;
  cv::Mat canvas(img.rows, img.cols, img.type(), cv::Scalar::all(fill_));
  scaled.copyTo(canvas(cv::Rect((img.cols - w) / 2, (img.rows - h) / 2, w, h)));
  return canvas;
}

cv::Mat Augmenter::Geometry(const cv::Mat& img, Random<cpu>* rnd, bool random) const {
  const int h = int(shape_[1]), w = int(shape_[2]);
  cv::Mat m = img;
  // A fixed rotate or scale warps the mean image's crops too (they were left out: a mean of
  // unturned images subtracted from turned ones); random warps only the random pass.
  const bool random_warp = (rotate_list_.empty() && rotate_ <= 0 && max_angle_ > 0) || rotate_list_.size() > 1 ||
                           max_shear_ > 0 || max_aspect_ > 0 || max_scale_ != min_scale_;
  const bool fixed_warp = rotate_ > 0 || rotate_list_.size() == 1 || min_scale_ != 1 || min_img_ > 0 || max_img_ > 0;
  // cxxnet's earlier scale first, as its pipeline ran it; a range is drawn in the random pass only.
  if (min_ratio_ > 0 && (random || min_ratio_ == max_ratio_)) m = ScaleByRatio(m, rnd);
  if (random ? random_warp || fixed_warp : fixed_warp && !random_warp) m = Warp(m, rnd);
  const bool rand_crop = random && rand_crop_;
  if (min_crop_ > 0) {
    // cxxnet's random-size square crop, resized to the output. Its side is drawn whatever
    // rand_crop says (cxxnet's; rand_crop places it): it was the middle side without rand_crop.
    const int s = random ? UniformInt(rnd, min_crop_, max_crop_) : (min_crop_ + max_crop_) / 2;
    m = AtLeast(m, s, s);
    int y = rand_crop ? UniformInt(rnd, 0, m.rows - s) : (m.rows - s) / 2;
    int x = rand_crop ? UniformInt(rnd, 0, m.cols - s) : (m.cols - s) / 2;
    // A fixed start places it, as cxxnet's did (it was refused here).
    if (crop_y_ >= 0) y = crop_y_;
    if (crop_x_ >= 0) x = crop_x_;
    UMBRA_CHECK(y + s <= m.rows && x + s <= m.cols, who_, ": the ", s, "x", s,
                " crop (min_crop_size, max_crop_size) at (", y, ", ", x,
                ") (crop_y_start, crop_x_start) does not fit in the ", m.rows, "x", m.cols, " image");
    cv::Mat r;
    cv::resize(m(cv::Rect(x, y, s, s)), r, cv::Size(w, h), 0, 0, cv::INTER_LINEAR);
    m = r;
  } else {
    m = AtLeast(m, h, w);
    int y = rand_crop ? UniformInt(rnd, 0, m.rows - h) : (m.rows - h) / 2;
    int x = rand_crop ? UniformInt(rnd, 0, m.cols - w) : (m.cols - w) / 2;
    if (crop_y_ >= 0) y = crop_y_;
    if (crop_x_ >= 0) x = crop_x_;
    UMBRA_CHECK(y + h <= m.rows && x + w <= m.cols, who_, ": the ", h, "x", w, " crop at (", y, ", ", x,
                ") (crop_y_start, crop_x_start) does not fit in the ", m.rows, "x", m.cols, " image");
    m = m(cv::Rect(x, y, w, h));
  }
  return m;
}

void Augmenter::ProcessPlain(const cv::Mat& img, float* out) const {
  const cv::Mat m = Geometry(img, nullptr, false);
  // Offsets in index_t: (ch * h + y) * w in int wrapped past 2^31 pixels (3 x 27000 x 27000).
  const index_t c = shape_[0], h = shape_[1], w = shape_[2];
  for (index_t y = 0; y < h; ++y) {
    const uint8_t* p = m.ptr<uint8_t>(int(y));
    for (index_t x = 0; x < w; ++x)
      for (index_t ch = 0; ch < c; ++ch) out[(ch * h + y) * w + x] = p[x * c + ch];
  }
}

void Augmenter::Process(const cv::Mat& img, uint64_t seed, float* out) const {
  UMBRA_CHECK(img.channels() == int(shape_[0]) && img.depth() == CV_8U, who_, ": image has ", img.channels(),
              " channel(s), input_shape wants ", shape_[0]);
  Random<cpu> rnd(seed);
  cv::Mat m = Geometry(img, &rnd, true);
  const bool flip = mirror_ || (rand_mirror_ && rnd.NextUnit() < 0.5);
  const float contrast = max_contrast_ > 0 ? 1 + Uniform(&rnd, -max_contrast_, max_contrast_) : 1;
  const float illum = max_illum_ > 0 ? Uniform(&rnd, -max_illum_, max_illum_) : 0;
  const index_t c = shape_[0], h = shape_[1], w = shape_[2];  // offsets past 2^31: ProcessPlain
  const float* mean_img = mean_img_.values.empty() ? nullptr : mean_img_.values.data();
  for (index_t y = 0; y < h; ++y) {
    const uint8_t* p = m.ptr<uint8_t>(int(y));
    for (index_t x = 0; x < w; ++x) {
      const index_t sx = flip ? w - 1 - x : x;  // mirroring is folded into the read
      for (index_t ch = 0; ch < c; ++ch) {
        const index_t o = (ch * h + y) * w + x;
        // The mean image is aligned with the unflipped crop: read it where the pixel comes from.
        const float mean = mean_img ? mean_img[(ch * h + y) * w + sx] : mean_[ch];
        // cxxnet's order: the illumination in pixel units, before scale/divideby (added after,
        // 20 was 20 times the [0, 1] range of divideby = 255).
        out[o] = ((float(p[sx * c + ch]) - mean) * contrast + illum) * scale_;
      }
    }
  }
}

}  // namespace umbra::io
