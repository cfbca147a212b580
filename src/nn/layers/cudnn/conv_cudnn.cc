// cuDNN convolution backend (conv_cudnn.h). Napkin: LeNet's conv2 at batch 100 is 100 x 64 x
// 8x8 outputs x 800 MACs = 0.33 GMAC a pass; the im2col path moves a 100 x 800 x 64 column
// buffer (20 MB) through memory twice, which cuDNN's implicit-GEMM kernels never write.
#include "conv_cudnn.h"

#if defined(UMBRA_USE_CUDNN) && UMBRA_USE_CUDNN
#include "cudnn_util.h"

#include <algorithm>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "batch_norm_stats.h"
#include "bf16_cast.h"
#include "swap_inner.h"
#include "conv_engines.h"
#include "conv_gemm.h"
#include "pass_buffer.h"
#include "umbra/nn/pass_scratch.h"
#include "umbra/tensor/cuda/allocator.h"

namespace umbra::nn {
namespace {

// What one pass's search measured: the results as PickAlgo weighs them, and each one's
// algorithm with the math type it was measured under (an algorithm may be listed under
// several, with different workspaces), applied to the descriptor before each call.
struct Algo {
  int algo = -1;
  size_t ws = 0;
  cudnnMathType_t math = CUDNN_DEFAULT_MATH;
  /// > 0: not cuDNN's but umbra's columns and GEMM (conv_gemm.h), this many images a chunk,
  /// ws its scratch.
  index_t own_chunk = 0;
  /// Set: not a legacy algorithm but this engine configuration of the graph API (conv_engines.h).
  std::shared_ptr<const EnginePlan> plan;
};
struct Measured {
  std::vector<AlgoTrial> trials;
  std::vector<Algo> algos;
  std::string refused;  // what the legacy search returned, for the error where nothing is usable
};
// The searches of each geometry (and options), shared by all layers of that geometry; each
// call picks from them by the gap its own pass leaves free.
struct Choice {
  Measured fwd, bwd_data, bwd_filter;
};
std::mutex choice_mu;
// Never destroyed: it holds engine plans (cuDNN backend descriptors), and destroying those at
// exit, after cuDNN and the driver may have shut down, crashed PyTorch's processes with cuDNN
// 9.10 and later (pytorch/pytorch#169153, whose cache now leaks on purpose likewise).
std::map<std::string, Choice>& Choices() {
  static auto* c = new std::map<std::string, Choice>;
  return *c;
}

// Device scratch of one call: pass_buffer.h (the pass's gap, else the caching allocator).
using Scratch = PassBuffer;
// The search's scratch: straight from the driver and back, so that a once-only buffer of up to
// the workspace cap neither stays in the allocator's cache nor counts in the peak it reports.
struct ProbeScratch {
  void* p = nullptr;
  size_t bytes = 0;
  explicit ProbeScratch(size_t n) : bytes(n) {
    if (!n) return;
    // The caching allocator's idle blocks count as free (ProbeBytes): given back first where
    // the driver has too little, else the search would measure only the algorithms that need
    // no workspace, and keep that pick for the process.
    if (cudaMalloc(&p, n) != cudaSuccess) {
      cudaGetLastError();
      p = nullptr;
      if (cuda::CachingAllocator::Get().TryEmptyCache() && cudaMalloc(&p, n) != cudaSuccess) {
        cudaGetLastError();
        p = nullptr;
      }
      if (!p) bytes = 0;  // search without workspace rather than fail
    }
  }
  ~ProbeScratch() {
    if (p) {
      cudaDeviceSynchronize();
      cudaFree(p);
    }
  }
};

// A legacy search's results as the picks weigh them (usable: succeeded within the cap, FMA math
// only when TF32 is off), and what it returned, for the error when nothing at all is usable. With the
// descriptor at FMA math, cuDNN labels its fp32 results FMA: PyTorch asserts as much of the
// result it picks when TF32 is off (ASSERT_CORRECT_PRECISION in its Conv_v7.cpp).
template <typename Perf>
Measured Measure(const std::vector<Perf>& perf, int returned, size_t cap, bool tf32) {
  Measured m;
  for (int i = 0; i < returned; ++i) {
    m.trials.push_back({perf[i].time, perf[i].memory,
                        perf[i].status == CUDNN_STATUS_SUCCESS && perf[i].memory <= cap &&
                            (tf32 || perf[i].mathType == CUDNN_FMA_MATH)});
    m.algos.push_back(Algo{int(perf[i].algo), perf[i].memory, perf[i].mathType});
  }
  m.refused = "; it returned " + std::to_string(returned) + (returned ? ": " : "");
  for (int i = 0; i < returned; ++i)
    m.refused += std::string(i ? "; " : "") + "algo " + std::to_string(int(perf[i].algo)) + " (" +
                 cudnnGetErrorString(perf[i].status) + ", " + std::to_string(perf[i].memory >> 20) + " MiB, math " +
                 std::to_string(int(perf[i].mathType)) + ")";
  return m;
}

// Room for every result a search may return: the header's algorithm count, or the library's own
// count where that is larger (a newer cuDNN than the headers).
template <typename Perf>
std::vector<Perf> PerfSlots(int header_count, cudnnStatus_t (*max_count)(cudnnHandle_t, int*), cudnnHandle_t h) {
  int n = 0;
  if (max_count(h, &n) != CUDNN_STATUS_SUCCESS) n = 0;
  return std::vector<Perf>(size_t(std::max(header_count, n)));
}

class CudnnConv : public ConvBackend {
 public:
  CudnnConv(index_t n, index_t c, index_t h, index_t w, index_t oc, index_t oh, index_t ow, index_t g,
            index_t kh, index_t kw, index_t sh, index_t sw, index_t ph, index_t pw, bool bias,
            const CudnnConvOptions& opt, void* stream)
      : bias_(bias), tf32_(opt.tf32 || opt.bf16), bf16_(opt.bf16), nodes16_(opt.bf16 && opt.bf16_nodes),
        nhwc_(opt.nhwc), search_(opt.search),
        cap_(size_t(opt.workspace_mib) << 20), stream_(static_cast<cudaStream_t>(stream)) {
    nx_ = size_t(n * c * h * w), ny_ = size_t(n * oc * oh * ow), nw_ = size_t(oc * (c / g) * kh * kw);
    geom_ = ConvGemmGeom{n, c, h, w, oc, oh, ow, g, kh, kw, sh, sw, ph, pw};
    oc_ = oc, cg_ = c / g, rs_ = kh * kw, ohw_ = size_t(oh * ow);
    // NHWC: activations (n, h, w, c), the filter copy (oc, kh, kw, c/g); the bias (1, oc, 1, 1)
    // is the same memory either way and is described alike.
    const cudnnTensorFormat_t fmt = nhwc_ ? CUDNN_TENSOR_NHWC : CUDNN_TENSOR_NCHW;
    // The convolution's operands are bf16 or float; bias work is always on the fp32 output.
    const cudnnDataType_t dt = bf16_ ? CUDNN_DATA_BFLOAT16 : CUDNN_DATA_FLOAT;
    UMBRA_CUDNN_CHECK(cudnnCreateTensorDescriptor(&x_));
    UMBRA_CUDNN_CHECK(cudnnCreateTensorDescriptor(&y_));
    UMBRA_CUDNN_CHECK(cudnnCreateTensorDescriptor(&yf_));
    UMBRA_CUDNN_CHECK(cudnnCreateTensorDescriptor(&b_));
    UMBRA_CUDNN_CHECK(cudnnCreateFilterDescriptor(&w_));
    UMBRA_CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&conv_));
    UMBRA_CUDNN_CHECK(cudnnSetTensor4dDescriptor(x_, fmt, dt, int(n), int(c), int(h), int(w)));
    UMBRA_CUDNN_CHECK(cudnnSetTensor4dDescriptor(y_, fmt, dt, int(n), int(oc), int(oh), int(ow)));
    UMBRA_CUDNN_CHECK(cudnnSetTensor4dDescriptor(yf_, fmt, CUDNN_DATA_FLOAT, int(n), int(oc), int(oh), int(ow)));
    UMBRA_CUDNN_CHECK(cudnnSetTensor4dDescriptor(b_, fmt, CUDNN_DATA_FLOAT, 1, int(oc), 1, 1));
    // wmat (oc, c/g * kh * kw) is exactly KCRS with C = c/g (NHWC: the KRSC copy).
    UMBRA_CUDNN_CHECK(cudnnSetFilter4dDescriptor(w_, dt, fmt, int(oc), int(c / g), int(kh), int(kw)));
    // Cross-correlation, as every framework's "convolution".
    UMBRA_CUDNN_CHECK(cudnnSetConvolution2dDescriptor(conv_, int(ph), int(pw), int(sh), int(sw), 1, 1,
                                                      CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
    UMBRA_CUDNN_CHECK(cudnnSetConvolutionGroupCount(conv_, int(g)));
    // tf32=0 keeps fp32 operands off tensor cores; bf16 operands are meant for them (TENSOR_OP,
    // as PyTorch sets for bf16: the math type set before a search decides what it considers).
    search_math_ = opt.bf16 ? CUDNN_TENSOR_OP_MATH : opt.tf32 ? CUDNN_DEFAULT_MATH : CUDNN_FMA_MATH;
    UMBRA_CUDNN_CHECK(cudnnSetConvolutionMathType(conv_, search_math_));
    int dn, dc, dh, dw;
    UMBRA_CUDNN_CHECK(cudnnGetConvolution2dForwardOutputDim(conv_, x_, w_, &dn, &dc, &dh, &dw));
    UMBRA_CHECK(dn == n && dc == oc && dh == oh && dw == ow, "cuDNN convolution output (", dn, ",", dc, ",", dh, ",",
                dw, ") differs from the layer's (", n, ",", oc, ",", oh, ",", ow, ")");
    key_ = std::to_string(n) + "," + std::to_string(c) + "," + std::to_string(h) + "," + std::to_string(w) + ">" +
           std::to_string(oc) + "/g" + std::to_string(g) + ":k" + std::to_string(kh) + "x" + std::to_string(kw) +
           ":s" + std::to_string(sh) + "x" + std::to_string(sw) + ":p" + std::to_string(ph) + "x" + std::to_string(pw) +
           (opt.bf16 ? ":bf16" : opt.tf32 ? ":tf32" : ":fp32") + ":cap" + std::to_string(opt.workspace_mib) +
           (nhwc_ ? ":nhwc" : "") +
           (search_ == CudnnSearch::kAll ? "" : search_ == CudnnSearch::kLegacy ? ":legacy" : ":engines");
    // Per device: a choice measured on one GPU model is not another's (dev=gpu:N, several GPUs).
    int dev = 0;
    UMBRA_CUDA_CHECK(cudaGetDevice(&dev));
    key_ += ":dev" + std::to_string(dev);
  }
  ~CudnnConv() override {
    cudnnDestroyTensorDescriptor(x_);
    cudnnDestroyTensorDescriptor(y_);
    cudnnDestroyTensorDescriptor(yf_);
    cudnnDestroyTensorDescriptor(b_);
    cudnnDestroyFilterDescriptor(w_);
    cudnnDestroyConvolutionDescriptor(conv_);
  }

  bool FusesRelu() const override { return bf16_; }
  // Per pass that has run: the algorithm its last call ran, its time in the search and its
  // workspace, and the search's fastest where that is another one (what the pick gave up).
  std::string Describe() const override {
    std::string d = std::string("cuDNN") + (bf16_ ? " bf16" : "") + (nhwc_ ? " nhwc" : "");
    const Measured* m[3] = {&fwd_, &bwd_data_, &bwd_filter_};
    for (int p = 0; p < 3; ++p) {
      if (picked_[p] < 0) continue;
      const std::vector<AlgoTrial>& t = m[p]->trials;
      d += std::string(p ? ", " : " ") + AlgoText(p, *m[p], size_t(picked_[p]));
      const int fastest = PickAlgo(t, SIZE_MAX, 0);  // nothing added by any workspace, no slack
      if (fastest >= 0 && fastest != picked_[p]) d += " (fastest " + AlgoText(p, *m[p], size_t(fastest)) + ")";
    }
    return d;
  }
  void Forward(const float* x32, const float* w32, const float* b, float* y32, bool relu, bool train) override {
    UMBRA_CHECK(!relu || bf16_, "cuDNN convolution: a fused relu is for the bf16 path only");
    cudnnHandle_t h = Bind();
    // bf16: a training forward's weights go to kept_, for its backward-data (a test-mode one
    // leaves kept_ stale: the backward after it takes the weights again, as fullc does).
    const bool keep = train && bf16_;
    Scratch wt(keep ? 0 : WeightBytes());
    if (keep && !kept_) kept_ = std::make_unique<Scratch>(WeightBytes(), /*kept=*/true);
    void* to = keep ? kept_->p : wt.p;
    if (to) ConvertWeights(w32, to);
    const void* w = to ? to : w32;
    kept_valid_ = keep;
    Operand x(this, x32, nx_), y(this, y32, ny_, false);
    const Algo a = Chosen<cudnnConvolutionFwdAlgoPerf_t>(
        &Choice::fwd, fwd_, picked_[0], CUDNN_CONVOLUTION_FWD_ALGO_COUNT, cudnnGetConvolutionForwardAlgorithmMaxCount,
        h, "forward",
        [&](int slots, int* got, cudnnConvolutionFwdAlgoPerf_t* perf, void* ws, size_t bytes) {
          return cudnnFindConvolutionForwardAlgorithmEx(h, x_, x, w_, w, conv_, y_, y, slots, got, perf, ws, bytes);
        },
        [&](Measured& m) {  // written into y, as cuDNN's search does: the call below writes it again
          MeasureOwn(m, [&](index_t b, void* scratch, cudaStream_t s) {
            FwdGemmGPU(geom_, b, x32, w32, y32, scratch, tf32_, s);
          });
          MeasureEngines(m, h, ConvPass::kForward, 0, x, w, y);
        });
    const float one = 1, zero = 0;
    Scratch ws(a.ws);
    if (a.own_chunk > 0)  // umbra's columns and GEMM, fp32 NCHW only
      FwdGemmGPU(geom_, a.own_chunk, x32, w32, y32, ws.p, tf32_, stream_);
    else if (a.plan)
      a.plan->Run(h, x, w, y, ws.p, &packs_[0]);
    else
      UMBRA_CUDNN_CHECK(cudnnConvolutionForward(h, &one, x_, x, w_, w, conv_, cudnnConvolutionFwdAlgo_t(a.algo),
                                                ws.p, ws.bytes, &zero, y_, y));
    if (nodes16_) {  // the node is the bf16 output: bias and relu in place, one pass
      if (b || relu)
        BiasReluBF16(reinterpret_cast<uint16_t*>(y32), b, ny_, nhwc_ ? 1 : ohw_, oc_, relu, stream_);
      return;
    }
    if (bf16_) {
      // Converted back with the bias and relu: one pass over the output, not two or three.
      CastFromBF16Bias(static_cast<const uint16_t*>(y.buf.p), b, y32, ny_, nhwc_ ? 1 : ohw_, oc_, relu, stream_);
      return;
    }
    if (b) UMBRA_CUDNN_CHECK(cudnnAddTensor(h, &one, b_, b, &one, yf_, y32));
  }
  void BackwardData(const float* gy32, const float* w32, float* gx32) override {
    Operand gy(this, gy32, ny_);
    DataGradient(gy, w32, gx32);
  }
  // The weight and bias gradients are added into the layer's, with no weight-sized staging
  // buffer in the layer (for ResNet-50 that buffer held 98 MiB through training): in fp32
  // NCHW cuDNN adds (beta = 1); a bf16 result is added as it is converted back, and an NHWC
  // (oc, kh, kw, c/g) one, written to per-call scratch, as it is moved back.
  bool AccumulatesWeights() const override { return true; }
  void BackwardWeights(const float* x32, const float* gy32, float* gw32, float* gb) override {
    Operand gy(this, gy32, ny_);
    WeightGradients(x32, gy, gy32, gw32, gb);
  }
  // bf16: gy converted once for both products (it was converted per product: a pass over the
  // layer's output gradient more per step, fp32 read and bf16 written).
  void Backward(const float* x32, const float* gy32, const float* w32, float* gw32, float* gb, float* gx32) override {
    Operand gy(this, gy32, ny_);
    WeightGradients(x32, gy, gy32, gw32, gb);
    if (gx32) DataGradient(gy, w32, gx32);
    kept_valid_ = false;  // used, or not wanted (the net's first layer)
  }

 private:
  // An fp32 operand as the convolution takes it: itself, or (bf16) a bf16 copy in scratch;
  // an output (in = false) is written to scratch and converted back by Back(). A node
  // (activation or its gradient, not a weight gradient) of a bf16_nodes backend is bf16
  // already: itself, no scratch. (Weights: ConvertWeights.)
  struct Operand {
    Operand(const Operand&) = delete;
    Operand& operator=(const Operand&) = delete;
    Scratch buf;
    const void* p;
    Operand(CudnnConv* c, const float* f, size_t n, bool in = true, bool node = true)
        : buf(c->bf16_ && !(node && c->nodes16_) ? n * 2 : 0), p(buf.bytes ? buf.p : f) {
      bf16_ = buf.bytes != 0;
      if (bf16_ && in) CastToBF16(f, static_cast<uint16_t*>(buf.p), n, c->stream_);
      n_ = n, stream_ = c->stream_;
    }
    operator const void*() const { return p; }
    operator void*() const { return const_cast<void*>(p); }
    void Back(float* f, bool add = false) const {
      if (bf16_) CastFromBF16(static_cast<const uint16_t*>(buf.p), f, n_, stream_, add);
    }
    size_t n_ = 0;
    bool bf16_ = false;
    cudaStream_t stream_ = nullptr;
  };
  // gx = the data gradient from gy, as the convolution takes it.
  void DataGradient(const Operand& gy, const float* w32, float* gx32) {
    cudnnHandle_t h = Bind();
    const float* gy32 = static_cast<const float*>(gy.p);  // what umbra's GEMM takes: fp32 only
    // The training forward's weights where it kept them (once: a second backward takes them
    // again, as the fp32 path reads them again).
    const bool kept = kept_valid_;
    kept_valid_ = false;
    Scratch wt(kept ? 0 : WeightBytes());
    if (wt.p) ConvertWeights(w32, wt.p);
    const void* w = kept ? kept_->p : wt.p ? wt.p : w32;
    Operand gx(this, gx32, nx_, false);
    const Algo a = Chosen<cudnnConvolutionBwdDataAlgoPerf_t>(
        &Choice::bwd_data, bwd_data_, picked_[1], CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT,
        cudnnGetConvolutionBackwardDataAlgorithmMaxCount, h, "backward-data",
        [&](int slots, int* got, cudnnConvolutionBwdDataAlgoPerf_t* perf, void* ws, size_t bytes) {
          return cudnnFindConvolutionBackwardDataAlgorithmEx(h, w_, w, y_, gy, conv_, x_, gx, slots, got, perf, ws,
                                                             bytes);
        },
        [&](Measured& m) {  // written into gx, as cuDNN's search does: the call below writes it again
          MeasureOwn(m, [&](index_t b, void* scratch, cudaStream_t s) {
            DgradGemmGPU(geom_, b, gy32, w32, gx32, scratch, tf32_, s);
          });
          MeasureEngines(m, h, ConvPass::kData, 0, gx, w, gy);
        });
    const float one = 1, zero = 0;
    Scratch ws(a.ws);
    if (a.own_chunk > 0) {  // umbra's GEMM and col2im, fp32 NCHW only
      DgradGemmGPU(geom_, a.own_chunk, gy32, w32, gx32, ws.p, tf32_, stream_);
      return;
    }
    if (a.plan)
      a.plan->Run(h, gx, w, gy, ws.p, &packs_[1]);
    else
      UMBRA_CUDNN_CHECK(cudnnConvolutionBackwardData(h, &one, w_, w, y_, gy, conv_,
                                                     cudnnConvolutionBwdDataAlgo_t(a.algo), ws.p, ws.bytes, &zero,
                                                     x_, gx));
    gx.Back(gx32);
  }
  // gw (and gb) += the weight (and bias) gradients from x and gy (gy32: as the layer gave it,
  // fp32 or a bf16 node, which the bias gradient reads).
  void WeightGradients(const float* x32, const Operand& gy, const float* gy32, float* gw32, float* gb) {
    cudnnHandle_t h = Bind();
    // fp32 channels-last: written as (K, R, S, C) to scratch and moved back; bf16: written to
    // the bf16 operand's scratch and converted back (and moved back: one pass for both).
    Scratch krsc(nhwc_ && !bf16_ ? nw_ * sizeof(float) : 0);
    float* gdst = krsc.p ? static_cast<float*>(krsc.p) : gw32;
    Operand x(this, x32, nx_), gw(this, gdst, nw_, false, false);
    const Algo a = Chosen<cudnnConvolutionBwdFilterAlgoPerf_t>(
        &Choice::bwd_filter, bwd_filter_, picked_[2], CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT,
        cudnnGetConvolutionBackwardFilterAlgorithmMaxCount, h, "backward-filter",
        [&](int slots, int* got, cudnnConvolutionBwdFilterAlgoPerf_t* perf, void* ws, size_t bytes) {
          // The search writes its output: not into gradients that are being accumulated.
          ProbeScratch out(bf16_ ? 0 : nw_ * sizeof(float));
          UMBRA_CHECK(bf16_ || out.p, "cuDNN backward-filter search: no device memory for a ", nw_ * sizeof(float),
                      "-byte output");
          return cudnnFindConvolutionBackwardFilterAlgorithmEx(
              h, x_, x, y_, gy, conv_, w_, bf16_ ? static_cast<void*>(gw) : out.p, slots, got, perf, ws, bytes);
        },
        [&](Measured& m) {
          ProbeScratch out(bf16_ || nhwc_ ? 0 : nw_ * sizeof(float));  // the search's output: not the gradient
          UMBRA_CHECK(bf16_ || nhwc_ || out.p, "cuDNN backward-filter search: no device memory for a ",
                      nw_ * sizeof(float), "-byte output");
          if (out.p)
            MeasureOwn(m, [&](index_t b, void* scratch, cudaStream_t s) {
              WgradGemmGPU(geom_, b, x32, gy32, static_cast<float*>(out.p), scratch, tf32_, s);
            });
          // Into scratch, as the legacy search: bf16's operand, channels-last's (K, R, S, C) one.
          MeasureEngines(m, h, ConvPass::kFilter, WgradBeta(), x, out.p ? out.p : static_cast<void*>(gw), gy);
        });
    const float one = 1, zero = 0;
    Scratch ws(a.ws);
    if (a.own_chunk > 0) {  // umbra's GEMM, fp32 NCHW only: adds into the layer's gradient
      WgradGemmGPU(geom_, a.own_chunk, x32, gy32, gw32, ws.p, tf32_, stream_);
      if (gb) UMBRA_CUDNN_CHECK(cudnnConvolutionBackwardBias(h, &one, yf_, gy32, &one, b_, gb));
      return;
    }
    // cuDNN adds only where it writes the layer's own fp32 (K, C, R, S) gradient.
    const float beta = WgradBeta();
    if (a.plan)
      a.plan->Run(h, x, gw, gy, ws.p, &packs_[2]);  // made with this beta
    else
      UMBRA_CUDNN_CHECK(cudnnConvolutionBackwardFilter(h, &one, x_, x, y_, gy, conv_,
                                                       cudnnConvolutionBwdFilterAlgo_t(a.algo), ws.p, ws.bytes,
                                                       &beta, w_, gw));
    if (bf16_ && nhwc_)
      SwapInnerFromBF16Add(static_cast<const uint16_t*>(gw.p), gw32, oc_, rs_, cg_, stream_);
    else if (nhwc_)
      SwapInnerAxesGPU(gdst, gw32, oc_, rs_, cg_, stream_, /*add=*/true);
    else
      gw.Back(gw32, /*add=*/true);
    if (!gb) return;
    if (nodes16_) {
      // bf16 nodes: summed from the bf16 gradient itself, where cuDNN's reduction would take an
      // fp32 copy of it (a pass, and AlexNet's first output gradient in fp32: 99 MB of scratch).
      const index_t n = index_t(ny_ / (size_t(oc_) * ohw_));
      const BnDims d = nhwc_ ? BnDims{int64_t(n * ohw_), oc_, 1} : BnDims{n, oc_, int64_t(ohw_)};
      const size_t partials = size_t(BnPartialDoubles(d)) * sizeof(double);
      Scratch part(partials + size_t(BnCountWords(d)) * sizeof(unsigned));
      const BnScratch s{static_cast<double*>(part.p), reinterpret_cast<unsigned*>(static_cast<char*>(part.p) + partials)};
      BnCountsClear(d, s.counts, stream_);
      ChannelSumsBF16GPU(d, reinterpret_cast<const uint16_t*>(gy32), gb, s, stream_);
      return;
    }
    UMBRA_CUDNN_CHECK(cudnnConvolutionBackwardBias(h, &one, yf_, gy32, &one, b_, gb));
  }
  cudnnHandle_t Bind() { return CudnnHandle(stream_); }
  // The algorithm of one pass: searched for on the geometry's first call (find: the
  // cudnnFind*Ex call on the pass's own buffers, given its result slots and the search's
  // scratch; more: the other candidates, MeasureOwn and MeasureEngines), then picked on each
  // call by what is left of the pass's gap (its workspace is taken next), with its math type
  // set on the descriptor for the call that follows. `mine`: this layer's copy of the search,
  // read without the lock.
  template <typename Perf, typename Find, typename More>
  Algo Chosen(Measured Choice::*which, Measured& mine, int& picked, int header_count,
              cudnnStatus_t (*max_count)(cudnnHandle_t, int*), cudnnHandle_t h, const char* what, Find find,
              More more) {
    if (mine.trials.empty()) mine = Get(which);
    if (mine.trials.empty()) {
      Measured m;
      if (search_ != CudnnSearch::kEngines) {  // the search's scratch goes back before `more` takes its own
        ProbeScratch probe(ProbeBytes());
        auto perf = PerfSlots<Perf>(header_count, max_count, h);
        int got = 0;
        UMBRA_CUDNN_CHECK(cudnnSetConvolutionMathType(conv_, search_math_));  // not the last winner's
        if (const cudnnStatus_t e = find(int(perf.size()), &got, perf.data(), probe.p, probe.bytes);
            e != CUDNN_STATUS_SUCCESS)
          UMBRA_THROW("cuDNN's ", what, " algorithm search failed for convolution ", key_, ": ",
                      cudnnGetErrorString(e));
        m = Measure(perf, got, cap_, tf32_);
      }
      more(m);
      if (PickAlgo(m.trials) < 0)
        UMBRA_THROW("cuDNN found no ", what, " algorithm",
                    search_ == CudnnSearch::kEngines ? " (engine configurations alone: cudnn_search = engines)" : "",
                    " within the workspace cap of ", cap_ >> 20, " MiB", tf32_ ? "" : " with FMA math (tf32=0)",
                    " (the layer's cudnn_workspace, in MiB: raise it, or set algo = im2col for umbra's own "
                    "convolution)",
                    m.refused);
      mine = Put(which, std::move(m));
    }
    picked = PickAlgo(mine.trials, PassScratch::Free());
    const Algo a = mine.algos[size_t(picked)];
    UMBRA_CUDNN_CHECK(cudnnSetConvolutionMathType(conv_, a.math));
    return a;
  }
  // umbra's columns and GEMM (conv_gemm.h) as more results of a search, timed on the
  // same buffers (the median of 3 runs after one to warm cuBLAS up), in up to three chunk
  // sizes: within each of kOwnScratch's sizes, and within the running pass's gap in the node
  // arena where that is larger (scratch that adds nothing to the step's peak there); all within
  // the search's limit (the cap, and half the free memory). Not the whole batch regardless of
  // memory: AlexNet's conv1 would take 661 MB of columns, where 64 MiB hold 12 of its 128 images
  // and each chunk's GEMM still reduces over 36,300 products. The pick then trades time for
  // memory among these as among cuDNN's (the least memory within 3% of the fastest). run(images
  // a chunk, scratch, stream) runs the pass once. fp32 NCHW only: bf16 and channels-last
  // operands are cuDNN's alone.
  static constexpr size_t kOwnScratch[] = {size_t(16) << 20, size_t(64) << 20};
  template <typename Run>
  void MeasureOwn(Measured& m, Run run_pass) {
    if (bf16_ || nhwc_ || search_ == CudnnSearch::kEngines) return;
    const size_t limit = ProbeBytes();
    std::vector<index_t> chunks;
    for (size_t budget : {kOwnScratch[0], kOwnScratch[1], PassScratch::Free()}) {
      budget = std::min(budget, limit);
      const index_t b = ConvGemmChunkFor(geom_, budget);
      if (b > 0 && std::find(chunks.begin(), chunks.end(), b) == chunks.end()) chunks.push_back(b);
    }
    const cudaStream_t s = cuda::OrDefault(stream_);
    auto measure = [&](index_t b, void* scratch) {
      const size_t bytes = ConvGemmScratchBytes(geom_, b);
      m.trials.push_back({MedianMs([&] { run_pass(b, scratch, s); }), bytes, true});
      m.algos.push_back(Algo{.algo = -1, .ws = bytes, .math = CUDNN_DEFAULT_MATH, .own_chunk = b});
    };
    // One scratch for all chunk sizes (its free waits for the device: once, not per size); where
    // the driver has too little for the largest after all, each size on its own.
    size_t most = 0;
    for (const index_t b : chunks) most = std::max(most, ConvGemmScratchBytes(geom_, b));
    if (ProbeScratch scratch(most); scratch.p) {
      for (const index_t b : chunks) measure(b, scratch.p);
      return;
    }
    for (const index_t b : chunks)
      if (ProbeScratch one(ConvGemmScratchBytes(geom_, b)); one.p) measure(b, one.p);
  }
  // The engine configurations cuDNN's heuristics offer for the pass (conv_engines.h) as more
  // results of its search, timed as MeasureOwn's on the pass's operands (x, w, y as
  // EnginePlan::Run names them; the output one scratch or what the call writes again), within
  // the search's limit. A plan is made with its pass's beta, which every call of it then uses.
  void MeasureEngines(Measured& m, cudnnHandle_t h, ConvPass pass, float beta, const void* x, const void* w,
                      const void* y) {
    if (search_ == CudnnSearch::kLegacy) return;
    const EngineConv conv{geom_, bf16_ ? CUDNN_DATA_BFLOAT16 : CUDNN_DATA_FLOAT, nhwc_};
    const auto plans = EnginePlans(h, conv, pass, beta, EngineFilter{.tf32 = tf32_, .max_workspace = ProbeBytes()});
    size_t most = 0;
    for (const auto& p : plans) most = std::max(most, p->workspace());
    ProbeScratch ws(most);
    for (const auto& p : plans) {
      if (p->workspace() > ws.bytes) continue;  // the driver had too little after all
      float ms = 0;
      EnginePack pack;  // as a layer's calls run it: the pack made once, not in every timed run
      try {
        ms = MedianMs([&] { p->Run(h, x, w, y, ws.p, &pack); });
      } catch (const Error&) {
        // A configuration cuDNN finalized but would not run (its status is in cuDNN's log): not
        // a candidate. A fault of the device is sticky, and the next CUDA call reports it.
        continue;
      }
      m.trials.push_back({ms, p->workspace(), true});
      m.algos.push_back(Algo{.algo = -1,
                             .ws = p->workspace(),
                             .math = p->tensor_cores() ? CUDNN_TENSOR_OP_MATH : CUDNN_FMA_MATH,
                             .plan = p});
    }
  }
  // One candidate's time: the median of 3 runs on the layer's stream after one that warms it up
  // (cuBLAS's or cuDNN's first call of a kernel loads it), back to back between 4 events, with
  // one host wait (a search times dozens of candidates).
  template <typename Run>
  float MedianMs(Run run) {
    const cudaStream_t s = cuda::OrDefault(stream_);
    struct Events {  // destroyed also when a run throws
      cudaEvent_t e[4] = {};
      ~Events() {
        for (cudaEvent_t x : e)
          if (x) cudaEventDestroy(x);
      }
    } ev;
    for (cudaEvent_t& x : ev.e) UMBRA_CUDA_CHECK(cudaEventCreate(&x));
    run();
    UMBRA_CUDA_CHECK(cudaEventRecord(ev.e[0], s));
    for (int i = 1; i < 4; ++i) {
      run();
      UMBRA_CUDA_CHECK(cudaEventRecord(ev.e[i], s));
    }
    UMBRA_CUDA_CHECK(cudaEventSynchronize(ev.e[3]));
    float ms[3];
    for (int i = 0; i < 3; ++i) UMBRA_CUDA_CHECK(cudaEventElapsedTime(&ms[i], ev.e[i], ev.e[i + 1]));
    std::sort(ms, ms + 3);
    return ms[1];
  }
  // The weight gradient's beta: cuDNN adds into the layer's own fp32 (K, C, R, S) gradient; bf16
  // and channels-last results are written to scratch and added as they are moved back.
  float WgradBeta() const { return bf16_ || nhwc_ ? 0.f : 1.f; }
  // The weights as the convolution takes them, where that is not the layer's fp32 (oc, c/g,
  // kh, kw) array itself: bf16, and (oc, kh, kw, c/g) when channels-last; 0 bytes otherwise.
  size_t WeightBytes() const { return bf16_ ? nw_ * 2 : nhwc_ ? nw_ * sizeof(float) : 0; }
  // w32 into `to` (WeightBytes() bytes), one pass. fp32 channels-last copies are made per call
  // rather than kept, so that the copies of all layers never sit in memory at once (ResNet-50's
  // would hold 100 MB through the step) for one weight-sized pass more; bf16 ones, half that
  // size, are kept from a training forward for its backward-data (kept_), as autocast keeps
  // its casts: a pass (two when channels-last) less per layer and step.
  void ConvertWeights(const float* w32, void* to) const {
    if (bf16_ && nhwc_)
      SwapInnerToBF16(w32, static_cast<uint16_t*>(to), oc_, cg_, rs_, stream_);
    else if (bf16_)
      CastToBF16(w32, static_cast<uint16_t*>(to), nw_, stream_);
    else
      SwapInnerAxesGPU(w32, static_cast<float*>(to), oc_, cg_, rs_, stream_);
  }
  // The search may try algorithms up to the cap, but never with more than half the free memory
  // (the driver's, and the caching allocator's idle blocks, which ProbeScratch can give back).
  size_t ProbeBytes() const {
    size_t free = 0, total = 0;
    int dev = 0;
    UMBRA_CUDA_CHECK(cudaMemGetInfo(&free, &total));
    UMBRA_CUDA_CHECK(cudaGetDevice(&dev));
    return std::min(cap_, (free + cuda::CachingAllocator::Get().GetStats(dev).cached) / 2);
  }
  // The shared searches are read and written under the lock, by value (two threads may search
  // the same geometry; both results are valid, the last one stays).
  Measured Get(Measured Choice::*which) {
    std::lock_guard<std::mutex> lock(choice_mu);
    return Choices()[key_].*which;
  }
  Measured Put(Measured Choice::*which, Measured m) {
    std::lock_guard<std::mutex> lock(choice_mu);
    Choices()[key_].*which = m;
    return m;
  }

  // "wgrad algo_1 tensor 0.412 ms 12.0 MiB": pass p's result i of search m.
  std::string AlgoText(int p, const Measured& m, size_t i) const {
    // cuDNN's enumerators in order (cudnn_cnn.h), which cuDNN itself has no names for.
    static const char* const kFwd[] = {"implicit_gemm", "implicit_precomp_gemm", "gemm", "direct",
                                       "fft", "fft_tiling", "winograd", "winograd_nonfused"};
    static const char* const kData[] = {"algo_0", "algo_1", "fft", "fft_tiling", "winograd", "winograd_nonfused"};
    static const char* const kFilter[] = {"algo_0", "algo_1", "fft", "algo_3", "winograd", "winograd_nonfused",
                                          "fft_tiling"};
    static const char* const kPass[] = {"fwd", "dgrad", "wgrad"};
    const char* const* names[3] = {kFwd, kData, kFilter};
    const int count[3] = {8, 6, 7};
    const Algo& a = m.algos[i];
    const std::string name = a.own_chunk > 0 ? "umbra_gemm(" + std::to_string(a.own_chunk) + " images)"
                             : a.plan         ? "engine " + std::to_string(a.plan->engine())
                             : a.algo >= 0 && a.algo < count[p] ? names[p][a.algo]
                                                                 : "algo " + std::to_string(a.algo);
    char buf[200];
    std::snprintf(buf, sizeof buf, "%s %s %s %.3f ms %.1f MiB", kPass[p], name.c_str(),
                  a.own_chunk > 0 ? (tf32_ ? "tf32" : "fp32") : a.math == CUDNN_FMA_MATH ? "fma" : "tensor",
                  double(m.trials[i].ms), double(a.ws) / (1 << 20));
    return buf;
  }

  bool bias_, tf32_, bf16_, nodes16_, nhwc_;
  CudnnSearch search_;
  ConvGemmGeom geom_{};  // the geometry as conv_gemm.h takes it
  int picked_[3] = {-1, -1, -1};  // the last call's pick per pass (fwd, dgrad, wgrad): Describe
  Measured fwd_, bwd_data_, bwd_filter_;  // this layer's copies of the geometry's searches
  EnginePack packs_[3];  // per pass (fwd, dgrad, wgrad): an engine's last variant pack
  std::unique_ptr<Scratch> kept_;  // bf16: a training forward's weights (ConvertWeights)
  bool kept_valid_ = false;        // kept_ holds them for the step's backward-data
  index_t oc_ = 0, cg_ = 0, rs_ = 0;  // filter (oc, c/g, kh * kw)
  // The math type every search starts from: each call then sets its winner's, which must not
  // narrow the next search (a forward winner in FMA math would hide TF32 from backward's).
  cudnnMathType_t search_math_ = CUDNN_DEFAULT_MATH;
  size_t cap_, nx_ = 0, ny_ = 0, nw_ = 0, ohw_ = 0;  // ohw_: a channel's plane of the output
  cudaStream_t stream_;
  std::string key_;
  cudnnTensorDescriptor_t x_ = nullptr, y_ = nullptr, yf_ = nullptr, b_ = nullptr;
  cudnnFilterDescriptor_t w_ = nullptr;
  cudnnConvolutionDescriptor_t conv_ = nullptr;
};

}  // namespace

bool CudnnBuilt() { return true; }

std::unique_ptr<ConvBackend> MakeCudnnConv(index_t n, index_t c, index_t h, index_t w, index_t oc, index_t oh,
                                           index_t ow, index_t groups, index_t kh, index_t kw, index_t sh, index_t sw,
                                           index_t ph, index_t pw, bool bias, const CudnnConvOptions& opt,
                                           void* stream) {
  // Its scratch goes back to the caching allocator as soon as its work is queued, safe in the
  // order of the thread's default stream, in which the allocator reuses blocks; on another
  // stream the frees would have to wait for that stream first.
  UMBRA_CHECK(cuda::OrDefault(static_cast<cudaStream_t>(stream)) == cuda::DefaultStream(),
              "a cuDNN convolution runs on the thread's default stream only");
  // cuDNN's tensor descriptors hold at most 2^31 - 1 elements (its own refusal would come at
  // the first step): a larger input or output keeps the layer's im2col + cuBLAS path, or its
  // error where it needs cuDNN (channels-last, bf16 nodes).
  // The filter too: (8192, 8192, 7, 7) has more.
  const index_t filter = oc * (c / std::max<index_t>(groups, 1)) * kh * kw;
  if (std::max({n * c * h * w, n * oc * oh * ow, filter}) > index_t(INT_MAX)) return nullptr;
  return std::make_unique<CudnnConv>(n, c, h, w, oc, oh, ow, groups, kh, kw, sh, sw, ph, pw, bias, opt, stream);
}

}  // namespace umbra::nn

#else  // without cuDNN: the layer keeps its im2col + cuBLAS path

namespace umbra::nn {
bool CudnnBuilt() { return false; }
std::unique_ptr<ConvBackend> MakeCudnnConv(index_t, index_t, index_t, index_t, index_t, index_t, index_t, index_t,
                                           index_t, index_t, index_t, index_t, index_t, index_t, bool,
                                           const CudnnConvOptions&, void*) {
  return nullptr;
}
}  // namespace umbra::nn

#endif
