// The umbra command line, cxxnet style: `umbra CONFIG [key=value ...]` trains the network a
// cxxnet config file describes; later settings win, command-line pairs last. Iterator keys are
// set per block with the block's name as a prefix (`train:path_img=...`). `umbra --help` lists
// the layers and their parameters from their declarations.
// Supported so far: task=train on the CPU with mnist iterators, metrics, per-round lines in
// cxxnet's format. Model files, the other tasks and iterators, and dev=gpu come next (issue 4/5).
#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <set>

#include "umbra/config/netconfig.h"
#include "umbra/io/iterator.h"
#include "umbra/nn/metric.h"
#include "umbra/nn/trainer.h"

using namespace umbra;

namespace {

void Help() {
  std::printf("usage: umbra CONFIG [key=value ...]\n\ntasks: train\n\nlayers and their keys:\n");
  for (const auto& n : nn::LayerRegistry<cpu>::Get().Names())
    std::printf("%s\n%s", n.c_str(), nn::LayerRegistry<cpu>::Get().Help(n).c_str());
  std::printf("\nupdater keys (global, tag:key or layer:key):\n%s", nn::UpdaterParam::Decl().Help().c_str());
}

struct IterBlock {
  std::string role, name;  // role: data or eval; name: e.g. train, test
  std::unique_ptr<io::DataIterator> it;
};

int Run(int argc, char** argv) {
  auto entries = config::ParseConfigFile(argv[1]);
  for (int i = 2; i < argc; ++i) {
    const std::string a = argv[i];
    const auto eq = a.find('=');
    UMBRA_CHECK(eq != std::string::npos && eq > 0, "command line argument ", i, " '", a, "' is not key=value");
    entries.push_back(config::Entry{a.substr(0, eq), a.substr(eq + 1), "<command line>", i});
  }
  // Globals: the last value of each key outside iterator blocks and netconfig.
  std::map<std::string, config::Entry> global;
  std::vector<IterBlock> iters;
  std::vector<const config::Entry*> scoped;  // name:key overrides for iterator blocks
  bool in_iter = false, in_net = false;
  std::string pending_role, pending_name;
  for (const auto& e : entries) {
    if (e.key == "netconfig") in_net = e.value == "start";
    if (in_net || e.key == "netconfig" || e.key.rfind("layer[", 0) == 0) continue;
    if (e.key == "data" || e.key == "eval" || e.key == "pred") {
      pending_role = e.key, pending_name = e.value;
      continue;
    }
    if (e.key == "iter") {
      if (e.value == "end") {
        UMBRA_CHECK(in_iter, e.Where(), ": iter = end without an open iterator");
        in_iter = false;
      } else if (!in_iter) {
        UMBRA_CHECK(!pending_role.empty(), e.Where(), ": iter = ", e.value, " without a data/eval/pred line before it");
        iters.push_back({pending_role, pending_name, io::CreateIterator(e.value)});
        in_iter = true;
        pending_role.clear();
      } else {
        iters.back().it = io::ChainIterator(e.value, std::move(iters.back().it));
      }
      continue;
    }
    if (in_iter) {
      if (!iters.back().it->SetParam(e.key, e.value))
        std::fprintf(stderr, "warning: %s: key '%s' is not used by this iterator\n", e.Where().c_str(), e.key.c_str());
      continue;
    }
    if (e.key.find(':') != std::string::npos && !nn::UpdaterSettings().Set(e.key, e.value)) {
      scoped.push_back(&e);
      continue;
    }
    global[e.key] = e;
  }
  UMBRA_CHECK(!in_iter, "an iterator block is not closed with iter = end");
  for (const auto* e : scoped) {
    const std::string scope = e->key.substr(0, e->key.find(':')), key = e->key.substr(e->key.find(':') + 1);
    bool used = false;
    for (auto& b : iters)
      if (b.name == scope) used = b.it->SetParam(key, e->value) || used;
    UMBRA_CHECK(used, e->Where(), ": '", e->key, "' names no iterator block or key");
  }
  auto get = [&](const std::string& k, const std::string& dflt) {
    auto it = global.find(k);
    return it == global.end() ? dflt : it->second.value;
  };
  const std::string task = get("task", "train");
  UMBRA_CHECK(task == "train", "task '", task, "' is not supported yet (train is)");
  const std::string dev = get("dev", "cpu");
  UMBRA_CHECK(dev == "cpu", global.count("dev") ? global["dev"].Where() : std::string("dev"), ": dev = ", dev,
              " is not supported by this build's trainer yet; pass dev=cpu");
  const index_t batch = std::stol(get("batch_size", "100"));
  const int rounds = std::stoi(get("num_round", get("max_round", "10")));
  const bool eval_train = get("eval_train", "0") != "0";
  const std::string metric_name = get("metric", "error");

  config::NetConfig nc = config::NetFromConfig(entries, batch);
  nc.spec.seed = std::stoull(get("seed", "0"));
  // The global init rule (cxxnet's random_type) applies to every layer that declares it.
  if (global.count("random_type")) nc.spec.defaults.push_back({"init", get("random_type", "")});
  nn::UpdaterSettings us;
  for (auto& [k, v] : nc.updater) us.Set(k, v);
  nn::Trainer<cpu> trainer(nc.spec, us, std::stoi(get("update_period", "1")));

  static const std::set<std::string> kKnown = {
      "task", "dev", "batch_size", "num_round", "max_round", "eval_train", "metric", "seed",
      "input_shape", "random_type", "update_period", "save_model", "model_dir", "print_step", "silent"};
  for (auto& [k, e] : global)
    if (!kKnown.count(k) && !nn::UpdaterSettings().Set(k == "eta" ? "lr" : k, e.value))
      std::fprintf(stderr, "warning: %s: unknown key '%s' is ignored\n", e.Where().c_str(), k.c_str());

  IterBlock* train = nullptr;
  for (auto& b : iters) {
    b.it->SetParam("batch_size", std::to_string(batch));
    b.it->Init();
    if (b.role == "data") train = &b;
  }
  UMBRA_CHECK(train, "the config has no training iterator (data = train ... iter = end)");
  const Shape<4> want = nc.spec.input_shape, have = train->it->Value().data.shape_;
  UMBRA_CHECK(want == have, "input_shape gives batches of ", want, " but the iterator gives ", have,
              " (input_flat?)");
  SetFlushDenormals();
  for (int round = 1; round <= rounds; ++round) {
    const auto t0 = std::chrono::steady_clock::now();
    nn::Metric train_metric(metric_name);
    train->it->BeforeFirst();
    index_t seen = 0;
    while (train->it->Next()) {
      trainer.Step(train->it->Value().data, train->it->Value().label);
      if (eval_train) train_metric.Add(trainer.net().Output().Mat(), train->it->Value().label, train->it->Value().valid);
      seen += train->it->Value().valid;
    }
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("[%d]", round);
    if (eval_train) std::printf("\ttrain-%s:%g", metric_name.c_str(), train_metric.Get());
    for (auto& b : iters) {
      if (b.role != "eval") continue;
      nn::Metric m(metric_name);
      b.it->BeforeFirst();
      while (b.it->Next()) m.Add(trainer.Predict(b.it->Value().data).Mat(), b.it->Value().label, b.it->Value().valid);
      std::printf("\t%s-%s:%g", b.name.c_str(), metric_name.c_str(), m.Get());
    }
    std::printf("\t(%.1f s, %.0f img/s)\n", secs, seen / secs);
    std::fflush(stdout);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h") {
    Help();
    return argc < 2 ? 1 : 0;
  }
  try {
    return Run(argc, argv);
  } catch (const Error& e) {
    std::fprintf(stderr, "umbra: error: %s\n", e.what());
    return 1;
  }
}
