// The device-generic part of task = train | finetune (job.h): the trainer on `xpu`, where
// training starts (continue, model_in, finetune, start_counter), the rounds with evaluation, the
// round log and the checkpoints. Included by train_task.cc (cpu) and train_gpu.cu (gpu, which
// nvcc must compile: the net's and updaters' expressions become kernels there).
// Round r draws its shuffle, augmentation and dropout from (seed, r) alone, and a checkpoint
// holds weights, updater state and counters, so `continue=1` after a kill reproduces the run
// that never stopped bit for bit on the cpu. On the gpu a resumed run is close but not bit for
// bit: cuDNN picks algorithms by timing, and some sum in nondeterministic order.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "src/train/feeder.h"
#include "src/train/job.h"
#include "src/train/progress.h"
#include "src/train/readout.h"
#include "umbra/nn/checkpoint.h"
#include "umbra/nn/metric.h"
#if defined(UMBRA_USE_CUDA) && UMBRA_USE_CUDA
#include "umbra/tensor/cuda/allocator.h"
#endif

namespace umbra::train {

/// The settings of a training run, read once by RunTrain.
struct TrainSetup {
  bool finetune = false, eval_train = false, silent = false;
  bool eval_train_default = false;  // eval_train = 1 because the config does not set it
  int num_round = 10, max_round = 10, update_period = 1;
  long save_model = 1, print_step = 100;
  std::string model_dir;  // ModelDir(job)
  uint64_t seed = 0;
  IterBlock* train = nullptr;
};

/// The same loops on the gpu (train_gpu.cu, built with CUDA): set device `dev`, then run.
int TrainLoopGpu(Job& job, const TrainSetup& s, int dev);
int PredictLoopGpu(Job& job, int dev);

// Host helpers (train_task.cc).
/// Makes model_dir (an error naming the key where it cannot be) and holds it for this run: a
/// second run on the same folder is refused while this one lives (two runs overwrote each
/// other's models, both reporting success). An flock: released however the process ends; where
/// the file system has none, a warning. Also removes what dead runs left half written, and the
/// folder it made for a run that wrote nothing into it (it failed first, or had nothing to train).
class ModelDirLock {
 public:
  ModelDirLock(const Job& job, const std::string& dir);
  ~ModelDirLock();
  ModelDirLock(const ModelDirLock&) = delete;
  ModelDirLock& operator=(const ModelDirLock&) = delete;

