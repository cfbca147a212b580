// The umbra command line, cxxnet style: `umbra CONFIG [key=value ...]` runs the task a cxxnet
// config file describes (train, finetune, pred, pred_raw, extract, get_weight); later settings
// win, command-line pairs last, `block:key=value` sets a key of the iterator block named block.
// `umbra --help` lists tasks, keys, iterators and layers with their parameters, from their
// declarations. `umbra im2rec LIST ROOT OUT.rec` packs images into a record file (io/im2rec.h).
// The work is in src/train (job.h) and src/io; this file only dispatches and reports errors.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "src/train/job.h"
#include "umbra/atomic_output.h"
#include "umbra/io/im2rec.h"
#include "umbra/io/iterator.h"
#include "umbra/nn/registry.h"
#include "umbra/nn/updater.h"
#include "umbra/tensor/stream.h"  // GPUCount

using namespace umbra;

namespace {

void Help() {
  std::printf(
      "usage: umbra CONFIG [key=value ...]\n"
      "       umbra im2rec LIST IMAGE_ROOT OUT.rec [resize=N] [quality=Q] [label_width=K]\n\n"
      "tasks (task=...):\n"
      "  train       train; keys num_round (default 10), max_round, eval_train (default 1), save_model (every N\n"
      "              rounds and the last; default 1; 0: no model, nor the default log), model_dir (default models),\n"
      "              continue=1 (resume from the newest model_dir/NNNN.model), model_in, log (JSON lines)\n"
      "  finetune    train, starting from the weights of model_in that match by name and shape (named layers)\n"
      "  pred        arg-max class per instance of the pred block into its file (pred = FILE); the\n"
      "              value itself where the output is one wide (a binary probability or a regression)\n"
      "  pred_raw    the whole output row per instance; output_format = txt | bin (+ FILE.shape)\n"
      "  extract     node extract_node_name (top[-k]: the k-th last node) per instance; output_format =\n"
      "              txt | bin (+ FILE.shape); extract_feature: cxxnet's name, bin by default\n"
      "  get_weight  weight weight_layer.weight_tag (default wmat) of model_in into weight_filename\n"
      "              (default weight.txt; extract_layer_name: cxxnet's name for weight_layer,\n"
      "              weight_name: for weight_tag)\n\n"
      "globals: dev (default cpu; gpu, gpu:N), batch_size (default 100), input_shape (c,h,w), seed (default 0),\n"
      "         metric / metric[label,node] (repeatable; on the command line it adds a metric),\n"
      "         update_period, print_step, silent, test_io, random_type, tf32_matmul (gpu, default 0;\n"
      "         convolutions: the conv key tf32, default 1), cuda_graph (gpu, default 0: 1 replays\n"
      "         each training step's forward and backward from a CUDA graph; dropout's masks are\n"
      "         drawn anew in each replay), layout (gpu: nchw, or nhwc for\n"
      "         channels-last nodes), fuse_relu (default 1: a relu right after a batch_norm on the\n"
      "         expression path, an eltwise_sum, a fullc or a conv (not on oneDNN) runs inside that\n"
      "         layer; 0 runs it as written), fuse_add (default 1: a two-input eltwise_sum right\n"
      "         after a batch_norm on the expression path is added in the batch norm's pass, a relu\n"
      "         after the sum with it; 0 runs it as written), bf16_nodes (gpu,\n"
      "         default 0: 1 keeps activations in bfloat16 between the layers that take them, with\n"
      "         dtype = bf16 convolutions), log (the JSON log; default model_dir/log.jsonl when models\n"
      "         are saved), start_counter (as cxxnet's: the model number before the first round,\n"
      "         which is start_counter + 1; default 0; not used when resuming or going on from model_in),\n"
      "         extra_data_num / extra_data_shape[k] (a net's extra inputs: read, but no iterator\n"
      "         gives extra data yet, so a net with them is an error)\n\n");
  // Iterators and their keys from their SetParam (io::ListKeys); a key met above (the batching
  // keys, the image iterators' augmentation) is named again without its text. A chained
  // iterator's own keys are those it adds to a csv base's.
  std::printf("iterators and their keys (iter = NAME in a data/eval/pred block; global keys reach every block):\n");
  std::vector<io::KeyDoc> seen;
  auto same = [](const io::KeyDoc& a) {
    return [&a](const io::KeyDoc& b) { return a.name == b.name && a.doc == b.doc; };
  };
  auto print = [&](const std::vector<io::KeyDoc>& keys, const std::vector<io::KeyDoc>& skip) {
    std::string again = "  and, as above:";
    size_t line = again.size(), repeated = 0;
    for (const io::KeyDoc& d : keys) {
      if (std::ranges::any_of(skip, same(d))) continue;
      if (std::ranges::any_of(seen, same(d))) {
        if (line + d.name.size() > 96) again += "\n   ", line = 3;
        again += " " + d.name, line += d.name.size() + 1, ++repeated;
        continue;
      }
      seen.push_back(d);
      std::printf("  %s: %s\n", d.name.c_str(), d.doc.c_str());
    }
    if (repeated > 0) std::printf("%s\n", again.c_str());
  };
  for (const std::string& n : io::IteratorNames()) {
    std::printf("%s\n", n.c_str());
    try {
      print(io::ListKeys(*io::CreateIterator(n)), {});
    } catch (const Error& e) {  // an image iterator in a build without OpenCV
      std::printf("  (%s)\n", e.message().c_str());
    }
  }
  const std::vector<io::KeyDoc> base = io::ListKeys(*io::CreateIterator("csv"));
  for (const std::string& n : io::ChainNames()) {
    std::printf("%s (chained after a base iterator, whose keys pass through)\n", n.c_str());
    print(io::ListKeys(*io::ChainIterator(n, io::CreateIterator("csv"))), base);
  }
  std::printf("\nlayers and their keys:\n");
  for (const auto& n : nn::LayerRegistry<cpu>::Get().Names())
    std::printf("%s\n%s", n.c_str(), nn::LayerRegistry<cpu>::Get().Help(n).c_str());
  std::printf("relu_max_pooling\n  cxxnet's: a max_pooling (its keys) and an in-place relu named NAME@relu\n");
  std::printf("\nupdater keys (global, tag:key or layer:key; a global grad_scale where a loss layer takes it "
              "too is an error: give it as wmat:/bias:/LAYER: key):\n%s", nn::UpdaterParam::Decl().Help().c_str());
}

int Run(int argc, char** argv) {
  train::Job job = train::LoadJob(argv[1], std::vector<std::string>(argv + 2, argv + argc));
  const std::string task = job.Get("task", "train");
  if (task == "train" || task == "finetune") return train::RunTrain(job);
  if (task == "pred" || task == "pred_raw" || task == "extract") return train::RunPredict(job);
  if (task == "get_weight") return train::RunGetWeight(job);
  UMBRA_THROW(job.Where("task"), ": unknown task '", task, "'; known: train, finetune, pred, pred_raw, extract, get_weight");
}

// An error quotes what it refuses (a value, a line, a key): a data file given as the config
// or a 50 MB csv field made one line of that size. The head and the tail of the message stay.
std::string ForTheTerminal(const std::string& message) {
  constexpr size_t kHead = 1500, kTail = 500;
  if (message.size() <= kHead + kTail + 100) return message;
  return message.substr(0, kHead) + " [... " + std::to_string(message.size() - kHead - kTail) +
         " characters left out ...] " + message.substr(message.size() - kTail);
}

// What a bug report needs: the version, what the binary was built with, the GPUs it sees.
void Version() {
  std::printf("umbra %s\nbuilt with: %s\n", UMBRA_VERSION, UMBRA_BUILT_WITH);
#if defined(UMBRA_USE_CUDA) && UMBRA_USE_CUDA
  const int gpus = GPUCount();
  std::printf("GPUs visible: %d\n", gpus);
  for (int i = 0; i < gpus; ++i) {
    cudaDeviceProp p{};
    if (cudaGetDeviceProperties(&p, i) == cudaSuccess)
      std::printf("  gpu:%d  %s, compute capability %d.%d, %.1f GiB\n", i, p.name, p.major, p.minor,
                  double(p.totalGlobalMem) / double(1 << 30));
  }
#endif
}

}  // namespace

