#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# SSH devices through real OpenSSH sshd instances on loopback whose ForceCommand emulates an
# APC-style switched PDU (interactive shell with a terminal) and a SMASH-CLP BMC and a racadm
# BMC (exec): status/on/off/cycle/reset through fleetpower, checked against the emulator's
# state and the log of every command it received; then outlets as a power path (--via pdu)
# on a dual-corded node fed by two PDUs, and two nodes sharing one PDU.
source "$(dirname "$0")/lib/common.sh"
source "$(dirname "$0")/lib/sshd.sh"
fp_ssh_prereqs

P=2201
fp_sshd_start pdu-a 127.77.1.1 $P apc
fp_sshd_start pdu-b 127.77.1.2 $P apc
fp_sshd_start bmc 127.77.1.3 $P smash
fp_sshd_start idrac 127.77.1.4 $P racadm
{
  fp_known_host pdu-a 127.77.1.1 $P
  fp_known_host pdu-b 127.77.1.2 $P
  fp_known_host bmc 127.77.1.3 $P
  fp_known_host idrac 127.77.1.4 $P
} >"$T/known_hosts"
cat >"$T/cred.yaml" <<EOF
lab: {username: $SSH_USER, identity_file: $T/client_key}
EOF
chmod 600 "$T/cred.yaml"
cat >"$T/inv.yaml" <<EOF
defaults: {credentials: lab, known_hosts: $T/known_hosts, port: $P}
groups:
  pdus:
    protocol: ssh
    ssh_profile: apc
    hosts: pdu-a1,pdu-b1
    bmc: [127.77.1.1, 127.77.1.2]
hosts:
  pdu-a1-o5: {protocol: ssh, bmc: 127.77.1.1, ssh_profile: apc, outlet: 5}
  bmc1: {protocol: ssh, bmc: 127.77.1.3, ssh_profile: smash-clp}
  idrac1: {protocol: ssh, bmc: 127.77.1.4, ssh_profile: racadm}
  # dual-corded, its BMC is dead (nothing listens there)
  node005: {protocol: redfish, bmc: 127.2.77.5, outlets: [pdu-a1:5, pdu-b1:5], cycle_delay: 1s}
  node006: {protocol: redfish, bmc: 127.2.77.6, outlets: [pdu-a1:6], cycle_delay: 1s}
EOF
FPB=("$FLEETPOWER" -i "$T/inv.yaml" --credentials "$T/cred.yaml" --wait-timeout 30s --journal-dir "$T/runs" --audit-log "$T/audit.log" --no-progress)
FP=("${FPB[@]}" -t 8s)
state() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get(sys.argv[2], "unset"))' "$T/$1/state.json" "$2" 2>/dev/null || echo unset; }
last_cmd() { fp_commands "$1" | grep -v '^exit$' | tail -1; }
run() { "${FP[@]}" "$@" >"$T/out" 2>"$T/err" || true; }
# in_order DEV FIRST SECOND: the device received FIRST, and SECOND after it
in_order() {
  python3 - "$T/$1/commands.log" "$2" "$3" <<'PY'
import json, sys
cmds = [json.loads(l) for l in open(sys.argv[1])]
a = cmds.index(sys.argv[2])
assert sys.argv[3] in cmds[a + 1:], cmds
PY
}
out_is() { # DESCRIPTION WANT: stdout is exactly WANT
  if [ "$(cat "$T/out")" = "$2" ]; then ok "$1"; else not_ok "$1: got '$(cat "$T/out")' wanted '$2'"; sed 's/^/    /' "$T/err" | head -5; fi
}

