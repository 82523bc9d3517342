#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# fp-test-stage: normal
# fp-test-serial
# (Runs on the unsanitized build: what it checks is timing, every BMC right within the DEFAULT
# timeout on a lossy path, and ASan slows client and simulator 2-3x. The same code paths run
# under ASan in ipmi_relay_faults.sh, redfish_misbehave.sh and sim_faults.sh.)
#
# IPMI over a lossy management network: 50 simulated BMCs (fleetpower-sim's IPMI personality)
# in a network namespace behind a path with 20% loss, 100-300 ms delay (jitter, so reordering),
# 5% duplication and 10% explicit reordering in both directions (lib/lossy_net.sh: tc netem, or
# its user-space stand-in on kernels without sch_netem).  With the DEFAULT per-host timeout:
# every live BMC reaches the right state (status, on, off, cycle), no power action executes
# twice on any BMC (the simulator's event log: executed Chassis Control requests per BMC; it
# answers duplicated packets from its reply cache, as a BMC should), two dead addresses fail
# with a reason, and every run ends within its bound (measured here, start to exit).
set -uo pipefail
: "${FLEETPOWER:?}" "${FLEETPOWER_SIM:?}"
SRC=${FP_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
PY=/usr/bin/python3
. "$SRC/tests/integration/lib/lossy_net.sh"
lossy_net_can || exit 77

W=$(mktemp -d /tmp/fp-netem-ipmi.XXXXXX)
SIM_PID=
cleanup() {
  if [[ -n $SIM_PID ]]; then kill "$SIM_PID" 2>/dev/null; wait "$SIM_PID" 2>/dev/null; fi
  lossy_net_down
  if [[ -n ${KEEP_TMP:-} ]]; then echo "# kept $W"; else rm -rf "$W"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

FAILS=0
PASSES=0
ok() { PASSES=$((PASSES + 1)); echo "ok - $*"; }
not_ok() { FAILS=$((FAILS + 1)); echo "not ok - $*"; }

lossy_net_up 20 200 100 5 10 || { echo "FAIL: cannot build the lossy network"; exit 1; }
echo "# path: $LN_WHY; BMCs at $LN_NET.x in namespace $LN_NS"

N=50
FLEETPOWER_SIM_PASSWORD="nt-$RANDOM$RANDOM" ip netns exec "$LN_NS" "$FLEETPOWER_SIM" --ipmi $N \
  --ipmi-address-base "$LN_NET.1" --ipmi-cycle-delay 1s --ipmi-initial-power off \
  --state-dir "$W/st" --inventory-out "$W/sim.yaml" --credentials-out "$W/cred.yaml" --quiet \
  >"$W/sim.out" 2>"$W/sim.err" &
SIM_PID=$!
for _ in $(seq 200); do grep -qx ready "$W/sim.out" 2>/dev/null && break; sleep 0.1; done
grep -qx ready "$W/sim.out" || { echo "FAIL: simulator did not start"; cat "$W/sim.err"; exit 1; }
# The simulator's inventory plus two dead addresses (nothing listens there).
cp "$W/sim.yaml" "$W/inv.yaml"
printf '  dead:\n    hosts: "dead[1-2]"\n    bmc: "%s.[241-242]"\n' "$LN_NET" >>"$W/inv.yaml"
grep -q '^groups:' "$W/inv.yaml" || { echo "FAIL: unexpected inventory"; cat "$W/inv.yaml"; exit 1; }

HOSTS="ipmi[0001-00$N]"
fp() { "$FLEETPOWER" -i "$W/inv.yaml" --credentials "$W/cred.yaml" -o jsonl --expand "$@"; }
# run NAME BOUND_S ARGS...: fleetpower's JSONL in $W/out.jsonl; the wall time must stay within
# BOUND_S plus 2 s (start-up, closing sessions).
run() {
  local name=$1 bound=$2 start took rc
  shift 2
  start=$(date +%s%N)
  fp "$@" >"$W/out.jsonl" 2>"$W/err"
  rc=$?
  took=$((($(date +%s%N) - start) / 1000000))
  if ((took <= bound * 1000 + 2000)); then ok "$name: ${took} ms (bound ${bound} s, exit $rc)"; else not_ok "$name: ${took} ms, bound ${bound} s"; fi
  if ((rc > 3)) || grep -qiE "terminate|abort|segfault|sanitizer" "$W/err"; then not_ok "$name: crashed (exit $rc)"; sed 's/^/    /' "$W/err"; fi
}
# expect NAME REGEX: every live host's result matches REGEX; the dead ones (if in the run)
# fail with a reason and never report success.
expect() {
  if $PY - "$W/out.jsonl" "$1" "$2" "$N" <<'PY'; then ok "$1"; else not_ok "$1"; fi
import json, re, sys
path, name, regex, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
hosts = {}
for l in open(path):
    j = json.loads(l)
    if j.get("type") == "host": hosts[j["host"]] = j
bad = []
for i in range(1, n + 1):
    h = "ipmi%04d" % i
    j = hosts.get(h)
    if j is None: bad.append((h, "missing")); continue
    if not j["ok"] or not re.search(regex, j["result"] or ""):
        bad.append((h, j["result"] if j["ok"] else j["error"] + ": " + j["reason"]))
for h in ("dead1", "dead2"):
    j = hosts.get(h)
    if j is not None and (j["ok"] or j["error"] not in ("no-response", "timeout")):
        bad.append((h, j))
print("    %d/%d live BMCs right%s" % (n - len(bad), n, "" if not bad else ": " + repr(bad[:5])))
sys.exit(1 if bad else 0)
PY
}
# executed OP: every BMC executed exactly one Chassis Control OP since event line $MARK
executed_once() {
  if $PY - "$W/st/events.jsonl" "$1" "$N" "$MARK" <<'PY'; then ok "each BMC executed one $1 (simulator events)"; else not_ok "$1 executed other than once"; fi
import json, sys, collections
path, op, n, mark = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
count = collections.Counter()
dups = 0
for line in open(path).readlines()[mark:]:
    e = json.loads(line)
    if e.get("event") != "request" or e.get("cmd") != "chassis_control": continue
    if e.get("executed") is False:
        dups += 1; continue
    count[(e["bmc"], e.get("op"))] += 1
bad = {k: v for k, v in count.items() if v != 1 or k[1] != op}
missing = [b for b in range(1, n + 1) if count[(b, op)] == 0]
print("    %d executed, %d duplicates answered from the reply cache" % (sum(count.values()), dups))
if bad or missing: print("    wrong:", list(bad.items())[:5], "missing:", missing[:5])
sys.exit(1 if bad or missing else 0)
PY
}
mark() { MARK=$(wc -l <"$W/st/events.jsonl"); }

# Default timeout (10 s per operation): status is bounded by it.
run "status of $N BMCs + 2 dead" 10 status "$HOSTS,dead[1-2]"
expect "status: every live BMC reads off" '^off$'
mark
run "on" 45 --deadline 45s on "$HOSTS"
expect "on: every BMC verified on" '^on$'
executed_once power_up
mark
run "cycle" 45 --deadline 45s --yes cycle "$HOSTS"
# A cycle is never re-sent: when its request or reply is lost and the power is never seen off,
# fleetpower cannot know and must say so.  Success must mean exactly one cycle executed there.
if $PY - "$W/out.jsonl" "$W/st/events.jsonl" "$MARK" "$N" <<'PY'; then ok "cycle: success exactly where the BMC executed one cycle; never two"; else not_ok "cycle results and executions disagree"; fi
import json, sys, collections
out, ev, mark, n = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
ex = collections.Counter()
for line in open(ev).readlines()[mark:]:
    e = json.loads(line)
    if e.get("event") == "request" and e.get("cmd") == "chassis_control" and e.get("executed") is not False:
        ex[(e["bmc"], e.get("op"))] += 1
bad, succ, unconfirmed = [], 0, 0
for l in open(out):
    j = json.loads(l)
    if j.get("type") != "host" or not j["host"].startswith("ipmi"): continue
    b = int(j["host"][4:])
    c = ex[(b, "power_cycle")]
    if sum(v for (bb, op), v in ex.items() if bb == b) > 1: bad.append((b, "more than one control", dict(ex)))
    if j["ok"]:
        succ += 1
        if c != 1 or not j["result"].startswith("on (cycle"): bad.append((b, j["result"], c))
    else:
        unconfirmed += 1
        if "not confirmed" not in j["reason"] and "may or may not" not in j["reason"]: bad.append((b, j["reason"]))
print("    %d cycled and verified, %d reported unconfirmed (request or reply lost)" % (succ, unconfirmed))
if bad: print("    wrong:", bad[:5])
sys.exit(1 if bad or succ + unconfirmed != n else 0)
PY
mark
run "off" 45 --deadline 45s --yes off "$HOSTS"
expect "off: every BMC verified off" '^off$'
executed_once power_down

kill "$SIM_PID" 2>/dev/null
wait "$SIM_PID" 2>/dev/null
SIM_PID=
echo "$PASSES passed, $FAILS failed"
[[ $FAILS == 0 ]]
