#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# fp-test-stage: normal
# fp-test-serial
# (Runs on the unsanitized build: what it checks is timing, every BMC right within the DEFAULT
# timeout on a lossy path, and ASan slows client and simulator 2-3x. The same code paths run
# under ASan in ipmi_relay_faults.sh, redfish_misbehave.sh and sim_faults.sh.)
#
# Redfish over a lossy management network: 20 simulated BMCs (fleetpower-sim, HTTPS with its own
# CA) in a network namespace behind a path with 20% loss, 100-300 ms delay (jitter, so
# reordering), 5% duplication and 10% explicit reordering in both directions
# (lib/lossy_net.sh: tc netem, or its user-space stand-in on kernels without sch_netem).  TCP
# under that loss (retransmission timeouts of 1 s and more, doubling) needs more than the
# default 10 s for the ~8 round trips of a first Redfish operation (TCP, TLS, root, login,
# systems, system), so the runs use -t 30s.  Every BMC reaches the right state (status, off, on, cycle), no
# Reset is carried out twice on any BMC (the simulator's event log), a dead address fails with
# a reason, and each run ends within its bound (measured here, start to exit).  A cycle whose
# reply was lost (a TCP connection stalled past the request timeout) and whose short off was
# never seen is reported "not confirmed" rather than verified; the simulator's log may show one
# PowerCycle for it or none (the request itself may have been stuck), never two, and a status
# afterwards must read on.
set -uo pipefail
: "${FLEETPOWER:?}" "${FLEETPOWER_SIM:?}"
SRC=${FP_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
PY=/usr/bin/python3
. "$SRC/tests/integration/lib/lossy_net.sh"
lossy_net_can || exit 77

W=$(mktemp -d /tmp/fp-netem-redfish.XXXXXX)
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

N=20
FLEETPOWER_SIM_PASSWORD="nr-$RANDOM$RANDOM" ip netns exec "$LN_NS" "$FLEETPOWER_SIM" --redfish $N \
  --address-base "$LN_NET.1" --port 8443 --initial-power on --power-on-delay 1s \
  --power-off-delay 1s --state-dir "$W/st" --inventory-out "$W/sim.yaml" \
  --credentials-out "$W/cred.yaml" --quiet >"$W/sim.out" 2>"$W/sim.err" &
SIM_PID=$!
for _ in $(seq 300); do grep -qx ready "$W/sim.out" 2>/dev/null && break; sleep 0.1; done
grep -qx ready "$W/sim.out" || { echo "FAIL: simulator did not start"; cat "$W/sim.err"; exit 1; }
cp "$W/sim.yaml" "$W/inv.yaml"
printf '  dead:\n    hosts: "dead1"\n    bmc: "%s.241"\n    port: 8443\n' "$LN_NET" >>"$W/inv.yaml"

HOSTS="rf[0001-00$N]"
fp() { "$FLEETPOWER" -i "$W/inv.yaml" --credentials "$W/cred.yaml" -o jsonl --expand "$@"; }
run() {
  local name=$1 bound=$2 start took rc
  shift 2
  start=$(date +%s%N)
  fp "$@" >"$W/out.jsonl" 2>"$W/err"
  rc=$?
  took=$((($(date +%s%N) - start) / 1000000))
  if ((took <= bound * 1000 + 3000)); then ok "$name: ${took} ms (bound ${bound} s, exit $rc)"; else not_ok "$name: ${took} ms, bound ${bound} s"; fi
  if ((rc > 3)) || grep -qiE "terminate|abort|segfault|sanitizer" "$W/err"; then not_ok "$name: crashed (exit $rc)"; sed 's/^/    /' "$W/err"; fi
}
# expect NAME REGEX [UNCONFIRMED]: every BMC's result matches REGEX; with UNCONFIRMED, a host may
# instead fail with a reason matching it (a cycle whose reply was lost and whose off was never
# seen is reported "not confirmed", never re-sent: the callers check the simulator's log and
# the state afterwards).
expect() {
  if $PY - "$W/out.jsonl" "$2" "$N" "${3:-}" <<'PY'; then ok "$1"; else not_ok "$1"; fi
import json, re, sys
path, regex, n, unconf = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
hosts = {}
for l in open(path):
    j = json.loads(l)
    if j.get("type") == "host": hosts[j["host"]] = j
bad = []
unconfirmed = 0
for i in range(1, n + 1):
    h = "rf%04d" % i
    j = hosts.get(h)
    if j is None: bad.append((h, "missing")); continue
    if unconf and not j["ok"] and re.search(unconf, j["error"] + ": " + j["reason"]):
        unconfirmed += 1
        continue
    if not j["ok"] or not re.search(regex, j["result"] or ""):
        bad.append((h, j["result"] if j["ok"] else j["error"] + ": " + j["reason"]))
j = hosts.get("dead1")
if j is not None and (j["ok"] or j["error"] not in ("no-response", "timeout", "connection")):
    bad.append(("dead1", j))
if unconfirmed: print("    %d reported not confirmed (reply lost, off not seen, not re-sent)" % unconfirmed)
print("    %d/%d BMCs right%s" % (n - len(bad), n, "" if not bad else ": " + repr(bad[:4])))
sys.exit(1 if bad else 0)
PY
}
mark() { MARK=$(wc -l <"$W/st/events.jsonl"); }
# carried_out TYPE: against the simulator's log since $MARK, every BMC accepted exactly one Reset
# of TYPE, and no other; a BMC that fleetpower reported "... not confirmed" (a cycle whose
# request or reply was stuck in a stalled TCP connection) one or none: over TCP the request
# itself may never have arrived, which is why it is not confirmed.  Never two.
carried_out() {
  if $PY - "$W/out.jsonl" "$W/st/events.jsonl" "$1" "$N" "$MARK" <<'PY'; then ok "each BMC carried out one $1 (simulator events)"; else not_ok "$1 carried out other than once"; fi
import json, sys, collections
out, ev, rtype, n, mark = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
c = collections.Counter()
for line in open(ev).readlines()[mark:]:
    e = json.loads(line)
    if e.get("event") == "reset" and e.get("result") == "accepted":
        c[(e["bmc"], e.get("reset_type"))] += 1
unconfirmed = set()
for l in open(out):
    j = json.loads(l)
    if j.get("type") == "host" and j["host"].startswith("rf") and not j["ok"] and "not confirmed" in j["reason"]:
        unconfirmed.add(int(j["host"][2:]))
bad = {k: v for k, v in c.items() if v != 1 or k[1] != rtype}
missing = [b for b in range(1, n + 1) if c[(b, rtype)] == 0 and b not in unconfirmed]
done = sum(c[(b, rtype)] for b in unconfirmed)
if unconfirmed: print("    %d not confirmed, of which the BMC carried out %d" % (len(unconfirmed), done))
if bad or missing: print("    wrong:", list(bad.items())[:5], "missing:", missing[:5])
sys.exit(1 if bad or missing else 0)
PY
}

run "status of $N BMCs + 1 dead" 30 -t 30s status "$HOSTS,dead1"
expect "status: every BMC reads on" '^on$'
mark
run "off" 90 -t 30s --deadline 90s --yes off "$HOSTS"
expect "off: every BMC verified off" '^off$'
carried_out ForceOff
mark
run "on" 90 -t 30s --deadline 90s on "$HOSTS"
expect "on: every BMC verified on" '^on$'
carried_out On
mark
run "cycle" 90 -t 30s --deadline 90s --yes cycle "$HOSTS"
expect "cycle: every BMC cycled and verified, or not confirmed" '^on \(cycle' '^timeout: cycle not confirmed'
carried_out PowerCycle
run "status after the cycle" 30 -t 30s status "$HOSTS"
expect "status after the cycle: every BMC reads on" '^on$'

kill "$SIM_PID" 2>/dev/null
wait "$SIM_PID" 2>/dev/null
SIM_PID=
echo "$PASSES passed, $FAILS failed"
[[ $FAILS == 0 ]]
