#!/usr/bin/env bash
# The image and csv data paths end to end through the CLI, on Fashion-MNIST images written out as
# files: `umbra im2rec` packs a list + folder; a net trains from imgrec (+ threadbuffer, mirror,
# divideby), evaluates from img (list + folder) and from csv, and pred covers every image of the
# record file once. Usage: images.sh UMBRA SOURCE_DIR. Exit 77 without Fashion-MNIST or OpenCV.
set -euo pipefail
UMBRA=$1 PY=/usr/bin/python3
D=/usr/share/datasets/fashion-mnist
fail() { echo "FAIL: $*"; exit 1; }
[ -e $D/train-images-idx3-ubyte.gz ] || { echo "no Fashion-MNIST: skipped"; exit 77; }
W=$(mktemp -d); trap 'rm -rf "$W"' EXIT; cd "$W"
"$UMBRA" --help > help.txt
grep -q "imgrec" help.txt || fail "no image iterators"

# 2000 training and 300 test images as binary PGM files, list files (index, label, path) and a
# csv of the test images (label, then the 784 pixel values divided by 255).
$PY - <<'PY'
import gzip, os, numpy as np
D = '/usr/share/datasets/fashion-mnist'
def load(p):
    x = np.frombuffer(gzip.open(f'{D}/{p}-images-idx3-ubyte.gz').read()[16:], np.uint8).reshape(-1, 28, 28)
    y = np.frombuffer(gzip.open(f'{D}/{p}-labels-idx1-ubyte.gz').read()[8:], np.uint8)
    return x, y
os.makedirs('img', exist_ok=True)
for part, n in (('train', 2000), ('t10k', 300)):
    x, y = load(part)
    with open(f'{part}.lst', 'w') as lst:
        for i in range(n):
            name = f'{part}_{i}.pgm'
            with open(f'img/{name}', 'wb') as f:
                f.write(b'P5\n28 28\n255\n' + x[i].tobytes())
            lst.write(f'{i}\t{y[i]}\t{name}\n')
    if part == 't10k':
        np.savetxt('t10k.csv', np.column_stack([y[:n], x[:n].reshape(n, -1) / 255.0]), fmt='%.9g', delimiter=',')
PY
"$UMBRA" im2rec train.lst img train.rec > im2rec.txt || fail "im2rec"
"$UMBRA" im2rec t10k.lst img t10k.rec > /dev/null
cat > net.conf <<'CONF'
data = train
iter = imgrec
  image_rec = train.rec
  shuffle = 1
  rand_mirror = 1
  divideby = 255
iter = threadbuffer
iter = end
eval = img
iter = img
  image_list = t10k.lst
  image_root = img
  divideby = 255
iter = end
eval = csv
iter = csv
  filename = t10k.csv
iter = end
pred = pred.txt
iter = imgrec
  image_rec = t10k.rec
  divideby = 255
iter = end
netconfig = start
layer[0->1] = conv:conv1
  kernel_size = 5
  nchannel = 8
layer[1->1] = relu
layer[1->2] = max_pooling
  kernel_size = 2
  stride = 2
layer[2->3] = flatten
layer[3->4] = fullc:fc1
  nhidden = 10
layer[4->4] = softmax
netconfig = end
input_shape = 1,28,28
batch_size = 50
seed = 5
init = kaiming
eta = 0.05
momentum = 0.9
num_round = 4
model_dir = m
CONF
"$UMBRA" net.conf csv:input_shape=1,28,28 > train.txt 2> train.err || { cat train.err; fail "training"; }
cat train.txt
$PY - <<'PY' || fail "accuracy or img/csv agreement"
line = open('train.txt').read().strip().splitlines()[-1].split('\t')
m = dict(f.split(':') for f in line[1:])
err_img, err_csv = float(m['img-error']), float(m['csv-error'])
print('img-error', err_img, 'csv-error', err_csv)
assert err_img < 0.35, err_img
assert abs(err_img - err_csv) <= 1 / 300 + 1e-9, 'the same images through img and csv'  # one rounding flip at most
PY
"$UMBRA" net.conf task=pred model_in=m/0004.model 2> pred.err || { cat pred.err; fail "pred"; }
[ "$(wc -l < pred.txt)" = 300 ] || fail "pred lines"
# A mean image still to be computed may not take the name of a file the run writes: a round's
# model (the mean sat in model_dir as 0001.model) or the pred output (pred overwrote the mean).
refused() {  # refused "message part" args...: one error line, and no file written
  local want=$1; shift
  if "$UMBRA" "$@" > out.txt 2> err.txt; then fail "succeeded: $*"; fi
  grep -qF -- "$want" err.txt || { cat err.txt; fail "error does not say '$want'"; }
}
# An iterator's error names the line of the key it names (it named the block's image_rec line,
# whose file the iterator's name quotes), in the file or on the command line.
sed 's/^  rand_mirror = 1$/  rand_mirror = 1\n  max_aspect_ratio = 1/' net.conf > aspect.conf
refused "aspect.conf:6: the training block's iterator: imgrec iterator ('train.rec'): max_aspect_ratio must be in [0, 1)" \
  aspect.conf model_dir=asp
