// Memory: allocation of tensor storage, Copy between any two devices, and the owning
// TensorContainer. CPU storage is 64-byte aligned (AVX-512 rows); GPU storage always comes from the
// caching allocator (cuda/allocator.h). Evaluation of expressions is in engine.h.
#pragma once

#include <malloc.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <new>
#include <utility>
#include <vector>

#include "umbra/tensor/alias.h"
#include "umbra/tensor/host_memory.h"
#include "umbra/tensor/plan.h"
#include "umbra/tensor/stream.h"
#include "umbra/tensor/tensor.h"

#if defined(UMBRA_USE_CUDA) && UMBRA_USE_CUDA
#include "umbra/tensor/cuda/allocator.h"
#endif

namespace umbra {

namespace detail {
inline constexpr size_t kCPUAlign = 64;
// Bytes of tensor storage alive on the host. Linux hands out memory it does not have
// (overcommit), so a net past the machine's memory (nhidden = 10^8) was killed by the OOM
// killer without a word once it touched its weights; the sum is checked against the machine's
// memory here instead, where the caller can still name the layer or node.
inline std::atomic<size_t>& HostTensorBytes() {
  static std::atomic<size_t> bytes{0};
  return bytes;
}
// The machine's memory, or its memory cgroup's limit where less (host_memory.h).
inline size_t HostMemoryBytes() { return HostMemoryLimit().bytes; }
// Refuses `bytes` more of tensors where they and those alive would pass the machine's memory;
// also asked before a large allocation whose size is known early (Net's largest node).
inline void CheckHostRoom(size_t bytes) {
  const size_t live = HostTensorBytes().load(std::memory_order_relaxed);
  constexpr double kGiB = double(1 << 30);
  UMBRA_CHECK(HostMemoryBytes() == 0 || bytes <= HostMemoryBytes() - std::min(live, HostMemoryBytes()),
              "out of host memory: tensors would take ", (double(live) + double(bytes)) / kGiB,
              " GiB, more than ", HostMemoryLimit().what, " ", double(HostMemoryBytes()) / kGiB, " GiB (asked for ",
              double(bytes) / kGiB, " GiB more)");
}
inline void* AlignedAlloc(size_t bytes) {
  if (bytes == 0) return nullptr;
  // Rounding up wrapped a size within 64 bytes of 2^64 to 0 (AllocBytes refuses past 2^63).
  UMBRA_CHECK(bytes <= SIZE_MAX - kCPUAlign, "out of host memory: asked for ", bytes, " bytes");
  size_t rounded = (bytes + kCPUAlign - 1) / kCPUAlign * kCPUAlign;
  CheckHostRoom(rounded);
  void* p = std::aligned_alloc(kCPUAlign, rounded);
  UMBRA_CHECK(p != nullptr, "out of host memory: asked for ", bytes, " bytes");
  HostTensorBytes().fetch_add(malloc_usable_size(p), std::memory_order_relaxed);
  return p;
}
inline void AlignedFree(void* p) {
  if (!p) return;
  HostTensorBytes().fetch_sub(malloc_usable_size(p), std::memory_order_relaxed);
  std::free(p);
}
}  // namespace detail

namespace detail {
// A negative dimension made a size that wrapped or rounded to nothing, and failed later (a
// negative-size memmove in a copy): refused where the space is asked for.
template <int N>
inline void CheckAllocShape(const Shape<N>& s) {
  for (int i = 0; i < N; ++i) UMBRA_CHECK(s[i] >= 0, "cannot allocate a tensor of shape ", s, ": a negative dimension");
}
// The bytes of shape s in rows of `stride` elements of `elem` bytes. A product past size_t is an
// error: Shape2(1 << 31, 1 << 31) of floats wrapped to 0 bytes, a null tensor that later
// statements wrote through or called unallocated. So is one past 2^63, which the allocators'
// rounding up (to 64 bytes here, 1 MiB on the GPU) wrapped to 0: a (2^31 - 1, 2^31 + 1) weight,
// 2^64 - 4 bytes, got a 56-byte block.
template <int N>
inline size_t AllocBytes(const Shape<N>& s, index_t stride, size_t elem) {
  size_t n = elem;
  bool over = __builtin_mul_overflow(n, size_t(stride), &n);
  for (int i = 0; i < N - 1; ++i) over |= __builtin_mul_overflow(n, size_t(s[i]), &n);
  UMBRA_CHECK(!over && n <= (SIZE_MAX >> 1), "cannot allocate a tensor of shape ", s,
              ": its size in bytes overflows");
  return n;
}
}  // namespace detail

/// Allocates storage for `t` (shape_ set by the caller). With pad, each row is rounded up to a
/// multiple of 64 bytes so rows start aligned; stride_ reports the choice.
template <int N, typename DType>
inline void AllocSpace(Tensor<cpu, N, DType>* t, bool pad = false) {
  detail::CheckAllocShape(t->shape_);
  const index_t cols = t->shape_[N - 1];
  const index_t per_line = detail::kCPUAlign / sizeof(DType);
  t->stride_ = pad && per_line > 0 ? (cols + per_line - 1) / per_line * per_line : cols;
  t->dptr_ = static_cast<DType*>(detail::AlignedAlloc(detail::AllocBytes(t->shape_, t->stride_, sizeof(DType))));
}
template <int N, typename DType>
inline void FreeSpace(Tensor<cpu, N, DType>* t) {
  detail::AlignedFree(t->dptr_);
  t->dptr_ = nullptr;
}

#if defined(UMBRA_USE_CUDA) && UMBRA_USE_CUDA
template <int N, typename DType>
inline void AllocSpace(Tensor<gpu, N, DType>* t, bool /*pad*/ = false) {
  // GPU rows are not padded: the elementwise kernel is flat and coalesced without it.
  detail::CheckAllocShape(t->shape_);
  t->stride_ = t->shape_[N - 1];
  t->dptr_ = static_cast<DType*>(
      cuda::CachingAllocator::Get().Alloc(detail::AllocBytes(t->shape_, t->stride_, sizeof(DType))));
}
template <int N, typename DType>
inline void FreeSpace(Tensor<gpu, N, DType>* t) {
  cuda::CachingAllocator::Get().Free(t->dptr_);
  t->dptr_ = nullptr;
}
#endif

/// Copies src into dst (same shape; any pair of devices; strides respected). Copies involving a
/// GPU are queued on `stream`, by default the GPU tensor's own stream (asynchronous: Wait() on it
/// before reading a host destination). A pageable host source may be reused when Copy returns.
template <typename DevD, typename DevS, int N, typename DType>
inline void Copy(Tensor<DevD, N, DType> dst, const Tensor<DevS, N, DType>& src,
                 Stream<gpu>* stream = nullptr) {
  UMBRA_CHECK(dst.shape_ == src.shape_, "Copy: shape mismatch: destination ", dst.shape_,
              " vs source ", src.shape_);
  const Shape<2> d2 = dst.shape_.FlatTo2D();
  if constexpr (DevD::kDevCPU && DevS::kDevCPU) {
    (void)stream;
    if (dst.CheckContiguous() && src.CheckContiguous()) {
      if (dst.Size()) std::memmove(dst.dptr_, src.dptr_, sizeof(DType) * dst.Size());
    } else {
      for (index_t y = 0; y < d2[0]; ++y)
        std::memmove(dst.dptr_ + y * dst.stride_, src.dptr_ + y * src.stride_,
                     sizeof(DType) * d2[1]);
    }
  } else {
#if defined(UMBRA_USE_CUDA) && UMBRA_USE_CUDA
    if (dst.Size() == 0) return;
    // Without an explicit stream, use the GPU side's own stream so the copy is ordered with the
    // kernels queued on that tensor.
    if (!stream) {
      if constexpr (!DevD::kDevCPU) stream = dst.stream_;
      else stream = src.stream_;
    }
    const cudaStream_t s = Stream<gpu>::GetStream(stream);
    if (dst.CheckContiguous() && src.CheckContiguous()) {
      // One linear copy: a 2-D copy's pitch is limited (about 2 GiB), a linear one is not.
      UMBRA_CUDA_CHECK(cudaMemcpyAsync(dst.dptr_, src.dptr_, sizeof(DType) * dst.Size(),
                                       cudaMemcpyDefault, s));
    } else {
      UMBRA_CUDA_CHECK(cudaMemcpy2DAsync(dst.dptr_, sizeof(DType) * dst.stride_, src.dptr_,
                                         sizeof(DType) * src.stride_, sizeof(DType) * d2[1],
                                         d2[0], cudaMemcpyDefault, s));
    }
    // From pageable host memory CUDA promises only that the copy "might be synchronous": a
    // caller may free or rewrite its source once Copy returns (a temporary host tensor), so the
    // copy is waited for. Pinned sources (the feeder's) stay asynchronous: a caller with a pinned
    // source must leave it unchanged until the stream has passed the copy (an event, as the
    // feeder records), or the device reads the new bytes.
    if constexpr (DevS::kDevCPU && !DevD::kDevCPU) {
      cudaPointerAttributes at{};
      if (cudaPointerGetAttributes(&at, src.dptr_) != cudaSuccess) {
        cudaGetLastError();
        at.type = cudaMemoryTypeUnregistered;
      }
      if (at.type != cudaMemoryTypeHost) UMBRA_CUDA_CHECK(cudaStreamSynchronize(s));
    }
#else
    static_assert(DevD::kDevCPU && DevS::kDevCPU, "umbra: built without CUDA");
#endif
  }
}

/// Copy to the host that returns only when the data is there: waits for the device side's
/// stream after a gpu-to-cpu copy (what must happen before the host reads a result).
template <int N, typename DType, typename DevS>
inline void CopyToHost(Tensor<cpu, N, DType> dst, const Tensor<DevS, N, DType>& src) {
  Copy(dst, src);
  if constexpr (!DevS::kDevCPU) {
#if defined(UMBRA_USE_CUDA) && UMBRA_USE_CUDA
    UMBRA_CUDA_CHECK(cudaStreamSynchronize(Stream<gpu>::GetStream(src.stream_)));
#endif
  }
}

/// Fills `t` with a value. On gpu tensors it is host API (memset for 0, otherwise a staged host
/// copy) so that it has one definition in .cc and .cu files alike; inside .cu files prefer
/// `t = v`, which is one kernel.
template <typename Device, int N, typename DType>
inline void Fill(Tensor<Device, N, DType> t, DType v);

/// Owning tensor: allocates on construction/Resize, frees on destruction; copies are deep.
/// Assigning an elementwise or index-mapping expression resizes it to the expression's shape.
template <typename Device, int N, typename DType = float>
class TensorContainer : public Tensor<Device, N, DType> {
 public:
  using Base = Tensor<Device, N, DType>;

