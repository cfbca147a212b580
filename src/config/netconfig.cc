// netconfig section -> NetSpec (netconfig.h). Follows cxxnet's NetConfig::Configure (nnet_config.h)
// for what each form means; differs where cxxnet was silent: unknown layer keys, unknown input
// nodes, duplicate layer names and malformed declarations are errors naming file:line here.
// Values are checked on a probe layer of the declared type while parsing, so a bad value also
// names file:line; shapes are checked later, when nn::Net is built, and name the layer.
#include "umbra/config/netconfig.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <set>
#include <tuple>

#include "umbra/nn/registry.h"
#include "umbra/nn/updater.h"
#include "umbra/parse.h"
#include "umbra/suggest.h"

namespace umbra::config {
namespace {

using Registry = nn::LayerRegistry<cpu, float>;

std::vector<std::string> Split(const std::string& s, char sep) {
  std::vector<std::string> out;
  size_t b = 0;
  for (size_t e; (e = s.find(sep, b)) != std::string::npos; b = e + 1) out.push_back(s.substr(b, e - b));
  out.push_back(s.substr(b));
  return out;
}
// A count as configs write them: digits only, and at most 9 of them, so that it fits an int and
// no size, shape or node id wraps on its way to an error that would name something else.
bool IsNumber(const std::string& s) {
  return !s.empty() && s.size() <= 9 && s.find_first_not_of("0123456789") == std::string::npos;
}
// cxxnet's learning-rate key (the updater's alias of lr), stored as lr.
std::string UpdaterKey(const std::string& k) { return k == "eta" ? "lr" : k; }

// The keys a layer's block takes: its own and the updater's (for that layer's weights).
std::vector<std::string> KeysOfLayerBlock(const nn::Layer<cpu, float>& layer) {
  std::vector<std::string> keys = layer.KeyNames();
  for (const std::string& k : nn::UpdaterParam::Decl().Names()) keys.push_back(k);
  return keys;
}

// "c,h,w" with positive integers.
Shape<3> ParseCHW(const Entry& e) {
  const auto v = Split(e.value, ',');
  // A size of ten digits or more was "must be c,h,w", as if the form were wrong.
  const auto digits = [](const std::string& p) { return !p.empty() && p.find_first_not_of("0123456789") == p.npos; };
  UMBRA_CHECK(v.size() != 3 || !digits(v[0]) || !digits(v[1]) || !digits(v[2]) ||
                  (IsNumber(v[0]) && IsNumber(v[1]) && IsNumber(v[2])),
              e.Where(), ": ", e.key, " = ", e.value, ": each of c, h and w must be at most 999999999");
  UMBRA_CHECK(v.size() == 3 && IsNumber(v[0]) && IsNumber(v[1]) && IsNumber(v[2]), e.Where(), ": ", e.key,
              " must be c,h,w, got '", e.value, "'");
  const Shape<3> s = Shape3(std::atol(v[0].c_str()), std::atol(v[1].c_str()), std::atol(v[2].c_str()));
  UMBRA_CHECK(s[0] > 0 && s[1] > 0 && s[2] > 0, e.Where(), ": ", e.key, " must be positive, got '", e.value, "'");
  return s;
}

// Extra data inputs a net may declare: far more than any net has, few enough that declaring them
// (a node each) is instant.
constexpr int kMaxExtraInputs = 1000;

// The parser's state; one Entry at a time, in file order.
class Builder {
 public:
  Builder(const std::vector<Entry>& entries, index_t batch) : batch_(batch) {
    // The file the whole-config errors name (the first entry not from the command line).
    for (const Entry& e : entries)
      if (file_.empty() && e.file != "<command line>") file_ = e.file + ": ";
    // The nodes layer[a->b] declares as new outputs: layer[+1] numbers around them. cxxnet gave
    // layer[+1]'s output a name of its own ("!node-after-3"), so a later layer[2->4] made a new
    // node 4, where here it met the +1 layer's node '4' ("already produced").
    for (const Entry& e : entries) {
      const size_t arrow = e.key.find("->");
      if (e.key.rfind("layer[", 0) != 0 || e.key.back() != ']' || arrow == std::string::npos) continue;
      const auto in = Split(e.key.substr(6, arrow - 6), ',');
      for (const std::string& n : Split(e.key.substr(arrow + 2, e.key.size() - arrow - 3), ','))
        if (std::ranges::find(in, n) == in.end()) claimed_.insert(n);
    }
    // Extra data nodes (in_1, in_2, ...) may be read by layers declared before extra_data_num is.
    for (const Entry& e : entries)
      if (e.key == "extra_data_num") {
        UMBRA_CHECK(IsNumber(e.value) && std::atoi(e.value.c_str()) <= kMaxExtraInputs, e.Where(),
                    ": extra_data_num must be a count up to ", kMaxExtraInputs, ", got '", e.value, "'");
        num_extra_ = std::atoi(e.value.c_str());
        extra_where_ = e.Where() + ": ";
      }
    produced_.insert("in");
    for (int k = 1; k <= num_extra_; ++k) produced_.insert("in_" + std::to_string(k));
  }

