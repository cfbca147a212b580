#!/usr/bin/env bash
# A dev=gpu run reads its losses and metrics a print_step window at a time (src/train/readout.h):
# the numbers must not depend on the window. tests/cli/small_mlp.conf (dropout, two metrics, one
# on an inner node) on the t10k images, 105 steps a round:
# - print_step=1 against print_step=10 (ten windows and a last one of 5) and 200 (longer than
#   the round): the same round losses and metrics to 1e-6 (the same kernels run; only the
#   moment the host reads them moves). Two metrics of 96 x 10 outputs fill a 256 KiB pinned
#   chunk every 34 batches, so the longer windows span several chunks;
# - against dev=cpu: the same training within 5% and 0.03; dropout draws other masks on each
#   device (emulated: 1.6% and 0.014 apart). A loss summed instead of averaged, or a slot
#   mixed up, is far off;
# - a NaN loss (eta=1e3: it diverges after some 50 batches, past the first window, so a batch
#   counted from the window's start would show): print_step=10 names the batch print_step=1
#   names, found up to a window late, in one error, and writes no model;
# - a label outside the classes: the cpu's error, naming the sample and its instance.
# Exit 77 (skip) without a GPU. Usage: gpu_readout.sh UMBRA SOURCE_DIR
set -euo pipefail
UMBRA=$1 CONF=$2/tests/cli/small_mlp.conf
PY=/usr/bin/python3; [ -x $PY ] || PY=python3
D=${UMBRA_FASHION_DIR:-/usr/share/datasets/fashion-mnist}
[ -e $D/t10k-images-idx3-ubyte.gz ] || { echo "no Fashion-MNIST t10k files in $D: skipped"; exit 77; }
W=$(mktemp -d); trap 'rm -rf "$W"' EXIT; cd "$W"
IMG=$D/t10k-images-idx3-ubyte.gz LAB=$D/t10k-labels-idx1-ubyte.gz
ARGS=(train:path_img=$IMG train:path_label=$LAB test:path_img=$IMG test:path_label=$LAB num_round=1 silent=1)
if ! "$UMBRA" "$CONF" "${ARGS[@]}" dev=gpu print_step=1 model_dir=g1 > g1.txt 2> g1.err; then
  if grep -qE "no CUDA device|built without CUDA" g1.err; then cat g1.err; echo "no GPU: skipped"; exit 77; fi
  cat g1.err; echo "FAIL: dev=gpu training"; exit 1
fi
for ps in 10 200; do
  "$UMBRA" "$CONF" "${ARGS[@]}" dev=gpu print_step=$ps model_dir=g$ps > g$ps.txt 2> g$ps.err ||
    { cat g$ps.err; echo "FAIL: dev=gpu print_step=$ps"; exit 1; }
done
"$UMBRA" "$CONF" "${ARGS[@]}" dev=cpu model_dir=c > c.txt 2> c.err || { cat c.err; echo "FAIL: dev=cpu"; exit 1; }
cat c.txt g1.txt g10.txt g200.txt
$PY - <<'PY'
import json
def log(d):
    (r,) = [json.loads(l) for l in open(f'{d}/log.jsonl')]
    return {k: v for k, v in r.items() if k == 'loss' or k.startswith(('train-', 'test-'))}
c, g1 = log('c'), log('g1')
assert set(g1) == {'loss', 'train-error', 'train-logloss[3]', 'test-error', 'test-logloss[3]'}, g1
for d in ('g10', 'g200'):
    g = log(d)
    for k, v in g1.items():
        assert abs(g[k] - v) <= 1e-6 * max(1, abs(v)), f'{d}: {k} {g[k]} against print_step=1 {v}'
for k, v in c.items():
    tol = 0.05 * abs(v) if k == 'loss' or 'logloss' in k else 0.03
    assert abs(g1[k] - v) <= tol, f'gpu {k} {g1[k]} against cpu {v}'
print('gpu readout: print_step 1, 10, 200 agree:', g1, '; cpu:', c)
PY
# A NaN loss: one error naming the batch, whatever the window; no model written.
nan_batch() {  # nan_batch DEV PRINT_STEP: the error's "round 1, batch N" part
  if "$UMBRA" "$CONF" "${ARGS[@]}" dev=$1 print_step=$2 eta=1e3 model_dir=nan$1 > nan.txt 2> nan.err; then
    echo "FAIL: dev=$1 trained with eta=1e3" >&2; exit 1
  fi
  [ "$(grep -c 'umbra: error' nan.err)" = 1 ] || { cat nan.err >&2; echo "FAIL: dev=$1 not one error" >&2; exit 1; }
  ! ls nan$1/*.model > /dev/null 2>&1 || { echo "FAIL: dev=$1 wrote a model after a NaN loss" >&2; exit 1; }
  grep -oE "round 1, batch [0-9]+: the training loss is" nan.err || { cat nan.err >&2; exit 1; }
}
one=$(nan_batch gpu 1) ten=$(nan_batch gpu 10) cpu=$(nan_batch cpu 1)
echo "NaN loss: gpu print_step=1 '$one', print_step=10 '$ten'; cpu '$cpu'"
[ "$one" = "$ten" ] || { echo "FAIL: print_step=10 names another batch"; exit 1; }
n=$(echo "$one" | grep -oE "batch [0-9]+" | grep -oE "[0-9]+")
[ "$n" -gt 10 ] || { echo "FAIL: the NaN came at batch $n, inside the first window: the test shows nothing"; exit 1; }
# A label outside the classes: the cpu's error on the gpu too (Net::CheckLabels reads the host's
# labels), where the device alone would drop the sample from the loss without a word.
printf '1,0.5,0.5\n12,0.5,0.5\n' > lab.csv
printf 'data = train\niter = csv\n  filename = lab.csv\niter = end\nnetconfig = start\nlayer[0->1] = fullc:f\n  nhidden = 3\nlayer[1->1] = softmax\nnetconfig = end\ninput_shape = 1,1,2\nbatch_size = 2\n' > lab.conf
for dev in gpu cpu; do
  if "$UMBRA" lab.conf dev=$dev save_model=0 > lab.txt 2> lab.err; then
    echo "FAIL: dev=$dev trained on label 12 of 3 classes"; exit 1
  fi
  grep -q "round 1, batch 1 of the train data (lab.conf:2): layer 'softmax_1' (softmax): sample 1 (instance 1 of the data, from 0: lab.csv:2): label 12 is outside \[0, 3)" lab.err ||
    { cat lab.err; echo "FAIL: dev=$dev: not the bad label's error"; exit 1; }
done
echo "gpu readout ok"
