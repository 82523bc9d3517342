#!/usr/bin/env bash
# Fleet operations end to end against an ipmi_sim fleet, checked by the simulators' own event
# logs: a power-on of 500 nodes under circuit budgets, a rolling cycle of 200 in waves of 20,
# the safety rail, dry-run, Slurm's Resume/SuspendProgram scripts, journal + resume, audit.
source "$(dirname "$0")/lib/common.sh"
command -v ipmi_sim >/dev/null || { echo "ipmi_sim missing"; exit 77; }
F=$FP_SOURCE_DIR/tests/ipmisim/fleet
D=$(mktemp -d -p /dev/shm fp-fleetops.XXXXXX)
trap '"$F" stop --dir "$D" >/dev/null 2>&1; rm -rf "$D"; fp_cleanup' EXIT
"$F" start --count 500 --model inproc --dir "$D" --initial-power off --soft-delay-ms 300 >"$T/start.log" 2>&1 ||
  { cat "$T/start.log"; exit 1; }
export XDG_STATE_HOME=$T/state
AUDIT=$T/audit.log
CRED=$D/credentials.yaml

# An inventory with five circuits of 100 nodes over three phases, from the fleet's hosts.
/usr/bin/python3 - "$D/hosts.tsv" >"$T/inv.yaml" <<'PY'
import sys
rows=[l.split() for l in open(sys.argv[1]) if l.strip() and not l.startswith('index')]
rows=[r for r in rows if r[6]=='live']
print("defaults: { protocol: ipmi, credentials: sim, cipher_suite: 3, privilege: admin }")
print("power:\n  start_duration: 1s\n  circuits:")
for c in range(5):
    print(f"    c{c}: {{ feed: A, phase: L{c%3+1}, max_concurrent_starts: 20, max_watts: 7000, min_spacing: 10ms }}")
print("groups:")
for c in range(5):
    chunk=rows[c*100:(c+1)*100]
    print(f"  c{c}:\n    hosts: \"{','.join(r[1] for r in chunk)}\"\n    bmc: \"{','.join(r[2] for r in chunk)}\"\n    port: {chunk[0][3]}")
    print(f"    vars: {{ circuit: c{c}, watts: 350 }}")
print("  sim:\n    children: [c0, c1, c2, c3, c4]")
PY
fp() { "$FLEETPOWER" -i "$T/inv.yaml" --credentials "$CRED" --audit-log "$AUDIT" "$@"; }

expect_rc 0 "inventory check" fp inventory check
expect_rc 0 "plan on @sim changes nothing" fp plan on @sim
check "plan shows the budget per circuit" contains "$T/out" "20/20"
check "nothing executed by plan" test -z "$("$F" events --dir "$D" | grep ' request ' || true)"

# Safety rail: no terminal, no --yes: refused, nothing changes.
expect_rc 2 "off --all without --yes is refused" fp off --all
check "refusal says why" contains "$T/err" "without --yes"
check "nothing executed after the refusal" test -z "$("$F" events --dir "$D" | grep ' request ' || true)"

# Power-on of 500 under circuit budgets.
t0=$(date +%s.%N)
expect_rc 0 "power on 500 nodes under circuit budgets" fp on @sim --timeout 5s
check "all 500 verified on" contains "$T/out" "sim[0001-0500]: on"
"$F" events --dir "$D" >"$T/events.log"
check "budgets held at the BMCs (event timestamps)" /usr/bin/python3 - "$T/events.log" "$T/inv.yaml" <<'PY'
import sys, re, collections
circ={}
cur=None
for l in open(sys.argv[2]):
    m=re.match(r"  (c\d):$", l)
    if m: cur=m.group(1)
    m=re.match(r'    hosts: "(.*)"', l)
    if m and cur:
        for h in m.group(1).split(','): circ[h]=cur
ons=collections.defaultdict(list); count=collections.Counter()
for l in open(sys.argv[1]):
    p=l.split()
    if len(p)>=4 and p[2]=='request' and 'op=on' in p:
        ons[circ[p[1]]].append(float(p[0])); count[p[1]]+=1
