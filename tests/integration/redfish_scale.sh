#!/usr/bin/env bash
# More simulated Redfish BMCs than the global connection cap (1024 by default), default options:
# status and cycle must complete for every host, checked against the simulator's own state and
# event log (regression: a crash once the cap was reached and idle connections were evicted).
# RF_SCALE_N overrides the fleet size (default 1100).
source "$(dirname "$0")/lib/common.sh"
SIM=${FLEETPOWER_SIM:?}
[ -x "$SIM" ] || { echo "fleetpower-sim not built"; exit 77; }
N=${RF_SCALE_N:-1100}
S=$T/sim
mkdir -p "$S"
"$SIM" --redfish "$N" --address-base 127.26.0.1 --port 8443 --power-on-delay 1s \
  --state-dir "$S" --inventory-out "$S/inventory.yaml" --credentials-out "$S/credentials.yaml" \
  --quiet >"$S/out" 2>&1 &
FP_PIDS+=($!)
for _ in $(seq 600); do grep -q ready "$S/out" && break; sleep 0.1; done
grep -q ready "$S/out" || { cat "$S/out"; exit 1; }
export XDG_STATE_HOME=$T/state
fp() { "$FLEETPOWER" -i "$S/inventory.yaml" --credentials "$S/credentials.yaml" "$@"; }

# Every third BMC is switched off behind fleetpower's back (control FIFO), so status has two answers.
{
  for ((i = 1; i <= N; i += 3)); do echo "power $i Off"; done
} >"$S/control"
want_off=$(((N + 2) / 3))
ctl_done() { [ "$(grep -c '"event":"control"' "$S/events.jsonl")" -ge "$want_off" ]; }
for _ in $(seq 100); do ctl_done && break; sleep 0.1; done
check "the simulator applied $want_off power-off controls" ctl_done

# compare OUT: every host of the fleet reported once, ok, in the state the simulator holds
compare() {
  /usr/bin/python3 - "$1" "$S/state.json" "$2" <<'PY'
import json, sys
out, state, mode = sys.argv[1], sys.argv[2], sys.argv[3]
want = {}
for b in json.load(open(state)):
    for s in b["systems"]:
        want[s["host"]] = s["power"].lower()
got = {}
for l in open(out):
    e = json.loads(l)
    if e.get("type") != "host":
        continue
    assert e["host"] not in got, ("reported twice", e["host"])
    got[e["host"]] = e
assert set(got) == set(want), ("hosts", len(got), len(want))
bad = [h for h, e in got.items() if not e["ok"] or e["state"] != want[h]]
assert not bad, (len(bad), [(h, got[h]["state"], got[h]["reason"], want[h]) for h in bad[:5]])
if mode == "cycle":
    assert all(w == "on" for w in want.values()), "simulator: not every host on after the cycle"
print(len(got), "hosts right")
PY
}
dump() {
  local before
  before=$(grep -c '"command":"dump"' "$S/events.jsonl" || true)
  echo dump >"$S/control"
  for _ in $(seq 100); do
    [ "$(grep -c '"command":"dump"' "$S/events.jsonl" || true)" -gt "$before" ] && return 0
    sleep 0.1
  done
  return 1
}

check "simulator state dumped" dump
expect_rc 0 "status of $N BMCs (more than the 1024-connection cap)" fp -o jsonl status @rf
cp "$T/out" "$T/status.jsonl"
check "status: every host reported right (simulator state)" compare "$T/status.jsonl" status

mark=$(date +%s%3N)
expect_rc 0 "cycle --yes of $N BMCs" fp -o jsonl --yes cycle @rf
cp "$T/out" "$T/cycle.jsonl"
check "simulator state dumped after the cycle" dump
check "cycle: every host verified on, as the simulator says" compare "$T/cycle.jsonl" cycle
check "cycle: one accepted reset per host, none rejected (simulator event log)" \
  /usr/bin/python3 - "$S/events.jsonl" "$mark" "$N" <<'PY'
import collections, json, sys
mark, n = int(sys.argv[2]), int(sys.argv[3])
acc = collections.Counter(); rej = 0; cycled = set()
for l in open(sys.argv[1]):
    e = json.loads(l)
    if e.get("ms", 0) < mark:
        continue
    if e.get("event") == "reset":
        if e["result"] == "accepted":
            acc[(e["host"], e["reset_type"])] += 1
        elif e["result"] == "rejected":
            rej += 1
    if e.get("event") == "power" and e.get("to") == "Off" and e.get("from") == "On":
        cycled.add(e["host"])
hosts = {h for h, _ in acc}
assert rej == 0, ("rejected resets", rej)
assert len(hosts) == n, ("hosts with an accepted reset", len(hosts), n)
assert max(acc.values()) == 1, ("a reset sent twice", [k for k, v in acc.items() if v > 1][:5])
print(len(hosts), "hosts reset once;", len(cycled), "went On -> Off")
PY
sessions_balanced() {
  /usr/bin/python3 - "$S/events.jsonl" <<'PY'
import collections, json, sys
c = collections.Counter()
for l in open(sys.argv[1]):
    e = json.loads(l)
    if e.get("event") == "session":
        c[e["action"]] += 1
print(dict(c))
assert c["create"] > 0 and c["create"] == c["delete"], c
assert c["limit"] == 0 and c["login_failed"] == 0, c
PY
}
check "every session created was deleted at exit (simulator event log)" sessions_balanced
finish
