#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Redfish power-control benchmark on a fleet simulated by fleetpower-sim (HTTPS, CA-verified by
# fleetpower, Redfish sessions): fleetpower (one invocation over the whole fleet) against DMTF's
# redfishtool under `xargs -P`, on the same fleet in the same run.
#
#   bench/redfish.sh [-n "100 500 1000"] [-r 5] [--rft-rounds R] [-P 32] [--ops "status cycle"]
#                    [--tools "fleetpower fleetpower-nowait redfishtool"] [--power-on-delay 1s]
#                    [--rft-cycle-max N] [--raw FILE]
#   bench/redfish.sh --table RAW     (only print the table of an earlier run's --raw file)
#
# Needs $FLEETPOWER (the fleetpower binary) and $FLEETPOWER_SIM (fleetpower-sim); both are copied
# first so that a rebuild during the run cannot change what is measured.
# For every N one simulator is started (BMC i on 127.27.x.y:8443); then R rounds; in each round,
# for every tool: the fleet is put in a known state outside the measurement (every third BMC Off,
# the others On, through the simulator's control FIFO), then `status`, then `cycle`.
#   fleetpower         fleetpower --yes -o jsonl status|cycle @rf   (cycle verifies the end state:
#                      it returns once every host is seen On again, i.e. after the power-on delay)
#   fleetpower-nowait  the same with --no-wait (cycle returns once the BMC accepted PowerCycle)
#   redfishtool        xargs -P 32 over the BMC addresses, one redfishtool process per BMC:
#                      -A Session -S Always  Systems -1 get -P PowerState | Systems -1 reset PowerCycle
#                      (each started through `sh -c 'exec redfishtool ... >OUT/<addr>'` so that
#                      its answer can be attributed to its BMC; the sh execs, no extra process).
# redfishtool reads the credentials from a config file (-c, mode 0600), never from argv.  Its
# version in Debian (1.1.5) hard-codes `verify=False`: it does not check the BMC certificates, while
# fleetpower verifies every certificate against the simulator's CA.  That makes the baseline's work
# slightly cheaper, not dearer.
# Each run is measured by bench/lib/measure: wall (monotonic), CPU = user+sys of the tool and every
# descendant (wait4), peak RSS (GNU time %M: for xargs the largest single redfishtool, not the sum).
# Correctness per run ("ok"): status: hosts whose reported state is the state the simulator holds;
# cycle: hosts whose simulator event log shows exactly one accepted reset during the run and no
# rejected one ("dup": hosts with more than one), and for fleetpower its own per-host result ok.
# "sessions": sessions created at the simulator during the run (both tools log in with sessions).
# --rft-rounds and --rft-cycle-max (no redfishtool cycle above that N) shorten the baseline, which
# costs about 0.25 s of CPU per BMC and operation.
# Table: medians over the rounds (ok: minimum, dup: maximum); "x faster" = baseline / fleetpower.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
NS="100 500 1000"
ROUNDS=5
RFT_ROUNDS=
RFT_CYCLE_MAX=
XP=32
OPS="status cycle"
TOOLS="fleetpower fleetpower-nowait redfishtool"
ON_DELAY=1s
RAW=
TABLE_ONLY=
while (($#)); do
    case $1 in
    -n) NS=$2; shift 2 ;;
    -r | --rounds) ROUNDS=$2; shift 2 ;;
    --rft-rounds) RFT_ROUNDS=$2; shift 2 ;;
    --rft-cycle-max) RFT_CYCLE_MAX=$2; shift 2 ;;
    -P) XP=$2; shift 2 ;;
    --ops) OPS=$2; shift 2 ;;
    --tools) TOOLS=$2; shift 2 ;;
    --power-on-delay) ON_DELAY=$2; shift 2 ;;
    --raw) RAW=$2; shift 2 ;;
    --table) TABLE_ONLY=$2; shift 2 ;;
    -h | --help) sed -n '3,38p' "$0"; exit 0 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
    esac
