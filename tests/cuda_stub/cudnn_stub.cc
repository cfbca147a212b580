// cuDNN for the CUDA stand-in (cuda_stub.cc). Descriptors remember what they describe; the
// algorithm searches answer one algorithm; every compute call checks its buffers against their
// descriptors ("[stub] BAD range") and its shapes against each other (a convolution whose
// output descriptor is not the size its input, filter and descriptor give is "[stub] BAD
// shape" and CUDNN_STATUS_BAD_PARAM, as cuDNN would refuse it).
// With UMBRA_STUB_COMPUTE (the emulation build) the calls also compute, with plain loops in
// double, what cuDNN's documentation says: out = alpha * result + beta * out (out unread when
// beta is 0); convolutions with groups, padding, stride and dilation, cross-correlation or
// convolution, TF32-rounded float operands unless the math type is CUDNN_FMA_MATH, bf16
// operands; max pooling sends the gradient to the first maximum of a window; batch norm keeps
// running variance unbiased and saves the inverse standard deviation. Packed NCHW or NHWC
// tensors and filters (all umbra asks for).
#include <cudnn.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "stub.h"
#ifdef UMBRA_STUB_COMPUTE
#include <cblas.h>
#endif

using umbra_stub::CheckRange;
using umbra_stub::Submit;

namespace {

int Bytes(cudnnDataType_t t) {
  return t == CUDNN_DATA_DOUBLE ? 8 : t == CUDNN_DATA_BFLOAT16 || t == CUDNN_DATA_HALF ? 2 : 4;
}
struct T4 {
  int n, c, h, w;
  cudnnDataType_t type;
  bool nhwc = false;  // (n, h, w, c) in memory (filters: (k, r, s, c))
  size_t Count() const { return size_t(n) * c * h * w; }
  size_t Size() const { return Count() * Bytes(type); }
  size_t At(int in, int ic, int iy, int ix) const {
    return nhwc ? ((size_t(in) * h + iy) * w + ix) * c + ic : ((size_t(in) * c + ic) * h + iy) * w + ix;
  }
  /// Element i of channel ic's plane (i = y * w + x).
  size_t AtPlane(int in, int ic, int i) const { return At(in, ic, i / w, i % w); }
};
struct Conv {
  int ph, pw, sh, sw, dh, dw;
  cudnnConvolutionMode_t mode;
  int groups;
  cudnnMathType_t math;
};
struct Pool {
  cudnnPoolingMode_t mode;
  int kh, kw, ph, pw, sh, sw;
  bool nan;  // CUDNN_PROPAGATE_NAN: a window holding a NaN gives NaN, and its first NaN the gradient
};
struct Act {
  cudnnActivationMode_t mode;
  double coef;
  bool nan;  // CUDNN_PROPAGATE_NAN: relu gives NaN for NaN (else 0)
};
const T4& D(const void* d) { return *static_cast<const T4*>(d); }
// UMBRA_STUB_CUDNN_REFUSE_BF16 plays a cuDNN that refuses bf16 data in its batch norm, pooling
// and activation calls (NOT_SUPPORTED), as umbra's bf16 probe (bf16_probe.h) must expect.
bool RefusesBF16(const void* d) {
  static const bool refuse = getenv("UMBRA_STUB_CUDNN_REFUSE_BF16") != nullptr;
  return refuse && D(d).type == CUDNN_DATA_BFLOAT16;
}
size_t Sz(const void* d) { return D(d).Size(); }

#define R(p, d, what) CheckRange(p, Sz(d), what)

// The shapes a convolution's descriptors must agree on; false (and a message) if they do not.
bool ConvShapesFit(const Conv& cv, const T4& x, const T4& w, const T4& y, const char* call) {
  const int g = cv.groups;
  const int oh = (x.h + 2 * cv.ph - ((w.h - 1) * cv.dh + 1)) / cv.sh + 1;
  const int ow = (x.w + 2 * cv.pw - ((w.w - 1) * cv.dw + 1)) / cv.sw + 1;
  if (g >= 1 && w.n % g == 0 && x.c == w.c * g && y.n == x.n && y.c == w.n && y.h == oh && y.w == ow) return true;
  fprintf(stderr,
          "[stub] BAD shape: %s x (%d,%d,%d,%d) filter (%d,%d,%d,%d) groups %d gives (%d,%d,%d,%d), not the "
          "descriptor's (%d,%d,%d,%d)\n",
          call, x.n, x.c, x.h, x.w, w.n, w.c, w.h, w.w, g, x.n, w.n, oh, ow, y.n, y.c, y.h, y.w);
  return false;
}

#ifdef UMBRA_STUB_COMPUTE
double Get(const void* p, cudnnDataType_t t, size_t i) {
  if (t == CUDNN_DATA_DOUBLE) return static_cast<const double*>(p)[i];
  if (t == CUDNN_DATA_BFLOAT16) return umbra_stub::FromBF16(static_cast<const uint16_t*>(p)[i]);
  return static_cast<const float*>(p)[i];
}
void Put(void* p, cudnnDataType_t t, size_t i, double v) {
  if (t == CUDNN_DATA_DOUBLE) static_cast<double*>(p)[i] = v;
  else if (t == CUDNN_DATA_BFLOAT16) static_cast<uint16_t*>(p)[i] = umbra_stub::ToBF16(float(v));
  else static_cast<float*>(p)[i] = float(v);
}
/// out[i] = alpha * v + beta * out[i]; out[i] unread when beta is 0 (it may hold NaN).
void Blend(void* p, cudnnDataType_t t, size_t i, double v, double alpha, double beta) {
  Put(p, t, i, alpha * v + (beta != 0 ? beta * Get(p, t, i) : 0.0));
}
/// alpha and beta are double for double data, float otherwise.
double Scale(const void* s, const T4& d) {
  return d.type == CUDNN_DATA_DOUBLE ? *static_cast<const double*>(s) : *static_cast<const float*>(s);
}
/// An operand as the convolution reads it: TF32-rounded float unless the math type is FMA.
double In(const void* p, const T4& d, size_t i, const Conv& cv) {
  const double v = Get(p, d.type, i);
  return d.type == CUDNN_DATA_FLOAT && cv.math != CUDNN_FMA_MATH ? umbra_stub::ToTF32(float(v)) : v;
}

/// One convolution as matrix products per (image, group), by im2col and cblas_dgemm: the
/// group's filters Wg (kg x cg*kh*kw, flipped for CUDNN_CONVOLUTION) and the columns of image
/// n (cg*kh*kw x oh*ow, padding as 0).
struct ConvMats {
  Conv cv;
  T4 x, w, y;
  int kg() const { return w.n / cv.groups; }
  int rows() const { return w.c * w.h * w.w; }
  int cols() const { return y.h * y.w; }
  /// Wg of group g, as the convolution reads it (TF32 rounding per In).
  std::vector<double> Filters(const void* p, int g) const {
    std::vector<double> m(size_t(kg()) * rows());
    const bool flip = cv.mode == CUDNN_CONVOLUTION;
    for (int k = 0; k < kg(); ++k)
      for (int c = 0; c < w.c; ++c)
        for (int ky = 0; ky < w.h; ++ky)
          for (int kx = 0; kx < w.w; ++kx)
            m[(size_t(k) * w.c + c) * w.h * w.w + ky * w.w + kx] =
                In(p, w, w.At(g * kg() + k, c, flip ? w.h - 1 - ky : ky, flip ? w.w - 1 - kx : kx), cv);
    return m;
  }
  /// Calls f(row, col, input index) for every in-bounds element of the columns of (n, g).
  template <typename F>
  void EachColumn(int n, int g, F f) const {
    for (int c = 0; c < w.c; ++c)
      for (int ky = 0; ky < w.h; ++ky)
        for (int kx = 0; kx < w.w; ++kx) {
          const int row = (c * w.h + ky) * w.w + kx;
          for (int oy = 0; oy < y.h; ++oy) {
            const int iy = oy * cv.sh - cv.ph + ky * cv.dh;
            if (iy < 0 || iy >= x.h) continue;
            for (int ox = 0; ox < y.w; ++ox) {
              const int ix = ox * cv.sw - cv.pw + kx * cv.dw;
              if (ix >= 0 && ix < x.w) f(row, oy * y.w + ox, x.At(n, g * w.c + c, iy, ix));
            }
          }
        }
  }
  std::vector<double> Columns(const void* p, int n, int g) const {
    std::vector<double> m(size_t(rows()) * cols(), 0.0);
    EachColumn(n, g, [&](int r, int c, size_t i) { m[size_t(r) * cols() + c] = In(p, x, i, cv); });
    return m;
  }
  /// The (kg x cols) block of y (or dy) of (n, g).
  std::vector<double> Outputs(const void* p, int n, int g) const {
    std::vector<double> m(size_t(kg()) * cols());
    for (int k = 0; k < kg(); ++k)
      for (int i = 0; i < cols(); ++i) m[size_t(k) * cols() + i] = In(p, y, y.AtPlane(n, g * kg() + k, i), cv);
    return m;
  }
};
void Gemm(bool ta, bool tb, int m, int n, int k, const std::vector<double>& a, const std::vector<double>& b,
          std::vector<double>& c, double beta) {
  cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n, k, 1.0, a.data(),
              ta ? m : k, b.data(), tb ? k : n, beta, c.data(), n);
}
#endif

