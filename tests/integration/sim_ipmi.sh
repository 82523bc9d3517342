#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# fleetpower-sim's IPMI personality, established by independent clients: ipmitool (lanplus,
# cipher suites 17 and 3) and FreeIPMI's ipmipower (cipher-suite-id 17 and 3) run status / on /
# off / cycle and the result is cross-checked with the simulator's event log and with the other
# client.  Then fleetpower (cipher 17 and auto), wrong password / user, and the fault knobs.
set -u
. "${FP_SOURCE_DIR:?}/tests/sim/testlib.sh"
: "${FLEETPOWER:?FLEETPOWER must point at the fleetpower binary}"
for tool in ipmitool ipmipower; do
  command -v "$tool" >/dev/null || { echo "SKIP: $tool not installed"; exit 77; }
done

export FLEETPOWER_SIM_PASSWORD="Pw-$($PY -c 'import secrets; print(secrets.token_hex(6))')"
BASE=127.24.0
FAULTS="9:latency=700ms,10:latency=700ms+dup-exec,11:busy=2,12:hang,13:wrong-sid,14:bad-integrity,15:status-operator"
sim_start ipmi --ipmi 15 --ipmi-address-base $BASE.1 --ipmi-cycle-delay 1s \
  --ipmi-faults "$FAULTS" || exit 1
IPMI_PASSWORD=$FLEETPOWER_SIM_PASSWORD
export IPMI_PASSWORD
unset FLEETPOWER_SIM_PASSWORD

# FreeIPMI configuration files (mode 0600, password never on a command line).
(
  umask 077
  for c in 17 3; do
    printf 'driver-type LAN_2_0\nusername admin\npassword %s\nprivilege-level ADMIN\ncipher-suite-id %s\n' \
      "$IPMI_PASSWORD" "$c" >"$T/freeipmi-$c.conf"
  done
  printf 'driver-type LAN_2_0\nusername admin\npassword wrong-%s\nprivilege-level ADMIN\ncipher-suite-id 17\n' \
    "$RANDOM" >"$T/freeipmi-bad.conf"
  sed 's/password: "[^"]*"/password: "not-the-password"/' "$CRED" >"$T/bad-cred.yaml"
  sed 's/username: "[^"]*"/username: "nosuchuser"/' "$CRED" >"$T/nouser-cred.yaml"
)
sed 's/cipher_suite: 17/cipher_suite: auto/' "$INV" >"$T/auto.yaml"

it() { local c=$1 i=$2; shift 2; timeout 30 ipmitool -I lanplus -C "$c" -H "$BASE.$i" -U admin -E "$@" 2>&1; }
ipower() { local c=$1 i=$2; shift 2; timeout 30 ipmipower --config-file "$T/freeipmi-$c.conf" -h "$BASE.$i" "$@" 2>&1; }
fp() { "$FLEETPOWER" -i "$INV" --credentials "$CRED" --expand "$@" 2>&1; }
# count_events PYTHON-EXPR [FROM-LINE]: number of event lines e (from line FROM-LINE on)
# satisfying the expression
count_events() {
  $PY - "$EVENTS" "$1" "${2:-0}" <<'PYEOF'
import sys, json
n = 0
for line in open(sys.argv[1]).readlines()[int(sys.argv[3]):]:
    e = json.loads(line)
    try:
        if eval(sys.argv[2], {}, {"e": e}):
            n += 1
    except Exception:
        pass
print(n)
PYEOF
}
# cmd_seq BMC FROM-LINE: the in-session commands BMC executed (not answered from its reply cache)
# since that line
cmd_seq() {
  $PY - "$EVENTS" "$1" "$2" <<'PYEOF'
import sys, json
out = []
for line in open(sys.argv[1]).readlines()[int(sys.argv[3]):]:
    e = json.loads(line)
    if e.get("bmc") == int(sys.argv[2]) and e.get("event") == "request" and "cc" in e:
        out.append(e["cmd"])
print(" ".join(out))
PYEOF
}
power_events() { count_events "e.get('proto')=='ipmi' and e.get('bmc')==$1 and e.get('event')=='power' and e.get('to')=='$2'"; }
is() { [[ "$1" == "$2" ]] || { echo "    got '$1', wanted '$2'"; return 1; }; }
has() { grep -q -- "$2" <<<"$1" || { echo "    '$1' lacks '$2'"; return 1; }; }

