#!/usr/bin/env bash
# dev=gpu trains the Fashion-MNIST LeNet (examples/fashion-mnist/lenet.conf) like dev=cpu: the
# same initial weights (drawn on the host for every device), the same data order, so the loss
# and the test error of each round must match closely (float sums in other orders: not bit for
# bit). A fraction of an epoch: 2 rounds over 10,000 images; then again with dtype=bf16, within
# bf16's precision, and with cuda_graph=1, as the plain gpu run. Then pred on the gpu with the gpu's model must give the cpu's predictions for
# nearly every image. Exit 77 (skip) without a GPU.
# Only the t10k files are read; UMBRA_FASHION_DIR names their folder where Debian's
# dataset-fashion-mnist is not installed (scripts/gpu-check passes data/fashion-mnist).
# Usage: gpu_matches_cpu.sh UMBRA SOURCE_DIR
set -euo pipefail
UMBRA=$1 CONF=$2/examples/fashion-mnist/lenet.conf
PY=/usr/bin/python3; [ -x $PY ] || PY=python3
D=${UMBRA_FASHION_DIR:-/usr/share/datasets/fashion-mnist}
[ -e $D/t10k-images-idx3-ubyte.gz ] || { echo "no Fashion-MNIST t10k files in $D: skipped"; exit 77; }
W=$(mktemp -d); trap 'rm -rf "$W"' EXIT; cd "$W"
IMG=$D/t10k-images-idx3-ubyte.gz LAB=$D/t10k-labels-idx1-ubyte.gz
PATHS=(train:path_img=$IMG train:path_label=$LAB test:path_img=$IMG test:path_label=$LAB pred:path_img=$IMG
       pred:path_label=$LAB)
ARGS=("${PATHS[@]}" num_round=2 silent=1 eval_train=0)
if ! "$UMBRA" "$CONF" "${ARGS[@]}" dev=gpu model_dir=g > g.txt 2> g.err; then
  if grep -qE "no CUDA device|built without CUDA" g.err; then cat g.err; echo "no GPU: skipped"; exit 77; fi
  cat g.err; echo "FAIL: dev=gpu training"; exit 1
fi
"$UMBRA" "$CONF" "${ARGS[@]}" dev=cpu model_dir=c > c.txt
cat c.txt g.txt
$PY - <<'PY'
import json
c = [json.loads(l) for l in open('c/log.jsonl')]
g = [json.loads(l) for l in open('g/log.jsonl')]
assert len(c) == len(g) == 2
for a, b in zip(c, g):
    print(f"round {a['round']}: loss cpu {a['loss']:.5f} gpu {b['loss']:.5f}; test-error cpu {a['test-error']} "
          f"gpu {b['test-error']}; gpu peak {b['peak_mib']:.0f} MiB; img/s cpu {a['img_per_s']:.0f} gpu {b['img_per_s']:.0f}")
    assert abs(a['loss'] - b['loss']) <= 0.01 * a['loss'], 'loss curves differ'
    assert abs(a['test-error'] - b['test-error']) <= 0.01, 'test errors differ'
    assert b['peak_mib'] > 0
PY
# dtype=bf16 (conv and fullc products in bfloat16, fp32 accumulation and master weights): the
# same training within bf16's precision.
"$UMBRA" "$CONF" "${ARGS[@]}" dev=gpu dtype=bf16 model_dir=b > b.txt 2> b.err || { cat b.err; echo "FAIL: bf16"; exit 1; }
$PY - <<'PY'
import json
c = [json.loads(l) for l in open('c/log.jsonl')]
b = [json.loads(l) for l in open('b/log.jsonl')]
assert len(b) == len(c) == 2
for x, y in zip(c, b):
    print(f"round {x['round']}: loss cpu {x['loss']:.5f} gpu bf16 {y['loss']:.5f}; test-error {x['test-error']} / {y['test-error']}")
    assert abs(x['loss'] - y['loss']) <= 0.05 * x['loss'], 'bf16 loss curve differs'
    assert abs(x['test-error'] - y['test-error']) <= 0.03, 'bf16 test error differs'
PY
# cuda_graph=1 (each step's forward and backward replayed from a CUDA graph; the feeder's two
# buffers give two graphs): the gpu run's curve, and no note that graphs were declined.
"$UMBRA" "$CONF" "${ARGS[@]}" dev=gpu cuda_graph=1 model_dir=gr > gr.txt 2> gr.err || { cat gr.err; echo "FAIL: cuda_graph"; exit 1; }
if grep -q "CUDA graphs off" gr.err; then cat gr.err; echo "FAIL: graphs declined for LeNet"; exit 1; fi
$PY - <<'PY'
import json
g = [json.loads(l) for l in open('g/log.jsonl')]
r = [json.loads(l) for l in open('gr/log.jsonl')]
assert len(r) == len(g) == 2
for x, y in zip(g, r):
    print(f"round {x['round']}: loss gpu {x['loss']:.5f} gpu graphs {y['loss']:.5f}; test-error {x['test-error']} / "
          f"{y['test-error']}; img/s {x['img_per_s']:.0f} / {y['img_per_s']:.0f}")
    # Separate processes time cuDNN's algorithms separately and may pick others (other
    # summation orders): the bounds of the gpu-against-cpu check above.
    assert abs(x['loss'] - y['loss']) <= 0.01 * x['loss'], 'graph loss curve differs'
    assert abs(x['test-error'] - y['test-error']) <= 0.01, 'graph test error differs'
PY
"$UMBRA" "$CONF" "${PATHS[@]}" task=pred dev=gpu model_in=g/0002.model pred=g_pred.txt 2> /dev/null
"$UMBRA" "$CONF" "${PATHS[@]}" task=pred dev=cpu model_in=g/0002.model pred=c_pred.txt 2> /dev/null
$PY -c "
import numpy as np; a=np.loadtxt('g_pred.txt'); b=np.loadtxt('c_pred.txt')
assert a.shape == b.shape == (10000,); same=(a==b).mean(); print('pred agreement', same); assert same > 0.995"
echo "gpu matches cpu"
