// task = train | finetune (job.h): reads the settings, opens and checks every data block,
// runs test_io, and hands the training to TrainLoop (train_loop-inl.h) on the device `dev`
// names: cpu here, gpu in train_gpu.cu. Also the host helpers of the loop.
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <set>
#include <sstream>

#include "src/train/train_loop-inl.h"

namespace umbra::train {

namespace fs = std::filesystem;

ModelDirLock::ModelDirLock(const Job& job, const std::string& dir) : dir_(dir) {
  UMBRA_CHECK(!dir.empty(), job.Where("model_dir"), ": model_dir is empty");
  std::error_code ec;
  made_ = !fs::exists(dir, ec);
  fs::create_directories(dir, ec);
  UMBRA_CHECK(!ec && fs::is_directory(dir), job.Where("model_dir"), ": model_dir '", dir, "' cannot be made a folder",
              ec ? ": " + ec.message() : std::string(" (a file of that name exists)"));
  const std::string path = (fs::path(dir) / kModelDirLockName).string();
  // 0666 less the umask, so that a folder shared by a group stays usable by all; read-only where
  // another user made the file (an flock needs no write access).
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0666);
  const bool writable = fd_ >= 0;
  const int write_error = errno;  // what to report: the read-only retry's ENOENT hid EACCES
  if (!writable) fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  UMBRA_CHECK(fd_ >= 0, "model_dir '", dir, "': cannot open its lock file '", path, "': ", std::strerror(write_error));
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    const int why = errno;
    char pid[32] = {};
    const ssize_t n = ::pread(fd_, pid, sizeof pid - 1, 0);
    ::close(fd_);
    fd_ = -1;
    UMBRA_CHECK(why != EWOULDBLOCK, "model_dir '", dir, "' is in use by another umbra run (pid ",
                n > 0 ? std::string(pid, size_t(n)) : "?", "): wait for it to end, or give this run another model_dir");
    // A file system without flock (NFS without locking): run, unguarded.
    std::fprintf(stderr, "warning: model_dir '%s' cannot be locked (%s): another run on it would not be noticed\n",
                 dir.c_str(), std::strerror(why));
    return;
  }
  // The pid only feeds the other run's message; the lock holds without it.
  const std::string me = std::to_string(::getpid());
  [[maybe_unused]] const bool noted =
      writable && ::ftruncate(fd_, 0) == 0 && ::pwrite(fd_, me.data(), me.size(), 0) == ssize_t(me.size());
  // A run killed while it wrote a model left "NNNN.model.tmp.PID" (WriteModelFile renames it
  // only when whole); with the folder held, no other run is writing one: they go.
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {  // ++ would throw
    const std::string n = it->path().filename().string();
    const size_t tmp = n.find(".model.tmp.");
    std::error_code rm_ec;  // a temporary that will not go is left; the loop goes on
    if (tmp != std::string::npos && tmp > 0 && n.find_first_not_of("0123456789") == tmp &&
        n.find_first_not_of("0123456789", tmp + 11) == std::string::npos)
      fs::remove(it->path(), rm_ec);
  }
}
ModelDirLock::~ModelDirLock() {
  if (fd_ >= 0) ::close(fd_);  // releases the flock
  // A run that failed before its first model (a finetune without model_in, a bad eval metric),
  // or had nothing to train (num_round = 0), left a new folder holding only the lock (and an
  // empty log): it goes again.
  if (!made_) return;
  // Stepped with an error code: a range-for's ++ throws on a read error (EIO, NFS), and a throw
  // from a destructor, often run while another error unwinds, ends the process.
  std::error_code ec;
  for (fs::directory_iterator it(dir_, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string n = it->path().filename().string();
    std::error_code size_ec;
    if (n != kModelDirLockName && !(n == "log.jsonl" && fs::file_size(it->path(), size_ec) == 0)) return;
  }
  if (!ec) fs::remove_all(dir_, ec);
}

void CheckDeviceKeys(const Job& job, const nn::NetSpec& spec, bool gpu, bool training) {
  const bool tf32 = job.GetSwitch("tf32_matmul", false);  // read by the gpu loop
  const bool graphs = job.GetSwitch("cuda_graph", false);
  const auto bf16 = [](const auto& params) {
    return std::ranges::any_of(params, [](const auto& kv) { return kv.first == "dtype" && kv.second == "bf16"; });
  };
  // GPU keys that would change nothing get a note, as a layer key no layer takes does.
  if (graphs && !training)
    std::fprintf(stderr, "note: %s: cuda_graph = 1 replays training steps; this task's passes run as written\n",
                 job.Where("cuda_graph").c_str());
  if (gpu) {
    const bool bf16_conv = std::ranges::any_of(spec.layers, [&](const nn::LayerSpec& l) {
      const bool own = std::ranges::any_of(l.params, [](const auto& kv) { return kv.first == "dtype"; });
      return l.type == "conv" && (own ? bf16(l.params) : bf16(spec.defaults));
    });
    if (spec.bf16_nodes && !bf16_conv)
      std::fprintf(stderr,
                   "note: %s: bf16_nodes = 1 starts at a convolution with dtype = bf16, and this net has none: "
                   "every node stays float\n",
                   job.Where("bf16_nodes").c_str());
    return;
  }
  UMBRA_CHECK(!tf32, job.Where("tf32_matmul"), ": tf32_matmul = 1 needs dev = gpu (the cpu multiplies in float32)");
  UMBRA_CHECK(!spec.channels_last, job.Where("layout"),
              ": layout = nhwc needs dev = gpu (cuDNN's channels-last kernels)");
  UMBRA_CHECK(!spec.bf16_nodes, job.Where("bf16_nodes"),
              ": bf16_nodes = 1 needs dev = gpu (cuDNN's bf16 convolutions and pooling)");
  UMBRA_CHECK(!training || !graphs, job.Where("cuda_graph"), ": cuda_graph = 1 needs dev = gpu");
  // A layer's dtype = bf16 (its own or the global default) ran in float32 on the cpu, unsaid.
  UMBRA_CHECK(!bf16(spec.defaults), job.Where("dtype"),
              ": dtype = bf16 needs dev = gpu (cuDNN and cuBLAS bf16 products)");
  for (const nn::LayerSpec& l : spec.layers)
    UMBRA_CHECK(!bf16(l.params), l.where.empty() ? "" : l.where + ": ", "layer '", l.name, "' (", l.type,
                "): dtype = bf16 needs dev = gpu (cuDNN and cuBLAS bf16 products)");
}

// Every block is opened and checked before the first step, so that a bad eval block fails now
// and not after a round of training.
void InitTrainingBlocks(Job& job) {
  const Shape<4> want = job.net.spec.input_shape;
  // The training block first, wherever it stands: it computes a missing mean image, over its
  // own data, which the eval blocks then read.
  std::vector<IterBlock*> order;
  for (auto& b : job.iters)
    if (b.role == "data") order.push_back(&b);
  for (auto& b : job.iters)
    if (b.role == "eval") order.push_back(&b);
  for (IterBlock* p : order) {
    IterBlock& b = *p;
    InitIterator(b);
    const Shape<4> have = b.it->Value().data.shape_;
    const bool flat = have.Size() == want.Size() && b.type.find("mnist") != std::string::npos;
    UMBRA_CHECK(want == have, b.where, ": the ", b.name, " iterator gives batches of ", have,
                " but input_shape and batch_size give ", want, flat ? " (the mnist iterator's input_flat?)" : "");
  }
}

void CheckExtraInputs(const Job& job, const nn::NetSpec& spec) {
  UMBRA_CHECK(spec.extra_inputs.empty(), job.Where("extra_data_num"), ": extra_data_num = ", spec.extra_inputs.size(),
              ": umbra's iterators give no extra data yet, so the CLI cannot feed a net with extra inputs "
              "(nn::Net::Forward takes them from C++)");
}

// The newest "NNNN.model" (four digits or more) in dir and its round, or round 0. Two names of
// that round (0002.model, 00002.model) are an error: which one a resume took was the folder's
// order.
std::pair<std::string, int> LatestModel(const std::string& dir) {
  std::pair<std::string, int> best{"", 0};
  std::string twin;  // another file of best's round
  std::error_code ec;
  for (const auto& f : fs::directory_iterator(dir, ec)) {
    const std::string n = f.path().filename().string();
    if (!IsRoundModelName(n)) continue;
    const int r = std::stoi(n.substr(0, n.find('.')));
    if (r > 0 && r == best.second) twin = f.path().string();  // round 0 (cxxnet's first save) is no resume
    if (r > best.second) best = {f.path().string(), r}, twin.clear();
  }
  UMBRA_CHECK(twin.empty(), "model_dir '", dir, "' holds two models of round ", best.second, ", '",
              std::min(twin, best.first), "' and '", std::max(twin, best.first), "'; remove or rename one");
  return best;
}

// Per-layer and per-tag updater keys must name something in the net (a misspelt layer would
// silently do nothing).
void CheckUpdaterScopes(const Job& job, const std::vector<std::string>& weights) {
  const std::set<std::string> known = nn::ScopeNames(weights);
  std::set<std::string> tags;
  for (const std::string& name : weights) {
    const std::string tag = name.substr(name.rfind('.') + 1);
    tags.insert(tag);
    if (const std::string old = nn::CxxnetTag(tag); !old.empty()) tags.insert(old);
  }
  for (size_t i = 0; i < job.net.updater.size(); ++i) {
    const std::string& k = job.net.updater[i].first;
    const auto colon = k.find(':');
    const std::string where = i < job.net.updater_where.size() ? job.net.updater_where[i] + ": " : "";
    // A layer named as a weight tag (bias) or a schedule's prefix (lr, eta) makes LAYER:key mean
    // two things: a layer named lr lost its own keys (lr:lr, lr:momentum read as schedule keys,
    // and dropped), and bias:lr = 0 froze a layer named bias whole, wmat too.
    const std::string first = colon == std::string::npos ? "" : k.substr(0, colon);
    const bool is_tag = tags.count(first) > 0, is_schedule = first == "lr" || first == "eta";
    if ((is_tag || is_schedule) && std::ranges::any_of(job.net.spec.layers, [&](const nn::LayerSpec& l) {
          return l.name == first;
        }))
      UMBRA_THROW(where, AmbiguousScope(k, first, is_tag));
    const nn::ScopedKey split = nn::SplitScopedKey(k);
    const std::string& scope = split.scope;
    // A layer named as another's weight (fc.wmat beside fc): fc:wmat:lr = 0 froze layer fc.wmat
    // whole, and fc's wmat.
    if (split.scoped && std::ranges::find(weights, scope) != weights.end() &&
        std::ranges::any_of(job.net.spec.layers, [&](const nn::LayerSpec& l) { return l.name == scope; }))
      UMBRA_THROW(where, AmbiguousScopeWith(k, scope, "the name of layer '" + scope.substr(0, scope.rfind('.')) +
                                                      "''s weight " + scope.substr(scope.rfind('.') + 1)));
    // Batch norm's running statistics (moving_mean, moving_var) are weights no updater trains:
    // bn:moving_mean:lr = 5 was taken and did nothing, unsaid.
    if (split.scoped && known.count(scope)) {
      bool reached = false, trained = false;
      for (const std::string& w : weights) {
        const auto scopes = nn::WeightScopes(w);
        if (std::ranges::find(scopes, scope) == scopes.end()) continue;
        reached = true;
        trained = trained || w.substr(w.rfind('.') + 1).rfind("moving_", 0) != 0;
      }
      UMBRA_CHECK(!reached || trained, where, "updater key '", k, "': '", scope, "' names running statistics ",
                  "(batch norm's moving_mean, moving_var), which follow the batches and which no updater trains");
    }
    if (!split.scoped || known.count(scope)) continue;
    // A layer of the net without that weight (a relu's lr, fc:bias:lr with no_bias = 1): its weights.
    const std::string layer = scope.substr(0, scope.find('.'));
    const auto spec = std::ranges::find_if(job.net.spec.layers, [&](const nn::LayerSpec& l) { return l.name == layer; });
    if (spec != job.net.spec.layers.end()) {
      std::string has;
      for (const std::string& w : weights)
        if (w.rfind(layer + ".", 0) == 0) has += (has.empty() ? "" : ", ") + w;
      UMBRA_THROW(where, "updater key '", k, "': layer '", layer, "' (", spec->type, ") has ",
                  has.empty() ? "no weights to update" : "no weight '" + scope + "'; its weights: " + has);
    }
    UMBRA_THROW(where, "updater key '", k, "': the network has no layer, weight tag or weight '", scope,
                "' (layers' weights are named layer.tag, e.g. fc1.wmat)");
  }
}

// The global keys get this note from the config (netconfig.cc's NoteIdleUpdaterKeys), where the
// weights are not yet known; a scoped key needs them: it is idle where every weight it reaches
// has settings that do not read it.
void NoteIdleScopedUpdaterKeys(const Job& job, const nn::UpdaterSettings& us, const std::vector<std::string>& weights) {
  for (size_t i = 0; i < job.net.updater.size(); ++i) {
    const auto& [k, v] = job.net.updater[i];
    const auto [scoped, scope, rest] = nn::SplitScopedKey(k);
    if (!scoped) continue;
    std::string why;
    bool reached = false, read = false;
    for (const std::string& w : weights) {
      const auto scopes = nn::WeightScopes(w);
      if (std::ranges::find(scopes, scope) == scopes.end()) continue;
      reached = true;
      const std::string r = us.For(w).KeyWithoutEffect(rest);
      if (r.empty()) read = true;
      else if (why.empty()) why = r;
    }
    // bn:eps = 0.1 meant for batch norm is an updater's key (adam's eps, else read by none): its
    // own goes in its block.
    // The layer by its whole name (a.bn, a.bn.gamma: layer names may hold dots).
    const auto bn = std::ranges::find_if(job.net.spec.layers, [&](const nn::LayerSpec& l) {
      return l.type.starts_with("batch_norm") && (scope == l.name || scope.starts_with(l.name + "."));
    });
    const bool bn_eps = reached && rest == "eps" && bn != job.net.spec.layers.end();
    const std::string layer = bn_eps ? bn->name : "";
    const std::string at = i < job.net.updater_where.size() ? job.net.updater_where[i] + ": " : "";
    const std::string own = "batch norm's own eps goes inside layer '" + layer + "''s block in netconfig";
    if (bn_eps && read)
      std::fprintf(stderr, "note: %s%s = %s sets adam's eps for the weights of layer '%s', not batch norm's: %s\n",
                   at.c_str(), k.c_str(), v.c_str(), layer.c_str(), own.c_str());
    if (!reached || read) continue;
    std::fprintf(stderr, "note: %s%s = %s has no effect: %s%s\n", at.c_str(), k.c_str(), v.c_str(), why.c_str(),
                 bn_eps ? ("; " + own).c_str() : "");
  }
}

namespace {
// The layer types whose output holds no probabilities (unbounded, or negative), and those whose
// output is their input's values, rearranged or a subset (the writer of their input decides).
// Others (softmax, multi_logistic, sigmoid, lrn, ...) are taken as they are.
bool NoProbability(const std::string& type) {
  static const std::set<std::string> kinds = {"fullc", "conv", "fixconn", "batch_norm", "batch_norm_no_ma", "bias",
                                              "eltwise_sum", "sum_pooling", "relu", "leaky_relu", "prelu", "rrelu",
                                              "xelu", "elu", "softplus", "tanh", "insanity"};
  return kinds.count(type) > 0;
}
bool PassesValues(const std::string& type) {
  static const std::set<std::string> kinds = {"flatten", "split", "concat", "ch_concat", "max_pooling", "avg_pooling",
                                              "global_avg_pooling", "global_max_pooling", "maxout", "dropout",
                                              "l2_loss", "lp_loss", "to_bf16", "to_fp32", "to_nchw", "to_nhwc"};
  return kinds.count(type) > 0;
}
// The layer that last writes `node` before layer `before` (spec order), or -1.
int WriterOf(const nn::NetSpec& spec, const std::string& node, int before) {
  for (int i = before - 1; i >= 0; --i)
    if (std::ranges::find(spec.layers[size_t(i)].out, node) != spec.layers[size_t(i)].out.end()) return i;
  return -1;
}
// The layer whose output the values of `node` come from, through layers that pass their input's
// values on, where that layer's output holds no probability; else -1.
int NonProbabilitySource(const nn::NetSpec& spec, const std::string& node, int before) {
  const int w = WriterOf(spec, node, before);
  if (w < 0) return -1;
  const nn::LayerSpec& l = spec.layers[size_t(w)];
  if (NoProbability(l.type)) return w;
  if (!PassesValues(l.type)) return -1;
  for (const std::string& in : l.in)
    if (const int s = NonProbabilitySource(spec, in, w); s >= 0) return s;
  return -1;
}
}  // namespace

void CheckLogLossNodes(const Job& job, const nn::NetSpec& spec) {
  for (const MetricSpec& m : job.metrics) {
    if (m.name != "logloss" || spec.layers.empty()) continue;
    const int end = int(spec.layers.size());
    std::string node = m.node.empty() ? spec.layers.back().out.at(0) : m.node;  // or the net's output
    // A node rewritten in place is "3", then "3'", ... (netconfig): the metric reads the last.
    while (WriterOf(spec, node + "'", end) >= 0) node += "'";
    const int s = NonProbabilitySource(spec, node, end);
    if (s < 0) continue;
    const nn::LayerSpec& l = spec.layers[size_t(s)];
    UMBRA_THROW(m.where.empty() ? "" : m.where + ": ", "metric logloss scores ",
                m.node.empty() ? "the net's output" : "node '" + m.node + "'", ", whose values are ",
                std::ranges::find(l.out, node) != l.out.end() ? "the output" : "from the output", " of layer '", l.name, "' (",
                l.type, l.where.empty() ? "" : ", " + l.where, "): no probabilities (it stopped the run at the first "
                "value past [0, 1], rounds in); logloss scores a softmax's, multi_logistic's or sigmoid's output");
  }
}

void NoteOtherUpdater(const std::vector<std::string>& restarted, const char* how, const std::string& path) {
  if (restarted.empty()) return;
  std::string which;
  for (size_t i = 0; i < restarted.size() && i < 6; ++i) which += (i ? ", " : "") + restarted[i];
  if (restarted.size() > 6) which += " and " + std::to_string(restarted.size() - 6) + " more";
  std::fprintf(stderr, "note: %s: '%s' holds another updater's state than this run's (sgd's and nag's momentum, "
               "adam's two moments) for %s: their state starts from 0, as cxxnet's resumes started it; the weights "
               "and the update count go on (so an adam started so takes larger first steps than a fresh one: its "
               "bias correction counts the updates)\n", how, path.c_str(), which.c_str());
}

// A net text's lines, input_shape's last and once (a model of an earlier build held a line for
// each time the key was given).
std::vector<std::string> NetLines(const std::string& text) {
  std::vector<std::string> lines;
  std::string shape;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) {
    l.erase(0, l.find_first_not_of(' '));
    if (l.rfind("input_shape = ", 0) == 0) shape = l;
    else lines.push_back(l);
  }
  if (!shape.empty()) lines.push_back(shape);
  return lines;
}
// A checkpoint of a network written differently (another activation, dropout rate) still loads
// when every weight matches; say so, since the run is then not the one that was saved.
void WarnIfOtherNetwork(const Job& job, const nn::ModelFile& mf, const std::string& path, bool training) {
  // Said with the first line that differs: a warning that named nothing read the same for a
  // key's order as for another input shape.
  const std::vector<std::string> was = NetLines(mf.net), is = NetLines(job.net_text);
  size_t i = 0;
  while (i < was.size() && i < is.size() && was[i] == is[i]) ++i;
  if (was != is)
    std::fprintf(stderr, "warning: the network text of '%s' differs from this config's (%s); its weights match by "
                 "name and shape and are used\n", path.c_str(),
                 i < was.size() && i < is.size() ? ("its '" + was[i] + "' is '" + is[i] + "' here").c_str()
                 : i < was.size()                ? ("its '" + was[i] + "' is not in this config's").c_str()
                                                 : ("this config's '" + is[i] + "' is not in it").c_str());
  // As numbers, as the model holds them: seed = 03 is 3, and seed = -1 is 18446744073709551615
  // (both warned as other seeds at every continue=1).
  if (training && mf.meta.count("seed") && mf.meta.at("seed") != std::to_string(job.net.spec.seed))
    std::fprintf(stderr, "warning: '%s' was trained with seed = %s, this run has seed = %s\n", path.c_str(),
                 mf.meta.at("seed").c_str(), job.Get("seed", "0").c_str());
}
std::string ModelPath(const std::string& dir, int round) {
  char name[32];
  std::snprintf(name, sizeof name, "%04d.model", round);
  return (fs::path(dir) / name).string();
}
void WriteRoundModel(nn::ModelFile& mf, int round, uint64_t seed, const std::string& dir) {
  mf.meta["round"] = std::to_string(round);
  mf.meta["seed"] = std::to_string(seed);
  nn::WriteModelFile(ModelPath(dir, round), mf);
}