 private:
  int fd_ = -1;
  std::string dir_;
  bool made_ = false;  // the folder did not exist before
};
std::pair<std::string, int> LatestModel(const std::string& dir);
std::string ModelPath(const std::string& dir, int round);
/// Writes round `round`'s checkpoint `mf` (from SaveCheckpoint) into `dir`, stamped with the
/// round and the run's seed (which continue=1 checks).
void WriteRoundModel(nn::ModelFile& mf, int round, uint64_t seed, const std::string& dir);
void CheckUpdaterScopes(const Job& job, const std::vector<std::string>& weights);
/// A note for each per-layer or per-tag updater key that no weight it reaches reads under its
/// settings (fc1:beta1 where fc1 trains with sgd; fc1:lr:gamma under the constant schedule).
/// A logloss metric on a node whose values are no probabilities (a fullc's, a relu's, through
/// layers that pass values on) is an error naming the metric's line and the layer: it stopped
/// the run at the first value past [0, 1], which may come rounds in.
void CheckLogLossNodes(const Job& job, const nn::NetSpec& spec);
void NoteIdleScopedUpdaterKeys(const Job& job, const nn::UpdaterSettings& us, const std::vector<std::string>& weights);
/// The keys only a GPU run takes (layout = nhwc, bf16_nodes, a layer's dtype = bf16, and when
/// training cuda_graph) are errors naming the key on the cpu, where they did nothing; the
/// switches among them (and tf32_matmul) must be 0 or 1 on every device. cuda_graph outside
/// training, and bf16_nodes on a net without a dtype = bf16 convolution, get a note.
void CheckDeviceKeys(const Job& job, const nn::NetSpec& spec, bool gpu, bool training);
/// A net with extra inputs (extra_data_num) is an error naming the key: no iterator gives extra
/// data yet, and the run failed at its first batch ("1 extra input(s) but 0 were given").
void CheckExtraInputs(const Job& job, const nn::NetSpec& spec);
/// Opens every iterator block but pred's and checks its batches against the net's input shape:
/// called once the run's keys, net and model files have been checked (a mistake there is said
/// before the data loads), and before the log is written (a bad block leaves it untouched).
void InitTrainingBlocks(Job& job);
/// Warns where model file `mf` was written for another network text (a layer without weights
/// may differ: a relu for a sigmoid) and, when training, with another seed.
void WarnIfOtherNetwork(const Job& job, const nn::ModelFile& mf, const std::string& path, bool training = true);
/// Says which weights' updater state `path` held for another updater (RestoreCheckpoint's
/// answer), which therefore starts from 0; nothing where there are none.
void NoteOtherUpdater(const std::vector<std::string>& restarted, const char* how, const std::string& path);

/// The learning rate a NaN loss's hint names: "eta = 0.5 at f.conf:3", or "eta, 0.01 by default"
/// (the hint showed "<default>"), with the schedule's keys and those of some weights only.
inline std::string LearningRateWhere(const Job& job) {
  // eta is lr's cxxnet name: the later of the two is in effect (the command line after the file).
  const config::Entry* last = nullptr;
  for (const char* k : {"lr", "eta"}) {
    const auto it = job.global.find(k);
    if (it == job.global.end()) continue;
    const auto order = [](const config::Entry& e) { return std::pair(e.file == "<command line>", e.line); };
    if (!last || order(it->second) > order(*last)) last = &it->second;
  }
  std::ostringstream os;
  if (last)
    os << last->key << " = " << last->value << " at " << last->Where();
  else
    os << "eta, " << nn::UpdaterParam{}.lr << " by default";
  // A schedule's keys too (a rate that a factor of 1e30 blew up is not eta's doing), and the rates
  // and schedules of some weights only (wmat:lr, fc1:eta, fc1:wmat:lr:factor): a key whose part
  // after a scope's colon is a rate or schedule key.
  const auto per_weight = [](const std::string& k) {
    for (size_t c = k.find(':'); c != std::string::npos; c = k.find(':', c + 1)) {
      const std::string rest = k.substr(c + 1);
      if (rest == "lr" || rest == "eta" || nn::IsScheduleKey(rest)) return true;
    }
    return false;
  };
  std::string schedule, scoped;
  for (const auto& [k, e] : job.global)
    if (nn::IsScheduleKey(k)) schedule += (schedule.empty() ? "" : ", ") + k + " = " + e.value + " at " + e.Where();
  // The per-weight ones from the updater's keys, which hold those written inside a layer's
  // definition too (eta = 1e30 in fc2's block, held as fc2:eta); of a key given twice (in the
  // file and on the command line) the last, which the settings apply.
  // A key is one setting under either spelling of the rate (fc2:eta and fc2:lr; eta is lr's alias).
  const auto setting = [](const std::string& k) {
    std::string r;
    for (size_t b = 0, e; b <= k.size(); b = e + 1) {
      e = std::min(k.find(':', b), k.size());
      const std::string part = k.substr(b, e - b);
      r += (b ? ":" : "") + (part == "eta" ? std::string("lr") : part);
    }
    return r;
  };
  std::map<std::string, size_t> last_of;
  for (size_t i = 0; i < job.net.updater.size(); ++i) last_of[setting(job.net.updater[i].first)] = i;
  for (size_t i = 0; i < job.net.updater.size() && i < job.net.updater_where.size(); ++i) {
    const auto& [k, v] = job.net.updater[i];
    if (per_weight(k) && last_of[setting(k)] == i)
      scoped += (scoped.empty() ? "" : ", ") + k + " = " + v + " at " + job.net.updater_where[i];
  }
  if (!schedule.empty()) os << "; its schedule: " << schedule;
  if (!scoped.empty()) os << "; for some weights: " << scoped;
  return os.str();
}

/// The other updater keys set that can make a net diverge (a weight decay of 100 at eta 0.05
/// multiplies each weight by -4 a step; momentum near 1, a grad_scale of 1e6), for a NaN
/// loss's hint: "the other update keys set (wmat:wd = 100 at f.conf:60, momentum = 0.9 at
/// f.conf:59), "; empty if none is set.
inline std::string OtherStepKeysClause(const Job& job) {
  const auto leaf = [](const std::string& k) { return k.substr(k.rfind(':') + 1); };
  std::map<std::string, size_t> last_of;  // a key given twice: the last, which the settings apply
  for (size_t i = 0; i < job.net.updater.size(); ++i) last_of[job.net.updater[i].first] = i;
  std::string list;
  for (size_t i = 0; i < job.net.updater.size() && i < job.net.updater_where.size(); ++i) {
    const auto& [k, v] = job.net.updater[i];
    const std::string l = leaf(k);
    if ((l == "wd" || l == "momentum" || l == "grad_scale") && last_of[k] == i)
      list += (list.empty() ? "" : ", ") + k + " = " + v + " at " + job.net.updater_where[i];
  }
  return list.empty() ? list : "the other update keys set (" + list + "), ";
}

/// Peak device memory of the run so far in MiB (the caching allocator's high-water mark); 0 on
/// the cpu.
template <typename xpu>
double PeakMiB() {
#if defined(UMBRA_USE_CUDA) && UMBRA_USE_CUDA
  if constexpr (std::is_same_v<xpu, gpu>) {
    int dev = 0;
    UMBRA_CUDA_CHECK(cudaGetDevice(&dev));
    return double(cuda::CachingAllocator::Get().GetStats(dev).high_water) / (1 << 20);
  }
#endif
  return 0;
}

template <typename xpu>
int TrainLoop(Job& job, const TrainSetup& s) {
  namespace fs = std::filesystem;
  const bool finetune = s.finetune, eval_train = s.eval_train, silent = s.silent;
  const int num_round = s.num_round, max_round = s.max_round;
  const long save_model = s.save_model;
  const std::string& model_dir = s.model_dir;
  const uint64_t seed = s.seed;
  IterBlock* train = s.train;
  nn::UpdaterSettings us;
  std::vector<size_t> untaken;  // keys the settings refused: an error after CheckUpdaterScopes says why
  for (size_t i = 0; i < job.net.updater.size(); ++i)
    if (!us.Set(job.net.updater[i].first, job.net.updater[i].second)) untaken.push_back(i);
  nn::NetSpec spec = job.net.spec;
  for (auto& m : job.metrics)  // metrics read these nodes after each step
    if (!m.node.empty()) spec.Keep(m.node, m.where);
  CheckDeviceKeys(job, spec, std::is_same_v<xpu, gpu>, /*training=*/true);
  CheckExtraInputs(job, spec);
  nn::Trainer<xpu> trainer(spec, us, s.update_period);
  for (const std::string& note : trainer.net().notes()) std::fprintf(stderr, "note: %s\n", note.c_str());
  // Said now, naming the net's last layer, rather than at round 1, batch 1, after the data loaded.
  const std::string net_end = spec.layers.back().where.empty() ? "" : spec.layers.back().where + ": ";
  UMBRA_CHECK(trainer.net().has_loss(), net_end,
              "the net has no loss layer (softmax, l2_loss, ...) to train it by; end it with one");
  CheckLogLossNodes(job, spec);
  // A metric of no node reads the net's output, its last layer's: a layer declared after the
  // loss (a branch nothing reads) became it, and train-error scored pooled pixels. Where no
  // metric is computed (eval_train = 0, no eval block) nothing reads it.
  const auto reads_output = std::ranges::find_if(job.metrics, [](const MetricSpec& m) { return m.node.empty(); });
  const bool scored = s.eval_train || std::ranges::any_of(job.iters, [](const IterBlock& b) { return b.role == "eval"; });
  if (reads_output != job.metrics.end() && scored) {
    const std::string past = trainer.net().OutputPastTheLoss(spec);
    UMBRA_CHECK(past.empty(), past, ", but the net's output, which a metric of no node reads (metric = ",
                reads_output->name, reads_output->where.empty() ? ", the default" : "", "), is its last layer's; ",
                "declare the layer before the loss, or name the node each metric reads (metric[label,node])");
  }
  // cuda_graph = 1: steps replayed from CUDA graphs (trainer.h says when it declines them).
  const bool graphs = job.GetSwitch("cuda_graph", false);
  trainer.set_cuda_graph(graphs);
  bool graph_noted = false;
  std::vector<std::string> weights;
  trainer.net().VisitWeights(
      [&](const std::string& n, Tensor<xpu, 2>, Tensor<xpu, 2>) { weights.push_back(n); });
  // A net without weights (a lone softmax) ran its rounds and changed nothing, exit 0.
  UMBRA_CHECK(!weights.empty(), net_end, "the net has no layer with weights (fullc, conv, batch_norm, ...): training would change nothing");
  CheckUpdaterScopes(job, weights);
  NoteIdleScopedUpdaterKeys(job, us, weights);
  for (size_t i : untaken)  // not reached by any config known to make it: a key is never dropped unsaid
    UMBRA_THROW(i < job.net.updater_where.size() ? job.net.updater_where[i] + ": " : "", "updater key '",
                job.net.updater[i].first, "' = ", job.net.updater[i].second, " is taken by no updater setting");
  // Where training starts: the newest checkpoint of model_dir (continue=1), else model_in
  // (finetune: matching weights only; train: the whole checkpoint, counting on from its round).
  int start = 1;
  bool resumed = false;
  const bool resume = job.GetSwitch("continue", false);
  std::unique_ptr<ModelDirLock> lock;  // only where this run writes models
  if (save_model > 0) lock = std::make_unique<ModelDirLock>(job, model_dir);
  if (resume) {
    const auto [path, round] = LatestModel(model_dir);
    if (round > 0) {
      const nn::ModelFile mf = nn::ReadModelFile(path);
      // The name says where to go on from; the file says what it holds (0003.model renamed to
      // 0007.model resumed "after round 7").
      const long saved = nn::MetaNumber(mf, "round", round, path);
      UMBRA_CHECK(saved == round, "continue: '", path, "' holds the model of round ", saved, ", not ", round,
                  " as its name says; rename or remove it");
      NoteOtherUpdater(nn::RestoreCheckpoint(trainer, mf, path), "continue", path);
      WarnIfOtherNetwork(job, mf, path);  // after the restore: its weights did match
      start = round + 1, resumed = true;
      std::fprintf(stderr, "continue: resuming after round %d from %s\n", round, path.c_str());
      if (job.global.count("model_in"))
        std::fprintf(stderr, "note: continue: model_in (%s) is not read: the run goes on from %s\n",
                     job.Where("model_in").c_str(), path.c_str());
    } else {
      std::fprintf(stderr, "note: continue: no NNNN.model in '%s' yet: a new run%s\n", model_dir.c_str(),
                   job.global.count("model_in") ? ", from model_in" : "");
    }
  }
  if (!resumed && finetune) {
    const std::string in = job.Get("model_in", "");
    UMBRA_CHECK(!in.empty(), "task = finetune needs model_in = <model file to copy layers from>");
    nn::ModelFile mf = nn::ReadModelFile(in);
    // Layers the config names are copied, as cxxnet's finetune copied them: an unnamed layer
    // (a new classifier, left unnamed or renamed to start afresh) keeps its initial weights even
    // where a weight of its generated name and shape is in the file, with a note.
    const auto layer_of = [](const nn::ModelTensor& t) { return t.name.substr(0, t.name.rfind('.')); };
    for (const std::string& layer : job.net.unnamed)
      if (std::ranges::any_of(mf.tensors, [&](const nn::ModelTensor& t) { return layer_of(t) == layer; }))
        std::fprintf(stderr, "note: finetune: layer '%s' has no name in the config: its weights are not copied from %s, "
                     "as cxxnet's finetune copied named layers only (name it to copy them)\n", layer.c_str(), in.c_str());
    std::erase_if(mf.tensors, [&](const nn::ModelTensor& t) { return job.net.unnamed.count(layer_of(t)) > 0; });
    const auto copied = nn::LoadWeights(trainer.net(), mf, in, false);
    // A weight of the same name and another shape is left as initialised: said, as is a model
    // that gives nothing (a renamed net trained from scratch while the log said finetune).
    trainer.net().VisitWeights([&](const std::string& n, Tensor<xpu, 2> w, Tensor<xpu, 2>) {
      const nn::ModelTensor* t = mf.Find(n);
      if (t && !std::ranges::count(copied, n))
        std::fprintf(stderr, "warning: finetune: '%s' is %s in %s but (%d,%d) here: not copied\n", n.c_str(),
                     nn::detail::ShapeText(t->shape).c_str(), in.c_str(), int(w.size(0)), int(w.size(1)));
    });
    UMBRA_CHECK(!copied.empty(), "task = finetune: model_in '", in, "' has no weight of this net's names and shapes",
                job.net.unnamed.empty() ? "" : " (of its named layers: unnamed ones are not copied)");
    std::string names;
    for (auto& n : copied) names += " " + n;
    std::fprintf(stderr, "finetune: copied %zu weight(s) from %s:%s\n", copied.size(), in.c_str(), names.c_str());
    // A layer renamed, or misspelt, started afresh and the file's weights of the old name went
    // unused, unsaid (a new classifier does so by design: then the note confirms it).
    std::string fresh, unused;
    std::set<std::string> own;
    trainer.net().VisitWeights([&](const std::string& n, Tensor<xpu, 2>, Tensor<xpu, 2>) {
      own.insert(n);
      if (!mf.Find(n) && !job.net.unnamed.count(n.substr(0, n.rfind('.')))) fresh += " " + n;
    });
    for (const nn::ModelTensor& t : mf.tensors)
      if (nn::IsWeightName(t.name) && !own.count(t.name)) unused += " " + t.name;
    if (!fresh.empty())
      std::fprintf(stderr, "note: finetune: not in %s, so initialised as a new net's:%s\n", in.c_str(), fresh.c_str());
    if (!unused.empty())
      std::fprintf(stderr, "note: finetune: weights of %s this net has no layer of that name for, not used:%s\n",
                   in.c_str(), unused.c_str());
  } else if (!resumed && job.global.count("model_in")) {
    const std::string in = job.Get("model_in", "");
    const nn::ModelFile mf = nn::ReadModelFile(in);
    NoteOtherUpdater(nn::RestoreCheckpoint(trainer, mf, in), "model_in", in);
    WarnIfOtherNetwork(job, mf, in);
    const long round = nn::MetaNumber(mf, "round", 0, in);
    UMBRA_CHECK(round >= 0 && round < 99999999, "model file '", in, "': its round = ", round, " is out of range");
    start = int(round) + 1;
    std::fprintf(stderr, "model_in: continuing after round %d of %s\n", start - 1, in.c_str());
  }
  // A run that goes on from a model file (model_in, not finetune) carries on its rounds; any
  // other run without continue=1 is new, whatever start_counter numbers its rounds from.
  // start_counter is cxxnet's: the number of the model before the first round (default 0), so
  // the first round is start_counter + 1. A run that goes on from a model takes the model's.
  const bool from_file = !resumed && !finetune && job.global.count("model_in");
  if (!resumed && !from_file && job.global.count("start_counter"))
    start = int(job.GetInt("start_counter", 0, 0, 99999998)) + 1;
  if ((resumed || from_file) && job.global.count("start_counter"))
    std::fprintf(stderr, "note: %s: start_counter (%s) is not used: the rounds go on from %d\n",
                 resumed ? "continue" : "model_in", job.Where("start_counter").c_str(), start);
  // start_counter past num_round trained nothing and exited 0: a fresh run asked for no round.
  // (num_round = 0 is the way to check a config without training: not refused.)
  UMBRA_CHECK(resumed || from_file || !job.global.count("start_counter") || num_round == 0 || start <= num_round,
              job.Where("start_counter"),
              ": start_counter = ", start - 1, " makes round ", start, " the first, past num_round = ", num_round,
              ": nothing would train; num_round counts the rounds from 1, start_counter included");
  const int last = std::min(num_round, start - 1 + max_round);
  if (start > last && start <= num_round)  // max_round = 0 stops it, not num_round
    std::fprintf(stderr, "nothing to train: max_round = %d rounds from round %d\n", max_round, start);
  else if (start > last)
    std::fprintf(stderr, "nothing to train: round %d is past num_round = %d (max_round = %d)\n", start, num_round,
                 max_round);
  // Nothing to train writes no model, so overwrites none (num_round = 0 in a used model_dir said
  // "nothing to train", then refused the folder's models); its data blocks are still checked.
  if (save_model > 0 && start <= last) {
    // Never overwrite the models of another run: only continue=1 carries on in a model_dir.
    const auto [existing, newest] = LatestModel(model_dir);
    // Rounds numbered past the old ones (start_counter = 5 beside 0002.model) overwrite none,
    // but continue=1 would then take this run's newest model for the old run's.
    UMBRA_CHECK(resumed || (from_file ? newest < start : newest == 0), "model_dir '", model_dir, "' already holds ", existing,
                " from an earlier run, ",
                newest >= start && newest <= last
                    ? std::string("which this run would overwrite")
                    : "with which this run's models (from round " + std::to_string(start) + ") would be mixed",
                "; pass continue=1 to resume it, or another model_dir, or remove the old models");
  }
  InitTrainingBlocks(job);
  if (start > last) return 0;  // no round to log
  const std::string log = save_model > 0 ? LogPath(job) : job.Get("log", "");  // no models: a log if asked
  // The log holds one line per round: rounds from start on are (re)written by this run. A run
  // that resumed nothing is new, except with continue=1 in its model_dir's own log (a run
  // killed before its first model, save_model = 2 in round 2, starts again there): with it,
  // another run's log named by log = was rewritten from round 1.
  const bool own_log = !job.global.count("log");
  // Progress's errors name the log's path ("log = d.csv: line 1 is no round ..."); the line of
  // a log key is added here.
  std::optional<Progress> made;
  try {
    made.emplace(silent, s.print_step, log, start, /*fresh=*/!resumed && !from_file && !(resume && own_log), resumed);
  } catch (const Error& err) {
    if (own_log || !err.message().starts_with("log = ")) throw;
    throw Error(job.Where("log") + ": " + err.message());
  }
  Progress& prog = *made;

  SetFlushDenormals();
  Feeder<xpu> feed(train->it.get());
  std::vector<std::unique_ptr<Feeder<xpu>>> eval_feed;
  for (auto& e : job.iters) eval_feed.emplace_back(new Feeder<xpu>(e.it.get()));
  // One loss window and metric set per pass kind for the whole run (on the gpu they keep their
  // device and pinned buffers).
  LossWindow<xpu> losses(s.print_step);
  // Each block's label width is checked against the metrics now, not after a round of training.
  const auto label_width = [](const IterBlock& b) { return b.role == "pred" ? index_t(-1) : b.it->Value().label.size(1); };
  const auto locate = [](const IterBlock& b) {
    return [it = b.it.get()](uint64_t i) { return it->Locate(i); };
  };
  MetricSet<xpu> train_metrics(job.metrics, trainer.net(), eval_train ? label_width(*train) : -1, train->where,
                               locate(*train));
  std::vector<std::unique_ptr<MetricSet<xpu>>> eval_metrics;
  for (const IterBlock& b : job.iters)
    eval_metrics.emplace_back(new MetricSet<xpu>(job.metrics, trainer.net(), label_width(b), b.where, locate(b)));
  const long updates_before = trainer.updates();
  long read_before_round = 0;  // training batches whose loss was read in this run's earlier rounds
  for (int round = start; round <= last; ++round) {
    prog.StartRound(round);
    train_metrics.Clear();
    train->it->SetEpoch(uint64_t(round));
    train->it->BeforeFirst();
    trainer.net().SeedRandom(io::EpochSeed(seed, uint64_t(round)));
    long seen = 0, read = 0;  // read: batches whose loss has reached the host
    double loss_sum = 0;
    // Losses and metrics reach the host a window of steps at a time (readout.h; on the cpu the
    // loss is read every step): every batch is NaN-checked and counted in the round's mean.
    Figures running;  // none shown until the first window is read
    const auto read_losses = [&](bool within = false) {
      for (const double loss : losses.Read(within)) {
        ++read;
        // Before the first update (fresh weights) the learning rate cannot be the cause.
        const bool no_update_yet = updates_before == 0 && read_before_round + read <= trainer.update_period();
        UMBRA_CHECK(std::isfinite(loss), "round ", round, ", batch ", read, ": the training loss is ", loss,
                    no_update_yet ? " before any update: check the data and the weights' initialisation (the "
                                    "learning rate has not acted yet)"
                                  : "; lower the learning rate (" + LearningRateWhere(job) + "), or check " +
                                        OtherStepKeysClause(job) + "the data and the weights' initialisation",
                    save_model > 0 && (round > start || resumed)
                        ? ". Models of earlier rounds in '" + model_dir + "' are untouched"
                        : std::string());
        loss_sum += loss;
      }
    };
    // A metric that cannot score the training labels (error on soft targets) stopped a config
    // that trained before eval_train became 1 by default: the error says how to go on.
    const std::string train_hint = s.eval_train_default
                                       ? " (the training batches are scored because eval_train = 1 is the default, "
                                         "as cxxnet's: eval_train = 0 leaves them unscored)"
                                       : "";
    const auto read_metrics = [&] {
      running = {{"loss", read ? loss_sum / double(read) : 0.0}};
      if (eval_train) {
        try {  // on a GPU the metrics' labels are judged here, a window of batches at a time
          train_metrics.Read();
        } catch (const Error& err) {
          UMBRA_THROW("round ", round, ", the ", train->name, " data (", train->where, "): ", err.message(),
                      train_hint);
        }
        train_metrics.Report("train", &running);
      }
    };
    const auto read_window = [&] { read_losses(), read_metrics(); };
    feed.Start();
    long batches = 0;
    // The data's own errors (an image that cannot be decoded) name the round, the batch the
    // iterator was reading and the block, as the batch's other errors do; they named none. No
    // model of this round exists yet: earlier rounds' are untouched.
    const auto next_batch = [&] {
      try {
        return feed.Next();
      } catch (const Error& err) {
        if (!feed.in_iterator()) throw;  // the device's
        UMBRA_THROW("round ", round, ", batch ", feed.pulled(), " of the ", train->name, " data (", train->where, "): ",
                    err.message());
      }
    };
    while (next_batch()) {
      const io::DataBatch& b = feed.host();
      ++batches;
      // `hint` follows the message: how to go on where the error is a training metric's.
      const auto naming_batch = [&](auto&& f, const std::string& hint = "") {
        try {
          f();
        } catch (const Error& err) {  // a bad label: which round and batch of which data block
          UMBRA_THROW("round ", round, ", batch ", batches, " of the ", train->name, " data (", train->where, "): ",
                      err.message(), hint);
        }
      };
      naming_batch([&] {
        trainer.net().CheckLabels(b.label, b.index, [&](uint64_t i) { return train->it->Locate(i); });
        trainer.Train(feed.data(), feed.label());
      });
      losses.Add(trainer.net());
      seen += b.valid;
      const bool full = losses.Full();
      // The loss's NaN check first (on the cpu it reads this step's): a diverged net's advice,
      // not a metric's refusal of its non-finite output. (Metrics' label errors named no round
      // or data; on a GPU they come from read_metrics.)
      if (full) read_losses();
      if (eval_train) naming_batch([&] { train_metrics.Add(trainer.net(), b); }, train_hint);
      if (full) {
        read_metrics();
      } else if (eval_train && train_metrics.Heavy()) {  // a window's outputs too large to hold to its end
        read_losses(/*within=*/true);
        read_metrics();
      }
      prog.Batch(seen, running);
    }
    read_window();
    read_before_round += read;
    if (graphs && !graph_noted && !trainer.graph_note().empty()) {
      std::fprintf(stderr, "%s\n", trainer.graph_note().c_str());
      graph_noted = true;
    }
    // A round that saves its model takes it before evaluating: SaveCheckpoint refuses a
    // non-finite weight (the loss can stay finite while the last update blows up), which must
    // stop the run before the round is evaluated, printed or logged (a logged round without its
    // model made the same command refused, its log 'holding another run's rounds'). Other
    // rounds are not copied to the host for it (on a GPU, a wait per weight): their weights are
    // checked by the next round's losses, or by the last round's save.
    // A run that saves no model (save_model = 0) has its weights checked after its last round
    // all the same: eta = 1e10 left them NaN behind finite (capped) losses, with exit 0.
    // On the cpu, where the check is one pass over the weights in place beside a round's many,
    // every round is checked (save_model = 3 logged a round 1 of NaN weights with a NaN logloss,
    // and the same command was then refused for its log).
    const bool save_now = save_model > 0 && (round % save_model == 0 || round == last);
    nn::ModelFile mf;
    try {
      if (save_now || round == last) mf = nn::SaveCheckpoint(trainer, job.net_text);
      else if constexpr (std::is_same_v<xpu, cpu>) nn::CheckCheckpointFinite(trainer);
    } catch (const Error& err) {
      UMBRA_THROW("round ", round, ": ", err.message(),
                  save_model > 0 ? ". Models of earlier rounds in '" + model_dir + "' are untouched" : "");
    }
    Figures results;
    if (eval_train) train_metrics.Report("train", &results);
    for (size_t k = 0; k < job.iters.size(); ++k) {
      IterBlock& e = job.iters[k];
      if (e.role != "eval") continue;
      MetricSet<xpu>& m = *eval_metrics[k];
      m.Clear();
      e.it->SetEpoch(0);
      e.it->BeforeFirst();
      Feeder<xpu>& f = *eval_feed[k];
      try {
        f.Start();
        while (f.Next()) {
          trainer.Predict(f.data());
          m.Add(trainer.net(), f.host());
          if (m.Heavy()) m.Read();
        }
        m.Read();
      } catch (const Error& err) {  // a bad label or an undecodable image: which block
        // The round trained and its weights are finite: keep its model, which continue=1
        // resumes after once the data is mended. The round is not logged (it has no figures).
        std::string kept;
        if (save_now) {
          try {
            WriteRoundModel(mf, round, seed, model_dir);
            kept = ". The round's model is saved as '" + ModelPath(model_dir, round) +
                   "' (not logged); continue=1 resumes after it";
          } catch (const Error& save) {  // both said: the save's error alone hid the data's
            kept = ". Saving the round's model failed too: " + save.message();
          }
        }
        UMBRA_THROW("round ", round, ", evaluating the ", e.name, " data (", e.where, "): ", err.message(), kept);
      }
      m.Report(e.name, &results);
    }
    // The model before the round's line and log entry: a logged round always has its model.
    if (save_now) WriteRoundModel(mf, round, seed, model_dir);
    prog.EndRound(results, {{"loss", read ? loss_sum / double(read) : 0.0}, {"updates", double(trainer.updates())}, {"peak_mib", PeakMiB<xpu>()}});
  }
  // Rounds that applied no update (update_period = 1000 over rounds of 100 batches) trained
  // nothing and exited 0 unsaid.
  if (last >= start && trainer.updates() == updates_before)
    std::fprintf(stderr, "note: %s: update_period = %d: this run's steps were fewer, so no update was applied and "
                 "the weights are as they were at its start\n", job.Where("update_period").c_str(), s.update_period);
  return 0;
}

}  // namespace umbra::train
