#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# fleetpower-sim at fleet scale: 2000 HTTPS BMCs in one process (one loopback address each),
# every one answering with its own verified certificate, many clients at once, resets recorded.
# Start-up time and memory are printed for information (speed is benchmarked, not asserted).
set -u
. "${FP_SOURCE_DIR:?}/tests/sim/testlib.sh"

N=${SIM_SCALE_N:-2000}
t0=$(date +%s%N)
sim_start scale --redfish "$N" --address-base 127.44.0.1 --port 8443 --power-on-delay 500ms --quiet || exit 1
t1=$(date +%s%N)
echo "# $N BMCs ready in $(((t1 - t0) / 1000000)) ms; $(grep -E 'VmRSS' /proc/$SIM_PID/status | tr -s ' \t' ' ')"

check "bmcs.tsv has $N BMCs" test "$(grep -vc '^#' "$SIM_DIR/state/bmcs.tsv")" = "$N"
check "inventory covers $N hosts" test "$(grep -o 'hosts: "[^"]*"' "$INV" | wc -l)" -ge $(((N + 253) / 254))
addrs=$(grep -v '^#' "$SIM_DIR/state/bmcs.tsv" | cut -f3)
last=$(tail -n1 <<<"$addrs")
check "last BMC ($last) answers with a verified certificate" ncurl -f -o /dev/null "https://$last:8443/redfish/v1"

# 32 clients in parallel over every BMC: all must answer 200 with a certificate naming them.
cfg="$SIM_DIR/curl.cfg"
export CA cfg
ok_count=$(xargs -P 32 -I{} sh -c 'curl -sS -K "$cfg" --cacert "$CA" -o /dev/null -w "%{http_code}\n" https://{}:8443/redfish/v1/Systems/1 2>/dev/null' <<<"$addrs" | grep -c '^200$')
check "all $N BMCs answered an authenticated GET with 32 clients at once (got $ok_count)" test "$ok_count" = "$N"

# Resets on a spread of BMCs, then the event log must show each transition.
sample=$(awk 'NR % 97 == 1' <<<"$addrs")
for a in $sample; do acurl -o /dev/null -X POST -d '{"ResetType":"ForceOff"}' "https://$a:8443/redfish/v1/Systems/1/Actions/ComputerSystem.Reset"; done

n_off=$($PY - "$EVENTS" <<'PYEOF'
import json, sys
print(len({e["address"] for e in map(json.loads, open(sys.argv[1])) if e.get("event") == "power" and e.get("to") == "Off"}))
PYEOF
)
check "event log: $(wc -w <<<"$sample") BMCs powered off (got $n_off)" test "$n_off" = "$(wc -w <<<"$sample")"
check "simulator still running" sim_alive
echo "# after the load: $(grep -E 'VmRSS|VmHWM' /proc/$SIM_PID/status | tr -s ' \t' ' ' | tr '\n' ' ')"
finish
