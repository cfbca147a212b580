// cuDNN's graph (backend) API for the CUDA stand-in, as much of it as umbra's convolution engines
// use (src/nn/layers/cudnn/conv_engines.cc): descriptors keep the attributes they are given;
// Finalize checks what cuDNN requires of each kind umbra makes (NOT_SUPPORTED or BAD_PARAM
// otherwise, and "[stub] BAD graph" on stderr); the heuristics offer engines 0..N-1
// (UMBRA_STUB_CUDNN_ENGINES, read at each Finalize; default none, so that the searches of every
// other test and stand-in run see the legacy algorithms and umbra's GEMMs alone, as they
// expect) in mode A and engine 0 again as the fallback, engine i
// with the notes of kind i % 4: none (FMA math), tensor cores, tensor cores with inputs converted
// down, runtime compilation; its plan takes (i + 1) MiB of workspace. Executing a plan runs the
// legacy call of cudnn_stub.cc on legacy descriptors made from the graph's, as algorithm 1000 + i
// (umbra_stub::ConvCallsWithAlgo counts them), TF32-rounded where the engine notes tensor cores.
// UMBRA_STUB_CUDNN_PLAN_ABORTS makes a plan's Finalize end the process, as a crashing library would.
#include <cudnn.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace {

struct BDesc {
  cudnnBackendDescriptorType_t type;
  bool final = false;
  std::map<int, std::vector<char>> attr;  // each attribute's elements as set
  std::map<int, int64_t> count;
  std::vector<BDesc*> results;  // heuristics: its engine configurations (the stub's own)
};
size_t ElemSize(cudnnBackendAttributeType_t t) {
  switch (t) {
    case CUDNN_TYPE_HANDLE:
    case CUDNN_TYPE_BACKEND_DESCRIPTOR:
    case CUDNN_TYPE_VOID_PTR:
      return sizeof(void*);
    case CUDNN_TYPE_INT64:
    case CUDNN_TYPE_DOUBLE:
      return 8;
    case CUDNN_TYPE_CHAR:
    case CUDNN_TYPE_BOOLEAN:
      return 1;
    default:
      return 4;  // FLOAT and the enumerations
  }
}
BDesc* B(void* d) { return static_cast<BDesc*>(d); }
bool Has(const BDesc* d, int a, int64_t n = 1) {
  auto it = d->count.find(a);
  return it != d->count.end() && it->second >= n;
}
template <typename T>
T At(const BDesc* d, int a, size_t i = 0) {
  T v;
  std::memcpy(&v, d->attr.at(a).data() + i * sizeof(T), sizeof(T));
  return v;
}
template <typename T>
void Put(BDesc* d, int a, const std::vector<T>& v) {
  d->attr[a].assign(reinterpret_cast<const char*>(v.data()), reinterpret_cast<const char*>(v.data() + v.size()));
  d->count[a] = int64_t(v.size());
}
cudnnStatus_t Refuse(const char* why, cudnnStatus_t s = CUDNN_STATUS_BAD_PARAM) {
  fprintf(stderr, "[stub] BAD graph: %s\n", why);
  return s;
}
std::mutex mu;
std::deque<BDesc> owned;  // the heuristics' configurations and engines, for the process
BDesc* Own(cudnnBackendDescriptorType_t t) {
  owned.push_back(BDesc{t});
  return &owned.back();
}

