#!/usr/bin/env bash
# libumbra_cublas built for a cuBLAS no machine has (UMBRA_CUBLAS_SONAME): a call returns
# CUBLAS_STATUS_NOT_INITIALIZED and the status string names the library and the loader's reason
# (what check.h's errors print). gpu-check's probe of what the shim opens (cublas_probe) says
# "none: ..." with status 1 for it, and names the real file for the real shim.
# Usage: cublas_absent.sh ABSENT_SHIM REAL_SHIM SOURCE_DIR
set -uo pipefail
ABSENT=$1 REAL=$2 SRC=$3
/usr/bin/python3 - "$ABSENT" <<'PY' || exit 1
import ctypes, sys
lib = ctypes.CDLL(sys.argv[1])
handle = ctypes.c_void_p()
rc = lib.cublasCreate_v2(ctypes.byref(handle))
assert rc == 1, f'cublasCreate returned {rc}, not CUBLAS_STATUS_NOT_INITIALIZED'
status = lib.cublasGetStatusString
status.restype, status.argtypes = ctypes.c_char_p, [ctypes.c_int]
why = status(rc).decode()
assert why.startswith('cuBLAS could not be loaded (') and 'libcublas.so.absent' in why, why
print('absent:', why)
PY
eval "$(sed -n '/^cublas_probe() {/,/^}/p' "$SRC/scripts/gpu-check")"
out=$(cublas_probe "$ABSENT") && { echo "FAIL: the probe found '$out' for the absent soname"; exit 1; }
[[ $out == "none: cuBLAS could not be loaded ("*libcublas.so.absent* ]] || { echo "FAIL: the probe said '$out'"; exit 1; }
real=$(cublas_probe "$REAL") && [[ $real == */libcublas.so.* ]] || { echo "FAIL: the real shim's probe said '$real'"; exit 1; }
echo "probe: $real"
