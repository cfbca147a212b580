#!/usr/bin/env bash
# The CLI tasks end to end on real data (tests/cli/small_mlp.conf): train writes models and a
# JSON log; pred covers every test image once, in order, and is accurate; pred_raw, extract (txt
# and bin) and get_weight write what they say, get_weight agreeing with the numpy reader; bad
# input (truncated model, another network, NaN loss, unknown task) is one clear error. The model
# file readers on crafted and damaged files are model_readers.sh's.
# Usage: tasks.sh UMBRA SOURCE_DIR. Exit 77 (skip) without Debian's Fashion-MNIST.
source "$(dirname "${BASH_SOURCE[0]}")/cli_common.sh" "$@"

# --version: the version and what the build has; an option that is no file is one error.
"$UMBRA" --version > version.txt || fail "--version failed"
grep -qP '^umbra \d+\.\d+\.\d+$' version.txt && grep -q '^built with: OpenBLAS' version.txt \
  || fail "--version says: $(cat version.txt)"
expect_error "unknown option '--verison'; umbra --help lists the usage" --verison

"$UMBRA" "$CONF" num_round=2 model_dir=m > train.txt 2> train.err
grep -P '^\[2\]\ttrain-error:0\.\d+\ttrain-logloss\[3\]:[\d.]+\ttest-error:0\.[01]\d*\ttest-logloss\[3\]:' train.txt \
  || { cat train.txt; fail "round line"; }
[ -f m/0001.model ] && [ -f m/0002.model ] || fail "models not saved"
[ "$(wc -l < m/log.jsonl)" = 2 ] || fail "log.jsonl lines"
$PY -c "import json;[json.loads(l)['test-error'] for l in open('m/log.jsonl')]" || fail "log.jsonl not JSON"

"$UMBRA" "$CONF" task=pred model_in=m/0002.model 2> pred.err
[ "$(wc -l < pred.txt)" = 10000 ] || fail "pred lines: $(wc -l < pred.txt)"
$PY - <<'PY' || fail "pred accuracy"
import gzip, numpy as np
lab = np.frombuffer(gzip.open('/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz').read()[8:], np.uint8)
pred = np.loadtxt('pred.txt')
acc = (pred == lab).mean()
print('pred accuracy', acc)
assert acc > 0.8
PY

# A model of another network text (a weightless layer changed) predicts, with the warning
# training gives, naming the first line that differs; the same text gives none.
grep -q "warning" pred.err && fail "pred warned: $(cat pred.err)"
sed 's/= relu:/= sigmoid:/' "$CONF" > sig.conf
"$UMBRA" sig.conf task=pred model_in=m/0002.model pred=pred_sig.txt 2> sig.err
grep -qF "warning: the network text of 'm/0002.model' differs from this config's (its 'layer[1->2] = relu:relu1' is 'layer[1->2] = sigmoid:relu1' here)" sig.err \
  || fail "no warning: $(cat sig.err)"
# input_shape given again on the command line is one line of the text (both were kept, and pred
# with the config alone warned); another input shape is named.
"$UMBRA" "$CONF" num_round=1 model_dir=is input_shape=1,1,784 silent=1 > /dev/null 2>&1 || fail "input_shape twice"
"$UMBRA" "$CONF" task=pred model_in=is/0001.model pred=pred_is.txt 2> is.err
grep -q "warning" is.err && fail "pred warned of its own input_shape: $(cat is.err)"
"$UMBRA" "$CONF" task=pred model_in=is/0001.model pred=pred_is.txt input_shape=1,28,28 input_flat=0 2> is2.err \
  || { cat is2.err; fail "pred on another input shape"; }
grep -qF "differs from this config's (its 'input_shape = 1,1,784' is 'input_shape = 1,28,28' here)" is2.err \
  || fail "another input shape not named: $(cat is2.err)"
# So does a global key that reaches a layer (slope, stride, pad, a dropout's threshold: they
# were no part of the model's text, and pred without them gave other answers unwarned); one of
# the initial weights (init) is no part of it.
grep -v "^  threshold = 0.2" "$CONF" > thr.conf
"$UMBRA" thr.conf threshold=0.5 num_round=1 model_dir=thr silent=1 > /dev/null 2>&1 || fail "training thr.conf"
"$UMBRA" thr.conf task=pred model_in=thr/0001.model pred=pred_glob.txt 2> glob.err
grep -qF "warning: the network text of 'thr/0001.model' differs from this config's" glob.err ||
  fail "no warning for a global layer key: $(cat glob.err)"
"$UMBRA" thr.conf task=pred model_in=thr/0001.model pred=pred_glob.txt threshold=0.5 init=xavier 2> glob2.err
grep -q "warning" glob2.err && fail "warned for init: $(cat glob2.err)"

# Training keys on the command line of a task that does not train did nothing, unsaid: a note
# each (not eps, which batch norm reads); get_weight's dev too. Several GPUs: not "training".
"$UMBRA" "$CONF" task=pred model_in=m/0002.model pred=pred_idle.txt num_round=5 fc1:lr=0.1 lr:gamma=0.5 eps=1e-3 \
  2> idle.err > /dev/null || fail "pred with training keys: $(cat idle.err)"
grep -qF "note: <command line>:5: num_round = 5 does nothing for task = pred (a training key)" idle.err \
  && grep -qF "note: <command line>:6: fc1:lr = 0.1 does nothing for task = pred (an updater key)" idle.err \
  && grep -qF "note: <command line>:7: lr:gamma = 0.5 does nothing" idle.err && ! grep -q "eps = 1e-3 does nothing" idle.err \
  || fail "notes of training keys in pred: $(cat idle.err)"
"$UMBRA" "$CONF" task=get_weight weight_layer=fc2 model_in=m/0002.model weight_filename=w_idle.txt dev=bogus \
  2> idle2.err > /dev/null || fail "get_weight dev: $(cat idle2.err)"
grep -qF "note: <command line>:6: dev = bogus does nothing for task = get_weight (it reads the model file, on no device)" \
  idle2.err || fail "no note of get_weight's dev: $(cat idle2.err)"
expect_error "<command line>:3: dev = gpu:0,1: running a net on several GPUs is not supported yet" "$CONF" \
  task=pred dev=gpu:0,1 model_in=m/0002.model
# round_batch must not make pred or eval count a filler row (10,000 = 104 full batches + 16).
"$UMBRA" "$CONF" task=pred model_in=m/0002.model round_batch=1 pred=pred_rb.txt 2> /dev/null
cmp pred.txt pred_rb.txt || fail "round_batch changed pred"

"$UMBRA" "$CONF" task=pred_raw model_in=m/0002.model 2> /dev/null
$PY -c "
import numpy as np; p=np.loadtxt('pred.txt'); assert p.shape==(10000,10), p.shape
assert abs(p.sum(1)-1).max() < 1e-4" || fail "pred_raw rows are not probabilities"
# pred_raw writes binary rows as extract does (it wrote text under output_format = bin); pred's
# classes and get_weight are text only, and say so.
"$UMBRA" "$CONF" task=pred_raw output_format=bin model_in=m/0002.model pred=raw.bin 2> /dev/null
[ "$(cat raw.bin.shape)" = "10000,1,1,10" ] && [ "$(stat -c %s raw.bin)" = $((10000 * 10 * 4)) ] || fail "pred_raw bin"
# A write that fails (here past a file size limit, as a full disk) leaves FILE and FILE.shape as
# they were: the old shape was removed before the new FILE's writes were checked.
if ( trap '' XFSZ; ulimit -f 100; "$UMBRA" "$CONF" task=pred_raw output_format=bin model_in=m/0002.model pred=raw.bin ) \
    2> full.err; then fail "pred_raw past the file size limit succeeded"; fi
grep -qF "'raw.bin' failed" full.err && grep -qF "it is left as it was" full.err || { cat full.err; fail "full.err"; }
[ "$(cat raw.bin.shape 2> /dev/null)" = "10000,1,1,10" ] && [ "$(stat -c %s raw.bin)" = $((10000 * 10 * 4)) ] \
  || fail "a failed pred_raw lost raw.bin.shape or raw.bin"
# A FILE.shape that is a symlink is written through, the link kept (the old shape's removal took
# the link, and the new shape landed in its target, beside no FILE).
echo old > real.shape && ln -s real.shape link.bin.shape
"$UMBRA" "$CONF" task=pred_raw output_format=bin model_in=m/0002.model pred=link.bin 2> /dev/null
[ -L link.bin.shape ] && [ "$(cat link.bin.shape)" = "10000,1,1,10" ] || fail "a symlinked FILE.shape was lost"
$PY -c "
import numpy as np; p=np.fromfile('raw.bin','<f4').reshape(10000,10); t=np.loadtxt('pred.txt')
assert abs(p-t).max() < 1e-6" || fail "pred_raw bin differs from its text"
# A text output removes an earlier binary FILE.shape, but not one the task reads: a csv data file
# named sc.txt.shape, holding "0,1,2,3", was deleted by pred = sc.txt.
printf '0,1,2,3\n' > sc.txt.shape
printf 'data = train\niter = csv\n  filename = sc.txt.shape\niter = end\npred = sc.txt\niter = csv\n  filename = sc.txt.shape\niter = end\nnetconfig = start\nlayer[0->1] = fullc:f\n  nhidden = 2\nlayer[1->1] = softmax\nnetconfig = end\ninput_shape = 1,1,3\nbatch_size = 1\nmodel_dir = scm\nnum_round = 1\n' > sc.conf
"$UMBRA" sc.conf > /dev/null 2>&1 || fail "sc.conf training"
"$UMBRA" sc.conf task=pred model_in=scm/0001.model > /dev/null 2> sc.err || { cat sc.err; fail "sc.conf pred"; }
[ "$(cat sc.txt.shape)" = "0,1,2,3" ] && grep -qF "sc.conf:5: sc.txt.shape is left as it is: this task reads it" sc.err \
  || { cat sc.err; fail "pred deleted the data file sc.txt.shape"; }
"$UMBRA" "$CONF" task=pred_raw model_in=m/0002.model pred=raw.bin 2> /dev/null
[ ! -e raw.bin.shape ] || fail "a text pred_raw left the binary one's raw.bin.shape"
# FILE.shape a folder: refused before FILE is written (FILE was replaced, then the run failed).
echo precious > kept.bin && mkdir kept.bin.shape
expect_error "pred = kept.bin with output_format = bin writes its shape to kept.bin.shape, which is not a regular file" \
  "$CONF" task=pred_raw output_format=bin model_in=m/0002.model pred=kept.bin
[ "$(cat kept.bin)" = precious ] || fail "kept.bin replaced by a run that failed"
"$UMBRA" "$CONF" task=pred_raw output_format=bin model_in=m/0002.model pred=/dev/null 2> null.err
[ ! -e /dev/null.shape ] && grep -qF "/dev/null is no regular file, so no /dev/null.shape: the rows are 10000,1,1,10" \
  null.err || { cat null.err; rm -f /dev/null.shape; fail "a .shape file beside /dev/null"; }
# A net without a loss layer is refused when built, naming its last layer (it failed at round 1,
# batch 1); two arrows in a declaration are malformed (they made a node named "1->2").
sed '/softmax:loss/d' "$CONF" > noloss.conf
expect_error "noloss.conf:26: the net has no loss layer (softmax, l2_loss, ...) to train it by" noloss.conf model_dir=nl
sed '/^layer\[0->1\]/,/^layer\[3->3\]/d' "$CONF" | sed 's/^netconfig = start/&\nlayer[0->3] = flatten\nlayer[3->3] = softmax/' \
  > noweights.conf
expect_error "noweights.conf:22: the net has no layer with weights (fullc, conv, batch_norm, ...)" noweights.conf \
  model_dir=nw
sed 's/^layer\[1->2\] = relu:relu1/layer[1->2] = relu:relu:1/' "$CONF" > colon.conf
expect_error "colon.conf:23: layer name 'relu:1' holds a ':'" colon.conf model_dir=cl
sed 's/^layer\[1->2\] = relu:relu1/layer[1->2->9] = relu:relu1/' "$CONF" > arrows.conf
expect_error "arrows.conf:23: malformed layer[1->2->9]: one arrow" arrows.conf model_dir=ar
# A global layer key that no layer of the net takes (no conv here) gets a note: it did nothing.
"$UMBRA" "$CONF" kernel_size=3 num_round=0 model_dir=gk > /dev/null 2> gk.err || { cat gk.err; fail "kernel_size"; }
grep -qF "note: <command line>:2: kernel_size = 3 is a layer key, but no layer of this net takes it: it does nothing" \
  gk.err || { cat gk.err; fail "no note for a global layer key no layer takes"; }
