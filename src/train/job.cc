// Config file + command line -> Job (job.h).
#include "src/train/job.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <iterator>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <utility>

#include "umbra/nn/metric.h"
#include "umbra/nn/updater.h"
#include "umbra/parse.h"
#include "umbra/suggest.h"

namespace umbra::train {
namespace {

// Keys the trainer itself reads (the tasks document them in --help).
const std::set<std::string> kTrainerKeys = {
    "task", "dev", "batch_size", "num_round", "max_round", "eval_train", "metric", "seed", "input_shape",
    "random_type", "update_period", "save_model", "model_dir", "model_in", "continue", "print_step",
    "silent", "test_io", "log", "extract_node_name", "output_format", "weight_filename", "weight_layer",
    "weight_tag", "weight_name", "extract_layer_name", "start_counter", "extra_data_num", "pred", "tf32_matmul",
    "cuda_graph", "layout", "fuse_relu", "fuse_add", "bf16_nodes"};
// Keys real cxxnet configs carry that mean nothing in umbra (cxxnet's MNIST examples write
// train_eval, which cxxnet ignored too; the others chose what umbra has no counterpart for): a
// note, where any other unknown key is an error (a typo would otherwise train with a default).
const std::map<std::string, std::string> kIgnoredCxxnetKeys = {
    {"train_eval", "cxxnet ignored it too (the key is eval_train)"},
    {"net_type", "umbra has one net implementation"},
    {"reset_net_type", "umbra has one net implementation"},
    {"index_offset", "cxxnet's mnist iterator offset the instance numbers it reported"},
    {"test_skipread", "a reading-speed test of cxxnet's batch adapter"},
    {"sync", "cxxnet's kind of synchronisation between devices (simple, its only one); umbra trains on one"}};
// For one of the cxxnet keys above: the note saying so, and true.
bool NotedAsIgnored(const std::string& where, const std::string& key) {
  const auto ignored = kIgnoredCxxnetKeys.find(key);
  if (ignored == kIgnoredCxxnetKeys.end()) return false;
  std::fprintf(stderr, "note: %s: key '%s' is ignored: %s\n", where.c_str(), key.c_str(), ignored->second.c_str());
  return true;
}
// A key of an iterator block (or block:key) its iterator does not take: a note for the cxxnet
// keys above, else an error naming the block's iterator and the nearest key it takes.
void UnknownIteratorKey(const std::string& where, const std::string& key, const IterBlock& b) {
  if (NotedAsIgnored(where, key)) return;
  std::vector<std::string> known;
  for (const io::KeyDoc& d : io::ListKeys(*b.it)) known.push_back(d.name);
  UMBRA_THROW(where, ": unknown key '", key, "': the ", b.role, " block's iterator (", b.type, ") does not take it",
              DidYouMean(key, known), " (umbra --help lists the keys of each)");
}
// A value block b's iterator took: where it was given (an error naming the value names that
// line) and, for image_mean, the file a pred block must find (InitIterator).
void TookValue(IterBlock& b, bool image_mean, const config::Entry& e) {
  b.values_at.push_back({e.key.substr(e.key.rfind(':') + 1), e.value, e.Where()});
  if (image_mean) b.image_mean = {e.value, e.Where()};
}
// A key the config file, or the command line, gives twice with different values (a copied
// line, num_round=1 ... num_round=2): the last is used, as in cxxnet, and a note says so, as for
// a layer's keys (netconfig.cc). A command-line pair replaces the file's value by design: no note.
void NoteRepeatedKey(const config::Entry& e, const config::Entry& earlier, const std::string& of) {
  if ((e.file == "<command line>") != (earlier.file == "<command line>") || e.value == earlier.value) return;
  std::fprintf(stderr, "note: %s: %s = %s replaces the earlier %s = %s%s at %s (the last value is used)\n",
               e.Where().c_str(), e.key.c_str(), e.value.c_str(), earlier.key.c_str(), earlier.value.c_str(),
               of.c_str(), earlier.Where().c_str());
}
// A training key given on the command line of a task that does not train (task = pred
// num_round=5 eta=0.1) did nothing, unsaid. In the file such keys are the training's, which the
// same config also runs: no note there.
void NoteTrainingKeysOutsideTraining(const Job& job) {
  const std::string task = job.Get("task", "train");
  if (task == "train" || task == "finetune") return;
  static const std::set<std::string> kTraining = {"continue", "num_round", "max_round", "save_model", "start_counter",
                                                  "eval_train", "update_period"};  // cuda_graph: its own note
  const std::vector<std::string> updater = nn::UpdaterParam::Decl().Names();
  for (const config::Entry& e : job.entries) {
    if (e.file != "<command line>") continue;
    // An updater key, global or scoped (fc1:lr, fc1:lr:gamma); not eps, which batch norm reads.
    const auto is_updater = [&](const std::string& k) { return std::ranges::find(updater, k) != updater.end(); };
    const std::string after = e.key.substr(e.key.find(':') + 1), leaf = e.key.substr(e.key.rfind(':') + 1);
    const bool updates = e.key != "eps" && leaf != "eps" &&
                         (is_updater(e.key) || is_updater(after) || (!nn::IsScheduleKey(after) && is_updater(leaf)));
    // get_weight reads a model file, on no device (dev=bogus passed unsaid); pred's loop says
    // its own word about cuda_graph (CheckDeviceKeys), get_weight's does not.
    const bool device = task == "get_weight" && (e.key == "dev" || e.key == "cuda_graph");
    if (!kTraining.count(e.key) && !updates && !device) continue;
    std::fprintf(stderr, "note: %s: %s = %s does nothing for task = %s (%s)\n", e.Where().c_str(), e.key.c_str(),
                 e.value.c_str(), task.c_str(),
                 device ? "it reads the model file, on no device" : updates ? "an updater key" : "a training key");
  }
}
// The same for keys of the output tasks given to another (umbra conf task=trian ... or no task
// with extract_node_name=fc1, output_format=xml): the net trained, unsaid.
void NoteOutputKeysOfOtherTasks(const Job& job) {
  const std::string task = job.Get("task", "train");
  static const std::map<std::string, std::set<std::string>> kReaders = {
      {"extract_node_name", {"extract"}},
      {"output_format", {"extract", "pred", "pred_raw", "get_weight"}},
      {"weight_layer", {"get_weight"}}, {"extract_layer_name", {"get_weight"}}, {"weight_tag", {"get_weight"}},
      {"weight_name", {"get_weight"}}, {"weight_filename", {"get_weight"}}};
  for (const config::Entry& e : job.entries) {
    const auto readers = kReaders.find(e.key);
    if (e.file != "<command line>" || readers == kReaders.end() || readers->second.count(task)) continue;
    if (e.key == "extract_node_name" && (task == "pred" || task == "pred_raw")) continue;  // their own note
    std::string by;
    for (const std::string& t : readers->second)
      by += (by.empty() ? "task = " : t == *readers->second.rbegin() ? " or " : ", ") + t;
    std::fprintf(stderr, "note: %s: %s = %s does nothing for task = %s (%s reads it)\n", e.Where().c_str(),
                 e.key.c_str(), e.value.c_str(), task.c_str(), by.c_str());
  }
}
// A training block that subtracts a mean image beside an image block that subtracts none (an
// eval or pred block without image_mean or mean_value): the net is evaluated, or predicts, on
// other inputs than it trained on (test-error 0.2 beside train-error 0.1 on the same images),
// unsaid, as in cxxnet.
void NoteMeanOfTrainingOnly(const Job& job) {
  const auto subtracts = [](const IterBlock& b) {
    return !b.image_mean.first.empty() || std::ranges::any_of(b.values_at, [](const IterBlock::Taken& t) {
      return t.key == "mean_value" || t.key == "mean_r" || t.key == "mean_g" || t.key == "mean_b";
    });
  };
  const auto train = std::ranges::find_if(job.iters, [](const IterBlock& b) { return b.role == "data"; });
  if (train == job.iters.end() || train->image_mean.first.empty()) return;
  for (const IterBlock& b : job.iters) {
    if (b.role == "data" || b.type.rfind("img", 0) != 0 || subtracts(b)) continue;
    std::fprintf(stderr, "note: %s: the %s block subtracts no mean image, but the training block subtracts '%s' (%s): "
                 "the net %s other inputs than it trained on; give it image_mean = %s\n", b.role_where.c_str(),
                 b.role == "pred" ? "pred" : b.name.c_str(), train->image_mean.first.c_str(),
                 train->image_mean.second.c_str(), b.role == "pred" ? "predicts from" : "is evaluated on",
                 train->image_mean.first.c_str());
  }
}
// An iterator's key by its main name: the other names an iterator takes for a key are documented
// as "another name for <key>" (csv's path_data, imgrec's image_bin, augmentation's min_scale), so
// that two names of one key given in one block are the same key given twice.
std::string MainName(const std::vector<io::KeyDoc>& keys, const std::string& key) {
  static const std::string kAlias = "another name for ";
  for (const io::KeyDoc& d : keys)
    if (d.name == key && d.doc.rfind(kAlias, 0) == 0) return d.doc.substr(kAlias.size());
  return key;
}

// The settings an iterator key (its main name) sets. Beside a key's other names (MainName),
// augmentation has keys that set one value in other words: divideby sets scale (to
// 1 / divideby), mean_value sets mean_r, mean_g and mean_b. A block's scale = 1 beside a
// command-line divideby=4 took the block's unsaid, where divideby = 1 there was an error.
std::set<std::string> SettingsOf(const std::string& k) {
  if (k == "divideby") return {"scale"};
  if (k == "mean_value") return {"mean_r", "mean_g", "mean_b"};
  return {k};
}
// Whether two keys set a setting in common (mean_g and mean_value do).
bool SetTheSame(const std::string& a, const std::string& b) {
  const std::set<std::string> x = SettingsOf(a), y = SettingsOf(b);
  return std::ranges::any_of(x, [&](const std::string& s) { return y.count(s) > 0; });
}
// Whether `later` sets every setting `earlier` did (mean_value after mean_g; not mean_g after
// mean_value, which keeps red and blue).
bool Replaces(const std::string& later, const std::string& earlier) {
  const std::set<std::string> x = SettingsOf(later), y = SettingsOf(earlier);
  return std::ranges::includes(x, y);
}
// Whether two keys' values give the settings they share the same value: scale = 0.5 and
// divideby = 2 do, and mean_value = 1,2,3 and mean_g = 2.
bool SameValue(const std::string& a, const std::string& va, const std::string& b, const std::string& vb) {
  if (a == b) return SameSetting(va, vb);
  if (a == "mean_value" || b == "mean_value") {  // against mean_r, mean_g or mean_b: that channel's
    const bool first = a == "mean_value";
    const std::string& all = first ? va : vb;
    const std::string& one = first ? b : a;
    const int channel = one == "mean_r" ? 0 : one == "mean_g" ? 1 : 2;
    std::string part = all;
    if (std::ranges::count(all, ',') == 2)
      for (int c = 0, from = 0; c <= channel; ++c) {
        const size_t to = all.find(',', size_t(from));
        part = all.substr(size_t(from), to == std::string::npos ? std::string::npos : to - size_t(from));
        from = int(to) + 1;
      }
    return SameSetting(part, first ? vb : va);
  }
  const auto scale = [](const std::string& k, const std::string& v) -> std::optional<double> {
    const auto x = ParseReal(v);
    return k == "divideby" && x && *x != 0 ? std::optional<double>(1 / *x) : x;
  };
  const auto x = scale(a, va), y = scale(b, vb);
  return x && y && std::abs(*x - *y) <= 1e-6 * std::abs(*x);
}

// metric[field,node] = name
MetricSpec ParseMetric(const config::Entry& e) {
  MetricSpec m{e.value, "", "label", e.Where()};
  if (e.key != "metric") {
    UMBRA_CHECK(e.key.back() == ']', e.Where(), ": malformed '", e.key, "' (metric[field,node])");
    // metric[field] (the net's output) or metric[field,node]
    const std::string in = e.key.substr(7, e.key.size() - 8);
    const auto comma = in.find(',');
    // Spaces around the names are the writer's layout, not part of them ("metric[label, 1]" on
    // the command line; a config file's names hold no blank, and its reader says so).
    const auto trim = [](std::string t) {
      t.erase(0, t.find_first_not_of(" \t"));
      t.erase(t.find_last_not_of(" \t") + 1);
      return t;
    };
    m.label_field = trim(in.substr(0, comma));
    if (comma != std::string::npos) m.node = trim(in.substr(comma + 1));
    // metric[label,] scored the net's output, as if no node were named.
    UMBRA_CHECK(comma == std::string::npos || !m.node.empty(), e.Where(), ": ", e.key,
                " names no node after the ','; write metric[label,node], or metric[label] for the net's output");
    // The data node is "0" in netconfig and "in" in the net; scoring the input is no metric.
    UMBRA_CHECK(m.node != "0" && m.node != "in", e.Where(), ": ", e.key, " names the net's input, which no layer "
                "computes; name a node a layer writes");
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
long Job::GetInt(const std::string& key, long dflt, long lo, long hi) const {
  auto it = global.find(key);
  if (it == global.end()) return dflt;
  const std::string& text = it->second.value;
  const auto v = ParseInteger(text);
  UMBRA_CHECK(v || SpellsInteger(text), it->second.Where(), ": ", key, " must be an integer, got '", text, "'");
  UMBRA_CHECK(v && *v >= lo && *v <= hi, it->second.Where(), ": ", key, " must be in [", lo, ", ", hi, "], got '", text,
              "'");
  return long(*v);
}
bool Job::GetSwitch(const std::string& key, bool dflt) const {
  const long v = GetInt(key, dflt ? 1 : 0);
  UMBRA_CHECK(v == 0 || v == 1, Where(key), ": ", key, " must be 0 or 1, got ", v);
  return v == 1;
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

// Calls f(); an umbra::Error from it is rethrown with `where` (file:line) in front.
template <typename F>
auto At(const std::string& where, F f) {
  try {
    return f();
  } catch (const Error& err) {
    UMBRA_THROW(where, ": ", err.message());
  }
}

std::string CxxnetTopNode(const nn::NetSpec& spec, const std::string& name, const std::string& where) {
  if (!name.starts_with("top[-") || !name.ends_with("]")) return name;
  std::vector<std::string> order = {"in"};
  for (const auto& x : spec.extra_inputs) order.push_back(x.first);
  std::set<std::string> seen(order.begin(), order.end());
  for (const nn::LayerSpec& l : spec.layers)
    for (std::string o : l.out) {
      while (o.ends_with("'")) o.pop_back();  // a rewrite in place run out of place: the same node
      if (seen.insert(o).second) order.push_back(o);
    }
  const auto k = ParseInteger(name.substr(5, name.size() - 6), 1, (long long)order.size());
  UMBRA_CHECK(k, where, ": extract_node_name = ", name, ": top[-k] needs k in 1 .. ", order.size(),
              " (the network's nodes, top[-1] the last)");
  return order[order.size() - size_t(*k)];
}

Job LoadJob(const std::string& path, const std::vector<std::string>& overrides) {
  Job job;
  job.entries = config::ParseConfigFile(path);
  UMBRA_CHECK(!job.entries.empty(), path, ": the config file holds no settings");
  // cxxnet skipped every pair whose value is `default` (its main's SetParam returned before
  // recording it): the key keeps the value it had, or its default. So here; a model_dir =
  // default trained into ./default.
  const auto is_default = [](const config::Entry& e) {
    if (e.value != "default") return false;
    std::fprintf(stderr, "note: %s: %s = default is skipped, as cxxnet skipped a pair whose value is 'default' "
                 "(%s keeps its value, or its default)\n", e.Where().c_str(), e.key.c_str(), e.key.c_str());
    return true;
  };
  std::erase_if(job.entries, is_default);
  // An unclosed section would swallow the command-line pairs: say so before appending them.
  const config::Entry* open_net = nullptr;
  for (const auto& e : job.entries)
    if (e.key == "netconfig") open_net = e.value == "start" ? &e : nullptr;
  UMBRA_CHECK(!open_net, open_net ? open_net->Where() : "", ": netconfig = start is never closed (netconfig = end)");
  std::string pred_file, pred_where;  // pred=FILE on the command line renames the pred block's output
  for (size_t i = 0; i < overrides.size(); ++i) {
    const std::string& a = overrides[i];
    const auto eq = a.find('=');
    UMBRA_CHECK(eq != std::string::npos && eq > 0, "command line argument ", i + 2, " '", a, "' is not key=value");
    // As a config file reads them: blanks around the name and the value dropped ("eta = 0.1" as
    // one argument), and one pair of quotes around the value ('model_dir="run 1"', which the shell
    // passed with its quotes: a folder named "run 1" with the quotes in its name, and eta='0.1' was
    // no number).
    const auto trim = [](std::string t) {
      const auto b = t.find_first_not_of(" \t"), e = t.find_last_not_of(" \t");
      return b == std::string::npos ? std::string() : t.substr(b, e - b + 1);
    };
    std::string value = trim(a.substr(eq + 1));
    if (value.size() >= 2 && (value[0] == '"' || value[0] == '\'') && value.back() == value[0] &&
        value.find(value[0], 1) == value.size() - 1)
      value = value.substr(1, value.size() - 2);
    const config::Entry e{trim(a.substr(0, eq)), value, "<command line>", int(i) + 2};
    UMBRA_CHECK(!e.key.empty(), "command line argument ", i + 2, " '", a, "' is not key=value");
    UMBRA_CHECK(e.key != "data" && e.key != "eval" && e.key != "iter" && e.key != "netconfig" &&
                    e.key.rfind("layer[", 0) != 0,
                e.Where(), ": '", e.key, "' cannot be given on the command line (blocks live in the config file)");
    UMBRA_CHECK(e.key != "pred" || !e.value.empty(), e.Where(), ": pred = needs a file name");
    if (is_default(e)) continue;
    if (e.key == "pred") pred_file = e.value, pred_where = e.Where();
    else job.entries.push_back(e);
  }
  // Pass 1: blocks, globals (in file order), metrics, the net text; block keys kept for pass 2.
  std::vector<std::vector<const config::Entry*>> block_keys;
  std::vector<const config::Entry*> scoped, globals;  // block:key pairs; plain globals
  bool in_iter = false, in_net = false, net_layers = false;  // net_layers: a layer since netconfig = start
  const config::Entry* pending = nullptr;
  for (const auto& e : job.entries) {
    UMBRA_CHECK(!pending || e.key == "iter", pending ? pending->Where() : "", ": '", pending ? pending->key : "",
                " = ", pending ? pending->value : "", "' is not followed by iter = <type>");
    if (e.key == "netconfig") {
      in_net = e.value == "start";
      net_layers = false;
      job.net_text += e.key + " = " + e.value + "\n";
      continue;
    }
    const bool layer = e.key.rfind("layer[", 0) == 0;
    UMBRA_CHECK(!layer || in_net, e.Where(), ": ", e.key, " outside netconfig = start ... netconfig = end");
    net_layers = net_layers || layer;
    // Keys after netconfig = start and before its first layer are globals, as in cxxnet (its
    // net config put them with the keys outside the section).
    if (in_net && net_layers) {
      job.net_text += (layer ? "" : "  ") + e.key + " = " + e.value + "\n";
      continue;
    }
    if (IsBlockRole(e.key) && !in_iter) {
      // pred = "" ran the whole prediction, then failed renaming its output to ''. An eval
      // block's name labels its figures in the tab-separated round line: empty, it printed
      // "-error", and a tab in it split the line's fields.
      UMBRA_CHECK(e.key != "pred" || !e.value.empty() || !pred_file.empty(), e.Where(), ": pred = needs a file name");
      UMBRA_CHECK(e.key != "eval" || !e.value.empty(), e.Where(), ": eval = needs a name (it labels the block's "
                  "figures: eval = test prints test-error)");
      UMBRA_CHECK(e.key != "eval" || e.value.find_first_of("\t\r\n\v\f") == std::string::npos, e.Where(), ": eval = '",
                  e.value, "': a tab or line break in the name would split the round line's tab-separated fields; "
                  "write it without one");
      pending = &e;
      continue;
    }
    if (e.key == "iter") {
      if (e.value == "end") {
        UMBRA_CHECK(in_iter, e.Where(), ": iter = end without an open iterator");
        in_iter = false;
      } else if (!in_iter) {
        UMBRA_CHECK(pending, e.Where(), ": iter = ", e.value, " without a data/eval/pred line before it");
        // One training and one pred block: a second would be opened, checked and never read. Eval
        // blocks may be several, with names of their own: the name labels their figures.
        const IterBlock* twice = nullptr;
        for (const IterBlock& b : job.iters)
          if (b.role == pending->key && (b.role != "eval" || b.name == pending->value)) twice = &b;
        UMBRA_CHECK(!twice, pending->Where(), ": a second '", pending->key, " = ",
                    pending->key == "eval" ? pending->value : "", "' block; the first is at ",
                    twice ? twice->role_where : "",
                    pending->key == "eval" ? " (each eval block needs a name of its own)"
                                           : " (only eval blocks may be several)");
        job.iters.push_back({pending->key, pending->value, e.Where(), At(e.Where(), [&] { return io::CreateIterator(e.value); })});
        job.iters.back().role_where = job.iters.back().name_where = pending->Where();
        if (pending->key == "pred" && !pred_file.empty())
          job.iters.back().name = pred_file, job.iters.back().name_where = pred_where;
        job.iters.back().type = e.value;
        block_keys.emplace_back();
        in_iter = true;
        pending = nullptr;
      } else {
        // A second source in one block is a missing iter = end far more often than a chain.
        const std::vector<std::string> sources = io::IteratorNames();
        std::string chains;
        for (const std::string& c : io::ChainNames()) chains += (chains.empty() ? "" : ", ") + c;
        UMBRA_CHECK(std::ranges::find(sources, e.value) == sources.end(), e.Where(), ": iter = ", e.value,
                    " inside the iterator block opened at ", job.iters.back().where,
                    "; close that block with iter = end first (only ", chains, " may follow an iterator in its block)");
        job.iters.back().it = At(e.Where(), [&] { return io::ChainIterator(e.value, std::move(job.iters.back().it)); });
        job.iters.back().type += ", " + e.value;
      }
      continue;
    }
    if (in_iter) {
      UMBRA_CHECK(!IsBlockRole(e.key), e.Where(), ": ", e.key, " = ", e.value, " inside the iterator block opened at ",
                  job.iters.back().where, "; close that block with iter = end first");
      block_keys.back().push_back(&e);
      continue;
    }
    if (e.key == "metric" || e.key.rfind("metric[", 0) == 0) {
      const MetricSpec m = ParseMetric(e);
      At(e.Where(), [&] { return nn::Metric(e.value).Get(); });  // an unknown metric name
      // The same metric again (metric=error on the command line of a config that has it) is
      // one column, not two.
      if (std::ranges::none_of(job.metrics, [&](const MetricSpec& o) {
            return o.name == m.name && o.node == m.node && o.label_field == m.label_field;
          }))
        job.metrics.push_back(m);
      continue;
    }
    // model_in = (nothing) clears a config's model_in from the command line: train from scratch.
    if (e.key == "model_in" && e.value.empty()) {
      job.global.erase(e.key);
      continue;
    }
    const auto colon = e.key.find(':');
    if (colon != std::string::npos && !At(e.Where(), [&] { return nn::UpdaterSettings().Set(e.key, e.value); })) {
      scoped.push_back(&e);
      continue;
    }
    // Once, the value in effect: input_shape=1,4,4 on the command line beside the file's kept
    // both lines, and every pred with the config alone warned of another network.
    if (e.key == "input_shape") {
      for (size_t at = 0; (at = job.net_text.find("input_shape = ", at)) != std::string::npos; ++at)
        if (at == 0 || job.net_text[at - 1] == '\n') {
          job.net_text.erase(at, job.net_text.find('\n', at) + 1 - at);
          break;
        }
      job.net_text += "input_shape = " + e.value + "\n";
    }
    if (const auto earlier = job.global.find(e.key); earlier != job.global.end())
      NoteRepeatedKey(e, earlier->second, "");
    job.global[e.key] = e;
    globals.push_back(&e);
  }
  UMBRA_CHECK(!pending, pending ? pending->Where() : "", ": '", pending ? pending->key : "", " = ",
              pending ? pending->value : "", "' is not followed by iter = <type>");
  UMBRA_CHECK(!in_iter, job.iters.empty() ? std::string("config") : job.iters.back().where,
              ": an iterator block is not closed with iter = end");
  UMBRA_CHECK(pred_file.empty() || job.Find("pred"), pred_where, ": pred = ", pred_file,
              " but the config has no pred block (pred = FILE, iter = ..., iter = end)");
  // cxxnet's task = extract_feature is extract writing binary rows (it wrote float32 rows and a
  // FILE.meta; here FILE.shape), unless output_format says otherwise.
  if (const auto t = job.global.find("task"); t != job.global.end() && t->second.value == "extract_feature") {
    t->second.value = "extract";
    if (!job.global.count("output_format"))
      job.global["output_format"] = config::Entry{"output_format", "bin", t->second.file, t->second.line};
  }

  NoteTrainingKeysOutsideTraining(job);
  NoteOutputKeysOfOtherTasks(job);
  // The trainer's switches that reach the iterators too are read as the trainer's first: silent
  // = 2 was "iterator key silent = '2' must be 0 or 1", seed = 1e3 "iterator key seed".
  for (const char* key : {"silent", "test_io"}) job.GetSwitch(key, false);
  job.GetInt("seed", 0, std::numeric_limits<long>::min(), std::numeric_limits<long>::max());

  // Pass 2: keys into iterators. Globals first (in file order), the block's own keys next,
  // command-line block:key last: a block's key is meant for its block. (cxxnet gave a block's
  // keys first and every global after them, so that a global won: a note says where they
  // differ.) A global is known if the trainer, an updater, a layer (as a default) or an
  // iterator uses it.
  std::set<std::string> used_by_iter;
  // netconfig's bound (a count of at most 9 digits), so that every check gives the same range.
  const long batch_size = job.GetInt("batch_size", 100, 1, 999999999);
  const std::string batch = std::to_string(batch_size);
  // Every block's batches are the net's: cxxnet's net read a block's batch_size too (every pair
  // reached it); here it failed later as "the iterator gives batches of (5,...) but input_shape
  // and batch_size give (100,...)", naming no key. `said` is how the error names the pair.
  const auto same_batch = [&](const config::Entry& e, const std::string& key, const std::string& said,
                              const char* advice) {
    UMBRA_CHECK(key != "batch_size" || ParseInteger(e.value) == std::optional<long long>(batch_size), e.Where(), ": ",
                said, ": every block's batches are the net's, batch_size = ", batch, " (", job.Where("batch_size"),
                "); ", advice);
  };
  // A random augmentation written at the top level reaches eval and pred blocks too (cxxnet's
  // rule), whose inputs it then changes from run to run: said once a key, naming the blocks,
  // unless the block sets the key itself (own or block:key) or rotate fixes the angle.
  static const std::set<std::string> kRandom = {"rand_crop", "rand_mirror", "max_rotate_angle", "max_shear_ratio",
                                                "max_aspect_ratio", "max_random_contrast", "max_random_illumination",
                                                "min_random_scale", "max_random_scale", "min_crop_size",
                                                "max_crop_size", "min_scale_ratio", "max_scale_ratio"};
  struct Reach {
    const config::Entry* e;
    size_t block;
    std::string key;  // the key's main name
  };
  std::vector<Reach> reaches;  // in the config's order
  std::vector<std::vector<io::KeyDoc>> docs(job.iters.size());  // each block's keys (main names and aliases)
  std::set<const config::Entry*> noted_globals;  // globals noted as replacing another key's setting
  for (size_t b = 0; b < job.iters.size(); ++b) {
    auto& it = *job.iters[b].it;
    it.SetParam("batch_size", batch);
    const std::vector<io::KeyDoc>& keys = docs[b] = io::ListKeys(it);
    const auto same_key = [&](const std::string& a, const std::string& k) {
      return SetTheSame(MainName(keys, a), MainName(keys, k));
    };
    // Whether entry e replaces every setting an earlier entry gave, with another value: said then.
    const auto replaces = [&](const config::Entry& earlier, const config::Entry& e) {
      const std::string a = MainName(keys, earlier.key), b = MainName(keys, e.key);
      return Replaces(b, a) && !SameValue(a, earlier.value, b, e.value);
    };
    for (const auto* e : globals)
      if (e->key != "batch_size" && At(e->Where(), [&] { return it.SetParam(e->key, e->value); })) {
        used_by_iter.insert(e->key);
        // Two globals that set one value by different keys (scale = 2 ... divideby = 4): the last
        // is used, as for one key given twice (noted in pass 1), said once.
        for (auto g = std::ranges::find(globals, e); g != globals.begin();)
          if (--g; (*g)->key != e->key && same_key((*g)->key, e->key)) {
            if (replaces(**g, *e) && noted_globals.insert(e).second)
              NoteRepeatedKey(*e, **g, "");
            break;
          }
        TookValue(job.iters[b], same_key(e->key, "image_mean"), *e);
        // A block's own key wins over a global, which made a command-line filename=other.csv
        // train on the file's data without a word (an error below); in a config file, where
        // cxxnet let the global win, a note.
        // The block's last entry of the key is what it uses, and the last global what cxxnet's took.
        const auto own_last =
            std::ranges::find_if(block_keys[b].rbegin(), block_keys[b].rend(),
                                 [&](const config::Entry* k) { return same_key(k->key, e->key); });
        const auto own = own_last == block_keys[b].rend() ? block_keys[b].end() : std::prev(own_last.base());
        const bool last_global = std::none_of(std::ranges::find(globals, e) + 1, globals.end(),
                                              [&](const config::Entry* g) { return same_key(g->key, e->key); });
        if (e->file != "<command line>" && own != block_keys[b].end() && last_global &&
            !SameValue(MainName(keys, (*own)->key), (*own)->value, MainName(keys, e->key), e->value))
          std::fprintf(stderr, "note: %s: the %s block's own %s = %s overrides the global %s = %s (%s) there "
                       "(cxxnet applied global keys after a block's: it took %s = %s)\n", (*own)->Where().c_str(),
                       job.iters[b].role == "data" ? "training" : job.iters[b].role.c_str(), (*own)->key.c_str(),
                       (*own)->value.c_str(), e->key.c_str(), e->value.c_str(), e->Where().c_str(), e->key.c_str(),
                       e->value.c_str());
        if (job.iters[b].role != "data" && kRandom.count(MainName(keys, e->key)))
          reaches.push_back({e, b, MainName(keys, e->key)});
        UMBRA_CHECK(e->file != "<command line>" || own == block_keys[b].end(), e->Where(), ": ", e->key, " = ",
                    e->value, " is overridden by the ", job.iters[b].role == "data" ? "training" : job.iters[b].role,
                    " block's own ", own == block_keys[b].end() ? "" : (*own)->key, " (",
                    own == block_keys[b].end() ? "" : (*own)->Where(), "); write ",
                    job.iters[b].role == "pred" ? "pred" : job.iters[b].name, ":", e->key, "=", e->value,
                    " to set it in that block");
      }
    for (size_t k = 0; k < block_keys[b].size(); ++k) {
      const config::Entry* e = block_keys[b][k];
      for (size_t j = k; j-- > 0;)  // the latest earlier one: what this replaces
        if (same_key(block_keys[b][j]->key, e->key)) {
          const config::Entry& was = *block_keys[b][j];
          if (replaces(was, *e))
            NoteRepeatedKey(*e, was, " of the " + job.iters[b].role + " block");
          break;
        }
      same_batch(*e, e->key, "batch_size = " + e->value + " in the " + job.iters[b].role + " block",
                 "write batch_size outside the blocks");
      if (!At(e->Where(), [&] { return it.SetParam(e->key, e->value); }))
        UnknownIteratorKey(e->Where(), e->key, job.iters[b]);
      TookValue(job.iters[b], same_key(e->key, "image_mean"), *e);
    }
  }
  std::vector<const config::Entry*> unnamed;  // no iterator's: a layer's name? (after the net)
  for (const auto* e : scoped) {
    const std::string scope = e->key.substr(0, e->key.find(':')), key = e->key.substr(e->key.find(':') + 1);
    const IterBlock* named = nullptr;
    bool used = false;
    for (auto& b : job.iters) {
      if (b.name != scope && (b.role != "pred" || scope != "pred")) continue;
      // An eval block named pred (or as the training block) made pred:filename=x set both.
      const auto says = [](const IterBlock& x) {
        return "the " + (x.role == "data" ? std::string("training") : x.role) + " block" +
               (x.role == "eval" ? " named '" + x.name + "'" : "") + " (" + x.role_where + ")";
      };
      // (The pred block's name is its output file: pred = train beside data = train.)
      const bool an_eval = b.role == "eval" || (named && named->role == "eval");
      UMBRA_CHECK(!named, e->Where(), ": ", e->key, " names two blocks, ", named ? says(*named) : "", " and ", says(b),
                  an_eval ? "; give the eval block a name of its own" : "; name the pred output otherwise");
      named = &b;
      same_batch(*e, key, e->key + " = " + e->value, "give batch_size alone");
      if (At(e->Where(), [&] { return b.it->SetParam(key, e->value); })) {
        used = true;
        TookValue(b, key == "image_mean", *e);
      }
    }
    if (!named) unnamed.push_back(e);
    else if (!used) UnknownIteratorKey(e->Where(), key, *named);
  }
  // The notes of random keys that reached an eval or pred block, now that block:key is read:
  // not where the block sets the key itself (its own key, or block:key).
  const auto block_sets = [&](size_t b, const std::string& main) {
    const auto named = [&](const config::Entry* k) {
      const std::string scope = k->key.substr(0, k->key.find(':'));
      return (scope == job.iters[b].name || (scope == "pred" && job.iters[b].role == "pred")) &&
             MainName(docs[b], k->key.substr(k->key.find(':') + 1)) == main;
    };
    return std::ranges::any_of(scoped, named) ||
           std::ranges::any_of(block_keys[b], [&](const config::Entry* k) { return MainName(docs[b], k->key) == main; });
  };
  // The value of global key `main` that block b took (the last given), or `otherwise`.
  const auto took = [&](size_t b, const std::string& main, double otherwise) {
    for (const Reach& r : reaches)
      if (r.block == b && r.key == main) otherwise = std::strtod(r.e->value.c_str(), nullptr);
    return otherwise;
  };
  std::vector<std::pair<const config::Entry*, std::string>> notes;
  for (const Reach& r : reaches) {
    if (block_sets(r.block, r.key)) continue;
    // A range is random where its two ends differ: the scale (default 1), the crop's side and
    // cxxnet's earlier scale ratio (0, none: an end of 0 takes the other's value).
    const std::string rest = r.key.substr(std::min<size_t>(4, r.key.size()));
    if ((r.key.starts_with("min_") || r.key.starts_with("max_")) &&
        (rest == "random_scale" || rest == "crop_size" || rest == "scale_ratio")) {
      const std::string lo_key = "min_" + rest, hi_key = "max_" + rest;
      const double none = rest == "random_scale" ? 1 : 0;
      double lo = took(r.block, lo_key, none), hi = took(r.block, hi_key, none);
      if (lo <= 0) lo = hi;
      if (hi <= 0) hi = lo;
      if (block_sets(r.block, lo_key) || block_sets(r.block, hi_key) || lo == hi) continue;
    } else if (std::strtod(r.e->value.c_str(), nullptr) == 0) {
      continue;
    }
    // A fixed rotate (global, or the block's) replaces the random angle.
    if (r.key == "max_rotate_angle" && (job.global.count("rotate") || block_sets(r.block, "rotate"))) continue;
    auto n = std::ranges::find_if(notes, [&](const auto& x) { return x.first == r.e; });
    if (n == notes.end()) n = notes.insert(n, {r.e, ""});
    const IterBlock& blk = job.iters[r.block];
    n->second += (n->second.empty() ? "" : ", ") + (blk.role == "pred" ? std::string("pred") : blk.name);
  }
  for (const auto& [e, blocks] : notes)
    std::fprintf(stderr, "note: %s: %s = %s, a global key, reaches the %s block%s too (as in cxxnet), whose inputs it "
                 "then changes at random; put it inside the training block to augment the training data only\n",
                 e->Where().c_str(), e->key.c_str(), e->value.c_str(), blocks.c_str(),
                 blocks.find(", ") == std::string::npos ? "" : "s");

  NoteMeanOfTrainingOnly(job);
  job.net = config::NetFromConfig(job.entries, batch_size);
  // Without a metric line: error, or rmse where every loss of the net is a regression's
  // (l2_loss, lp_loss): error on a regression's targets (1.57) refused them after a round.
  if (job.metrics.empty()) {
    const auto is = [&](auto pred) { return std::ranges::any_of(job.net.spec.layers, pred); };
    const bool regression =
        is([](const nn::LayerSpec& l) { return l.type == "l2_loss" || l.type == "lp_loss"; }) &&
        !is([](const nn::LayerSpec& l) { return l.type == "softmax" || l.type == "multi_logistic"; });
    job.metrics.push_back({regression ? "rmse" : "error", "", "label", ""});
  }
  // Global keys that reach a layer of this net (stride, pad, slope) make the net as much as its
  // own lines do: without them in the model's text, pred with a config that lacked them computed
  // another net, unwarned (WarnIfOtherNetwork compares the texts). Not the keys of the initial
  // weights or of speed (every cxxnet config sets random_type, its pred configs often not), nor
  // those that reach no layer (NetConfig::idle_defaults): with them, pred warned of another
  // network that was not.
  static const std::set<std::string> kNotTheFunction = {"init", "random_type", "init_sigma", "init_uniform",
                                                        "init_bias", "init_slope", "random_slope", "temp_col_max", "cudnn_workspace",
                                                        "cudnn_search", "algo", "tf32", "dtype"};
  for (const auto& [k, v] : job.net.spec.defaults)
    if (!kNotTheFunction.count(k) && !job.net.idle_defaults.count(k)) job.net_text += k + " = " + v + "\n";
  for (const auto* e : unnamed) {
    const std::string scope = e->key.substr(0, e->key.find(':')), key = e->key.substr(e->key.find(':') + 1);
    const bool layer =
        std::ranges::any_of(job.net.spec.layers, [&](const nn::LayerSpec& l) { return l.name == scope; });
    // A layer named lr or eta: lr:momentum is its key (the schedule has none such), and was
    // called "no updater key".
    const std::vector<std::string> updater_keys = nn::UpdaterParam::Decl().Names();
    const bool updater_leaf = std::ranges::find(updater_keys, key.substr(key.rfind(':') + 1)) != updater_keys.end();
    UMBRA_CHECK(!layer || !updater_leaf || (scope != "lr" && scope != "eta"), e->Where(), ": ",
                AmbiguousScope(e->key, scope, /*tag=*/false));
    UMBRA_CHECK(!layer, e->Where(), ": '", e->key, "': '", key, "' is no updater key; the keys of layer '", scope,
                "' itself go inside its definition in netconfig", DidYouMean(key, updater_keys));
    if (scope == "lr" || scope == "eta") {
      // cxxnet's MNIST_continue.conf writes lr:eta, lr:momentum, lr:wd, which cxxnet ignored.
      UMBRA_CHECK(std::ranges::find(updater_keys, key) == updater_keys.end(), e->Where(), ": '", e->key,
                  "': the ", scope, ": prefix is for the schedule's keys; write ", key,
                  " (cxxnet ignored this key, so its configs ran without it)");
      UMBRA_THROW(e->Where(), ": '", e->key, "' is no learning-rate schedule key", DidYouMean(e->key, updater_keys),
                  " (lr:schedule, lr:gamma, lr:alpha, lr:factor, lr:step, lr:minimum_lr, lr:start_epoch)");
    }
    // A weight tag's key (wmat:wdd) near an updater key: the typo, rather than the scope.
    const std::string near = DidYouMean(key, updater_keys);
    UMBRA_CHECK(near.empty(), e->Where(), ": '", e->key, "': '", key, "' is no updater key", near,
                " (nor is '", scope, "' an iterator block or layer)");
    UMBRA_THROW(e->Where(), ": '", e->key, "': no iterator block or layer is named '", scope, "'");
  }
  job.net.spec.seed =
      uint64_t(job.GetInt("seed", 0, std::numeric_limits<long>::min(), std::numeric_limits<long>::max()));
  // layout = nhwc: channels-last nodes where cuDNN takes them (NetSpec::channels_last; dev = gpu).
  const std::string layout = job.Get("layout", "nchw");
  UMBRA_CHECK(layout == "nchw" || layout == "nhwc", job.Where("layout"), ": layout must be nchw or nhwc, got '",
              layout, "'");
  job.net.spec.channels_last = layout == "nhwc";
  // fuse_relu = 0: every relu runs as written (NetSpec::fuse_relu; by default a relu goes into
  // the layer before it where that layer can apply it).
  job.net.spec.fuse_relu = job.GetSwitch("fuse_relu", true);
  // fuse_add = 0: every eltwise_sum runs as written (NetSpec::fuse_add; by default a two-input
  // sum right after a batch_norm on the expression path is added in the batch norm's pass).
  job.net.spec.fuse_add = job.GetSwitch("fuse_add", true);
  // bf16_nodes = 1: activations in bfloat16 between the layers that take them (NetSpec::bf16_nodes;
  // dev = gpu, with dtype = bf16 convolutions).
  job.net.spec.bf16_nodes = job.GetSwitch("bf16_nodes", false);
  // Globals some layer declares (random_type, init_sigma) are the net's defaults, not unknown.
  std::set<std::string> layer_defaults;
  for (auto& [k, v] : job.net.spec.defaults) layer_defaults.insert(k);
  for (auto& [k, e] : job.global) {
    const bool updater = At(e.Where(), [&] { return nn::UpdaterSettings().Set(k, e.value); });
    // extra_data_shape[k] (with extra_data_num) went into the net's extra inputs (netconfig.cc).
    if (kTrainerKeys.count(k) || used_by_iter.count(k) || layer_defaults.count(k) || updater ||
        k.rfind("extra_data_shape[", 0) == 0)
      continue;
    if (NotedAsIgnored(e.Where(), k)) continue;
    UMBRA_CHECK(!k.starts_with("label_vec["), e.Where(), ": ", k, " = ", e.value, ": cxxnet's named label fields "
                "(label_vec, a loss's target) are not in umbra: a loss reads the whole label of each instance");
    std::vector<std::string> known(kTrainerKeys.begin(), kTrainerKeys.end());
    for (const std::string& l : config::LayerAndUpdaterKeys()) known.push_back(l);
    for (const IterBlock& b : job.iters)
      for (const io::KeyDoc& d : io::ListKeys(*b.it)) known.push_back(d.name);
    UMBRA_THROW(e.Where(), ": unknown key '", k, "': no task, updater, layer or iterator takes it",
                DidYouMean(k, known), " (umbra --help lists the keys)");
  }
  return job;
}

namespace {
// The line of the key an iterator's error names: the key itself, as a word (max_aspect_ratio
// must be ..., min_crop_size 40 > max_crop_size 30: the first named), else its value quoted (a
// path it cannot open; the iterator's own name quotes its file, which is no culprit unless
// nothing else is named), else the block's iter line. The last given of a key is the one in
// effect.
std::string WhereItNames(const IterBlock& b, const std::string& message) {
  // Keys are looked for outside quotes: a path ('shuffle/gone.png') names no key. A quote opens
  // after no letter (cxxnet's is no quote) and closes before none.
  const auto word = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; };
  std::string unquoted = message;
  for (size_t open = 0; (open = unquoted.find('\'', open)) != std::string::npos;) {
    if (open > 0 && word(unquoted[open - 1])) {
      ++open;
      continue;
    }
    size_t close = open + 1;
    while ((close = unquoted.find('\'', close)) != std::string::npos && close + 1 < unquoted.size() &&
           word(unquoted[close + 1]))
      ++close;
    if (close == std::string::npos) break;
    std::fill(unquoted.begin() + std::ptrdiff_t(open), unquoted.begin() + std::ptrdiff_t(close) + 1, ' ');
    open = close + 1;
  }
  const auto word_at = [&](const std::string& w) {
    const std::string& message = unquoted;
    for (size_t at = message.find(w); at != std::string::npos; at = message.find(w, at + 1))
      if ((at == 0 || !word(message[at - 1])) && (at + w.size() == message.size() || !word(message[at + w.size()])))
        return at;
    return std::string::npos;
  };
  size_t first = std::string::npos;
  std::string where;
  for (auto v = b.values_at.rbegin(); v != b.values_at.rend(); ++v)
    if (const size_t at = word_at(v->key); at < first) first = at, where = v->where;
  if (!where.empty()) return where;
  // The value, quoted, after the iterator's name ("imgrec iterator ('x.rec'): ..."), then anywhere.
  std::string rest = message;
  if (const size_t open = message.find(" iterator ('"); open != std::string::npos && open < 16)
    if (const size_t close = message.find("')", open); close != std::string::npos) rest = message.substr(close + 2);
  for (const std::string* text : {&std::as_const(rest), &message})
    for (auto v = b.values_at.rbegin(); v != b.values_at.rend(); ++v)
      if (!v->value.empty() && text->find("'" + v->value + "'") != std::string::npos) return v->where;
  return b.where;
}
}  // namespace

void InitIterator(IterBlock& b) {
  // An image iterator computes a missing mean image over its own data: right for the training
  // block, a silent wrong answer for pred (every input shifted by the predicted data's own mean,
  // said only in a note), where a typo or another working folder misses the training's file.
  const auto& [mean, mean_where] = b.image_mean;
  std::error_code ec;
  // An eval block is opened after the training block (InitTrainingBlocks), whose mean is made
  // by then: one computed over the eval data (when the eval block came first in the config,
  // training subtracted it too) is refused as pred's.
  UMBRA_CHECK(b.role == "data" || mean.empty() || std::filesystem::exists(mean, ec), mean_where, ": the ",
              b.role == "pred" ? "pred" : b.name, " block's image_mean '", mean, "' ",
              ec ? "cannot be looked at (" + ec.message() + ")" : "does not exist",
              "; it is the training's mean image, which the training block computes into its own image_mean ",
              "(give that path)");
  try {
    b.it->Init();
  } catch (const Error& e) {
    const std::string block = b.role == "data" ? "training" : b.role == "pred" ? "pred" : b.name;
    UMBRA_THROW(WhereItNames(b, e.message()), ": the ", block, " block's iterator: ", e.message());
  }
}

std::string AmbiguousScopeWith(const std::string& key, const std::string& first, const std::string& also) {
  return "updater key '" + key + "' is ambiguous: '" + first + "' is the name of a layer (whose own updater keys, in " +
         "its block or as LAYER:key, are stored as " + first + ":key) and " + also + "; rename the layer";
}
std::string AmbiguousScope(const std::string& key, const std::string& first, bool tag) {
  return AmbiguousScopeWith(key, first,
                            tag ? "a weight tag of this network (" + first + ":key sets every '" + first + "' weight)"
                                : "the prefix of the learning-rate schedule's keys (" + first + ":gamma)");
}

}  // namespace umbra::train