assert len(count)==500 and max(count.values())==1, ("each node powered on exactly once", len(count), max(count.values()))
# A start happens between fleetpower's request and the BMC's reply; fleetpower counts it from
# the request until start_duration after the reply, and spaces the next start from that reply,
# so the budget holds exactly on the BMCs' own timestamps.
for c,ts in ons.items():
    ts.sort()
    for i,t in enumerate(ts):
        n=sum(1 for u in ts[:i+1] if u > t-1.0)
        assert n<=20, (c, "concurrent starts", n)
        assert n*350*1.0<=7000, (c, "watts")
        if i: assert t-ts[i-1] >= 0.010, (c, "spacing", t-ts[i-1])
print("budget ok:", {c:len(v) for c,v in ons.items()})
PY

# Rolling cycle of 200 in waves of 20, verified.
before=$(grep -c ' request op=cycle' "$T/events.log" || true)
expect_rc 0 "rolling cycle of 200 in waves of 20" fp cycle sim[0001-0200] --batch 20 --yes --timeout 5s
check "every node cycled and verified" contains "$T/out" "sim[0001-0200]: on (cycled)"
"$F" events --dir "$D" >"$T/events2.log"
check "waves in order, one cycle per node (event log)" /usr/bin/python3 - "$T/events2.log" <<'PY'
import sys, collections
t=collections.defaultdict(list)
for l in open(sys.argv[1]):
    p=l.split()
    if len(p)>=4 and p[2]=='request' and 'op=cycle' in p: t[p[1]].append(float(p[0]))
assert len(t)==200 and all(len(v)==1 for v in t.values()), "exactly one cycle per node"
hosts=sorted(t)
waves=[[t[h][0] for h in hosts[i:i+20]] for i in range(0,200,20)]
for a,b in zip(waves,waves[1:]): assert max(a) < min(b), "wave order"
PY

# Dry-run changes nothing and says what would change.
expect_rc 0 "dry-run off" fp off sim[0001-0010] --dry-run
check "dry-run folded" contains "$T/out" "sim[0001-0010]: would power off"

# Slurm: SuspendProgram and ResumeProgram get Slurm's compressed hostlist.
export FLEETPOWER FLEETPOWER_INVENTORY=$T/inv.yaml FLEETPOWER_CREDENTIALS=$CRED FLEETPOWER_SUSPEND_GRACE=5s
expect_rc 0 "SuspendProgram powers the nodes off" "$FP_SOURCE_DIR/contrib/slurm/fleetpower-suspend" "sim[0301-0310,0400]"
expect_rc 0 "status after suspend" fp status "sim[0301-0310,0400]"
check "suspended nodes are off" contains "$T/out" "sim[0301-0310,0400]: off"
expect_rc 0 "ResumeProgram powers them on" "$FP_SOURCE_DIR/contrib/slurm/fleetpower-resume" "sim[0301-0310,0400]"
expect_rc 0 "status after resume" fp status "sim[0301-0310,0400]"
check "resumed nodes are on" contains "$T/out" "sim[0301-0310,0400]: on"

# A hung BMC fails its target; resume retries only what failed, once it answers again.
"$F" stop-one --dir "$D" --host sim0450 --pause >/dev/null
expect_rc 1 "off with one hung BMC" fp off sim[0441-0450] --timeout 2s --wait-timeout 5s
check "the hung BMC fails naming the step" grep -q "sim0450: error: " "$T/out"
run_id=$(sed -n "s/.*'fleetpower resume \([^']*\)'.*/\1/p" "$T/err")
check "the run printed its id" test -n "$run_id"
"$F" resume --dir "$D" --host sim0450 >/dev/null
expect_rc 0 "resume retries only the failed target" fp resume "$run_id" --timeout 5s
check "resume acted on sim0450 only" test "$(cat "$T/out")" = "sim0450: off"
check "audit log: a line per host of each state change (10 off + 1 resumed)" test "$(grep -c '"action":"off"' "$AUDIT")" = 11
check_eq "audit log: the 500 power-ons and 200 cycles (the Slurm scripts log to the default audit log)" "$(grep -c "\"action\":\"on\"" "$AUDIT"),$(grep -c "\"action\":\"cycle\"" "$AUDIT")" "500,200"
check "audit lines name user, run and host" grep -q "\"run\":\"$run_id\".*\"host\":\"sim0450\"" "$AUDIT"
finish