# A share layer whose input gives other weight shapes names its line and its source's.
sed 's/^layer\[3->3\] = softmax:loss/layer[3->4] = share[fc2]\nlayer[4->4] = softmax:loss/' "$CONF" > share.conf
expect_error "share.conf:28: layer 'share_4' (fullc): shares the weights of layer 'fc2' (fullc) (share.conf:26) but its inputs" \
  share.conf model_dir=shw
# A run whose steps were fewer than update_period applied no update: said (it exited 0 unsaid).
"$UMBRA" "$CONF" update_period=1000 num_round=1 save_model=0 silent=1 > /dev/null 2> up.err || { cat up.err; fail "update_period"; }
grep -qF "note: <command line>:2: update_period = 1000: this run's steps were fewer, so no update was applied" up.err ||
  { cat up.err; fail "no note for a run without updates"; }
# Nor one that every layer taking it sets itself (both fullc layers give nhidden).
"$UMBRA" "$CONF" nhidden=32 num_round=0 model_dir=gk2 > /dev/null 2> gk2.err || { cat gk2.err; fail "nhidden"; }
grep -qF "note: <command line>:2: nhidden = 32 is a layer key, but every layer of this net that takes it sets its own (fc1, fc2): it does nothing" \
  gk2.err || { cat gk2.err; fail "no note for a global layer key every layer overrides"; }
# A global updater key after a tag's (bias:wd, then wd): the tag's wins, where cxxnet took the
# later one; a note says so, and nothing is said for the other order.
"$UMBRA" "$CONF" bias:eta=0.1 momentum=0.5 bias:momentum=0.8 eta=0.5 num_round=0 model_dir=ord > /dev/null 2> ord.err \
  || { cat ord.err; fail "tag keys"; }
grep -qF "note: <command line>:5: eta = 0.5 comes after bias:eta = 0.1 (<command line>:2): the bias weights keep bias:eta = 0.1, the more specific key (cxxnet applied the keys in order: there they took 0.5)" \
  ord.err || { cat ord.err; fail "no note for a global key after a tag's"; }
[ "$(grep -c 'comes after' ord.err)" = 1 ] || { cat ord.err; fail "a note for momentum before bias:momentum"; }
# Nothing to say where the tag's key comes last after all, or the values agree.
"$UMBRA" "$CONF" bias:momentum=0.8 momentum=0.5 bias:momentum=0.7 bias:eta=0.5 eta=0.50 num_round=0 model_dir=ord \
  > /dev/null 2> ord2.err || { cat ord2.err; fail "tag keys 2"; }
if grep -q 'comes after' ord2.err; then cat ord2.err; fail "a note where cxxnet agrees"; fi
# A momentum above cxxnet's cap of 0.9 (its final_momentum) is trained as written: a note.
"$UMBRA" "$CONF" momentum=0.95 num_round=0 model_dir=mom > /dev/null 2> mom.err || { cat mom.err; fail "momentum"; }
grep -qF "note: <command line>:2: momentum = 0.95: cxxnet held momentum at most final_momentum, 0.9 unless set, so a cxxnet run of this config trained at 0.9; umbra trains at 0.95 as written (final_momentum = 0.9 gives cxxnet's)" \
  mom.err || { cat mom.err; fail "no note for momentum past cxxnet's cap"; }
"$UMBRA" "$CONF" momentum=0.95 final_momentum=0.99 num_round=0 model_dir=mom > /dev/null 2> mom2.err ||
  { cat mom2.err; fail "final_momentum"; }
if grep -q 'final_momentum, 0.9' mom2.err; then cat mom2.err; fail "a momentum note beside final_momentum"; fi
# The same within a layer's block: wmat:lr, then lr (cxxnet's wmat took the later).
sed 's/^  nhidden = 64/&\n  wmat:lr = 0.07\n  lr = 0.03/' "$CONF" > blk.conf
"$UMBRA" blk.conf num_round=0 model_dir=blk > /dev/null 2> blk.err || { cat blk.err; fail "block keys"; }
grep -qF "note: blk.conf:24: lr = 0.03 comes after wmat:lr = 0.07 (blk.conf:23): the fc1.wmat weights keep wmat:lr = 0.07, the more specific key (cxxnet applied the keys in order: there they took 0.03)" \
  blk.err || { cat blk.err; fail "no note for a block's key after its tag's"; }
# A layer name may hold a dot: the weight's layer is all before the last dot.
sed 's/fullc:fc1/fullc:fc.1/' blk.conf > blkdot.conf
"$UMBRA" blkdot.conf num_round=0 model_dir=blk > /dev/null 2> blkdot.err || { cat blkdot.err; fail "block keys dot"; }
grep -qF "the fc.1.wmat weights keep wmat:lr = 0.07" blkdot.err || { cat blkdot.err; fail "dotted layer name's block note"; }
# A global grad_scale where the loss sets its own goes to the updater alone: said, as it scales
# every gradient (cxxnet's updater had none).
sed 's/^layer\[3->3\] = softmax:loss/&\n  grad_scale = 1/' "$CONF" > gs.conf
"$UMBRA" gs.conf grad_scale=2 num_round=0 model_dir=gs > /dev/null 2> gs.err || { cat gs.err; fail "grad_scale"; }
grep -qF "note: <command line>:2: grad_scale = 2 goes to the updater alone: every layer of this net that takes it sets its own (loss); it scales every gradient" \
  gs.err || { cat gs.err; fail "no note for the updater's grad_scale"; }
# A block's own key wins over a global one in the file, where cxxnet let the global win: a note
# for the training block (shuffle = 1 there), none for the blocks that take the global's value.
{ cat "$CONF"; echo "shuffle = 0"; } > blk.conf
"$UMBRA" blk.conf num_round=0 model_dir=blk > /dev/null 2> blk.err || { cat blk.err; fail "block keys"; }
grep -qF "note: blk.conf:7: the training block's own shuffle = 1 overrides the global shuffle = 0 (blk.conf:" blk.err \
  || { cat blk.err; fail "no note for a block key over a global one"; }
[ "$(grep -c 'overrides the global' blk.err)" = 1 ] || { cat blk.err; fail "notes for blocks without their own"; }
# eval_train is on by default, as cxxnet's: the round line shows the training batches' metrics.
sed '/^eval_train/d' "$CONF" > noet.conf
"$UMBRA" noet.conf num_round=1 save_model=0 > noet.txt 2> noet.err || { cat noet.err; fail "eval_train default"; }
grep -qP '^\[1\]\ttrain-error:' noet.txt || { cat noet.txt; fail "eval_train is not on by default"; }
# A dropout layer without a threshold drops nothing (cxxnet's default 0), and a note says so.
sed '/^  threshold = 0.2/d' "$CONF" > nothr.conf
"$UMBRA" nothr.conf num_round=0 model_dir=nothr > /dev/null 2> nothr.err || { cat nothr.err; fail "dropout default"; }
grep -qF "note: nothr.conf:24: layer 'drop' (dropout): no threshold is given, so it drops nothing" nothr.err \
  || { cat nothr.err; fail "no note for a dropout without a threshold"; }
# A layer key that its other settings make idle gets a note naming it (it was taken and ignored).
sed 's/^  nhidden = 64/&\n  init = xavier\n  init_sigma = 5/' "$CONF" > idle.conf
"$UMBRA" idle.conf num_round=1 save_model=0 > /dev/null 2> idle.err || { cat idle.err; fail "training with an idle key"; }
grep -qF "note: idle.conf:21: layer 'fc1' (fullc): init_sigma = 5 has no effect: init = xavier does not read" idle.err \
  || { cat idle.err; fail "no note for an idle layer key"; }
expect_error "<command line>:4: output_format = bin is for task = extract and pred_raw" "$CONF" task=pred \
  model_in=m/0002.model output_format=bin pred=cls.bin
expect_error "<command line>:5: task = get_weight writes text only" "$CONF" task=get_weight weight_layer=fc2 \
  model_in=m/0002.model output_format=bin
expect_error "<command line>:4: extract_layer_name = fc1 and weight_layer = fc2 (<command line>:3) name two layers" \
  "$CONF" task=get_weight weight_layer=fc2 extract_layer_name=fc1 model_in=m/0002.model
"$UMBRA" "$CONF" task=pred extract_node_name=2 model_in=m/0002.model pred=cls.txt 2> cls.err
grep -qF "note: extract_node_name (<command line>:3) is read by task = extract; task = pred writes the network's output" \
  cls.err || { cat cls.err; fail "extract_node_name under task = pred"; }

"$UMBRA" "$CONF" task=extract extract_node_name=2 output_format=bin model_in=m/0002.model 2> /dev/null
[ "$(cat pred.txt.shape)" = "10000,1,1,64" ] || fail "extract shape file: $(cat pred.txt.shape)"
[ "$(stat -c %s pred.txt)" = $((10000 * 64 * 4)) ] || fail "extract bin size"
$PY -c "
import numpy as np; x=np.fromfile('pred.txt','<f4').reshape(10000,64); assert (x>=0).all() and x.max()>0" \
  || fail "extracted relu features"

"$UMBRA" "$CONF" task=get_weight weight_layer=fc2 model_in=m/0002.model weight_filename=w.txt 2> /dev/null
PYTHONPATH=$SRC/python $PY -c "
import numpy as np
from umbra.model_file import read_model
w = np.loadtxt('w.txt'); m = read_model('m/0002.model')
assert m['meta']['round'] == '2'
assert np.array_equal(w.astype(np.float32), m['tensors']['fc2.wmat']), 'get_weight vs numpy reader'" \
  || fail "get_weight / numpy reader"
# An existing output this user cannot read could be a model: refused, not replaced (run as
# nobody where this test runs as root and setpriv is at hand).
if [ "$(id -u)" = 0 ] && command -v setpriv > /dev/null; then
  mkdir -p nobody && chmod 777 nobody && cp m/0002.model nobody/in.model && cp m/0002.model nobody/wo.model &&
    chmod 644 nobody/in.model && chmod 222 nobody/wo.model && cp "$CONF" nobody/c.conf && chmod 644 nobody/c.conf
  (cd nobody && setpriv --reuid=65534 --regid=65534 --clear-groups "$UMBRA" c.conf task=pred model_in=in.model \
    pred=wo.model > /dev/null 2> ../nobody.err) && fail "an unreadable output was replaced"
  grep -qF "pred = wo.model would overwrite a file this user cannot read (Permission denied)" nobody.err ||
    { cat nobody.err; fail "an unreadable output is not named"; }
  cmp -s nobody/wo.model m/0002.model || fail "the unreadable output changed"
fi
# cxxnet's weight_name (which it declared and never read) names the tag too.
"$UMBRA" "$CONF" task=get_weight weight_layer=fc2 model_in=m/0002.model weight_filename=wb.txt weight_name=bias \
  2> /dev/null || fail "weight_name"
head -1 wb.txt | grep -qF "# fc2.bias shape" || { head -1 wb.txt; fail "weight_name = bias"; }
expect_error "<command line>:5: weight_name = bias and weight_tag = wmat (<command line>:6) name two weights" \
  "$CONF" task=get_weight weight_layer=fc2 model_in=m/0002.model weight_name=bias weight_tag=wmat

"$UMBRA" "$CONF" task=extract extract_node_name=3 model_in=m/0002.model 2> /dev/null
$PY -c "
import numpy as np; x=np.loadtxt('pred.txt'); assert x.shape==(10000,10), x.shape
assert np.allclose(x.sum(1), 1, atol=1e-4), 'node 3 is rewritten in place by softmax, as in cxxnet'" || fail "extract txt"
# The binary extract's pred.txt.shape described the bytes that the text just replaced; a file of
# that name that is no such shape (the user's) stays.
[ ! -e pred.txt.shape ] || fail "a stale pred.txt.shape was left beside a text extract"
echo "my notes" > pred.txt.shape
"$UMBRA" "$CONF" task=pred model_in=m/0002.model 2> /dev/null
[ "$(cat pred.txt.shape)" = "my notes" ] || fail "a user's pred.txt.shape was removed"; rm pred.txt.shape

