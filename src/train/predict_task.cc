// task = pred | pred_raw | extract | get_weight (job.h), on a model file given by model_in.
//   pred:       one line per instance, the arg-max class (or the value of a 1-wide output)
//   pred_raw:   one line per instance, the whole output row (cxxnet's obsolete task, kept as an
//               alias because its meaning is plain)
//   extract:    the node extract_node_name per instance; output_format = txt (a row per line)
//               or bin (float32 rows, C order, plus FILE.shape holding "N,C,H,W")
//   get_weight: the weight weight_layer.weight_tag (default tag wmat) of the model as text
// Output goes to the file named by the pred block (`pred = FILE`) or weight_filename. Lines are
// in data-set order, each instance exactly once, whatever the padding of the last batch.
#include <cstdio>
#include <fstream>
#include <map>

#include "src/train/job.h"
#include "umbra/nn/checkpoint.h"

namespace umbra::train {

void CheckDevice(const Job& job);

namespace {

std::string ModelIn(const Job& job, const std::string& task) {
  const std::string in = job.Get("model_in", "");
  UMBRA_CHECK(!in.empty(), "task = ", task, " needs model_in = <model file>");
  return in;
}

}  // namespace

int RunPredict(Job& job) {
  CheckDevice(job);
  const std::string task = job.Get("task", "pred");
  const bool extract = task == "extract";
  IterBlock* p = job.Find("pred");
  UMBRA_CHECK(p, "task = ", task, " needs a pred iterator block (pred = OUTPUT_FILE ... iter = end)");
  const std::string in = ModelIn(job, task);
  const nn::ModelFile mf = nn::ReadModelFile(in);
  nn::NetSpec spec = job.net.spec;
  // Only the output is read in pred: let node values share memory. extract reads an inner node,
  // which must keep its own buffer.
  spec.inference_only = !extract;
  nn::Net<cpu> net(spec);
  nn::LoadWeights(net, mf, in, true);
  const std::string node = extract ? job.Get("extract_node_name", "") : "";
  UMBRA_CHECK(!extract || !node.empty(), "task = extract needs extract_node_name = <node>");
  const std::string format = job.Get("output_format", "txt");
  UMBRA_CHECK(format == "txt" || format == "bin", job.Where("output_format"), ": output_format must be txt or bin, got '",
              format, "'");
  const auto& out_node = extract ? net.NodeByName(ResolveNode(net, node)) : net.Output();

  p->it->Init();
  UMBRA_CHECK(p->it->Value().data.shape_ == spec.input_shape, p->where, ": the iterator gives batches of ",
              p->it->Value().data.shape_, " but the network takes ", spec.input_shape);
  p->it->SetEpoch(0);
  p->it->BeforeFirst();
  const std::string path = p->name;
  std::ofstream f(path, format == "bin" ? std::ios::binary : std::ios::out);
  UMBRA_CHECK(f, "cannot write '", path, "'");
  f.precision(9);  // text that reads back as the same float
  auto write = [&](const std::vector<float>& r) {
    if (extract && format == "bin") {
      f.write(reinterpret_cast<const char*>(r.data()), std::streamsize(r.size() * sizeof(float)));
    } else if (task == "pred") {
      size_t best = 0;
      for (size_t k = 1; k < r.size(); ++k)
        if (r[k] > r[best]) best = k;
      f << (r.size() == 1 ? r[0] : float(best)) << "\n";
    } else {
      for (size_t k = 0; k < r.size(); ++k) f << (k ? " " : "") << r[k];
      f << "\n";
    }
  };
  // Rows are written in data-set order as soon as they can be: an unshuffled iterator needs no
  // buffer at all, a shuffled one is held until the gaps fill.
  std::map<uint64_t, std::vector<float>> waiting;
  uint64_t next = 0;
  while (p->it->Next()) {
    const io::DataBatch& b = p->it->Value();
    net.Forward(false, b.data);
    const Tensor<cpu, 2> out = out_node.Mat();
    for (index_t i = 0; i < b.valid; ++i) {
      const float* r = out.dptr_ + i * out.stride_;
      UMBRA_CHECK(b.index[i] >= next && !waiting.count(b.index[i]), p->where, ": the iterator gave instance ",
                  b.index[i], " twice in one pass");
      waiting.emplace(b.index[i], std::vector<float>(r, r + out.size(1)));
      for (auto it = waiting.begin(); it != waiting.end() && it->first == next; it = waiting.erase(it), ++next)
        write(it->second);
    }
  }
  UMBRA_CHECK(waiting.empty(), p->where, ": the iterator never gave instance ", next, " (",
              waiting.size(), " later ones are unwritten)");
  UMBRA_CHECK(next > 0, p->where, ": the iterator gave no instances");
  const uint64_t count = next;
  UMBRA_CHECK(f.good(), "error writing '", path, "'");
  if (extract && format == "bin") {
    const auto& s = out_node.shape;
    std::ofstream(path + ".shape") << count << "," << s[1] << "," << s[2] << "," << s[3] << "\n";
  }
  std::fprintf(stderr, "%s: wrote %llu instance(s) to %s\n", task.c_str(), (unsigned long long)count, path.c_str());
  return 0;
}

int RunGetWeight(Job& job) {
  const std::string in = ModelIn(job, "get_weight");
  const nn::ModelFile mf = nn::ReadModelFile(in);
  const std::string layer = job.Get("weight_layer", job.Get("extract_layer_name", ""));
  UMBRA_CHECK(!layer.empty(), "task = get_weight needs weight_layer = <layer name>");
  const std::string name = layer + "." + job.Get("weight_tag", "wmat");
  const nn::ModelTensor* t = mf.Find(name);
  if (!t) {
    std::string names;
    for (auto& x : mf.tensors)
      if (x.name.find(':') == std::string::npos) names += " " + x.name;
    UMBRA_THROW("model file '", in, "' has no weight '", name, "'; it has:", names);
  }
  const std::string path = job.Get("weight_filename", "weight.txt");
  std::ofstream f(path);
  UMBRA_CHECK(f, "cannot write '", path, "'");
  f.precision(9);
  const int64_t cols = t->shape.empty() ? 1 : t->shape.back();
  f << "# " << name << " shape";
  for (auto d : t->shape) f << " " << d;
  f << "\n";
  for (size_t i = 0; i < t->data.size(); ++i) f << t->data[i] << ((int64_t(i) + 1) % cols ? " " : "\n");
  UMBRA_CHECK(f.good(), "error writing '", path, "'");
  std::fprintf(stderr, "get_weight: wrote %s to %s\n", name.c_str(), path.c_str());
  return 0;
}

}  // namespace umbra::train
