// The layer contract. A layer maps input nodes to output nodes (each a 4-D tensor (N, C, H, W);
// a vector is (N, 1, 1, len)), declares its parameters once (param.h), infers output shapes,
// runs forward (train or test) and backward, and shows every weight by name to a visitor
// (updaters, parameter sharing and model files all use it). One template per layer serves cpu and
// gpu. Registration by name: registry.h. Connections and memory: net.h.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "umbra/tensor.h"

namespace umbra::nn {

/// More elements than any node can hold on any machine (4 TiB of floats): a size gone wrong.
/// Net checks every layer's output against it; a layer that hands its shapes to a library
/// before that (conv's backends) checks them itself.
inline constexpr double kMaxNodeElements = double(int64_t(1) << 40);

/// A node of the graph: forward values and the gradient of the loss with respect to them.
/// Both are views: of the node's own storage after Allocate(), or of buffers the Net shares
/// between nodes whose values are never live at the same time (net.h).
template <typename xpu, typename DType = float>
struct Node {
  Tensor<xpu, 4, DType> data;
  Tensor<xpu, 4, DType> grad;
  /// Shape of this node (N, C, H, W); set by the net's shape inference.
  Shape<4> shape;
  /// Own storage for data and gradient; gradients start at zero, so a node nobody consumes
  /// contributes nothing in Backward.
  void Allocate() {
    AllocateData();
    grad_store_.Resize(shape, DType(0));
    grad = grad_store_.view();
  }
  void AllocateData() {
    data_store_.Resize(shape);
    data = data_store_.view();
  }
  void AllocateGrad() {
    grad_store_.Resize(shape, DType(0));
    grad = grad_store_.view();
  }
  /// The data or gradient as a view into a shared buffer of at least shape.Size() elements.
  void ShareData(const Tensor<xpu, 1, DType>& buffer) {
    data = Tensor<xpu, 4, DType>(buffer.dptr_, shape, buffer.stream_);
  }
  void ShareGrad(const Tensor<xpu, 1, DType>& buffer) {
    grad = Tensor<xpu, 4, DType>(buffer.dptr_, shape, buffer.stream_);
  }
  /// The node as a matrix (N, C*H*W), the view fully-connected layers use.
  Tensor<xpu, 2, DType> Mat(bool of_grad = false) const {
    const Tensor<xpu, 4, DType>& t = of_grad ? grad : data;
    return t.View(Shape2(shape[0], shape.ProdShape(1, 4)));
  }

 private:
  TensorContainer<xpu, 4, DType> data_store_, grad_store_;
};

/// What a forward pass may need besides its nodes.
template <typename xpu, typename DType = float>
struct ForwardContext {
  bool is_train = false;
  /// Labels (N, label_width) for loss layers; nullptr when absent (prediction).
  const Tensor<xpu, 2, DType>* label = nullptr;
  Random<xpu, DType>* rnd = nullptr;
};

/// Called once per weight: layer-local tag ("wmat", "bias", "gamma", ...), the weight and its
/// gradient (same shape, flattened to 2-D). Tags starting with "moving_" (batch_norm's moving
/// statistics) are state, not trainable: model files save them, their gradient stays 0, and
/// updaters must skip them.
template <typename xpu, typename DType = float>
using WeightVisitor =
    std::function<void(const std::string& tag, Tensor<xpu, 2, DType> weight, Tensor<xpu, 2, DType> grad)>;

/// How a layer takes 4-D nodes when the net runs channels-last (NetSpec::channels_last).
enum class Layout {
  kNchw,   // (N, C, H, W) only: the net converts channels-last inputs back for it
  kNhwc,   // (N, H, W, C) preferred (cuDNN's tensor-core convolutions): the net converts to it
  kEither  // per element or per channel, either layout at the same cost: it keeps what it gets
};

/// The (N, C, H, W) shape of a node held channels-last as (N, H, W, C).
inline Shape<4> NchwOf(const Shape<4>& nhwc) { return Shape4(nhwc[0], nhwc[3], nhwc[1], nhwc[2]); }
/// The (N, H, W, C) shape in which an (N, C, H, W) node is held channels-last.
inline Shape<4> NhwcOf(const Shape<4>& nchw) { return Shape4(nchw[0], nchw[2], nchw[3], nchw[1]); }

/// How a layer takes nodes when the net keeps activations in bfloat16 (NetSpec::bf16_nodes).
enum class BF16Nodes {
  kNo,      // float nodes only: the net converts bf16 inputs back for it
  kPrefer,  // bf16 (a dtype=bf16 cuDNN convolution, which casts otherwise): also from the net's
            // inputs (converted once)
  kEither   // either at the same cost (pooling, batch norm, lrn, activations, sums, split, concat):
            // bf16 where its inputs are, or are the float outputs of a layer amid bf16 ones
};

template <typename xpu, typename DType = float>
class Layer {
 public:
  using NodeList = std::vector<Node<xpu, DType>*>;
  virtual ~Layer() = default;

