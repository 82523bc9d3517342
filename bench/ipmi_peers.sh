#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# IPMI power-control benchmark on fleets of OpenIPMI ipmi_sim BMCs (tests/ipmisim/fleet):
# FreeIPMI's ipmipower with its defaults and with -F <fanout>, ipmitool under xargs -P, and
# fleetpower ($FLEETPOWER, skipped when absent), on the same fleet in the same run.
#
#   bench/ipmi_peers.sh [-n "50 500 2000"] [-m inproc|fork] [-r 5] [--dead-pct 10]
#                       [-F 64] [-P 32] [--ops "on status cycle off"] [--timeout SECONDS]
#                       [--tools "ipmipower ipmipower-F ipmitool fleetpower fleetpower-nowait"]
#                       (also: ipmipower-F-wait fleetpower-force fleetpower-force-nowait)
#                       [--raw FILE] [--keep DIR]
#
# For every N a fleet is started (in /dev/shm), then R rounds; in each round every tool runs
# the ops in the order on, status, cycle, off (each op finds the state the previous left; the
# 1 s power-cycle timer is waited out between cycle and off, outside the measurement). Before
# every run the fleet is waited on until no sim has a request queued or a child running
# (tests/ipmisim/fleet idle): a forking fleet works off a storm for minutes after its client left.
# Each run is measured by bench/lib/measure around /usr/bin/time -f %M: wall (monotonic),
# user+sys CPU of the tool and its children (wait4, microseconds), peak RSS (GNU time's %M;
# for xargs+ipmitool that is the largest single ipmitool, not the sum).
# fleetpower runs with its defaults ("fleetpower": on/off/cycle verify the end state by polling
# status) and with --no-wait ("fleetpower-nowait": return once the BMC accepted the action, like
# ipmipower); both with -o jsonl so that their per-host retransmission counts can be summed
# ("retx"; ipmipower and ipmitool do not report theirs). "ipmipower-F-wait" is ipmipower -F with
# --wait-until-on/--wait-until-off for on/off: it polls status until the state is reached, the
# same work fleetpower does by default (plain --stat and --cycle for status and cycle).
# "fleetpower-force" and "fleetpower-force-nowait" add --force: on/off are sent without reading
# the state first, the same commands as ipmipower --wait-until-on/off and plain ipmipower. With --dead-pct, every tool gets the dead
# addresses too, and the table shows the maximum wall over the rounds as well.
# Correctness per run ("ok"): for status, hosts whose reported state is right in the tool's
# output; for on/off/cycle, live sims whose own event log shows exactly one such request
# since the run started ("dup" counts sims that logged more than one: an action executed twice).
# Prints a markdown table of medians over the rounds ("ok" is the minimum over the rounds,
# "dup" the maximum, "rc≠0" the number of rounds in which the tool exited non-zero).
# --keep DIR keeps every run's stdout and stderr there (N-op-tool-round.out/.err).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/.." && pwd)
FLEET="$SRC/tests/ipmisim/fleet"

NS="50 500"
MODEL=inproc
ROUNDS=5
DEAD_PCT=0
FANOUT=64
XP=32
OPS="on status cycle off"
TOOLS="ipmipower ipmipower-F ipmitool fleetpower fleetpower-nowait"
TIMEOUT=
RAW=
KEEP=

while (($#)); do
    case $1 in
    -n) NS=$2; shift 2 ;;
    -m | --model) MODEL=$2; shift 2 ;;
    -r | --rounds) ROUNDS=$2; shift 2 ;;
    --dead-pct) DEAD_PCT=$2; shift 2 ;;
    -F) FANOUT=$2; shift 2 ;;
    -P) XP=$2; shift 2 ;;
    --ops) OPS=$2; shift 2 ;;
    --tools) TOOLS=$2; shift 2 ;;
    --timeout) TIMEOUT=$2; shift 2 ;;
    --raw) RAW=$2; shift 2 ;;
    --keep) KEEP=$2; mkdir -p "$KEEP"; shift 2 ;;
    -h | --help) sed -n '3,31p' "$0"; exit 0 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
    esac
done
[[ -x /usr/bin/time ]] || { echo "needs /usr/bin/time (Debian package 'time')" >&2; exit 1; }
for t in ipmi_sim ipmipower ipmitool; do
    command -v $t >/dev/null || { echo "needs $t" >&2; exit 1; }
