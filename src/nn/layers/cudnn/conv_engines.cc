// cuDNN engine configurations for a convolution pass (conv_engines.h), through the backend
// descriptors of cudnn_graph.h: tensors, a convolution, one operation, its graph, the
// heuristics' engine configurations, and one execution plan per configuration cuDNN finalizes.
#include "conv_engines.h"

#if defined(UMBRA_USE_CUDNN) && UMBRA_USE_CUDNN
#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <set>
#include <utility>

#include "cudnn_util.h"

namespace umbra::nn {
namespace {

// One backend descriptor, destroyed with its owner; d is null where cuDNN would not make it.
struct Desc {
  cudnnBackendDescriptor_t d = nullptr;
  explicit Desc(cudnnBackendDescriptorType_t type) {
    if (cudnnBackendCreateDescriptor(type, &d) != CUDNN_STATUS_SUCCESS) d = nullptr;
  }
  Desc(Desc&& o) noexcept : d(std::exchange(o.d, nullptr)) {}
  Desc(const Desc&) = delete;
  Desc& operator=(const Desc&) = delete;
  ~Desc() {
    if (d) cudnnBackendDestroyDescriptor(d);
  }
  explicit operator bool() const { return d != nullptr; }
};

bool Set(const Desc& d, cudnnBackendAttributeName_t name, cudnnBackendAttributeType_t type, int64_t count,
         const void* values) {
  return d && cudnnBackendSetAttribute(d.d, name, type, count, values) == CUDNN_STATUS_SUCCESS;
}
bool SetDesc(const Desc& d, cudnnBackendAttributeName_t name, const Desc& value) {
  return value && Set(d, name, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &value.d);
}
bool Final(const Desc& d) { return d && cudnnBackendFinalize(d.d) == CUDNN_STATUS_SUCCESS; }

// The operands' unique ids in the graph and the variant pack, by role.
constexpr int64_t kUidX = 1, kUidW = 2, kUidY = 3;
// Declared alignment of every operand: nodes and weights are 256-byte aligned (the node arena,
// the caching allocator); 16 admits the vectorized kernels and is checked before each run.
constexpr int64_t kAlign = 16;

Desc Tensor(int64_t uid, cudnnDataType_t type, const std::array<int64_t, 4>& dims,
            const std::array<int64_t, 4>& strides) {
  Desc t(CUDNN_BACKEND_TENSOR_DESCRIPTOR);
  const bool ok = Set(t, CUDNN_ATTR_TENSOR_DATA_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &type) &&
                  Set(t, CUDNN_ATTR_TENSOR_DIMENSIONS, CUDNN_TYPE_INT64, 4, dims.data()) &&
                  Set(t, CUDNN_ATTR_TENSOR_STRIDES, CUDNN_TYPE_INT64, 4, strides.data()) &&
                  Set(t, CUDNN_ATTR_TENSOR_UNIQUE_ID, CUDNN_TYPE_INT64, 1, &uid) &&
                  Set(t, CUDNN_ATTR_TENSOR_BYTE_ALIGNMENT, CUDNN_TYPE_INT64, 1, &kAlign) && Final(t);
  return ok ? std::move(t) : Desc(CUDNN_BACKEND_TENSOR_DESCRIPTOR);  // unfinalized: refused below
}
// Strides of a packed 4-d tensor given in (n, c, h, w) order: NCHW, or NHWC in memory.
std::array<int64_t, 4> Packed(const std::array<int64_t, 4>& d, bool nhwc) {
  if (nhwc) return {d[1] * d[2] * d[3], 1, d[3] * d[1], d[1]};
  return {d[1] * d[2] * d[3], d[2] * d[3], d[3], 1};
}

// Which notes an engine carries, from its descriptor (false where cuDNN will not say).
template <typename Note>
bool Notes(const Desc& engine, cudnnBackendAttributeName_t name, cudnnBackendAttributeType_t type, int count,
           std::set<int>& out) {
  std::vector<Note> notes(size_t(count) + 1);
  int64_t got = 0;
  if (cudnnBackendGetAttribute(engine.d, name, type, int64_t(notes.size()), &got, notes.data()) !=
      CUDNN_STATUS_SUCCESS)
    return false;
  for (int64_t i = 0; i < std::min<int64_t>(got, int64_t(notes.size())); ++i) out.insert(int(notes[size_t(i)]));
  return true;
}

}  // namespace

// The descriptors a plan needs alive: the graph's (shared by the pass's plans) or one plan's.
struct EnginePlan::Parts {
  std::shared_ptr<Parts> graph;  // a plan's: the graph it was made from
  std::vector<Desc> descs;
  cudnnBackendDescriptor_t plan = nullptr;  // a plan's: its execution plan (in descs)
};

EnginePlan::EnginePlan(std::shared_ptr<Parts> parts, size_t workspace, int64_t engine, bool tensor_cores)
    : parts_(std::move(parts)), workspace_(workspace), engine_(engine), tensor_cores_(tensor_cores) {}
EnginePlan::~EnginePlan() = default;

EnginePack::~EnginePack() {
  if (desc_) cudnnBackendDestroyDescriptor(desc_);
}

void EnginePlan::Run(cudnnHandle_t h, const void* x, const void* w, const void* y, void* ws, EnginePack* keep) const {
  const void* now[4] = {x, w, y, ws};
  if (keep && keep->desc_ && std::equal(now, now + 4, keep->ptrs_)) {
    UMBRA_CUDNN_CHECK(cudnnBackendExecute(h, parts_->plan, keep->desc_));
    return;
  }
  for (const void* p : {x, w, y})
    UMBRA_CHECK(reinterpret_cast<uintptr_t>(p) % kAlign == 0, "cuDNN engine ", engine_, ": operand ", p,
                " is not ", kAlign, "-byte aligned, as its plan declares");
  UMBRA_CHECK(ws || !workspace_, "cuDNN engine ", engine_, ": no workspace for its ", workspace_, " bytes");
  const int64_t uids[3] = {kUidX, kUidW, kUidY};
  void* ptrs[3] = {const_cast<void*>(x), const_cast<void*>(w), const_cast<void*>(y)};
  Desc pack(CUDNN_BACKEND_VARIANT_PACK_DESCRIPTOR);
  UMBRA_CHECK(pack, "cuDNN would not make a variant pack for engine ", engine_);
  UMBRA_CUDNN_CHECK(cudnnBackendSetAttribute(pack.d, CUDNN_ATTR_VARIANT_PACK_UNIQUE_IDS, CUDNN_TYPE_INT64, 3, uids));
  UMBRA_CUDNN_CHECK(
      cudnnBackendSetAttribute(pack.d, CUDNN_ATTR_VARIANT_PACK_DATA_POINTERS, CUDNN_TYPE_VOID_PTR, 3, ptrs));
  UMBRA_CUDNN_CHECK(cudnnBackendSetAttribute(pack.d, CUDNN_ATTR_VARIANT_PACK_WORKSPACE, CUDNN_TYPE_VOID_PTR, 1, &ws));
  UMBRA_CUDNN_CHECK(cudnnBackendFinalize(pack.d));
  UMBRA_CUDNN_CHECK(cudnnBackendExecute(h, parts_->plan, pack.d));
  if (!keep) return;
  if (keep->desc_) cudnnBackendDestroyDescriptor(keep->desc_);
  keep->desc_ = std::exchange(pack.d, nullptr);
  std::copy(now, now + 4, keep->ptrs_);
}

std::vector<std::shared_ptr<const EnginePlan>> EnginePlans(cudnnHandle_t h, const EngineConv& ec, ConvPass pass,
                                                           float beta, const EngineFilter& filter) {
  const ConvGemmGeom& c = ec.g;
  std::vector<std::shared_ptr<const EnginePlan>> plans;
  const auto start = std::chrono::steady_clock::now();
  auto out_of_time = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() >= filter.max_seconds;
  };
  auto graph = std::make_shared<EnginePlan::Parts>();
  graph->descs.reserve(6);  // keep() hands out references into it
  auto keep = [&](Desc d) -> const Desc& { return graph->descs.emplace_back(std::move(d)); };
  const std::array<int64_t, 4> xd{c.n, c.c, c.h, c.w}, yd{c.n, c.oc, c.oh, c.ow},
      wd{c.oc, c.c / c.groups, c.kh, c.kw};
  // Groups are implied: the filter's channels are the input's over groups.
  const Desc& x = keep(Tensor(kUidX, ec.type, xd, Packed(xd, ec.nhwc)));
  const Desc& w = keep(Tensor(kUidW, ec.type, wd, Packed(wd, ec.nhwc)));
  const Desc& y = keep(Tensor(kUidY, ec.type, yd, Packed(yd, ec.nhwc)));
  const Desc& conv = keep(Desc(CUDNN_BACKEND_CONVOLUTION_DESCRIPTOR));
  const cudnnDataType_t compute = CUDNN_DATA_FLOAT;
  const cudnnConvolutionMode_t mode = CUDNN_CROSS_CORRELATION;  // every framework's "convolution"
  const int64_t dims = 2, dil[2] = {1, 1}, stride[2] = {c.sh, c.sw}, pad[2] = {c.ph, c.pw};
  if (!(Set(conv, CUDNN_ATTR_CONVOLUTION_COMP_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &compute) &&
        Set(conv, CUDNN_ATTR_CONVOLUTION_CONV_MODE, CUDNN_TYPE_CONVOLUTION_MODE, 1, &mode) &&
        Set(conv, CUDNN_ATTR_CONVOLUTION_SPATIAL_DIMS, CUDNN_TYPE_INT64, 1, &dims) &&
        Set(conv, CUDNN_ATTR_CONVOLUTION_DILATIONS, CUDNN_TYPE_INT64, 2, dil) &&
        Set(conv, CUDNN_ATTR_CONVOLUTION_FILTER_STRIDES, CUDNN_TYPE_INT64, 2, stride) &&
        Set(conv, CUDNN_ATTR_CONVOLUTION_PRE_PADDINGS, CUDNN_TYPE_INT64, 2, pad) &&
        Set(conv, CUDNN_ATTR_CONVOLUTION_POST_PADDINGS, CUDNN_TYPE_INT64, 2, pad) && Final(conv)))
    return plans;
  // The operation: its type and the attribute names of its operands, alpha and beta, by pass.
  struct OpNames {
    cudnnBackendDescriptorType_t type;
    cudnnBackendAttributeName_t x, w, y, conv, alpha, beta;
  };
  static constexpr OpNames kOps[3] = {
      {CUDNN_BACKEND_OPERATION_CONVOLUTION_FORWARD_DESCRIPTOR, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_X,
       CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_W, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_Y,
       CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_CONV_DESC, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_ALPHA,
       CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_BETA},
      {CUDNN_BACKEND_OPERATION_CONVOLUTION_BACKWARD_DATA_DESCRIPTOR, CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_DX,
       CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_W, CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_DY,
       CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_CONV_DESC, CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_ALPHA,
       CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_BETA},
      {CUDNN_BACKEND_OPERATION_CONVOLUTION_BACKWARD_FILTER_DESCRIPTOR, CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_X,
       CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_DW, CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_DY,
       CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_CONV_DESC, CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_ALPHA,
       CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_BETA},
  };
  const OpNames& on = kOps[int(pass)];
  const Desc& op = keep(Desc(on.type));
  const float alpha = 1;
  if (!(SetDesc(op, on.x, x) && SetDesc(op, on.w, w) && SetDesc(op, on.y, y) && SetDesc(op, on.conv, conv) &&
        Set(op, on.alpha, CUDNN_TYPE_FLOAT, 1, &alpha) && Set(op, on.beta, CUDNN_TYPE_FLOAT, 1, &beta) && Final(op)))
    return plans;
  const Desc& og = keep(Desc(CUDNN_BACKEND_OPERATIONGRAPH_DESCRIPTOR));
  if (!(Set(og, CUDNN_ATTR_OPERATIONGRAPH_OPS, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &op.d) &&
        Set(og, CUDNN_ATTR_OPERATIONGRAPH_HANDLE, CUDNN_TYPE_HANDLE, 1, &h) && Final(og)))
    return plans;