  explicit TensorContainer(bool pad = false) : pad_(pad) { this->shape_[0] = 0; }
  explicit TensorContainer(const Shape<N>& shape, bool pad = false) : pad_(pad) { Alloc(shape); }
  TensorContainer(const Shape<N>& shape, DType init, bool pad = false) : pad_(pad) {
    Alloc(shape);
    Fill(Base(*this), init);
  }
  /// A deep copy of any view (strides dropped).
  explicit TensorContainer(const Base& src) : pad_(false) {
    this->stream_ = src.stream_;
    Alloc(src.shape_);
    if constexpr (Device::kDevCPU) Copy(Base(*this), src);
    else Copy(Base(*this), src, this->stream_);
  }
  TensorContainer(const TensorContainer& o) : Base(), pad_(o.pad_) {
    this->stream_ = o.stream_;
    Alloc(o.shape_);
    CopyFrom(o);
  }
  // The moved-from container is empty (it kept its shape, and `b = 2.f` wrote through null).
  TensorContainer(TensorContainer&& o) noexcept : Base(o), pad_(o.pad_) { o.dptr_ = nullptr, o.shape_[0] = 0; }
  TensorContainer& operator=(const TensorContainer& o) {
    if (this == &o) return *this;
    Resize(o.shape_);
    CopyFrom(o);
    return *this;
  }
  TensorContainer& operator=(TensorContainer&& o) noexcept {
    if (this == &o) return *this;
    Release();
    static_cast<Base&>(*this) = o;
    pad_ = o.pad_;
    o.dptr_ = nullptr, o.shape_[0] = 0;
    return *this;
  }
  ~TensorContainer() { Release(); }

