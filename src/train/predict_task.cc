// task = pred | pred_raw | extract | get_weight (job.h), on a model file given by model_in.
//   pred:       one line per instance, the arg-max class (or the value of a 1-wide output)
//   pred_raw:   one line per instance, the whole output row (cxxnet's obsolete task, kept as an
//               alias because its meaning is plain); output_format = bin as for extract
//   extract:    the node extract_node_name per instance; output_format = txt (a row per line)
//               or bin (float32 rows, C order, plus FILE.shape holding "N,C,H,W"; a text
//               output removes such a FILE.shape, which no longer describes FILE)
//   get_weight: the weight weight_layer.weight_tag (default tag wmat) of the model as text
// Output goes to the file named by the pred block (`pred = FILE`) or weight_filename. Lines are
// in data-set order, each instance exactly once, whatever the padding of the last batch.
// The device-generic loop is in predict_loop-inl.h.
#include <regex>

#include "umbra/atomic_output.h"
#include "umbra/regular_file.h"
#include "src/train/predict_loop-inl.h"

namespace umbra::train {

std::string ModelIn(const Job& job, const std::string& task) {
  const std::string in = job.Get("model_in", "");
  UMBRA_CHECK(!in.empty(), "task = ", task, " needs model_in = <model file>");
  return in;
}

bool IsShapeSidecar(const std::string& path) {
  std::error_code ec;
  if (!NotRegularFile(path).empty() || std::filesystem::file_size(path, ec) > 100) return false;
  std::ifstream in(path);
  const std::string text(std::istreambuf_iterator<char>(in), {});
  return std::regex_match(text, std::regex("[0-9]+,[0-9]+,[0-9]+,[0-9]+\n"));
}

int RunPredict(Job& job) {
  const int dev = ParseDevice(job);
  return dev >= 0 ? PredictLoopGpu(job, dev) : PredictLoop<cpu>(job);
}

int RunGetWeight(Job& job) {
  const std::string in = ModelIn(job, "get_weight");
  const nn::ModelFile mf = nn::ReadModelFile(in);
  const std::string layer = job.Get("weight_layer", job.Get("extract_layer_name", ""));
  UMBRA_CHECK(!job.global.count("weight_layer") || !job.global.count("extract_layer_name") ||
                  job.Get("extract_layer_name", "") == layer,
              job.Where("extract_layer_name"), ": extract_layer_name = ", job.Get("extract_layer_name", ""),
              " and weight_layer = ", layer, " (", job.Where("weight_layer"), ") name two layers; give one");
  UMBRA_CHECK(job.Get("output_format", "txt") == "txt", job.Where("output_format"),
              ": task = get_weight writes text only (output_format = txt)");
  UMBRA_CHECK(!layer.empty(), "task = get_weight needs weight_layer = <layer name>");
  // weight_name is cxxnet's key (declared there, default wmat, but never read: it wrote wmat).
  const std::string tag = job.Get("weight_tag", job.Get("weight_name", "wmat"));
  UMBRA_CHECK(!job.global.count("weight_tag") || !job.global.count("weight_name") ||
                  job.Get("weight_name", "") == tag,
              job.Where("weight_name"), ": weight_name = ", job.Get("weight_name", ""), " and weight_tag = ", tag, " (",
              job.Where("weight_tag"), ") name two weights; give one");
  const std::string name = layer + "." + tag;
  const nn::ModelTensor* t = mf.Find(name);
  if (!t) {
    std::string names;
    for (auto& x : mf.tensors)
      if (nn::IsWeightName(x.name)) names += " " + x.name;
    UMBRA_THROW("model file '", in, "' has no weight '", name, "'; it has:", names);
  }
  const std::string path = job.Get("weight_filename", "weight.txt");
  UMBRA_CHECK(!path.empty(), job.Where("weight_filename"), ": weight_filename = needs a file name");
  RefuseOverwritingInput(job, path, "weight_filename",
                         job.global.count("weight_filename") ? job.Where("weight_filename") : "(its default)");
  AtomicOutput file(path, /*binary=*/false, "weight_filename");
  std::ofstream& f = file.out();
  f.precision(9);
  const int64_t cols = t->shape.empty() ? 1 : t->shape.back();
  f << "# " << name << " shape";
  for (auto d : t->shape) f << " " << d;
  f << "\n";
  for (size_t i = 0; i < t->data.size(); ++i) f << t->data[i] << ((int64_t(i) + 1) % cols ? " " : "\n");
  file.Commit();
  std::fprintf(stderr, "get_weight: wrote %s to %s\n", name.c_str(), path.c_str());
  return 0;
}

}  // namespace umbra::train