#ifdef UMBRA_STUB_COMPUTE
/// cuDNN may write all of a workspace it is given: a workspace that overlaps memory still in
/// use (a node of the net) corrupts it here, with NaN, as it could on a GPU.
void Scribble(void* ws, size_t bytes) {
  if (ws && bytes) memset(ws, 0xff, bytes);
}
#endif

/// The search's answer: one algorithm, 1 MiB of workspace, in the descriptor's math type (TF32
/// where it allows tensor cores, as cuDNN's fastest float algorithms on an H200 are).
/// UMBRA_STUB_CUDNN_WS (read at each search) sets the workspace: BYTES, or Fx, F times the
/// larger of the convolution's input and output (a workspace that grows with the activations,
/// as implicit-precomputed GEMM and FFT ones do). A comma-separated list answers one algorithm
/// per entry, algorithm i taking (1 + i/100) times the first one's time (so up to three are
/// within umbra's 3% slack) and its entry's workspace.
template <typename P>
void Perfs(int slots, int* got, P* perf, cudnnConvolutionDescriptor_t cd, const T4& x, const T4& y) {
  const char* env = getenv("UMBRA_STUB_CUDNN_WS");
  std::vector<std::string> ws;
  for (std::string rest = env ? env : ""; ; ) {
    const size_t comma = rest.find(',');
    ws.push_back(rest.substr(0, comma));
    if (comma == std::string::npos) break;
    rest = rest.substr(comma + 1);
  }
  // The first algorithm's time (ms): UMBRA_STUB_CUDNN_MS, 0.1 by default; each next one 1% slower.
  const char* ms_env = getenv("UMBRA_STUB_CUDNN_MS");
  const float ms = ms_env ? float(atof(ms_env)) : 0.1f;
  *got = std::min(int(ws.size()), slots);
  for (int i = 0; i < *got; ++i) {
    const std::string& w = ws[size_t(i)];
    P& p = perf[i];
    memset(&p, 0, sizeof(P));
    p.algo = decltype(p.algo)(i);
    p.status = CUDNN_STATUS_SUCCESS;
    p.time = ms * (1 + 0.01f * float(i));
    p.memory = w.empty()         ? size_t(1) << 20
               : w.back() == 'x' ? size_t(atof(w.c_str()) * double(std::max(x.Size(), y.Size())))
                                 : size_t(atoll(w.c_str()));
    p.mathType = ((Conv*)cd)->math == CUDNN_FMA_MATH ? CUDNN_FMA_MATH : CUDNN_TENSOR_OP_MATH;
  }
}

// Convolution calls (forward, backward-data, backward-filter) by the algorithm they ran, printed
// at exit with UMBRA_STUB_LOG set where a search answered more than one.
std::mutex algo_mu;
struct AlgoCalls : std::map<int, long> {
  ~AlgoCalls() {
    if (!getenv("UMBRA_STUB_LOG") || size() < 2) return;
    fprintf(stderr, "[stub] convolution calls by algorithm:");
    for (const auto& [algo, n] : *this) fprintf(stderr, " %d: %ld", algo, n);
    fprintf(stderr, "\n");
  }
} algo_calls;
void CountAlgo(int algo) {
  std::lock_guard<std::mutex> lock(algo_mu);
  ++algo_calls[algo];
}

}  // namespace

long umbra_stub::ConvCallsWithAlgo(int algo) {
  std::lock_guard<std::mutex> lock(algo_mu);
  return algo_calls[algo];
}