  /// The registered type name (e.g. "fullc").
  virtual const char* Type() const = 0;
  /// Sets a parameter; returns false when the key is not a parameter of this layer.
  virtual bool SetParam(const std::string& key, const std::string& value) = 0;
  /// The keys SetParam takes (an unknown key's error suggests the closest).
  virtual std::vector<std::string> KeyNames() const = 0;
  /// Why `key`, taken by SetParam, changes nothing with the layer's settings as they are
  /// (init_sigma under init = xavier, init_bias with no_bias = 1), or "". Asked by the net of
  /// the keys a layer's own block gives, after all of them are set (Net::notes()).
  virtual std::string KeyWithoutEffect(const std::string& key) const {
    (void)key;
    return {};
  }
  /// A word about the layer as its keys left it, or "" (dropout without a threshold drops
  /// nothing, as cxxnet's): a note of the net (Net::notes()), after its keys are set.
  virtual std::string Note() const { return {}; }
  /// Number of inputs and outputs this layer takes (-1: any number >= 1). With NumOut() == -1,
  /// InferShape may return one shape, which the net gives to every connected output (split).
  virtual int NumIn() const { return 1; }
  virtual int NumOut() const { return 1; }
  /// True when the layer may run with its output node equal to its input node.
  virtual bool AllowInplace() const { return false; }
  /// Whether Backward reads the value (data, not gradient) of input i / output j. The net gives
  /// a value's buffer to other nodes once no later forward and no backward reads it (net.h), so
  /// a Backward reading a value it does not declare would see other numbers: the default is
  /// yes; a layer says no only where its Backward provably does not read that value.
  virtual bool BackwardReadsInput(int /*i*/) const { return true; }
  virtual bool BackwardReadsOutput(int /*j*/) const { return true; }
  /// True when every output holds input 0's values element for element (split's copies,
  /// flatten's reshape): the net may then give the outputs input 0's buffer, and Forward must
  /// skip the copy when the pointers are equal.
  virtual bool OutputsViewInput() const { return false; }
  /// True when input i's gradient may be output 0's gradient buffer: it is the output's
  /// (after Backward's own in-place changes to it, such as a fused relu's mask), element for
  /// element (eltwise_sum: a sum passes its gradient on to every input; a batch norm with a sum
  /// fused in, to the sum's other input). The net may then give such inputs the output's
  /// buffer (net.h, GradAliases), and Backward must skip a copy where the pointers are equal.
  virtual bool InputGradIsOutputGrad(int /*i*/) const { return false; }
  /// Whether Backward writes into an output's gradient (a fused relu's mask, applied in place):
  /// the net then never lets that gradient share a buffer that another layer reads later. Yes
  /// unless a layer says otherwise.
  virtual bool RewritesOutputGrad() const { return true; }
  /// Channels-last nets only (NetSpec::channels_last): the layout this layer takes for inputs
  /// `in`, given as (N, C, H, W) whatever they are held in. Asked before InferShape.
  virtual Layout ChannelsLast(const std::vector<Shape<4>>& /*in*/) const { return Layout::kNchw; }
  /// Called before InferShape when the net gives this layer channels-last nodes (after
  /// ChannelsLast said kNhwc, or kEither with channels-last inputs): InferShape then receives
  /// (N, H, W, C) shapes and returns its outputs so.
  virtual void SetChannelsLast() { UMBRA_THROW(Describe(), " cannot take channels-last (N, H, W, C) nodes"); }
  /// True for the conversions to_nhwc / to_nchw: their outputs hold the other layout.
  virtual bool FlipsLayout() const { return false; }
  /// Nets with bf16_nodes only: whether this layer, as its keys set it, reads and writes its
  /// nodes' values and gradients as bfloat16 (the node's Tensor then points at shape.Size()
  /// bf16 values, half the bytes: only such a layer may touch it), given its inputs `in` as
  /// (N, C, H, W) whatever layout holds them. Asked after ChannelsLast, before InferShape.
  virtual BF16Nodes TakesBF16(const std::vector<Shape<4>>& /*in*/) const { return BF16Nodes::kNo; }
  /// Called before InferShape when the net gives this layer bf16 nodes, inputs and outputs.
  virtual void SetBF16() { UMBRA_THROW(Describe(), " cannot take bfloat16 nodes"); }
  /// Asked by the net (NetSpec::fuse_relu, after InferShape) when this layer's one output is read
  /// by nothing but a relu that follows it: true when the layer will apply max(0, .) to its
  /// output in its own pass, and mask the gradient it receives in Backward (in place: nothing
  /// reads an output's gradient after its producer's Backward). The relu is then left
  /// out and its output node is this layer's. Layers that fuse: batch_norm (expression path),
  /// eltwise_sum, fullc, conv (not on oneDNN).
  virtual bool FuseRelu() { return false; }
  /// Asked by the net (NetSpec::fuse_add, after InferShape) when this layer's one output is
  /// read by nothing but a two-input eltwise_sum right after it: true when the layer will take
  /// the sum's other input as its input 1 (of its output's shape and storage), add it to its
  /// output in its own pass, and give it the output's gradient in Backward (after a fused
  /// relu's mask, which then applies to the sum, as the relu followed it). The sum is then left
  /// out and its output node is this layer's. Layers that fuse: batch_norm (expression path):
  /// a ResNet block's last batch norm, its shortcut added in the normalising pass.
  virtual bool FuseAdd() { return false; }
  /// Told by the net before it plans memory, for a layer of two or more inputs: whether input
  /// 1's value outlives this layer's backward anyway (kept after the pass, or read by a later
  /// backward). A batch norm with a sum and a relu fused in then decides the relu's mask from
  /// it (a ResNet block's identity shortcut: the block's input, which its first convolution's
  /// backward reads later), else from its output (a projection shortcut's other branch would
  /// be held through the whole step for it); BackwardReadsInput/Output say which.
  virtual void AddendOutlivesBackward(bool /*live*/) {}
  /// Checks parameters against the input shapes and returns the output shapes. Errors name the
  /// layer (name_) and the shapes.
  virtual std::vector<Shape<4>> InferShape(const std::vector<Shape<4>>& in) = 0;
  /// Allocates and initialises weights (after InferShape).
  virtual void InitWeights(Random<xpu, DType>& /*rnd*/) {}
  virtual void Forward(const ForwardContext<xpu, DType>& ctx, const NodeList& in,
                       const NodeList& out) = 0;
  /// From out[j]->grad: adds weight gradients (+=, so that update_period can accumulate) and, when
  /// prop_grad, writes in[i]->grad (=).
  virtual void Backward(bool prop_grad, const NodeList& in, const NodeList& out) = 0;
  virtual void VisitWeights(const WeightVisitor<xpu, DType>& /*v*/) {}
  /// How the layer runs as built, for profiles (bench/profile_report.h): the library or kernels
  /// it calls and what it fused, e.g. the cuDNN algorithms a convolution's last step ran; empty
  /// where there is nothing to choose.
  virtual std::string Implementation() const { return {}; }
  /// A loss layer reads ForwardContext::label in Forward; its Backward ignores out[0]->grad and
  /// writes the gradient of the mean loss over the batch. Loss() is that mean, from the last
  /// Forward (it may synchronise with the device).
  virtual bool IsLoss() const { return false; }
  virtual double Loss() const { return 0; }
  /// A loss layer's judgement of one sample's labels (`width` values, as the data gives them on
  /// the host): empty where it takes them, else what is wrong ("label 12 is outside [0, 3)").
  /// Net::CheckLabels asks before a training step: on the GPU a bad label could only be
  /// dropped without a word (checking there would need a copy back). After InferShape.
  virtual std::string LabelProblem(const float* /*row*/, index_t /*width*/) const { return {}; }
  /// A loss layer's per-sample losses (N) from the last Forward, where they stay on the device:
  /// Net::LossTo reduces them there, so a training loop reads losses without waiting each step.
  virtual Tensor<xpu, 1, DType> PerSampleLoss() const { return Tensor<xpu, 1, DType>(); }

