#!/usr/bin/env bash
# Fleet operations end to end against the Redfish simulator, checked by its own event log:
# a power-on of 500 nodes under circuit budgets and a rolling cycle of 200 in waves of 20.
source "$(dirname "$0")/lib/common.sh"
SIM=${FLEETPOWER_SIM:?}
[ -x "$SIM" ] || { echo "fleetpower-sim not built"; exit 77; }
S=$T/sim
mkdir -p "$S"
"$SIM" --redfish 500 --address-base 127.25.0.1 --port 8443 --initial-power off --power-on-delay 1s \
  --power-off-delay 300ms --state-dir "$S" --inventory-out "$S/inventory.yaml" \
  --credentials-out "$S/credentials.yaml" --quiet >"$S/out" 2>&1 &
FP_PIDS+=($!)
for _ in $(seq 300); do grep -q ready "$S/out" && break; sleep 0.1; done
grep -q ready "$S/out" || { cat "$S/out"; exit 1; }
export XDG_STATE_HOME=$T/state

# Five circuits of 100 BMCs over three phases, from the simulator's own BMC table.
/usr/bin/python3 - "$S/bmcs.tsv" "$S/ca.pem" >"$T/inv.yaml" <<'PY'
import sys
rows=[l.rstrip('\n').split('\t') for l in open(sys.argv[1]) if l.strip() and not l.startswith('#')]
print(f'defaults: {{ protocol: redfish, credentials: sim, ca_file: "{sys.argv[2]}" }}')
print("power:\n  start_duration: 1s\n  circuits:")
for c in range(5):
    print(f"    c{c}: {{ feed: A, phase: L{c%3+1}, max_concurrent_starts: 20, max_watts: 9000, min_spacing: 10ms }}")
print("groups:")
for c in range(5):
    chunk=rows[c*100:(c+1)*100]
    print(f"  c{c}:\n    hosts: \"{','.join(r[1] for r in chunk)}\"\n    bmc: \"{','.join(r[2] for r in chunk)}\"\n    port: {chunk[0][3]}")
    print(f"    vars: {{ circuit: c{c}, watts: 450 }}")
print("  rf:\n    children: [c0, c1, c2, c3, c4]")
PY
fp() { "$FLEETPOWER" -i "$T/inv.yaml" --credentials "$S/credentials.yaml" --audit-log "$T/audit.log" "$@"; }
expect_rc 0 "inventory check" fp inventory check
expect_rc 0 "power on 500 Redfish nodes under circuit budgets" fp on @rf --timeout 10s
check "all 500 verified on" contains "$T/out" "rf[0001-0500]: on"
check "budgets held at the BMCs (simulator event timestamps)" /usr/bin/python3 - "$S/events.jsonl" <<'PY'
import sys, json, collections
ons=collections.defaultdict(list); per=collections.Counter()
for l in open(sys.argv[1]):
    e=json.loads(l)
    if e.get("event")=="reset" and e.get("result")=="accepted" and e.get("reset_type") in ("On","ForceOn"):
        h=e["host"]; per[h]+=1
        ons[(int(h[2:])-1)//100].append(e["ms"]/1000.0)
assert len(per)==500 and max(per.values())==1, ("one power-on per node", len(per), max(per.values()))
for c,ts in ons.items():
    ts.sort()
    for i,t in enumerate(ts):
        n=sum(1 for u in ts[:i+1] if u > t-1.0)
        assert n<=20, (c, "concurrent starts", n)
        assert n*450<=9000, (c, "watts")
        # event times have millisecond resolution
        if i: assert t-ts[i-1] >= 0.010-0.001, (c, "spacing", t-ts[i-1])
print("budget ok")
PY
expect_rc 0 "rolling cycle of 200 in waves of 20" fp cycle rf[0001-0200] --batch 20 --yes --timeout 10s
sed "s/^/    /" "$T/out"
check "every node cycled and verified" contains "$T/out" "rf[0001-0200]: on (cycled)"
check "waves in order, one cycle per node (simulator event log)" /usr/bin/python3 - "$S/events.jsonl" <<'PY'
import sys, json, collections
t=collections.defaultdict(list)
for l in open(sys.argv[1]):
    e=json.loads(l)
    if e.get("event")=="reset" and e.get("result")=="accepted" and e.get("reset_type")=="PowerCycle":
        t[e["host"]].append(e["ms"])
assert len(t)==200 and all(len(v)==1 for v in t.values()), ("one cycle per node", len(t))
hosts=sorted(t)
waves=[[t[h][0] for h in hosts[i:i+20]] for i in range(0,200,20)]
for a,b in zip(waves,waves[1:]): assert max(a) < min(b), "wave order"
PY
expect_rc 0 "status afterwards" fp status @rf
check "the whole fleet is on" contains "$T/out" "rf[0001-0500]: on"
finish
