// The device-generic part of task = pred | pred_raw | extract (predict_task.cc says what each
// writes): the network on `xpu` with the weights of model_in, run over the pred block, rows
// written in data-set order. Included by predict_task.cc (cpu) and train_gpu.cu (gpu).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>

#include "umbra/atomic_output.h"
#include "umbra/regular_file.h"
#include "src/train/train_loop-inl.h"

namespace umbra::train {

std::string ModelIn(const Job& job, const std::string& task);
/// Whether `path` is a regular file holding "N,C,H,W" alone: the shape a binary extract writes.
bool IsShapeSidecar(const std::string& path);

template <typename xpu>
int PredictLoop(Job& job) {
  const std::string task = job.Get("task", "pred");
  const bool extract = task == "extract";
  IterBlock* p = job.Find("pred");
  UMBRA_CHECK(p, "task = ", task, " needs a pred iterator block (pred = OUTPUT_FILE ... iter = end)");
  const std::string in = ModelIn(job, task);
  const std::string path = p->name;  // checked first: before a whole data set is read or averaged
  RefuseOverwritingInput(job, path, "pred", p->name_where);
  RefuseNamesOfTheRunsFiles(job);
  const std::string format = job.Get("output_format", "txt");
  UMBRA_CHECK(format == "txt" || format == "bin", job.Where("output_format"), ": output_format must be txt or bin, got '",
              format, "'");
  // Rows of floats (extract, pred_raw) may be binary; pred's classes are text only (a reader of
  // float32 took its text for numbers).
  const bool binary = format == "bin";
  UMBRA_CHECK(!binary || task != "pred", job.Where("output_format"), ": output_format = bin is for task = extract ",
              "and pred_raw; task = pred writes each instance's class as text");
  // A device or pipe (/dev/stdout) gets no FILE.shape beside it (/dev/stdout.shape): the shape
  // is said on stderr instead.
  std::error_code ec;
  const bool sidecar = binary && (!std::filesystem::exists(path, ec) || std::filesystem::is_regular_file(path, ec));
  if (sidecar) {
    RefuseOverwritingInput(job, path + ".shape", "pred (its .shape file)", p->name_where);
    // Checked before FILE is written: a folder there failed the run after FILE was replaced.
    const std::string why = NotRegularFile(path + ".shape");
    UMBRA_CHECK(why.empty() || why == "no such file", p->name_where, ": pred = ", path, " with output_format = bin ",
                "writes its shape to ", path, ".shape, which is ", why, "; remove it or name another output file");
  }
  // An earlier binary extract's FILE.shape beside what will be text goes, unless this job reads
  // it (a csv data file of that name, "0,1,2,3", was deleted).
  bool drop_shape = false;
  if (!binary && IsShapeSidecar(path + ".shape")) {
    try {
      RefuseOverwritingInput(job, path + ".shape", "pred (its .shape file)", p->name_where);
      drop_shape = true;
    } catch (const Error&) {
      std::fprintf(stderr, "note: %s: %s.shape is left as it is: this task reads it\n", p->name_where.c_str(),
                   path.c_str());
    }
  }
  if (!extract && job.global.count("extract_node_name"))
    std::fprintf(stderr, "note: extract_node_name (%s) is read by task = extract; task = %s writes the network's "
                 "output\n", job.Where("extract_node_name").c_str(), task.c_str());
  const nn::ModelFile mf = nn::ReadModelFile(in);
  SetFlushDenormals();  // as training's evaluation ran: pred of the same data gives its answers
  nn::NetSpec spec = job.net.spec;
  std::string node = extract ? job.Get("extract_node_name", "") : "";
  // extract_layer_name is get_weight's (the layer whose weights it writes): one who gave it to
  // extract meant a layer's output.
  UMBRA_CHECK(!extract || !node.empty(), "task = extract needs extract_node_name = <node>",
              job.global.count("extract_layer_name")
                  ? " (" + job.Where("extract_layer_name") + ": extract_layer_name names the layer whose weights task "
                    "= get_weight writes; for a layer's output, give extract_node_name = the layer's output node)"
                  : std::string());
  if (node == "0") node = "in";  // netconfig's name for the input ("no node named '0'")
  if (extract) node = CxxnetTopNode(spec, node, job.Where("extract_node_name"));
  // Node values share memory where their lifetimes allow; the output, and what extract reads,
  // stay readable after the pass.
  spec.inference_only = true;
  if (extract) spec.Keep(node, job.Where("extract_node_name"));
  CheckDeviceKeys(job, spec, std::is_same_v<xpu, gpu>, /*training=*/false);
  CheckExtraInputs(job, spec);
  nn::Net<xpu> net(spec);
  nn::LoadWeights(net, mf, in, true);
  WarnIfOtherNetwork(job, mf, in, /*training=*/false);  // after the load: its weights did match
  // pred and pred_raw write the net's output, its last layer's: a layer declared after the loss
  // (a branch nothing reads) became it.
  const std::string past = extract ? std::string() : net.OutputPastTheLoss(spec);
  UMBRA_CHECK(past.empty(), past, ", but ", task, " writes the net's output, its last layer's; declare the layer "
              "before the loss, or write a node with task = extract, extract_node_name = <node>");
  const auto& out_node = extract ? net.NodeByName(ResolveNode(net, node)) : net.Output();

  InitIterator(*p);
  UMBRA_CHECK(p->it->Value().data.shape_ == spec.input_shape, p->where, ": the iterator gives batches of ",
              p->it->Value().data.shape_, " but the network takes ", spec.input_shape);
  p->it->SetEpoch(0);
  p->it->BeforeFirst();
  AtomicOutput file(path, binary, extract ? "the extract output" : "the pred output");
  std::ofstream& f = file.out();
  f.precision(9);  // text that reads back as the same float
  auto write = [&](const std::vector<float>& r) {
    if (binary) {
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
  const auto take = [&](const HostRows& rows) {
    const Tensor<cpu, 2>& out = rows.out;
    for (index_t i = 0; i < rows.valid; ++i) {
      const float* r = out.dptr_ + i * out.stride_;
      // A NaN row would be class 0 (no value beats it) and written as if it were an answer.
      const float* bad = std::find_if(r, r + out.size(1), [](float v) { return !std::isfinite(v); });
      if (bad != r + out.size(1)) {  // named as the metrics name an instance: its index and its place in the data
        const std::string at = p->it->Locate(rows.index[i]);
        UMBRA_THROW(p->where, ": ", extract ? "node '" + node + "'" : std::string("the network's output"), " holds ",
                    *bad, " for ", InstanceOfTheData(rows.index[i], at),
                    " (non-finite data, or a value past float's range); ", path, " is left as it was");
      }
      UMBRA_CHECK(rows.index[i] >= next && !waiting.count(rows.index[i]), p->where, ": the iterator gave instance ",
                  rows.index[i], " twice in one pass");
      waiting.emplace(rows.index[i], std::vector<float>(r, r + out.size(1)));
      for (auto it = waiting.begin(); it != waiting.end() && it->first == next; it = waiting.erase(it), ++next)
        write(it->second);
    }
  };
  // Every instance once, or an error: an iterator whose epoch leaves some out (a membuffer
  // capped at max_nbatch) wrote the rest and succeeded.
  const std::string left_out = p->it->LeavesOut();
  UMBRA_CHECK(left_out.empty(), p->where, ": ", left_out, ", but ", task, " writes every instance of the data once; "
              "give pred:max_nbatch=0, or leave membuffer out of the pred block; ", path, " is left as it was");
  Feeder<xpu> feed(p->it.get());
  LaggedRows<xpu> rows;  // on the gpu the host writes a batch while the device computes the next
  feed.Start();
  // The data's errors (an image that cannot be decoded) name the pred block and the batch, as
  // training's name theirs; they named neither. The output is left as it was.
  const auto reading = [&](auto&& f) {
    try {
      return f();
    } catch (const Error& err) {
      if (!feed.in_iterator()) throw;  // the device's
      UMBRA_THROW(task, ": batch ", feed.pulled(), " of the pred data (", p->where, "): ", err.message(), "; ", path,
                  " is left as it was");
    }
  };
  while (reading([&] { return feed.Next(); })) {
    net.Forward(false, feed.data());
    rows.Push(out_node.Mat(), feed.host(), take);
  }
  rows.Finish(take);
  UMBRA_CHECK(waiting.empty(), p->where, ": the iterator never gave instance ", next, " (",
              waiting.size(), " later ones are unwritten)");
  UMBRA_CHECK(next > 0, p->where, ": the iterator gave no instances");
  const uint64_t count = next;
  const auto& s = out_node.shape;
  if (sidecar) {
    // The two files cannot be renamed together: the old FILE.shape goes before the new FILE
    // lands, so a run killed between them leaves FILE with no shape rather than the last run's
    // (which a reader would take, and reshape by, where the sizes happened to agree).
    // Both written and checked first: a full disk found then leaves both files as they were.
    AtomicOutput shape(path + ".shape");
    shape.out() << count << "," << s[1] << "," << s[2] << "," << s[3] << "\n";
    file.Finish();
    shape.Finish();
    std::remove(shape.dest().c_str());  // a symlink's target: the link stays (dangling until the rename)
    file.Commit();
    shape.Commit();
  } else {
    // An earlier binary extract's shape beside what is now text would describe another file.
    file.Finish();
    if (drop_shape) std::remove((path + ".shape").c_str());
    file.Commit();
    if (binary)
      std::fprintf(stderr, "%s: %s is no regular file, so no %s.shape: the rows are %llu,%d,%d,%d float32\n",
                   task.c_str(), path.c_str(), path.c_str(), (unsigned long long)count, int(s[1]), int(s[2]),
                   int(s[3]));
  }
  std::fprintf(stderr, "%s: wrote %llu instance(s) to %s\n", task.c_str(), (unsigned long long)count, path.c_str());
  return 0;
}

}  // namespace umbra::train