refused "<command line>:3: the training block's iterator: imgrec iterator ('train.rec'): min_crop_size 40 > max_crop_size 30" \
  net.conf model_dir=asp train:min_crop_size=40 train:max_crop_size=30
# Keys that set one value by other names (divideby sets scale, mean_value mean_r/g/b) meet as
# one key does: a command-line global a block sets itself is an error (scale=0.5 beside the
# blocks' divideby = 255 gave them 1/255 unsaid), and a file's, or a block's second, a note.
refused "<command line>:2: scale = 0.5 is overridden by the training block's own divideby (net.conf:6); write train:scale=0.5 to set it in that block" \
  net.conf scale=0.5 model_dir=sc
sed 's/^  rand_mirror = 1$/  rand_mirror = 1\n  mean_value = 3/' net.conf > mv.conf
refused "<command line>:2: mean_g = 5 is overridden by the training block's own mean_value (mv.conf:6)" mv.conf mean_g=5 model_dir=sc
sed 's/^  rand_mirror = 1$/  rand_mirror = 1\n  scale = 0.5/' net.conf > sc.conf
echo "scale = 2" >> sc.conf
"$UMBRA" sc.conf num_round=0 model_dir=sc > /dev/null 2> err.txt || { cat err.txt; fail "sc.conf"; }
grep -qF "note: sc.conf:7: divideby = 255 replaces the earlier scale = 0.5 of the data block at sc.conf:6 (the last value is used)" err.txt \
  && grep -qF "note: sc.conf:7: the training block's own divideby = 255 overrides the global scale = 2 (sc.conf:" err.txt \
  && grep -qF "(cxxnet applied global keys after a block's: it took scale = 2)" err.txt \
  || { cat err.txt; fail "no notes for scale beside divideby"; }
# No note where the later key gives the setting the same value (scale = 1/255 before divideby =
# 255).
sed 's/^  rand_mirror = 1$/  rand_mirror = 1\n  scale = 0.00392156862745098/' net.conf > mg.conf
"$UMBRA" mg.conf num_round=0 model_dir=sc > /dev/null 2> err.txt || { cat err.txt; fail "mg.conf"; }
if grep -q "replaces the earlier" err.txt; then cat err.txt; fail "a note for an equal setting"; fi
# A training block that subtracts a mean image beside image blocks that subtract none: a note
# each (the img eval block and the pred block; the csv block takes no mean image).
sed 's/^  shuffle = 1$/  shuffle = 1\n  image_mean = tm.mean/' net.conf > tmean.conf
"$UMBRA" tmean.conf num_round=1 model_dir=tmm > out.txt 2> err.txt || { cat err.txt; fail "tmean.conf"; }
grep -qF "note: tmean.conf:10: the img block subtracts no mean image, but the training block subtracts 'tm.mean' (tmean.conf:5): the net is evaluated on other inputs than it trained on; give it image_mean = tm.mean" err.txt \
  && grep -qF "note: tmean.conf:20: the pred block subtracts no mean image" err.txt \
  && [ "$(grep -c 'subtracts no mean image' err.txt)" = 2 ] || { cat err.txt; fail "no note of the eval/pred blocks' mean"; }
refused "<command line>:3: image_mean = mm/0001.model does not exist yet; the mean image computed into it would take the name of a round's model in model_dir" \
  net.conf model_dir=mm img:image_mean=mm/0001.model
[ ! -e mm/0001.model ] || fail "the mean image was written as a round's model"
refused "image_mean = new.txt does not exist yet; the mean image computed into it would take the name of the pred output (<command line>:4)" \
  net.conf task=pred model_in=m/0004.model pred=new.txt pred:image_mean=new.txt
[ ! -e new.txt ] || fail "pred wrote over the mean image it had computed"
# pred reads the training's mean image: one missing (a typo, another folder) was computed over
# the data being predicted, every input shifted by that data's own mean, and only a note said so.
refused "<command line>:4: the pred block's image_mean 'gone.bin' does not exist; it is the training's mean image" \
  net.conf task=pred model_in=m/0004.model pred:image_mean=gone.bin