# finetune into a wider first layer: only what matches by name and shape is copied.
sed 's/nhidden = 64/nhidden = 32/' "$CONF" > other.conf
"$UMBRA" other.conf task=finetune model_in=m/0002.model num_round=1 model_dir=ft > ft.txt 2> ft.err
grep -q "finetune: copied 1 weight(s) from m/0002.model: fc2.bias" ft.err || { cat ft.err; fail "finetune"; }
grep -qF "warning: finetune: 'fc1.wmat' is (64,784) in m/0002.model but (32,784) here: not copied" ft.err \
  || { cat ft.err; fail "finetune's skipped weight not named"; }
sed 's/fullc:fc/fullc:gc/' "$CONF" > renamed.conf
expect_error "task = finetune: model_in 'm/0002.model' has no weight of this net's names and shapes" renamed.conf \
  task=finetune model_in=m/0002.model num_round=1 model_dir=ft3
[ -f ft/0001.model ] || fail "finetune model"
# A renamed layer starts afresh, and the file's weights of the old name go unused: both said.
sed 's/fullc:fc2/fullc:fcnew/' "$CONF" > newcls.conf
"$UMBRA" newcls.conf task=finetune model_in=m/0002.model num_round=1 model_dir=ftn > /dev/null 2> ftn.err ||
  { cat ftn.err; fail "finetune into a renamed layer"; }
grep -qF "note: finetune: not in m/0002.model, so initialised as a new net's: fcnew.wmat fcnew.bias" ftn.err &&
  grep -qF "note: finetune: weights of m/0002.model this net has no layer of that name for, not used: fc2.wmat fc2.bias" ftn.err ||
  { cat ftn.err; fail "finetune's fresh and unused weights not named"; }
# An unnamed layer is not copied, as cxxnet's finetune copied named layers only (a new
# classifier left unnamed starts afresh), even where the file has its generated name and shape.
sed 's/fullc:fc2/fullc/' "$CONF" > unnamed.conf
"$UMBRA" unnamed.conf num_round=1 model_dir=un silent=1 > /dev/null 2> un.err || { cat un.err; fail "unnamed train"; }
"$UMBRA" unnamed.conf task=finetune model_in=un/0001.model num_round=1 model_dir=unft > /dev/null 2> unft.err ||
  { cat unft.err; fail "unnamed finetune"; }
grep -qF "note: finetune: layer 'fullc_3' has no name in the config: its weights are not copied from un/0001.model, as cxxnet's finetune copied named layers only (name it to copy them)" \
  unft.err && grep -q "finetune: copied 2 weight(s) from un/0001.model: fc1.wmat fc1.bias$" unft.err ||
  { cat unft.err; fail "finetune copied an unnamed layer"; }

# A restartable finetune: continue=1 with nothing in model_dir yet still starts from model_in.
"$UMBRA" other.conf task=finetune model_in=m/0002.model num_round=1 model_dir=ft2 continue=1 > /dev/null 2> ft2.err
grep -q "finetune: copied 1 weight" ft2.err || { cat ft2.err; fail "finetune with continue=1"; }
# Another updater than the model's (sgd's momentum into adam): its state starts from 0, said.
"$UMBRA" "$CONF" model_in=m/0002.model num_round=3 model_dir=mad updater=adam silent=1 > /dev/null 2> mad.err ||
  { cat mad.err; fail "model_in with another updater"; }
grep -qF "note: model_in: 'm/0002.model' holds another updater's state than this run's" mad.err ||
  { cat mad.err; fail "no note for another updater's state"; }
# ... weight by weight: a layer's own updater (fc1:updater = adam) dropped at continue=1 restarts
# fc1's state alone (the file was refused as another network's).
"$UMBRA" "$CONF" num_round=1 model_dir=pl fc1:updater=adam silent=1 > /dev/null 2>&1 || fail "fc1:updater=adam"
"$UMBRA" "$CONF" num_round=2 model_dir=pl continue=1 silent=1 > /dev/null 2> pl.err || { cat pl.err; fail "continue"; }
grep -qF "note: continue: 'pl/0001.model' holds another updater's state than this run's (sgd's and nag's momentum, adam's two moments) for fc1.bias, fc1.wmat: their state" \
  pl.err && [ -f pl/0002.model ] || { cat pl.err; fail "no note for fc1's updater state"; }
# model_in counts on from the model's round; another run into the same model_dir is refused.
"$UMBRA" "$CONF" model_in=m/0002.model num_round=3 model_dir=m3 > /dev/null 2> mi.err
[ -f m3/0003.model ] && [ ! -f m3/0001.model ] || { ls m3; fail "model_in round numbering"; }
expect_error "model_dir 'm' already holds m/0002.model" "$CONF" num_round=2 model_dir=m
# start_counter is cxxnet's: the model before the first round (0 by default), so 5 trains round
# 6 on; going on from model_in, the model's round counts and a note says start_counter is not used.
"$UMBRA" "$CONF" start_counter=5 num_round=6 model_dir=sc > sc.txt 2> sc.err || { cat sc.err; fail "start_counter"; }
[ -f sc/0006.model ] && [ ! -f sc/0005.model ] && grep -q '^\[6\]' sc.txt || { ls sc; cat sc.txt; fail "start_counter = 5"; }
"$UMBRA" "$CONF" start_counter=0 num_round=1 model_dir=sc0 > /dev/null 2>&1 && [ -f sc0/0001.model ] || fail "start_counter = 0"
# start_counter at or past num_round trained nothing and exited 0.
expect_error "<command line>:2: start_counter = 6 makes round 7 the first, past num_round = 6: nothing would train" \
  "$CONF" start_counter=6 num_round=6 model_dir=sc6
[ ! -e sc6 ] || fail "start_counter past num_round made its model_dir"
"$UMBRA" "$CONF" model_in=m/0002.model start_counter=1 num_round=3 model_dir=sc3 > /dev/null 2> sc3.err \
  || { cat sc3.err; fail "model_in with start_counter"; }
grep -qF "note: model_in: start_counter (<command line>:3) is not used: the rounds go on from 3" sc3.err \
  && [ -f sc3/0003.model ] && [ ! -f sc3/0001.model ] || { cat sc3.err; ls sc3; fail "model_in's round"; }
# start_counter past the newest model numbers a new run's rounds; it does not make it the old
# run's continuation (a run from scratch wrote models from 0004 on beside another run's, into its log).
expect_error "model_dir 'm' already holds m/0002.model from an earlier run, with which this run's models (from round 4) would be mixed" \
  "$CONF" num_round=4 start_counter=3 model_dir=m
# Nothing to train in a used model_dir: said, exit 0 (it then refused the folder's models).
"$UMBRA" "$CONF" num_round=0 model_dir=m > /dev/null 2> n0.err || { cat n0.err; fail "num_round = 0 in a used model_dir"; }
grep -q "^nothing to train: round 1 is past num_round = 0" n0.err && ! grep -q "already holds" n0.err \
  || { cat n0.err; fail "num_round = 0 in a used model_dir"; }

"$UMBRA" "$CONF" test_io=1 num_round=1 > io.txt 2> io.err
grep -q "img/s" io.err || fail "test_io"
[ ! -s io.txt ] || { cat io.txt; fail "test_io printed round lines (cxxnet's printed none)"; }
# Its rounds are those a training run would take: from start_counter.
"$UMBRA" "$CONF" test_io=1 start_counter=4 num_round=5 > /dev/null 2> io2.err || { cat io2.err; fail "test_io 2"; }
grep -q "^round 5: " io2.err && [ "$(grep -c '^round [0-9]*: ' io2.err)" = 1 ] || { cat io2.err; fail "test_io start_counter"; }

# Bad input: each one clear error naming the file, key or weight.
head -c 1000 m/0002.model > cut.model
expect_error "cut.model' is truncated" "$CONF" task=pred model_in=cut.model
cp m/0002.model flip.model; printf '\x00' | dd of=flip.model bs=1 seek=5000 conv=notrunc status=none
expect_error "corrupt (checksum mismatch)" "$CONF" task=pred model_in=flip.model
expect_error "'fc1.wmat' has shape (64,784) but the network's is (32,784)" other.conf task=pred model_in=m/0002.model
if grep -q "warning" err.txt; then fail "a warning that the weights match before the error that they do not"; fi
# model_in = (nothing) on the command line clears the config's; a metric given twice is one column.
"$UMBRA" "$CONF" model_in=m/0002.model model_in= metric=error num_round=1 save_model=0 > clr.txt 2> clr.err \
  || { cat clr.err; fail "model_in= run"; }
grep -q '^\[1\]' clr.txt && ! grep -q "model_in" clr.err || { cat clr.txt clr.err; fail "model_in= did not clear it"; }
[ "$(grep '^\[1\]' clr.txt | grep -o 'test-error' | wc -l)" = 1 ] || fail "metric=error twice: $(cat clr.txt)"
expect_error "the training loss is" "$CONF" eta=1e30 model_dir=nan
grep -qF "lower the learning rate (eta = 1e30 at <command line>:2)" err.txt || fail "NaN hint: $(cat err.txt)"
sed 's/^eta/lr/' "$CONF" > lr.conf  # lr in the file, eta on the command line: eta is in effect
expect_error "lower the learning rate (eta = 1e30 at <command line>:2)" lr.conf eta=1e30 model_dir=nan3
grep -v '^eta' "$CONF" > noeta.conf
# A loss non-finite before any update is the data's or the initial weights' (it blamed the
# learning rate, and spoke of earlier rounds in round 1).
expect_error "round 1, batch 1: the training loss is" noeta.conf model_dir=nan2 random_type=gaussian init_sigma=1e30
grep -qF "before any update: check the data and the weights' initialisation (the learning rate has not acted yet)" \
  err.txt && ! grep -q "earlier rounds" err.txt || fail "NaN before an update: $(cat err.txt)"
expect_error "lower the learning rate (eta, 0.01 by default; its schedule: lr:factor = 1e30 at <command line>:4" \
  noeta.conf model_dir=nan2b lr:schedule=factor lr:factor=1e30 lr:step=1
# A schedule that blows the rate up is named with it (the hint named eta alone).
expect_error "lower the learning rate (eta = 0.05 at $CONF:38; its schedule: lr:factor = 1e30 at <command line>:3, lr:schedule = factor at <command line>:2, lr:step = 1 at <command line>:4)" \
  "$CONF" lr:schedule=factor lr:factor=1e30 lr:step=1 model_dir=nan4
# So is the rate of some weights only (a tag's, a layer's, a layer's tag's schedule).
expect_error "lower the learning rate (eta = 0.05 at $CONF:38; for some weights: fc2:wmat:lr = 1e30 at <command line>:2, bias:eta = 0.1 at <command line>:3, fc1:lr:factor = 2 at <command line>:4)" \
  "$CONF" fc2:wmat:lr=1e30 bias:eta=0.1 fc1:lr:factor=2 model_dir=nan5
# A weight decay that blows the weights up is named too (eta 0.05 times wd 1e4 multiplies each
# weight by -499 a step), with the other step keys set, each as last given.
expect_error "lower the learning rate (eta = 0.05 at $CONF:38), or check the other update keys set (momentum = 0.9 at $CONF:39, wmat:wd = 0.0001 at $CONF:40, fc2:wmat:wd = 1e4 at <command line>:2), the data and the weights' initialisation" \
  "$CONF" fc2:wmat:wd=1e4 model_dir=nan6
expect_error "unknown task 'pred_rawx'" "$CONF" task=pred_rawx
# Unknown keys are errors naming the line (a typo would train with the default); train_eval,
# which cxxnet's own MNIST configs carry and cxxnet ignored, is a note.
{ cat "$CONF"; echo "momentun = 0.9"; } > typo.conf
expect_error "typo.conf:41: unknown key 'momentun': no task, updater, layer or iterator takes it; did you mean 'momentum'?" typo.conf
sed 's/  shuffle = 1/  shufle = 1/' "$CONF" > block.conf
expect_error "block.conf:7: unknown key 'shufle': the data block's iterator (mnist) does not take it; did you mean 'shuffle'?" \
  block.conf