  void Add(const Entry& e) {
    // Iterator blocks (data|eval|pred = name ... iter = end) are the trainer's, as in cxxnet's main.
    if (iter_open_) {
      UMBRA_CHECK(e.key != "netconfig", e.Where(), ": netconfig inside the iterator block opened at ",
                  iter_open_->Where(), " (missing 'iter = end')");
      if (e.key == "iter" && e.value == "end") iter_open_ = nullptr;
      if (e.key == "input_shape" && !block_shape_) block_shape_ = &e, iter_role_ = iter_open_->key;
      return;
    }
    if (e.key == "netconfig") {
      UMBRA_CHECK(e.value == "start" || e.value == "end", e.Where(), ": netconfig must be start or end, got '",
                  e.value, "'");
      UMBRA_CHECK((e.value == "start") != in_net_, e.Where(), ": netconfig = ", e.value, " without a matching ",
                  e.value == "start" ? "end" : "start");
      // An empty section failed as the net was built, naming no line (when it was the only one).
      UMBRA_CHECK(e.value == "start" || section_layers_, net_open_ ? net_open_->Where() : e.Where(),
                  ": the netconfig section (to ", e.Where(), ") has no layer");
      AddPendingRelu();
      section_layers_ = false;
      in_net_ = e.value == "start";
      saw_net_ = true;
      net_open_ = in_net_ ? &e : nullptr;
    } else if (!in_net_ || (!section_layers_ && e.key.rfind("layer[", 0) != 0)) {
      // Keys after netconfig = start and before its first layer are globals, as in cxxnet (its
      // net config kept them with the keys outside the section).
      Global(e);
    } else if (e.key.rfind("layer[", 0) == 0) {
      section_layers_ = true;
      AddPendingRelu();
      Declare(e);
    } else {
      LayerKey(e);
    }
  }

  NetConfig Finish() {
    // A refused value first: it is an error at its line in any config, with a net or without.
    for (const auto& [e, rejected, updater] : layer_refused_)
      UMBRA_CHECK(updater && (e->key != "eps" || UsesAdam()), e->Where(), ": ", Refusal(*e, rejected),
                  " (a key outside netconfig is the default of every layer that takes it",
                  updater ? "; no weight uses adam)" : ")");
    UMBRA_CHECK(saw_net_, file_, "the config has no netconfig = start ... netconfig = end section");
    for (const Entry* e : both_) CheckOneOwner(*e);
    // The defaults that reach no layer (NetConfig::idle_defaults; the last entry of a key decides,
    // as its value does), said of the layer keys alone: an updater key (eps, grad_scale) that
    // reaches no layer is the updater's.
    for (const auto* list : {&both_, &layer_defaults_})
      for (const Entry* e : *list) {
        std::string own;
        const bool idle = !ReachesALayer(*e, &own);
        if (idle && list == &layer_defaults_) NoteIfNoLayerTakes(*e, own);
        // grad_scale = 2 where every loss sets its own scales every gradient by 2 through the
        // updater; in cxxnet, whose updaters had no grad_scale, it did nothing.
        if (idle && list == &both_ && !own.empty() && (e->key != "eps" || UsesAdam()))
          std::fprintf(stderr, "note: %s: %s = %s goes to the updater alone: every layer of this net that takes it "
                       "sets its own (%s)%s\n", e->Where().c_str(), e->key.c_str(), e->value.c_str(), own.c_str(),
                       e->key == "grad_scale" ? "; it scales every gradient (in cxxnet, whose updater had no "
                                                "grad_scale, it did nothing)" : "");
        if (idle) nc_.idle_defaults.insert(e->key);
        else nc_.idle_defaults.erase(e->key);
      }
    NoteIdleUpdaterKeys();
    NoteTagKeysBeforeGlobal();
    NoteMomentumPastCxxnetsCap();
    UMBRA_CHECK(!in_net_, net_open_->Where(), ": netconfig = start is never closed");
    // cxxnet's net read input_shape in an iterator block too (every pair reached it): there it is
    // the iterator's alone.
    UMBRA_CHECK(c_ > 0, block_shape_ ? block_shape_->Where() + ": " : file_, "the config sets no input_shape (c,h,w)",
                block_shape_ ? " outside its iterator blocks; this one is the " + iter_role_ +
                                   " block's iterator's alone (cxxnet's net read it too): write input_shape = " +
                                   block_shape_->value + " outside the blocks"
                             : std::string());
    UMBRA_CHECK(int(extra_shapes_.size()) == num_extra_, extra_where_, "extra_data_num = ", num_extra_, " but ",
                extra_shapes_.size(), " extra_data_shape[...] given");
    // A batch no host memory holds failed in the allocator, naming no key.
    const double gib = 4.0 * double(batch_) * double(c_) * double(h_) * double(w_) / double(1 << 30);
    const double host_gib = double(detail::HostMemoryBytes()) / double(1 << 30);  // what tensors are checked against
    // Named by the line at fault: input_shape's where one instance alone passes the memory, else
    // batch_size's (batch_size = 10^8 of 28x28 images named the input_shape line).
    const bool instance_fits = 4.0 * double(c_) * double(h_) * double(w_) / double(1 << 30) <= host_gib;
    UMBRA_CHECK(host_gib <= 0 || gib <= host_gib,
                instance_fits && !batch_where_.empty()
                    ? batch_where_ + ": batch_size = " + std::to_string(batch_) + " with input_shape = " +
                          std::to_string(c_) + "," + std::to_string(h_) + "," + std::to_string(w_) + " (" +
                          input_where_ + ")"
                    : input_where_ + ": input_shape = " + std::to_string(c_) + "," + std::to_string(h_) + "," +
                          std::to_string(w_) + " with batch_size = " + std::to_string(batch_),
                " makes batches of ", gib, " GiB, more than ", detail::HostMemoryLimit().what, " ", host_gib,
                " GiB of memory");
    nc_.spec.input_shape = Shape4(batch_, c_, h_, w_);
    for (int k = 0; k < num_extra_; ++k) {
      const Shape<3>& s = extra_shapes_[k];
      nc_.spec.extra_inputs.push_back({"in_" + std::to_string(k + 1), Shape4(batch_, s[0], s[1], s[2])});
    }
    return std::move(nc_);
  }