extern "C" {
size_t cudnnGetVersion() {  // UMBRA_STUB_CUDNN_VERSION plays an older library (the mismatch warning)
  const char* v = getenv("UMBRA_STUB_CUDNN_VERSION");
  return v ? size_t(atol(v)) : size_t(CUDNN_VERSION); }
cudnnStatus_t cudnnCreate(cudnnHandle_t* h) { *h = (cudnnHandle_t)malloc(8); return CUDNN_STATUS_SUCCESS; }
cudnnStatus_t cudnnSetStream(cudnnHandle_t, cudaStream_t) { return CUDNN_STATUS_SUCCESS; }
const char* cudnnGetErrorString(cudnnStatus_t s) { return s == CUDNN_STATUS_NOT_SUPPORTED ? "CUDNN_STATUS_NOT_SUPPORTED (stub)" : "stub"; }
cudnnStatus_t cudnnCreateTensorDescriptor(cudnnTensorDescriptor_t* d) { *d = (cudnnTensorDescriptor_t)calloc(1, sizeof(T4)); return CUDNN_STATUS_SUCCESS; }
cudnnStatus_t cudnnDestroyTensorDescriptor(cudnnTensorDescriptor_t d) { free(d); return CUDNN_STATUS_SUCCESS; }
cudnnStatus_t cudnnSetTensor4dDescriptor(cudnnTensorDescriptor_t d, cudnnTensorFormat_t f, cudnnDataType_t t, int n, int c, int h, int w) {
  if (n <= 0 || c <= 0 || h <= 0 || w <= 0 || (long long)n * c * h * w > 2147483647LL) return CUDNN_STATUS_BAD_PARAM;
  if (f != CUDNN_TENSOR_NCHW && f != CUDNN_TENSOR_NHWC) { fprintf(stderr, "[stub] BAD tensor format: only NCHW and NHWC are emulated\n"); return CUDNN_STATUS_NOT_SUPPORTED; }
  *(T4*)d = {n, c, h, w, t, f == CUDNN_TENSOR_NHWC}; return CUDNN_STATUS_SUCCESS; }
cudnnStatus_t cudnnCreateFilterDescriptor(cudnnFilterDescriptor_t* d) { *d = (cudnnFilterDescriptor_t)calloc(1, sizeof(T4)); return CUDNN_STATUS_SUCCESS; }
cudnnStatus_t cudnnDestroyFilterDescriptor(cudnnFilterDescriptor_t d) { free(d); return CUDNN_STATUS_SUCCESS; }
cudnnStatus_t cudnnSetFilter4dDescriptor(cudnnFilterDescriptor_t d, cudnnDataType_t t, cudnnTensorFormat_t f, int k, int c, int h, int w) {
  if (f != CUDNN_TENSOR_NCHW && f != CUDNN_TENSOR_NHWC) { fprintf(stderr, "[stub] BAD filter format: only NCHW and NHWC are emulated\n"); return CUDNN_STATUS_NOT_SUPPORTED; }
  *(T4*)d = {k, c, h, w, t, f == CUDNN_TENSOR_NHWC}; return CUDNN_STATUS_SUCCESS; }
cudnnStatus_t cudnnCreateConvolutionDescriptor(cudnnConvolutionDescriptor_t* d) {
  *d = (cudnnConvolutionDescriptor_t) new Conv{0, 0, 1, 1, 1, 1, CUDNN_CROSS_CORRELATION, 1, CUDNN_DEFAULT_MATH}; return CUDNN_STATUS_SUCCESS; }
cudnnStatus_t cudnnDestroyConvolutionDescriptor(cudnnConvolutionDescriptor_t d) { delete (Conv*)d; return CUDNN_STATUS_SUCCESS; }
cudnnStatus_t cudnnSetConvolution2dDescriptor(cudnnConvolutionDescriptor_t d, int ph, int pw, int sh, int sw, int dh, int dw, cudnnConvolutionMode_t m, cudnnDataType_t) {
  if (ph < 0 || pw < 0 || sh <= 0 || sw <= 0 || dh <= 0 || dw <= 0) return CUDNN_STATUS_BAD_PARAM;
  Conv& c = *(Conv*)d; c.ph = ph; c.pw = pw; c.sh = sh; c.sw = sw; c.dh = dh; c.dw = dw; c.mode = m; return CUDNN_STATUS_SUCCESS; }
cudnnStatus_t cudnnSetConvolutionGroupCount(cudnnConvolutionDescriptor_t d, int g) {
  if (g < 1) return CUDNN_STATUS_BAD_PARAM;
  ((Conv*)d)->groups = g; return CUDNN_STATUS_SUCCESS; }
cudnnStatus_t cudnnSetConvolutionMathType(cudnnConvolutionDescriptor_t d, cudnnMathType_t m) { ((Conv*)d)->math = m; return CUDNN_STATUS_SUCCESS; }
cudnnStatus_t cudnnGetConvolution2dForwardOutputDim(cudnnConvolutionDescriptor_t c, cudnnTensorDescriptor_t x, cudnnFilterDescriptor_t w, int* n, int* k, int* h, int* ww) {
  const Conv& cv = *(Conv*)c; const T4& t = D(x); const T4& f = D(w);
  if (t.c != f.c * cv.groups) return CUDNN_STATUS_BAD_PARAM;
  *n = t.n; *k = f.n; *h = (t.h + 2 * cv.ph - ((f.h - 1) * cv.dh + 1)) / cv.sh + 1; *ww = (t.w + 2 * cv.pw - ((f.w - 1) * cv.dw + 1)) / cv.sw + 1;
  return CUDNN_STATUS_SUCCESS; }
cudnnStatus_t cudnnCreatePoolingDescriptor(cudnnPoolingDescriptor_t* d) { *d = (cudnnPoolingDescriptor_t)calloc(1, sizeof(Pool)); return CUDNN_STATUS_SUCCESS; }
cudnnStatus_t cudnnDestroyPoolingDescriptor(cudnnPoolingDescriptor_t d) { free(d); return CUDNN_STATUS_SUCCESS; }
cudnnStatus_t cudnnSetPooling2dDescriptor(cudnnPoolingDescriptor_t d, cudnnPoolingMode_t m, cudnnNanPropagation_t nan, int kh, int kw, int ph, int pw, int sh, int sw) {
  if (kh <= 0 || kw <= 0 || ph < 0 || pw < 0 || sh <= 0 || sw <= 0) return CUDNN_STATUS_BAD_PARAM;
  *(Pool*)d = {m, kh, kw, ph, pw, sh, sw, nan == CUDNN_PROPAGATE_NAN}; return CUDNN_STATUS_SUCCESS; }
cudnnStatus_t cudnnGetPooling2dForwardOutputDim(cudnnPoolingDescriptor_t p, cudnnTensorDescriptor_t x, int* n, int* c, int* h, int* w) {
  const Pool& q = *(Pool*)p; const T4& t = D(x);
  *n = t.n; *c = t.c; *h = (t.h + 2 * q.ph - q.kh) / q.sh + 1; *w = (t.w + 2 * q.pw - q.kw) / q.sw + 1; return CUDNN_STATUS_SUCCESS; }
cudnnStatus_t cudnnCreateActivationDescriptor(cudnnActivationDescriptor_t* d) { *d = (cudnnActivationDescriptor_t) new Act{CUDNN_ACTIVATION_RELU, 0, false}; return CUDNN_STATUS_SUCCESS; }
cudnnStatus_t cudnnDestroyActivationDescriptor(cudnnActivationDescriptor_t d) { delete (Act*)d; return CUDNN_STATUS_SUCCESS; }
cudnnStatus_t cudnnSetActivationDescriptor(cudnnActivationDescriptor_t d, cudnnActivationMode_t m, cudnnNanPropagation_t nan, double coef) { *(Act*)d = {m, coef, nan == CUDNN_PROPAGATE_NAN}; return CUDNN_STATUS_SUCCESS; }
cudnnStatus_t cudnnDeriveBNTensorDescriptor(cudnnTensorDescriptor_t d, cudnnTensorDescriptor_t x, cudnnBatchNormMode_t m) {
  const T4& t = D(x);
  const cudnnDataType_t pt = t.type == CUDNN_DATA_DOUBLE ? CUDNN_DATA_DOUBLE : CUDNN_DATA_FLOAT;
  *(T4*)d = m == CUDNN_BATCHNORM_PER_ACTIVATION ? T4{1, t.c, t.h, t.w, pt} : T4{1, t.c, 1, 1, pt}; return CUDNN_STATUS_SUCCESS; }
cudnnStatus_t cudnnGetConvolutionForwardAlgorithmMaxCount(cudnnHandle_t, int* n) { *n = CUDNN_CONVOLUTION_FWD_ALGO_COUNT; return CUDNN_STATUS_SUCCESS; }
cudnnStatus_t cudnnGetConvolutionBackwardDataAlgorithmMaxCount(cudnnHandle_t, int* n) { *n = CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT; return CUDNN_STATUS_SUCCESS; }
cudnnStatus_t cudnnGetConvolutionBackwardFilterAlgorithmMaxCount(cudnnHandle_t, int* n) { *n = CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT; return CUDNN_STATUS_SUCCESS; }
cudnnStatus_t cudnnFindConvolutionForwardAlgorithmEx(cudnnHandle_t, cudnnTensorDescriptor_t xd, const void* x, cudnnFilterDescriptor_t wd, const void* w, cudnnConvolutionDescriptor_t cd, cudnnTensorDescriptor_t yd, void* y, int slots, int* got, cudnnConvolutionFwdAlgoPerf_t* p, void* ws, size_t wss) {
  if (!ConvShapesFit(*(Conv*)cd, D(xd), D(wd), D(yd), "find fwd")) return CUDNN_STATUS_BAD_PARAM;
  R(x, xd, "find fwd x"); R(w, wd, "find fwd w"); R(y, yd, "find fwd y"); CheckRange(ws, wss, "find fwd workspace");
  Perfs(slots, got, p, cd, D(xd), D(yd)); return CUDNN_STATUS_SUCCESS; }
cudnnStatus_t cudnnFindConvolutionBackwardDataAlgorithmEx(cudnnHandle_t, cudnnFilterDescriptor_t wd, const void* w, cudnnTensorDescriptor_t dyd, const void* dy, cudnnConvolutionDescriptor_t cd, cudnnTensorDescriptor_t dxd, void* dx, int slots, int* got, cudnnConvolutionBwdDataAlgoPerf_t* p, void* ws, size_t wss) {
  if (!ConvShapesFit(*(Conv*)cd, D(dxd), D(wd), D(dyd), "find bwd-data")) return CUDNN_STATUS_BAD_PARAM;
  R(w, wd, "find bwd-data w"); R(dy, dyd, "find bwd-data dy"); R(dx, dxd, "find bwd-data dx"); CheckRange(ws, wss, "find bwd-data workspace");
  Perfs(slots, got, p, cd, D(dxd), D(dyd)); return CUDNN_STATUS_SUCCESS; }
cudnnStatus_t cudnnFindConvolutionBackwardFilterAlgorithmEx(cudnnHandle_t, cudnnTensorDescriptor_t xd, const void* x, cudnnTensorDescriptor_t dyd, const void* dy, cudnnConvolutionDescriptor_t cd, cudnnFilterDescriptor_t dwd, void* dw, int slots, int* got, cudnnConvolutionBwdFilterAlgoPerf_t* p, void* ws, size_t wss) {
  if (!ConvShapesFit(*(Conv*)cd, D(xd), D(dwd), D(dyd), "find bwd-filter")) return CUDNN_STATUS_BAD_PARAM;
  R(x, xd, "find bwd-filter x"); R(dy, dyd, "find bwd-filter dy"); R(dw, dwd, "find bwd-filter dw"); CheckRange(ws, wss, "find bwd-filter workspace");
  Perfs(slots, got, p, cd, D(xd), D(dyd)); return CUDNN_STATUS_SUCCESS; }

// Compute calls.
cudnnStatus_t cudnnConvolutionForward(cudnnHandle_t, const void* alpha, const cudnnTensorDescriptor_t xd, const void* x,
                                      const cudnnFilterDescriptor_t wd, const void* w, const cudnnConvolutionDescriptor_t cd,
                                      cudnnConvolutionFwdAlgo_t algo, void* ws, size_t wss, const void* beta,
                                      const cudnnTensorDescriptor_t yd, void* y) {
  umbra_stub::CountCudnn();
  CountAlgo(int(algo));
  if (!ConvShapesFit(*(Conv*)cd, D(xd), D(wd), D(yd), "conv fwd")) return CUDNN_STATUS_BAD_PARAM;
  R(x, xd, "conv fwd x"); R(w, wd, "conv fwd w"); R(y, yd, "conv fwd y"); CheckRange(ws, wss, "conv fwd workspace");
#ifdef UMBRA_STUB_COMPUTE
  const Conv cv = *(Conv*)cd; const T4 X = D(xd), W = D(wd), Y = D(yd);
  const double a = Scale(alpha, Y), b = Scale(beta, Y);
  Submit(nullptr, [=] {
    Scribble(ws, wss);
    const ConvMats m{cv, X, W, Y};
    std::vector<double> out(size_t(m.kg()) * m.cols());
    for (int g = 0; g < cv.groups; ++g) {
      const std::vector<double> f = m.Filters(w, g);
      for (int n = 0; n < Y.n; ++n) {
        Gemm(false, false, m.kg(), m.cols(), m.rows(), f, m.Columns(x, n, g), out, 0);
        for (int k = 0; k < m.kg(); ++k)
          for (int i = 0; i < m.cols(); ++i) Blend(y, Y.type, Y.AtPlane(n, g * m.kg() + k, i), out[size_t(k) * m.cols() + i], a, b);
      }
    } });
#else
  (void)alpha; (void)beta;
#endif
  return CUDNN_STATUS_SUCCESS; }
cudnnStatus_t cudnnConvolutionBackwardData(cudnnHandle_t, const void* alpha, const cudnnFilterDescriptor_t wd, const void* w,
                                           const cudnnTensorDescriptor_t dyd, const void* dy,
                                           const cudnnConvolutionDescriptor_t cd, cudnnConvolutionBwdDataAlgo_t algo, void* ws,
                                           size_t wss, const void* beta, const cudnnTensorDescriptor_t dxd, void* dx) {
  umbra_stub::CountCudnn();
  CountAlgo(int(algo));
  if (!ConvShapesFit(*(Conv*)cd, D(dxd), D(wd), D(dyd), "conv bwd-data")) return CUDNN_STATUS_BAD_PARAM;
  R(w, wd, "conv bwd-data w"); R(dy, dyd, "conv bwd-data dy"); R(dx, dxd, "conv bwd-data dx"); CheckRange(ws, wss, "conv bwd-data workspace");
#ifdef UMBRA_STUB_COMPUTE
  const Conv cv = *(Conv*)cd; const T4 X = D(dxd), W = D(wd), Y = D(dyd);
  const double a = Scale(alpha, X), b = Scale(beta, X);
  Submit(nullptr, [=] {
    Scribble(ws, wss);
    const ConvMats m{cv, X, W, Y};
    std::vector<double> acc(X.Count()), cols(size_t(m.rows()) * m.cols());
    for (int g = 0; g < cv.groups; ++g) {
      const std::vector<double> f = m.Filters(w, g);
      for (int n = 0; n < Y.n; ++n) {
        Gemm(true, false, m.rows(), m.cols(), m.kg(), f, m.Outputs(dy, n, g), cols, 0);
        m.EachColumn(n, g, [&](int r, int c, size_t i) { acc[i] += cols[size_t(r) * m.cols() + c]; });
      }
    }
    for (size_t i = 0; i < acc.size(); ++i) Blend(dx, X.type, i, acc[i], a, b); });
#else
  (void)alpha; (void)beta;
#endif
  return CUDNN_STATUS_SUCCESS; }
cudnnStatus_t cudnnConvolutionBackwardFilter(cudnnHandle_t, const void* alpha, const cudnnTensorDescriptor_t xd, const void* x,
                                             const cudnnTensorDescriptor_t dyd, const void* dy,
                                             const cudnnConvolutionDescriptor_t cd, cudnnConvolutionBwdFilterAlgo_t algo, void* ws,
                                             size_t wss, const void* beta, const cudnnFilterDescriptor_t dwd, void* dw) {
  umbra_stub::CountCudnn();
  CountAlgo(int(algo));
  if (!ConvShapesFit(*(Conv*)cd, D(xd), D(dwd), D(dyd), "conv bwd-filter")) return CUDNN_STATUS_BAD_PARAM;
  R(x, xd, "conv bwd-filter x"); R(dy, dyd, "conv bwd-filter dy"); R(dw, dwd, "conv bwd-filter dw"); CheckRange(ws, wss, "conv bwd-filter workspace");
#ifdef UMBRA_STUB_COMPUTE
  const Conv cv = *(Conv*)cd; const T4 X = D(xd), W = D(dwd), Y = D(dyd);
  const double a = Scale(alpha, X), b = Scale(beta, X);
  Submit(nullptr, [=] {
    Scribble(ws, wss);
    const ConvMats m{cv, X, W, Y};
    const bool flip = cv.mode == CUDNN_CONVOLUTION;
    for (int g = 0; g < cv.groups; ++g) {
      std::vector<double> acc(size_t(m.kg()) * m.rows(), 0.0);
      for (int n = 0; n < Y.n; ++n) Gemm(false, true, m.kg(), m.rows(), m.cols(), m.Outputs(dy, n, g), m.Columns(x, n, g), acc, 1);
      for (int k = 0; k < m.kg(); ++k)
        for (int c = 0; c < W.c; ++c)
          for (int ky = 0; ky < W.h; ++ky)
            for (int kx = 0; kx < W.w; ++kx)
              Blend(dw, W.type, W.At(g * m.kg() + k, c, flip ? W.h - 1 - ky : ky, flip ? W.w - 1 - kx : kx),
                    acc[size_t(k) * m.rows() + (c * W.h + ky) * W.w + kx], a, b);
    } });
#else
  (void)alpha; (void)beta;
#endif
  return CUDNN_STATUS_SUCCESS; }
cudnnStatus_t cudnnConvolutionBackwardBias(cudnnHandle_t, const void* alpha, const cudnnTensorDescriptor_t dyd, const void* dy,
                                           const void* beta, const cudnnTensorDescriptor_t dbd, void* db) {
  umbra_stub::CountCudnn(); R(dy, dyd, "conv bwd-bias dy"); R(db, dbd, "conv bwd-bias db");
  if (D(dbd).c != D(dyd).c || D(dbd).Count() != size_t(D(dbd).c)) { fprintf(stderr, "[stub] BAD shape: conv bwd-bias\n"); return CUDNN_STATUS_BAD_PARAM; }
#ifdef UMBRA_STUB_COMPUTE
  const T4 Y = D(dyd), B = D(dbd);
  const double a = Scale(alpha, B), b = Scale(beta, B);
  Submit(nullptr, [=] {
    for (int k = 0; k < Y.c; ++k) {
      double s = 0;
      for (int n = 0; n < Y.n; ++n)
        for (int i = 0; i < Y.h * Y.w; ++i) s += Get(dy, Y.type, Y.AtPlane(n, k, i));
      Blend(db, B.type, k, s, a, b);
    } });
#else
  (void)alpha; (void)beta;
#endif
  return CUDNN_STATUS_SUCCESS; }
cudnnStatus_t cudnnAddTensor(cudnnHandle_t, const void* alpha, const cudnnTensorDescriptor_t ad, const void* A, const void* beta,
                             const cudnnTensorDescriptor_t cd, void* C) {
  umbra_stub::CountCudnn(); R(A, ad, "add-tensor a"); R(C, cd, "add-tensor c");
  const T4 At = D(ad), Ct = D(cd);
  auto fits = [](int a, int c) { return a == c || a == 1; };
  if (!fits(At.n, Ct.n) || !fits(At.c, Ct.c) || !fits(At.h, Ct.h) || !fits(At.w, Ct.w)) {
    fprintf(stderr, "[stub] BAD shape: add-tensor (%d,%d,%d,%d) into (%d,%d,%d,%d)\n", At.n, At.c, At.h, At.w, Ct.n, Ct.c, Ct.h, Ct.w);
    return CUDNN_STATUS_BAD_PARAM;
  }
#ifdef UMBRA_STUB_COMPUTE
  const double a = Scale(alpha, Ct), b = Scale(beta, Ct);
  Submit(nullptr, [=] {
    for (int n = 0; n < Ct.n; ++n)
      for (int c = 0; c < Ct.c; ++c)
        for (int y = 0; y < Ct.h; ++y)
          for (int x = 0; x < Ct.w; ++x) {
            const size_t ai = At.At(At.n == 1 ? 0 : n, At.c == 1 ? 0 : c, At.h == 1 ? 0 : y, At.w == 1 ? 0 : x);
            Blend(C, Ct.type, Ct.At(n, c, y, x), Get(A, At.type, ai), a, b);
          } });
#else
  (void)alpha; (void)beta;
#endif
  return CUDNN_STATUS_SUCCESS; }
}  // extern "C"

