# Shared helpers for integration tests (sourced).  Every test runs in its own temp dir and
# cleans up the processes it started, by PID.
set -euo pipefail
: "${FLEETPOWER:?FLEETPOWER must point at the fleetpower binary}"
FP_SOURCE_DIR=${FP_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)}
T=$(mktemp -d /tmp/fp-it.XXXXXX)
FP_PIDS=()
fp_cleanup() {
  local p
  for p in "${FP_PIDS[@]:-}"; do
    [ -n "$p" ] && kill "$p" 2>/dev/null && wait "$p" 2>/dev/null || true
  done
  rm -rf "$T"
}
trap fp_cleanup EXIT
FAILS=0
PASSES=0
ok() { PASSES=$((PASSES + 1)); echo "ok - $*"; }
not_ok() { FAILS=$((FAILS + 1)); echo "not ok - $*"; }
# check DESCRIPTION COMMAND...: passes when the command succeeds
check() { local d=$1; shift; if "$@"; then ok "$d"; else not_ok "$d"; fi; }
# expect_rc WANT DESCRIPTION COMMAND...
expect_rc() {
  local want=$1 d=$2; shift 2
  set +e; "$@" >"$T/out" 2>"$T/err"; local rc=$?; set -e
  if [ "$rc" = "$want" ]; then ok "$d (exit $rc)"; else not_ok "$d: exit $rc, wanted $want"; sed 's/^/    /' "$T/out" "$T/err" | head -20; fi
}
contains() { grep -qF -- "$2" "$1"; }
finish() {
  echo "$PASSES passed, $FAILS failed"
  [ "$FAILS" -eq 0 ]
}
# check_eq DESCRIPTION GOT WANT
check_eq() { if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1: got '$2', wanted '$3'"; fi; }
