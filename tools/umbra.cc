// The umbra command line, cxxnet style: `umbra CONFIG [key=value ...]` runs the task a cxxnet
// config file describes (train, finetune, pred, pred_raw, extract, get_weight); later settings
// win, command-line pairs last, `block:key=value` sets a key of the iterator block named block.
// `umbra --help` lists tasks, keys, iterators and layers with their parameters, from their
// declarations. `umbra im2rec LIST ROOT OUT.rec` packs images into a record file (io/im2rec.h).
// The work is in src/train (job.h) and src/io; this file only dispatches and reports errors.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "src/train/job.h"
#include "umbra/io/im2rec.h"
#include "umbra/nn/registry.h"
#include "umbra/nn/updater.h"

using namespace umbra;

namespace {

void Help() {
  std::printf(
      "usage: umbra CONFIG [key=value ...]\n"
      "       umbra im2rec LIST IMAGE_ROOT OUT.rec [resize=N] [quality=Q] [label_width=K]\n\n"
      "tasks (task=...):\n"
      "  train       train; keys num_round, max_round, eval_train, save_model (every N rounds), model_dir,\n"
      "              continue=1 (resume from the newest model_dir/NNNN.model), model_in, log (JSON lines)\n"
      "  finetune    train, starting from the weights of model_in that match by name and shape\n"
      "  pred        arg-max class per instance of the pred block into its file (pred = FILE)\n"
      "  pred_raw    the whole output row per instance\n"
      "  extract     node extract_node_name per instance; output_format = txt | bin (+ FILE.shape)\n"
      "  get_weight  weight weight_layer.weight_tag (default wmat) of model_in into weight_filename\n\n"
      "globals: dev (cpu, gpu, gpu:N), batch_size, input_shape (c,h,w), seed, metric / metric[label,node],\n"
      "         update_period, print_step, silent, test_io, random_type, tf32_matmul (gpu, default 0;\n"
      "         convolutions: the conv key tf32, default 1), cuda_graph (gpu, default 0: 1 replays\n"
      "         each training step's forward and backward from a CUDA graph; dropout's masks are\n"
      "         drawn anew in each replay), layout (gpu: nchw, or nhwc for\n"
      "         channels-last nodes), fuse_relu (default 1: a relu right after a batch_norm on the\n"
      "         expression path, an eltwise_sum, a fullc or a conv (not on oneDNN) runs inside that\n"
      "         layer; 0 runs it as written), fuse_add (default 1: a two-input eltwise_sum right\n"
      "         after a batch_norm on the expression path is added in the batch norm's pass, a relu\n"
      "         after the sum with it; 0 runs it as written)\n\n"
      "iterators: ");
  for (auto& n : io::IteratorNames()) std::printf("%s ", n.c_str());
  std::printf("(chained: ");
  for (auto& n : io::ChainNames()) std::printf("%s ", n.c_str());
  std::printf(")\n\nlayers and their keys:\n");
  for (const auto& n : nn::LayerRegistry<cpu>::Get().Names())
    std::printf("%s\n%s", n.c_str(), nn::LayerRegistry<cpu>::Get().Help(n).c_str());
  std::printf("\nupdater keys (global, tag:key or layer:key):\n%s", nn::UpdaterParam::Decl().Help().c_str());
}

int Run(int argc, char** argv) {
  train::Job job = train::LoadJob(argv[1], std::vector<std::string>(argv + 2, argv + argc));
  const std::string task = job.Get("task", "train");
  if (task == "train" || task == "finetune") return train::RunTrain(job);
  if (task == "pred" || task == "pred_raw" || task == "extract") return train::RunPredict(job);
  if (task == "get_weight") return train::RunGetWeight(job);
  UMBRA_THROW(job.Where("task"), ": unknown task '", task, "'; known: train, finetune, pred, pred_raw, extract, get_weight");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h") {
    Help();
    return argc < 2 ? 1 : 0;
  }
  try {
    if (std::string(argv[1]) == "im2rec") return io::Im2RecMain(argc - 1, argv + 1);
    return Run(argc, argv);
  } catch (const Error& e) {
    // The sentence for the user; UMBRA_DEBUG=1 adds where in umbra's source it was raised.
    std::fprintf(stderr, "umbra: error: %s\n", std::getenv("UMBRA_DEBUG") ? e.what() : e.message().c_str());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "umbra: error: %s\n", e.what());
    return 1;
  }
}
