// oneDNN's convolution primitives behind ConvBackend (conv_dnnl.h). Compiled by the host
// compiler only: nvcc never sees dnnl.hpp.
#include "conv_dnnl.h"

#if defined(UMBRA_USE_DNNL) && UMBRA_USE_DNNL
#include <dnnl.hpp>

#include <unordered_map>

namespace umbra::nn {
namespace {

class DnnlConv final : public ConvBackend {
 public:
  using tag = dnnl::memory::format_tag;
  using dt = dnnl::memory::data_type;

  /// x (n, c, h, w) -> y (n, oc, oh, ow), `groups` groups, kernel kh x kw, stride, padding.
  DnnlConv(index_t n, index_t c, index_t h, index_t w, index_t oc, index_t oh, index_t ow,
           index_t groups, index_t kh, index_t kw, index_t sh, index_t sw, index_t ph, index_t pw,
           bool bias)
      : eng_(dnnl::engine::kind::cpu, 0), strm_(eng_), bias_(bias) {
    using dnnl::memory;
    src_md_ = memory::desc({n, c, h, w}, dt::f32, tag::nchw);
    dst_md_ = memory::desc({n, oc, oh, ow}, dt::f32, tag::nchw);
    wei_md_ = groups == 1 ? memory::desc({oc, c, kh, kw}, dt::f32, tag::oihw)
                          : memory::desc({groups, oc / groups, c / groups, kh, kw}, dt::f32, tag::goihw);
    bias_md_ = memory::desc({oc}, dt::f32, tag::x);
    const memory::dims strides{sh, sw}, pad{ph, pw};
    auto any = [](const memory::desc& d) { return memory::desc(d.dims(), dt::f32, tag::any); };
    // Kernels choose their layouts (blocked for AVX-512); reorders convert at the boundary.
    dnnl::convolution_forward::desc fd(dnnl::prop_kind::forward_training,
                                       dnnl::algorithm::convolution_direct, any(src_md_), any(wei_md_),
                                       bias ? bias_md_ : memory::desc(), any(dst_md_), strides, pad, pad);
    fwd_pd_ = dnnl::convolution_forward::primitive_desc(fd, eng_);
    dnnl::convolution_backward_data::desc bd(dnnl::algorithm::convolution_direct, any(src_md_),
                                             any(wei_md_), any(dst_md_), strides, pad, pad);
    bwd_data_pd_ = dnnl::convolution_backward_data::primitive_desc(bd, eng_, fwd_pd_);
    dnnl::convolution_backward_weights::desc wd(dnnl::algorithm::convolution_direct, any(src_md_),
                                                any(wei_md_), bias ? bias_md_ : memory::desc(),
                                                any(dst_md_), strides, pad, pad);
    bwd_wei_pd_ = dnnl::convolution_backward_weights::primitive_desc(wd, eng_, fwd_pd_);
    fwd_ = dnnl::convolution_forward(fwd_pd_);
    bwd_data_ = dnnl::convolution_backward_data(bwd_data_pd_);
    bwd_wei_ = dnnl::convolution_backward_weights(bwd_wei_pd_);
  }