 private:
  // A global updater key that the global settings leave unread (lr:gamma under the factor
  // schedule, which reads lr:factor; momentum under adam; beta1, beta2 or eps without adam) did
  // nothing, unsaid: a note, as for layer keys. Only where no layer or weight sets its own
  // updater or schedule, under which it could be read.
  void NoteIdleUpdaterKeys() const {
    const auto scoped = [](const std::string& k) { return !nn::IsScheduleKey(k) && k.find(':') != std::string::npos; };
    nn::UpdaterSettings global;
    for (const auto& [k, v] : nc_.updater) {
      const std::string leaf = k.substr(k.rfind(':') + 1);
      if (scoped(k) && (leaf == "updater" || leaf == "schedule")) return;
      if (!scoped(k)) global.Set(k, v);
    }
    const nn::UpdaterParam p = global.For("a.b");
    for (size_t i = 0; i < nc_.updater.size(); ++i) {
      const auto& [k, v] = nc_.updater[i];
      if (scoped(k)) continue;
      // A key a layer declares too (batch norm's eps) that reaches a layer is read there.
      const bool layer_reads = std::any_of(both_.begin(), both_.end(), [&](const Entry* e) {
        return e->key == k && !nc_.idle_defaults.count(k);
      });
      if (layer_reads) continue;
      const std::string why = p.KeyWithoutEffect(k);
      if (!why.empty())
        std::fprintf(stderr, "note: %s: %s = %s has no effect: %s\n", nc_.updater_where[i].c_str(), k.c_str(),
                     v.c_str(), why.c_str());
    }
  }

  // cxxnet held momentum at its final_momentum, 0.9 unless set, unsaid (its updater's param.h):
  // a config's momentum = 0.95 trained at 0.9 there. Here the momentum written is trained: a
  // note, where no final_momentum is given. (Its momentum schedule keys are not taken: the
  // schedule added its step at every update, so momentum met the cap at once.)
  void NoteMomentumPastCxxnetsCap() const {
    // Only where no final_momentum reaches the key's scope (given globally or for that scope),
    // and where adam, which reads no momentum, is not every weight's updater.
    const auto given = [&](const std::string& key) {
      return std::ranges::any_of(nc_.updater, [&](const auto& kv) { return kv.first == key; });
    };
    const bool all_adam = std::ranges::any_of(nc_.updater, [](const auto& kv) {
      return kv.first == "updater" && kv.second == "adam";
    }) && std::ranges::none_of(nc_.updater, [](const auto& kv) { return kv.first.ends_with(":updater"); });
    if (all_adam || given("final_momentum")) return;
    for (size_t i = 0; i < nc_.updater.size(); ++i) {
      const auto& [k, v] = nc_.updater[i];
      if (k != "momentum" && !k.ends_with(":momentum")) continue;
      if (k != "momentum" && given(k.substr(0, k.size() - 8) + "final_momentum")) continue;
      const auto m = ParseReal(v);
      if (!m || *m <= 0.9) continue;
      std::fprintf(stderr, "note: %s: %s = %s: cxxnet held momentum at most final_momentum, 0.9 unless set, so a "
                   "cxxnet run of this config trained at 0.9; umbra trains at %s as written (final_momentum = 0.9 "
                   "gives cxxnet's)\n", nc_.updater_where[i].c_str(), updater_written_[i].c_str(), v.c_str(),
                   v.c_str());
      return;
    }
  }

  // A global key given after the same key for a weight tag (bias:wd = 0, then wd = 0.5): the
  // tag's key wins here, as the more specific, wherever given; cxxnet applied the two in order,
  // so that its biases took 0.5. A config written for cxxnet trains otherwise here: a note,
  // where the last of the two is the global one and the values differ. The same within a
  // layer's keys (wmat:lr = 0.7, then lr = 0.3 in its block: cxxnet's wmat took 0.3). (A
  // layer's keys came after the global ones in cxxnet too: no difference there.)
  void NoteTagKeysBeforeGlobal() const {
    const auto canonical = [](const std::string& k) {
      return k.rfind("eta:", 0) == 0 ? "lr:" + k.substr(4) : UpdaterKey(k);
    };
    const auto is_layer = [&](const std::string& name) {
      return std::ranges::any_of(nc_.spec.layers, [&](const nn::LayerSpec& l) { return l.name == name; });
    };
    std::map<std::string, size_t> last_global;  // leaf -> index of its last global key
    std::map<std::pair<std::string, std::string>, size_t> last_tag;  // (tag, leaf) -> its last key's index
    for (size_t i = 0; i < nc_.updater.size(); ++i) {
      const std::string& k = nc_.updater[i].first;
      const auto colon = k.find(':');
      if (nn::IsScheduleKey(k) || colon == std::string::npos) {
        last_global[canonical(k)] = i;
        continue;
      }
      const std::string scope = k.substr(0, colon), rest = k.substr(colon + 1);
      const auto colon2 = rest.find(':');
      if (is_layer(scope) && colon2 != std::string::npos && !nn::IsScheduleKey(rest)) {
        // layer:tag:key (wmat:lr in a layer's block) against a later layer:key (lr there).
        last_tag[{scope + "." + rest.substr(0, colon2), canonical(rest.substr(colon2 + 1))}] = i;
        continue;
      }
      if (is_layer(scope)) {
        last_global[scope + "." + canonical(rest)] = i;
        continue;
      }
      if (colon2 != std::string::npos && !nn::IsScheduleKey(rest)) continue;
      last_tag[{scope, canonical(rest)}] = i;
    }
    for (const auto& [tag_leaf, j] : last_tag) {
      // A layer's weight (layer.tag) against the layer's own key; a tag against the global one.
      // (A layer's name may hold a dot, a tag none.)
      const auto dot = tag_leaf.first.rfind('.');
      const auto g = last_global.find(dot == std::string::npos ? tag_leaf.second
                                                               : tag_leaf.first.substr(0, dot) + "." + tag_leaf.second);
      if (g == last_global.end() || g->second < j || SameSetting(nc_.updater[g->second].second, nc_.updater[j].second))
        continue;
      const size_t i = g->second;
      std::fprintf(stderr, "note: %s: %s = %s comes after %s = %s (%s): the %s weights keep %s = %s, the more "
                   "specific key (cxxnet applied the keys in order: there they took %s)\n",
                   nc_.updater_where[i].c_str(), updater_written_[i].c_str(), nc_.updater[i].second.c_str(),
                   updater_written_[j].c_str(), nc_.updater[j].second.c_str(), nc_.updater_where[j].c_str(),
                   tag_leaf.first.c_str(), updater_written_[j].c_str(), nc_.updater[j].second.c_str(),
                   nc_.updater[i].second.c_str());
    }
  }

