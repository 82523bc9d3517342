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
# ms CMD...: wall milliseconds of one run
ms() { local t0 t1; t0=$(date +%s%N); "$@" >/dev/null 2>&1; t1=$(date +%s%N); echo $(((t1 - t0) / 100000)) | sed 's/\(.\)$/.\1/'; }
bashcomp() {  # bashcomp INVENTORY WORD: one Tab in bash, as the completion script does it
  bash --norc --noprofile -c 'source "$1"; COMP_WORDS=("$4" -i "$2" status "$3"); COMP_CWORD=4
    t0=$EPOCHREALTIME; _fleetpower; t1=$EPOCHREALTIME
    echo "$(( (${t1/./} - ${t0/./}) / 100 ))" | sed "s/\(.\)$/.\1/" >&2; echo "${#COMPREPLY[@]}"' \
    bash contrib/completion/fleetpower.bash "$1" "$2" "$FP"
}
echo "fleetpower completion latency, 10,000 hosts, median of $ROUNDS (ms); $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-9s %14s %16s %16s %18s %18s\n' inventory "list --all" "complete cold" "complete warm" "bash Tab r0 (n)" "bash Tab '' (n)"
for kind in ranges explicit; do
  inv=$W/$kind.yaml
  prefix=$([ $kind = ranges ] && echo r050n0 || echo node0500)
  list=$(for _ in $(seq "$ROUNDS"); do ms "$FP" -i "$inv" list --all; done | median)
  cold=$(for _ in $(seq "$ROUNDS"); do rm -rf "$XDG_CACHE_HOME"; ms "$FP" __complete line 4 fleetpower -i "$inv" status "$prefix"; done | median)
  "$FP" __complete line 4 fleetpower -i "$inv" status "$prefix" >/dev/null
  warm=$(for _ in $(seq "$ROUNDS"); do ms "$FP" __complete line 4 fleetpower -i "$inv" status "$prefix"; done | median)
  n1=$(bashcomp "$inv" "$prefix" 2>/dev/null)
  tab=$(for _ in $(seq "$ROUNDS"); do bashcomp "$inv" "$prefix" 2>&1 >/dev/null; done | median)
  n2=$(bashcomp "$inv" "" 2>/dev/null)
  taball=$(for _ in $(seq "$ROUNDS"); do bashcomp "$inv" "" 2>&1 >/dev/null; done | median)
  printf '%-9s %14s %16s %16s %18s %18s\n' "$kind" "$list" "$cold" "$warm" "$tab ($n1)" "$taball ($n2)"
done