done
RFT_ROUNDS=${RFT_ROUNDS:-$ROUNDS}
if [[ -z $TABLE_ONLY ]]; then
[[ -x /usr/bin/time ]] || { echo "needs /usr/bin/time (Debian package 'time')" >&2; exit 1; }
: "${FLEETPOWER:?set FLEETPOWER to the fleetpower binary}"
: "${FLEETPOWER_SIM:?set FLEETPOWER_SIM to the fleetpower-sim binary}"
if [[ " $TOOLS " == *" redfishtool "* ]] && ! command -v redfishtool >/dev/null; then
    echo "needs redfishtool (Debian package redfishtool)" >&2; exit 1
fi
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
DATE_START=$(date -u +%Y-%m-%dT%H:%MZ)

WORK=$(mktemp -d -p /dev/shm fp-bench-rf.XXXXXX 2>/dev/null || mktemp -d)
cp "$FLEETPOWER" "$WORK/fleetpower"
cp "$FLEETPOWER_SIM" "$WORK/fleetpower-sim"
FP=$WORK/fleetpower
FP_VERSION=$("$FP" --version 2>&1 | head -1 || true)
FP_SUM=$(sha256sum "$FLEETPOWER" | cut -c1-12)
SIM_PID=
cleanup() {
    if [[ -n $SIM_PID ]]; then kill "$SIM_PID" 2>/dev/null && wait "$SIM_PID" 2>/dev/null || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
RAW=${RAW:-$WORK/raw.tsv}
printf 'n\top\ttool\tround\twall\tcpu\trss_kb\tok\tn_hosts\tdup\trc\tsessions\n' >"$RAW"
log() { echo "bench: $*" >&2; }

events_count() { grep -c "$1" "$D/events.jsonl" || true; }

# Every third BMC Off, the others On (control FIFO), once the previous transitions settled.
settle() {
    local before i
    sleep "$SETTLE_SLEEP"
    before=$(events_count '"event":"control"')
    for ((i = 1; i <= N; i++)); do
        if ((i % 3 == 1)); then echo "power $i Off"; else echo "power $i On"; fi
    done >"$D/control"
    for _ in $(seq 300); do
        (($(events_count '"event":"control"') >= before + N)) && break
        sleep 0.1
    done
    echo dump >"$D/control"
    sleep 0.2
}

tool_cmd() {
    local tool=$1 op=$2
    case $tool in
    fleetpower) CMD=("$FP" -i "$D/inventory.yaml" --credentials "$D/credentials.yaml" --yes -o jsonl "$op" @rf) ;;
    fleetpower-nowait) CMD=("$FP" -i "$D/inventory.yaml" --credentials "$D/credentials.yaml" --yes -o jsonl --no-wait "$op" @rf) ;;
    redfishtool)
        local sub
        if [[ $op == status ]]; then sub='Systems -1 get -P PowerState'; else sub='Systems -1 reset PowerCycle'; fi
        rm -rf "$WORK/rft.out" && mkdir "$WORK/rft.out"
        CMD=(xargs -a "$WORK/addrs.txt" -P "$XP" -n 1 sh -c
             "exec redfishtool -c '$WORK/rft.json' -A Session -S Always -T 10 -r \"\$0:8443\" $sub >'$WORK/rft.out/'\"\$0\" 2>&1") ;;
    esac
}

# hosts reported in the state the simulator holds (from its last dump)
status_ok() {
    /usr/bin/python3 - "$1" "$2" "$D/state.json" "$WORK/rft.out" <<'PY'
import json, os, sys
tool, out, state, rdir = sys.argv[1:5]
want_host, want_addr = {}, {}
for b in json.load(open(state)):
    s = b["systems"][0]
    want_host[s["host"]] = s["power"].lower()
    want_addr[b["address"]] = s["power"]
ok = 0
if tool.startswith("fleetpower"):
    for l in open(out):
        try:
            e = json.loads(l)
        except ValueError:
            continue
        if e.get("type") == "host" and e["ok"] and e["state"] == want_host.get(e["host"]):
            ok += 1
else:
    for a, p in want_addr.items():
        try:
            d = json.loads(open(os.path.join(rdir, a)).read())
        except (OSError, ValueError):
            continue
        if d.get("PowerState") == p:
            ok += 1
print(ok)
PY
}