// A finalized operand of an operation (a descriptor-valued attribute naming a tensor).
const BDesc* Operand(const BDesc* op, int a) {
  if (!Has(op, a)) return nullptr;
  const BDesc* t = At<BDesc*>(op, a);
  return t && t->type == CUDNN_BACKEND_TENSOR_DESCRIPTOR && t->final ? t : nullptr;
}
struct OpAttrs {
  int x, w, y, conv, alpha, beta;
};
const OpAttrs* OpOf(cudnnBackendDescriptorType_t t) {
  static const OpAttrs fwd{
      CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_X,     CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_W,
      CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_Y,     CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_CONV_DESC,
      CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_ALPHA, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_BETA};
  static const OpAttrs data{
      CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_DX,    CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_W,
      CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_DY,    CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_CONV_DESC,
      CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_ALPHA, CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_BETA};
  static const OpAttrs filter{
      CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_X,     CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_DW,
      CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_DY,    CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_CONV_DESC,
      CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_ALPHA, CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_BETA};
  return t == CUDNN_BACKEND_OPERATION_CONVOLUTION_FORWARD_DESCRIPTOR           ? &fwd
         : t == CUDNN_BACKEND_OPERATION_CONVOLUTION_BACKWARD_DATA_DESCRIPTOR   ? &data
         : t == CUDNN_BACKEND_OPERATION_CONVOLUTION_BACKWARD_FILTER_DESCRIPTOR ? &filter
                                                                               : nullptr;
}
// A packed 4-d tensor's layout from its strides: 0 NCHW, 1 NHWC, -1 neither.
// A tensor's dimension i, in (n, c, h, w) order.
int64_t Dim(const BDesc* t, int i) { return At<int64_t>(t, CUDNN_ATTR_TENSOR_DIMENSIONS, size_t(i)); }
int Layout(const BDesc* t) {
  int64_t d[4], s[4];
  for (int i = 0; i < 4; ++i) d[i] = Dim(t, i), s[i] = At<int64_t>(t, CUDNN_ATTR_TENSOR_STRIDES, size_t(i));
  if (s[3] == 1 && s[2] == d[3] && s[1] == d[2] * d[3] && s[0] == d[1] * d[2] * d[3]) return 0;
  if (s[1] == 1 && s[3] == d[1] && s[2] == d[3] * d[1] && s[0] == d[1] * d[2] * d[3]) return 1;
  return -1;
}

