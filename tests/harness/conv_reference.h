// Double references for a 2-D convolution (cross-correlation, groups, stride, padding) in NCHW,
// summed on the host product by product: what the GPU convolution tests (umbra's GEMMs,
// conv_gemm.h; cuDNN's engine plans, cudnn/conv_engines.h) check their outputs against.
#pragma once

#include <cstddef>
#include <vector>

#include "conv_gemm.h"

namespace umbra::test {

/// Calls tap(x index, w index, y index) for every product of the convolution of x (n, c, h, w)
/// with w (oc, c/groups, kh, kw) into y (n, oc, oh, ow), padding skipped.
template <typename Tap>
void ForEachConvTap(const nn::ConvGemmGeom& g, Tap tap) {
  const index_t cg = g.c / g.groups, og = g.oc / g.groups;
  for (index_t n = 0; n < g.n; ++n)
    for (index_t o = 0; o < g.oc; ++o)
      for (index_t ci = 0; ci < cg; ++ci)
        for (index_t ky = 0; ky < g.kh; ++ky)
          for (index_t kx = 0; kx < g.kw; ++kx)
            for (index_t oy = 0; oy < g.oh; ++oy)
              for (index_t ox = 0; ox < g.ow; ++ox) {
                const index_t iy = oy * g.sh - g.ph + ky, ix = ox * g.sw - g.pw + kx;
                if (iy < 0 || iy >= g.h || ix < 0 || ix >= g.w) continue;
                const index_t c = (o / og) * cg + ci;
                tap(size_t(((n * g.c + c) * g.h + iy) * g.w + ix), size_t(((o * cg + ci) * g.kh + ky) * g.kw + kx),
                    size_t(((n * g.oc + o) * g.oh + oy) * g.ow + ox));
              }
}

/// y of x and w.
inline std::vector<double> ConvForwardReference(const nn::ConvGemmGeom& g, const std::vector<float>& x,
                                                const std::vector<float>& w) {
  std::vector<double> y(size_t(g.n * g.oc * g.oh * g.ow), 0.0);
  ForEachConvTap(g, [&](size_t xi, size_t wi, size_t yi) { y[yi] += double(x[xi]) * w[wi]; });
  return y;
}

}  // namespace umbra::test