done
if ((DEAD_PCT > 0)) && [[ -z $TIMEOUT ]]; then TIMEOUT=5; fi
FLEETPOWER=${FLEETPOWER:-}
if [[ " $TOOLS " == *" fleetpower"* ]] && [[ -z $FLEETPOWER || ! -x $FLEETPOWER ]]; then
    echo "bench: \$FLEETPOWER not set or not executable: fleetpower columns skipped" >&2
    TOOLS=$(tr ' ' '\n' <<<"$TOOLS" | grep -v '^fleetpower' | paste -sd' ')
fi
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)

WORK=$(mktemp -d -p /dev/shm fp-bench-ipmi.XXXXXX 2>/dev/null || mktemp -d)
if [[ " $TOOLS " == *" fleetpower"* ]]; then
    # A private copy: a rebuild during the run must not change (or break) the binary measured.
    cp "$FLEETPOWER" "$WORK/fleetpower"
    FP_VERSION=$("$WORK/fleetpower" --version 2>&1 | head -1 || true)
    FP_SUM=$(sha256sum "$FLEETPOWER" | cut -c1-12)
    FLEETPOWER=$WORK/fleetpower
    # Disruptive actions on many targets need --yes when there is no terminal to confirm on.
    FP_YES=()
    # (the help text captured first: `--help | grep -q` under pipefail failed whenever grep's
    # early exit made fleetpower's write fail with SIGPIPE)
    FP_HELP=$("$FLEETPOWER" --help 2>&1 || true)
    [[ $FP_HELP == *--yes* ]] && FP_YES=(--yes)
fi
D=
cleanup() {
    [[ -n $D ]] && "$FLEET" stop --dir "$D" >/dev/null 2>&1
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
RAW=${RAW:-$WORK/raw.tsv}
printf 'n\tmodel\tdead\top\ttool\tround\twall\tcpu\trss_kb\tok\tlive\tdup\trc\tretx\n' >"$RAW"

log() { echo "bench: $*" >&2; }

# ---- one measured run ----------------------------------------------------------------------
# tool_cmd TOOL OP -> the command line (array CMD) for one run over every host of the fleet
tool_cmd() {
    local tool=$1 op=$2 pop iop fop
    case $op in
    status) pop=--stat; iop=status; fop=status ;;
    on) pop=--on; iop=on; fop=on ;;
    off) pop=--off; iop=off; fop=off ;;
    cycle) pop=--cycle; iop=cycle; fop=cycle ;;
    esac
    local pto=() ito=() fto=()
    if [[ -n $TIMEOUT ]]; then
        pto=(--session-timeout "$((TIMEOUT * 1000))")
        ito=(-N "$TIMEOUT" -R 1)
        fto=(-t "${TIMEOUT}s")
    fi
    case $tool in
    ipmipower) CMD=(ipmipower --config-file "$D/freeipmi.conf" -h "$HOSTS_CSV" "${pto[@]}" "$pop") ;;
    ipmipower-F) CMD=(ipmipower --config-file "$D/freeipmi.conf" -h "$HOSTS_CSV" -F "$FANOUT" "${pto[@]}" "$pop") ;;
    ipmipower-F-wait)  # the same work as fleetpower's default: act, then poll until the state is reached
        local pw=()
        case $op in on) pw=(--wait-until-on) ;; off) pw=(--wait-until-off) ;; esac
        CMD=(ipmipower --config-file "$D/freeipmi.conf" -h "$HOSTS_CSV" -F "$FANOUT" "${pto[@]}" "${pw[@]}" "$pop") ;;
    ipmitool) CMD=(xargs -a "$WORK/hosts.txt" -P "$XP" -I{} ipmitool -I lanplus -C 3 -U admin -E
                   "${ito[@]}" -H {} chassis power "$iop") ;;
    fleetpower) CMD=("$FLEETPOWER" -i "$D/inventory.yaml" --credentials "$D/credentials.yaml"
                     "${fto[@]}" "${FP_YES[@]}" -o jsonl "$fop" @sim) ;;
    fleetpower-nowait) CMD=("$FLEETPOWER" -i "$D/inventory.yaml" --credentials "$D/credentials.yaml"
                     "${fto[@]}" "${FP_YES[@]}" -o jsonl --no-wait "$fop" @sim) ;;
    fleetpower-force) CMD=("$FLEETPOWER" -i "$D/inventory.yaml" --credentials "$D/credentials.yaml"
                     "${fto[@]}" "${FP_YES[@]}" -o jsonl --force "$fop" @sim) ;;
    fleetpower-force-nowait) CMD=("$FLEETPOWER" -i "$D/inventory.yaml" --credentials "$D/credentials.yaml"
                     "${fto[@]}" "${FP_YES[@]}" -o jsonl --force --no-wait "$fop" @sim) ;;
    esac
    if [[ $tool == fleetpower* && $DEAD -gt 0 ]]; then
        CMD+=(@sim-dead)
    fi
}