  // A key outside netconfig and outside iterator blocks.
  void Global(const Entry& e) {
    if (IsBlockRole(e.key)) {
      iter_open_ = &e;
    } else if (e.key == "input_shape") {
      const Shape<3> s = ParseCHW(e);
      c_ = s[0], h_ = s[1], w_ = s[2];
      input_where_ = e.Where();
    } else if (e.key == "batch_size") {
      // The value as the job reads it (ParseInteger): "+50" and " 50" are 50, not "outside [1, 999999999]".
      const auto b = ParseInteger(e.value);
      UMBRA_CHECK(b || SpellsInteger(e.value), e.Where(), ": batch_size = '", e.value, "' is not an integer");
      UMBRA_CHECK(b && *b >= 1 && *b <= 999999999, e.Where(), ": batch_size must be in [1, 999999999], got '",
                  e.value, "'");
      batch_ = index_t(*b);
      batch_where_ = e.Where();
    } else if (e.key.rfind("extra_data_shape[", 0) == 0) {
      extra_shapes_.push_back(ParseCHW(e));
      if (extra_where_.empty()) extra_where_ = e.Where() + ": ";
    } else if (e.key != "extra_data_num") {
      const bool updater = SetsUpdater(e, e.key);
      if (updater) AddUpdater(UpdaterKey(e.key), e);
      // cxxnet gave every key outside netconfig to every layer (random_type = xavier, init_sigma):
      // defaults, overridden by the layer's own keys.
      if (AnyLayerDeclares(e, updater)) {
        nc_.spec.defaults.push_back({e.key, e.value});
        (updater ? both_ : layer_defaults_).push_back(&e);
      }
    }
  }

  // Whether a global `key` would reach layer `ls` as its default: not a share (its weights are
  // another layer's), and not a layer that sets the key itself.
  static bool TakesDefault(const nn::LayerSpec& ls, const std::string& key) {
    return ls.type != "share" && std::ranges::none_of(ls.params, [&](const auto& kv) { return kv.first == key; });
  }

  // How a fresh layer of `type` meets the entry (LayerRegistry::Probe).
  using Takes = Registry::Takes;
  static Takes Probe(const std::string& type, const Entry& e, std::string* why = nullptr,
                     const std::string& name = "") {
    return Registry::Get().Probe(type, e.key, e.value, why, name);
  }

  // Whether a global layer key reaches a layer of this net as its default (a value some layer's
  // type refuses counts: the net's set-up says so); where not, *own gets the layers that take it
  // but set their own.
  bool ReachesALayer(const Entry& e, std::string* own) const {
    std::map<std::string, Takes> by_type;  // one probe a type
    for (const nn::LayerSpec& ls : nc_.spec.layers) {
      if (ls.type == "share") continue;
      auto it = by_type.find(ls.type);
      if (it == by_type.end()) it = by_type.emplace(ls.type, Probe(ls.type, e)).first;
      if (it->second == Takes::kRefused) return true;
      if (it->second == Takes::kNo) continue;
      if (TakesDefault(ls, e.key)) return true;
      *own += (own->empty() ? "" : ", ") + ls.name;
    }
    return false;
  }

  // A global layer key that no layer of this net takes (threshold = 0.3 with no dropout, a
  // kernel_size with no conv), or that every layer taking it sets itself (nhidden = 32 on the
  // command line of a net whose fullc layers each give nhidden), did nothing, unsaid: a note
  // (cxxnet's configs carry such keys from net to net, so not an error).
  void NoteIfNoLayerTakes(const Entry& e, const std::string& own) const {
    if (own.empty())
      std::fprintf(stderr, "note: %s: %s = %s is a layer key, but no layer of this net takes it: it does nothing\n",
                   e.Where().c_str(), e.key.c_str(), e.value.c_str());
    else
      std::fprintf(stderr, "note: %s: %s = %s is a layer key, but every layer of this net that takes it sets its own "
                   "(%s): it does nothing\n", e.Where().c_str(), e.key.c_str(), e.value.c_str(), own.c_str());
  }

