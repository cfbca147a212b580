#!/usr/bin/env bash
# Work a GPU training step asks of the device, counted on any machine by the stand-in CUDA
# libraries (tests/cuda_stub, UMBRA_STUB_LOG=1): umbra kernels, cuDNN calls and cuBLAS calls a
# step of bench_train_gpu, for one net as configured by FLAGS (e.g. --own-kernels), and for the
# net as it defaults. Counts come from the difference between 5- and 10-step runs (a warm-up and
# one timed run each, so 10 extra steps), which leaves set-up out; with FLAGS that add a second
# measurement (--own-kernels, --nhwc, ...), the default run's counts are taken off.
# Usage: [STUB_CONFIGS=DIR] bench/stub_counts.sh BUILD_DIR NET [FLAGS...]
set -euo pipefail
B=$1 net=$2; shift 2
cfg=()  # STUB_CONFIGS=DIR: the nets' configs from DIR (bench_train_gpu --configs), e.g. a cxxnet file
[ -n "${STUB_CONFIGS:-}" ] && cfg=(--configs "$STUB_CONFIGS")
counts() {  # counts STEPS FLAGS...: "kernels cudnn cublas" of the whole process
  local c
  c=$(UMBRA_STUB_LOG=1 LD_PRELOAD="$B/tests/libumbra_cuda_stub.so" "$B/bench/bench_train_gpu" --net "$net" "${cfg[@]}" \
    --steps "$1" --reps 1 "${@:2}" 2>&1 | sed -n 's/.*calls: \([0-9]*\) kernels, \([0-9]*\) cuDNN, \([0-9]*\) cuBLAS.*/\1 \2 \3/p') &&
    [ -n "$c" ] ||
    { echo "stub_counts: bench_train_gpu --net $net --steps $1 ${*:2} failed or printed no stub counts" >&2; return 1; }
  echo "$c"
}
c=$(counts 5) && read -r a5k a5d a5b <<< "$c" || exit 1
c=$(counts 10) && read -r a10k a10d a10b <<< "$c" || exit 1
echo "$net default: $(( (a10k - a5k) / 10 )) kernels, $(( (a10d - a5d) / 10 )) cuDNN, $(( (a10b - a5b) / 10 )) cuBLAS a step"
if [ $# -gt 0 ]; then
  c=$(counts 5 "$@") && read -r b5k b5d b5b <<< "$c" || exit 1
  c=$(counts 10 "$@") && read -r b10k b10d b10b <<< "$c" || exit 1
  f() { echo $(( ( ($3 - $4) - ($1 - $2) ) / 10 )); }
  echo "$net $*: $(f "$a10k" "$a5k" "$b10k" "$b5k") kernels, $(f "$a10d" "$a5d" "$b10d" "$b5d") cuDNN," \
    "$(f "$a10b" "$a5b" "$b10b" "$b5b") cuBLAS a step"
fi
