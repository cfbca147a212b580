#!/usr/bin/env bash
# continue=1 after a kill -9 gives the same model, byte for byte, as a run that never stopped:
# weights, updater state and counters come from the checkpoint, and each round's shuffle and
# dropout depend only on (seed, round); a partial model or log line the kill left goes. And a
# run started with SIGHUP ignored (nohup) lives through one, and a round saved but never logged
# is said when the run resumes. Usage:
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
# A kill between a round's model and its log line (a window of microseconds, met under load)
# leaves a round that is resumed after but never logged: that case is the last part's; here the
# run is made one killed before that model's save.
if ! grep -qE "^\{.*\"round\":$last,.*\}$" b/log.jsonl; then rm "b/$(printf %04d "$last").model"; last=$((last - 1)); fi
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

# A run started with SIGHUP ignored (nohup) lives through one: the CLI's handler that removes
# temporaries on a signal took it over, and a logout ended a nohup'd run (exit 129).
(trap '' HUP; exec "$UMBRA" "$CONF" num_round=$R model_dir=c silent=1 > c.txt) &
pid=$!
while [ ! -e c/0002.model ]; do
  kill -0 $pid 2> /dev/null || { echo "FAIL: the nohup run ended before writing round 2"; exit 1; }
  sleep 0.01
done
[ ! -e c/$LAST ] && kill -HUP $pid || { echo "FAIL: the nohup run finished before the SIGHUP"; exit 1; }
rc=0; wait $pid || rc=$?
[ $rc -eq 0 ] && cmp a/$LAST c/$LAST || { echo "FAIL: a SIGHUP ended the nohup run (rc $rc)"; exit 1; }
echo "the nohup run lived through SIGHUP"

# A round whose model was saved but whose line was not (a full disk, a kill between the two) is
# resumed after, so its line never comes: said, where the log lost it without a word.
cp -r a d
head -n 8 a/log.jsonl > d/log.jsonl
printf '{"round":9,"ima' >> d/log.jsonl
"$UMBRA" "$CONF" num_round=$((R + 1)) model_dir=d continue=1 silent=1 > d.txt 2> d.err
grep -qF "note: log = d/log.jsonl: rounds 9-10 have no line in it" d.err || { cat d.err; echo "FAIL: no note"; exit 1; }
[ "$(/usr/bin/python3 -c "import json; print([json.loads(l)['round'] for l in open('d/log.jsonl')])")" = \
  "[1, 2, 3, 4, 5, 6, 7, 8, 11]" ] || { cat d/log.jsonl; echo "FAIL: d's log rounds"; exit 1; }
echo "a round's lost log line is said"