check "inventory says protocol ipmi, cipher 17, admin" grep -q 'protocol: ipmi, credentials: sim, cipher_suite: 17, privilege: admin' "$INV"
check "credentials file is mode 0600" test "$(stat -c %a "$CRED")" = 600

# --- ipmitool, cipher suite 17 (BMC 1) ---------------------------------------------------------
check "ipmitool -C 17: status off" is "$(it 17 1 chassis power status)" "Chassis Power is off"
check "ipmitool -C 17: on" has "$(it 17 1 chassis power on)" "Up/On"
check "ipmitool -C 17: status on" is "$(it 17 1 chassis power status)" "Chassis Power is on"
check "cross-check with ipmipower -I 3: on" is "$(ipower 3 1 --stat)" "$BASE.1: on"
check "one power-on event" is "$(power_events 1 On)" 1
check "ipmitool -C 17: off" has "$(it 17 1 chassis power off)" "Down/Off"
check "ipmitool -C 17: status off again" is "$(it 17 1 chassis power status)" "Chassis Power is off"
check "events: chassis_control power_down recorded" is \
  "$(count_events "e.get('bmc')==1 and e.get('cmd')=='chassis_control' and e.get('op')=='power_down'")" 1
check "ipmitool -C 17: mc info (Get Device ID)" has "$(it 17 1 mc info)" "Firmware Revision         : 1.23"
check "ipmitool -C 17: bootdev pxe" has "$(it 17 1 chassis bootdev pxe)" "Set Boot Device to pxe"
check "ipmitool: boot flags read back" has "$(it 17 1 chassis bootparam get 5)" "Force PXE"

# --- ipmitool, cipher suite 3 (BMC 2): cycle -----------------------------------------------------
check "ipmitool -C 3: on" has "$(it 3 2 chassis power on)" "Up/On"
check "ipmitool -C 3: cycle" has "$(it 3 2 chassis power cycle)" "Cycle"
check "ipmitool -C 3: off right after the cycle" is "$(it 3 2 chassis power status)" "Chassis Power is off"
wait_for 5 test "$(power_events 2 On)" = 2
check "cycle: on again after ~1 s (2 power-on events)" is "$(power_events 2 On)" 2
check "cross-check with ipmitool -C 17" is "$(it 17 2 chassis power status)" "Chassis Power is on"

# --- ipmipower, cipher suites 17 (BMC 3) and 3 (BMC 4) ------------------------------------------
for pair in "17 3" "3 4"; do
  set -- $pair
  c=$1 i=$2
  check "ipmipower -I $c: stat off" is "$(ipower "$c" "$i" --stat)" "$BASE.$i: off"
  check "ipmipower -I $c: on" is "$(ipower "$c" "$i" --on)" "$BASE.$i: ok"
  check "ipmipower -I $c: stat on (ipmitool agrees)" is "$(it 3 "$i" chassis power status)" "Chassis Power is on"
  check "ipmipower -I $c: cycle" is "$(ipower "$c" "$i" --cycle)" "$BASE.$i: ok"
  wait_for 5 test "$(power_events "$i" On)" = 2
  check "ipmipower -I $c: cycle went off then on" is "$(power_events "$i" Off)/$(power_events "$i" On)" 1/2
  check "ipmipower -I $c: off" is "$(ipower "$c" "$i" --off)" "$BASE.$i: ok"
  check "ipmipower -I $c: stat off" is "$(ipower "$c" "$i" --stat)" "$BASE.$i: off"
done

