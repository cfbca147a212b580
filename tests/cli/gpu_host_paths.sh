#!/usr/bin/env bash
# The host side of every GPU code path, on any machine: umbra's GPU test binaries, dev=gpu
# training (plain, bf16, cuda_graph) and every other task through the CLI, the GPU training
# benchmark (every net, graphs, own kernels, profile) and bench_gpu's batch-norm rows, each
# with tests/cuda_stub's stand-in CUDA libraries preloaded. "Device" numbers are meaningless there, so numeric test failures are
# ignored; this fails on what a GPU run would hit before any number: a C++ exception escaping a
# GPU test, a crash, an impossible launch or a buffer smaller than its copy, cuBLAS or cuDNN
# shape ("[stub] BAD"), a CUDA entry point the stub lacks, a training round that waits for the
# device more than three times (losses, training metrics and test metrics, once each) or a pred
# pass that waits per batch, an error from the CLI (every task:
# train, pred, pred_raw, extract, get_weight, finetune, continue) or the benchmark. (It found GPU
# nets that never allocated their weights, and two gpu test rows that could not run, before any
# GPU did.)
# Usage: gpu_host_paths.sh BUILD_DIR SOURCE_DIR STUB_LIBRARY
set -uo pipefail
B=$1 SRC=$2 STUB=$3
W=$(mktemp -d); trap 'rm -rf "$W"' EXIT
fail=0
bins=("$B"/tests/tensor_gpu_tests "$B"/tests/nn_gpu_tests "$B"/umbra)
[ -x "$B"/bench/bench_train_gpu ] && bins+=("$B"/bench/bench_train_gpu)
[ -x "$B"/bench/bench_gpu ] && bins+=("$B"/bench/bench_gpu)
# Every CUDA, cuBLAS, cuRAND and cuDNN symbol the binaries import must be the stub's.
nm -D --defined-only "$STUB" | awk '{print $3}' | sort -u > "$W/have"
for b in "${bins[@]}"; do
  nm -D --undefined-only "$b" | awk '{print $2}' | sed 's/@.*//' | grep -E '^(__)?(cuda|cudnn|cublas|curand)' || true
done | sort -u > "$W/need"
missing=$(comm -23 "$W/need" "$W/have")
[ -z "$missing" ] || { echo "FAIL: the stub lacks: $missing"; fail=1; }
run() {  # run NAME CMD...: with the stub preloaded; fails on a crash or a bad launch
  local name=$1; shift
  LD_PRELOAD=$STUB "$@" > "$W/$name.log" 2>&1
  local rc=$?
  if [ $rc -ge 124 ]; then tail -20 "$W/$name.log"; echo "FAIL: $name crashed or hung (rc $rc)"; fail=1; fi
  if grep -E "\[stub\] BAD" "$W/$name.log"; then echo "FAIL: $name launched an impossible grid"; fail=1; fi
  return $rc
}
# (ExampleNetsGPU left out: its cost is the CPU side's training, and bench_train_gpu below runs
# the same nets' GPU host paths.)
for t in tensor_gpu_tests nn_gpu_tests; do
  run "$t" timeout 300 "$B/tests/$t" --gtest_brief=1 '--gtest_filter=-Configs/ExampleNetsGPU.*'
  if grep -E "C\+\+ exception|exception thrown" "$W/$t.log"; then echo "FAIL: $t: an exception escaped a test"; fail=1; fi
  echo "$t: $(grep -oE '[0-9]+ tests? from [0-9]+ test suites? ran' "$W/$t.log") under the stub"
