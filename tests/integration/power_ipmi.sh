#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# `fleetpower power` over IPMI: DCMI Get Power Reading against fleetpower-sim's IPMI
# personality (configured readings from ipmi-power.tsv, checked exactly, per node and per
# circuit and phase; a BMC without DCMI and one with measurement inactive listed as "no
# reading", never counted; the node powered off reads its standby draw), ipmitool's own
# `dcmi power reading` against the same BMC as a cross-check, and OpenIPMI's ipmi_sim (no
# DCMI: every node "no reading (DCMI not supported)", none counted, exit 0).
set -u
. "${FP_SOURCE_DIR:?}/tests/sim/testlib.sh"
: "${FLEETPOWER:?FLEETPOWER must point at the fleetpower binary}"

export FLEETPOWER_SIM_PASSWORD="Pw-$($PY -c 'import secrets; print(secrets.token_hex(6))')"
BASE=127.62.0
sim_start ipmi --ipmi 6 --ipmi-address-base $BASE.1 --ipmi-initial-power on \
  --ipmi-watts "2:640,3:none,4:inactive,6:95" || exit 1
IPMI_PASSWORD=$FLEETPOWER_SIM_PASSWORD
export IPMI_PASSWORD
unset FLEETPOWER_SIM_PASSWORD

# Circuits: ipmi0001-3 on c1 (A/L1), ipmi0004-5 on c2 (A/L2), ipmi0006 on c3 (A/L3).
{
  sed -n '/^defaults:/p' "$INV"
  printf 'power:\n  circuits:\n    c1: { feed: A, phase: L1 }\n    c2: { feed: A, phase: L2 }\n    c3: { feed: A, phase: L3 }\n'
  sed -n '/^groups:/,$p' "$INV"
  printf 'hosts:\n'
  for i in 1 2 3; do printf '  ipmi000%s: { circuit: c1, pdu: p1 }\n' $i; done
  for i in 4 5; do printf '  ipmi000%s: { circuit: c2, pdu: p2 }\n' $i; done
  printf '  ipmi0006: { circuit: c3, pdu: p2 }\n'
} >"$T/inv.yaml"
fp() { "$FLEETPOWER" -i "$T/inv.yaml" --credentials "$CRED" -t 10s "$@"; }
check "inventory with circuits is valid" fp inventory check
check "power off ipmi0005 (its reading becomes standby draw)" fp off ipmi0005 --yes

fp power --all -o json >"$T/power.json" 2>"$T/power.err"
check "power over DCMI: exit 0 (no reading is not a failure)" test $? = 0
check "DCMI readings and sums exactly as configured" $PY - "$SIM_DIR/state/ipmi-power.tsv" "$T/power.json" <<'PY'
import sys, json
rows = [l.rstrip('\n').split('\t') for l in open(sys.argv[1]) if not l.startswith('#')]
doc = json.load(open(sys.argv[2]))
hosts = {h["host"]: h for h in doc["hosts"]}
expect = {}
for idx, host, dcmi, won, woff in rows:
    expect[host] = None if dcmi != "yes" else (float(woff) if host == "ipmi0005" else float(won))
for h, w in expect.items():
    assert hosts[h]["ok"], hosts[h]
    assert hosts[h]["watts"] == w, (h, hosts[h]["watts"], w)
assert expect["ipmi0002"] == 640 and expect["ipmi0006"] == 95
assert "DCMI not supported" in hosts["ipmi0003"]["no_reading"], hosts["ipmi0003"]
assert "0xC1" in hosts["ipmi0003"]["no_reading"], hosts["ipmi0003"]
assert "not active" in hosts["ipmi0004"]["no_reading"], hosts["ipmi0004"]
assert hosts["ipmi0005"]["state"] == "off" and hosts["ipmi0001"]["state"] == "on"
c = {x["circuit"]: x for x in doc["power"]["circuits"]}
def s(*hs): return sum(expect[h] for h in hs if expect[h] is not None)
assert (c["c1"]["watts"], c["c1"]["nodes"], c["c1"]["reporting"]) == (s("ipmi0001", "ipmi0002", "ipmi0003"), 3, 2), c["c1"]
assert (c["c2"]["watts"], c["c2"]["nodes"], c["c2"]["reporting"]) == (s("ipmi0004", "ipmi0005"), 2, 1), c["c2"]
assert c["c2"]["no_reading"] == ["ipmi0004"]
assert (c["c3"]["watts"], c["c3"]["reporting"]) == (95, 1)
p = {x["pdu"]: x["watts"] for x in doc["power"]["pdus"]}
assert p == {"p1": s("ipmi0001", "ipmi0002", "ipmi0003"), "p2": s("ipmi0004", "ipmi0005", "ipmi0006")}, p
f = doc["power"]["feeds"][0]
load = {x["phase"]: x["watts"] for x in f["phases"]}
assert load == {"L1": c["c1"]["watts"], "L2": c["c2"]["watts"], "L3": 95}
mean = sum(load.values()) / 3
assert abs(f["imbalance"] - (max(load.values()) - min(load.values())) / mean) < 1e-12
assert not f["complete"]
assert doc["power"]["total"]["reporting"] == 4 and doc["power"]["total"]["nodes"] == 6
print("ok:", load, "imbalance", round(f["imbalance"], 3), "moves", [(m["host"], m["to_phase"]) for m in f["moves"]])
PY
check "the simulator saw DCMI Get Power Reading requests" events_has "e.get('cmd')=='dcmi_get_power_reading' and e.get('cc')==0"

