// Mean image files (the image_mean key of the img/imgrec iterators). When the file named by
// image_mean is missing, the iterator computes the mean over its data set (each image decoded and
// centre-cropped to input_shape, no random augmentation, pixel values 0-255, channels R,G,B) and
// writes it; later runs read it. cxxnet's mean.bin files are not this format.
//
// Format (little-endian): bytes "UMBRAMEA" (8), uint32 version = 1, uint32 c, uint32 h, uint32 w,
// then c*h*w float32 in (C, H, W) order. Numpy: np.fromfile(f, '<f4', offset=24).reshape(c, h, w).
#pragma once

#include <string>
#include <vector>

#include "umbra/tensor.h"

namespace umbra::io {

struct MeanImage {
  Shape<3> shape;            // (c, h, w)
  std::vector<float> values;  // c*h*w, (C, H, W) order
};

/// Writes atomically (a temporary file renamed over `path`). Throws umbra::Error on I/O failure.
void WriteMeanImage(const std::string& path, const MeanImage& m);
/// Reads; a missing file, bad magic/version or a truncated file is an umbra::Error naming it.
MeanImage ReadMeanImage(const std::string& path);
/// Whether `path` is a regular file that starts as a mean image does (what an output must not replace).
bool IsMeanImageFile(const std::string& path);

}  // namespace umbra::io