int main(int argc, char** argv) {
  // A closed standard stream's descriptor went to the next file opened: with stdout closed
  // (>&-), the round lines were written into model_dir's lock file. Each closed one is put on
  // /dev/null (in ascending order, the lowest free descriptor is the one being filled), and a
  // closed stdout is then an error: the results would be lost.
  const bool stdout_closed = ::fcntl(1, F_GETFD) == -1;
  for (int fd : {0, 1, 2})
    if (::fcntl(fd, F_GETFD) == -1) ::open("/dev/null", O_RDWR);
  if (stdout_closed) {
    std::fprintf(stderr, "umbra: error: standard output is closed; the results would be lost (redirect it to a "
                 "file, or to /dev/null)\n");
    return 1;
  }
  const std::string first = argc < 2 ? "" : argv[1];
  if (argc < 2 || first == "--help" || first == "-h") {
    Help();
    return argc < 2 ? 1 : 0;
  }
  if (first == "--version") {
    Version();
    return 0;
  }
  RemoveTemporariesOnSignal();  // Ctrl-C in pred/extract/im2rec leaves no OUT.tmp.PID behind
  try {
    // An option that is no file (--verison, -v): not "cannot open config file '-v'".
    UMBRA_CHECK(first[0] != '-' || std::filesystem::exists(first), "unknown option '", first,
                "'; umbra --help lists the usage, and umbra --version what this build has");
    const int rc = first == "im2rec" ? io::Im2RecMain(argc - 1, argv + 1) : Run(argc, argv);
    // The round lines and results go to stdout: lost there (a full disk, a closed stdout), the
    // run said nothing and succeeded.
    errno = 0;
    const bool written = std::fflush(stdout) == 0 && !std::ferror(stdout);
    UMBRA_CHECK(written, "writing to standard output failed (", errno ? std::strerror(errno) : "an earlier write",
                "); what the task wrote to files (models, the log, its output file) is complete");
    return rc;
  } catch (const Error& e) {
    // The sentence for the user; UMBRA_DEBUG=1 adds where in umbra's source it was raised.
    std::fprintf(stderr, "umbra: error: %s\n", ForTheTerminal(std::getenv("UMBRA_DEBUG") ? e.what() : e.message()).c_str());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "umbra: error: %s\n", ForTheTerminal(e.what()).c_str());
    return 1;
  }
}
