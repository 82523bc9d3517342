#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Misbehaving IPMI paths: a fault-injecting UDP relay (tests/relay/ipmi_relay.py, one process
# for every BMC) between fleetpower and a real ipmi_sim fleet.  Per BMC one mode: drop, delay,
# duplicate, truncate, corrupt, replay of old replies, wrong session id, wrong sequence number,
# never answering after RAKP 2, random loss.  Each must give the right state or a clear per-host
# error (checked by error class and reason), never a crash, never a run past its deadline, never
# a wrong state reported as success (a replayed old "on" reply for a host that is now off), and
# no power action executed twice (ipmi_sim's own event log).
set -uo pipefail
: "${FLEETPOWER:?FLEETPOWER must point at the fleetpower binary}"
SRC=${FP_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
FLEET="$SRC/tests/ipmisim/fleet"
RELAY="$SRC/tests/relay/ipmi_relay.py"
PY=/usr/bin/python3
for tool in ipmi_sim ipmipower $PY; do
  command -v "$tool" >/dev/null || { echo "SKIP: $tool not installed"; exit 77; }
done

D=$(mktemp -d -p /dev/shm fp-ipmi-relay.XXXXXX 2>/dev/null || mktemp -d)
RELAY_PID=
cleanup() {
  [[ -n $RELAY_PID ]] && kill "$RELAY_PID" 2>/dev/null && wait "$RELAY_PID" 2>/dev/null
  "$FLEET" stop --dir "$D" >/dev/null 2>&1
  rm -rf "$D"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

FAILS=0
PASSES=0
ok() { PASSES=$((PASSES + 1)); echo "ok - $*"; }
not_ok() { FAILS=$((FAILS + 1)); echo "not ok - $*"; }

N=14
"$FLEET" start --count $N --model inproc --initial-power on --dir "$D" >"$D/start.out" 2>&1
if [[ $(tail -1 "$D/start.out") != ready ]]; then
  cat "$D/start.out"
  echo "FAIL: fleet did not start"
  exit 1
fi
mapfile -t A < <(awk -F'\t' 'NR>1 && $7=="live" {print $3}' "$D/hosts.tsv")
PORT=$(awk -F'\t' 'NR==2 {print $4}' "$D/hosts.tsv")

# Front addresses 127.61.0.1.. (one per sim); host rN is sim N behind the relay.
FRONT=127.61.0
modes() {  # modes MODE1 MODE2 ...: rewrite the relay's table (it re-reads it within 100 ms)
  local i=0 m
  : >"$D/modes.new"
  for m in "$@"; do
    echo "$FRONT.$((i + 1)) ${A[$i]}:$PORT $m" >>"$D/modes.new"
    i=$((i + 1))
  done
  mv "$D/modes.new" "$D/modes"
  sleep 0.3
}
modes $(for _ in $(seq $N); do echo pass; done)
$PY "$RELAY" --modes "$D/modes" --ready "$D/relay.ready" --port 623 --log "$D/relay.log" --seed 7 \
  2>"$D/relay.err" &
RELAY_PID=$!
for _ in $(seq 50); do [[ -s $D/relay.ready ]] && break; sleep 0.1; done
[[ -s $D/relay.ready ]] || { echo "FAIL: relay did not start"; cat "$D/relay.err"; exit 1; }

{
  echo "defaults: { protocol: ipmi, credentials: sim, cipher_suite: 3, privilege: admin }"
  echo "groups:"
  echo "  r: { hosts: \"r[1-$N]\", bmc: \"$FRONT.[1-$N]\" }"
  echo "  direct: { hosts: \"d[1-$N]\", bmc: \"$(IFS=,; echo "${A[*]}")\", port: $PORT }"
} >"$D/inv.yaml"
fp() { "$FLEETPOWER" -i "$D/inv.yaml" --credentials "$D/credentials.yaml" -o jsonl --expand "$@"; }

# run NAME LIMIT_S ARGS...: run fleetpower, output in $D/out.jsonl; checks the wall time
# against LIMIT_S (+1.5 s grace for start-up and the last close) and that nothing crashed.
run() {
  local name=$1 limit=$2 start took
  shift 2
  start=$(date +%s%N)
  fp "$@" >"$D/out.jsonl" 2>"$D/err"
  local rc=$?
  took=$((($(date +%s%N) - start) / 1000000))
  if ((took <= limit * 1000 + 1500)); then ok "$name: finished in ${took} ms (limit ${limit} s)"; else not_ok "$name: took ${took} ms, limit ${limit} s"; fi
  if ((rc > 3)) || grep -qiE "terminate|abort|segfault|sanitizer" "$D/err"; then not_ok "$name: crashed (exit $rc)"; sed 's/^/    /' "$D/err"; fi
}
# verify NAME PYTHON-DICT: host -> (ok|error kind (a regex), regex on the result or reason)
verify() {
  local name=$1 expect=$2
  if $PY - "$D/out.jsonl" <<PY; then ok "$name"; else not_ok "$name"; fi
import json, re, sys
expect = $expect
hosts = {}
for l in open(sys.argv[1]):
    if l.strip():
        j = json.loads(l)
        if j.get("type") == "host": hosts[j["host"]] = j
errs = []
for h, (kind, regex) in expect.items():
    j = hosts.get(h)
    if j is None:
        errs.append((h, "missing")); continue
    got = "ok" if j["ok"] else j["error"]
    text = (j["result"] if j["ok"] else j["reason"]) or ""
    if not re.fullmatch(kind, got) or not re.search(regex, text):
        errs.append((h, got, text))
for e in errs: print("    ", e)
sys.exit(1 if errs else 0)
PY
}

# --- 1. status through every mode ----------------------------------------------------------
# Prime the relay's history with replies of earlier sessions (all on), for the replay modes.
run "status through a clean relay" 3 -t 3s status "r[1-$N]"
verify "all on through a clean relay" "{$(for i in $(seq $N); do printf '"r%d": ("ok", r"^on$"),' "$i"; done)}"
# Hosts 9 and 10 go off (directly, not through the relay): an old "on" reply is now a lie.
run "power off d9,d10 directly" 30 -t 3s --wait-timeout 10s off d9,d10
verify "d9 and d10 are off" '{"d9": ("ok", r"^off$"), "d10": ("ok", r"^off$")}'

modes pass drop delay=700 delay=5000 duplicate truncate corrupt loss=20 replay replay-only \
  wrong-sid wrong-seq no-rakp4 pass
# The default per-host timeout (10 s): loss and a 700 ms path are within what it must absorb.
run "status under relay faults" 10 status "r[1-$N]"
verify "status: each fault gives the right state or a clear error" '{
  "r1":  ("ok", r"^on$"),
  "r2":  ("no-response", r"no response from BMC"),
  "r3":  ("ok", r"^on$"),
  "r4":  ("timeout", r"timed out waiting for"),
  "r5":  ("ok", r"^on$"),
  "r6":  ("protocol", r"no valid reply .*malformed"),
  "r7":  ("protocol", r"no valid reply .*malformed"),
  "r8":  ("ok", r"^on$"),
  "r9":  ("ok", r"^off$"),
  "r10": ("timeout|protocol", r"stale or foreign session"),
  "r11": ("timeout", r"timed out waiting for the Open Session response.*ignored"),
  "r12": ("timeout", r"(Set Session Privilege Level|Get Chassis Status) reply.*ignored"),
  "r13": ("timeout", r"RAKP 4|handshake lost|Set Session Privilege Level"),
  "r14": ("ok", r"^on$"),
}'
if grep -q '"host":"r10".*"result":"on"' "$D/out.jsonl"; then not_ok "a replayed old reply made an off host report on"; else ok "no replayed reply reported as a state"; fi

# --- 2. power actions through faulty paths: verified, each executed exactly once -----------
# r1-r5 on (they are on: "already on" needs no action), so switch them off, then cycle.
modes duplicate delay=700 loss=20 replay duplicate pass pass pass pass pass pass pass pass pass
run "off through duplicate / delay / 20% loss / replay" 45 --wait-timeout 15s off "r[1-4]"
verify "off reached through every fault" '{"r1": ("ok", r"^off$"), "r2": ("ok", r"^off$"), "r3": ("ok", r"^off$"), "r4": ("ok", r"^off$")}'
run "on through duplicate / delay / 20% loss / replay" 45 --wait-timeout 15s on "r[1-4]"
verify "on reached through every fault" '{"r1": ("ok", r"^on$"), "r2": ("ok", r"^on$"), "r3": ("ok", r"^on$"), "r4": ("ok", r"^on$")}'
run "cycle through duplicate / delay / 20% loss / replay" 45 --wait-timeout 15s --yes cycle "r[1-4]"
# Through 20% loss (r3) the one Chassis Control (power cycle) request or its reply can be lost;
# a cycle is never sent twice, and IPMI cannot tell a lost request from a lost reply, so there the
# honest answer may be "cycle not confirmed" (an error, never a success), with the power on.
verify "cycle verified through every fault (r3: verified, or not confirmed and said so)" '{"r1": ("ok", r"^on"), "r2": ("ok", r"^on"), "r3": ("ok|timeout", r"^on|cycle not confirmed.*not re-issued"), "r4": ("ok", r"^on")}'
r3_cycle_ok=0
$PY -c 'import json,sys
sys.exit(0 if any(j.get("host") == "r3" and j.get("ok") for j in map(json.loads, open(sys.argv[1]))) else 1)' "$D/out.jsonl" && r3_cycle_ok=1
# Each sim: exactly one off, one on and one cycle request reached its power model (r3's cycle:
# at most one when it was not confirmed).
"$FLEET" events --dir "$D" >"$D/events.log"
for i in 1 2 3 4; do
  h=$(printf 'sim%04d' "$i")
  got=$(for op in off on cycle; do grep -c "^[0-9.]* $h request op=$op " "$D/events.log"; done | paste -sd,)
  if [[ $got == 1,1,1 ]] || [[ $i == 3 && $r3_cycle_ok == 0 && $got == 1,1,0 ]]; then
    ok "$h: off, on, cycle executed once each (or a lost cycle request, reported as not confirmed)"
  else
    not_ok "$h: off,on,cycle executed $got times"
  fi
done

kill "$RELAY_PID" 2>/dev/null
wait "$RELAY_PID" 2>/dev/null
RELAY_PID=
sed 's/^/# relay: /' "$D/relay.log"
echo "$PASSES passed, $FAILS failed"
[[ $FAILS == 0 ]]
