// Net's messages (net.h declares them, with their contracts): the hint for a name that is no
// node, the error for node storage that cannot be had, and the layer declared after the loss.
// Apart from net.h so that the class reads as what the net does. Included by net.h only.
#pragma once

namespace umbra::nn {

template <typename xpu, typename DType>
std::string Net<xpu, DType>::OutputPastTheLoss(const NetSpec& spec) const {
  const auto last = std::ranges::find_if(layers_.rbegin(), layers_.rend(), [](const Entry& e) { return e.spec >= 0; });
  const auto loss = std::ranges::find_if(layers_.rbegin(), layers_.rend(), [](const Entry& e) { return e.layer->IsLoss(); });
  if (last == layers_.rend() || loss == layers_.rend() || last->layer->IsLoss()) return {};
  const std::string& at = spec.layers[size_t(last->spec)].where;
  const std::string& loss_at = spec.layers[size_t(loss->spec)].where;
  return (at.empty() ? "" : at + ": ") + last->layer->Describe() + " comes after the loss " +
         loss->layer->Describe() + (loss_at.empty() ? "" : " (" + loss_at + ")");
}

template <typename xpu, typename DType>
std::string Net<xpu, DType>::NodeHint(const NetSpec& spec, const std::string& k) const {
  const auto unprimed = [](std::string n) { return n.substr(0, n.find('\'')); };
  for (size_t i = 0; i < spec.layers.size(); ++i) {
    const LayerSpec& l = spec.layers[i];
    if (l.name != k || l.out.empty()) continue;
    const std::string node = unprimed(l.out[0]);
    std::string later;
    for (size_t j = i + 1; j < spec.layers.size(); ++j)
      if (std::ranges::any_of(spec.layers[j].out, [&](const std::string& o) { return unprimed(o) == node; }))
        later += (later.empty() ? "" : ", ") + ("'" + spec.layers[j].name + "' (" + spec.layers[j].type + ")");
    if (later.empty()) return "; '" + k + "' is a layer, whose output is node '" + node + "'";
    return "; '" + k + "' is a layer, whose output is node '" + node + "', but " + later +
           " then rewrite" + (later.find(',') == std::string::npos ? "s" : "") + " that node in place, and it " +
           "holds what the last leaves; to read '" + k + "''s own output, give the first of them an output node of "
           "its own";
  }
  std::vector<std::string> names;
  for (const auto& [n, i] : node_index_)
    if (n.find('\'') == std::string::npos) names.push_back(n);
  std::string list;
  for (size_t i = 0; i < names.size() && i < 24; ++i) list += (i ? ", " : "") + names[i];
  return DidYouMean(k, names) + "; the nodes: " + list + (names.size() > 24 ? ", ..." : "");
}

template <typename xpu, typename DType>
[[noreturn]] void Net<xpu, DType>::ThrowForNodes(const NetSpec& spec, const Error& err, int at) const {
  size_t largest = at < 0 ? 0 : size_t(at);
  for (size_t i = 1; at < 0 && i < nodes_.size(); ++i)
    if (nodes_[i]->shape.Size() > nodes_[largest]->shape.Size()) largest = i;
  const auto writer = std::ranges::find_if(layers_, [&](const Entry& e) {
    return e.spec >= 0 && std::ranges::count(e.out, int(largest)) > 0;
  });
  const Error error("the net's node values and gradients (the largest: node '" + NameOf(int(largest)) +
                    "' of shape " + nodes_[largest]->shape.ToString() +
                    (writer == layers_.end() ? "" : ", the output of " + writer->layer->Describe()) +
                    "): " + err.message());
  if (writer == layers_.end()) throw error;
  throw AtDeclaration(spec.layers[size_t(writer->spec)], error);
}

}  // namespace umbra::nn
