// A cxxnet config file read as a job for the umbra CLI: globals (last value wins, each with its
// file:line), the metric list, iterator blocks (data/eval/pred) built into DataIterators, and the
// network. Tasks (train_task.cc, predict_task.cc) run a Job; progress.h prints and logs rounds.
// Keys: cxxnet's, listed in kTrainerKeys; unknown globals are errors naming file:line (a few
// cxxnet keys that mean nothing here get a note: kIgnoredCxxnetKeys).
#pragma once

#include <map>
#include <memory>
#include <limits>
#include <string>
#include <vector>

#include "umbra/config/netconfig.h"
#include "umbra/io/iterator.h"

namespace umbra::train {

struct IterBlock {
  std::string role;  // data, eval or pred
  std::string name;  // cxxnet's block name: train, test, or the pred output file
  std::string where;
  std::unique_ptr<io::DataIterator> it;
  std::string role_where;  // of its "data|eval|pred = name" line
  std::string name_where;  // where name was given: that line, or the command line's pred = FILE
  std::string type;        // its iter lines: "mnist", "imgrec, threadbuffer"
  // Each key the iterator took, in order, without a block's scope (train:shuffle is shuffle):
  // an error naming the key (max_aspect_ratio must be ...) or its value (a path it cannot open)
  // names that key's line, which may be on the command line.
  struct Taken {
    std::string key, value, where;
  };
  std::vector<Taken> values_at;
  // (value, where) of its image_mean, if it took one: a pred block must find that file.
  std::pair<std::string, std::string> image_mean;
};

struct MetricSpec {
  std::string name;          // error, logloss, rmse, rec@N
  std::string node;          // the node evaluated; empty: the net's output
  std::string label_field;   // "label" (the only label field of umbra's iterators)
  std::string where;         // "file:line" of its metric line; empty for the default metric
};

struct Job {
  std::vector<config::Entry> entries;
  std::map<std::string, config::Entry> global;
  std::vector<MetricSpec> metrics;
  std::vector<IterBlock> iters;
  config::NetConfig net;
  std::string net_text;  // the netconfig section, input_shape and the layers' global keys, as written

  /// The global value of `key`, or `dflt`.
  std::string Get(const std::string& key, const std::string& dflt) const;
  /// The global integer `key`, or `dflt`; a value that is no integer, or outside [lo, hi], is an
  /// error naming the key and its line (never a silently wrapped or saturated number).
  long GetInt(const std::string& key, long dflt, long lo = std::numeric_limits<int>::min(),
              long hi = std::numeric_limits<int>::max()) const;
  /// A switch (eval_train, continue, silent, fuse_relu, bf16_nodes...): 0 or 1, anything else an error
  /// naming the key and its line.
  bool GetSwitch(const std::string& key, bool dflt) const;
  /// "file:line" of a global key, or "<default>".
  std::string Where(const std::string& key) const;
  /// The first iterator block with this role, or nullptr.
  IterBlock* Find(const std::string& role);
  const IterBlock* Find(const std::string& role) const { return const_cast<Job*>(this)->Find(role); }
};

/// Opens block b's iterator (Init); an error names the block ("conf:9: the test block's iterator:
/// mnist iterator needs path_img and path_label", which named no block of three).
void InitIterator(IterBlock& b);

/// Reads the config and the command-line pairs (later wins), builds iterators and the network
/// description. Iterators get every global key they declare (cxxnet passed globals down), then
/// their block's keys, then `block:key` pairs from the command line.
Job LoadJob(const std::string& path, const std::vector<std::string>& overrides);

/// The node a config means by `name`: cxxnet configs name a node rewritten "in place" by a
/// layer that umbra runs out of place (softmax) by its old name; the netconfig reader calls the
/// rewrite name' (name'' ...), and the newest version is meant.
template <typename NetT>
std::string ResolveNode(const NetT& net, std::string name) {
  UMBRA_CHECK(net.HasNode(name), "no node named '", name, "' in the network");
  while (net.HasNode(name + "'")) name += "'";
  return name;
}

/// cxxnet's extract_node_name = top[-k]: the k-th last node of the network (top[-1] its output),
/// as cxxnet numbered them: the input, the extra inputs, then each new output in layer order (a
/// layer in place makes none). Any other name is returned as it is.
std::string CxxnetTopNode(const nn::NetSpec& spec, const std::string& name, const std::string& where);

using config::IsBlockRole;

/// model_dir (default "models"), and the training log's path: log, by default
/// model_dir/log.jsonl.
std::string ModelDir(const Job& job);
std::string LogPath(const Job& job);

/// Why updater key `key` is ambiguous, whose scope `first` is both a layer's name and a weight
/// tag of the net (`tag`) or the schedule's prefix (lr, eta): a layer named lr lost its own keys
/// (lr:momentum read as a schedule key), bias:lr = 0 froze a layer named bias whole.
std::string AmbiguousScope(const std::string& key, const std::string& first, bool tag);
/// The same, where `first` is also what `also` says (another layer's weight).
std::string AmbiguousScopeWith(const std::string& key, const std::string& first, const std::string& also);

/// A round's model file name in a model_dir: NNNN.model (4 to 9 digits).
bool IsRoundModelName(const std::string& file_name);
/// The lock file in model_dir that a training run holds (ModelDirLock): no output takes its name.
inline constexpr const char* kModelDirLockName = ".umbra.lock";
/// Whether `path` is such a name in the job's model_dir.
bool NamedAsRoundModel(const Job& job, const std::string& path);

/// Refuses, before any file is written, files the run itself would make under the names of
/// its other files: a log named as a round's model (the model replaced the log), or an
/// image_mean still to be computed over a round's model name, the log or the pred output.
void RefuseNamesOfTheRunsFiles(const Job& job);

/// Refuses, before a task writes its result to `out` (named by `out_key` at `where`), to replace a
/// file the job reads — the config itself, or a file some other key names (model_in, a data
/// path, an image list, a mean image) — any umbra model file, record file, mean image or training
/// log (the config's own by name, any other by its first line); and to write a new file named as a round's model in model_dir
/// (continue=1 would take it for one): a slip in a pred or weight_filename line would otherwise
/// lose a file or a run.
void RefuseOverwritingInput(const Job& job, const std::string& out, const std::string& out_key,
                            const std::string& where);

/// dev = cpu (-1), gpu or gpu:N (N). A gpu without CUDA in the build, no visible device, an
/// index past the devices, or several devices (cxxnet's gpu:0-3) are errors naming dev's line.
int ParseDevice(const Job& job);

/// The tasks; each returns the process exit code.
int RunTrain(Job& job);    // task = train | finetune
int RunPredict(Job& job);  // task = pred | pred_raw | extract
int RunGetWeight(Job& job);

}  // namespace umbra::train