  // A global key of both the updater and a layer of this net that does not set it itself (adam's
  // eps and batch_norm's, grad_scale of the updater and of a loss) would reach both: adam's
  // eps = 1e-8 made batch norm's 1e-8, and grad_scale = 2 scaled gradients by 4. An error,
  // saying how to give it to one; eps only where some weight uses adam (sgd and nag ignore it).
  void CheckOneOwner(const Entry& e) const {
    if (e.key == "eps" && !UsesAdam()) return;
    for (size_t i = 0; i < nc_.spec.layers.size(); ++i) {
      const nn::LayerSpec& ls = nc_.spec.layers[i];
      if (!TakesDefault(ls, e.key)) continue;
      // A value this type refuses: the net reports it.
      UMBRA_CHECK(Probe(ls.type, e) != Takes::kYes, e.Where(), ": ", e.key, " = ", e.value,
                  " would go to the updater and to the ", ls.type, " layer declared at ", ls.where,
                  "; set it inside that layer's definition for the layer, or as wmat:", e.key, ", bias:", e.key,
                  " or LAYER:", e.key, " for the updater");
    }
  }

  // True when `key` is an updater key; a bad value is an error naming file:line.
  static bool SetsUpdater(const Entry& e, const std::string& key) {
    bool set = false;
    try {
      set = nn::UpdaterSettings().Set(key, e.value);
    } catch (const Error& err) {
      UMBRA_THROW(e.Where(), ": ", err.message());
    }
    // adam's beta1/beta2 are cxxnet's, the new gradient's weights: 0.9 there is the usual 0.1,
    // a PyTorch user's likely slip. Said once, where it is written.
    const std::string leaf = key.substr(key.rfind(':') + 1);
    if (set && (leaf == "beta1" || leaf == "beta2") && std::atof(e.value.c_str()) > 0.5)
      std::fprintf(stderr,
                   "note: %s: %s = %s is cxxnet's adam %s: the new gradient's weight, so the usual %s is %g "
                   "(PyTorch's betas (0.9, 0.999) are beta1 = 0.1, beta2 = 0.001 here)\n",
                   e.Where().c_str(), e.key.c_str(), e.value.c_str(), leaf.c_str(), leaf.c_str(),
                   1.0 - std::atof(e.value.c_str()));
    return set;
  }

  bool UsesAdam() const {
    return std::ranges::any_of(nc_.updater, [](const auto& kv) {
      return (kv.first == "updater" || kv.first.ends_with(":updater")) && kv.second == "adam";
    });
  }

  // True when some registered layer type takes the key with this value; an error (with
  // file:line) when every type that declares it rejects the value. Where the updater took the
  // value, that waits for the end of the config (Finish): adam's eps = 1e-30 is the updater's
  // alone, but without adam eps is batch norm's. CheckOneOwner settles a value both would take.
  // Other keys (dev, metric[label], task...) are not ours.
  bool AnyLayerDeclares(const Entry& e, bool updater) {
    std::string rejected;
    for (const std::string& type : Registry::Get().Names()) {
      std::string why;
      const Takes t = Probe(type, e, &why);
      if (t == Takes::kYes) return true;
      if (t == Takes::kRefused && rejected.empty()) rejected = why;  // the first type (names are sorted)
    }
    // Judged at the end (Finish), when the net's layers are known: the refusal of one of them.
    if (!rejected.empty()) layer_refused_.push_back({&e, rejected, updater});
    return false;
  }

  // Why a global value every layer type refuses is an error: the refusal of the net's first
  // layer that would take it as its default (named, with its line); else that of the first
  // layer type of this net that takes the key, whose layers all set their own (nhidden = abc on
  // the command line of a net of fullc layers was blamed on a fixconn layer, the first type by
  // name, "no layer of this net takes nhidden"); else the first type's (`rejected`), said to be
  // no layer of this net's (algo = bogus was blamed on an avg_pooling layer of a net without one).
  std::string Refusal(const Entry& e, const std::string& rejected) const {
    for (const nn::LayerSpec& ls : nc_.spec.layers) {
      if (!TakesDefault(ls, e.key)) continue;
      std::string why;
      if (Probe(ls.type, e, &why, ls.name) == Takes::kRefused) return why + " (declared at " + ls.where + ")";
    }
    std::string first_why, own;
    for (const nn::LayerSpec& ls : nc_.spec.layers) {
      std::string why;
      if (ls.type == "share" || Probe(ls.type, e, &why) != Takes::kRefused) continue;
      if (first_why.empty()) first_why = why;
      own += (own.empty() ? "" : ", ") + ls.name;
    }
    if (!own.empty())
      return first_why + "; every layer of this net that takes " + e.key + " sets its own (" + own + ")";
    return rejected + "; no layer of this net takes " + e.key;
  }

  // Node 0 is the net's input, "in", until a layer that cannot run in place rewrites it
  // (layer[0->0] = conv): later layers then read that layer's output, "in'".
  // (The input may be written 0 or in: one name for both.)
  std::string Node(const std::string& n) const {
    const std::string canon = n == "0" ? "in" : n;
    auto it = rename_.find(canon);
    return it == rename_.end() ? canon : it->second;
  }