#ifdef UMBRA_STUB_COMPUTE
namespace {
/// Calls f(input index) for the window of output (n, c, oy, ox), padding skipped; returns the
/// number of positions the average divides by.
template <typename F>
int EachInWindow(const Pool& q, const T4& x, int n, int c, int oy, int ox, F f) {
  int valid = 0;
  for (int ky = 0; ky < q.kh; ++ky)
    for (int kx = 0; kx < q.kw; ++kx) {
      const int iy = oy * q.sh - q.ph + ky, ix = ox * q.sw - q.pw + kx;
      if (iy < 0 || iy >= x.h || ix < 0 || ix >= x.w) continue;
      ++valid;
      f(x.At(n, c, iy, ix));
    }
  return q.mode == CUDNN_POOLING_AVERAGE_COUNT_INCLUDE_PADDING ? q.kh * q.kw : valid;
}
bool IsMax(cudnnPoolingMode_t m) { return m == CUDNN_POOLING_MAX || m == CUDNN_POOLING_MAX_DETERMINISTIC; }
}  // namespace
#endif

extern "C" {
cudnnStatus_t cudnnPoolingForward(cudnnHandle_t, const cudnnPoolingDescriptor_t pd, const void* alpha, const cudnnTensorDescriptor_t xd,
                                  const void* x, const void* beta, const cudnnTensorDescriptor_t yd, void* y) {
  if (RefusesBF16(xd)) return CUDNN_STATUS_NOT_SUPPORTED;
  umbra_stub::CountCudnn(); R(x, xd, "pool fwd x"); R(y, yd, "pool fwd y");
#ifdef UMBRA_STUB_COMPUTE
  const Pool q = *(Pool*)pd; const T4 X = D(xd), Y = D(yd);
  const double a = Scale(alpha, Y), b = Scale(beta, Y);
  Submit(nullptr, [=] {
    for (int n = 0; n < Y.n; ++n)
      for (int c = 0; c < Y.c; ++c)
        for (int oy = 0; oy < Y.h; ++oy)
          for (int ox = 0; ox < Y.w; ++ox) {
            double m = -INFINITY, s = 0;
            const int count = EachInWindow(q, X, n, c, oy, ox, [&](size_t i) {
              const double v = Get(x, X.type, i);
              m = v > m || (q.nan && v != v) ? v : m;
              s += v; });
            Blend(y, Y.type, Y.At(n, c, oy, ox), IsMax(q.mode) ? m : s / count, a, b);
          } });
#else
  (void)pd; (void)alpha; (void)beta;
#endif
  return CUDNN_STATUS_SUCCESS; }
cudnnStatus_t cudnnPoolingBackward(cudnnHandle_t, const cudnnPoolingDescriptor_t pd, const void* alpha, const cudnnTensorDescriptor_t yd,
                                   const void* y, const cudnnTensorDescriptor_t dyd, const void* dy,
                                   const cudnnTensorDescriptor_t xd, const void* x, const void* beta,
                                   const cudnnTensorDescriptor_t dxd, void* dx) {
  if (RefusesBF16(yd)) return CUDNN_STATUS_NOT_SUPPORTED;
  umbra_stub::CountCudnn(); R(y, yd, "pool bwd y"); R(dy, dyd, "pool bwd dy"); R(x, xd, "pool bwd x"); R(dx, dxd, "pool bwd dx");
#ifdef UMBRA_STUB_COMPUTE
  const Pool q = *(Pool*)pd; const T4 X = D(xd), Y = D(dyd), DX = D(dxd);
  const double a = Scale(alpha, DX), b = Scale(beta, DX);
  Submit(nullptr, [=] {
    std::vector<double> acc(X.Count());
    for (int n = 0; n < Y.n; ++n)
      for (int c = 0; c < Y.c; ++c)
        for (int oy = 0; oy < Y.h; ++oy)
          for (int ox = 0; ox < Y.w; ++ox) {
            const double g = Get(dy, Y.type, Y.At(n, c, oy, ox));
            double m = -INFINITY;
            size_t arg = SIZE_MAX;
            std::vector<size_t> window;
            const int count = EachInWindow(q, X, n, c, oy, ox, [&](size_t i) {
              const double v = Get(x, X.type, i);
              if (v > m || arg == SIZE_MAX || (q.nan && v != v && m == m)) { m = v; arg = i; }
              window.push_back(i); });
            if (IsMax(q.mode)) { if (arg != SIZE_MAX) acc[arg] += g; }
            else for (size_t i : window) acc[i] += g / count;
          }
    for (size_t i = 0; i < acc.size(); ++i) Blend(dx, DX.type, i, acc[i], a, b); });
#else
  (void)pd; (void)alpha; (void)beta;
#endif
  return CUDNN_STATUS_SUCCESS; }
cudnnStatus_t cudnnActivationForward(cudnnHandle_t, cudnnActivationDescriptor_t ad, const void* alpha, const cudnnTensorDescriptor_t xd,
                                     const void* x, const void* beta, const cudnnTensorDescriptor_t yd, void* y) {
  if (RefusesBF16(xd)) return CUDNN_STATUS_NOT_SUPPORTED;
  umbra_stub::CountCudnn(); R(x, xd, "act fwd x"); R(y, yd, "act fwd y");
#ifdef UMBRA_STUB_COMPUTE
  const Act f = *(Act*)ad; const T4 X = D(xd), Y = D(yd);
  const double a = Scale(alpha, Y), b = Scale(beta, Y);
  Submit(nullptr, [=] {
    for (size_t i = 0; i < X.Count(); ++i) {
      const double v = Get(x, X.type, i);
      double r = v > 0 || (f.nan && v != v) ? v : 0;  // relu
      if (f.mode == CUDNN_ACTIVATION_SIGMOID) r = 1 / (1 + std::exp(-v));
      else if (f.mode == CUDNN_ACTIVATION_TANH) r = std::tanh(v);
      else if (f.mode == CUDNN_ACTIVATION_CLIPPED_RELU) r = r < f.coef ? r : f.coef;
      else if (f.mode == CUDNN_ACTIVATION_ELU) r = v > 0 ? v : f.coef * (std::exp(v) - 1);
      Blend(y, Y.type, i, r, a, b);
    } });
#else
  (void)ad; (void)alpha; (void)beta;
#endif
  return CUDNN_STATUS_SUCCESS; }
cudnnStatus_t cudnnActivationBackward(cudnnHandle_t, cudnnActivationDescriptor_t ad, const void* alpha, const cudnnTensorDescriptor_t yd,
                                      const void* y, const cudnnTensorDescriptor_t dyd, const void* dy,
                                      const cudnnTensorDescriptor_t xd, const void* x, const void* beta,
                                      const cudnnTensorDescriptor_t dxd, void* dx) {
  if (RefusesBF16(yd)) return CUDNN_STATUS_NOT_SUPPORTED;
  umbra_stub::CountCudnn(); R(y, yd, "act bwd y"); R(dy, dyd, "act bwd dy"); R(x, xd, "act bwd x"); R(dx, dxd, "act bwd dx");
#ifdef UMBRA_STUB_COMPUTE
  const Act f = *(Act*)ad; const T4 Y = D(yd), DX = D(dxd);
  const double a = Scale(alpha, DX), b = Scale(beta, DX);
  if (f.mode == CUDNN_ACTIVATION_ELU) { fprintf(stderr, "[stub] BAD: elu backward is not emulated\n"); return CUDNN_STATUS_NOT_SUPPORTED; }
  Submit(nullptr, [=] {
    for (size_t i = 0; i < Y.Count(); ++i) {
      // From the output, as umbra's in-place layers need (for relu y > 0 exactly where x > 0).
      const double o = Get(y, Y.type, i), g = Get(dy, Y.type, i);
      double r = o > 0 ? g : 0;
      if (f.mode == CUDNN_ACTIVATION_SIGMOID) r = g * o * (1 - o);
      else if (f.mode == CUDNN_ACTIVATION_TANH) r = g * (1 - o * o);
      else if (f.mode == CUDNN_ACTIVATION_CLIPPED_RELU) r = o > 0 && o < f.coef ? g : 0;
      Blend(dx, DX.type, i, r, a, b);
    } });
#else
  (void)ad; (void)alpha; (void)beta; (void)x;
#endif
  return CUDNN_STATUS_SUCCESS; }
cudnnStatus_t cudnnSoftmaxForward(cudnnHandle_t, cudnnSoftmaxAlgorithm_t algo, cudnnSoftmaxMode_t mode, const void* alpha,
                                  const cudnnTensorDescriptor_t xd, const void* x, const void* beta,
                                  const cudnnTensorDescriptor_t yd, void* y) {
  umbra_stub::CountCudnn(); R(x, xd, "softmax x"); R(y, yd, "softmax y");
#ifdef UMBRA_STUB_COMPUTE
  const T4 X = D(xd), Y = D(yd);
  const double a = Scale(alpha, Y), b = Scale(beta, Y);
  Submit(nullptr, [=] {
    // INSTANCE: over c, h, w of each n; CHANNEL: over c of each (n, h, w).
    const bool inst = mode == CUDNN_SOFTMAX_MODE_INSTANCE;
    const int groups = inst ? X.n : X.n * X.h * X.w, len = inst ? X.c * X.h * X.w : X.c;
    for (int gi = 0; gi < groups; ++gi) {
      auto at = [&](int k) -> size_t {
        if (inst) return size_t(gi) * len + k;
        const int n = gi / (X.h * X.w), p = gi % (X.h * X.w);
        return X.AtPlane(n, k, p);
      };
      double m = -INFINITY, s = 0;
      for (int k = 0; k < len; ++k) m = std::fmax(m, Get(x, X.type, at(k)));
      if (algo == CUDNN_SOFTMAX_FAST) m = 0;
      for (int k = 0; k < len; ++k) s += std::exp(Get(x, X.type, at(k)) - m);
      for (int k = 0; k < len; ++k) {
        const double v = Get(x, X.type, at(k)) - m;
        Blend(y, Y.type, at(k), algo == CUDNN_SOFTMAX_LOG ? v - std::log(s) : std::exp(v) / s, a, b);
      }
    } });
#else
  (void)algo; (void)mode; (void)alpha; (void)beta;
#endif
  return CUDNN_STATUS_SUCCESS; }
}  // extern "C"

