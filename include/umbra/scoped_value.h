// ScopedValue: a process-wide setting given back its value when the scope ends, a throw
// included. umbra's kernel knobs are functions returning a reference (cuda::BroadcastFlat(),
// cuda::GridBlocksPerSM(), cuda::Map2DSliceElements(), nn::StatsPacked(), ...), which a test
// or a benchmark flips to compare two paths; a failed check must not leave the next test on the
// other path. Not thread-safe, as the knobs are not: set them outside any step.
#pragma once

namespace umbra {

template <typename T>
class ScopedValue {
 public:
  /// Keeps ref's value, to be put back at the end of the scope (ref may be set freely until then).
  explicit ScopedValue(T& ref) : ref_(ref), saved_(ref) {}
  /// The same, and sets ref to value now.
  ScopedValue(T& ref, const T& value) : ScopedValue(ref) { ref_ = value; }
  ~ScopedValue() { ref_ = saved_; }
  ScopedValue(const ScopedValue&) = delete;
  ScopedValue& operator=(const ScopedValue&) = delete;

 private:
  T& ref_;
  T saved_;
};

}  // namespace umbra