  // layer[...] = type[:name] | share[name][:name]
  void Declare(const Entry& e) {
    UMBRA_CHECK(e.key.back() == ']' && e.key.size() > 7, e.Where(), ": malformed layer declaration '", e.key, "'");
    const std::string spec = e.key.substr(6, e.key.size() - 7);
    nn::LayerSpec ls;
    const auto colon = e.value.find(':');
    ls.type = e.value.substr(0, colon);
    ls.name = colon == std::string::npos ? "" : e.value.substr(colon + 1);
    // fullc: named the layer fullc_0 unsaid (a finetune then matched none of its weights).
    UMBRA_CHECK(colon == std::string::npos || !ls.name.empty(), e.Where(), ": layer[", spec, "] = ", e.value,
                ": no name after the ':'; write type:name, or the type alone");
    // flatten:a:b named a layer "a:b", which no LAYER:key (the updater's per-layer keys) can name.
    UMBRA_CHECK(ls.name.find(':') == std::string::npos, e.Where(), ": layer name '", ls.name,
                "' holds a ':', which separates a layer's name from a key (LAYER:key); one type:name");
    // cxxnet's relu_max_pooling pooled the relu of its input: the relu of the max pooling (relu
    // is monotone, and after it a window's padding changes nothing), a max_pooling layer and an
    // in-place relu after it (AddPendingRelu, once the pooling layer's keys are read).
    relu_after_ = ls.type == "relu_max_pooling";
    if (relu_after_) ls.type = "max_pooling";
    UMBRA_CHECK(ls.type != "insanity_max_pooling", e.Where(), ": cxxnet's insanity_max_pooling (max pooling of "
                "randomly shifted cells in training) is not in umbra; max_pooling is its test-time form");
    std::string probe_type = ls.type;
    if (ls.type.rfind("share", 0) == 0) {
      // cxxnet: share[tag] applies layer `tag` again with its weights and keys.
      UMBRA_CHECK(ls.type.size() > 7 && ls.type[5] == '[' && ls.type.back() == ']', e.Where(),
                  ": a share layer names the layer whose weights it uses: share[name], got '", ls.type, "'");
      const std::string source = ls.type.substr(6, ls.type.size() - 7);
      auto it = layer_index_.find(source);
      UMBRA_CHECK(it != layer_index_.end(), e.Where(), ": ", ls.type, ": no earlier layer is named '", source, "'");
      const nn::LayerSpec& src = nc_.spec.layers[it->second];
      UMBRA_CHECK(src.type != "share", e.Where(), ": ", ls.type, ": '", source,
                  "' is itself a share layer; name the original layer");
      probe_type = src.type;
      ls.type = "share";
      ls.params = {{"source", source}};
      relu_after_ = relu_pools_.count(source) > 0;  // a share of a relu_max_pooling: its relu too
    }
    try {
      probe_ = Registry::Get().Create(probe_type);
    } catch (const Error& err) {
      // Lists the known types; relu_max_pooling is read here, no registered type.
      UMBRA_THROW(e.Where(), ": ", err.message(), " (and relu_max_pooling: cxxnet's max_pooling with a relu)");
    }

    if (spec[0] == '+') {
      const auto parts = Split(spec.substr(1), ':');
      UMBRA_CHECK(IsNumber(parts[0]) && parts.size() <= 2 && (parts.size() == 1 || !parts[1].empty()), e.Where(),
                  ": malformed layer[", spec, "] (forms: +0, +1, +1:node)");
      const bool inplace = std::atoi(parts[0].c_str()) == 0;
      UMBRA_CHECK(!(inplace && parts.size() == 2), e.Where(), ": layer[", spec,
                  "]: +0 runs in place and takes no output name");
      // cxxnet: the chain continues from the last layer's single output.
      UMBRA_CHECK(!top_.empty(), e.Where(), ": layer[", spec,
                  "] follows a layer with several outputs; name the input: layer[in->out]");
      ls.in = {top_};
      while (!inplace && parts.size() == 1 && claimed_.count(std::to_string(next_id_))) ++next_id_;
      ls.out = {inplace ? top_ : parts.size() > 1 ? parts[1] : std::to_string(next_id_)};
    } else {
      const auto arrow = spec.find("->");
      UMBRA_CHECK(arrow != std::string::npos, e.Where(), ": layer[", spec, "] needs 'in->out' or '+k'");
      ls.in = Split(spec.substr(0, arrow), ',');
      ls.out = Split(spec.substr(arrow + 2), ',');
      // layer[0->1->2] made a node named "1->2", and the error came a line later.
      UMBRA_CHECK(spec.find("->", arrow + 2) == std::string::npos, e.Where(), ": malformed layer[", spec,
                  "]: one arrow, in->out (several nodes separated by commas)");
    }
    for (auto& n : ls.in) {
      UMBRA_CHECK(!n.empty(), e.Where(), ": layer[", spec, "]: empty node name");
      n = Node(n);
      UMBRA_CHECK(produced_.count(n), e.Where(), ": layer[", spec, "]: input node '", n,
                  "' is not the output of an earlier layer");
    }
    for (auto& n : ls.out) {
      UMBRA_CHECK(!n.empty(), e.Where(), ": layer[", spec, "]: empty node name");
      // layer[0->1]] made a node "1]" and +1:a,b one "a,b", which no later layer could name: the
      // error came at the next layer, which was right.
      UMBRA_CHECK(n.find_first_of("[],") == std::string::npos, e.Where(), ": malformed layer[", spec, "]: node name '",
                  n, "' holds a '", n[n.find_first_of("[],")], "'",
                  spec[0] == '+' && n.find(',') != std::string::npos ? " (+1:node takes one node)" : "");
      if (IsNumber(n)) next_id_ = std::max(next_id_, std::atoi(n.c_str()) + 1);
    }
    top_ = ls.out.size() == 1 ? ls.out[0] : "";
    const std::vector<std::string> written = ls.out;  // the names as the config gives them
    // In place where the layer cannot run in place: a fresh node that later layers see instead.
    if (ls.in.size() == 1 && ls.out.size() == 1 && ls.in[0] == Node(ls.out[0]) && !probe_->AllowInplace()) {
      const std::string fresh = Node(ls.out[0]) + "'";
      // A node the config named so (in'): the error was "only an in-place layer may rewrite a
      // node", on an in-place line.
      UMBRA_CHECK(!produced_.count(fresh), e.Where(), ": layer[", spec, "]: ", ls.type, " cannot rewrite node '",
                  ls.out[0], "' in place, and the name its output takes, '", fresh, "', is already a node of this ",
                  "net; rename that node");
      rename_[ls.out[0] == "0" ? "in" : ls.out[0]] = fresh;
      ls.out[0] = fresh;
    } else {
      for (auto& n : ls.out) n = Node(n);
    }
    const bool inplace = ls.in.size() == 1 && ls.out.size() == 1 && ls.out[0] == ls.in[0];
    for (size_t j = 0; j < ls.out.size(); ++j) {
      const std::string& n = ls.out[j];
      // A node the config names b' where umbra named one so (a layer that cannot run in place
      // rewrote b), as the other order is refused above.
      const auto renamed = std::ranges::find_if(rename_, [&](const auto& kv) { return kv.second == written[j]; });
      UMBRA_CHECK(inplace || !produced_.count(n) || renamed == rename_.end(), e.Where(), ": layer[", spec, "]: node '",
                  n, "' is the name umbra gave the output of a layer that rewrote node '", renamed->first,
                  "' but could not run in place; rename this node");
      UMBRA_CHECK(inplace || !produced_.count(n), e.Where(), ": layer[", spec, "]: node '", n,
                  "' is already produced; only an in-place layer (layer[a->a]) may rewrite a node");
      produced_.insert(n);
    }
    if (ls.name.empty()) {
      ls.name = ls.type + "_" + std::to_string(nc_.spec.layers.size());
      nc_.unnamed.insert(ls.name);
    }
    auto [it, fresh_name] = layer_index_.insert({ls.name, nc_.spec.layers.size()});
    UMBRA_CHECK(fresh_name, e.Where(), ": layer name '", ls.name, "' is already used at ",
                nc_.spec.layers[it->second].where);
    probe_->set_name(ls.name);
    ls.where = e.Where();
    if (relu_after_ && ls.type != "share") relu_pools_.insert(ls.name);
    nc_.spec.layers.push_back(ls);
  }