# ok count for a status run: hosts reported in the expected state
status_ok() {
    local tool=$1 want=$2 out=$3
    case $tool in
    ipmipower*) grep -cE "^[0-9.]+: $want\$" "$out" || true ;;
    ipmitool) grep -c "^Chassis Power is $want\$" "$out" || true ;;
    fleetpower*) grep -E '^\{"host":"sim[0-9]+",' "$out" | grep -c "\"ok\":true,\"result\":\"$want\",\"state\":\"$want\"" || true ;;
    esac
}

# "ok dup" for an action run: from the sims' own event logs since mark
action_ok() {
    local op=$1 mark=$2
    "$FLEET" events --dir "$D" --since "$mark" --summary |
        awk -v key="req:$op" '{ n = 0; for (i = 3; i <= NF; i++) { split($i, kv, "="); if (kv[1] == key) n = kv[2] }
                                if (n == 1) ok++; else if (n > 1) dup++ }
                              END { printf "%d %d\n", ok, dup }'
}

run_one() {
    local tool=$1 op=$2 round=$3 want=$4 mark tf of wall u s rss rc ok dup retx=-
    tool_cmd "$tool" "$op"
    tf=$WORK/time.out
    of=$WORK/run.out
    # A forking fleet keeps executing the copies the previous tool retransmitted long after that
    # tool exited (minutes, after a storm): every run starts on an idle fleet.
    log "  before $tool $op: fleet $("$FLEET" idle --dir "$D" || true)"
    mark=$(date +%s.%N)
    "$HERE/lib/measure" -o "$tf" -- "${CMD[@]}" >"$of" 2>"$WORK/run.err" || true
    read -r wall u s rss rc <"$tf"
    if [[ -n ${KEEP:-} ]]; then  # every run's output, for the reasons behind a result
        cp "$of" "$KEEP/$N-$op-$tool-$round.out"
        cp "$WORK/run.err" "$KEEP/$N-$op-$tool-$round.err"
    fi
    if [[ $op == status ]]; then
        ok=$(status_ok "$tool" "$want" "$of")
        dup=0
    else
        read -r ok dup < <(action_ok "$op" "$mark")
    fi
    if [[ $tool == fleetpower* ]]; then
        retx=$({ grep -o '"retransmits":[0-9]*' "$of" || true; } | awk -F: '{ s += $2 } END { print s + 0 }')
    fi
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$N" "$MODEL" "$DEAD" "$op" "$tool" "$round" \
        "$wall" "$(awk -v u="$u" -v s="$s" 'BEGIN{printf "%.3f", u+s}')" "$rss" "$ok" "$LIVE" "$dup" "$rc" "$retx" >>"$RAW"
    if [[ $rc != 0 && -s $WORK/run.err ]]; then
        cp "$WORK/run.err" "$WORK/failed-$N-$tool-$op-$round.err"
        log "  $tool exited $rc: $(head -c 300 "$WORK/run.err" | head -2 | tr '\n' ' ')"
    fi
    log "N=$N $tool $op round $round: ${wall}s wall, $(awk -v u="$u" -v s="$s" 'BEGIN{printf "%.3f", u+s}')s cpu, ${rss}KB, ok $ok/$LIVE dup $dup rc $rc retx $retx"
}

# Put every live sim in a known state, outside any measurement (chunked: ipmipower drops
# output lines beyond ~32 KB, and we want to see every answer).
settle() {
    local op=$1 chunk
    sleep 1.5 # let a pending power-cycle timer fire first
    split -l 250 "$WORK/live.txt" "$WORK/chunk."
    for chunk in "$WORK"/chunk.*; do
        ipmipower --config-file "$D/freeipmi.conf" -h "$(paste -sd, "$chunk")" "${SETTLE_OPTS[@]}" "--$op" >/dev/null 2>&1 || true
    done
    rm -f "$WORK"/chunk.*
}

# Forking sims fork for every copy of a chassis command: settle them gently (as fleet's
# readiness poll does), or the settling itself starts a storm.
if [[ $MODEL == inproc ]]; then
    SETTLE_OPTS=(-F 64)
else
    SETTLE_OPTS=(-F 8 --session-timeout 20000 --retransmission-timeout 2000)
fi

