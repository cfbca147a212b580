// Tensor<Device, N, DType>: a white-box, non-owning view of N-dimensional memory.
// A tensor is a handle like std::span: copying or assigning one Tensor to another rebinds the view
// (no data moves); to copy data use Copy(dst, src) or `dst = F<op::identity>(src)`. Writing an
// expression into it (`t = a * b`, `t += 1`) evaluates in place.
// Memory layout: row-major; only the last dimension may be padded: element (i0..iN-1) lives at
// dptr_[FlatRow(i0..iN-2) * stride_ + iN-1], so stride_ >= shape_[N-1]. Owning storage is
// TensorContainer (memory.h); streams are in stream.h.
#pragma once

#include "umbra/tensor/expression.h"

namespace umbra {

/// Per-device execution context (CUDA stream + library handles on gpu); defined in stream.h.
template <typename Device>
struct Stream;

template <typename Device, int N, typename DType = float>
struct Tensor : public expr::RValueExp<Tensor<Device, N, DType>, DType> {
  static constexpr int kDim = N;
  static constexpr int kSubDim = N - 1;
  static constexpr int kDevMask = Device::kDevMask;
  static constexpr bool kFlat = true;
  using DeviceType = Device;

  DType* dptr_ = nullptr;
  Shape<N> shape_;
  /// Distance in elements between consecutive rows of the 2-D flattened view.
  index_t stride_ = 0;
  /// Stream the tensor's operations run on (nullptr: the default stream / calling thread).
  Stream<Device>* stream_ = nullptr;

  UMBRA_XINLINE Tensor() {}
  UMBRA_XINLINE explicit Tensor(const Shape<N>& shape) : shape_(shape), stride_(shape[N - 1]) {}
  UMBRA_XINLINE Tensor(DType* dptr, const Shape<N>& shape)
      : dptr_(dptr), shape_(shape), stride_(shape[N - 1]) {}
  UMBRA_XINLINE Tensor(DType* dptr, const Shape<N>& shape, Stream<Device>* stream)
      : dptr_(dptr), shape_(shape), stride_(shape[N - 1]), stream_(stream) {}
  UMBRA_XINLINE Tensor(DType* dptr, const Shape<N>& shape, index_t stride, Stream<Device>* stream)
      : dptr_(dptr), shape_(shape), stride_(stride), stream_(stream) {}

  void set_stream(Stream<Device>* stream) { stream_ = stream; }
  /// The view itself (TensorContainer::view() gives the same for owned storage).
  const Tensor& view() const { return *this; }

  /// True when rows follow each other without padding (the flat fast path applies).
  UMBRA_XINLINE bool CheckContiguous() const { return N == 1 || stride_ == shape_[N - 1]; }
  /// Number of elements.
  UMBRA_XINLINE index_t Size() const { return shape_.Size(); }
  /// Elements of memory spanned, padding included.
  UMBRA_XINLINE index_t MSize() const { return shape_.ProdShape(0, N - 1) * stride_; }
  /// Extent of dimension `idx`.
  UMBRA_XINLINE index_t size(int idx) const { return shape_[idx]; }

  /// The same memory seen as 1-D; requires contiguous memory.
  Tensor<Device, 1, DType> FlatTo1D() const {
    UMBRA_CHECK(CheckContiguous(), "FlatTo1D needs a contiguous tensor, got shape ", shape_,
                " with row stride ", stride_);
    return Tensor<Device, 1, DType>(dptr_, Shape1(Size()), Size(), stream_);
  }
  /// The same memory seen as 2-D (all but last, last); keeps the stride.
  Tensor<Device, 2, DType> FlatTo2D() const {
    return Tensor<Device, 2, DType>(dptr_, shape_.FlatTo2D(), stride_, stream_);
  }
  /// The sub-tensor at index `idx` of the first dimension.
  Tensor<Device, (N > 1 ? N - 1 : 1), DType> operator[](index_t idx) const {
    static_assert(N > 1, "operator[] on a 1-D tensor would give a scalar; use dptr_[i] on cpu");
    UMBRA_CHECK(idx >= 0 && idx < shape_[0], "index ", idx, " out of range for shape ", shape_);
    Shape<N - 1> s = shape_.SubShape();
    return Tensor<Device, N - 1, DType>(dptr_ + s.ProdShape(0, N - 2) * stride_ * idx, s,
                                        stride_, stream_);
  }
  /// Rows [begin, end) of the first dimension; shares memory.
  Tensor<Device, N, DType> Slice(index_t begin, index_t end) const {
    UMBRA_CHECK(0 <= begin && begin <= end && end <= shape_[0], "Slice(", begin, ", ", end,
                ") out of range for shape ", shape_);
    Shape<N> s = shape_;
    s[0] = end - begin;
    const index_t row_elems = (N > 1 ? shape_.ProdShape(1, N - 1) : 1) * stride_;
    return Tensor<Device, N, DType>(dptr_ + (N > 1 ? row_elems * begin : begin), s,
                                    N > 1 ? stride_ : s[0], stream_);
  }
  /// Columns [begin, end) of the last dimension: a non-contiguous view (stride kept).
  Tensor<Device, N, DType> SliceLast(index_t begin, index_t end) const {
    UMBRA_CHECK(0 <= begin && begin <= end && end <= shape_[N - 1], "SliceLast(", begin, ", ",
                end, ") out of range for shape ", shape_);
    static_assert(N > 1, "SliceLast on a 1-D tensor: use Slice");
    Shape<N> s = shape_;
    s[N - 1] = end - begin;
    return Tensor<Device, N, DType>(dptr_ + begin, s, stride_, stream_);
  }
  /// The same contiguous memory with another shape of the same size.
  template <int M>
  Tensor<Device, M, DType> View(const Shape<M>& s) const {
    UMBRA_CHECK(CheckContiguous(), "View needs a contiguous tensor, got shape ", shape_,
                " with row stride ", stride_);
    UMBRA_CHECK_EQ(s.Size(), Size(), "View from ", shape_, " to ", s, " changes the size");
    return Tensor<Device, M, DType>(dptr_, s, s[M - 1], stream_);
  }
  /// Transpose for dot() (and a strided elementwise read).
  expr::TransposeExp<Tensor, DType> T() const {
    return expr::TransposeExp<Tensor, DType>(*this);
  }

  /// Evaluates an expression into this view.
  template <typename E, int etype>
  Tensor& operator=(const expr::Exp<E, DType, etype>& e) {
    return this->template Assign<sv::saveto>(e);
  }
  Tensor& operator=(DType s) { return this->template Assign<sv::saveto>(expr::ScalarExp<DType>(s)); }
  /// Rebinds the view (handle semantics, see the file comment).
  Tensor& operator=(const Tensor&) = default;
  Tensor(const Tensor&) = default;
};

/// 1-D specialisation details: a 1-D tensor is one row; stride_ equals its length.
template <typename Device, typename DType = float>
using Tensor1D = Tensor<Device, 1, DType>;
template <typename Device, typename DType = float>
using Tensor2D = Tensor<Device, 2, DType>;
template <typename Device, typename DType = float>
using Tensor3D = Tensor<Device, 3, DType>;
template <typename Device, typename DType = float>
using Tensor4D = Tensor<Device, 4, DType>;

}  // namespace umbra