cudnnStatus_t FinalizeOne(BDesc* d) {
  switch (d->type) {
    case CUDNN_BACKEND_TENSOR_DESCRIPTOR:
      if (!Has(d, CUDNN_ATTR_TENSOR_DATA_TYPE) || !Has(d, CUDNN_ATTR_TENSOR_DIMENSIONS, 4) ||
          !Has(d, CUDNN_ATTR_TENSOR_STRIDES, 4) || !Has(d, CUDNN_ATTR_TENSOR_UNIQUE_ID) ||
          !Has(d, CUDNN_ATTR_TENSOR_BYTE_ALIGNMENT))
        return Refuse("tensor without type, 4 dimensions, 4 strides, unique id or byte alignment");
      if (Layout(d) < 0) return Refuse("tensor neither packed NCHW nor NHWC", CUDNN_STATUS_NOT_SUPPORTED);
      return CUDNN_STATUS_SUCCESS;
    case CUDNN_BACKEND_CONVOLUTION_DESCRIPTOR:
      for (int a : {CUDNN_ATTR_CONVOLUTION_DILATIONS, CUDNN_ATTR_CONVOLUTION_FILTER_STRIDES,
                    CUDNN_ATTR_CONVOLUTION_PRE_PADDINGS, CUDNN_ATTR_CONVOLUTION_POST_PADDINGS})
        if (!Has(d, a, 2)) return Refuse("convolution without 2 dilations, strides and paddings");
      if (!Has(d, CUDNN_ATTR_CONVOLUTION_COMP_TYPE) || !Has(d, CUDNN_ATTR_CONVOLUTION_CONV_MODE) ||
          !Has(d, CUDNN_ATTR_CONVOLUTION_SPATIAL_DIMS) || At<int64_t>(d, CUDNN_ATTR_CONVOLUTION_SPATIAL_DIMS) != 2)
        return Refuse("convolution without compute type, mode or 2 spatial dimensions");
      for (int i = 0; i < 2; ++i)
        if (At<int64_t>(d, CUDNN_ATTR_CONVOLUTION_PRE_PADDINGS, i) !=
            At<int64_t>(d, CUDNN_ATTR_CONVOLUTION_POST_PADDINGS, i))
          return Refuse("asymmetric padding", CUDNN_STATUS_NOT_SUPPORTED);
      return CUDNN_STATUS_SUCCESS;
    case CUDNN_BACKEND_OPERATIONGRAPH_DESCRIPTOR: {
      if (!Has(d, CUDNN_ATTR_OPERATIONGRAPH_HANDLE) || !Has(d, CUDNN_ATTR_OPERATIONGRAPH_OPS))
        return Refuse("operation graph without handle or operations");
      const BDesc* op = At<BDesc*>(d, CUDNN_ATTR_OPERATIONGRAPH_OPS);
      if (!op || !op->final || !OpOf(op->type)) return Refuse("operation graph of an unfinalized or unknown operation");
      return CUDNN_STATUS_SUCCESS;
    }
    case CUDNN_BACKEND_ENGINEHEUR_DESCRIPTOR: {
      if (!Has(d, CUDNN_ATTR_ENGINEHEUR_OPERATION_GRAPH) || !Has(d, CUDNN_ATTR_ENGINEHEUR_MODE))
        return Refuse("heuristics without operation graph or mode");
      BDesc* graph = At<BDesc*>(d, CUDNN_ATTR_ENGINEHEUR_OPERATION_GRAPH);
      if (!graph || !graph->final) return Refuse("heuristics of an unfinalized graph");
      const char* env = getenv("UMBRA_STUB_CUDNN_ENGINES");
      const int n = env ? atoi(env) : 0;
      const bool fallback = At<int>(d, CUDNN_ATTR_ENGINEHEUR_MODE) == CUDNN_HEUR_MODE_FALLBACK;
      std::lock_guard<std::mutex> lock(mu);
      for (int i = 0; i < (fallback ? std::min(n, 1) : n); ++i) {
        BDesc* engine = Own(CUDNN_BACKEND_ENGINE_DESCRIPTOR);
        Put<int64_t>(engine, CUDNN_ATTR_ENGINE_GLOBAL_INDEX, {i});
        Put<BDesc*>(engine, CUDNN_ATTR_ENGINE_OPERATION_GRAPH, {graph});
        std::vector<cudnnBackendNumericalNote_t> notes;
        if (i % 4 == 1 || i % 4 == 2) notes.push_back(CUDNN_NUMERICAL_NOTE_TENSOR_CORE);
        if (i % 4 == 2) notes.push_back(CUDNN_NUMERICAL_NOTE_DOWN_CONVERT_INPUTS);
        Put(engine, CUDNN_ATTR_ENGINE_NUMERICAL_NOTE, notes);
        std::vector<cudnnBackendBehaviorNote_t> behavior;
        if (i % 4 == 3) behavior.push_back(CUDNN_BEHAVIOR_NOTE_RUNTIME_COMPILATION);
        Put(engine, CUDNN_ATTR_ENGINE_BEHAVIOR_NOTE, behavior);
        engine->final = true;
        BDesc* cfg = Own(CUDNN_BACKEND_ENGINECFG_DESCRIPTOR);
        Put<BDesc*>(cfg, CUDNN_ATTR_ENGINECFG_ENGINE, {engine});
        cfg->final = true;
        d->results.push_back(cfg);
      }
      return CUDNN_STATUS_SUCCESS;
    }
    case CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR: {
      if (!Has(d, CUDNN_ATTR_EXECUTION_PLAN_HANDLE) || !Has(d, CUDNN_ATTR_EXECUTION_PLAN_ENGINE_CONFIG))
        return Refuse("execution plan without handle or engine configuration");
      const BDesc* cfg = At<BDesc*>(d, CUDNN_ATTR_EXECUTION_PLAN_ENGINE_CONFIG);
      if (!cfg || !cfg->final || !Has(cfg, CUDNN_ATTR_ENGINECFG_ENGINE))
        return Refuse("plan of an unfinished configuration");
      if (getenv("UMBRA_STUB_CUDNN_PLAN_ABORTS")) {  // a library that kills its caller (bench/run.py's reruns)
        std::fprintf(stderr, "[stub] UMBRA_STUB_CUDNN_PLAN_ABORTS: the process ends in a plan's Finalize\n");
        std::abort();
      }
      const int64_t i = At<int64_t>(At<BDesc*>(cfg, CUDNN_ATTR_ENGINECFG_ENGINE), CUDNN_ATTR_ENGINE_GLOBAL_INDEX);
      Put<int64_t>(d, CUDNN_ATTR_EXECUTION_PLAN_WORKSPACE_SIZE, {(i + 1) << 20});
      const std::string json = "{\"engineId\":" + std::to_string(i) + "}";
      Put(d, CUDNN_ATTR_EXECUTION_PLAN_JSON_REPRESENTATION, std::vector<char>(json.begin(), json.end()));
      return CUDNN_STATUS_SUCCESS;
    }
    case CUDNN_BACKEND_VARIANT_PACK_DESCRIPTOR:
      if (!Has(d, CUDNN_ATTR_VARIANT_PACK_UNIQUE_IDS) || !Has(d, CUDNN_ATTR_VARIANT_PACK_DATA_POINTERS) ||
          d->count[CUDNN_ATTR_VARIANT_PACK_UNIQUE_IDS] != d->count[CUDNN_ATTR_VARIANT_PACK_DATA_POINTERS] ||
          !Has(d, CUDNN_ATTR_VARIANT_PACK_WORKSPACE))
        return Refuse("variant pack without as many pointers as ids, or without workspace");
      return CUDNN_STATUS_SUCCESS;
    default: {
      const OpAttrs* o = OpOf(d->type);
      if (!o) return Refuse("a kind of descriptor the stand-in does not know", CUDNN_STATUS_NOT_SUPPORTED);
      if (!Operand(d, o->x) || !Operand(d, o->w) || !Operand(d, o->y) || !Has(d, o->alpha) || !Has(d, o->beta) ||
          !Has(d, o->conv) || !At<BDesc*>(d, o->conv)->final)
        return Refuse("convolution operation without finalized x, w, y, convolution, alpha or beta");
      // The output's shape as the input, filter and convolution give it (groups: x's channels
      // over the filter's), as cuDNN checks before it lists any engine.
      const BDesc *x = Operand(d, o->x), *w = Operand(d, o->w), *y = Operand(d, o->y), *cv = At<BDesc*>(d, o->conv);
      auto two = [&](int a, int i) { return At<int64_t>(cv, a, size_t(i)); };
      bool fits = Dim(w, 1) > 0 && Dim(x, 1) % Dim(w, 1) == 0 && Dim(w, 0) % (Dim(x, 1) / Dim(w, 1)) == 0 &&
                  Dim(y, 0) == Dim(x, 0) && Dim(y, 1) == Dim(w, 0);
      for (int i = 0; i < 2; ++i) {
        const int64_t span = (Dim(w, 2 + i) - 1) * two(CUDNN_ATTR_CONVOLUTION_DILATIONS, i) + 1;
        fits = fits && Dim(y, 2 + i) == (Dim(x, 2 + i) + 2 * two(CUDNN_ATTR_CONVOLUTION_PRE_PADDINGS, i) - span) /
                                                two(CUDNN_ATTR_CONVOLUTION_FILTER_STRIDES, i) +
                                            1;
      }
      return fits ? CUDNN_STATUS_SUCCESS
                  : Refuse("convolution operation whose y is not the shape x, w and the convolution give");
    }
  }
}

