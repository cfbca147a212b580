// Data iterators as the trainer sees them (DESIGN.md "Data"). An iterator is configured by
// string keys (cxxnet's: the keys of its config block, plus the globals batch_size, input_shape,
// label_width, round_batch, seed, silent, which the trainer passes to every iterator and which
// an iterator may ignore), then Init() opens and checks its files. Batches are (batch, C, H, W)
// with labels (batch, label_width).
//
// Epochs and padding: an epoch covers every instance once. The last batch of an epoch is filled
// up with instances of the epoch taken again: a window of its order that moves on by the
// filler's length from one epoch to the next, so that over a run each instance is repeated
// about equally often (with shuffle = 0 too); `valid` says how many rows are real, so
// pred/extract/eval count each instance exactly once. Training steps on the whole batch, filler
// rows included. cxxnet's round_batch = 1 took the filler from the next epoch's start, which
// made an epoch depend on the one before; round_batch is accepted for its configs and changes
// nothing: each epoch here depends only on its number (resumable), and no batch is left short.
//
// Randomness (shuffle, augmentation) of epoch k depends only on the iterator's seed and k, set by
// SetEpoch(k) before BeforeFirst(): a run resumed at round k sees the same data as one that never
// stopped.
//
// Errors (missing or truncated file, bad magic, count mismatch, undecodable image) are
// umbra::Error naming the file and what is wrong.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "umbra/tensor.h"

namespace umbra::io {

struct DataBatch {
  Tensor<cpu, 4> data;
  Tensor<cpu, 2> label;
  /// Rows that are real instances (the rest pad the last batch of an epoch).
  index_t valid = 0;
  /// Per row, the instance's position in the data set (list/record/file order), for pred output.
  std::vector<uint64_t> index;
};

class DataIterator {
 public:
  virtual ~DataIterator() = default;
  /// Sets a key; false when this iterator does not use it. Each key is tested with IsKey (below),
  /// which declares it for --help and suggestions.
  virtual bool SetParam(const std::string& key, const std::string& value) = 0;
  /// After every key: opens and checks the data.
  virtual void Init() = 0;
  /// Chooses the randomness of the coming epoch (shuffle order, augmentation); default 0.
  virtual void SetEpoch(uint64_t epoch) = 0;
  /// Starts an epoch.
  virtual void BeforeFirst() = 0;
  /// Fills the next batch; false at the end of the epoch.
  virtual bool Next() = 0;
  virtual const DataBatch& Value() const = 0;
  /// Where instance `index` (a batch row's DataBatch::index) comes from, for errors about it:
  /// "bad.csv:6", an image and its list line, a record; empty where the iterator cannot say.
  /// Safe beside a running Next (it reads what Init fixed).
  virtual std::string Locate(uint64_t /*index*/) const { return {}; }
  /// After Init: why an epoch leaves out part of the data, or "" where it covers all of it. pred
  /// and extract, which write each instance once, refuse such an iterator (a membuffer that keeps
  /// the first max_nbatch batches of a longer epoch had them write those alone, and succeed).
  /// May read on in the data to tell (a membuffer reads its base, which nothing else reads after
  /// its Init), once. Safe beside a running Next (a threadbuffer's producer), as Locate is.
  virtual std::string LeavesOut() { return {}; }
};

/// A key of an iterator, in its SetParam: `k == name`, and the one place the key is declared
/// with its meaning. While ListKeys runs it records the pair instead and answers false, so a
/// single SetParam call walks every key of the iterator (and of those it hands keys on to).
bool IsKey(const std::string& k, const char* name, const char* doc);
struct KeyDoc {
  std::string name, doc;
};
/// Every key `it` takes, in declaration order, each once (--help; the closest to an unknown key).
std::vector<KeyDoc> ListKeys(DataIterator& it);

/// Self-registration of iterator types (one static call in each iterator's .cc).
using IteratorFactory = std::unique_ptr<DataIterator> (*)();
using ChainFactory = std::unique_ptr<DataIterator> (*)(std::unique_ptr<DataIterator>);
bool RegisterIterator(const std::string& name, IteratorFactory make);
bool RegisterChain(const std::string& name, ChainFactory make);

/// A base iterator by cxxnet name: mnist, csv, img, imgrec. An unknown name is an error listing
/// the known ones.
std::unique_ptr<DataIterator> CreateIterator(const std::string& type);
/// Wraps `base` in a chained iterator: threadbuffer (prefetch on a thread) or membuffer (the
/// whole epoch held in memory after the first pass).
std::unique_ptr<DataIterator> ChainIterator(const std::string& type, std::unique_ptr<DataIterator> base);
/// Names accepted by CreateIterator / ChainIterator (for --help and errors).
std::vector<std::string> IteratorNames();
std::vector<std::string> ChainNames();

/// Parses "c,h,w" (input_shape); errors name `what`.
Shape<3> ParseShape3(const std::string& text, const std::string& what);
/// A 64-bit seed mixed from a base seed and an epoch (splitmix64), for SetEpoch.
uint64_t EpochSeed(uint64_t seed, uint64_t epoch);

}  // namespace umbra::io
