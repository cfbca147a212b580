#!/usr/bin/env bash
# A run inside a memory cgroup that allows less than the machine has (a container started with
# docker --memory): a net past the cgroup's limit is refused with an error naming the limit; it
# passed the machine's memory and the OOM killer ended it, signal 9, without a word. Makes a
# cgroup of 256 MiB (v1's memory hierarchy, or v2's where its memory controller is on); skipped,
# exit 77, where none can be made or joined (not root, a read-only /sys/fs/cgroup). dev = cpu: a
# CUDA build starts no driver inside the cgroup.
# Usage: cgroup_limit.sh UMBRA
set -uo pipefail
UMBRA=$1
fail() { echo "FAIL: $*"; exit 1; }
W=$(mktemp -d)
CG=""
cleanup() { [ -n "$CG" ] && rmdir "$CG" 2>/dev/null; rm -rf "$W"; }
trap cleanup EXIT
limit=$((256 * 1024 * 1024))
if [ -d /sys/fs/cgroup/memory ] && mkdir "/sys/fs/cgroup/memory/umbra_test_$$" 2>/dev/null; then
  CG=/sys/fs/cgroup/memory/umbra_test_$$
  echo "$limit" > "$CG/memory.limit_in_bytes" || { echo "cannot set $CG's limit: skipped"; exit 77; }
elif grep -qw memory /sys/fs/cgroup/cgroup.subtree_control 2>/dev/null && mkdir "/sys/fs/cgroup/umbra_test_$$" 2>/dev/null; then
  CG=/sys/fs/cgroup/umbra_test_$$
  echo "$limit" > "$CG/memory.max" || { echo "cannot set $CG's limit: skipped"; exit 77; }
else
  echo "no memory cgroup can be made here: skipped"
  exit 77
fi
cd "$W"
printf '0,1,2\n1,3,4\n' > x.csv
# fc's weights: 100000 x 2000 floats, 0.75 GiB, past the limit (and nothing near the machine's).
printf 'data = train\niter = csv\n  filename = x.csv\niter = end\nnetconfig = start\nlayer[0->1] = fullc:f0\n  nhidden = 2000\nlayer[1->2] = fullc:fc\n  nhidden = 100000\nlayer[2->2] = softmax\nnetconfig = end\ninput_shape = 1,1,2\nbatch_size = 2\nsave_model = 0\ndev = cpu\n' > big.conf
# The shell joins the cgroup, then runs umbra in it (a child stays in its parent's cgroup); a
# cgroup it may not join (v2's delegation rules) skips.
bash -c 'echo $$ > "$1/cgroup.procs" || exit 77; exec "$2" big.conf' _ "$CG" "$UMBRA" > out.txt 2> err.txt
rc=$?
[ "$rc" != 77 ] || { cat err.txt; echo "cannot join $CG: skipped"; exit 77; }
[ "$rc" = 1 ] || { cat err.txt; fail "exit $rc, not 1 (137 is the OOM killer's signal 9)"; }
grep -qF "layer 'fc' (fullc)" err.txt || fail "the error does not name the layer: $(cat err.txt)"
grep -qF "more than the memory cgroup's ($CG/memory." err.txt || fail "the error does not name the cgroup: $(cat err.txt)"
grep -qF ") 0.25 GiB (asked for " err.txt || fail "the error does not give the limit: $(cat err.txt)"
echo "refused inside $CG: $(cat err.txt)"