  void set_name(const std::string& n) { name_ = n; }
  const std::string& name() const { return name_; }
  /// Called by the net before InferShape (batch norm asks) and InitWeights: false when it will never run Backward
  /// (NetSpec::inference_only). Weight layers then leave their gradients empty (a visitor sees
  /// 0-size gradient tensors): AlexNet's were 233 MiB of zeros in every prediction run and in the
  /// host net a GPU net draws its initial weights from.
  void set_weight_grads(bool on) { weight_grads_ = on; }
  /// For error messages: "layer 'fc1' (fullc)"; "a fullc layer" before the layer has a name (a global default tried).
  std::string Describe() const {
    return name_.empty() ? std::string("a ") + Type() + " layer" : "layer '" + name_ + "' (" + Type() + ")";
  }

 protected:
  /// Sizes a weight's gradient `g` as zeros of `shape`, or leaves it empty (set_weight_grads).
  template <typename Container, typename S>
  void ResizeGrad(Container& g, const S& shape) const {
    if (weight_grads_) g.Resize(shape, DType(0));
  }
  std::string name_;
  bool weight_grads_ = true;
};

/// Weight initialisation shared by layers: gaussian(sigma), uniform(±scale), xavier and kaiming,
/// by the usual formulas where the rule is given as init, by cxxnet's where it is given as
/// cxxnet's key random_type (its configs were tuned to them; the two differ by up to a factor
/// of the kernel's fan, see InitWeight).
struct InitParam {
  std::string init = "gaussian";
  float init_sigma = 0.01f;
  float init_uniform = -1.f;  // cxxnet's key: > 0 means uniform in [-init_uniform, init_uniform]
  float init_bias = 0.f;
  bool cxxnet_rule = false;  // init came as random_type (the last of init and random_type wins)
};

/// Fills `w` by the rule in p, given its fan_in and fan_out (the rows and columns of the weight
/// matrix) and `outputs`, the outputs one input position feeds (fullc: nhidden; conv: nchannel
/// x kernel area).
///   init:        uniform U(±init_uniform, or ±init_sigma); xavier U(±sqrt(6 / (fan_in + fan_out)))
///                (Glorot); kaiming N(0, sqrt(2 / fan_in)) (He, PyTorch's kaiming_normal_).
///   random_type: uniform and xavier U(±init_uniform, or ±sqrt(3 / (fan_in + fan_out)));
///                kaiming N(0, sqrt(2 / outputs)) (cxxnet's layer/param.h).
template <typename xpu, int N, typename DType>
inline void InitWeight(const InitParam& p, Tensor<xpu, N, DType> w, index_t fan_in, index_t fan_out,
                       index_t outputs, Random<xpu, DType>& rnd) {
  const bool cx = p.cxxnet_rule;
  if (p.init == "gaussian") {
    rnd.SampleGaussian(&w, DType(0), DType(p.init_sigma));
  } else if (p.init == "uniform" || (cx && p.init == "xavier")) {
    const double otherwise = cx ? std::sqrt(3.0 / double(fan_in + fan_out)) : double(p.init_sigma);
    const DType s = DType(p.init_uniform > 0 ? double(p.init_uniform) : otherwise);
    rnd.SampleUniform(&w, -s, s);
  } else if (p.init == "xavier") {
    const DType s = DType(std::sqrt(6.0 / double(fan_in + fan_out)));
    rnd.SampleUniform(&w, -s, s);
  } else if (p.init == "kaiming") {
    rnd.SampleGaussian(&w, DType(0), DType(std::sqrt(2.0 / double(cx ? outputs : fan_in))));
  } else {
    UMBRA_THROW("unknown init '", p.init, "': expected gaussian, uniform, xavier or kaiming");
  }
}

}  // namespace umbra::nn