  std::set<std::string> seen;  // plans' JSON: the fallback list repeats some of mode A's
  for (const cudnnBackendHeurMode_t mode_h : {CUDNN_HEUR_MODE_A, CUDNN_HEUR_MODE_FALLBACK}) {
    Desc heur(CUDNN_BACKEND_ENGINEHEUR_DESCRIPTOR);
    int64_t count = 0;
    if (!(SetDesc(heur, CUDNN_ATTR_ENGINEHEUR_OPERATION_GRAPH, og) &&
          Set(heur, CUDNN_ATTR_ENGINEHEUR_MODE, CUDNN_TYPE_HEUR_MODE, 1, &mode_h) && Final(heur)) ||
        cudnnBackendGetAttribute(heur.d, CUDNN_ATTR_ENGINEHEUR_RESULTS, CUDNN_TYPE_BACKEND_DESCRIPTOR, 0, &count,
                                 nullptr) != CUDNN_STATUS_SUCCESS ||
        count <= 0)
      continue;
    // The results are written into descriptors the caller makes.
    std::vector<Desc> cfgs;
    std::vector<cudnnBackendDescriptor_t> raw;
    for (int64_t i = 0; i < count; ++i) {
      cfgs.emplace_back(CUDNN_BACKEND_ENGINECFG_DESCRIPTOR);
      if (!cfgs.back()) return plans;
      raw.push_back(cfgs.back().d);
    }
    int64_t got = 0;
    if (cudnnBackendGetAttribute(heur.d, CUDNN_ATTR_ENGINEHEUR_RESULTS, CUDNN_TYPE_BACKEND_DESCRIPTOR, count, &got,
                                 raw.data()) != CUDNN_STATUS_SUCCESS)
      continue;
    for (int64_t i = 0; i < std::min(got, count) && int(plans.size()) < filter.max_plans && !out_of_time(); ++i) {
      Desc& cfg = cfgs[size_t(i)];
      Desc engine(CUDNN_BACKEND_ENGINE_DESCRIPTOR);
      int64_t one = 0, index = -1;
      std::set<int> numerical, behavior;
      if (!engine ||
          cudnnBackendGetAttribute(cfg.d, CUDNN_ATTR_ENGINECFG_ENGINE, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &one,
                                   &engine.d) != CUDNN_STATUS_SUCCESS ||
          cudnnBackendGetAttribute(engine.d, CUDNN_ATTR_ENGINE_GLOBAL_INDEX, CUDNN_TYPE_INT64, 1, &one, &index) !=
              CUDNN_STATUS_SUCCESS ||
          !Notes<cudnnBackendNumericalNote_t>(engine, CUDNN_ATTR_ENGINE_NUMERICAL_NOTE, CUDNN_TYPE_NUMERICAL_NOTE,
                                              CUDNN_NUMERICAL_NOTE_TYPE_COUNT, numerical) ||
          !Notes<cudnnBackendBehaviorNote_t>(engine, CUDNN_ATTR_ENGINE_BEHAVIOR_NOTE, CUDNN_TYPE_BEHAVIOR_NOTE,
                                             CUDNN_BEHAVIOR_NOTE_TYPE_COUNT, behavior))
        continue;
      const bool tensor_cores = numerical.count(CUDNN_NUMERICAL_NOTE_TENSOR_CORE) != 0;
      // fp32 on tensor cores is TF32; bf16 operands are meant for them either way.
      if ((tensor_cores && !filter.tf32 && ec.type == CUDNN_DATA_FLOAT) ||
          numerical.count(CUDNN_NUMERICAL_NOTE_DOWN_CONVERT_INPUTS) ||
          numerical.count(CUDNN_NUMERICAL_NOTE_REDUCED_PRECISION_REDUCTION) ||
          behavior.count(CUDNN_BEHAVIOR_NOTE_RUNTIME_COMPILATION))
        continue;
      auto part = std::make_shared<EnginePlan::Parts>();
      part->graph = graph;
      Desc& plan = part->descs.emplace_back(CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR);
      int64_t ws = 0;
      if (!(Set(plan, CUDNN_ATTR_EXECUTION_PLAN_HANDLE, CUDNN_TYPE_HANDLE, 1, &h) &&
            SetDesc(plan, CUDNN_ATTR_EXECUTION_PLAN_ENGINE_CONFIG, cfg) && Final(plan)) ||
          cudnnBackendGetAttribute(plan.d, CUDNN_ATTR_EXECUTION_PLAN_WORKSPACE_SIZE, CUDNN_TYPE_INT64, 1, &one,
                                   &ws) != CUDNN_STATUS_SUCCESS ||
          ws < 0 || size_t(ws) > filter.max_workspace)
        continue;
      int64_t len = 0;
      std::string json;
      if (cudnnBackendGetAttribute(plan.d, CUDNN_ATTR_EXECUTION_PLAN_JSON_REPRESENTATION, CUDNN_TYPE_CHAR, 0, &len,
                                   nullptr) == CUDNN_STATUS_SUCCESS &&
          len > 0) {
        json.resize(size_t(len));
        if (cudnnBackendGetAttribute(plan.d, CUDNN_ATTR_EXECUTION_PLAN_JSON_REPRESENTATION, CUDNN_TYPE_CHAR, len,
                                     &len, json.data()) != CUDNN_STATUS_SUCCESS)
          json.clear();
      }
      if (!json.empty() && !seen.insert(json).second) continue;
      part->plan = plan.d;
      part->descs.push_back(std::move(cfg));  // the plan refers to its configuration
      plans.push_back(std::make_shared<EnginePlan>(std::move(part), size_t(ws), index, tensor_cores));
    }
  }
  return plans;
}

}  // namespace umbra::nn

#endif