int RunTrain(Job& job) {
  const int dev = ParseDevice(job);
  TrainSetup s;
  s.finetune = job.Get("task", "train") == "finetune";
  s.num_round = int(job.GetInt("num_round", 10, 0, 99999999));
  s.max_round = int(job.GetInt("max_round", s.num_round, 0, 99999999));
  s.eval_train = job.GetSwitch("eval_train", true);  // cxxnet's default: the round line shows train-*
  s.eval_train_default = !job.global.count("eval_train");
  s.save_model = job.GetInt("save_model", 1, 0);
  s.model_dir = ModelDir(job);
  s.seed = job.net.spec.seed;  // read (and range-checked) with the net (job.cc)
  s.silent = job.GetSwitch("silent", false);
  // Batches between progress lines; also how many steps' losses a gpu run reads at once (readout.h).
  s.print_step = job.GetInt("print_step", 100, 1);
  s.update_period = int(job.GetInt("update_period", 1, 1));

  for (const IterBlock& b : job.iters)  // eval_train's figures are labelled "train" too
    UMBRA_CHECK(!(s.eval_train && b.role == "eval" && b.name == "train"), b.role_where,
                ": an eval block named 'train' and eval_train = 1 (", s.eval_train_default ? std::string("the default")
                : job.Where("eval_train"), ") both report as train-*; rename the block, or set eval_train = 0");
  s.train = job.Find("data");
  UMBRA_CHECK(s.train, "the config has no training iterator (data = train ... iter = end)");
  RefuseNamesOfTheRunsFiles(job);

  if (job.GetSwitch("test_io", false)) {  // cxxnet's test_io: only read the data, to time the input
    InitTrainingBlocks(job);
    Progress prog(s.silent, s.print_step, "");
    // The rounds a training run would take from start_counter (no model is read or written);
    // each says its time on stderr, and no `[N]` line (it has no figures: cxxnet printed none).
    const int start = int(job.GetInt("start_counter", 0, 0, 99999998)) + 1;
    for (int r = start; r <= std::min(s.num_round, start - 1 + s.max_round); ++r) {
      prog.StartRound(r);
      s.train->it->SetEpoch(r);
      s.train->it->BeforeFirst();
      long seen = 0;
      while (s.train->it->Next()) prog.Batch(seen += s.train->it->Value().valid, {});
      prog.EndRound({}, {}, /*results_line=*/false);
    }
    return 0;
  }
  if (dev >= 0) return TrainLoopGpu(job, s, dev);
  return TrainLoop<cpu>(job, s);
}

}  // namespace umbra::train
