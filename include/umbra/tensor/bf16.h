// bfloat16 as a tensor element type, for bf16 nodes (NetSpec::bf16_nodes) that umbra's own
// expressions read and write: `y16 = tcast<Bf16>(pool<red::maximum>(tcast<float>(x16), ...))`
// computes in float from the widened values and rounds once, as it stores. Only conversions, no
// arithmetic: every operation happens in float. No CUDA header (the layer templates include
// this in .cc files too): the rounding is written out, to nearest even like
// __float2bfloat16_rn, the same on the host, the GPU and in the emulation; a NaN stays a quiet
// NaN of its sign.
#pragma once

#include <cstdint>
#include <cstring>

#include "umbra/base.h"

namespace umbra {

struct Bf16 {
  uint16_t bits;

  Bf16() = default;
  UMBRA_XINLINE explicit Bf16(float f) : bits(Round(f)) {}
  UMBRA_XINLINE explicit operator float() const {
    const uint32_t u = uint32_t(bits) << 16;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
  }

  UMBRA_XINLINE static uint16_t Round(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    if ((u & 0x7fffffffu) > 0x7f800000u) return uint16_t((u >> 16) | 0x40u);  // NaN: quiet, sign kept
    u += 0x7fffu + ((u >> 16) & 1u);
    return uint16_t(u >> 16);
  }
};
static_assert(sizeof(Bf16) == 2, "Bf16 is the 2 bytes of a bf16 node's value");

}  // namespace umbra