expect_error "<command line>:2: unknown key 'shufle': the eval block's iterator (mnist) does not take it; did you mean 'shuffle'?" \
  "$CONF" test:shufle=1
# --help lists each iterator's keys from the iterators themselves.
"$UMBRA" --help > help.txt
grep -qF "  path_img: idx file of the images" help.txt || fail "--help lists no iterator keys: $(cat help.txt)"
# ... and every key the trainer reads (kTrainerKeys in src/train/job.cc; README says --help lists them).
$PY - "$SRC/src/train/job.cc" help.txt <<'PY' || fail "--help misses trainer keys"
import re, sys
src = open(sys.argv[1]).read()
keys = re.findall(r'"([a-z0-9_]+)"', re.search(r'kTrainerKeys = \{(.*?)\};', src, re.S).group(1))
text = open(sys.argv[2]).read()
missing = [k for k in keys if not re.search(r'(?<![a-z0-9_])' + k + r'(?![a-z0-9_])', text)]
assert len(keys) > 30 and not missing, missing
PY
expect_error "<command line>:2: unknown key 'num_rnd': no task, updater, layer or iterator takes it; did you mean 'num_round'?" \
  "$CONF" num_rnd=1 model_dir=typo
# (and the keys cxxnet's mnist iterator took: silent, taken; index_offset, a note)
{ sed 's/  shuffle = 1/  shuffle = 1\n  silent = 1\n  index_offset = 0/' "$CONF"; echo "train_eval = 1"; } > cxxnet.conf
"$UMBRA" cxxnet.conf num_round=1 model_dir=cx > /dev/null 2> cx.err || { cat cx.err; fail "train_eval"; }
grep -qF "note: cxxnet.conf:43: key 'train_eval' is ignored: cxxnet ignored it too (the key is eval_train)" cx.err \
  || fail "no note: $(cat cx.err)"
grep -qF "note: cxxnet.conf:9: key 'index_offset' is ignored" cx.err || fail "no index_offset note: $(cat cx.err)"
expect_error "cuda_graph = 1 needs dev = gpu" "$CONF" cuda_graph=1 model_dir=graph
expect_error "layout = nhwc needs dev = gpu" "$CONF" layout=nhwc model_dir=nhwc
expect_error "layout must be nchw or nhwc, got 'nhcw'" "$CONF" layout=nhcw model_dir=nhwc
expect_error "fuse_relu must be 0 or 1, got 2" "$CONF" fuse_relu=2 model_dir=fuse
expect_error "fuse_add must be 0 or 1, got -1" "$CONF" fuse_add=-1 model_dir=fuse
# silent reaches the iterators too: read as the trainer's key first (it was "iterator key silent").
expect_error "<command line>:2: silent must be 0 or 1, got 2" "$CONF" silent=2 model_dir=fuse
expect_error "bf16_nodes = 1 needs dev = gpu" "$CONF" bf16_nodes=1 model_dir=b16
expect_error "dtype = bf16 needs dev = gpu" "$CONF" dtype=bf16 model_dir=b16
expect_error "dtype = bf16 needs dev = gpu" "$CONF" task=pred model_in=m/0002.model dtype=bf16
sed 's/^  nhidden = 64/&\n  dtype = bf16/' "$CONF" > lbf.conf  # a layer's own: named at its declaration
expect_error "lbf.conf:21: layer 'fc1' (fullc): dtype = bf16 needs dev = gpu" lbf.conf model_dir=b16
expect_error "<command line>:2: seed must be an integer, got '1e3'" "$CONF" seed=1e3 model_dir=b16
expect_error "cuda_graph must be 0 or 1, got 2" "$CONF" cuda_graph=2 model_dir=graph
expect_error "tf32_matmul must be 0 or 1, got 7" "$CONF" tf32_matmul=7 model_dir=graph
expect_error "bf16_nodes must be 0 or 1, got 3" "$CONF" bf16_nodes=3 model_dir=b16
expect_error "print_step must be in [1, 2147483647], got '0'" "$CONF" print_step=0 model_dir=ps
expect_error "tf32_matmul = 1 needs dev = gpu" "$CONF" tf32_matmul=1 model_dir=graph
expect_error "<command line>:2: dev = gpu:-1 is not cpu, gpu or gpu:N" "$CONF" dev=gpu:-1
expect_error "<command line>:5: weight_filename = needs a file name" "$CONF" task=get_weight weight_layer=fc2 \
  model_in=m/0002.model weight_filename=
sed 's/^layer\[3->3\] = softmax:loss/&\n  grad_scale = -1/' "$CONF" > gs.conf  # gradient ascent, unsaid
expect_error "gs.conf:29: layer 'loss' (softmax): value -1 for key 'grad_scale' must be >= 0" gs.conf model_dir=gs
# extract_node_name = 0 is the net's input, as in netconfig.
"$UMBRA" "$CONF" task=extract extract_node_name=0 model_in=m/0002.model pred=in.txt 2> /dev/null || fail "extract 0"
[ "$(head -1 in.txt | wc -w)" = 784 ] || fail "extract 0: $(head -c 200 in.txt)"
expect_error "task = pred needs model_in" "$CONF" task=pred
expect_error "no iterator block or layer is named 'tset'" "$CONF" tset:path_img=x
expect_error "'fc1:foo': 'foo' is no updater key; the keys of layer 'fc1' itself go inside its definition" "$CONF" \
  fc1:foo=1
expect_error "cannot open idx file 'nope.gz'" "$CONF" test:path_img=nope.gz
expect_error "updater key 'fcX:lr': the network has no layer" "$CONF" fcX:lr=0.1 save_model=0
expect_error "<command line>:2: iterator key shuffle = 'abc' is not an integer" "$CONF" train:shuffle=abc
expect_error "<command line>:2: bad value 'abc' for key 'eta': expected a finite number" "$CONF" eta=abc
expect_error "<command line>:2: 'lr:gama' is no learning-rate schedule key; did you mean 'lr:gamma'?" "$CONF" lr:gama=0.9
expect_error "<command line>:2: 'lr:eta': the lr: prefix is for the schedule's keys; write eta" "$CONF" lr:eta=0.1
expect_error "<command line>:2: 'wmat:wdd': 'wdd' is no updater key; did you mean 'wd'?" "$CONF" wmat:wdd=0
# adam's beta1/beta2 are cxxnet's (the new gradient's weights): PyTorch's 0.9 gets a note.
"$UMBRA" "$CONF" updater=adam beta1=0.9 test_io=1 num_round=1 save_model=0 > /dev/null 2> beta.err \
  || { cat beta.err; fail "adam beta1 run"; }
grep -qF "<command line>:3: beta1 = 0.9 is cxxnet's adam beta1: the new gradient's weight, so the usual beta1 is 0.1" \
  beta.err || { cat beta.err; fail "adam beta1 note"; }
expect_error "<command line>:2: unknown metric 'blah'" "$CONF" metric=blah
expect_error "<command line>:2: metric[label,in] names the net's input" "$CONF" "metric[label,in]=error"
expect_error "<command line>:2: no node named 'fc9' in the network (kept for reading after a pass: extract_node_name, a metric[label,node]); the nodes: 1, 2, 3, in" "$CONF" \
  "metric[label, fc9]=error" model_dir=mx
# The hint's node holds what the layers that rewrite it in place leave (node 3: the softmax's
# probabilities, not fc2's output): said.
expect_error "<command line>:3: no node named 'fc2' in the network (kept for reading after a pass: extract_node_name, a metric[label,node]); 'fc2' is a layer, whose output is node '3', but 'loss' (softmax) then rewrites that node in place, and it holds what the last leaves; to read 'fc2''s own output, give the first of them an output node of its own" \
  "$CONF" task=extract extract_node_name=fc2 model_in=m/0002.model pred=e.txt
# extract_layer_name is get_weight's key: one who gave it to extract is told.
expect_error "task = extract needs extract_node_name = <node> (<command line>:3: extract_layer_name names the layer whose weights task = get_weight writes" \
  "$CONF" task=extract extract_layer_name=fc2 model_in=m/0002.model pred=e.txt
# logloss on a node of no probabilities (a fullc's; a relu's, through the dropout after it) is
# refused before training: it stopped the run at the first value past [0, 1], rounds in.
expect_error "<command line>:2: metric logloss scores node '2', whose values are the output of layer 'relu1' (relu, $CONF:23): no probabilities" \
  "$CONF" "metric[label,2]=logloss" model_dir=ll
[ ! -e ll ] || fail "a refused logloss made its model_dir"
expect_error "<command line>:3: metric logloss scores node '1', whose values are the output of layer 'fc1' (fullc" \
  "$CONF" save_model=0 "metric[label,1]=logloss"
# A block's batch_size named where it is given (it was "the test iterator gives batches of
# (3,1,1,784) but ...", naming no key).
expect_error "<command line>:2: test:batch_size = 3: every block's batches are the net's, batch_size = 96" "$CONF" \
  test:batch_size=3 save_model=0
# Numbers that would wrap or exhaust the process: an error naming the key, not another setting.
expect_error "num_round must be in [0, 99999999], got '4294967297'" "$CONF" num_round=4294967297 model_dir=big
expect_error "batch_size must be in [1, 999999999], got '1000000000'" "$CONF" batch_size=1000000000 model_dir=big
expect_error "update_period must be in [1, 2147483647], got '3000000000'" "$CONF" update_period=3000000000 model_dir=big
expect_error "iterator key shuffle = '100000000000' is out of range" "$CONF" train:shuffle=100000000000
# Past a long long too: out of range, not "not an integer".
expect_error "num_round must be in [0, 99999999], got '99999999999999999999'" "$CONF" num_round=99999999999999999999
expect_error "batch_size must be in [1, 999999999], got '-99999999999999999999'" "$CONF" batch_size=-99999999999999999999
expect_error "iterator key seed = '18446744073709551615' is out of range [" "$CONF" train:seed=18446744073709551615
expect_error "bad value '99999999999999999999' for key 'nhidden': expected an integer in [" "$CONF" \
  nhidden=99999999999999999999
# A global value the net's own layer type refuses is blamed on that type, and said to reach no
# layer because each sets its own (it was blamed on a fixconn layer, "no layer takes nhidden").
expect_error "<command line>:2: a fullc layer: bad value 'abc' for key 'nhidden': expected an integer; every layer of \
this net that takes nhidden sets its own (fc1, fc2)" "$CONF" nhidden=abc
expect_error "extra_data_num must be a count up to 1000, got '2000000000'" "$CONF" extra_data_num=2000000000
# extra_data_shape[k] is a known key (the net's extra inputs), though no iterator feeds them yet.
expect_error "<command line>:2: extra_data_num = 1: umbra's iterators give no extra data yet" "$CONF" \
  extra_data_num=1 "extra_data_shape[0]=1,1,3" \
  model_dir=extra
expect_error "cannot open model file '/dev/zero': not a regular file" "$CONF" task=pred model_in=/dev/zero
# Outputs whose writes fail are errors (a full disk lost a whole pred file with success), and a
# file that is no training log is not overwritten by one.
expect_error "writing the pred output '/dev/full' failed" "$CONF" task=pred model_in=m/0002.model pred=/dev/full
expect_error "writing weight_filename '/dev/full' failed" "$CONF" task=get_weight weight_layer=fc2 model_in=m/0002.model \
  weight_filename=/dev/full
expect_error "writing round 1 to the training log '/dev/full' failed" "$CONF" num_round=1 save_model=0 log=/dev/full
# Written in place, as before, where the name is no regular file: /dev/stdout, a symlink (kept).
"$UMBRA" "$CONF" task=pred model_in=m/0002.model pred=/dev/stdout > pred_out.txt 2> /dev/null
cmp pred_rb.txt pred_out.txt || fail "pred=/dev/stdout"
echo old > target.txt; ln -s target.txt link.txt
"$UMBRA" "$CONF" task=get_weight weight_layer=fc2 model_in=m/0002.model weight_filename=link.txt 2> /dev/null
[ -L link.txt ] && cmp w.txt target.txt || fail "get_weight through a symlink"
echo "my notes" > notes.txt
expect_error "<command line>:4: log = notes.txt: line 1 is no round of a training log; not overwriting the file" "$CONF" \
  num_round=1 save_model=0 log=notes.txt