  // The relu of a relu_max_pooling declared last (Declare), after it.
  void AddPendingRelu() {
    if (!relu_after_) return;
    relu_after_ = false;
    const nn::LayerSpec& pool = nc_.spec.layers.back();
    nn::LayerSpec relu{.type = "relu", .name = pool.name + "@relu", .in = pool.out, .out = pool.out, .params = {},
                       .where = pool.where};
    auto [it, fresh_name] = layer_index_.insert({relu.name, nc_.spec.layers.size()});
    UMBRA_CHECK(fresh_name, relu.where, ": relu_max_pooling '", pool.name, "' is a max_pooling and a relu named '",
                relu.name, "', a name already used at ", nc_.spec.layers[it->second].where);
    nc_.spec.layers.push_back(std::move(relu));
  }

  // An updater setting given twice (eta then lr; lr twice in a layer's block) took the last value
  // unsaid, where a repeated layer key or global key gets a note: one here too, unless job.cc
  // gives it (the same global key twice). A command-line value replaces the file's by design.
  void AddUpdater(const std::string& key, const Entry& e, bool in_layer = false) {
    const auto canonical = [](const std::string& k) {
      std::string out;
      for (size_t b = 0; b <= k.size();) {
        const size_t c = std::min(k.find(':', b), k.size());
        const std::string part = k.substr(b, c - b);
        out += (b ? ":" : "") + (part == "eta" ? std::string("lr") : part);
        b = c + 1;
      }
      return out;
    };
    const bool cli = e.file == "<command line>";
    const auto from_cli = [&](size_t i) { return nc_.updater_where[i].rfind("<command line>:", 0) == 0; };
    // job.cc notes a global key against its last entry of the same spelling, where both are
    // the file's or both the command line's and the values differ (eta, lr, eta: the second eta
    // is its note, not a second one here).
    for (size_t i = nc_.updater.size(); !in_layer && i-- > 0;)
      if (updater_written_[i] == e.key && nc_.updater[i].first == key) {  // a global one, as written
        if (from_cli(i) == cli && nc_.updater[i].second != e.value) return Append(key, e);
        break;
      }
    for (size_t i = nc_.updater.size(); i-- > 0;) {
      if (canonical(nc_.updater[i].first) != canonical(key)) continue;
      if (from_cli(i) == cli && !SameSetting(nc_.updater[i].second, e.value)) {
        const std::string of = in_layer ? " of layer '" + nc_.spec.layers.back().name + "'" : "";
        std::fprintf(stderr, "note: %s: %s = %s replaces the earlier %s = %s%s at %s (the last value is used)\n",
                     e.Where().c_str(), e.key.c_str(), e.value.c_str(), updater_written_[i].c_str(),
                     nc_.updater[i].second.c_str(), of.c_str(), nc_.updater_where[i].c_str());
      }
      break;
    }
    Append(key, e);
  }
  void Append(const std::string& key, const Entry& e) {
    nc_.updater.push_back({key, e.value});
    nc_.updater_where.push_back(e.Where());
    updater_written_.push_back(e.key);
  }

