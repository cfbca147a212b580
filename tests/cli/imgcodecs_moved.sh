#!/usr/bin/env bash
# A build tree moved or copied elsewhere: umbra opens OpenCV's codecs plugin from lib/ beside
# itself (src/io/imgcodecs.cc), not the one at the path its build wrote into it, and decodes and
# re-encodes an image with it (im2rec's resize). Usage: imgcodecs_moved.sh UMBRA PLUGIN
set -euo pipefail
UMBRA=$1 PLUGIN=$2
fail() { echo "FAIL: $*"; exit 1; }
# The folder without symlinks in its path, as /proc/self/exe (which the lookup reads) gives it.
W=$(cd "$(mktemp -d)" && pwd -P); trap 'rm -rf "$W"' EXIT; cd "$W"
mkdir -p moved/lib img
cp "$UMBRA" moved/umbra
cp "$PLUGIN" moved/lib/
printf 'P5\n2 2\n255\n\000\100\200\377' > img/a.pgm
printf '0\t1\ta.pgm\n' > a.lst
LD_DEBUG=files moved/umbra im2rec a.lst img a.rec resize=4 > out.txt 2>&1 || { cat out.txt; fail "im2rec"; }
grep 'imgcodecs' out.txt | grep -q -F "file=$W/moved/lib/libumbra_imgcodecs.so [" ||
  { grep 'imgcodecs' out.txt; fail "the moved umbra did not open its own lib/libumbra_imgcodecs.so"; }
! grep -q -F "file=$PLUGIN [" out.txt || fail "the moved umbra opened the build's plugin too"
[ -s a.rec ] || fail "no record file"
echo "opened $W/moved/lib/libumbra_imgcodecs.so"