// A graph tensor as a legacy descriptor (umbra's are 4-d, packed).
cudnnTensorDescriptor_t Legacy(const BDesc* t) {
  cudnnTensorDescriptor_t d;
  cudnnCreateTensorDescriptor(&d);
  cudnnSetTensor4dDescriptor(d, Layout(t) == 1 ? CUDNN_TENSOR_NHWC : CUDNN_TENSOR_NCHW,
                             At<cudnnDataType_t>(t, CUDNN_ATTR_TENSOR_DATA_TYPE), int(Dim(t, 0)), int(Dim(t, 1)),
                             int(Dim(t, 2)), int(Dim(t, 3)));
  return d;
}
cudnnFilterDescriptor_t LegacyFilter(const BDesc* t) {
  cudnnFilterDescriptor_t d;
  cudnnCreateFilterDescriptor(&d);
  cudnnSetFilter4dDescriptor(d, At<cudnnDataType_t>(t, CUDNN_ATTR_TENSOR_DATA_TYPE),
                             Layout(t) == 1 ? CUDNN_TENSOR_NHWC : CUDNN_TENSOR_NCHW, int(Dim(t, 0)), int(Dim(t, 1)),
                             int(Dim(t, 2)), int(Dim(t, 3)));
  return d;
}

}  // namespace

