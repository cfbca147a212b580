#!/usr/bin/env bash
# continue=1 after a kill -9 gives the same model, byte for byte, as a run that never stopped:
# weights, updater state and counters come from the checkpoint, and each round's shuffle and
# dropout depend only on (seed, round); a partial model or log line the kill left goes. Usage:
# resume_after_kill.sh UMBRA SOURCE_DIR.
set -euo pipefail
UMBRA=$1 CONF=$2/tests/cli/small_mlp.conf R=10 LAST=0010.model
[ -e /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] || { echo "no Fashion-MNIST: skipped"; exit 77; }
W=$(mktemp -d); trap 'rm -rf "$W"' EXIT; cd "$W"

"$UMBRA" "$CONF" num_round=$R model_dir=a silent=1 > a.txt
"$UMBRA" "$CONF" num_round=$R model_dir=b silent=1 > b1.txt &
pid=$!
while [ ! -e b/0002.model ]; do
  kill -0 $pid 2> /dev/null || { echo "FAIL: the run ended before writing round 2"; exit 1; }
  sleep 0.01
done
kill -9 $pid; wait $pid 2> /dev/null || true
[ ! -e b/$LAST ] || { echo "FAIL: the run finished before the kill"; exit 1; }
last=$(ls b | grep -c '\.model$')
echo "killed after $last saved round(s)"
echo partial > b/0099.model.tmp.99999  # what a kill during a model's write leaves behind
printf '{"images":600,"img_p' >> b/log.jsonl  # and during a log line's
"$UMBRA" "$CONF" num_round=$R model_dir=b continue=1 silent=1 > b2.txt 2> b2.err
[ ! -e b/0099.model.tmp.99999 ] || { echo "FAIL: a dead run's partial model was left in model_dir"; exit 1; }
grep -q "continue: resuming after round $last" b2.err || { cat b2.err; echo "FAIL: did not resume"; exit 1; }
cmp a/$LAST b/$LAST || { echo "FAIL: the resumed model differs"; exit 1; }
# The per-round metric lines after the resume match the uninterrupted run's too.
diff <(tail -n $((R - last)) a.txt) b2.txt || { echo "FAIL: round lines differ"; exit 1; }
# The JSON log has each round once, in order, though rounds after the last checkpoint ran twice.
[ "$(/usr/bin/python3 -c "import json; print([json.loads(l)['round'] for l in open('b/log.jsonl')])")" = \
  "$(/usr/bin/python3 -c "print(list(range(1, $R + 1)))")" ] || { cat b/log.jsonl; echo "FAIL: log rounds"; exit 1; }
echo "resumed model identical to the uninterrupted one"