  /// Reallocates when the shape changes (contents then undefined).
  void Resize(const Shape<N>& shape) {
    if (this->dptr_ && shape == this->shape_) return;
    Release();
    Alloc(shape);
  }
  /// Resizes and fills.
  void Resize(const Shape<N>& shape, DType init) {
    Resize(shape);
    Fill(Base(*this), init);
  }
  /// The non-owning view (what expressions capture).
  const Base& view() const { return *this; }

  template <typename E, int etype>
  TensorContainer& operator=(const expr::Exp<E, DType, etype>& e) {
    if constexpr (etype != expr::kComplex) {
      Shape<N> s = expr::ShapeCheck<N, E>::Check(e.self());
      // Where the expression reads this container's storage other than each element where it
      // is written (a = a.T(), a = swapaxis<0, 1>(a)), or at all under a new shape (a =
      // reshape(a, s), a = a.Slice(0, 2): a Resize freed it before the read), the values go to
      // new storage, which then takes the old one's place. Otherwise a new shape frees the old
      // storage before taking the new (not both held at once).
      const bool reshaped = s[0] != -1 && !(s == this->shape_);
      if (this->dptr_ && expr::ReadsFrom(this->view(), e.self(), reshaped)) {
        TensorContainer next(reshaped ? s : this->shape_, pad_);
        next.stream_ = this->stream_;
        next.template Assign<sv::saveto>(e);
        return *this = std::move(next);
      }
      if (s[0] != -1) Resize(s);
    }
    this->template Assign<sv::saveto>(e);
    return *this;
  }
  TensorContainer& operator=(DType s) {
    this->template Assign<sv::saveto>(expr::ScalarExp<DType>(s));
    return *this;
  }
  // a += a.T(): the expression's value first, where it reads this storage elsewhere than at the
  // element being written (alias.h), then added.
  using Base::operator+=;
  using Base::operator-=;
  using Base::operator*=;
  using Base::operator/=;
  template <typename E, int etype>
  TensorContainer& operator+=(const expr::Exp<E, DType, etype>& e) { return Compound<sv::plusto>(e); }
  template <typename E, int etype>
  TensorContainer& operator-=(const expr::Exp<E, DType, etype>& e) { return Compound<sv::minusto>(e); }
  template <typename E, int etype>
  TensorContainer& operator*=(const expr::Exp<E, DType, etype>& e) { return Compound<sv::multo>(e); }
  template <typename E, int etype>
  TensorContainer& operator/=(const expr::Exp<E, DType, etype>& e) { return Compound<sv::divto>(e); }

