#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Every IPMI action of fleetpower against a real ipmi_sim fleet (tests/ipmisim, mixed power
# models: in-process module and forking chassis_control script), cross-checked with ipmitool
# (an independent client) and with each sim's own event log (exactly one request per action).
set -uo pipefail
: "${FLEETPOWER:?FLEETPOWER must point at the fleetpower binary}"
SRC=${FP_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
FLEET="$SRC/tests/ipmisim/fleet"
for tool in ipmi_sim ipmitool /usr/bin/python3; do
  command -v "$tool" >/dev/null || { echo "SKIP: $tool not installed"; exit 77; }
done

N=6
D=$(mktemp -d -p /dev/shm fp-ipmi-actions.XXXXXX 2>/dev/null || mktemp -d)
cleanup() {
  "$FLEET" stop --dir "$D" >/dev/null 2>&1
  rm -rf "$D"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

FAILS=0
PASSES=0
ok() { PASSES=$((PASSES + 1)); echo "ok - $*"; }
not_ok() { FAILS=$((FAILS + 1)); echo "not ok - $*"; }

"$FLEET" start --count $N --dead 2 --model mixed --initial-power off --dir "$D" >"$D/start.out" 2>&1
if [[ $(tail -1 "$D/start.out") != ready ]]; then
  cat "$D/start.out"
  echo "FAIL: fleet did not start"
  exit 1
fi
mapfile -t NAMES < <(awk -F'\t' 'NR>1 && $7=="live" {print $2}' "$D/hosts.tsv")
mapfile -t ADDRS < <(awk -F'\t' 'NR>1 && $7=="live" {print $3}' "$D/hosts.tsv")

fp() { "$FLEETPOWER" -i "$D/inventory.yaml" --credentials "$D/credentials.yaml" --expand "$@"; }
# run NAME ARGS...: output in $D/NAME.out, exit code in RC
run() {
  local name=$1; shift
  fp "$@" >"$D/$name.out" 2>"$D/$name.err"
  RC=$?
}
# ipmitool_all ARGS...: one line of output per live sim, "<addr> <output>"
ipmitool_each() {
  local a
  for a in "${ADDRS[@]}"; do
    echo "$a $(IPMI_PASSWORD=$(<"$D/secrets/admin.pw") timeout 20 ipmitool -I lanplus -C 3 -H "$a" -U admin -E "$@" 2>/dev/null | tr '\n' ' ')"
  done
}
# every_host_says FILE TEXT: each live host has one line "<name>: TEXT"
every_host_says() {
  local f=$1 want=$2 n
  for n in "${NAMES[@]}"; do
    grep -qxF "$n: $want" "$f" || { echo "    $n: wanted '$want'"; sed 's/^/    /' "$f" | head; return 1; }
  done
}
# wait_all STATE: poll fleetpower status until every live host reports STATE
wait_all() {
  local i
  for i in $(seq 1 40); do
    fp status @sim >"$D/wait.out" 2>/dev/null
    every_host_says "$D/wait.out" "$1" >/dev/null 2>&1 && return 0
    sleep 0.25
  done
  return 1
}
# events_each OP WANT: each live sim logged exactly WANT "request op=OP"
events_each() {
  local n c
  for n in "${NAMES[@]}"; do
    c=$("$FLEET" events --dir "$D" --host "$n" | grep -c " request op=$1 ")
    [[ $c == "$2" ]] || { echo "    $n: $c request op=$1, wanted $2"; return 1; }
  done
}

# --- status --------------------------------------------------------------------------------
run status status @sim
if [[ $RC == 0 ]] && every_host_says "$D/status.out" off; then ok "status: all off"; else not_ok "status (exit $RC)"; fi
if [[ -n $(ipmitool_each chassis power status | grep -v "is off") ]]; then not_ok "ipmitool agrees: off"; else ok "ipmitool agrees: off"; fi

# --- on ------------------------------------------------------------------------------------
run on on @sim
# The fleet layer verifies the end state by polling status, so the result is the state reached.
if [[ $RC == 0 ]] && every_host_says "$D/on.out" on; then ok "on: on"; else not_ok "on (exit $RC)"; sed 's/^/    /' "$D/on.out"; fi
if wait_all on; then ok "status reads on"; else not_ok "status reads on"; fi
if [[ -n $(ipmitool_each chassis power status | grep -v "is on") ]]; then not_ok "ipmitool agrees: on"; else ok "ipmitool agrees: on"; fi
if events_each on 1; then ok "each BMC got exactly one power-on request"; else not_ok "one power-on each"; fi

# --- off -----------------------------------------------------------------------------------
run off off @sim
if [[ $RC == 0 ]] && every_host_says "$D/off.out" off; then ok "off: off"; else not_ok "off (exit $RC)"; fi
if wait_all off; then ok "status reads off"; else not_ok "status reads off"; fi
if [[ -n $(ipmitool_each chassis power status | grep -v "is off") ]]; then not_ok "ipmitool agrees: off"; else ok "ipmitool agrees: off"; fi
if events_each off 1; then ok "each BMC got exactly one power-off request"; else not_ok "one power-off each"; fi
run offagain off @sim
if [[ $RC == 0 ]] && every_host_says "$D/offagain.out" "already off" && events_each off 1; then
  ok "off again: already off, nothing sent"
else
  not_ok "off again (exit $RC)"; sed 's/^/    /' "$D/offagain.out"
fi
# --force: the power-off goes out anyway (no read before it decides anything), verified after.
run offforce off --force @sim
if [[ $RC == 0 ]] && every_host_says "$D/offforce.out" off && events_each off 2; then
  ok "off --force: sent to nodes already off, reads off"
else
  not_ok "off --force (exit $RC)"; sed 's/^/    /' "$D/offforce.out"
fi

# --- cycle (from on) -----------------------------------------------------------------------
fp on @sim >/dev/null 2>&1
wait_all on >/dev/null
run cycle cycle @sim
if [[ $RC == 0 ]] && every_host_says "$D/cycle.out" "on (cycled)"; then ok "cycle: on (cycled)"; else not_ok "cycle (exit $RC)"; fi
if events_each cycle 1; then ok "each BMC got exactly one cycle request"; else not_ok "one cycle each"; fi
sleep 1.5
if wait_all on; then ok "on again after the cycle"; else not_ok "on after cycle"; fi

# --- reset ---------------------------------------------------------------------------------
run reset reset @sim
if [[ $RC == 0 ]] && every_host_says "$D/reset.out" "on (reset)"; then ok "reset: on (reset)"; else not_ok "reset (exit $RC)"; fi
if events_each reset 1; then ok "each BMC got exactly one reset request"; else not_ok "one reset each"; fi

# --- soft ----------------------------------------------------------------------------------
run soft soft @sim
if [[ $RC == 0 ]] && every_host_says "$D/soft.out" off; then ok "soft: off"; else not_ok "soft (exit $RC)"; fi
if events_each soft 1; then ok "each BMC got exactly one soft-off request"; else not_ok "one soft each"; fi
if wait_all off; then ok "soft shutdown reaches off"; else not_ok "soft reaches off"; fi

# --- nmi: ipmi_sim answers 0xCC, which must be reported (ipmipower prints nothing) ----------
run nmi nmi @sim
if [[ $RC != 0 ]] && grep -q "0xCC" "$D/nmi.out" && [[ $(grep -c "does not support Chassis Control (diagnostic interrupt)" "$D/nmi.out") == "$N" ]]; then
  ok "nmi: unsupported with the completion code named (exit $RC)"
else
  not_ok "nmi (exit $RC)"; sed 's/^/    /' "$D/nmi.out"
fi

# --- bootdev -------------------------------------------------------------------------------
run bootdev bootdev pxe @sim
if [[ $RC == 0 ]] && every_host_says "$D/bootdev.out" "pxe (once)"; then ok "bootdev pxe: pxe (once)"; else not_ok "bootdev pxe (exit $RC)"; sed 's/^/    /' "$D/bootdev.out"; fi
if [[ -n $(ipmitool_each chassis bootparam get 5 | grep -v "Force PXE") ]]; then not_ok "ipmitool reads Force PXE"; else ok "ipmitool reads Force PXE"; fi
run bootdev2 bootdev disk --persistent @sim
if [[ $RC == 0 ]] && grep -q "disk (persistent)" "$D/bootdev2.out"; then ok "bootdev disk --persistent"; else not_ok "bootdev disk --persistent (exit $RC)"; sed 's/^/    /' "$D/bootdev2.out"; fi
if [[ -n $(ipmitool_each chassis bootparam get 5 | grep -v "Force Boot from default Hard-Drive") ]]; then not_ok "ipmitool reads the disk"; else ok "ipmitool reads the disk"; fi

# --- identify ------------------------------------------------------------------------------
run identify identify --seconds 5 @sim
if [[ $RC == 0 ]] && every_host_says "$D/identify.out" "ok (identify 5s)"; then ok "identify --seconds 5"; else not_ok "identify (exit $RC)"; sed 's/^/    /' "$D/identify.out"; fi

# --- dead BMCs in the mix: the right reason, within the time limit --------------------------
start=$(date +%s%N)
run mixed --timeout 2s status @sim @sim-dead
took=$(( ($(date +%s%N) - start) / 1000000 ))
if [[ $RC != 0 ]] && [[ $(grep -c "error: no response from BMC" "$D/mixed.out") == 2 ]] && every_host_says "$D/mixed.out" off; then
  ok "mixed fleet: live hosts answer, dead ones 'no response' (exit $RC)"
else
  not_ok "mixed fleet (exit $RC)"; sed 's/^/    /' "$D/mixed.out"
fi
if ((took < 3000)); then ok "dead BMCs did not stall the run (${took} ms, --timeout 2s)"; else not_ok "run took ${took} ms"; fi

echo "$PASSES passed, $FAILS failed"
[[ $FAILS == 0 ]]
