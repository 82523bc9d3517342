#!/usr/bin/env bash
# No password appears in stdout, stderr (at debug level), JSON, the journal, the audit log or
# any fleetpower process's command line, for IPMI and Redfish, in success and failure.
source "$(dirname "$0")/lib/common.sh"
command -v ipmi_sim >/dev/null || { echo "ipmi_sim missing"; exit 77; }
F=$FP_SOURCE_DIR/tests/ipmisim/fleet
SIM=${FLEETPOWER_SIM:-}
D=$(mktemp -d -p /dev/shm fp-secrets.XXXXXX)
SIMPID=
trap '[ -n "$SIMPID" ] && kill $SIMPID 2>/dev/null; "$F" stop --dir "$D/ipmi" >/dev/null 2>&1; [ -f "$D/ipmi/pids" ] && kill $(cat "$D/ipmi/pids") 2>/dev/null; rm -rf "$D"; fp_cleanup' EXIT
PW='Zq9-Secret-Pw!x'   # known password, searched for everywhere below
export FLEET_ADMIN_PASSWORD=$PW FLEETPOWER_SIM_PASSWORD=$PW
"$F" start --count 4 --model inproc --dir "$D/ipmi" --dead 1 >"$T/start.log" 2>&1 || { cat "$T/start.log"; exit 1; }
export XDG_STATE_HOME=$T/state
logs=()
run() {  # run NAME ARGS...: keep stdout/stderr, and sample the command line while it runs
  local name=$1; shift
  "$FLEETPOWER" -vv "$@" >"$T/$name.out" 2>"$T/$name.err" &
  local pid=$!
  for _ in 1 2 3 4 5; do tr '\0' ' ' <"/proc/$pid/cmdline" >>"$T/$name.cmdline" 2>/dev/null || true; sleep 0.05; done
  wait "$pid" || true
  logs+=("$T/$name.out" "$T/$name.err" "$T/$name.cmdline")
}
I=(-i "$D/ipmi/inventory.yaml" --credentials "$D/ipmi/credentials.yaml" --audit-log "$T/audit.log")
run ipmi-status "${I[@]}" status @sim @sim-dead -t 2s
run ipmi-json "${I[@]}" -o json status @sim -t 2s
run ipmi-jsonl "${I[@]}" -o jsonl on @sim -t 2s
run ipmi-off "${I[@]}" off @sim --yes -t 2s
run ipmi-list "${I[@]}" -o json list @sim
run ipmi-check "${I[@]}" inventory check
# A wrong password must not be echoed either.
sed 's/^sim:.*$/sim: { username: admin, password: "Wrong-Zq9-Pw" }/' "$D/ipmi/credentials.yaml" >"$T/bad.yaml"
chmod 600 "$T/bad.yaml"
run ipmi-badpw -i "$D/ipmi/inventory.yaml" --credentials "$T/bad.yaml" --audit-log "$T/audit.log" status @sim -t 2s
check "wrong password reported as such" grep -qi "password" "$T/ipmi-badpw.out"
check "the wrong password itself is not shown" bash -c "! grep -q 'Wrong-Zq9-Pw' '$T/ipmi-badpw.out' '$T/ipmi-badpw.err'"
# Environment-variable credentials.
sed 's/credentials: sim, //' "$D/ipmi/inventory.yaml" >"$T/inv-env.yaml"
HOME=$T FLEETPOWER_USER=admin FLEETPOWER_PASSWORD=$PW run ipmi-env -i "$T/inv-env.yaml" --audit-log "$T/audit.log" status @sim -t 2s
check "FLEETPOWER_USER/FLEETPOWER_PASSWORD work" grep -q "sim\[0001-0004\]: o" "$T/ipmi-env.out"

if [ -x "$SIM" ]; then
  mkdir -p "$D/rf"
  "$SIM" --redfish 3 --address-base 127.22.7.1 --port 8443 --state-dir "$D/rf" \
    --inventory-out "$D/rf/inventory.yaml" --credentials-out "$D/rf/credentials.yaml" --quiet >"$D/rf/out" 2>&1 &
  SIMPID=$!
  for _ in $(seq 100); do grep -q ready "$D/rf/out" && break; sleep 0.1; done
  R=(-i "$D/rf/inventory.yaml" --credentials "$D/rf/credentials.yaml" --audit-log "$T/audit.log")
  run rf-status "${R[@]}" status @rf -t 3s
  run rf-json "${R[@]}" -o json cycle @rf --yes -t 5s
  check "redfish status worked" grep -q ": on\|: off" "$T/rf-status.out"
else
  echo "# fleetpower-sim not built: Redfish part skipped"
fi

check "ipmi status worked" grep -q "sim\[0001-0004\]: " "$T/ipmi-status.out"
logs+=("$T/audit.log")
for f in "$XDG_STATE_HOME"/fleetpower/runs/*.jsonl; do logs+=("$f"); done
check "journals were written" test "${#logs[@]}" -gt 20
leaks=$(grep -lF -- "$PW" "${logs[@]}" 2>/dev/null || true)
check "the password appears in none of ${#logs[@]} outputs, logs, journals, command lines${leaks:+ (found in: $leaks)}" test -z "$leaks"
finish