  /// y = conv(x, w) + b (no relu: the layer declines to fuse one where oneDNN convolves).
  void Forward(const float* x, const float* w, const float* b, float* y, bool relu, bool) override {
    UMBRA_CHECK(!relu, "oneDNN convolution: a fused relu was asked of a backend that fuses none");
    auto src = In(0, fwd_pd_.src_desc(), src_md_, x);
    auto wei = In(1, fwd_pd_.weights_desc(), wei_md_, w);
    auto dst = Out(2, fwd_pd_.dst_desc(), dst_md_, y);
    std::unordered_map<int, dnnl::memory> args{{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, wei}, {DNNL_ARG_DST, dst}};
    if (bias_) args[DNNL_ARG_BIAS] = dnnl::memory(bias_md_, eng_, const_cast<float*>(b));
    fwd_.execute(strm_, args);
    Finish(fwd_pd_.dst_desc(), dst_md_, dst, y);
  }
  /// gx = conv^T(gy, w).
  void BackwardData(const float* gy, const float* w, float* gx) override {
    auto ddst = In(3, bwd_data_pd_.diff_dst_desc(), dst_md_, gy);
    auto wei = In(4, bwd_data_pd_.weights_desc(), wei_md_, w);
    auto dsrc = Out(5, bwd_data_pd_.diff_src_desc(), src_md_, gx);
    bwd_data_.execute(strm_, {{DNNL_ARG_DIFF_DST, ddst}, {DNNL_ARG_WEIGHTS, wei}, {DNNL_ARG_DIFF_SRC, dsrc}});
    Finish(bwd_data_pd_.diff_src_desc(), src_md_, dsrc, gx);
  }
  /// gw = d/dw, gb = d/db (written, not accumulated: the layer adds them to its gradients).
  void BackwardWeights(const float* x, const float* gy, float* gw, float* gb) override {
    auto src = In(6, bwd_wei_pd_.src_desc(), src_md_, x);
    auto ddst = In(7, bwd_wei_pd_.diff_dst_desc(), dst_md_, gy);
    auto dwei = Out(8, bwd_wei_pd_.diff_weights_desc(), wei_md_, gw);
    std::unordered_map<int, dnnl::memory> args{{DNNL_ARG_SRC, src}, {DNNL_ARG_DIFF_DST, ddst},
                                               {DNNL_ARG_DIFF_WEIGHTS, dwei}};
    if (bias_) args[DNNL_ARG_DIFF_BIAS] = dnnl::memory(bias_md_, eng_, gb);
    bwd_wei_.execute(strm_, args);
    Finish(bwd_wei_pd_.diff_weights_desc(), wei_md_, dwei, gw);
  }
  // oneDNN's name for each pass's kernel (e.g. "jit:avx512_core").
  std::string Describe() const override {
    return std::string("oneDNN fwd ") + fwd_pd_.impl_info_str() + ", dgrad " + bwd_data_pd_.impl_info_str() +
           ", wgrad " + bwd_wei_pd_.impl_info_str();
  }

 private:
  // A user buffer in the kernel's layout: wrapped as is when layouts agree, else reordered into
  // this slot's scratch memory, allocated on first use and kept (fresh allocations every step
  // cost page faults: a fifth of a LeNet step before they were kept).
  dnnl::memory In(int slot, const dnnl::memory::desc& want, const dnnl::memory::desc& user,
                  const float* p) {
    dnnl::memory um(user, eng_, const_cast<float*>(p));
    if (want == user) return um;
    dnnl::memory& m = Scratch(slot, want);
    dnnl::reorder(um, m).execute(strm_, um, m);
    return m;
  }
  // Where a result goes: straight into the user buffer when layouts agree, else into the slot's
  // scratch, which Finish reorders back.
  dnnl::memory Out(int slot, const dnnl::memory::desc& want, const dnnl::memory::desc& user, float* p) {
    return want == user ? dnnl::memory(user, eng_, p) : Scratch(slot, want);
  }
  dnnl::memory& Scratch(int slot, const dnnl::memory::desc& want) {
    if (!scratch_[slot] || !(scratch_[slot].get_desc() == want)) scratch_[slot] = dnnl::memory(want, eng_);
    return scratch_[slot];
  }
  void Finish(const dnnl::memory::desc& have, const dnnl::memory::desc& user, dnnl::memory& m, float* p) {
    if (!(have == user)) {
      dnnl::memory um(user, eng_, p);
      dnnl::reorder(m, um).execute(strm_, m, um);
    }
    strm_.wait();
  }

  dnnl::engine eng_;
  dnnl::stream strm_;
  dnnl::memory scratch_[9];
  bool bias_;
  dnnl::memory::desc src_md_, dst_md_, wei_md_, bias_md_;
  dnnl::convolution_forward::primitive_desc fwd_pd_;
  dnnl::convolution_backward_data::primitive_desc bwd_data_pd_;
  dnnl::convolution_backward_weights::primitive_desc bwd_wei_pd_;
  dnnl::convolution_forward fwd_;
  dnnl::convolution_backward_data bwd_data_;
  dnnl::convolution_backward_weights bwd_wei_;
};

}  // namespace

std::unique_ptr<ConvBackend> MakeDnnlConv(index_t n, index_t c, index_t h, index_t w, index_t oc,
                                          index_t oh, index_t ow, index_t groups, index_t kh,
                                          index_t kw, index_t sh, index_t sw, index_t ph,
                                          index_t pw, bool bias) {
  return std::make_unique<DnnlConv>(n, c, h, w, oc, oh, ow, groups, kh, kw, sh, sw, ph, pw, bias);
}

}  // namespace umbra::nn
#else
namespace umbra::nn {
std::unique_ptr<ConvBackend> MakeDnnlConv(index_t, index_t, index_t, index_t, index_t, index_t,
                                          index_t, index_t, index_t, index_t, index_t, index_t,
                                          index_t, index_t, bool) {
  return nullptr;
}
}  // namespace umbra::nn
#endif
