// netconfig section -> NetSpec (netconfig.h).
#include "umbra/config/netconfig.h"

#include <cstdlib>
#include <map>

#include "umbra/nn/registry.h"
#include "umbra/nn/updater.h"

namespace umbra::config {
namespace {

std::vector<std::string> Split(const std::string& s, char sep) {
  std::vector<std::string> out;
  size_t b = 0;
  for (size_t e; (e = s.find(sep, b)) != std::string::npos; b = e + 1) out.push_back(s.substr(b, e - b));
  out.push_back(s.substr(b));
  return out;
}
bool IsNumber(const std::string& s) {
  return !s.empty() && s.find_first_not_of("0123456789") == std::string::npos;
}
// cxxnet's learning-rate key.
std::string UpdaterKey(const std::string& k) { return k == "eta" ? "lr" : k; }

}  // namespace

NetConfig NetFromConfig(const std::vector<Entry>& entries, index_t batch) {
  NetConfig nc;
  index_t c = 0, h = 0, w = 0;
  bool in_net = false, saw_net = false;
  std::map<std::string, std::string> rename;  // node renamed by a non-in-place rewrite
  std::string top = "0";
  int next_id = 1;
  auto node = [&](std::string n) {
    if (n == "0") return std::string("in");
    auto it = rename.find(n);
    return it == rename.end() ? n : it->second;
  };
  const Entry* open = nullptr;
  for (const Entry& e : entries) {
    if (e.key == "netconfig") {
      UMBRA_CHECK(e.value == "start" || e.value == "end", e.Where(), ": netconfig must be start or end, got '", e.value, "'");
      UMBRA_CHECK((e.value == "start") != in_net, e.Where(), ": netconfig = ", e.value, " without a matching ",
                  e.value == "start" ? "end" : "start");
      in_net = e.value == "start";
      saw_net = true;
      open = in_net ? &e : nullptr;
      continue;
    }
    if (!in_net) {
      if (e.key == "input_shape") {
        const auto v = Split(e.value, ',');
        UMBRA_CHECK(v.size() == 3, e.Where(), ": input_shape must be c,h,w, got '", e.value, "'");
        c = std::atol(v[0].c_str()), h = std::atol(v[1].c_str()), w = std::atol(v[2].c_str());
        UMBRA_CHECK(c > 0 && h > 0 && w > 0, e.Where(), ": input_shape must be positive, got '", e.value, "'");
      } else if (e.key == "batch_size") {
        batch = std::atol(e.value.c_str());
        UMBRA_CHECK(batch > 0, e.Where(), ": batch_size must be positive, got '", e.value, "'");
      } else {
        nn::UpdaterSettings probe;
        if (probe.Set(UpdaterKey(e.key), e.value)) nc.updater.push_back({UpdaterKey(e.key), e.value});
      }
      continue;
    }
    if (e.key.rfind("layer[", 0) == 0) {
      UMBRA_CHECK(e.key.back() == ']', e.Where(), ": malformed layer declaration '", e.key, "'");
      const std::string spec = e.key.substr(6, e.key.size() - 7);
      nn::LayerSpec ls;
      const auto colon = e.value.find(':');
      ls.type = e.value.substr(0, colon);
      ls.name = colon == std::string::npos ? "" : e.value.substr(colon + 1);
      auto probe = nn::LayerRegistry<cpu, float>::Get().Create(ls.type);  // unknown: lists the known
      if (spec[0] == '+') {
        const auto parts = Split(spec.substr(1), ':');
        UMBRA_CHECK(IsNumber(parts[0]), e.Where(), ": malformed layer[", spec, "]");
        ls.in = {node(top)};
        if (std::atoi(parts[0].c_str()) == 0) {
          ls.out = {node(top)};
        } else {
          const std::string n = parts.size() > 1 ? parts[1] : std::to_string(next_id);
          ls.out = {n};
          top = n;
        }
      } else {
        const auto arrow = spec.find("->");
        UMBRA_CHECK(arrow != std::string::npos, e.Where(), ": layer[", spec, "] needs 'in->out' or '+k'");
        for (auto& n : Split(spec.substr(0, arrow), ',')) ls.in.push_back(node(n));
        for (auto& n : Split(spec.substr(arrow + 2), ',')) ls.out.push_back(n), top = n;
      }
      for (auto& n : ls.out)
        if (IsNumber(n)) next_id = std::max(next_id, std::atoi(n.c_str()) + 1);
      // In place where the layer cannot run in place: a fresh node that later layers see instead.
      if (ls.in.size() == 1 && ls.out.size() == 1 && ls.in[0] == node(ls.out[0]) && !probe->AllowInplace()) {
        const std::string fresh = ls.out[0] + "'";
        rename[ls.out[0]] = fresh;
        ls.out[0] = fresh;
      } else {
        for (auto& n : ls.out) n = node(n);
      }
      if (ls.name.empty()) ls.name = ls.type + "_" + std::to_string(nc.spec.layers.size());
      nc.spec.layers.push_back(ls);
      continue;
    }
    UMBRA_CHECK(!nc.spec.layers.empty(), e.Where(), ": key '", e.key, "' before the first layer of netconfig");
    nn::LayerSpec& ls = nc.spec.layers.back();
    auto probe = nn::LayerRegistry<cpu, float>::Get().Create(ls.type);
    if (probe->SetParam(e.key, e.value)) {
      ls.params.push_back({e.key, e.value});
      continue;
    }
    nn::UpdaterSettings up;
    UMBRA_CHECK(up.Set(UpdaterKey(e.key), e.value), e.Where(), ": unknown key '", e.key, "' for layer '",
                ls.name, "' (", ls.type, ")");
    nc.updater.push_back({ls.name + ":" + UpdaterKey(e.key), e.value});
  }
  UMBRA_CHECK(saw_net, "the config has no netconfig = start ... netconfig = end section");
  UMBRA_CHECK(!in_net, open->Where(), ": netconfig = start is never closed");
  UMBRA_CHECK(c > 0, "the config sets no input_shape (c,h,w)");
  nc.spec.input_shape = Shape4(batch, c, h, w);
  return nc;
}

}  // namespace umbra::config