fp power --all >"$T/power.txt" 2>&1
check "text: no reading for the BMC without DCMI" grep -q "^ipmi0003: no reading (DCMI not supported)" "$T/power.txt"
check "text: 640 W" grep -qx "ipmi0002: 640 W" "$T/power.txt"
check "text: 4 of 6 nodes reporting" grep -qE "^total: [0-9.]+ W from 4 of 6 nodes reporting" "$T/power.txt"
check "text: no reading (not counted) lists both" grep -qx "no reading (not counted): ipmi\[0003-0004\]" "$T/power.txt"

if command -v ipmitool >/dev/null; then
  out=$(timeout 30 ipmitool -I lanplus -C 17 -H $BASE.2 -U admin -E dcmi power reading 2>&1)
  check "ipmitool dcmi power reading on BMC 2 reads 640 W" grep -qE "Instantaneous power reading: +640 Watts" <<<"$out"
  out=$(timeout 30 ipmitool -I lanplus -C 17 -H $BASE.3 -U admin -E dcmi power reading 2>&1)
  check "ipmitool gets no reading from BMC 3 either" bash -c '! grep -qE "Instantaneous power reading: +[0-9]+ Watts" <<<"$1"' _ "$out"
else
  echo "# ipmitool not installed: cross-check skipped"
fi

fp power --all -o prometheus >"$T/power.prom" 2>/dev/null
if $PY -c 'import prometheus_client.parser' 2>/dev/null; then
  check "prometheus: parsed; watts only for the 4 reporting nodes" $PY - "$T/power.prom" <<'PY'
import sys
from prometheus_client.parser import text_string_to_metric_families
f = {x.name: x for x in text_string_to_metric_families(open(sys.argv[1]).read())}
w = {s.labels["node"]: s.value for s in f["fleetpower_power_watts"].samples}
assert sorted(w) == ["ipmi0001", "ipmi0002", "ipmi0005", "ipmi0006"], w
assert w["ipmi0002"] == 640 and w["ipmi0006"] == 95
PY
fi

# OpenIPMI's ipmi_sim has no DCMI: every node answers, none has a reading.
FLEET="$FP_SOURCE_DIR/tests/ipmisim/fleet"
if command -v ipmi_sim >/dev/null; then
  D=$(mktemp -d -p /dev/shm fp-power-ipmisim.XXXXXX 2>/dev/null || mktemp -d)
  trap '"$FLEET" stop --dir "$D" >/dev/null 2>&1; rm -rf "$D"; cleanup' EXIT
  if "$FLEET" start --count 2 --model inproc --initial-power on --dir "$D" >"$D/start.out" 2>&1 &&
    [[ $(tail -1 "$D/start.out") == ready ]]; then
    "$FLEETPOWER" -i "$D/inventory.yaml" --credentials "$D/credentials.yaml" -t 10s power @sim -o json >"$T/sim.json" 2>"$T/sim.err"
    check "ipmi_sim: exit 0" test $? = 0
    check "ipmi_sim: both nodes 'no reading (DCMI not supported)', none counted" $PY - "$T/sim.json" <<'PY'
import sys, json
d = json.load(open(sys.argv[1]))
assert len(d["hosts"]) == 2
for h in d["hosts"]:
    assert h["ok"] and h["watts"] is None and "DCMI not supported" in h["no_reading"], h
    assert h["state"] == "on", h
assert d["power"]["total"]["reporting"] == 0 and d["power"]["total"]["watts"] == 0 and d["power"]["total"]["nodes"] == 2
PY
    "$FLEETPOWER" -i "$D/inventory.yaml" --credentials "$D/credentials.yaml" -t 10s power @sim >"$T/sim.txt" 2>&1
    check "ipmi_sim: text says 0 of 2 nodes reporting" grep -q "from 0 of 2 nodes reporting" "$T/sim.txt"
  else
    fail "ipmi_sim fleet did not start"; cat "$D/start.out"
  fi
else
  echo "# ipmi_sim not installed: OpenIPMI part skipped"
fi
finish