extern "C" {
cudnnStatus_t cudnnBackendCreateDescriptor(cudnnBackendDescriptorType_t t, cudnnBackendDescriptor_t* d) {
  *d = new BDesc{t};
  return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnBackendDestroyDescriptor(cudnnBackendDescriptor_t d) {
  delete B(d);
  return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnBackendSetAttribute(cudnnBackendDescriptor_t d, cudnnBackendAttributeName_t a,
                                       cudnnBackendAttributeType_t t, int64_t n, const void* v) {
  if (!d || B(d)->final || n < 0 || (n && !v)) return Refuse("attribute set on a finalized descriptor, or no values");
  const char* p = static_cast<const char*>(v);
  B(d)->attr[a].assign(p, p + size_t(n) * ElemSize(t));
  B(d)->count[a] = n;
  return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnBackendFinalize(cudnnBackendDescriptor_t d) {
  if (!d || B(d)->final) return Refuse("finalized twice");
  const cudnnStatus_t s = FinalizeOne(B(d));
  B(d)->final = s == CUDNN_STATUS_SUCCESS;
  return s;
}
// Descriptor-valued attributes are copied into the descriptors the caller made, as cuDNN fills
// them; the others are copied as set (or computed at Finalize).
cudnnStatus_t cudnnBackendGetAttribute(cudnnBackendDescriptor_t const d, cudnnBackendAttributeName_t a,
                                       cudnnBackendAttributeType_t t, int64_t want, int64_t* got, void* out) {
  BDesc* s = B(d);
  if (!s || !s->final) return Refuse("attribute read from an unfinalized descriptor");
  if (a == CUDNN_ATTR_ENGINEHEUR_RESULTS) {
    *got = int64_t(s->results.size());
    for (int64_t i = 0; i < std::min(want, *got); ++i) {
      BDesc* to = B(static_cast<void**>(out)[i]);
      if (!to || to->type != CUDNN_BACKEND_ENGINECFG_DESCRIPTOR) return Refuse("results into a non-configuration");
      *to = *s->results[size_t(i)];
    }
    return CUDNN_STATUS_SUCCESS;
  }
  if (!s->count.count(a)) return Refuse("attribute never set", CUDNN_STATUS_NOT_SUPPORTED);
  *got = s->count[a];
  if (t == CUDNN_TYPE_BACKEND_DESCRIPTOR) {
    for (int64_t i = 0; i < std::min(want, *got); ++i) {
      BDesc *to = B(static_cast<void**>(out)[i]), *from = At<BDesc*>(s, a, size_t(i));
      if (!to || to->type != from->type) return Refuse("a descriptor read into one of another kind");
      *to = *from;
    }
    return CUDNN_STATUS_SUCCESS;
  }
  if (want > 0) std::memcpy(out, s->attr[a].data(), size_t(std::min(want, *got)) * ElemSize(t));
  return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnBackendExecute(cudnnHandle_t h, cudnnBackendDescriptor_t plan_d, cudnnBackendDescriptor_t pack_d) {
  const BDesc *plan = B(plan_d), *pack = B(pack_d);
  if (!plan || !plan->final || plan->type != CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR || !pack || !pack->final)
    return Refuse("execute without a finalized plan and variant pack");
  const BDesc* engine =
      At<BDesc*>(At<BDesc*>(plan, CUDNN_ATTR_EXECUTION_PLAN_ENGINE_CONFIG), CUDNN_ATTR_ENGINECFG_ENGINE);
  const BDesc* graph = At<BDesc*>(engine, CUDNN_ATTR_ENGINE_OPERATION_GRAPH);
  const BDesc* op = At<BDesc*>(graph, CUDNN_ATTR_OPERATIONGRAPH_OPS);
  const BDesc* conv = At<BDesc*>(op, OpOf(op->type)->conv);
  const OpAttrs& o = *OpOf(op->type);
  // Each operand's pointer, by its unique id.
  auto ptr = [&](const BDesc* t) -> void* {
    const int64_t uid = At<int64_t>(t, CUDNN_ATTR_TENSOR_UNIQUE_ID);
    for (int64_t i = 0; i < pack->count.at(CUDNN_ATTR_VARIANT_PACK_UNIQUE_IDS); ++i)
      if (At<int64_t>(pack, CUDNN_ATTR_VARIANT_PACK_UNIQUE_IDS, size_t(i)) == uid)
        return At<void*>(pack, CUDNN_ATTR_VARIANT_PACK_DATA_POINTERS, size_t(i));
    return nullptr;
  };
  const BDesc *xt = Operand(op, o.x), *wt = Operand(op, o.w), *yt = Operand(op, o.y);
  void *x = ptr(xt), *w = ptr(wt), *y = ptr(yt);
  if (!x || !w || !y) return Refuse("variant pack without a pointer for each operand's id");
  bool tensor = false;
  for (int64_t i = 0; i < engine->count.at(CUDNN_ATTR_ENGINE_NUMERICAL_NOTE); ++i)
    tensor |= At<cudnnBackendNumericalNote_t>(engine, CUDNN_ATTR_ENGINE_NUMERICAL_NOTE, size_t(i)) ==
              CUDNN_NUMERICAL_NOTE_TENSOR_CORE;
  cudnnConvolutionDescriptor_t cd;
  cudnnCreateConvolutionDescriptor(&cd);
  auto two = [&](int a, int i) { return int(At<int64_t>(conv, a, size_t(i))); };
  cudnnSetConvolution2dDescriptor(
      cd, two(CUDNN_ATTR_CONVOLUTION_PRE_PADDINGS, 0), two(CUDNN_ATTR_CONVOLUTION_PRE_PADDINGS, 1),
      two(CUDNN_ATTR_CONVOLUTION_FILTER_STRIDES, 0), two(CUDNN_ATTR_CONVOLUTION_FILTER_STRIDES, 1),
      two(CUDNN_ATTR_CONVOLUTION_DILATIONS, 0), two(CUDNN_ATTR_CONVOLUTION_DILATIONS, 1),
      At<cudnnConvolutionMode_t>(conv, CUDNN_ATTR_CONVOLUTION_CONV_MODE), CUDNN_DATA_FLOAT);
  cudnnSetConvolutionGroupCount(cd, int(Dim(xt, 1) / Dim(wt, 1)));
  cudnnSetConvolutionMathType(cd, tensor ? CUDNN_TENSOR_OP_MATH : CUDNN_FMA_MATH);
  cudnnTensorDescriptor_t xd = Legacy(xt), yd = Legacy(yt);
  cudnnFilterDescriptor_t wd = LegacyFilter(wt);
  const float alpha = At<float>(op, o.alpha), beta = At<float>(op, o.beta);
  void* ws = At<void*>(pack, CUDNN_ATTR_VARIANT_PACK_WORKSPACE);
  const size_t wss = size_t(At<int64_t>(plan, CUDNN_ATTR_EXECUTION_PLAN_WORKSPACE_SIZE));
  const int algo = 1000 + int(At<int64_t>(engine, CUDNN_ATTR_ENGINE_GLOBAL_INDEX));
  cudnnStatus_t s;
  if (op->type == CUDNN_BACKEND_OPERATION_CONVOLUTION_FORWARD_DESCRIPTOR)
    s = cudnnConvolutionForward(h, &alpha, xd, x, wd, w, cd, cudnnConvolutionFwdAlgo_t(algo), ws, wss, &beta, yd, y);
  else if (op->type == CUDNN_BACKEND_OPERATION_CONVOLUTION_BACKWARD_DATA_DESCRIPTOR)
    s = cudnnConvolutionBackwardData(h, &alpha, wd, w, yd, y, cd, cudnnConvolutionBwdDataAlgo_t(algo), ws, wss, &beta,
                                     xd, x);
  else
    s = cudnnConvolutionBackwardFilter(h, &alpha, xd, x, yd, y, cd, cudnnConvolutionBwdFilterAlgo_t(algo), ws, wss,
                                       &beta, wd, w);
  cudnnDestroyTensorDescriptor(xd), cudnnDestroyTensorDescriptor(yd), cudnnDestroyFilterDescriptor(wd);
  cudnnDestroyConvolutionDescriptor(cd);
  return s;
}
}  // extern "C"
