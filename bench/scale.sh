#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Scale curves (issue 7): the client's cost (wall, CPU, peak RSS, and per target) of `status`
# as the fleet grows, over IPMI against FreeIPMI's ipmipower (ipmi_sim fleets) and over Redfish
# (fleetpower-sim, HTTPS with sessions).  A thin wrapper: the runs are bench/ipmi_peers.sh and
# bench/redfish.sh (same measurement, same fleets, interleaved tools, medians of the rounds);
# the curve table is bench/lib/curve over their raw files.
#
#   bench/scale.sh [--ipmi-n "10 100 500 1000"] [--redfish-n "10 100 1000 5000"] [-r 5]
#                  [--only ipmi|redfish] [--out DIR]
#
# Needs $FLEETPOWER (and $FLEETPOWER_SIM for Redfish).  Raw files and tables go to --out
# (default: a new directory under /dev/shm, printed at the end).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
IPMI_NS="10 100 500 1000"
RF_NS="10 100 1000 5000"
ROUNDS=5
ONLY=
OUT=
while (($#)); do
    case $1 in
    --ipmi-n) IPMI_NS=$2; shift 2 ;;
    --redfish-n) RF_NS=$2; shift 2 ;;
    -r | --rounds) ROUNDS=$2; shift 2 ;;
    --only) ONLY=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    -h | --help) sed -n '3,15p' "$0"; exit 0 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
    esac
done
OUT=${OUT:-$(mktemp -d -p /dev/shm fp-scale.XXXXXX)}
mkdir -p "$OUT"
if [[ $ONLY != redfish ]]; then
    "$HERE/ipmi_peers.sh" -n "$IPMI_NS" -m inproc -r "$ROUNDS" --ops status \
        --tools "ipmipower fleetpower" --raw "$OUT/ipmi.tsv" >"$OUT/ipmi.table"
    {
        echo "IPMI status, ipmi_sim (in-process power model), $ROUNDS rounds, medians;" \
            "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
        echo
        "$HERE/lib/curve" "$OUT/ipmi.tsv" --baseline ipmipower
    } >"$OUT/ipmi.curve"
    cat "$OUT/ipmi.curve"
fi
if [[ $ONLY != ipmi ]]; then
    "$HERE/redfish.sh" -n "$RF_NS" -r "$ROUNDS" --ops status --tools fleetpower \
        --raw "$OUT/redfish.tsv" >"$OUT/redfish.table"
    {
        echo "Redfish status, fleetpower-sim (HTTPS, sessions), $ROUNDS rounds, medians;" \
            "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
        echo
        "$HERE/lib/curve" "$OUT/redfish.tsv"
    } >"$OUT/redfish.curve"
    cat "$OUT/redfish.curve"
fi
echo "raw files and tables: $OUT" >&2
