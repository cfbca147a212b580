# What the CLI test scripts on the small MLP share (sourced by tasks.sh and model_readers.sh with
# their arguments, UMBRA SOURCE_DIR): the paths, a scratch folder made the working directory and
# removed at exit, fail and expect_error. Exit 77 (skip) without Debian's Fashion-MNIST.
set -euo pipefail
UMBRA=$1 SRC=$2 CONF=$2/tests/cli/small_mlp.conf PY=/usr/bin/python3
DATA=/usr/share/datasets/fashion-mnist
[ -e $DATA/t10k-labels-idx1-ubyte.gz ] || { echo "no $DATA: skipped"; exit 77; }
W=$(mktemp -d); trap 'rm -rf "$W"' EXIT; cd "$W"
fail() { echo "FAIL: $*"; exit 1; }
expect_error() {  # expect_error "message part" args...
  local want=$1; shift
  if "$UMBRA" "$@" > out.txt 2> err.txt; then fail "succeeded: $*"; fi
  grep -qF -- "$want" err.txt || { cat err.txt; fail "error does not say '$want'"; }
  [ "$(grep -c 'umbra: error' err.txt)" = 1 ] || fail "not one error line"
  if grep -q "check failed" err.txt; then fail "internal check text shown to the user: $(cat err.txt)"; fi
}