[ "$(cat notes.txt)" = "my notes" ] || fail "a file that is no log was overwritten"
# An output never replaces what the task reads, nor any model file: the model given as pred or
# weight_filename (a slip lost it, with success), the config, a data file named by a key.
cp m/0002.model victim.model; cp "$CONF" victim.conf
expect_error "<command line>:4: pred = victim.model would overwrite the file model_in names (<command line>:3)" \
  "$CONF" task=pred model_in=victim.model pred=victim.model
expect_error "<command line>:5: weight_filename = m/0001.model would overwrite a model file" "$CONF" \
  task=get_weight weight_layer=fc2 model_in=m/0002.model weight_filename=m/0001.model
expect_error "<command line>:5: pred = victim.conf would overwrite the config file it is given in" victim.conf \
  task=extract extract_node_name=1 model_in=m/0002.model pred=victim.conf
gunzip -c $DATA/t10k-labels-idx1-ubyte.gz > labels.idx
expect_error "pred = labels.idx would overwrite the file pred:path_label names (<command line>:4)" "$CONF" \
  task=pred model_in=m/0002.model pred:path_label=labels.idx pred=labels.idx
# Nor the training log of the config's model_dir (or log =), nor a new file named as a round's
# model there (continue=1 took a text file for the newest model).
cp m/log.jsonl log.keep
expect_error "<command line>:4: pred = m/log.jsonl would overwrite the training log 'm/log.jsonl'" "$CONF" \
  task=pred model_in=m/0002.model pred=m/log.jsonl model_dir=m
expect_error "<command line>:5: weight_filename = ./m/0009.model is named as a round's model file (NNNN.model), which continue=1 in model_dir 'm'" "$CONF" \
  task=get_weight weight_layer=fc2 model_in=m/0002.model weight_filename=./m/0009.model model_dir=m
# ... in any folder, which may be another run's model_dir.
expect_error "<command line>:4: pred = m/0008.model is named as a round's model file (NNNN.model), which continue=1 in its folder" \
  "$CONF" task=pred model_in=m/0002.model pred=m/0008.model
cmp log.keep m/log.jsonl && [ ! -e m/0009.model ] && [ ! -e m/0008.model ] || fail "the log was overwritten or a model-named file written"
# Nor a model_dir's lock file: replaced, it no longer held the folder, and a second training ran
# in it beside the first.
expect_error "<command line>:4: pred = m/.umbra.lock is named as a model_dir's lock file (.umbra.lock), which training runs hold" \
  "$CONF" task=pred model_in=m/0002.model pred=m/.umbra.lock
expect_error "<command line>:3: log = lk/.umbra.lock is named as a model_dir's lock file" "$CONF" model_dir=lk log=lk/.umbra.lock
# So is a symlink to one (an output is written through a link).
ln -s m/.umbra.lock lock.link
expect_error "<command line>:4: pred = lock.link is a symlink to '$(pwd -P)/m/.umbra.lock', a model_dir's lock file" \
  "$CONF" task=pred model_in=m/0002.model pred=lock.link
expect_error "<command line>:3: log = lock.link is a symlink to '$(pwd -P)/m/.umbra.lock'" "$CONF" model_dir=lk log=lock.link
rm lock.link
# Nor another run's log, found by its first line (a pred over it lost that run's rounds, and its
# continue=1 then refused the folder), nor a record file or a mean image, by their first bytes.
mkdir -p other_run && cp m/log.jsonl other_run/log.jsonl
expect_error "<command line>:4: pred = other_run/log.jsonl would overwrite a training log (its first line is a round)" \
  "$CONF" task=pred model_in=m/0002.model pred=other_run/log.jsonl
# ... whose first line may be longer than any one read (a round with thousands of metrics).
mkdir -p wide_run && $PY -c "import json; print(json.dumps({'round': 1, **{f'm{i}': 0.5 for i in range(9000)}}))" \
  > wide_run/log.jsonl
[ "$(head -1 wide_run/log.jsonl | wc -c)" -gt 70000 ] || fail "the wide log's first line is short"
cp wide_run/log.jsonl wide.keep
expect_error "<command line>:4: pred = wide_run/log.jsonl would overwrite a training log (its first line is a round)" \
  "$CONF" task=pred model_in=m/0002.model pred=wide_run/log.jsonl
cmp wide.keep wide_run/log.jsonl || fail "a log with a long first line was overwritten"
printf 'UMRC rest' > made.rec; printf 'UMBRAMEA rest' > made.mean
expect_error "<command line>:5: weight_filename = made.rec would overwrite a record file" "$CONF" \
  task=get_weight weight_layer=fc2 model_in=m/0002.model weight_filename=made.rec
expect_error "<command line>:4: pred = made.mean would overwrite a mean image" "$CONF" task=pred \
  model_in=m/0002.model pred=made.mean
# ... nor an image (one an img block reads: its list names it, no entry does), by its signature; a
# BMP's "BM" only with an info header's size after it (a float's bytes may begin "BM").
printf 'P5\n1 1\n255\n\x07' > made.pgm; printf 'BM\x46\0\0\0\0\0\0\0\x36\0\0\0\x28\0\0\0' > made.bmp
for img in made.pgm made.bmp; do
  expect_error "<command line>:4: pred = $img would overwrite an image (its first bytes are an image format's)" \
    "$CONF" task=pred model_in=m/0002.model pred=$img
done
printf 'BM 1 2 3\n' > made.txt
"$UMBRA" "$CONF" task=pred model_in=m/0002.model pred=made.txt > /dev/null 2>&1 || fail "a text beginning BM was refused"
cmp log.keep other_run/log.jsonl && [ "$(cat made.rec)" = "UMRC rest" ] && [ "$(cat made.mean)" = "UMBRAMEA rest" ] \
  && [ "$(wc -c < made.pgm)" = 12 ] || fail "another run's log, a record file, a mean image or an image was overwritten"
cmp victim.model m/0002.model && cmp victim.conf "$CONF" && [ "$(wc -c < labels.idx)" = 10008 ] \
  || fail "an input was overwritten"
printf '0\t0\tnone.png\n' > in.lst
expect_error "im2rec: 'in.lst' exists and is no record file; not overwriting it" im2rec in.lst . in.lst
[ "$(cat in.lst)" = "$(printf '0\t0\tnone.png')" ] || fail "im2rec overwrote its list"
# pred= with no file wrote to the config's pred file; switches are 0 or 1; rec@N below the
# output's classes (rec@10 of 10 is always 1), said when the net is built.
expect_error "<command line>:3: pred = needs a file name" "$CONF" task=pred pred= model_in=m/0002.model
expect_error "<command line>:2: eval_train must be 0 or 1, got 2" "$CONF" eval_train=2 model_dir=sw
# A layer named as a weight tag or a schedule's prefix: its LAYER:key meant two things (a layer
# named lr lost its own lr = 0 unsaid; bias:lr = 0 froze a layer named bias whole).
sed 's/= fullc:fc1/= fullc:lr/; s/  nhidden = 64/  nhidden = 64\n  lr = 0/' "$CONF" > lrname.conf
expect_error "updater key 'lr:lr' is ambiguous: 'lr' is the name of a layer (whose own updater keys" \
  lrname.conf model_dir=lrn
expect_error "<command line>:2: updater key 'lr:momentum' is ambiguous: 'lr' is the name of a layer" \
  lrname.conf lr:momentum=0 model_dir=lrn
expect_error "<command line>:2: 'lr:momentm': 'momentm' is no updater key; the keys of layer 'lr' itself go inside its definition in netconfig; did you mean 'momentum'?" \
  lrname.conf lr:momentm=0 model_dir=lrn
sed 's/= fullc:fc1/= fullc:bias/' "$CONF" > biasname.conf
expect_error "stored as bias:key) and a weight tag of this network" \
  biasname.conf bias:lr=0 model_dir=bsn
# A layer named as another's weight: fc1:wmat:lr = 0 froze layer fc1.wmat whole, and fc1's wmat.
sed 's/= fullc:fc2/= fullc:fc1.wmat/' "$CONF" > wname.conf
expect_error "<command line>:2: updater key 'fc1:wmat:lr' is ambiguous: 'fc1.wmat' is the name of a layer (whose own updater keys, in its block or as LAYER:key, are stored as fc1.wmat:key) and the name of layer 'fc1''s weight wmat; rename the layer" \
  wname.conf fc1:wmat:lr=0 model_dir=wn
# Batch norm's running statistics take no updater key (bn:moving_mean:lr = 5 did nothing, unsaid).
sed 's/^layer\[1->2\] = relu:relu1$/layer[1->1] = batch_norm:bn\n&/' "$CONF" > bnstat.conf
for key in bn:moving_mean:lr=5 moving_var:wd=1; do
  expect_error "updater key '${key%=*}': '$(echo "${key%:*}" | tr : .)' names running statistics (batch norm's moving_mean, moving_var), which follow the batches and which no updater trains" \
    bnstat.conf "$key" model_dir=bns
done
"$UMBRA" bnstat.conf bn:lr=0.5 num_round=0 model_dir=bns > /dev/null 2>&1 || fail "bn:lr refused"
"$UMBRA" bnstat.conf bn:eps=0.1 num_round=0 model_dir=bns > /dev/null 2> bneps.err || { cat bneps.err; fail "bn:eps"; }
grep -qF "note: <command line>:2: bn:eps = 0.1 has no effect: updater = sgd does not read it (adam does); batch norm's own eps goes inside layer 'bn''s block in netconfig" \
  bneps.err || { cat bneps.err; fail "bn:eps note"; }
"$UMBRA" bnstat.conf bn:eps=0.1 updater=adam num_round=0 model_dir=bns > /dev/null 2> bneps.err || { cat bneps.err; fail "bn:eps adam"; }
grep -qF "note: <command line>:2: bn:eps = 0.1 sets adam's eps for the weights of layer 'bn', not batch norm's: batch norm's own eps goes inside layer 'bn''s block in netconfig" \
  bneps.err || { cat bneps.err; fail "bn:eps note with adam"; }
# A layer declared after the loss became the net's output, which metrics and pred read: an error.
sed '/^netconfig = start$/,/^netconfig = end$/c\netconfig = start\nlayer[0->1,2] = split\nlayer[1->3] = fullc:fc\n  nhidden = 10\nlayer[3->3] = softmax:sm\nlayer[2->9] = flatten:late\nnetconfig = end' \
  "$CONF" > late.conf
expect_error "late.conf:25: layer 'late' (flatten) comes after the loss layer 'sm' (softmax) (late.conf:24), but the net's output, which a metric of no node reads (metric = error), is its last layer's; declare the layer before the loss, or name the node each metric reads (metric[label,node])" \
  late.conf model_dir=late
# Metrics that each name their node read no output: trained as written.
sed '/^metric/d' late.conf > late2.conf
"$UMBRA" late2.conf "metric[label,3]=error" num_round=1 save_model=0 > late2.txt 2> late2.err || { cat late2.err; fail "late layer, metric of a node"; }
grep -qF "train-error[3]:" late2.txt || { cat late2.txt; fail "late2 round line"; }
"$UMBRA" late2.conf "metric[label,3]=error" num_round=1 model_dir=late2 > /dev/null 2>&1 || fail "late2 model"
expect_error "late.conf:25: layer 'late' (flatten) comes after the loss layer 'sm' (softmax) (late.conf:24), but pred writes the net's output, its last layer's" \
  late.conf task=pred model_in=late2/0001.model pred=late.txt
# The metric's own line is named (it named the data block's), and the block it scores.
expect_error "<command line>:2: metric rec@10 on an output of 10 classes counts every prediction; N must be below 10" \
  "$CONF" metric=rec@10 model_dir=rc
: > empty.conf; echo "num_round = 1" > nonet.conf
expect_error "empty.conf: the config file holds no settings" empty.conf
expect_error "nonet.conf: the config has no netconfig = start" nonet.conf
expect_error "<command line>:4: pred = m is a folder; name a file (m/x.txt)" "$CONF" task=pred model_in=m/0002.model pred=m
# An output in a folder that is not there is said at its key's line, before the pass.
expect_error "<command line>:4: pred = nodir/p.txt: its folder 'nodir' does not exist; make it, or name another output file" \
  "$CONF" task=pred model_in=m/0002.model pred=nodir/p.txt
touch afile2
expect_error "<command line>:4: weight_filename = afile2/w.txt: its folder 'afile2' is no folder" \
  "$CONF" task=get_weight model_in=m/0002.model weight_filename=afile2/w.txt weight_layer=fc1