# --- PDU outlet (interactive shell), SMASH-CLP and racadm BMCs (exec), side by side ---------
ALL=bmc1,idrac1,pdu-a1-o5
run status $ALL; out_is "status of the three kinds (all start on)" "bmc1,idrac1,pdu-a1-o5: on"
check_eq "PDU status sent olStatus 5" "$(last_cmd pdu-a)" "olStatus 5"
check_eq "SMASH status command" "$(last_cmd bmc)" "show /system1 powerstate"
check_eq "racadm status command" "$(last_cmd idrac)" "racadm serveraction powerstatus"
run off $ALL; out_is "off, all three" "bmc1,idrac1,pdu-a1-o5: off"
check_eq "PDU outlet 5 is off in the device" "$(state pdu-a 5)" "off"
check "PDU off sent olOff 5" grep -qx '"olOff 5"' "$T/pdu-a/commands.log"
check_eq "SMASH device is off" "$(state bmc power)" "off"
check "SMASH off sent stop -force /system1" grep -qx '"stop -force /system1"' "$T/bmc/commands.log"
check_eq "racadm device is off" "$(state idrac power)" "off"
check "racadm off sent serveraction powerdown" grep -qx '"racadm serveraction powerdown"' "$T/idrac/commands.log"
run off pdu-a1-o5; out_is "PDU off again: already off, nothing sent" "pdu-a1-o5: already off"
check_eq "no second olOff" "$(grep -cx '"olOff 5"' "$T/pdu-a/commands.log")" "1"
run on $ALL; out_is "on, all three" "bmc1,idrac1,pdu-a1-o5: on"
check_eq "PDU outlet 5 is on in the device" "$(state pdu-a 5)" "on"
check "SMASH on sent start /system1" grep -qx '"start /system1"' "$T/bmc/commands.log"
check_eq "racadm device is on" "$(state idrac power)" "on"
run cycle $ALL
check "PDU cycle (olReboot) ends on" grep -q 'pdu-a1-o5: on' "$T/out"
check "PDU cycle sent olReboot 5" grep -qx '"olReboot 5"' "$T/pdu-a/commands.log"
check "SMASH cycle ends on" grep -qE '(^|,)bmc1[,:].* on' "$T/out"
check "SMASH cycle = stop -force then start" in_order bmc "stop -force /system1" "start /system1"
check "racadm cycle ends on" grep -qE '(^|,)idrac1[,:].* on' "$T/out"
check "racadm cycle sent powercycle" grep -qx '"racadm serveraction powercycle"' "$T/idrac/commands.log"
run reset bmc1; out_is "SMASH reset" "bmc1: on (reset)"
check_eq "SMASH device saw one reset" "$(state bmc resets)" "1"
run -o json status pdu-a1-o5
check "JSON names the profile and the host key" python3 - "$T/out" "$(fp_fingerprint pdu-a)" <<'PY'
import json, sys
h = json.load(open(sys.argv[1]))["hosts"][0]
assert h["facts"]["ssh_profile"] == "apc", h
assert h["facts"]["ssh_host_key"] == sys.argv[2], h
PY

# --- outlets as a power path ----------------------------------------------------------------
run status node005; check "without --via the dead BMC fails" grep -q '^node005: error' "$T/out"
run status --via pdu node005; out_is "--via pdu status: both outlets on" "node005: on (2/2 outlets)"
run off --via pdu node005; out_is "--via pdu off" "node005: off"
check_eq "outlet A (pdu-a1:5) off" "$(state pdu-a 5)" "off"
check_eq "outlet B (pdu-b1:5) off" "$(state pdu-b 5)" "off"
run status --via pdu node005; out_is "--via pdu status: off" "node005: off (2/2 outlets)"
run on pdu-b1  # a PDU without an outlet: refused, nothing sent
check "a PDU without an outlet is refused" grep -q 'name an outlet' "$T/out"
"${FP[@]}" on pdu-a1-o5 >/dev/null 2>&1 || true
run status --via pdu node005; out_is "--via pdu status: partial" "node005: partial: A on, B off"
run -o json status --via pdu node005
check "JSON has each outlet" python3 - "$T/out" <<'PY'
import json, sys
h = json.load(open(sys.argv[1]))["hosts"][0]
assert h["facts"]["outlet_A"] == "pdu-a1:5 on", h
assert h["facts"]["outlet_B"] == "pdu-b1:5 off", h
PY
run on --via pdu node005; out_is "--via pdu on from partial" "node005: on"
check_eq "outlet B back on" "$(state pdu-b 5)" "on"
: >"$T/pdu-a/commands.log"; : >"$T/pdu-b/commands.log"
run cycle --via pdu node005; out_is "--via pdu cycle" "node005: on (cycled)"
for d in pdu-a pdu-b; do
  check "$d: cycle = olOff 5 then olOn 5" in_order $d "olOff 5" "olOn 5"
done
run off --via pdu -y 'node[005-006]'; out_is "two nodes sharing pdu-a1 (outlets serialised)" "node[005-006]: off"
check_eq "pdu-a1 outlet 6 off" "$(state pdu-a 6)" "off"
check_eq "pdu-a1 outlet 5 off" "$(state pdu-a 5)" "off"
run on --via pdu 'node[005-006]'; out_is "both back on" "node[005-006]: on"
run nmi --via pdu node005; check "nmi through outlets is refused" grep -q 'not possible through PDU outlets' "$T/out"

# --- a step that hangs is named in the timeout ------------------------------------------------
cat >>"$T/inv.yaml" <<EOF
  pdu-a1-o23: {protocol: ssh, bmc: 127.77.1.1, ssh_profile: apc, outlet: 23}
EOF
"${FPB[@]}" -t 2s status pdu-a1-o23 >"$T/out" 2>"$T/err" || true
check "a hung device: the timeout names the command" grep -q "timed out waiting for the reply to 'olStatus 23'" "$T/out"
finish
