// Image augmentation for the img and imgrec iterators (cxxnet's keys; OpenCV). Turns one decoded
// image into one (C, H, W) float row of input_shape: cxxnet's earlier scale (min_scale_ratio),
// affine warp (rotation, shear, scale, aspect), crop (random or centre, optionally of a random
// size then resized), mirror, mean subtraction, contrast, illumination (in pixel units) and
// scale — in that order, cxxnet's. Decoding and the mean-image file live in image_iter.cc and
// mean_image.cc.
//
// Channel order: images arrive RGB (the decoder converts OpenCV's BGR), so channel 0 is red and
// mean_r applies to channel 0 (cxxnet's order differed between its paths). c = 1 is grayscale.
//
// The mean image has the output's shape and is the mean of centre crops; a random crop subtracts
// it as it is, as cxxnet's subtracted the mean it computed (of its own augmented output, where
// this one is of centre crops, unscaled; cxxnet cropped only a loaded mean of the full image's
// size at the crop's offset). For photographs the mean is nearly flat, so the difference is
// small; it lets images of different sizes share one mean.
#pragma once

#include <opencv2/core.hpp>
#include <string>
#include <vector>

#include "umbra/io/mean_image.h"

namespace umbra::io {

class Augmenter {
 public:
  /// Takes a cxxnet augmentation key; false when it is not one.
  bool SetParam(const std::string& key, const std::string& value);
  /// Checks the keys against the output shape (c, h, w); errors name `who`.
  void Init(const Shape<3>& shape, const std::string& who);
  /// The mean image to subtract (shape must be input_shape).
  void SetMeanImage(MeanImage m);
  /// Whether mean_value or mean_r/g/b is set: with an image_mean too, an error (one mean is
  /// subtracted, and mean_value was dropped without a word).
  bool HasMeanValues() const { return mean_[0] != 0 || mean_[1] != 0 || mean_[2] != 0; }

  /// img: 8-bit, c channels, RGB. Writes c*h*w floats to out. The random choices come from `seed`
  /// only, so a row is reproducible whatever thread runs it. Thread-safe (const).
  void Process(const cv::Mat& img, uint64_t seed, float* out) const;
  /// The deterministic part only (a fixed rotate or scale, centre crop or fixed crop; no mean,
  /// no scale): pixel values as they are averaged into a mean image.
  void ProcessPlain(const cv::Mat& img, float* out) const;

 private:
  cv::Mat Geometry(const cv::Mat& img, Random<cpu>* rnd, bool random) const;
  cv::Mat Warp(const cv::Mat& img, Random<cpu>* rnd) const;
  cv::Mat ScaleByRatio(const cv::Mat& img, Random<cpu>* rnd) const;

  Shape<3> shape_;
  std::string who_;
  bool rand_crop_ = false, rand_mirror_ = false, mirror_ = false;
  int crop_y_ = -1, crop_x_ = -1, min_crop_ = 0, max_crop_ = 0;
  float max_aspect_ = 0, max_angle_ = 0, rotate_ = -1, max_shear_ = 0, min_scale_ = 1, max_scale_ = 1;
  std::vector<float> rotate_list_;
  float min_img_ = 0, max_img_ = 0;  // 0: none
  float min_ratio_ = 0, max_ratio_ = 0;  // min_scale_ratio, max_scale_ratio; 0: none
  float mean_[3] = {0, 0, 0}, scale_ = 1, max_contrast_ = 0, max_illum_ = 0, fill_ = 255;
  bool mean_g_b_ = false;  // mean_g or mean_b given (mean_value sets all three alike)
  MeanImage mean_img_;
};

}  // namespace umbra::io