expect_error "<command line>:2: input_shape = 3,100000,100000 with batch_size = 96 makes batches of" "$CONF" \
  input_shape=3,100000,100000 model_dir=big
# ... by batch_size's line where one instance fits (it named input_shape's for batch_size = 10^8).
expect_error "<command line>:2: batch_size = 500000000 with input_shape = 1,1,784 ($CONF:" "$CONF" \
  batch_size=500000000 model_dir=big
# A log holding another run's rounds is not replaced by a fresh run (a resumed one keeps them).
"$UMBRA" "$CONF" num_round=1 save_model=0 log=shared.jsonl > /dev/null 2>&1 || fail "first run into shared.jsonl"
expect_error "log = shared.jsonl holds round 1 of another run; not overwriting it" "$CONF" num_round=1 save_model=0 \
  log=shared.jsonl
[ "$(wc -l < shared.jsonl)" = 1 ] || fail "shared.jsonl changed"
# Nor by a run with continue=1 that found no model to resume (it rewrote the log from round 1).
expect_error "log = shared.jsonl holds round 1 of another run; not overwriting it" "$CONF" num_round=1 \
  model_dir=nothing_yet log=shared.jsonl continue=1
[ "$(wc -l < shared.jsonl)" = 1 ] || fail "shared.jsonl changed by continue=1 with nothing to resume"
# Its model_dir's own log is the run's, though: continue=1 with no model yet starts again there
# (a run killed before its first save, save_model = 2 in round 2).
"$UMBRA" "$CONF" num_round=1 model_dir=k1 silent=1 > /dev/null 2>&1 && rm k1/0001.model || fail "k1"
"$UMBRA" "$CONF" num_round=1 model_dir=k1 silent=1 continue=1 > /dev/null 2> k1.err || { cat k1.err; fail "k1 again"; }
[ "$(wc -l < k1/log.jsonl)" = 1 ] && [ -f k1/0001.model ] || fail "k1 not trained again"
# A whole JSON object that is no round (a file of notes) is no log cut short by a kill: it was
# dropped as one, and the file replaced.
echo '{"experiment": "notes", "lr": 0.1}' > notes.json
expect_error "log = notes.json: line 1 is no round of a training log; not overwriting the file" "$CONF" num_round=1 \
  save_model=0 log=notes.json
grep -qx '{"experiment": "notes", "lr": 0.1}' notes.json || fail "notes.json replaced"
# A log another run is writing (flock holds it as a run does) is refused: each run renamed its
# rewrite over the name and appended to its own copy, and one run's rounds were lost.
if flock shared.jsonl "$UMBRA" "$CONF" num_round=1 save_model=0 log=shared.jsonl continue=1 > out.txt 2> err.txt; then
  fail "a log another run holds was written"
fi
grep -qF "umbra: error: <command line>:4: log = shared.jsonl is being written by another run; name another log" err.txt \
  || { cat err.txt; fail "the held log is not named"; }
# A log named through a symlink is read before it is rewritten (it was truncated first: a
# resumed run lost its rounds and a link to a file that is no log destroyed it).
mkdir -p sl; ln -s sl/kept.jsonl sl.jsonl
"$UMBRA" "$CONF" num_round=2 model_dir=sl log=sl.jsonl > /dev/null 2>&1 || fail "training with a linked log"
"$UMBRA" "$CONF" num_round=3 model_dir=sl log=sl.jsonl continue=1 > /dev/null 2>&1 || fail "resuming it"
[ -L sl.jsonl ] && [ "$(grep -c '"round"' sl/kept.jsonl)" = 3 ] || fail "the linked log lost its rounds"
ln -s notes.txt notes_link.txt
expect_error "log = notes_link.txt: line 1 is no round of a training log" "$CONF" num_round=1 save_model=0 \
  log=notes_link.txt
[ "$(cat notes.txt)" = "my notes" ] || fail "a file that is no log was overwritten through a link"
# continue=1 goes on from what the newest model holds, not from its name alone.
mkdir -p rn; cp m/0001.model rn/0005.model
expect_error "continue: 'rn/0005.model' holds the model of round 1, not 5 as its name says; rename or remove it" \
  "$CONF" model_dir=rn continue=1 num_round=6
# An iterator's own error names its block (three blocks, and the message named none), and the
# line of the key it names (here the empty path_img on the command line).
expect_error "<command line>:2: the test block's iterator: mnist iterator needs path_img and path_label" "$CONF" \
  test:path_img= model_dir=ib
# ... and the line of the value it cannot open, there or in the file, rather than the iter line.
expect_error "<command line>:2: the training block's iterator: cannot open idx file '/nonexistent.gz'" "$CONF" \
  train:path_img=/nonexistent.gz model_dir=ib
sed 's|t10k-labels-idx1-ubyte.gz"|t10k-labels-gone.gz"|' "$CONF" > gone.conf
expect_error "gone.conf:12: the test block's iterator: cannot open idx file '/usr/share/datasets/fashion-mnist/t10k-labels-gone.gz'" \
  gone.conf model_dir=ib
# A model_dir another run holds is refused (two runs overwrote each other's models); one that
# cannot be a folder is an error naming the key.
mkdir -p lk
exec 9> lk/.umbra.lock
flock 9  # held by this shell, as another run would hold it
expect_error "model_dir 'lk' is in use by another umbra run" "$CONF" num_round=1 model_dir=lk
exec 9>&-
"$UMBRA" "$CONF" num_round=1 model_dir=lk > /dev/null 2>&1 || fail "model_dir free again but refused"
touch afile
expect_error "<command line>:3: model_dir 'afile' cannot be made a folder" "$CONF" num_round=1 model_dir=afile
# A bad label in training names the round, the batch and the data block.
printf '1,0.5,0.5\n12,0.5,0.5\n' > lab.csv
printf 'data = train\niter = csv\n  filename = lab.csv\niter = end\nnetconfig = start\nlayer[0->1] = fullc:f\n  nhidden = 3\nlayer[1->1] = softmax\nnetconfig = end\ninput_shape = 1,1,2\nbatch_size = 2\n' > lab.conf
expect_error "round 1, batch 1 of the train data (lab.conf:2): layer 'softmax_1' (softmax): sample 1 (instance 1 of the data, from 0: lab.csv:2): label 12 is outside [0, 3)" lab.conf save_model=0
# An output past float's range is an error, not class 0 written as an answer; the file is kept.
printf '1,0.5,0.5\n2,0.5,0.25\n' > ok.csv; printf '1,3e38,3e38\n2,3e38,-3e38\n' > big.csv; echo old > big.txt
printf 'data = train\niter = csv\n  filename = ok.csv\niter = end\npred = big.txt\niter = csv\n  filename = big.csv\niter = end\nnetconfig = start\nlayer[0->1] = fullc:f\n  nhidden = 3\n  random_type = gaussian\n  init_sigma = 100\nlayer[1->1] = softmax\nnetconfig = end\ninput_shape = 1,1,2\nbatch_size = 2\neta = 0\n' > big.conf
"$UMBRA" big.conf num_round=1 model_dir=bm > /dev/null 2>&1 || fail "training on ok.csv"
expect_error "big.conf:6: the network's output holds" big.conf task=pred model_in=bm/0001.model
grep -qF "for instance 0 of the data, from 0: big.csv:1 (non-finite data, or a value past float's range); big.txt is left as it was" \
  err.txt || { cat err.txt; fail "the non-finite output's instance"; }
[ "$(cat big.txt)" = old ] || fail "pred file replaced after a non-finite output"
# pred behind a membuffer that keeps the first max_nbatch batches of a longer epoch wrote those
# alone and succeeded: an error, the file kept. A cap that covers the data (two batches of
# three rows, exactly two) passes.
printf '1,0.5,0.5\n2,0.5,0.25\n0,0.25,0.5\n' > mb.csv; echo old > mb.txt
sed 's/pred = big.txt/pred = mb.txt/; s/filename = big.csv/filename = mb.csv\niter = membuffer/' big.conf > mb.conf
expect_error "mb.conf:6: membuffer keeps the epoch's first 1 batches (max_nbatch = 1), and more follow, but pred writes every instance of the data once; give pred:max_nbatch=0, or leave membuffer out of the pred block; mb.txt is left as it was" \
  mb.conf task=pred model_in=bm/0001.model pred:max_nbatch=1
[ "$(cat mb.txt)" = old ] || fail "pred file replaced behind a capped membuffer"
sed 's/^iter = membuffer$/&\niter = threadbuffer/' mb.conf > mbt.conf  # asked through a threadbuffer
expect_error "membuffer keeps the epoch's first 1 batches (max_nbatch = 1), and more follow, but pred writes" \
  mbt.conf task=pred model_in=bm/0001.model pred:max_nbatch=1
"$UMBRA" mb.conf task=pred model_in=bm/0001.model pred:max_nbatch=2 2> /dev/null || fail "membuffer holding every batch"
[ "$(wc -l < mb.txt)" = 3 ] || fail "pred behind membuffer: $(cat mb.txt)"
# Weights that overflow in a round's last update while its loss was finite (one batch a round,
# eta = 1e38): the run stops before the round is evaluated, printed or logged, and saves no
# model (the round was logged without its model, and the same command was then refused).
printf '0,100,100\n1,100,-100\n' > huge.csv
printf 'data = train\niter = csv\n  filename = huge.csv\niter = end\nnetconfig = start\nlayer[0->1] = fullc:f\n  nhidden = 3\nlayer[1->1] = softmax\nnetconfig = end\ninput_shape = 1,1,2\nbatch_size = 2\neta = 1e38\n' > huge.conf
for run in first again; do  # the same command again: the same error, not a refusal of the log
  expect_error "round 1: 'f.wmat' holds inf after 1 steps, although the loss stayed finite: the model is not saved" \
    huge.conf model_dir=hm
  [ ! -e hm/0001.model ] && [ ! -s hm/log.jsonl ] || fail "a round with non-finite weights saved or logged ($run)"
  if grep -q '^\[1\]' out.txt; then fail "the round was printed ($run)"; fi
done
# cuda_graph replays training steps: under pred it changes nothing, and a note says so.
"$UMBRA" "$CONF" task=pred model_in=m/0002.model pred=graph_pred.txt cuda_graph=1 > /dev/null 2> graph.err \
  || fail "pred with cuda_graph=1: $(cat graph.err)"
grep -qF "note: <command line>:5: cuda_graph = 1 replays training steps; this task's passes run as written" graph.err \
  || fail "no cuda_graph note under pred: $(cat graph.err)"
# A run that saves no model has its weights checked after its last round all the same (it
# ended with exit 0 and NaN weights).
expect_error "round 1: 'f.wmat' holds inf after 1 steps, although the loss stayed finite" huge.conf save_model=0 \
  num_round=1
if grep -q "are untouched" err.txt; then fail "a run saving no models speaks of them: $(cat err.txt)"; fi
# ... and, on the cpu, with save_model above 1: round 1 was evaluated and logged with NaN weights,
# and the same command was then refused for its log.
for run in first again; do
  expect_error "round 1: 'f.wmat' holds inf after 1 steps, although the loss stayed finite" huge.conf \
    model_dir=hm3 save_model=3 num_round=3
  [ ! -s hm3/log.jsonl ] || fail "a round of non-finite weights was logged ($run): $(cat hm3/log.jsonl)"
done

# A one-wide output is a binary prediction: error and logloss score it (label 1 was refused after
# a round); without a metric line a regression (l2_loss) is scored by rmse, not by error.
printf '1,2,0\n0,-2,0\n1,1,1\n0,-1,-1\n' > bin.csv
printf 'data = train\niter = csv\n  filename = bin.csv\niter = end\neval = test\niter = csv\n  filename = bin.csv\niter = end\nnetconfig = start\nlayer[0->1] = fullc:f\n  nhidden = 1\nlayer[1->1] = multi_logistic\nnetconfig = end\ninput_shape = 1,1,2\nbatch_size = 2\neta = 0.5\n' > bin.conf
"$UMBRA" bin.conf num_round=2 save_model=0 metric=error metric=logloss > bin.out 2>&1 || fail "binary error: $(cat bin.out)"
# Soft targets, which error cannot score: the training batches are scored by default (eval_train
# = 1, cxxnet's), and the error says so and how to go on.
printf '0.3,2,0\n0.7,-2,0\n' > soft.csv
sed 's/filename = bin.csv/filename = soft.csv/' bin.conf > soft.conf
expect_error "(the training batches are scored because eval_train = 1 is the default, as cxxnet's: eval_train = 0 leaves them unscored)" \
  soft.conf num_round=1 save_model=0 metric=error
