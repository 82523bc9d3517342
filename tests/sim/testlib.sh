# SPDX-License-Identifier: GPL-3.0-or-later
# Shared helpers for tests/integration/sim_*.sh: start fleetpower-sim, wait for "ready", clean
# up on exit, talk to it with curl without putting the password on a command line.

: "${FLEETPOWER_SIM:?FLEETPOWER_SIM must name the fleetpower-sim binary}"
: "${FP_SOURCE_DIR:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
SIM_CLIENTS="$FP_SOURCE_DIR/tests/sim/clients"
PY=/usr/bin/python3
T=$(mktemp -d /tmp/fp-simtest.XXXXXX)
SIM_PIDS=()
FAILS=0

cleanup() {
  local p
  for p in "${SIM_PIDS[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${SIM_PIDS[@]}"; do wait "$p" 2>/dev/null; done
  if [[ $FAILS -eq 0 && -z "${KEEP_TMP:-}" ]]; then rm -rf "$T"; else echo "# kept $T"; fi
}
trap cleanup EXIT

fail() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }
ok() { echo "ok: $*"; }
check() {  # check "description" command...
  local d=$1; shift
  if "$@"; then ok "$d"; else fail "$d"; fi
}
finish() {
  if [[ $FAILS -ne 0 ]]; then echo "$FAILS check(s) failed"; exit 1; fi
  echo "all checks passed"; exit 0
}

# sim_start NAME ARGS...: starts the simulator with state in $T/NAME; sets SIM_DIR, SIM_PID, CA,
# CRED, INV.  Waits for "ready" (up to 120 s).
sim_start() {
  local name=$1; shift
  SIM_DIR="$T/$name"
  mkdir -p "$SIM_DIR"
  "$FLEETPOWER_SIM" --state-dir "$SIM_DIR/state" --inventory-out "$SIM_DIR/inventory.yaml" \
    --credentials-out "$SIM_DIR/credentials.yaml" "$@" >"$SIM_DIR/stdout" 2>"$SIM_DIR/stderr" &
  SIM_PID=$!
  SIM_PIDS+=("$SIM_PID")
  local i
  for ((i = 0; i < 1200; i++)); do
    if grep -qx ready "$SIM_DIR/stdout" 2>/dev/null; then break; fi
    if ! kill -0 "$SIM_PID" 2>/dev/null; then
      echo "simulator exited early:"; cat "$SIM_DIR/stderr"; return 1
    fi
    sleep 0.1
  done
  grep -qx ready "$SIM_DIR/stdout" || { echo "simulator not ready after 120 s"; return 1; }
  CA="$SIM_DIR/state/ca.pem"
  CRED="$SIM_DIR/credentials.yaml"
  INV="$SIM_DIR/inventory.yaml"
  EVENTS="$SIM_DIR/state/events.jsonl"
  # curl config with the credentials (never on a command line)
  $PY - "$CRED" "$SIM_DIR/curl.cfg" "$SIM_DIR/redfishtool.json" <<'PYEOF'
import sys, re, os, json
text = open(sys.argv[1]).read()
user = re.search(r'username: "([^"]*)"', text).group(1)
pw = re.search(r'password: "([^"]*)"', text).group(1)
old = os.umask(0o077)
with open(sys.argv[2], "w") as f:
    f.write('user = "%s:%s"\n' % (user, pw))
with open(sys.argv[3], "w") as f:
    json.dump({"user": user, "password": pw}, f)
os.umask(old)
PYEOF
}

sim_alive() { kill -0 "$SIM_PID" 2>/dev/null; }

# Authenticated curl (Basic) against the current simulator; verifies TLS with its CA.
acurl() { curl -sS -K "$SIM_DIR/curl.cfg" --cacert "$CA" "$@"; }
# Anonymous curl.
ncurl() { curl -sS --cacert "$CA" "$@"; }

# events_has JQ-LIKE-PYTHON-EXPR: true if some event line satisfies the Python expression on e.
events_has() {
  $PY - "$EVENTS" "$1" <<'PYEOF'
import sys, json
expr = sys.argv[2]
for line in open(sys.argv[1]):
    e = json.loads(line)
    try:
        if eval(expr, {}, {"e": e}):
            sys.exit(0)
    except Exception:
        pass
sys.exit(1)
PYEOF
}

# Run a command with requests' CA environment removed, so a CA given explicitly (sushy verify=...)
# is the one used (requests lets REQUESTS_CA_BUNDLE override a session's verify setting).
pyclient() { env -u REQUESTS_CA_BUNDLE -u CURL_CA_BUNDLE "$PY" "$@"; }

# wait_for SECONDS COMMAND...: polls COMMAND every 0.2 s until it succeeds or time runs out.
wait_for() {
  local limit=$1 i; shift
  for ((i = 0; i < limit * 5; i++)); do
    if "$@"; then return 0; fi
    sleep 0.2
  done
  return 1
}
