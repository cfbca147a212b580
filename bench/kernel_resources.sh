#!/usr/bin/env bash
# What ptxas gives each of umbra's kernels, on any machine with nvcc: every CUDA unit of a CUDA
# build (not the emulation) compiled again with --resource-usage, into a scratch folder. Prints
# the kernel instances, the most registers any uses, and every kernel with spills or a stack
# frame (the build refuses those: UMBRA_PTXAS_STRICT; this shows them with it off). A kernel's
# registers times its block's threads must fit the 65,536 a block may hold, or its launch fails
# on the GPU ("too many resources requested"); the emulation cannot see that.
# Usage: bench/kernel_resources.sh BUILD_DIR
set -euo pipefail
B=$(cd "$1" && pwd)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
ninja -C "$B" -t commands | { grep -- '-x cu -c ' || true; } | sort -u |
  sed 's|^[^ ]*ccache ||; s| -MD -MT [^ ]* -MF [^ ]*||; s|-Xptxas=[^ ]*||; s| -o [^ ]*$| -o '"$out"'/unit.o --resource-usage|' \
    > "$out/cmds"
[ -s "$out/cmds" ] || { echo "kernel_resources: no CUDA units in $B (a CUDA build, not UMBRA_CUDA_EMU)" >&2; exit 1; }
while read -r cmd; do
  (cd "$B" && eval "$cmd") >> "$out/report" 2>&1 || { cat "$out/report" >&2; echo "kernel_resources: failed: $cmd" >&2; exit 1; }
done < "$out/cmds"
awk -v units="$(wc -l < "$out/cmds")" '
  /Compiling entry function/ { name = $0; sub(/.*function .?/, "", name); sub(/.? for .*/, "", name); n++ }
  /bytes stack frame/ { if ($1 != 0 || $5 != 0 || $9 != 0) { bad++; print "stack/spills: " $0 "  " name } }
  /Used [0-9]+ registers/ { for (i = 1; i <= NF; i++) if ($i == "Used") r = $(i + 1); if (r + 0 > max) max = r + 0 }
  END { printf "%d units, %d kernel instances, at most %d registers a thread, %d with spills or a stack frame\n",
               units, n, max, bad + 0 }' "$out/report" | c++filt