# ---- main loop -----------------------------------------------------------------------------
for N in $NS; do
    DEAD=$((N * DEAD_PCT / 100))
    LIVE=$N
    D=$WORK/fleet-$N
    log "starting $N ipmi_sim ($MODEL model, $DEAD dead addresses)"
    "$FLEET" start --count "$N" --dead "$DEAD" --model "$MODEL" --initial-power off --dir "$D" >&2
    export IPMI_PASSWORD
    IPMI_PASSWORD=$(<"$D/secrets/admin.pw")
    awk -F'\t' 'NR>1 {print $3}' "$D/hosts.tsv" >"$WORK/hosts.txt"
    awk -F'\t' 'NR>1 && $7=="live" {print $3}' "$D/hosts.tsv" >"$WORK/live.txt"
    HOSTS_CSV=$(paste -sd, "$WORK/hosts.txt")
    for ((round = 1; round <= ROUNDS; round++)); do
        for tool in $TOOLS; do
            settle off
            state=off
            for op in on status cycle off; do
                [[ " $OPS " == *" $op "* ]] || continue
                case $op in
                status) run_one "$tool" status "$round" "$state" ;;
                cycle) run_one "$tool" cycle "$round" - ; sleep 1.5; state=on ;;
                *) run_one "$tool" "$op" "$round" - ; state=$op ;;
                esac
            done
        done
    done
    "$FLEET" stop --dir "$D" >/dev/null
    D=
done

# ---- table ---------------------------------------------------------------------------------
echo
echo "ipmi_sim fleet, $MODEL power model, $DEAD_PCT% dead addresses${TIMEOUT:+, timeout ${TIMEOUT}s}," \
    "$ROUNDS rounds, medians (ok: minimum over rounds); load average (1/5/15 min) at start: $LOAD_START," \
    "at end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
[[ -n ${FP_VERSION:-} ]] && echo "fleetpower: $FP_VERSION (sha256 $FP_SUM...)" && echo
echo "| N | dead | op | tool | wall s | max wall s | CPU s | peak RSS MB | retx | ok/live | dup | rc≠0 | wall vs ipmipower | CPU vs ipmipower | RSS vs ipmipower |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
awk -F'\t' -v tools="$TOOLS" -v ops="$OPS" -v fan="$FANOUT" -v xp="$XP" -f "$HERE/lib/stats.awk" -f <(cat <<'AWK'
NR == 1 { next }
{
    k = $1 SUBSEP $4 SUBSEP $5
    sample(k, "wall", $7); sample(k, "cpu", $8); sample(k, "rss", $9); sample(k, "ok", $10)
    sample(k, "dup", $12); if ($14 != "-") sample(k, "retx", $14)
    live[k] = $11; dead[k] = $3; if ($13 != 0) bad[k]++
    first_seen($1)
}
END {
    nt = split(tools, T, " "); no = split("on status cycle off", O, " ")
    for (a = 1; a <= norder; a++) for (b = 1; b <= no; b++) {
        if (index(" " ops " ", " " O[b] " ") == 0) continue
        base = order[a] SUBSEP O[b] SUBSEP "ipmipower"
        bw = med(base, "wall"); bc = med(base, "cpu"); br = med(base, "rss")
        for (t = 1; t <= nt; t++) {
            k = order[a] SUBSEP O[b] SUBSEP T[t]
            if (count(k, "wall") == 0) continue
            mw = med(k, "wall"); mc = med(k, "cpu"); mr0 = med(k, "rss")
            mx = count(k, "retx") ? sprintf("%d", med(k, "retx")) : "-"
            label = T[t]; if (label == "ipmipower-F") label = "ipmipower -F " fan; if (label == "ipmipower-F-wait") label = "ipmipower -F " fan " --wait-until-on/off"; if (label == "ipmitool") label = "ipmitool xargs -P " xp
            if (label == "fleetpower") label = "fleetpower (defaults, verifies)"; if (label == "fleetpower-nowait") label = "fleetpower --no-wait"
            if (label == "fleetpower-force") label = "fleetpower --force (verifies)"; if (label == "fleetpower-force-nowait") label = "fleetpower --force --no-wait"
            printf "| %s | %s | %s | %s | %.3f | %.3f | %.3f | %.1f | %s | %d/%d | %d | %d | %s | %s | %s |\n", order[a], dead[k], O[b], label, mw, vmax(k, "wall"), mc, mr0 / 1024, mx, vmin(k, "ok"), live[k], vmax(k, "dup"), bad[k] + 0, ratio(mw, bw, "%.2fx"), ratio(mc, bc, "%.2fx"), ratio(mr0, br, "%.3fx")
        }
    }
}
AWK
) "$RAW"
echo
echo "raw measurements: $RAW (removed on exit unless --raw FILE was given)"