# "ok dup" for a cycle run, from the simulator's event log since MARK (epoch ms)
cycle_ok() {
    /usr/bin/python3 - "$1" "$2" "$3" "$D/events.jsonl" <<'PY'
import collections, json, sys
tool, out, mark, ev = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
acc, rej = collections.Counter(), set()
for l in open(ev):
    e = json.loads(l)
    if e.get("ms", 0) < mark or e.get("event") != "reset":
        continue
    if e["result"] == "accepted":
        acc[e["host"]] += 1
    elif e["result"] == "rejected":
        rej.add(e["host"])
good = {h for h, n in acc.items() if n == 1 and h not in rej}
if tool.startswith("fleetpower"):
    fp = set()
    for l in open(out):
        try:
            e = json.loads(l)
        except ValueError:
            continue
        if e.get("type") == "host" and e["ok"]:
            fp.add(e["host"])
    good &= fp
print(len(good), sum(1 for n in acc.values() if n > 1))
PY
}

run_one() {
    local tool=$1 op=$2 round=$3 tf=$WORK/time.out of=$WORK/run.out mark s0 wall u s rss rc ok dup
    tool_cmd "$tool" "$op"
    s0=$(events_count '"action":"create"')
    mark=$(date +%s%3N)
    "$HERE/lib/measure" -o "$tf" -- "${CMD[@]}" >"$of" 2>"$WORK/run.err" || true
    read -r wall u s rss rc <"$tf"
    sleep 0.3 # the simulator logs the last events
    if [[ $op == status ]]; then
        ok=$(status_ok "$tool" "$of")
        dup=0
    else
        read -r ok dup < <(cycle_ok "$tool" "$of" "$mark")
    fi
    local sess=$(($(events_count '"action":"create"') - s0))
    local cpu
    cpu=$(awk -v u="$u" -v s="$s" 'BEGIN{printf "%.3f", u+s}')
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$N" "$op" "$tool" "$round" "$wall" "$cpu" \
        "$rss" "$ok" "$N" "$dup" "$rc" "$sess" >>"$RAW"
    if [[ $rc != 0 ]]; then
        log "  $tool exited $rc: $(head -c 300 "$WORK/run.err" | head -2 | tr '\n' ' ')"
    fi
    log "N=$N $tool $op round $round: ${wall}s wall, ${cpu}s cpu, ${rss}KB, ok $ok/$N dup $dup rc $rc sessions $sess"
}

for N in $NS; do
    D=$WORK/fleet-$N
    mkdir -p "$D"
    log "starting fleetpower-sim with $N BMCs (HTTPS, power-on delay $ON_DELAY)"
    "$WORK/fleetpower-sim" --redfish "$N" --address-base 127.27.0.1 --port 8443 --power-on-delay "$ON_DELAY" \
        --session-limit 64 --state-dir "$D" --inventory-out "$D/inventory.yaml" \
        --credentials-out "$D/credentials.yaml" --quiet >"$D/out" 2>&1 &
    SIM_PID=$!
    for _ in $(seq 600); do grep -q ready "$D/out" && break; sleep 0.1; done
    grep -q ready "$D/out" || { cat "$D/out"; exit 1; }
    SETTLE_SLEEP=$(awk -v d="$ON_DELAY" 'BEGIN{ v = d + 0; if (d ~ /ms$/) v /= 1000; printf "%.1f", v + 0.5 }')
    awk -F'\t' '!/^#/ && NF > 2 {print $3}' "$D/bmcs.tsv" | grep -E '^127\.' >"$WORK/addrs.txt"
    ((RFT_N = $(wc -l <"$WORK/addrs.txt"))) || true
    [[ $RFT_N == "$N" ]] || { echo "bmcs.tsv: $RFT_N addresses for $N BMCs" >&2; exit 1; }
    # redfishtool's credentials: a 0600 config file, never argv
    (umask 077 && /usr/bin/python3 - "$D/credentials.yaml" >"$WORK/rft.json" <<'PY'
import json, sys, yaml
c = yaml.safe_load(open(sys.argv[1]))["sim"]
print(json.dumps({"user": c["username"], "password": c["password"]}))
PY
    )
    for ((round = 1; round <= ROUNDS; round++)); do
        for tool in $TOOLS; do
            if [[ $tool == redfishtool ]] && ((round > RFT_ROUNDS)); then continue; fi
            for op in status cycle; do
                [[ " $OPS " == *" $op "* ]] || continue
                if [[ $tool == redfishtool && $op == cycle && -n $RFT_CYCLE_MAX ]] && ((N > RFT_CYCLE_MAX)); then continue; fi
                [[ $op == status ]] && settle
                [[ $op == cycle && " $OPS " != *" status "* ]] && settle
                run_one "$tool" "$op" "$round"
            done
        done
    done
    kill "$SIM_PID" && wait "$SIM_PID" 2>/dev/null || true
    SIM_PID=