done
D=${UMBRA_FASHION_DIR:-/usr/share/datasets/fashion-mnist}
if [ -e "$D/t10k-images-idx3-ubyte.gz" ]; then
  IMG=$D/t10k-images-idx3-ubyte.gz LAB=$D/t10k-labels-idx1-ubyte.gz
  P=(train:path_img=$IMG train:path_label=$LAB test:path_img=$IMG test:path_label=$LAB pred:path_img=$IMG
     pred:path_label=$LAB)
  CONF=$SRC/examples/fashion-mnist/lenet.conf
  for v in plain dtype=bf16 cuda_graph=1 layout=nhwc; do
    extra=(); [ "$v" = plain ] || extra=("$v")
    run "cli-$v" timeout 300 "$B/umbra" "$CONF" "${P[@]}" num_round=1 silent=1 eval_train=0 dev=gpu \
      model_dir="$W/m-$v" "${extra[@]}" || { tail -5 "$W/cli-$v.log"; echo "FAIL: dev=gpu $v"; fail=1; }
  done
  # bf16_nodes on a net without a dtype = bf16 convolution changes nothing: a note says so.
  run cli-bf16-nodes timeout 300 "$B/umbra" "$CONF" "${P[@]}" num_round=1 silent=1 eval_train=0 save_model=0 \
    dev=gpu bf16_nodes=1 || { tail -5 "$W/cli-bf16-nodes.log"; echo "FAIL: dev=gpu bf16_nodes=1"; fail=1; }
  grep -q "note: <command line>:[0-9]*: bf16_nodes = 1 starts at a convolution with dtype = bf16, and this net has none" \
    "$W/cli-bf16-nodes.log" || { echo "FAIL: bf16_nodes without a bf16 convolution gets no note"; fail=1; }
  # No dev key where a GPU is visible: the CPU, said (cxxnet's default was the GPU).
  sed '/^dev = /d' "$CONF" > "$W/nodev.conf"
  run cli-nodev timeout 300 "$B/umbra" "$W/nodev.conf" "${P[@]}" num_round=0 model_dir="$W/m-nodev" ||
    { tail -5 "$W/cli-nodev.log"; echo "FAIL: a run without dev"; fail=1; }
  grep -q "note: no dev key: running on the CPU (cxxnet's default was the GPU); this machine has [0-9]* GPU(s): dev = gpu runs on GPU 0" \
    "$W/cli-nodev.log" || { echo "FAIL: no note for a CPU run without dev beside a GPU"; fail=1; }
  # Host waits for the device per round (100 steps and 100 test batches): with print_step=100 the
  # losses, the training metrics and the test metrics are read once each (readout.h), not per batch.
  # cuDNN's algorithms reported fast (UMBRA_STUB_CUDNN_MS), so that every search picks the same
  # in both runs: where umbra's GEMMs, timed on the host, raced cuDNN's default 0.1 ms, the first
  # round's count moved between runs (47 or 48 waits on a loaded 2-core machine, 2026-12-05).
  for r in 1 2; do
    UMBRA_STUB_CUDNN_MS=0.0001 UMBRA_STUB_LOG=1 run "waits-$r" timeout 300 "$B/umbra" "$CONF" "${P[@]}" num_round=$r silent=1 eval_train=1 \
      print_step=100 save_model=0 dev=gpu || { tail -5 "$W/waits-$r.log"; echo "FAIL: dev=gpu waits run"; fail=1; }
  done
  w1=$(grep -oP 'waits: \K[0-9]+' "$W/waits-1.log" || echo -1) w2=$(grep -oP 'waits: \K[0-9]+' "$W/waits-2.log" || echo -1)
  echo "dev=gpu host waits: $w1 for one round, $w2 for two"
  [ "$w1" -ge 0 ] && [ $((w2 - w1)) -ge 0 ] && [ $((w2 - w1)) -le 3 ] ||
    { echo "FAIL: a round of 100 steps waits $((w2 - w1)) times for the device (at most 3)"; fail=1; }
  # Pinned host memory is allocated once for the run, not per round or batch (each allocation
  # is costly on a GPU, and freeing one waits for the device).
  p1=$(grep -oP 'pinned allocations \K[0-9]+' "$W/waits-1.log" || echo -1)
  p2=$(grep -oP 'pinned allocations \K[0-9]+' "$W/waits-2.log" || echo -2)
  echo "dev=gpu pinned allocations: $p1 for one round, $p2 for two"
  [ "$p1" = "$p2" ] || { echo "FAIL: a second round allocates pinned memory again"; fail=1; }
  # A convolution search that finds nothing usable (no algorithm within a 0 MiB workspace cap):
  # one clear error naming the layer, the pass, the key and what cuDNN returned.
  # (Also playing an older cuDNN 9 than the headers': one warning naming both versions.)
  UMBRA_STUB_CUDNN_VERSION=91400 run cli-cap timeout 300 "$B/umbra" "$CONF" "${P[@]}" num_round=1 silent=1 \
    save_model=0 dev=gpu cudnn_workspace=0
  [ "$(grep -c "built against cuDNN [0-9]*, running with the older 91400" "$W/cli-cap.log")" = 1 ] ||
    { echo "FAIL: an older cuDNN than the headers' is not named once"; fail=1; }
  grep -q "layer '[^']*' (conv), forward: cuDNN found no forward algorithm within the workspace cap of 0 MiB (the layer's cudnn_workspace, in MiB: raise it, or set algo = im2col for umbra's own convolution); it returned 1: algo" \
    "$W/cli-cap.log" || { tail -5 "$W/cli-cap.log"; echo "FAIL: dev=gpu cudnn_workspace=0 is not one clear error"; fail=1; }
  # A cuDNN that refuses bf16 batch norm, pooling and activations (UMBRA_STUB_CUDNN_REFUSE_BF16):
  # bf16 nodes train through umbra's own kernels for them, each kind of refusal said once (two
  # batch norms and two poolings of other shapes here, algo = cudnn where auto would not ask
  # cuDNN: batch norms, max pooling), not an error at the first step.
  awk '/^netconfig = start/ {skip = 1; print; print "layer[0->1] = conv:conv1\n  kernel_size = 5\n  nchannel = 8";
         print "layer[1->2] = batch_norm:bn1\n  algo = cudnn\nlayer[2->2] = tanh:t1\nlayer[2->3] = max_pooling:pool1";
         print "  kernel_size = 2\n  stride = 2\n  algo = cudnn\nlayer[3->4] = conv:conv2\n  kernel_size = 3\n  nchannel = 8";
         print "layer[4->5] = batch_norm:bn2\n  algo = cudnn\nlayer[5->6] = avg_pooling:pool2\n  kernel_size = 2\n  stride = 2";
         print "layer[6->7] = flatten:flat\nlayer[7->8] = fullc:fc1\n  nhidden = 10\nlayer[8->8] = softmax:loss"}
       /^netconfig = end/ {skip = 0} !skip' "$CONF" > "$W/bn.conf"
  UMBRA_STUB_CUDNN_REFUSE_BF16=1 run cli-refuse timeout 300 "$B/umbra" "$W/bn.conf" "${P[@]}" num_round=1 silent=1 \
    save_model=0 dev=gpu dtype=bf16 bf16_nodes=1 || { tail -5 "$W/cli-refuse.log"; echo "FAIL: bf16 nodes where cuDNN refuses them"; fail=1; }
  for what in "batch norm" pooling activation; do
    [ "$(grep -c "refuses bf16 $what (.*NOT_SUPPORTED.*umbra's own kernels take it" "$W/cli-refuse.log")" = 1 ] ||
      { tail -5 "$W/cli-refuse.log"; echo "FAIL: cuDNN's refusal of bf16 $what is not said once"; fail=1; }
  done
  M=$W/m-plain/0001.model
  # pred over the 100 test batches: the rows come back a batch behind on events, not with a
  # wait for the device per batch (it waited 104 times). The bound was 20 until the forward
  # searches timed umbra's GEMMs too: their scratch's free waits once per convolution (LeNet's
  # two), in the first batch only.
  UMBRA_STUB_CUDNN_MS=0.0001 UMBRA_STUB_LOG=1 run waits-pred timeout 300 "$B/umbra" "$CONF" "${P[@]}" silent=1 dev=gpu model_in="$M" task=pred \
    pred="$W/pred-w.txt" || { tail -5 "$W/waits-pred.log"; echo "FAIL: dev=gpu pred waits run"; fail=1; }
  wp=$(grep -oP 'waits: \K[0-9]+' "$W/waits-pred.log" || echo 999)
  echo "dev=gpu pred host waits: $wp for 100 batches"
  [ "$wp" -le 22 ] || { echo "FAIL: pred waits $wp times for the device over 100 batches (at most 22)"; fail=1; }
  for task in "task=pred pred=$W/pred.txt" "task=pred_raw pred=$W/raw.txt" \
              "task=extract extract_node_name=4 pred=$W/feat.txt" "task=get_weight weight_layer=fc1 weight_filename=$W/w.txt" \
              "task=finetune num_round=1 model_dir=$W/ft" "num_round=2 continue=1 model_dir=$W/m-plain"; do
    # shellcheck disable=SC2086
    run cli-task timeout 300 "$B/umbra" "$CONF" "${P[@]}" silent=1 dev=gpu model_in="$M" $task ||
      { tail -5 "$W/cli-task.log"; echo "FAIL: dev=gpu $task"; fail=1; }
  done
else
  echo "no Fashion-MNIST t10k files in $D: CLI part skipped"
fi
if [ -x "$B/bench/bench_train_gpu" ] && [ -x /usr/bin/python3 ]; then
  # The GPU training benchmark as gpu-check runs it, through bench/run.py's tables: every net
  # with CUDA graphs and the per-layer profile, own kernels unfused, bf16, channels-last with
  # graphs, the loss read each step (2 steps a run, not 20: the stand-in has no speed to time).
  # Every row umbra prints is parsed, and a side that fails (here PyTorch, which has no CUDA on
  # this machine) leaves its rows "incomplete" with umbra's figures, never a traceback that
  # loses the table.
  mkdir -p "$W/prof"
  run runpy timeout 300 /usr/bin/python3 "$SRC/bench/run.py" --build "$B" --gpu-train --gpu-own-kernels \
    --gpu-nhwc --gpu-bf16 --gpu-readout --reps 1 --gpu-steps 2 --profile "$W/prof" --save-umbra "$W/umbra.json"
  if grep -q "Traceback" "$W/runpy.log"; then tail -15 "$W/runpy.log"; echo "FAIL: bench/run.py raised"; fail=1; fi
  grep "bench_train_gpu exited with status" "$W/runpy.log" && { echo "FAIL: bench_train_gpu failed"; fail=1; }
  rows=$(grep -cE "^\| (lenet|cifar|alexnet|resnet18|resnet50) \| ([0-9]|incomplete: .*umbra's figures)" "$W/runpy.log")
  # 5 nets in the train table, its peak breakdown, own-kernels, nhwc and bf16 tables, 3 in readout's.
  [ "$rows" -eq 28 ] || { grep -E "^\| [a-z]" "$W/runpy.log"; echo "FAIL: bench/run.py printed $rows of 28 rows"; fail=1; }
  # Every step captures (the stub refuses a cuBLAS product captured without the handle's own
  # workspace, as real cuBLAS may): a net whose graph fell back to plain steps is a failure here
  # (the training table names it under the rows).
  grep -E "capturing the step failed|^[a-z0-9]+: no graph figure" "$W/runpy.log" &&
    { echo "FAIL: bench_train_gpu: no graph"; fail=1; }
  ls "$W/prof"/profile-gpu.md > /dev/null 2>&1 || { ls "$W/prof"; echo "FAIL: no GPU profile written"; fail=1; }
  # umbra's layers beside PyTorch's (none here: PyTorch has no CUDA), each convolution row saying
  # what cuDNN ran.
  grep -q "^### alexnet: no PyTorch profile" "$W/prof/profile-side.md" ||
    { cat "$W/prof/profile-side.md"; echo "FAIL: no side-by-side profile"; fail=1; }
  # (A legacy algorithm, an engine or umbra's GEMM: the stand-in's timings pick any of them.)
  grep -qE '"name":"conv1","type":"conv",.*"how":"cuDNN fwd ([a-z_0-9]+|engine [0-9]+|umbra_gemm\([0-9]+ images\)) [a-z0-9]+ [0-9.]+ ms' \
    "$W/prof/profile-gpu.jsonl" ||
    { head -c 600 "$W/prof/profile-gpu.jsonl"; echo "FAIL: the profile does not say what cuDNN ran"; fail=1; }
  # A run that dies in a library call (the stand-in's cuDNN ends the process where a plan of
  # its graph API is finalized): the net it died in runs again in a process of its own with the
  # legacy search, and, since that worked, the net that never ran too; the tables keep both.
  UMBRA_STUB_CUDNN_ENGINES=2 UMBRA_STUB_CUDNN_PLAN_ABORTS=1 run rerun timeout 120 /usr/bin/python3 \
    "$SRC/bench/run.py" --build "$B" --gpu-train --reps 1 --gpu-steps 2 --gpu-nets lenet cifar
  if grep -q "Traceback" "$W/rerun.log"; then tail -15 "$W/rerun.log"; echo "FAIL: run.py's rerun raised"; fail=1; fi
  rows=$(grep -cE "^\| (lenet|cifar) \| ([0-9]|incomplete: .*umbra's figures.*\"conv_search\": \"legacy\", .*\"graph_img_per_s\")" \
    "$W/rerun.log")
  grep -q "^lenet: measured again in a process of its own with --conv-search legacy (the run ended here, status -6)" \
    "$W/rerun.log" && grep -q "^cifar: measured again .* with --conv-search legacy (never ran: the run ended in lenet)" \
    "$W/rerun.log" && [ "$rows" -eq 4 ] || { cat "$W/rerun.log"; echo "FAIL: run.py did not rerun the nets ($rows of 4 rows)"; fail=1; }
  # gpu-check's compile stage: the torch.compile table against the rows the train table saved.
  run compile timeout 120 /usr/bin/python3 "$SRC/bench/run.py" --build "$B" --compile-from "$W/umbra.json" --reps 1 \
    --gpu-steps 2
  if grep -q "Traceback" "$W/compile.log"; then tail -15 "$W/compile.log"; echo "FAIL: run.py --compile-from raised"; fail=1; fi
  rows=$(grep -cE "^\| (lenet|cifar|alexnet|resnet18|resnet50) \| ([0-9]|incomplete: .*umbra's figures)" "$W/compile.log")
  [ "$rows" -eq 5 ] || { cat "$W/compile.log"; echo "FAIL: run.py --compile-from printed $rows of 5 rows"; fail=1; }
fi
if [ -x "$B/bench/bench_gpu" ] && [ -x /usr/bin/python3 ]; then
  # gpu-check's bench stage (bench/run.py --gpu): the fused statement against a device copy,
  # dot against cuBLAS, batch norm + relu (layers built by hand, both paths, both layouts, and
  # bf16 channels-last), max pooling (both layouts, two shapes). The stand-in's events read the
  # host's clock, so each timed loop ends after a few iterations.
  run runpy_gpu timeout 120 /usr/bin/python3 "$SRC/bench/run.py" --build "$B" --gpu --reps 1
  grep -q "Traceback" "$W/runpy_gpu.log" && { tail -15 "$W/runpy_gpu.log"; echo "FAIL: bench/run.py --gpu raised"; fail=1; }
  # 1 fused row and 2 bf16 conversion rows against the copy, a channel broadcast's pass in
  # both layouts against the copy and against its 2-D path (4 rows), two statements in four
  # launch shapes against the copy (8 rows), the fused statement on bench_gpu's own kernels (4
  # rows), 3 dot rows, 13 batch-norm rows (three shapes; NHWC,
  # fp32 and bf16, and umbra's kernels with the statistics read a value at a time in each of
  # those three, for the two large shapes), 10 max-pooling rows (umbra's kernels and the expressions, both layouts, and
  # the channels-last kernels one channel a thread; two shapes).
  rows=$(grep -cE "^\| (a\*b\+c\*d-e, 64M floats|bf16 cast, 64M floats to bfloat16|bfloat16 to float \+ bias \+ relu, 64M) vs device copy \| [0-9]|^\| x \* scale\[c\] \+ shift\[c\], relu, \(128,64,112,112\) n(chw|hwc) vs device copy \| [0-9]|^\| the same \(n(chw|hwc)\), flat paths vs the 2-D path \| [0-9]|^\| (relu over \(128,64,112,112\)|a\*b\+c\*d-e, 64M floats), ([0-9]+ blocks an SM|a block per 256 items|(two|four) packs a thread a step|by hand, float4(, streaming loads and stores)?) vs device copy \| [0-9]|^\| dot [a-z0-9_]+ vs cublasSgemm direct \| [0-9]|^\| r50_[a-z0-9]+ \(.*\| n[ch][hw][wc](_bf16)?(_scalar)? \| [0-9.]+ ms \| ([0-9.]+ ms|-) \||^\| (resnet_stem|alexnet_pool1) \(.*\| n(chw|hwc)(_expr|_scalar)? \| [0-9.]+ ms \|" "$W/runpy_gpu.log")
  [ "$rows" -eq 45 ] || { grep "^|" "$W/runpy_gpu.log"; echo "FAIL: bench/run.py --gpu printed $rows of 45 rows"; fail=1; }
fi
[ $fail -eq 0 ] && echo "GPU host paths clean"
exit $fail
