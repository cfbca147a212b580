#!/usr/bin/env bash
# A build without CUDA (scripts/build on a machine without nvcc: UMBRA_USE_CUDA=AUTO finds none)
# compiles code that a CUDA build never does: branches under `if constexpr` that are discarded
# there, and the #else of every `#if UMBRA_USE_CUDA`. A GPU type named in such a branch broke
# that build for two days unseen (pooling-inl.h's Stream<gpu>, incomplete without CUDA), as
# every build of this project's machines and CI has CUDA. This compiles every source of the
# library, the CLI and the examples as that build would (syntax and templates only, no code:
# a fraction of a build's time), with the optional parts this build found.
# (The tests and benchmarks, which that build also compiles, are not checked: they would take
# several times as long.)
# Usage: cpu_only_compiles.sh CXX SOURCE_DIR DNNL(0|1) OPENCV(0|1) [INCLUDE_DIR...]
#   INCLUDE_DIRs: the libraries' headers as CMake found them (cblas.h, dnnl.h, OpenCV's).
set -uo pipefail
cxx=$1 src=$2 dnnl=$3 opencv=$4
shift 4
flags=(-std=c++20 -fopenmp -I"$src" -I"$src/include" -I"$src/src/nn/layers"
       -DUMBRA_VERSION='"0"' -DUMBRA_BUILT_WITH='"cpu-only check"' -DUMBRA_IMGCODECS_PLUGIN='"none"')
# (The compiler's own folders are left to it: -isystem /usr/include reorders its search.)
for d in "$@"; do
  case "$d" in "" | /usr/include | /usr/include/x86_64-linux-gnu | /usr/local/include) ;; *) flags+=(-isystem "$d") ;; esac
done
[ "$dnnl" = 1 ] && flags+=(-DUMBRA_USE_DNNL=1)
[ "$opencv" = 1 ] && flags+=(-DUMBRA_USE_OPENCV=1)
start=$PWD
cd "$src" || exit 1
# The CUDA-only sources (cuDNN wrappers, the cuBLAS loader) are not part of that build; nor are
# no_opencv.cc where OpenCV is, and the OpenCV sources where it is not (src/io/CMakeLists.txt).
skip=(-path 'src/nn/layers/cudnn/*' -o -path 'src/tensor/cuda/*')
if [ "$opencv" = 1 ]; then
  skip+=(-o -name no_opencv.cc)
else
  for f in augment decode_image image_iter imgcodecs imgcodecs_plugin; do skip+=(-o -path "src/io/$f.cc"); done
fi
mapfile -t files < <(find src tools examples -name '*.cc' ! \( "${skip[@]}" \) | sort)
# Parsing the tensor and nn headers was over a third of each file's 2-7 s (142 s for the check; 103
# with this): they are parsed once, into a precompiled header every file includes first, the
# same headers under the same macros. The limit that brings: a CUDA-less branch that names
# something only trainer.h's include tree declares, in a file or header that does not include
# it itself, passes here and fails in that build. (Its own folder under the test's working
# directory, not /tmp: a check killed at ctest's timeout leaves its 110 MB where the build is.)
pch=$(mktemp -d "$start/cpu_only_pch.XXXXXX") || { echo "FAIL: no folder for the precompiled header in $start"; exit 1; }
trap 'rm -rf "$pch"' EXIT
printf '#include "umbra/nn/trainer.h"\n' > "$pch/common.h"
if ! out=$("$cxx" "${flags[@]}" -x c++-header "$pch/common.h" -o "$pch/common.h.gch" 2>&1); then
  echo "FAIL: the nn headers do not compile without CUDA:"
  echo "$out" | grep -E "error" | head -5
  exit 1
fi
flags+=(-fsyntax-only -include "$pch/common.h")
# A header the compiler refuses is parsed as text instead: the same check, slower. Said once.
if out=$("$cxx" "${flags[@]}" -Winvalid-pch -x c++ /dev/null 2>&1) && [ -n "$out" ]; then
  echo "note: the precompiled header is not used (the check is the same, slower):"
  echo "$out" | head -3
fi
# The layer files that a build compiles as one unit (src/CMakeLists.txt, UMBRA_LAYER_UNITS: those
# without file-scope names of their own) are checked as one unit too, which pays the precompiled
# header's load (0.9 s) and the layers' shared templates once: 14 files, 27 s alone, 9 s as one
# (2026-12-08). The error lines name the file. (A layer file that leans on an include of the one
# before it passes here, as it does in the build's unit.)
alone=() layers=()
for f in "${files[@]}"; do
  if [[ $f == src/nn/layers/*.cc ]] && ! grep -qE 'namespace *\{|^static |^using namespace ' "$f"; then
    layers+=("$f")
  else
    alone+=("$f")
  fi
done
if [ ${#layers[@]} -gt 0 ]; then
  printf '#include "%s"\n' "${layers[@]/#/$src/}" > "$pch/layers.cc"
  alone+=("$pch/layers.cc")
fi
failed=0
for f in "${alone[@]}"; do
  if ! out=$("$cxx" "${flags[@]}" "$f" 2>&1); then
    if [ "$f" = "$pch/layers.cc" ]; then
      echo "FAIL: the layer files (one unit: ${layers[*]}) do not compile without CUDA:"
    else
      echo "FAIL: $f does not compile without CUDA:"
    fi
    echo "$out" | grep -E "error" | head -5
    failed=1
  fi
done
[ "$failed" = 0 ] && echo "ok: ${#files[@]} sources compile without CUDA"
exit $failed