done

fi

# ---- table ---------------------------------------------------------------------------------
if [[ -n $TABLE_ONLY ]]; then
    RAW=$TABLE_ONLY
    echo "table of $RAW (rounds per row in the table)"
    echo
    echo "| N | op | tool | rounds | wall s | CPU s | peak RSS MB | ok/N | dup | rc≠0 | sessions | x faster (wall) than redfishtool | x less CPU |"
    echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
else
echo
echo "fleetpower-sim, HTTPS (fleetpower verifies against the simulator's CA; redfishtool does not verify)," \
    "Redfish sessions, power-on delay $ON_DELAY; $ROUNDS rounds (redfishtool: $RFT_ROUNDS), medians" \
    "(ok: minimum over rounds). Started $DATE_START; load average (1/5/15 min) at start: $LOAD_START," \
    "at end: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) CPUs."
echo
echo "fleetpower: $FP_VERSION (sha256 $FP_SUM...); $(redfishtool -V 2>&1 | head -1) under xargs -P $XP"
echo
echo "| N | op | tool | rounds | wall s | CPU s | peak RSS MB | ok/N | dup | rc≠0 | sessions | x faster (wall) than redfishtool | x less CPU |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
fi
awk -F'\t' -v tools="$TOOLS" -v ops="$OPS" -v xp="$XP" -f "$HERE/lib/stats.awk" -f <(cat <<'AWK'
NR == 1 { next }
{
    k = $1 SUBSEP $2 SUBSEP $3
    sample(k, "wall", $5); sample(k, "cpu", $6); sample(k, "rss", $7); sample(k, "ok", $8)
    sample(k, "dup", $10); sample(k, "sessions", $12)
    nh[k] = $9; if ($11 != 0) bad[k]++
    first_seen($1)
}
END {
    nt = split(tools, T, " "); no = split("status cycle", O, " ")
    for (a = 1; a <= norder; a++) for (b = 1; b <= no; b++) {
        if (index(" " ops " ", " " O[b] " ") == 0) continue
        base = order[a] SUBSEP O[b] SUBSEP "redfishtool"
        bw = med(base, "wall"); bc = med(base, "cpu")
        for (t = 1; t <= nt; t++) {
            k = order[a] SUBSEP O[b] SUBSEP T[t]
            n = count(k, "wall")
            if (n == 0) continue
            mw = med(k, "wall"); mc = med(k, "cpu")
            rw = ratio(bw, mw, "%.1fx"); rc = ratio(bc, mc, "%.1fx")
            label = T[t]
            if (label == "fleetpower") label = "fleetpower (verifies end state)"
            if (label == "fleetpower-nowait") label = "fleetpower --no-wait"
            if (label == "redfishtool") { label = "redfishtool, xargs -P " xp; rw = "1x"; rc = "1x" }
            printf "| %s | %s | %s | %d | %.3f | %.3f | %.1f | %d/%d | %d | %d | %d | %s | %s |\n", order[a], O[b], label, n, mw, mc, med(k, "rss") / 1024, vmin(k, "ok"), nh[k], vmax(k, "dup"), bad[k] + 0, med(k, "sessions"), rw, rc
        }
    }
}
AWK
) "$RAW"
echo
[[ -n $TABLE_ONLY ]] || echo "raw measurements: $RAW (removed on exit unless --raw FILE was given)"
