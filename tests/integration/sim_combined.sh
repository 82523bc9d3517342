#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# fleetpower-sim with both personalities in one process (Redfish on the main loop, the IPMI
# BMCs on a second thread), driven by fleetpower over both protocols at once, then stopped
# with SIGTERM (the shutdown is posted across threads).  Checks the power actions reach both
# fleets and the simulator exits cleanly.  Under TSan (scripts/test tsan stage) this is the
# test that exercises the simulator's second thread.
set -u
. "${FP_SOURCE_DIR:?}/tests/sim/testlib.sh"
: "${FLEETPOWER:?FLEETPOWER must point at the fleetpower binary}"

export FLEETPOWER_SIM_PASSWORD="Pw-$($PY -c 'import secrets; print(secrets.token_hex(6))')"
sim_start both --redfish 3 --address-base 127.61.0.1 --port 8443 --power-on-delay 0 --initial-power off \
  --ipmi 3 --ipmi-address-base 127.61.1.1 --ipmi-cycle-delay 1s \
  --ipmi-inventory-out "$T/ipmi-inv.yaml" --ipmi-credentials-out "$T/ipmi-cred.yaml" || exit 1
unset FLEETPOWER_SIM_PASSWORD
IPMI_INV=$T/ipmi-inv.yaml IPMI_CRED=$T/ipmi-cred.yaml
fp() { "$FLEETPOWER" --ca-file "$CA" --yes -o jsonl -t 20s "$@" 2>&1; }
count() { grep -c "\"result\":\"$1\"" <<<"$2"; }
expect() {  # expect DESCRIPTION RESULT N OUTPUT
  if [ "$(count "$2" "$4")" -eq "$3" ]; then ok "$1"; else fail "$1"; echo "$4"; fi
}

# Both fleets at once, from two fleetpower processes running concurrently.
fp -i "$INV" --credentials "$CRED" on --all >"$T/rf-on" &
rf=$!
ipmi_out=$(fp -i "$IPMI_INV" --credentials "$IPMI_CRED" on --all)
wait $rf
rf_out=$(cat "$T/rf-on")
expect "Redfish fleet powered on (3 hosts)" on 3 "$rf_out"
expect "IPMI fleet powered on (3 hosts)" on 3 "$ipmi_out"
expect "IPMI cycle on every host" 'on (cycled)' 3 "$(fp -i "$IPMI_INV" --credentials "$IPMI_CRED" cycle --all)"
expect "Redfish fleet off" off 3 "$(fp -i "$INV" --credentials "$CRED" off --all)"
expect "IPMI status reads on" on 3 "$(fp -i "$IPMI_INV" --credentials "$IPMI_CRED" status --all)"

# SIGTERM stops both loops; the process exits 0 within 10 s.
kill -TERM "$SIM_PID"
rc=
for ((i = 0; i < 100; i++)); do
  if ! kill -0 "$SIM_PID" 2>/dev/null; then wait "$SIM_PID"; rc=$?; break; fi
  sleep 0.1
done
check "simulator exits cleanly on SIGTERM (rc ${rc:-still running})" test "${rc:-x}" = 0
SIM_PIDS=()
[ -z "$rc" ] && kill -KILL "$SIM_PID" 2>/dev/null
finish
