// task = train | finetune (job.h): rounds over the data iterator, evaluation, checkpoints.
// Round r draws its shuffle, augmentation and dropout from (seed, r) alone, and a checkpoint
// holds weights, updater state and counters, so `continue=1` after a kill reproduces the run
// that never stopped bit for bit. num_round is the last round; max_round caps the rounds run by
// this invocation (cxxnet's meaning).
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <set>

#include "src/train/job.h"
#include "src/train/progress.h"
#include "umbra/nn/checkpoint.h"
#include "umbra/nn/metric.h"

namespace umbra::train {
namespace {

namespace fs = std::filesystem;

// The newest "NNNN.model" (four digits or more) in dir and its round, or round 0.
std::pair<std::string, int> LatestModel(const std::string& dir) {
  std::pair<std::string, int> best{"", 0};
  std::error_code ec;
  for (const auto& f : fs::directory_iterator(dir, ec)) {
    const std::string n = f.path().filename().string();
    const size_t digits = n.find_first_not_of("0123456789");
    if (digits < 4 || digits > 9 || n.substr(digits) != ".model") continue;
    const int r = std::stoi(n.substr(0, digits));
    if (r > best.second) best = {f.path().string(), r};
  }
  return best;
}

// Per-layer and per-tag updater keys must name something in the net (a misspelt layer would
// silently do nothing).
void CheckUpdaterScopes(const Job& job, nn::Net<cpu>& net) {
  std::set<std::string> known;
  net.VisitWeights([&](const std::string& name, Tensor<cpu, 2>, Tensor<cpu, 2>) {
    const auto dot = name.rfind('.');
    known.insert(name), known.insert(name.substr(0, dot)), known.insert(name.substr(dot + 1));
  });
  for (auto& [k, v] : job.net.updater) {
    const auto colon = k.find(':');
    if (colon == std::string::npos || k.rfind("lr:", 0) == 0) continue;
    std::string scope = k.substr(0, colon);
    const std::string rest = k.substr(colon + 1);
    const auto colon2 = rest.find(':');
    if (colon2 != std::string::npos && rest.rfind("lr:", 0) != 0) scope += "." + rest.substr(0, colon2);
    UMBRA_CHECK(known.count(scope), "updater key '", k, "': the network has no layer, weight tag or weight '",
                scope, "' (layers' weights are named layer.tag, e.g. fc1.wmat)");
  }
}

// A checkpoint of a network written differently (another activation, dropout rate) still loads
// when every weight matches; say so, since the run is then not the one that was saved.
void WarnIfOtherNetwork(const Job& job, const nn::ModelFile& mf, const std::string& path) {
  if (mf.net != job.net_text)
    std::fprintf(stderr, "warning: the network text of '%s' differs from this config's; its weights match by name "
                 "and shape and are used\n", path.c_str());
  if (mf.meta.count("seed") && mf.meta.at("seed") != job.Get("seed", "0"))
    std::fprintf(stderr, "warning: '%s' was trained with seed = %s, this run has seed = %s\n", path.c_str(),
                 mf.meta.at("seed").c_str(), job.Get("seed", "0").c_str());
}
std::string ModelPath(const std::string& dir, int round) {
  char name[32];
  std::snprintf(name, sizeof name, "%04d.model", round);
  return (fs::path(dir) / name).string();
}

// Metrics of one pass, named as cxxnet printed them (test-error, train-rec@5).
struct MetricSet {
  std::vector<MetricSpec> specs;
  std::vector<nn::Metric> m;
  std::vector<std::string> nodes;  // resolved node names
  MetricSet(const std::vector<MetricSpec>& s, const nn::Net<cpu>& net) : specs(s) {
    for (auto& x : s) {
      m.emplace_back(x.name);
      nodes.push_back(x.node.empty() ? "" : ResolveNode(net, x.node));
    }
  }
  void Add(nn::Net<cpu>& net, const io::DataBatch& b) {
    for (size_t i = 0; i < m.size(); ++i)
      m[i].Add((nodes[i].empty() ? net.Output() : net.NodeByName(nodes[i])).Mat(), b.label, b.valid);
  }
  void Report(const std::string& prefix, Figures* out) const {
    for (size_t i = 0; i < m.size(); ++i)
      out->push_back({prefix + "-" + specs[i].name + (specs[i].node.empty() ? "" : "[" + specs[i].node + "]"),
                      m[i].Get()});
  }
};

}  // namespace

void CheckDevice(const Job& job) {
  const std::string dev = job.Get("dev", "cpu");
  UMBRA_CHECK(dev == "cpu", job.Where("dev"), ": dev = ", dev,
              " is not supported by this build's trainer yet; pass dev=cpu");
}

int RunTrain(Job& job) {
  CheckDevice(job);
  const bool finetune = job.Get("task", "train") == "finetune";
  const int num_round = int(job.GetInt("num_round", 10));
  const int max_round = int(job.GetInt("max_round", num_round));
  const bool eval_train = job.GetInt("eval_train", 0) != 0;
  const long save_model = job.GetInt("save_model", 1);
  const std::string model_dir = job.Get("model_dir", "models");
  const uint64_t seed = uint64_t(job.GetInt("seed", 0));
  const bool silent = job.GetInt("silent", 0) != 0;

  IterBlock* train = job.Find("data");
  UMBRA_CHECK(train, "the config has no training iterator (data = train ... iter = end)");
  // Every block is opened and checked before the first step, so that a bad eval block fails now
  // and not after a round of training.
  const Shape<4> want = job.net.spec.input_shape;
  for (auto& b : job.iters) {
    if (b.role == "pred") continue;
    b.it->Init();
    const Shape<4> have = b.it->Value().data.shape_;
    UMBRA_CHECK(want == have, b.where, ": the ", b.name, " iterator gives batches of ", have,
                " but input_shape and batch_size give ", want, " (input_flat?)");
  }

  if (job.GetInt("test_io", 0) != 0) {  // cxxnet's test_io: only read the data, to time the input
    Progress prog(silent, job.GetInt("print_step", 100), "");
    for (int r = 1; r <= std::min(num_round, max_round); ++r) {
      prog.StartRound(r);
      train->it->SetEpoch(r);
      train->it->BeforeFirst();
      long seen = 0;
      while (train->it->Next()) prog.Batch(seen += train->it->Value().valid, {});
      prog.EndRound({}, {});
    }
    return 0;
  }

  nn::UpdaterSettings us;
  for (auto& [k, v] : job.net.updater) us.Set(k, v);
  nn::Trainer<cpu> trainer(job.net.spec, us, int(job.GetInt("update_period", 1)));
  CheckUpdaterScopes(job, trainer.net());
  // Where training starts: the newest checkpoint of model_dir (continue=1), else model_in
  // (finetune: matching weights only; train: the whole checkpoint, counting on from its round).
  int start = 1;
  bool resumed = false;
  if (job.GetInt("continue", 0) != 0) {
    const auto [path, round] = LatestModel(model_dir);
    if (round > 0) {
      const nn::ModelFile mf = nn::ReadModelFile(path);
      WarnIfOtherNetwork(job, mf, path);
      nn::RestoreCheckpoint(trainer, mf, path);
      start = round + 1, resumed = true;
      std::fprintf(stderr, "continue: resuming after round %d from %s\n", round, path.c_str());
    } else {
      std::fprintf(stderr, "continue: no NNNN.model in '%s' yet\n", model_dir.c_str());
    }
  }
  if (!resumed && finetune) {
    const std::string in = job.Get("model_in", "");
    UMBRA_CHECK(!in.empty(), "task = finetune needs model_in = <model file to copy layers from>");
    const auto copied = nn::LoadWeights(trainer.net(), nn::ReadModelFile(in), in, false);
    std::string names;
    for (auto& n : copied) names += " " + n;
    std::fprintf(stderr, "finetune: copied %zu weight(s) from %s:%s\n", copied.size(), in.c_str(), names.c_str());
  } else if (!resumed && job.global.count("model_in")) {
    const std::string in = job.Get("model_in", "");
    const nn::ModelFile mf = nn::ReadModelFile(in);
    WarnIfOtherNetwork(job, mf, in);
    nn::RestoreCheckpoint(trainer, mf, in);
    start = int(std::stol(mf.meta.count("round") ? mf.meta.at("round") : "0")) + 1;
    std::fprintf(stderr, "model_in: continuing after round %d of %s\n", start - 1, in.c_str());
  }
  if (!resumed && job.global.count("start_counter")) start = int(job.GetInt("start_counter", 1));
  UMBRA_CHECK(start >= 1, job.Where("start_counter"), ": start_counter must be >= 1");
  const int last = std::min(num_round, start - 1 + max_round);
  if (start > last)
    std::fprintf(stderr, "nothing to train: round %d is past num_round = %d (max_round = %d)\n", start, num_round,
                 max_round);
  if (save_model > 0) {
    fs::create_directories(model_dir);
    // Never overwrite the models of another run: only continue=1 carries on in a model_dir.
    const auto [existing, newest] = LatestModel(model_dir);
    UMBRA_CHECK(resumed || newest < start, "model_dir '", model_dir, "' already holds ", existing,
                " from an earlier run, which this run would overwrite; pass continue=1 to resume it, or another "
                "model_dir, or remove the old models");
  }
  const std::string log = job.Get("log", save_model > 0 ? (fs::path(model_dir) / "log.jsonl").string() : "");
  // The log holds one line per round: rounds from start on are (re)written by this run.
  Progress prog(silent, job.GetInt("print_step", 100), log, start);

  SetFlushDenormals();
  for (int round = start; round <= last; ++round) {
    prog.StartRound(round);
    MetricSet train_metrics(job.metrics, trainer.net());
    train->it->SetEpoch(uint64_t(round));
    train->it->BeforeFirst();
    trainer.net().SeedRandom(io::EpochSeed(seed, uint64_t(round)));
    long seen = 0, batches = 0;
    double loss_sum = 0;
    while (train->it->Next()) {
      const io::DataBatch& b = train->it->Value();
      const double loss = trainer.Step(b.data, b.label);
      UMBRA_CHECK(std::isfinite(loss), "round ", round, ", batch ", batches + 1, ": the training loss is ", loss,
                  "; lower the learning rate (", job.Where("lr") == "<default>" ? job.Where("eta") : job.Where("lr"),
                  ") or check the data. Models of earlier rounds in '", model_dir, "' are untouched");
      loss_sum += loss, ++batches, seen += b.valid;
      Figures running{{"loss", loss_sum / double(batches)}};
      if (eval_train) {
        train_metrics.Add(trainer.net(), b);
        train_metrics.Report("train", &running);
      }
      prog.Batch(seen, running);
    }
    Figures results;
    if (eval_train) train_metrics.Report("train", &results);
    for (auto& e : job.iters) {
      if (e.role != "eval") continue;
      MetricSet m(job.metrics, trainer.net());
      e.it->SetEpoch(0);
      e.it->BeforeFirst();
      while (e.it->Next()) {
        trainer.Predict(e.it->Value().data);
        m.Add(trainer.net(), e.it->Value());
      }
      m.Report(e.name, &results);
    }
    prog.EndRound(results, {{"loss", batches ? loss_sum / double(batches) : 0.0}, {"updates", double(trainer.updates())}});
    if (save_model > 0 && (round % save_model == 0 || round == last)) {
      nn::ModelFile mf = nn::SaveCheckpoint(trainer, job.net_text);
      mf.meta["round"] = std::to_string(round);
      mf.meta["seed"] = std::to_string(seed);
      nn::WriteModelFile(ModelPath(model_dir, round), mf);
    }
  }
  return 0;
}

}  // namespace umbra::train