# --- wrong password / user: refused at RAKP 2 ---------------------------------------------------
out=$(IPMI_PASSWORD=wrong-password timeout 30 ipmitool -v -I lanplus -C 17 -H $BASE.5 -U admin -E chassis power status 2>&1)
check "ipmitool, bad password: RAKP 2 HMAC invalid" has "$out" "RAKP 2 HMAC is invalid"
out=$(timeout 30 ipmitool -v -I lanplus -C 17 -H $BASE.5 -U nosuchuser -E chassis power status 2>&1)
check "ipmitool, unknown user: unauthorized name" has "$out" "unauthorized name"
check "ipmipower, bad password" is "$(ipower bad 5 --stat)" "$BASE.5: password invalid"
out=$("$FLEETPOWER" -i "$INV" --credentials "$T/bad-cred.yaml" status ipmi0005 2>&1); rc=$?
check "fleetpower, bad password: fails at RAKP 2 (exit $rc)" has "$out" "wrong password (RAKP 2"
out=$("$FLEETPOWER" -i "$INV" --credentials "$T/nouser-cred.yaml" status ipmi0005 2>&1)
check "fleetpower, unknown user" has "$out" "unknown user 'nosuchuser'"
check "no power change on BMC 5" is "$(count_events "e.get('bmc')==5 and e.get('event')=='power'")" 0

# --- fleetpower, cipher suite 17 (BMCs 5-8) -----------------------------------------------------
SEL="ipmi[0005-0008]"
mark() { wc -l <"$EVENTS"; }
check "fleetpower status: off" is "$(fp status "$SEL" | tr '\n' ' ')" "ipmi0005: off ipmi0006: off ipmi0007: off ipmi0008: off "
M=$(mark); out=$(fp on "$SEL"); rc=$?; OPENS=$(count_events "e.get('action')=='open' and e.get('cipher_suite')!=17" "$M")
SEQ6=$(cmd_seq 6 "$M")
check "fleetpower on (exit $rc)" test $rc = 0
for i in 5 6 7 8; do
  check "BMC $i on per ipmitool -C 3" is "$(it 3 $i chassis power status)" "Chassis Power is on"
done
# The read that decides runs at User level; the session is raised only to act, and the read
# after the action confirms it.  A node already on gets the read and nothing else.
check "on: read at User level, raised to act, read back" is "$SEQ6" \
  "get_chassis_status set_session_privilege chassis_control get_chassis_status close_session"
M=$(mark); out=$(fp on ipmi0006); rc=$?
check "on again: already on (exit $rc)" is "$out" "ipmi0006: already on"
check "on again: read only, no raise, no action" is "$(cmd_seq 6 "$M")" \
  "get_chassis_status close_session"
M=$(mark); out=$(fp cycle "$SEL"); rc=$?; OPENS=$((OPENS + $(count_events "e.get('action')=='open' and e.get('cipher_suite')!=17" "$M")))
check "fleetpower cycle (exit $rc)" test $rc = 0
for i in 5 6 7 8; do
  wait_for 5 test "$(power_events $i On)" = 2
  check "BMC $i: cycle = exactly one off and one more on" is "$(power_events $i Off)/$(power_events $i On)" 1/2
done
out=$(fp off "$SEL"); rc=$?
check "fleetpower off (exit $rc)" test $rc = 0
check "fleetpower status: off" is "$(fp status "$SEL" | tr '\n' ' ')" "ipmi0005: off ipmi0006: off ipmi0007: off ipmi0008: off "
check "ipmipower -I 17 agrees: off" is "$(ipower 17 8 --stat)" "$BASE.8: off"
check "every fleetpower session (on, cycle) used cipher suite 17" is "$OPENS" 0

# --- fleetpower, cipher_suite auto: must choose 17 ----------------------------------------------
M=$(mark)
out=$("$FLEETPOWER" -i "$T/auto.yaml" --credentials "$CRED" on ipmi0007 2>&1); rc=$?
check "fleetpower auto: on (exit $rc)" test $rc = 0
check "auto: sessions opened with suite 17" test \
  "$(count_events "e.get('bmc')==7 and e.get('action')=='open' and e.get('cipher_suite')==17" "$M")" -ge 1
check "auto: never fell back to suite 3" is \
  "$(count_events "e.get('bmc')==7 and e.get('action')=='open' and e.get('cipher_suite')==3" "$M")" 0
check "auto: BMC 7 on per ipmitool -C 3" is "$(it 3 7 chassis power status)" "Chassis Power is on"