  // A key after layer[...]: the layer's own, or a per-layer updater override.
  void LayerKey(const Entry& e) {
    UMBRA_CHECK(!nc_.spec.layers.empty(), e.Where(), ": key '", e.key, "' before the first layer of netconfig");
    nn::LayerSpec& ls = nc_.spec.layers.back();
    UMBRA_CHECK(ls.type != "share", e.Where(), ": key '", e.key, "' on share layer '", ls.name,
                "': a share layer uses the keys of the layer it shares ('", ls.params[0].second, "'); set them there");
    bool declared = false;
    try {
      declared = probe_->SetParam(e.key, e.value);
    } catch (const Error& err) {
      UMBRA_THROW(e.Where(), ": ", err.message());
    }
    if (declared) {
      // Applied in order by the net: the last one wins, which a copied line should not decide
      // unseen.
      const auto earlier = std::ranges::find_if(ls.params, [&](const auto& kv) { return kv.first == e.key; });
      if (earlier != ls.params.end() && earlier->second != e.value)
        std::fprintf(stderr, "note: %s: %s = %s replaces the earlier %s = %s of layer '%s' (the last value is used)\n",
                     e.Where().c_str(), e.key.c_str(), e.value.c_str(), e.key.c_str(), earlier->second.c_str(),
                     ls.name.c_str());
      ls.params.push_back({e.key, e.value});
      return;
    }
    // cxxnet's label field of a loss: its default, label, is what every loss reads here.
    if (e.key == "target" && e.value == "label") return;
    UMBRA_CHECK(e.key != "target", e.Where(), ": target = ", e.value, " (layer '", ls.name, "'): cxxnet's named label "
                "fields (label_vec, a loss's target) are not in umbra: a loss reads the whole label of each instance");
    UMBRA_CHECK(SetsUpdater(e, e.key), e.Where(), ": unknown key '", e.key, "' for layer '", ls.name, "' (",
                ls.type, ")", DidYouMean(e.key, KeysOfLayerBlock(*probe_)));
    // cxxnet read updater as a global only: in a layer's block it trained that layer with the
    // global updater. Here the layer gets its own: said, for a config written for cxxnet.
    if (UpdaterKey(e.key) == "updater")
      std::fprintf(stderr, "note: %s: updater = %s in layer '%s''s block gives its weights that updater (cxxnet "
                   "read updater only outside netconfig, and trained the layer with the global one)\n",
                   e.Where().c_str(), e.value.c_str(), ls.name.c_str());
    AddUpdater(ls.name + ":" + UpdaterKey(e.key), e, /*in_layer=*/true);
  }

  NetConfig nc_;
  std::string file_;  // "f.conf: ", or "" for text without a file
  std::string input_where_;  // of input_shape
  std::string batch_where_;  // of batch_size, where given
  index_t batch_, c_ = 0, h_ = 0, w_ = 0;
  bool in_net_ = false, saw_net_ = false;
  bool section_layers_ = false;  // a layer since netconfig = start
  const Entry* net_open_ = nullptr;   // the netconfig = start in effect
  const Entry* iter_open_ = nullptr;  // the data/eval/pred entry of an open iterator block
  const Entry* block_shape_ = nullptr;  // the first input_shape inside an iterator block
  std::string iter_role_;               // that block's role (data, eval, pred)
  std::vector<const Entry*> both_;    // globals that are keys of the updater and of a layer type
  std::vector<std::string> updater_written_;  // nc_.updater's keys as the config wrote them (eta, not lr)
  std::vector<const Entry*> layer_defaults_;  // the other globals some layer type takes
  // Global values every layer type refuses: the entry, the first type's refusal, whether the
  // updater took the value.
  std::vector<std::tuple<const Entry*, std::string, bool>> layer_refused_;
  std::map<std::string, std::string> rename_;  // node renamed by a non-in-place rewrite
  std::set<std::string> produced_;             // nodes that exist so far (after renaming)
  std::map<std::string, size_t> layer_index_;  // layer name -> index in spec.layers
  std::unique_ptr<nn::Layer<cpu, float>> probe_;  // the last declared layer, to check its keys
  std::string top_ = "0";                      // output of the last layer; "" after several outputs
  int next_id_ = 1;                            // node number that layer[+1] gives next
  std::set<std::string> claimed_;              // new output nodes of the layer[a->b] lines
  bool relu_after_ = false;                    // the last layer is a relu_max_pooling's pooling (or its share)
  std::set<std::string> relu_pools_;           // the names of the relu_max_pooling layers
  int num_extra_ = 0;
  std::string extra_where_;  // "file:line: " of extra_data_num (else the first extra_data_shape), for the count's error
  std::vector<Shape<3>> extra_shapes_;
};

}  // namespace

std::vector<std::string> LayerAndUpdaterKeys() {
  std::vector<std::string> keys;
  for (const std::string& type : Registry::Get().Names())
    for (const std::string& k : KeysOfLayerBlock(*Registry::Get().Create(type)))
      if (std::ranges::find(keys, k) == keys.end()) keys.push_back(k);
  return keys;
}

NetConfig NetFromConfig(const std::vector<Entry>& entries, index_t batch) {
  Builder b(entries, batch);
  for (const Entry& e : entries) b.Add(e);
  return b.Finish();
}

}  // namespace umbra::config
