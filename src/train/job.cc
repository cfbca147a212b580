// Config file + command line -> Job (job.h).
#include "src/train/job.h"

#include <cstdio>
#include <set>

#include "umbra/nn/updater.h"

namespace umbra::train {
namespace {

// Keys the trainer itself reads (the tasks document them in --help).
const std::set<std::string> kTrainerKeys = {
    "task", "dev", "batch_size", "num_round", "max_round", "eval_train", "metric", "seed", "input_shape",
    "random_type", "update_period", "save_model", "model_dir", "model_in", "continue", "print_step",
    "silent", "test_io", "log", "extract_node_name", "output_format", "weight_filename", "weight_layer",
    "weight_tag", "extract_layer_name", "start_counter", "extra_data_num"};
bool IsBlockRole(const std::string& k) { return k == "data" || k == "eval" || k == "pred"; }

// metric[field,node] = name
MetricSpec ParseMetric(const config::Entry& e) {
  MetricSpec m{e.value, "", "label"};
  if (e.key != "metric") {
    UMBRA_CHECK(e.key.back() == ']', e.Where(), ": malformed '", e.key, "' (metric[field,node])");
    // metric[field] (the net's output) or metric[field,node]
    const std::string in = e.key.substr(7, e.key.size() - 8);
    const auto comma = in.find(',');
    m.label_field = in.substr(0, comma);
    if (comma != std::string::npos) m.node = in.substr(comma + 1);
    UMBRA_CHECK(m.label_field == "label", e.Where(), ": label field '", m.label_field,
                "' is unknown; umbra's iterators give one field, 'label'");
  }
  return m;
}

}  // namespace

std::string Job::Get(const std::string& key, const std::string& dflt) const {
  auto it = global.find(key);
  return it == global.end() ? dflt : it->second.value;
}
long Job::GetInt(const std::string& key, long dflt) const {
  auto it = global.find(key);
  if (it == global.end()) return dflt;
  char* end = nullptr;
  const long v = std::strtol(it->second.value.c_str(), &end, 10);
  UMBRA_CHECK(!it->second.value.empty() && *end == '\0', it->second.Where(), ": ", key,
              " must be an integer, got '", it->second.value, "'");
  return v;
}
std::string Job::Where(const std::string& key) const {
  auto it = global.find(key);
  return it == global.end() ? std::string("<default>") : it->second.Where();
}
IterBlock* Job::Find(const std::string& role) {
  for (auto& b : iters)
    if (b.role == role) return &b;
  return nullptr;
}

Job LoadJob(const std::string& path, const std::vector<std::string>& overrides) {
  Job job;
  job.entries = config::ParseConfigFile(path);
  for (size_t i = 0; i < overrides.size(); ++i) {
    const std::string& a = overrides[i];
    const auto eq = a.find('=');
    UMBRA_CHECK(eq != std::string::npos && eq > 0, "command line argument ", i + 2, " '", a, "' is not key=value");
    job.entries.push_back(config::Entry{a.substr(0, eq), a.substr(eq + 1), "<command line>", int(i) + 2});
  }
  // Pass 1: blocks, globals, metrics, the net text; block keys are kept for pass 2.
  struct BlockKeys {
    std::vector<const config::Entry*> keys;
  };
  std::vector<BlockKeys> block_keys;
  std::vector<const config::Entry*> scoped;  // block:key from anywhere outside blocks
  bool in_iter = false, in_net = false;
  const config::Entry* pending = nullptr;
  for (const auto& e : job.entries) {
    if (e.key == "netconfig") {
      in_net = e.value == "start";
      job.net_text += e.key + " = " + e.value + "\n";
      continue;
    }
    if (in_net || e.key.rfind("layer[", 0) == 0) {
      job.net_text += (e.key.rfind("layer[", 0) == 0 ? "" : "  ") + e.key + " = " + e.value + "\n";
      continue;
    }
    if (IsBlockRole(e.key) && !in_iter) {
      pending = &e;
      continue;
    }
    if (e.key == "iter") {
      if (e.value == "end") {
        UMBRA_CHECK(in_iter, e.Where(), ": iter = end without an open iterator");
        in_iter = false;
      } else if (!in_iter) {
        UMBRA_CHECK(pending, e.Where(), ": iter = ", e.value, " without a data/eval/pred line before it");
        try {
          job.iters.push_back({pending->key, pending->value, e.Where(), io::CreateIterator(e.value)});
        } catch (const Error& err) {
          UMBRA_THROW(e.Where(), ": ", err.what());
        }
        block_keys.emplace_back();
        in_iter = true;
        pending = nullptr;
      } else {
        try {
          job.iters.back().it = io::ChainIterator(e.value, std::move(job.iters.back().it));
        } catch (const Error& err) {
          UMBRA_THROW(e.Where(), ": ", err.what());
        }
      }
      continue;
    }
    if (in_iter) {
      block_keys.back().keys.push_back(&e);
      continue;
    }
    if (e.key == "metric" || e.key.rfind("metric[", 0) == 0) {
      job.metrics.push_back(ParseMetric(e));
      continue;
    }
    const auto colon = e.key.find(':');
    if (colon != std::string::npos && !nn::UpdaterSettings().Set(e.key == "eta" ? "lr" : e.key, e.value)) {
      scoped.push_back(&e);
      continue;
    }
    if (e.key == "input_shape") job.net_text += "input_shape = " + e.value + "\n";
    job.global[e.key] = e;
  }
  UMBRA_CHECK(!in_iter, job.iters.empty() ? std::string("config") : job.iters.back().where,
              ": an iterator block is not closed with iter = end");
  if (job.metrics.empty()) job.metrics.push_back({"error", "", "label"});

  // Pass 2: keys into iterators. Globals first (in file order, as cxxnet did), the block's own
  // keys next, command-line block:key last. A global is known if the trainer, an updater or an
  // iterator uses it.
  std::set<std::string> used_by_iter;
  const std::string batch = std::to_string(job.GetInt("batch_size", 100));
  for (size_t b = 0; b < job.iters.size(); ++b) {
    auto& it = *job.iters[b].it;
    it.SetParam("batch_size", batch);
    for (auto& [k, e] : job.global)
      if (k != "batch_size" && it.SetParam(k, e.value)) used_by_iter.insert(k);
    for (const auto* e : block_keys[b].keys)
      if (!it.SetParam(e->key, e->value))
        std::fprintf(stderr, "warning: %s: key '%s' is not used by this iterator\n", e->Where().c_str(),
                     e->key.c_str());
  }
  for (const auto* e : scoped) {
    const std::string scope = e->key.substr(0, e->key.find(':')), key = e->key.substr(e->key.find(':') + 1);
    bool named = false, used = false;
    for (auto& b : job.iters)
      if (b.name == scope) named = true, used = b.it->SetParam(key, e->value) || used;
    UMBRA_CHECK(named, e->Where(), ": '", e->key, "': no iterator block is named '", scope, "'");
    UMBRA_CHECK(used, e->Where(), ": '", e->key, "': the '", scope, "' iterator has no key '", key, "'");
  }
  job.net = config::NetFromConfig(job.entries, job.GetInt("batch_size", 100));
  job.net.spec.seed = uint64_t(job.GetInt("seed", 0));
  // Globals some layer declares (random_type, init_sigma) are the net's defaults, not unknown.
  std::set<std::string> layer_defaults;
  for (auto& [k, v] : job.net.spec.defaults) layer_defaults.insert(k);
  for (auto& [k, e] : job.global)
    if (!kTrainerKeys.count(k) && !used_by_iter.count(k) && !layer_defaults.count(k) &&
        !nn::UpdaterSettings().Set(k == "eta" ? "lr" : k, e.value))
      std::fprintf(stderr, "warning: %s: unknown key '%s' is ignored\n", e.Where().c_str(), k.c_str());
  return job;
}

}  // namespace umbra::train