"$UMBRA" soft.conf num_round=1 save_model=0 metric=logloss eval_train=0 test:filename=bin.csv > /dev/null 2>&1 \
  || fail "soft targets with eval_train = 0"
grep -qP '^\[2\]\ttrain-error:[0-9.]+\ttrain-logloss:[0-9.]+\ttest-error:[0-9.]+\ttest-logloss:[0-9.]+$' bin.out || fail "binary metrics: $(cat bin.out)"
sed 's/multi_logistic/l2_loss/' bin.conf > reg.conf
"$UMBRA" reg.conf num_round=1 save_model=0 > reg.out 2>&1 || fail "regression: $(cat reg.out)"
grep -qP '^\[1\]\ttrain-rmse:[0-9.e+-]+\ttest-rmse:' reg.out || fail "regression's default metric: $(cat reg.out)"
# eval_train's metric errors name the round and the data block (they named neither), and the
# instance's line in its file (they named its number).
printf '1,2,0\n3,-2,0\n' > bad3.csv
sed 's/filename = bin.csv/filename = bad3.csv/' bin.conf | sed 's/multi_logistic/l2_loss/' > bad3.conf
expect_error "round 1, batch 1 of the train data (bad3.conf:2): metric error: label 3 of row 1 of the batch (instance 1 of the data, from 0: bad3.csv:2)" bad3.conf \
  eval_train=1 metric=error save_model=0
# A rate set inside a layer's block is in the NaN loss's hint; a schedule key the schedule does not
# read gets a note; continue=1 compares seeds as numbers.
sed '/= fullc:fc2$/a\  eta = 1e30' "$CONF" > lnan.conf
expect_error "for some weights: fc2:lr = 1e30 at lnan.conf:27" lnan.conf save_model=0 num_round=1
# Given again on the command line, the key is named once, with the value the settings apply.
for key in fc2:lr fc2:eta; do
  expect_error "for some weights: $key = 1e31 at <command line>:4" lnan.conf save_model=0 num_round=1 $key=1e31
  if grep -q "1e30" err.txt; then fail "the overridden fc2 rate is in the hint: $(cat err.txt)"; fi
done
"$UMBRA" bin.conf num_round=1 save_model=0 lr:schedule=factor lr:gamma=0.5 2> sched.err > /dev/null
grep -qF "note: <command line>:5: lr:gamma = 0.5 has no effect: lr:schedule = factor does not read it (expdecay or polydecay does)" \
  sched.err || fail "no note of lr:gamma: $(cat sched.err)"
# eps is adam's and batch norm's: without adam it is noted only where no layer takes it.
"$UMBRA" bin.conf num_round=1 save_model=0 eps=1e-3 2> eps.err > /dev/null || fail "eps: $(cat eps.err)"
grep -qF "note: <command line>:4: eps = 1e-3 has no effect: updater = sgd does not read it (adam does)" eps.err \
  || fail "no note of eps: $(cat eps.err)"
# A command-line pair is read as the config file's: blanks around '=' and one pair of quotes
# around the value dropped (the folder was named "q m" with its quotes; eta='0.1' was no number).
"$UMBRA" bin.conf num_round=1 'model_dir="q m"' "eta = '0.1'" > /dev/null 2> quoted.err || fail "$(cat quoted.err)"
[ -f "q m/0001.model" ] || fail "model_dir=\"q m\": $(ls)"
expect_error "<command line>:3: bad value '\"0.1' for key 'eta'" bin.conf num_round=1 'eta="0.1'
# A key given twice on the command line with two values: the last is used, said (as in a file).
"$UMBRA" bin.conf num_round=1 num_round=0 > /dev/null 2> twice.err || fail "$(cat twice.err)"
grep -qF "note: <command line>:3: num_round = 0 replaces the earlier num_round = 1 at <command line>:2" twice.err \
  || fail "no note of num_round given twice: $(cat twice.err)"
# A per-layer or per-tag key gets the note where no weight it reaches reads it (it got none);
# one read by some weight it reaches (wmat:momentum, fc2's under sgd) gets none.
"$UMBRA" bin.conf num_round=1 save_model=0 f:beta1=0.2 wmat:lr:gamma=0.3 f:updater=adam f:momentum=0.5 \
  2> scoped.err > /dev/null || fail "scoped idle keys: $(cat scoped.err)"
grep -qF "note: <command line>:4: f:beta1 = 0.2 has no effect" scoped.err \
  && fail "f:beta1 under f:updater = adam was noted: $(cat scoped.err)"
grep -qF "note: <command line>:5: wmat:lr:gamma = 0.3 has no effect: lr:schedule = constant does not read it" scoped.err \
  || fail "no note of wmat:lr:gamma: $(cat scoped.err)"
grep -qF "note: <command line>:7: f:momentum = 0.5 has no effect: updater = adam does not read it (sgd and nag do)" \
  scoped.err || fail "no note of f:momentum under adam: $(cat scoped.err)"
"$UMBRA" bin.conf num_round=1 save_model=0 f:wmat:beta1=0.2 2> scoped2.err > /dev/null || fail "$(cat scoped2.err)"
grep -qF "note: <command line>:4: f:wmat:beta1 = 0.2 has no effect: updater = sgd does not read it (adam does)" \
  scoped2.err || fail "no note of f:wmat:beta1: $(cat scoped2.err)"
sed 's/^layer\[1->1\] = multi_logistic$/layer[1->1] = batch_norm\nlayer[1->1] = multi_logistic/' bin.conf > bneps.conf
"$UMBRA" bneps.conf num_round=1 save_model=0 eps=1e-3 2> bneps.err > /dev/null || fail "bn eps: $(cat bneps.err)"
if grep -q "eps" bneps.err; then fail "eps read by batch_norm was noted: $(cat bneps.err)"; fi
"$UMBRA" bin.conf num_round=1 model_dir=s03 seed=3 > /dev/null 2>&1 || fail "seed 3"
"$UMBRA" bin.conf num_round=2 model_dir=s03 seed=03 continue=1 > /dev/null 2> s03.err || fail "seed 03: $(cat s03.err)"
if grep -q "seed" s03.err; then fail "seed 03 warned against seed 3: $(cat s03.err)"; fi
# Two names of the newest round: which one continue=1 took was the folder's order.
cp s03/0002.model s03/00002.model
expect_error "model_dir 's03' holds two models of round 2, 's03/00002.model' and 's03/0002.model'; remove or rename one" \
  bin.conf num_round=3 model_dir=s03 seed=3 continue=1
rm s03/00002.model
# A lone 0000.model (a folder of cxxnet's first save) is no round to resume, and no twin of one.
mkdir -p z0 && : > z0/0000.model
"$UMBRA" bin.conf num_round=1 model_dir=z0 > /dev/null 2> z0.err || fail "a lone 0000.model: $(cat z0.err)"
# A resumed run whose log is gone says so (it began a log at its round, unsaid).
rm s03/log.jsonl
"$UMBRA" bin.conf num_round=3 model_dir=s03 seed=3 continue=1 > /dev/null 2> nolog.err || fail "$(cat nolog.err)"
grep -qF "note: log = s03/log.jsonl does not exist: it begins at round 3, without lines for the resumed rounds" \
  nolog.err && [ "$(wc -l < s03/log.jsonl)" = 1 ] || fail "no note of the missing log: $(cat nolog.err)"
# A batch_size beyond the data's instances fills each batch with repeats of them: a note.
printf 'data = train\niter = csv\n  filename = ok.csv\niter = end\nnetconfig = start\nlayer[0->1] = fullc:f\n  nhidden = 3\nlayer[1->1] = softmax\nnetconfig = end\ninput_shape = 1,1,2\nbatch_size = 5\n' > wide.conf
"$UMBRA" wide.conf num_round=1 model_dir=wm > /dev/null 2> wide.err || fail "batch_size over the data: $(cat wide.err)"
grep -qF "note: csv iterator ('ok.csv') holds 2 instances, fewer than batch_size = 5: each batch repeats them to fill its rows (about 3 times), and computes every row" \
  wide.err || fail "no note of a batch beyond the data: $(cat wide.err)"
(cat "$CONF"; sed -n 9,13p "$CONF") > twoeval.conf  # the eval block "test" twice: one name for two
expect_error "twoeval.conf:$(($(wc -l < "$CONF") + 1)): a second 'eval = test' block; the first is at twoeval.conf:9" \
  twoeval.conf
sed 's/^eval = test/eval = train/' "$CONF" > evaltrain.conf
expect_error "evaltrain.conf:9: an eval block named 'train' and eval_train = 1 (<command line>:2) both report as train-*" \
  evaltrain.conf eval_train=1 model_dir=et
sed 's/^eval = test/eval = train/' noet.conf > evaltrain2.conf
expect_error "evaltrain2.conf:9: an eval block named 'train' and eval_train = 1 (the default) both report as train-*" \
  evaltrain2.conf model_dir=et
# A scoped key that names two blocks (an eval block named pred beside the pred block) set both.
sed 's/^eval = test/eval = pred/' "$CONF" > evalpred.conf
expect_error "<command line>:2: pred:shuffle names two blocks, the eval block named 'pred' (evalpred.conf:9) and the pred block (evalpred.conf:14); give the eval block a name of its own" \
  evalpred.conf pred:shuffle=0 model_dir=ep
(head -8 "$CONF"; cat "$CONF") > twice.conf  # the training block twice
expect_error "twice.conf:11: a second 'data = ' block; the first is at twice.conf:3" twice.conf
printf 'data = train\nbatch_size = 3\n' > dangling.conf
expect_error "dangling.conf:1: 'data = train' is not followed by iter" dangling.conf
printf 'layer[0->1] = relu\n' > stray.conf
expect_error "stray.conf:1: layer[0->1] outside netconfig" stray.conf
printf 'netconfig = start\nlayer[0->1] = relu\n' > open.conf
expect_error "open.conf:1: netconfig = start is never closed" open.conf model_dir=x
# A block left open (iter = end forgotten): the next block's lines are named as such, with the
# open block's line, instead of "iterator 'mnist' cannot be chained".
sed '8d' "$CONF" > noend.conf  # the data block's iter = end
expect_error "noend.conf:8: eval = test inside the iterator block opened at noend.conf:4; close that block with iter = end first" \
  noend.conf
sed '8,9d' "$CONF" > noend2.conf  # ... and the eval line: its iter = mnist comes inside the data block
expect_error "noend2.conf:8: iter = mnist inside the iterator block opened at noend2.conf:4; close that block with iter = end first (only membuffer, threadbuffer may follow" \
  noend2.conf
# A command-line global that a block sets itself would be overridden by the block (cxxnet's
# order) and the run would read the file's data: an error naming the block's line.
expect_error "<command line>:2: shuffle = 0 is overridden by the training block's own shuffle ($CONF:7); write train:shuffle=0" \
  "$CONF" shuffle=0 model_dir=ov
# A log named as a round's model: the model replaced it and the run said nothing.
expect_error "<command line>:3: log = lg/0001.model is named as a round's model file" "$CONF" model_dir=lg log=lg/0001.model
[ ! -e lg/0001.model ] || fail "a run went ahead with its log named as a model"
# A data file given as the config (one 200,000-character line): one error line of bounded length.
$PY -c "print('x' * 200000)" > wide.conf
expect_error "characters left out" wide.conf
[ "$(wc -c < err.txt)" -lt 3000 ] || fail "an error line of $(wc -c < err.txt) bytes"
# rmse needs a label per output value: refused before training, not after the first round.
expect_error "<command line>:2: metric rmse: the labels are 1 wide but the output is 10 wide" \
  "$CONF" "metric[label,3]=rmse" model_dir=rm