 private:
  template <typename SV, typename E, int etype>
  TensorContainer& Compound(const expr::Exp<E, DType, etype>& e) {
    if constexpr (etype != expr::kComplex) {
      const Shape<N> s = expr::ShapeCheck<N, E>::Check(e.self());
      UMBRA_CHECK(s[0] == -1 || s == this->shape_, "shape mismatch in assignment (", SV::kName, "): destination ",
                  this->shape_, " but expression ", s);
      if (this->dptr_ && expr::ReadsFrom(this->view(), e.self(), false)) {
        TensorContainer value(this->shape_, pad_);
        value.stream_ = this->stream_;
        value.template Assign<sv::saveto>(e);
        this->template Assign<SV>(value.view());
        return *this;
      }
    }
    this->template Assign<SV>(e);
    return *this;
  }
  // Where the space cannot be had (out of memory, a size past size_t) the container is left
  // empty, not with the new shape and no memory.
  void Alloc(const Shape<N>& shape) {
    this->shape_ = shape;
    try {
      AllocSpace(static_cast<Base*>(this), pad_);
    } catch (...) {
      this->dptr_ = nullptr, this->shape_[0] = 0;
      throw;
    }
  }
  void Release() {
    if (this->dptr_) FreeSpace(static_cast<Base*>(this));
  }
  void CopyFrom(const TensorContainer& o) {
    if constexpr (Device::kDevCPU) Copy(Base(*this), o.view());
    else Copy(Base(*this), o.view(), this->stream_);
  }
  bool pad_ = false;
};

/// Allocates a tensor (to be released with FreeSpace) and fills it with `init`.
template <typename Device, int N, typename DType>
inline Tensor<Device, N, DType> NewTensor(const Shape<N>& shape, DType init, bool pad = false,
                                          Stream<Device>* stream = nullptr) {
  Tensor<Device, N, DType> t(shape);
  t.stream_ = stream;
  AllocSpace(&t, pad);
  Fill(t, init);
  return t;
}

}  // namespace umbra
