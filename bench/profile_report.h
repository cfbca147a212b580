// Prints a Trainer::Profile (include/umbra/nn/profiler.h) as markdown: the step's split, the time
// by layer type, and the costliest layers with the bandwidth each reaches; and as one JSON line
// with every layer, for a file. Shared by bench_train (cpu) and bench_train_gpu.
#pragma once

#include <algorithm>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "umbra/nn/profiler.h"

namespace umbra::bench {

inline double GBps(double bytes, double ms) { return ms > 0 ? bytes / ms / 1e6 : 0; }

inline void PrintProfile(std::FILE* f, const std::string& net, index_t batch, const nn::StepProfile& p,
                         size_t top = 12) {
  double fwd = 0, bwd = 0;
  for (auto& l : p.layers) fwd += l.fwd_ms, bwd += l.bwd_ms;
  const double input = p.device_ms - fwd - bwd - p.update_ms;
  std::fprintf(f,
               "### %s, batch %lld: %.2f ms per step on the host clock, %.2f ms between the first and last "
               "mark (input %.2f, forward %.2f, backward %.2f, updates %.2f); %.0f img/s while profiled\n\n",
               net.c_str(), static_cast<long long>(batch), p.wall_ms, p.device_ms, input, fwd, bwd, p.update_ms,
               batch * 1e3 / p.wall_ms);
  struct Sum {
    int n = 0;
    double fwd = 0, bwd = 0, bytes = 0;
  };
  std::map<std::string, Sum> by_type;
  for (auto& l : p.layers) {
    Sum& s = by_type[l.type];
    ++s.n, s.fwd += l.fwd_ms, s.bwd += l.bwd_ms, s.bytes += l.fwd_bytes + l.bwd_bytes;
  }
  std::vector<std::pair<std::string, Sum>> types(by_type.begin(), by_type.end());
  std::sort(types.begin(), types.end(),
            [](auto& a, auto& b) { return a.second.fwd + a.second.bwd > b.second.fwd + b.second.bwd; });
  std::fprintf(f, "| type | layers | fwd ms | bwd ms | share of step | GB/s |\n|---|---|---|---|---|---|\n");
  for (auto& [t, s] : types)
    std::fprintf(f, "| %s | %d | %.3f | %.3f | %.1f%% | %.0f |\n", t.c_str(), s.n, s.fwd, s.bwd,
                 100 * (s.fwd + s.bwd) / p.device_ms, GBps(s.bytes, s.fwd + s.bwd));
  std::fprintf(f, "| updates | | | %.3f | %.1f%% | |\n\n", p.update_ms, 100 * p.update_ms / p.device_ms);
  std::vector<const nn::LayerProfile*> rows;
  for (auto& l : p.layers) rows.push_back(&l);
  std::sort(rows.begin(), rows.end(),
            [](auto* a, auto* b) { return a->fwd_ms + a->bwd_ms > b->fwd_ms + b->bwd_ms; });
  rows.resize(std::min(rows.size(), top));
  std::fprintf(f, "| layer | type | fwd ms | bwd ms | fwd GB/s | bwd GB/s | how |\n|---|---|---|---|---|---|---|\n");
  for (auto* l : rows)
    std::fprintf(f, "| %s | %s | %.3f | %.3f | %.0f | %.0f | %s |\n", l->name.c_str(), l->type.c_str(), l->fwd_ms,
                 l->bwd_ms, GBps(l->fwd_bytes, l->fwd_ms), GBps(l->bwd_bytes, l->bwd_ms), l->how.c_str());
  std::fprintf(f, "\n");
}

/// One JSON line: the step's figures and every layer in forward order (profile_report.cc: the
/// host compiler's, so that nvcc never sees the JSON library).
void WriteProfileJson(std::FILE* f, const std::string& net, index_t batch, const nn::StepProfile& p);

/// Where --profile DIR goes: DIR/profile-<device>.md and .jsonl, opened by Open (none until
/// then: Add does nothing), flushed after each net, closed at the end.
class ProfileFiles {
 public:
  ProfileFiles() = default;
  ProfileFiles(const ProfileFiles&) = delete;
  ProfileFiles& operator=(const ProfileFiles&) = delete;
  ~ProfileFiles() {
    if (md_) std::fclose(md_);
    if (json_) std::fclose(json_);
  }
  void Open(const std::string& dir, const char* device) {
    const std::string base = dir + "/profile-" + device;
    md_ = std::fopen((base + ".md").c_str(), "w");
    json_ = std::fopen((base + ".jsonl").c_str(), "w");
    UMBRA_CHECK(md_ && json_, "cannot write the profile into '", dir, "'");
  }
  bool on() const { return md_ != nullptr; }
  void Add(const std::string& net, index_t batch, const nn::StepProfile& p) {
    if (!on()) return;
    PrintProfile(md_, net, batch, p);
    WriteProfileJson(json_, net, batch, p);
    std::fflush(md_);
    std::fflush(json_);
  }

 private:
  std::FILE* md_ = nullptr;
  std::FILE* json_ = nullptr;
};

}  // namespace umbra::bench