[ ! -e rm/0001.model ] || fail "trained a round before refusing the metric"
# An updater key inside a layer without that weight names its line and the layer's weights.
sed 's/^layer\[1->2\] = relu:relu1/&\n  lr = 0.5/' "$CONF" > relulr.conf
expect_error "relulr.conf:24: updater key 'relu1:lr': layer 'relu1' (relu) has no weights to update" relulr.conf model_dir=rl
sed 's/^  nhidden = 10/&\n  no_bias = 1\n  bias:lr = 0.5/' "$CONF" > nobias.conf
expect_error "nobias.conf:29: updater key 'fc2:bias:lr': layer 'fc2' (fullc) has no weight 'fc2.bias'; its weights: fc2.wmat" \
  nobias.conf model_dir=nb
# The mnist iterator's flat batches against an image input_shape: the hint names its key.
expect_error "the train iterator gives batches of (96,1,1,784) but input_shape and batch_size give (96,1,28,28) (the mnist iterator's input_flat?)" \
  "$CONF" input_shape=1,28,28 model_dir=ifl
# A layer key given twice (a copied line): the last value is used, and a note says so.
sed 's/^  nhidden = 64/&\n  nhidden = 32/' "$CONF" > dupkey.conf
"$UMBRA" dupkey.conf num_round=0 model_dir=dup > /dev/null 2> dup.err || { cat dup.err; fail "dupkey.conf"; }
grep -qF "note: dupkey.conf:23: nhidden = 32 replaces the earlier nhidden = 64 of layer 'fc1' (the last value is used)" dup.err \
  || { cat dup.err; fail "no note on a layer key given twice"; }
# So for a global key and an iterator block's key given twice in the file (a command-line pair
# replaces the file's value by design: no note; nor for the same value again).
{ sed 's/^  shuffle = 1/&\n  shuffle = 0/' "$CONF"; echo "batch_size = 48"; echo "batch_size = 48"; } > dupglob.conf
"$UMBRA" dupglob.conf num_round=0 model_dir=dupg dev=cpu > /dev/null 2> dupg.err || { cat dupg.err; fail "dupglob.conf"; }
grep -qF "note: dupglob.conf:$(($(wc -l < dupglob.conf) - 1)): batch_size = 48 replaces the earlier batch_size = 96 at dupglob.conf:33 (the last value is used)" dupg.err \
  && grep -qF "note: dupglob.conf:8: shuffle = 0 replaces the earlier shuffle = 1 of the data block at dupglob.conf:7" dupg.err \
  && [ "$(grep -c note: dupg.err)" = 2 ] || { cat dupg.err; fail "notes on global or block keys given twice"; }
# Two names of one key in a block (csv's filename and its other name path_data) are that key
# given twice: the same note; and a command-line global by the other name is refused alike.
$PY -c "print(','.join(['1'] + ['0'] * 784))" > one.csv
cp one.csv two.csv
{ cat "$CONF"; printf 'eval = csv\niter = csv\n  filename = one.csv\n  path_data = two.csv\niter = end\n'; } > alias.conf
"$UMBRA" alias.conf num_round=0 model_dir=al dev=cpu > /dev/null 2> al.err || { cat al.err; fail "alias.conf"; }
grep -qF "note: alias.conf:$(($(wc -l < alias.conf) - 1)): path_data = two.csv replaces the earlier filename = one.csv of the eval block at alias.conf:$(($(wc -l < alias.conf) - 2))" al.err \
  || { cat al.err; fail "no note on two names of one key in a block"; }
sed '$d' alias.conf | sed '$d' > alias1.conf && echo "iter = end" >> alias1.conf  # filename only
expect_error "<command line>:2: path_data = two.csv is overridden by the eval block's own filename (alias1.conf:$(($(wc -l < alias1.conf) - 1)))" \
  alias1.conf path_data=two.csv model_dir=al
# Two names of one updater setting (eta, then lr), or one given twice in a layer's block: the
# last is used, and the same note says so.
{ sed 's/^  nhidden = 64/&\n  eta = 0.1\n  lr = 0.2/' "$CONF"; echo "lr = 0.01"; } > upd.conf
"$UMBRA" upd.conf num_round=0 model_dir=upd > /dev/null 2> upd.err || { cat upd.err; fail "upd.conf"; }
grep -qF "note: upd.conf:24: lr = 0.2 replaces the earlier eta = 0.1 of layer 'fc1' at upd.conf:23 (the last value is used)" upd.err \
  && grep -qF "note: upd.conf:$(wc -l < upd.conf): lr = 0.01 replaces the earlier eta = 0.05 at upd.conf:$(grep -n '^eta = 0.05' upd.conf | cut -d: -f1) (the last value is used)" upd.err \
  && [ "$(grep -c note: upd.err)" = 2 ] || { cat upd.err; fail "notes on one updater setting given twice"; }
# eta, lr, eta: one note each for lr and the second eta (the second eta had two).
"$UMBRA" "$CONF" num_round=0 model_dir=upd eta=0.1 lr=0.2 eta=0.3 > /dev/null 2> upd3.err || { cat upd3.err; fail "upd3"; }
[ "$(grep -c note: upd3.err)" = 2 ] && grep -qF "note: <command line>:6: eta = 0.3 replaces the earlier eta = 0.1 at <command line>:4" upd3.err \
  || { cat upd3.err; fail "notes on eta, lr, eta"; }
# num_round = 0 checks a config, start_counter or not.
"$UMBRA" "$CONF" num_round=0 start_counter=0 model_dir=sc00 > /dev/null 2>&1 || fail "num_round = 0 with start_counter"
# pred = "" ran the whole prediction, then failed renaming its output to ''; an eval block's
# empty name printed "-error", a blank in it split the round line's fields; metric[label,]
# scored the net's output unsaid.
sed 's/^pred = pred.txt/pred = ""/' "$CONF" > pe.conf
expect_error "pe.conf:14: pred = needs a file name" pe.conf task=pred model_in=m/0002.model
sed 's/^eval = test/eval = ""/' "$CONF" > ee.conf
expect_error "ee.conf:9: eval = needs a name" ee.conf model_dir=ee
printf 's/^eval = test/eval = "my\\ttest"/' > eb.sed; sed -f eb.sed "$CONF" > eb.conf
expect_error "eb.conf:9: eval = 'my	test': a tab or line break in the name would split the round line's tab-separated fields" \
  eb.conf model_dir=eb
sed 's/^metric\[label,3\]/metric[label,]/' "$CONF" > mc.conf
expect_error "mc.conf:37: metric[label,] names no node after the ','" mc.conf model_dir=mc
# An output task's key given to training (task=extract forgotten) is said to do nothing.
"$UMBRA" "$CONF" num_round=0 model_dir=ok extract_node_name=3 weight_layer=fc1 > /dev/null 2> ok.err || { cat ok.err; fail "ok"; }
grep -qF "note: <command line>:4: extract_node_name = 3 does nothing for task = train (task = extract reads it)" ok.err \
  && grep -qF "note: <command line>:5: weight_layer = fc1 does nothing for task = train (task = get_weight reads it)" ok.err \
  || { cat ok.err; fail "output keys given to training"; }
# A folder as the log is said at its key's line, as a pred folder is.
mkdir -p outdir
expect_error "<command line>:3: log = outdir is a folder; name a file (outdir/log.jsonl)" "$CONF" model_dir=lg log=outdir
# A run that fails before its first model leaves no folder it made (it left one holding only
# the lock); a folder that was there stays.
expect_error "task = finetune needs model_in" "$CONF" task=finetune model_dir=ftnew
[ ! -e ftnew ] || fail "a failed run left the model_dir it made: $(ls -A ftnew)"
mkdir -p ftold
expect_error "task = finetune needs model_in" "$CONF" task=finetune model_dir=ftold
[ -d ftold ] || fail "a failed run removed a model_dir it had not made"
# ... nor one with nothing to train (num_round = 0 left the lock and an empty log).
"$UMBRA" "$CONF" num_round=0 model_dir=none > /dev/null 2>&1 || fail "num_round = 0"
[ ! -e none ] || fail "a run with nothing to train left the model_dir it made: $(ls -A none)"
# cxxnet's config reading: a pair whose value is `default` is skipped (the key keeps its value:
# model_dir = default trained into ./default), and keys between netconfig = start and the first
# layer are globals (they were an error). A quoted value's backslash escapes the next character.
{ sed 's/^netconfig = start/&\n  init_sigma = 0.02\n  eta = default/' "$CONF"; echo 'model_dir = "df\lt"'
  echo "model_dir = default"; } > dflt.conf
"$UMBRA" dflt.conf num_round=1 num_round=default silent=1 > /dev/null 2> dflt.err || { cat dflt.err; fail "dflt.conf"; }
[ -f dflt/0001.model ] && [ ! -e default ] && [ ! -e 'df\lt' ] || fail "model_dir = default: $(ls)"
if grep -q "replaces the earlier" dflt.err; then cat dflt.err; fail "a skipped default pair noted as a value"; fi
grep -qF "note: dflt.conf:$(wc -l < dflt.conf): model_dir = default is skipped, as cxxnet skipped a pair whose value is 'default'" \
  dflt.err && grep -qF "note: <command line>:3: num_round = default is skipped" dflt.err || { cat dflt.err; fail "default notes"; }
# cxxnet's task = extract_feature is extract with binary rows by default; top[-k] is the k-th
# last node as cxxnet numbered them (in, 1, 2, 3: top[-1] the softmax's 3, top[-2] node 2).
for k in 1:3 2:2; do
  "$UMBRA" "$CONF" task=extract_feature extract_node_name="top[-${k%%:*}]" model_in=m/0002.model pred=top.bin \
    > /dev/null 2> top.err || { cat top.err; fail "extract_feature top[-${k%%:*}]"; }
  "$UMBRA" "$CONF" task=extract extract_node_name="${k##*:}" output_format=bin model_in=m/0002.model pred=node.bin \
    > /dev/null 2>&1 || fail "extract ${k##*:}"
  cmp -s top.bin node.bin && cmp -s top.bin.shape node.bin.shape || fail "top[-${k%%:*}] is not node ${k##*:}"
done
expect_error "extract_node_name = top[-5]: top[-k] needs k in 1 .. 4" "$CONF" task=extract extract_node_name="top[-5]" \
  model_in=m/0002.model pred=top.bin
expect_error "<command line>:2: label_vec[0,1) = class: cxxnet's named label fields" "$CONF" "label_vec[0,1)=class" \
  num_round=0 model_dir=lv
expect_error "note: <command line>:2: key 'sync' is ignored" "$CONF" sync=simple task=bogus model_dir=sy
# A block's own batch_size is named where it stands (it failed later, as batches of another shape).
sed 's/^  shuffle = 1/&\n  batch_size = 48/' "$CONF" > bsb.conf
expect_error "bsb.conf:8: batch_size = 48 in the data block: every block's batches are the net's, batch_size = 96 (bsb.conf:" \
  bsb.conf model_dir=bsb
# A log that is a named pipe nothing reads is an error (the run blocked in open() forever); one
# with a reader gets the rounds. Results that cannot reach stdout are an error, not a success.
mkfifo logpipe
expect_error "log = logpipe is a named pipe that nothing reads" "$CONF" num_round=1 model_dir=lp log=logpipe
[ ! -e lp ] || fail "a failed run left its model_dir"
# The reader is there before the run (fd 4; fd 3, opened first, only lets fd 4's open return).
exec 3<> logpipe 4< logpipe 3>&-
"$UMBRA" "$CONF" num_round=1 model_dir=lp2 log=logpipe silent=1 > /dev/null 2> lp2.err || { cat lp2.err; fail "log to a pipe"; }
timeout 60 cat <&4 > piped.txt
exec 4<&-
grep -q '"round":1' piped.txt || fail "the piped log: $(cat piped.txt)"
# A closed stdout: an error before anything is opened (the round lines went into the lock file).
if "$UMBRA" "$CONF" num_round=1 model_dir=closed >&- 2> closed.err; then fail "stdout closed: rc 0"; fi
grep -qF "umbra: error: standard output is closed" closed.err && [ ! -e closed ] || { cat closed.err; fail "stdout closed"; }
if [ -e /dev/full ]; then
  if "$UMBRA" "$CONF" num_round=1 model_dir=full save_model=0 > /dev/full 2> full.err; then fail "stdout on /dev/full: rc 0"; fi
  grep -qF "umbra: error: writing to standard output failed" full.err || { cat full.err; fail "stdout on /dev/full"; }
fi
echo "all CLI task checks passed"
