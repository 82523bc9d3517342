#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Shell completion latency on a 10,000-node inventory: what a Tab costs.
#   bench/completion.sh [BUILD_DIR] [ROUNDS]
# Two inventories of 10,000 hosts: "ranges" (100 rack groups of 100 hosts written as hostlists,
# BMC templates: how sites write them) and "explicit" (every host its own entry with its own BMC
# address: the worst case for the YAML parser).  For each: `fleetpower list --all` (a full
# inventory load, for scale), `__complete` with a cold cache (parses the YAML, writes the cache),
# with a warm cache, and the whole bash completion (the bash function, the process, COMPREPLY)
# for a host prefix and for an empty word (all 10,000 hosts + 100 groups).  Medians of ROUNDS.
set -euo pipefail
cd "$(dirname "$0")/.."
B=${1:-build}
ROUNDS=${2:-21}
FP=$(realpath "$B/fleetpower")
W=$(mktemp -d -p /dev/shm fp-bench-complete.XXXXXX)
trap 'rm -rf "$W"' EXIT
export XDG_CACHE_HOME=$W/cache FLEETPOWER_CONFIG=$W/none.conf
unset FLEETPOWER_INVENTORY
/usr/bin/python3 - "$W" <<'PY'
import sys
w = sys.argv[1]
with open(f"{w}/ranges.yaml", "w") as f:
    f.write("defaults: { protocol: redfish, credentials: site, bmc: '{host}-bmc.mgmt.example.org' }\ngroups:\n")
    for r in range(100):
        f.write(f"  rack{r:03d}:\n    hosts: r{r:03d}n[001-100]\n    vars: {{ circuit: c{r:03d}, watts: 450 }}\n")
    f.write("  compute:\n    children: [" + ", ".join(f"rack{r:03d}" for r in range(100)) + "]\n")
with open(f"{w}/explicit.yaml", "w") as f:
    f.write("defaults: { protocol: ipmi, credentials: site }\nhosts:\n")
    for i in range(10000):
        f.write(f"  node{i:05d}: {{ bmc: 10.{i // 65536}.{i // 256 % 256}.{i % 256}, circuit: c{i // 100:03d}, watts: 450 }}\n")
    f.write("groups:\n")
    for r in range(100):
        f.write(f"  rack{r:03d}:\n    members: node[{r * 100:05d}-{r * 100 + 99:05d}]\n")
PY
median() { LC_ALL=C sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
# ms CMD...: "wall_ms cpu_ms" of one run (cpu = user + sys of the process)
ms() {
  /usr/bin/time -f '%e %U %S' -o "$W/t" "$@" >/dev/null 2>&1 || true
  awk '{printf "%.1f %.1f\n", $1 * 1000, ($2 + $3) * 1000}' "$W/t"
}
bashcomp() {  # bashcomp INVENTORY WORD: one Tab in bash, as the completion script does it
  bash --norc --noprofile -c 'source "$1"; COMP_WORDS=("$4" -i "$2" status "$3"); COMP_CWORD=4
    TIMEFORMAT="%R %U %S"; { time _fleetpower; } 2>"$5"
    awk "{printf \"%.1f %.1f\\n\", \$1 * 1000, (\$2 + \$3) * 1000}" "$5" >&2; echo "${#COMPREPLY[@]}"' \
    bash contrib/completion/fleetpower.bash "$1" "$2" "$FP" "$W/bt"
}
# rounds CMD...: "median wall / median cpu" over ROUNDS runs of CMD (which prints "wall cpu")
rounds() {
  local i
  for i in $(seq "$ROUNDS"); do "$@"; done >"$W/r"
  echo "$(cut -d' ' -f1 "$W/r" | median) / $(cut -d' ' -f2 "$W/r" | median)"
}
cold() { rm -rf "$XDG_CACHE_HOME"; ms "$@"; }
tab() { bashcomp "$@" 2>&1 >/dev/null; }
echo "fleetpower completion latency, 10,000 hosts; median of $ROUNDS runs: wall ms / CPU ms (user+sys, the"
echo "process and its children); $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-9s %15s %15s %15s %19s %19s\n' inventory "list --all" "complete cold" "complete warm" "bash Tab prefix" "bash Tab empty"
for kind in ranges explicit; do
  inv=$W/$kind.yaml
  prefix=$([ $kind = ranges ] && echo r050n0 || echo node0500)
  c=(__complete line 4 fleetpower -i "$inv" status "$prefix")
  list=$(rounds ms "$FP" -i "$inv" list --all)
  cl=$(rounds cold "$FP" "${c[@]}")
  "$FP" "${c[@]}" >/dev/null
  warm=$(rounds ms "$FP" "${c[@]}")
  n1=$(bashcomp "$inv" "$prefix" 2>/dev/null)
  t1=$(rounds tab "$inv" "$prefix")
  n2=$(bashcomp "$inv" "" 2>/dev/null)
  t2=$(rounds tab "$inv" "")
  printf '%-9s %15s %15s %15s %19s %19s\n' "$kind" "$list" "$cl" "$warm" "$t1 ($n1)" "$t2 ($n2)"
done
echo "(prefix: r050n0 / node0500: 99 / 10 matches; empty word: all 10,000 hosts and the 100-101 groups)"