[ ! -e gone.bin ] || fail "pred computed a mean image over the data it predicts"
# The training block computes a missing mean image, wherever it stands in the config: with the
# eval block first, the mean was computed over the eval data and training subtracted it. An eval
# block's own mean, missing, is refused as pred's.
$PY - <<'PY'
conf = open('net.conf').read()
i, j = conf.index('eval = img'), conf.index('eval = csv')
open('evalfirst.conf', 'w').write(conf[i:j] + conf[:i] + conf[j:])
PY
"$UMBRA" evalfirst.conf num_round=1 model_dir=me image_mean=mean_ef.bin > out.txt 2> err.txt || { cat err.txt; fail "eval first"; }
grep -qF "train.rec" err.txt || { cat err.txt; fail "the mean image was not computed over the training data"; }
grep -qF "t10k" err.txt && { cat err.txt; fail "the mean image was computed over the eval data"; }
refused "<command line>:4: the img block's image_mean 'eval_own.bin' does not exist; it is the training's mean image" \
  net.conf num_round=1 model_dir=mo img:image_mean=eval_own.bin
[ ! -e eval_own.bin ] || fail "an eval block computed a mean image over its own data"
# A random augmentation given at the top level reaches eval and pred blocks too (cxxnet's rule):
# said once, naming the blocks.
"$UMBRA" net.conf num_round=1 model_dir=mr rand_crop=1 > out.txt 2> err.txt || { cat err.txt; fail "global rand_crop"; }
grep -qF "note: <command line>:4: rand_crop = 1, a global key, reaches the img, pred blocks too" err.txt \
  || { cat err.txt; fail "a global random key reaching the eval and pred blocks unsaid"; }
# Not where the block sets the key itself (block:key), nor for an angle a fixed rotate replaces.
"$UMBRA" net.conf num_round=1 model_dir=ms rand_crop=1 img:rand_crop=0 max_rotate_angle=10 rotate=0 > out.txt 2> err.txt \
  || { cat err.txt; fail "global rand_crop, img:rand_crop"; }
grep -qF "note: <command line>:4: rand_crop = 1, a global key, reaches the pred block too" err.txt \
  && ! grep -qF "max_rotate_angle = 10, a global key" err.txt || { cat err.txt; fail "the note's blocks"; }
# A range is random where its ends differ (the crop's side, drawn without rand_crop too); a
# scale ratio fixed at 0.9 is not.
"$UMBRA" net.conf num_round=1 model_dir=mc min_crop_size=20 max_crop_size=28 min_scale_ratio=0.9 max_scale_ratio=0.9 \
  > out.txt 2> err.txt || { cat err.txt; fail "global crop size range"; }
grep -qF "note: <command line>:4: min_crop_size = 20, a global key, reaches the img, pred blocks too" err.txt \
  && ! grep -qF "scale_ratio = 0.9, a global key" err.txt || { cat err.txt; fail "the crop range's note"; }
# An eval image that cannot be decoded is met only when that batch is read, after a round of
# training: the round's model is kept (not logged), and continue=1 resumes after it.
sed '201s/\t[^\t]*$/\tbroken.pgm/' t10k.lst > broken.lst  # batch 5 of 6
printf 'P5\n28 28\n255\nshort' > img/broken.pgm
refused "round 1, evaluating the img data (net.conf:10): cannot decode image 'img/broken.pgm' (broken.lst:201): it ends inside its P5 pixel data" net.conf num_round=2 model_dir=mb img:image_list=broken.lst
grep -qF "The round's model is saved as 'mb/0001.model' (not logged); continue=1 resumes after it" err.txt \
  || { cat err.txt; fail "the round's model is not named"; }
[ "$(wc -l < err.txt)" = 1 ] || { cat err.txt; fail "OpenCV's own line printed"; }
[ -e mb/0001.model ] && [ ! -s mb/log.jsonl ] || fail "round 1's model missing, or the round logged"
"$UMBRA" net.conf num_round=2 model_dir=mb continue=1 > out.txt 2> err.txt || { cat err.txt; fail "continue"; }
grep -qF "continue: resuming after round 1" err.txt && [ -e mb/0002.model ] || { cat err.txt; fail "resume"; }
grep -qF "note: log = mb/log.jsonl: round 1 has no line in it" err.txt || { cat err.txt; fail "round 1's lost line unsaid"; }
# ... in training, the round, the batch the iterator was reading and the block (it named none).
sed '2s/imgrec/img/; 3s/.*/  image_list = broken.lst\n  image_root = img/; 4s/.*/  shuffle = 0/' net.conf > tbroken.conf
refused "round 1, batch 5 of the train data (tbroken.conf:2): cannot decode image 'img/broken.pgm' (broken.lst:201)" \
  tbroken.conf model_dir=tb
# ... and in pred, it names the pred block and the batch, and the output is left as it was.
cp pred.txt pred.keep
sed '20s/imgrec/img/; 21s/.*/  image_list = broken.lst\n  image_root = img/' net.conf > pnet.conf
refused "pred: batch 5 of the pred data (pnet.conf:20): cannot decode image 'img/broken.pgm' (broken.lst:201)" \
  pnet.conf task=pred model_in=m/0004.model
cmp pred.txt pred.keep || fail "a failed pred changed its output"
echo "image pipeline checks passed"