#ifdef UMBRA_STUB_COMPUTE
namespace {
/// Batch norm's reduction sets: parameter p's elements of x (SPATIAL: channel p over n, h, w;
/// PER_ACTIVATION: position p over n).
struct BnSets {
  T4 x;
  bool spatial;
  int Params() const { return spatial ? x.c : x.c * x.h * x.w; }
  int Count() const { return spatial ? x.n * x.h * x.w : x.n; }
  size_t At(int p, int j) const {
    if (!spatial) return size_t(j) * x.c * x.h * x.w + p;
    const int n = j / (x.h * x.w), i = j % (x.h * x.w);
    return x.AtPlane(n, p, i);
  }
};
}  // namespace
#endif

extern "C" {
cudnnStatus_t cudnnBatchNormalizationForwardTraining(cudnnHandle_t, cudnnBatchNormMode_t mode, const void* alpha, const void* beta,
                                                     const cudnnTensorDescriptor_t xd, const void* x,
                                                     const cudnnTensorDescriptor_t yd, void* y,
                                                     const cudnnTensorDescriptor_t pd, const void* g, const void* bb, double factor,
                                                     void* rm, void* rv, double eps, void* sm, void* si) {
  if (RefusesBF16(xd)) return CUDNN_STATUS_NOT_SUPPORTED;
  umbra_stub::CountCudnn(); R(x, xd, "bn fwd x"); R(y, yd, "bn fwd y"); R(g, pd, "bn fwd gamma"); R(bb, pd, "bn fwd beta");
  if (rm) R(rm, pd, "bn fwd running mean");
  if (rv) R(rv, pd, "bn fwd running var");
  if (sm) R(sm, pd, "bn fwd saved mean");
  if (si) R(si, pd, "bn fwd saved inv std");
  if (eps < CUDNN_BN_MIN_EPSILON) return CUDNN_STATUS_BAD_PARAM;
#ifdef UMBRA_STUB_COMPUTE
  const BnSets s{D(xd), mode != CUDNN_BATCHNORM_PER_ACTIVATION};
  const T4 Y = D(yd), P = D(pd);
  const double a = Scale(alpha, Y), b = Scale(beta, Y);
  Submit(nullptr, [=] {
    const int m = s.Count();
    for (int p = 0; p < s.Params(); ++p) {
      double mean = 0, var = 0;
      for (int j = 0; j < m; ++j) mean += Get(x, s.x.type, s.At(p, j));
      mean /= m;
      for (int j = 0; j < m; ++j) var += std::pow(Get(x, s.x.type, s.At(p, j)) - mean, 2);
      var /= m;
      const double inv = 1 / std::sqrt(var + eps), ga = Get(g, P.type, p), be = Get(bb, P.type, p);
      for (int j = 0; j < m; ++j) Blend(y, Y.type, s.At(p, j), ga * (Get(x, s.x.type, s.At(p, j)) - mean) * inv + be, a, b);
      if (rm) Put(rm, P.type, p, (1 - factor) * Get(rm, P.type, p) + factor * mean);
      if (rv) Put(rv, P.type, p, (1 - factor) * Get(rv, P.type, p) + factor * (m > 1 ? var * m / (m - 1) : var));
      if (sm) Put(sm, P.type, p, mean);
      if (si) Put(si, P.type, p, inv);
    } });
#else
  (void)mode; (void)alpha; (void)beta; (void)factor;
#endif
  return CUDNN_STATUS_SUCCESS; }
cudnnStatus_t cudnnBatchNormalizationForwardInference(cudnnHandle_t, cudnnBatchNormMode_t mode, const void* alpha, const void* beta,
                                                      const cudnnTensorDescriptor_t xd, const void* x,
                                                      const cudnnTensorDescriptor_t yd, void* y,
                                                      const cudnnTensorDescriptor_t pd, const void* g, const void* bb,
                                                      const void* mean, const void* var, double eps) {
  if (RefusesBF16(xd)) return CUDNN_STATUS_NOT_SUPPORTED;
  umbra_stub::CountCudnn(); R(x, xd, "bn infer x"); R(y, yd, "bn infer y"); R(g, pd, "bn infer gamma"); R(bb, pd, "bn infer beta");
  R(mean, pd, "bn infer mean"); R(var, pd, "bn infer var");
#ifdef UMBRA_STUB_COMPUTE
  const BnSets s{D(xd), mode != CUDNN_BATCHNORM_PER_ACTIVATION};
  const T4 Y = D(yd), P = D(pd);
  const double a = Scale(alpha, Y), b = Scale(beta, Y);
  Submit(nullptr, [=] {
    for (int p = 0; p < s.Params(); ++p) {
      const double mu = Get(mean, P.type, p), inv = 1 / std::sqrt(Get(var, P.type, p) + eps);
      const double ga = Get(g, P.type, p), be = Get(bb, P.type, p);
      for (int j = 0; j < s.Count(); ++j)
        Blend(y, Y.type, s.At(p, j), ga * (Get(x, s.x.type, s.At(p, j)) - mu) * inv + be, a, b);
    } });
#else
  (void)mode; (void)alpha; (void)beta; (void)eps;
#endif
  return CUDNN_STATUS_SUCCESS; }
cudnnStatus_t cudnnBatchNormalizationBackward(cudnnHandle_t, cudnnBatchNormMode_t mode, const void* alpha_d, const void* beta_d,
                                              const void* alpha_p, const void* beta_p, const cudnnTensorDescriptor_t xd, const void* x,
                                              const cudnnTensorDescriptor_t dyd, const void* dy,
                                              const cudnnTensorDescriptor_t dxd, void* dx,
                                              const cudnnTensorDescriptor_t pd, const void* g, void* dg, void* db, double eps,
                                              const void* sm, const void* si) {
  if (RefusesBF16(xd)) return CUDNN_STATUS_NOT_SUPPORTED;
  umbra_stub::CountCudnn(); R(x, xd, "bn bwd x"); R(dy, dyd, "bn bwd dy"); R(dx, dxd, "bn bwd dx"); R(g, pd, "bn bwd gamma");
  R(dg, pd, "bn bwd dgamma"); R(db, pd, "bn bwd dbeta");
  if (sm) R(sm, pd, "bn bwd saved mean");
  if (si) R(si, pd, "bn bwd saved inv std");
  if ((sm == nullptr) != (si == nullptr)) return CUDNN_STATUS_BAD_PARAM;
  // The persistent mode's backward takes the forward's saved statistics (cuDNN's documentation).
  if (mode == CUDNN_BATCHNORM_SPATIAL_PERSISTENT && sm == nullptr) return CUDNN_STATUS_BAD_PARAM;
#ifdef UMBRA_STUB_COMPUTE
  const BnSets s{D(xd), mode != CUDNN_BATCHNORM_PER_ACTIVATION};
  const T4 DY = D(dyd), DX = D(dxd), P = D(pd);
  const double ad = Scale(alpha_d, DX), bd = Scale(beta_d, DX), ap = Scale(alpha_p, P), bp = Scale(beta_p, P);
  Submit(nullptr, [=] {
    const int m = s.Count();
    for (int p = 0; p < s.Params(); ++p) {
      double mean = 0, inv = 0;
      if (sm) {
        mean = Get(sm, P.type, p);
        inv = Get(si, P.type, p);
      } else {
        double var = 0;
        for (int j = 0; j < m; ++j) mean += Get(x, s.x.type, s.At(p, j));
        mean /= m;
        for (int j = 0; j < m; ++j) var += std::pow(Get(x, s.x.type, s.At(p, j)) - mean, 2);
        inv = 1 / std::sqrt(var / m + eps);
      }
      double sum_dy = 0, sum_dy_xhat = 0;
      for (int j = 0; j < m; ++j) {
        const double d = Get(dy, DY.type, s.At(p, j)), xh = (Get(x, s.x.type, s.At(p, j)) - mean) * inv;
        sum_dy += d;
        sum_dy_xhat += d * xh;
      }
      const double ga = Get(g, P.type, p);
      for (int j = 0; j < m; ++j) {
        const double d = Get(dy, DY.type, s.At(p, j)), xh = (Get(x, s.x.type, s.At(p, j)) - mean) * inv;
        Blend(dx, DX.type, s.At(p, j), ga * inv / m * (m * d - sum_dy - xh * sum_dy_xhat), ad, bd);
      }
      Blend(dg, P.type, p, sum_dy_xhat, ap, bp);
      Blend(db, P.type, p, sum_dy, ap, bp);
    } });
#else
  (void)mode; (void)alpha_d; (void)beta_d; (void)alpha_p; (void)beta_p; (void)eps;
#endif
  return CUDNN_STATUS_SUCCESS; }
}  // extern "C"