# --- fault knobs --------------------------------------------------------------------------------
# slow BMC (700 ms): fleetpower retransmits with the same sequence number; the simulator answers
# from its reply cache and does not execute the duplicate.
out=$(fp on ipmi0009); rc=$?
check "latency: fleetpower on succeeds (exit $rc)" test $rc = 0
check "latency: duplicates answered from the cache" test \
  "$(count_events "e.get('bmc')==9 and e.get('duplicate') is True and e.get('executed') is False")" -ge 1
check "latency: exactly one power-on" is "$(power_events 9 On)" 1
# dup-exec: duplicates are executed again (like ipmi_sim)
out=$(fp status ipmi0010); rc=$?
check "dup-exec: fleetpower status (exit $rc)" test $rc = 0
check "dup-exec: duplicates executed" test \
  "$(count_events "e.get('bmc')==10 and e.get('duplicate') is True and 'cc' in e")" -ge 1
# busy=2: the first two commands answer 0xC0; fleetpower retries within its deadline
out=$(fp status ipmi0011); rc=$?
check "busy=2: fleetpower status succeeds (exit $rc: $out)" is "$out" "ipmi0011: off"
check "busy=2: two 0xC0 answers" is "$(count_events "e.get('bmc')==11 and e.get('cc')==192")" 2
# A status session stays at User level (Get Chassis Status needs no more): no Set Session
# Privilege Level.  A BMC that refuses the read there (0xD4) gets the session raised and the
# read repeated.
M=$(mark)
out=$(fp status ipmi0008); rc=$?
check "status: no Set Session Privilege Level sent (exit $rc)" is \
  "$(count_events "e.get('bmc')==8 and e.get('cmd')=='set_session_privilege'" "$M")" 0
check "status: one Get Chassis Status" is \
  "$(count_events "e.get('bmc')==8 and e.get('cmd')=='get_chassis_status'" "$M")" 1
out=$(fp status ipmi0015); rc=$?
check "status-operator: fleetpower status (exit $rc: $out)" is "$out" "ipmi0015: off"
check "status-operator: refused once at User level (0xD4)" is "$(count_events "e.get('bmc')==15 and e.get('cc')==0xd4")" 1
check "status-operator: then raised" is "$(count_events "e.get('bmc')==15 and e.get('cmd')=='set_session_privilege' and e.get('cc')==0")" 1
check "status-operator: ipmitool (raises first) reads it too" is "$(it 3 15 chassis power status)" "Chassis Power is off"
# The read before a power action meets the same refusal: raised, read again, then acted on.
M=$(mark); out=$(fp on ipmi0015); rc=$?
check "status-operator: fleetpower on (exit $rc: $out)" is "$out" "ipmi0015: on"
check "status-operator: on read, refused, raised, read, acted, read back" is "$(cmd_seq 15 "$M")" \
  "get_chassis_status set_session_privilege get_chassis_status chassis_control get_chassis_status close_session"
# hang: no answer at all
out=$("$FLEETPOWER" -i "$INV" --credentials "$CRED" --timeout 3s status ipmi0012 2>&1); rc=$?
check "hang: fleetpower reports no response (exit $rc)" has "$out" "no response from BMC"
out=$(timeout 30 ipmitool -I lanplus -C 17 -H $BASE.12 -U admin -E -N 1 -R 1 chassis power status 2>&1); rc=$?
check "hang: ipmitool fails too (exit $rc)" test $rc != 0
# wrong session id / bad integrity data in replies: clients drop them
for i in 13 14; do
  out=$(timeout 30 ipmitool -I lanplus -C 17 -H $BASE.$i -U admin -E -N 1 -R 1 chassis power on 2>&1); rc=$?
  check "BMC $i ($(sed -n "$((i + 1))p" "$SIM_DIR/state/ipmi-bmcs.tsv" | cut -f5)): ipmitool gets no usable reply (exit $rc)" test $rc != 0
  out=$("$FLEETPOWER" -i "$INV" --credentials "$CRED" --timeout 3s status ipmi00$i 2>&1); rc=$?
  check "BMC $i: fleetpower fails (exit $rc)" test $rc != 0
done

check "simulator still alive" sim_alive
finish
