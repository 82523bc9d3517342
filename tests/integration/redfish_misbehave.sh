#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Misbehaving Redfish BMCs beyond redfish_faults.sh: a reply that stops after its headers, a
# truncated body, a huge body, a slow drip, 500 and 503 (with and without Retry-After), and a
# BMC that carries a Reset out and then resets the connection instead of answering.  Each must
# give the right state or a clear per-host error (class and reason), never a crash, never a run
# past its deadline, and the Reset must never be sent twice (the simulator's event log).
set -euo pipefail
: "${FLEETPOWER:?}" "${FLEETPOWER_SIM:?}"
[[ -x $FLEETPOWER && -x $FLEETPOWER_SIM ]] || { echo "SKIP: fleetpower or fleetpower-sim not built"; exit 77; }

work=$(mktemp -d)
sim_pid=
cleanup() {
  if [[ -n $sim_pid ]]; then kill "$sim_pid" 2>/dev/null || true; wait "$sim_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
cd "$work"

faults="1:headers-hang,2:truncate,3:huge,4:http503,5:busy=1+times=2,6:reset-after,7:trickle=200ms/8"
faults+=",8:http500,9:truncate+times=1,10:trickle=10ms/512,11:reset-after,12:huge=3000000"
FLEETPOWER_SIM_PASSWORD="mb-$RANDOM-pw" "$FLEETPOWER_SIM" --redfish 12 --address-base 127.62.0.1 \
  --port 8443 --state-dir st --inventory-out inv.yaml --credentials-out cred.yaml --quiet \
  --power-on-delay 1s --faults "$faults" >sim.out 2>sim.err &
sim_pid=$!
for _ in $(seq 100); do grep -q ready sim.out 2>/dev/null && break; sleep 0.1; done
grep -q ready sim.out || { echo "simulator did not start"; cat sim.err; exit 1; }

fail=0
FP=("$FLEETPOWER" -i inv.yaml --credentials cred.yaml -o jsonl --expand)
# run NAME LIMIT_S ARGS...: fleetpower's JSONL in out.jsonl; wall time within LIMIT_S + 1.5 s
run() {
  local name=$1 limit=$2 start ms rc=0
  shift 2
  start=$(date +%s%N)
  "${FP[@]}" "$@" >out.jsonl 2>err.txt || rc=$?
  ms=$((($(date +%s%N) - start) / 1000000))
  if ((ms > limit * 1000 + 1500)); then echo "FAIL: $name took ${ms} ms, limit ${limit} s"; fail=1; else echo "ok: $name in ${ms} ms"; fi
  if ((rc > 3)) || grep -qiE "terminate|abort|segfault|sanitizer" err.txt; then echo "FAIL: $name crashed (exit $rc)"; cat err.txt; fail=1; fi
}
# verify NAME PYTHON-DICT: host -> (ok|error kind (regex), regex on the result or reason)
verify() {
  if python3 - "$2" <<'PY'
import json, re, sys
expect = eval(sys.argv[1])
hosts = {}
for l in open("out.jsonl"):
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
for e in errs: print("   ", e)
sys.exit(1 if errs else 0)
PY
  then echo "ok: $1"; else echo "FAIL: $1"; fail=1; fi
}

run "status under misbehaving BMCs" 5 -t 5s status 'rf[0001-0010]'
verify "status: each misbehaviour gives the right state or a clear error" '{
  "rf0001": ("timeout", r"timed out waiting for the reply to the service root"),
  "rf0002": ("protocol|connection", r"(partial message|connection closed).*service root"),
  "rf0003": ("protocol", r"response larger than 4194304 bytes"),
  "rf0004": ("busy", r"HTTP 503.*after 3 retries"),
  "rf0005": ("ok", r"^on$"),
  "rf0006": ("ok", r"^on$"),
  "rf0007": ("timeout", r"timed out waiting for the reply to the service root"),
  "rf0008": ("bmc-error", r"HTTP 500"),
  "rf0009": ("protocol|connection|ok", r"partial message|connection closed|^on$"),
  "rf0010": ("ok", r"^on$"),
}'

# A Reset carried out, then the connection reset instead of the reply: never sent again; the
# state read afterwards decides.  Cycle is the action that must not run twice.
before=$(wc -l <st/events.jsonl)
run "cycle and off through reset-after" 35 -t 5s --wait-timeout 10s --yes cycle rf0006
verify "cycle whose reply was lost: verified by reading the state" '{"rf0006": ("ok", r"^on \(cycled\)")}'
run "off through reset-after" 35 -t 5s --wait-timeout 10s --yes off rf0011
verify "off whose reply was lost: verified by reading the state" '{"rf0011": ("ok", r"^off$")}'
if python3 - "$before" <<'PY'
import json, sys, collections
c = collections.Counter()
for line in open("st/events.jsonl").readlines()[int(sys.argv[1]):]:
    e = json.loads(line)
    if e.get("event") == "reset" and e.get("result") == "accepted":
        c[(e["bmc"], e["reset_type"])] += 1
print("    accepted resets:", dict(c))
sys.exit(0 if c == {(6, "PowerCycle"): 1, (11, "ForceOff"): 1} else 1)
PY
then echo "ok: each Reset carried out exactly once"; else echo "FAIL: a Reset was carried out twice (or not at all)"; fail=1; fi

# A body under the 4 MiB limit but large (3 MB of padding) is read in full.
run "status of a 3 MB reply" 10 -t 10s status rf0012
verify "large body within the limit" '{"rf0012": ("ok", r"^on$")}'
exit $fail
