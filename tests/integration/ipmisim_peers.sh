#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Cross-checks the ipmi_sim fleet harness (tests/ipmisim) with two independent real clients:
# ipmitool (-I lanplus -C 3, password from IPMI_PASSWORD via -E) and FreeIPMI's ipmipower
# (password from a 0600 --config-file, -W opensesspriv in that file).  A change made by one
# client must be seen by the other AND in the sim's own event log, exactly once, for both
# power models (in-process module and forking chassis_control script).
set -uo pipefail

SRC=${FP_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
FLEET="$SRC/tests/ipmisim/fleet"
for tool in ipmi_sim ipmitool ipmipower /usr/bin/python3; do
    command -v "$tool" >/dev/null || { echo "SKIP: $tool not installed"; exit 77; }
done

N=8 # sim0001.. even index = inproc model, odd = fork model (--model mixed)
D=$(mktemp -d -p /dev/shm fp-ipmisim-peers.XXXXXX 2>/dev/null || mktemp -d)
cleanup() {
    "$FLEET" stop --dir "$D" >/dev/null 2>&1
    rm -rf "$D"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

failures=0
reported=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
# Prints "ok" only when nothing failed since the previous pass/not-ok line.
pass() {
    if ((failures == reported)); then echo "ok: $*"; else echo "not ok: $*"; fi
    reported=$failures
}

"$FLEET" start --count $N --dead 1 --model mixed --initial-power off --dir "$D" >"$D/start.out" 2>&1
if [[ $(tail -1 "$D/start.out") != ready ]]; then
    cat "$D/start.out"
    echo "FAIL: fleet did not start"
    exit 1
fi

# Addresses and models from the fleet's host table.
mapfile -t NAMES < <(awk -F'\t' 'NR>1 && $7=="live" {print $2}' "$D/hosts.tsv")
mapfile -t ADDRS < <(awk -F'\t' 'NR>1 && $7=="live" {print $3}' "$D/hosts.tsv")
mapfile -t MODELS < <(awk -F'\t' 'NR>1 && $7=="live" {print $5}' "$D/hosts.tsv")
DEAD=$(awk -F'\t' 'NR>1 && $7=="dead" {print $3; exit}' "$D/hosts.tsv")
ALL=$(IFS=,; echo "${ADDRS[*]}")
((${#ADDRS[@]} == N)) || { echo "FAIL: expected $N live hosts"; exit 1; }
grep -q '^sim: { username: admin, password: ' "$D/credentials.yaml" || fail "credentials.yaml"
[[ $(stat -c %a "$D/credentials.yaml") == 600 && $(stat -c %a "$D/freeipmi.conf") == 600 ]] ||
    fail "secret files are not 0600"
grep -q 'hosts: "sim\[0001-0008\]"' "$D/inventory.yaml" || fail "inventory hosts"

export IPMI_PASSWORD
IPMI_PASSWORD=$(<"$D/secrets/admin.pw")

# ipmitool against one BMC: lanplus, cipher suite 3, password from the environment (-E).
itool() {
    local addr=$1
    shift
    timeout 30 ipmitool -I lanplus -C 3 -H "$addr" -U admin -E -N 2 -R 3 "$@"
}
# ipmipower against many BMCs: everything secret in the config file.
ipower() {
    local hosts=$1
    shift
    timeout 60 ipmipower --config-file "$D/freeipmi.conf" -h "$hosts" "$@"
}
# Events of one host since a mark (epoch seconds), one line each.
events_since() { "$FLEET" events --dir "$D" --host "$1" --since "$2"; }
count_events() { events_since "$1" "$2" | grep -c -- "$3"; }
now() { date +%s.%N; }

# ipmipower --stat over all hosts must print exactly N lines with the expected state.
expect_stat_all() {
    local want=$1 out
    out=$(ipower "$ALL" --stat)
    if [[ $(grep -c ": $want\$" <<<"$out") -eq $N ]]; then
        pass "ipmipower sees all $N $want"
    else
        fail "ipmipower --stat: expected $N $want, got: $(tr '\n' ' ' <<<"$out")"
    fi
}
expect_itool_status() {
    local want=$1 i out
    for i in "${!ADDRS[@]}"; do
        out=$(itool "${ADDRS[$i]}" chassis power status 2>&1)
        [[ $out == "Chassis Power is $want" ]] ||
            fail "ipmitool status ${NAMES[$i]} (${MODELS[$i]}): '$out', want $want"
    done
    pass "ipmitool sees all $N $want"
}
# Each host logged exactly one request of op and one matching transition since mark.
expect_once() {
    local mark=$1 op=$2 transition=$3 i c t
    for i in "${!NAMES[@]}"; do
        c=$(count_events "${NAMES[$i]}" "$mark" " request op=$op ")
        t=$(count_events "${NAMES[$i]}" "$mark" " power $transition")
        if [[ $c != 1 || $t != 1 ]]; then
            fail "${NAMES[$i]} (${MODELS[$i]}): $c '$op' requests, $t '$transition' events since $mark"
            events_since "${NAMES[$i]}" "$mark" | sed 's/^/    /'
        fi
    done
    pass "every sim logged exactly one '$op' request and one '$transition'"
}
# Poll (at most 5 s) until every host logged pattern since mark.
wait_events() {
    local mark=$1 pattern=$2 tries=50 i missing
    while ((tries-- > 0)); do
        missing=0
        for i in "${!NAMES[@]}"; do
            [[ $(count_events "${NAMES[$i]}" "$mark" "$pattern") -ge 1 ]] || missing=1
        done
        ((missing == 0)) && return 0
        sleep 0.1
    done
    return 1
}

# 0. Initial state is what --initial-power asked for, seen by both clients.
expect_stat_all off
expect_itool_status off

# 1. ipmitool powers on each BMC; ipmipower and the event log see it.
mark=$(now)
for a in "${ADDRS[@]}"; do
    [[ $(itool "$a" chassis power on) == "Chassis Power Control: Up/On" ]] || fail "ipmitool on $a"
done
expect_stat_all on
expect_once "$mark" on "from=off to=on cause=on"

# 2. ipmipower powers all off in one run; ipmitool and the event log see it.
mark=$(now)
out=$(ipower "$ALL" --off)
[[ $(grep -c ': ok$' <<<"$out") -eq $N ]] || fail "ipmipower --off: $(tr '\n' ' ' <<<"$out")"
expect_itool_status off
expect_once "$mark" off "from=on to=off cause=off"

# 3. Power cycle (ipmi_sim's own: off now, on from a 1 s timer) by ipmitool, from on.
ipower "$ALL" --on >/dev/null
mark=$(now)
for a in "${ADDRS[@]}"; do
    [[ $(itool "$a" chassis power cycle) == "Chassis Power Control: Cycle" ]] || fail "ipmitool cycle $a"
done
wait_events "$mark" " power from=off to=on cause=timer" || fail "cycle: power did not come back"
expect_once "$mark" cycle "from=on to=off cause=cycle"
expect_stat_all on

# 4. The same cycle by ipmipower; ipmitool sees the end state.
mark=$(now)
out=$(ipower "$ALL" --cycle)
[[ $(grep -c ': ok$' <<<"$out") -eq $N ]] || fail "ipmipower --cycle: $(tr '\n' ' ' <<<"$out")"
wait_events "$mark" " power from=off to=on cause=timer" || fail "ipmipower cycle: power did not come back"
expect_once "$mark" cycle "from=on to=off cause=cycle"
expect_itool_status on

# 5. Boot device: set by ipmitool, logged with its flags, read back with the flags kept.
mark=$(now)
for i in "${!ADDRS[@]}"; do
    itool "${ADDRS[$i]}" chassis bootdev pxe options=persistent >/dev/null || fail "bootdev ${NAMES[$i]}"
    [[ $(count_events "${NAMES[$i]}" "$mark" " bootdev device=pxe persistent=1 ") == 1 ]] ||
        fail "bootdev not logged once on ${NAMES[$i]} (${MODELS[$i]})"
    back=$(itool "${ADDRS[$i]}" chassis bootparam get 5)
    grep -q 'Force PXE' <<<"$back" && grep -q 'Options apply to all future boots' <<<"$back" ||
        fail "bootparam read-back on ${NAMES[$i]}: $(tr '\n' ' ' <<<"$back")"
done
pass "bootdev pxe persistent logged and read back on all $N"

# 6. Quirk: diagnostic interrupt is answered with 0xCC (invalid data field), nothing changes.
mark=$(now)
a=${ADDRS[0]}
if out=$(itool "$a" chassis power diag 2>&1); then
    fail "diag accepted: $out"
fi
[[ $(count_events "${NAMES[0]}" "$mark" " reject op=diag cc=0xcc") == 1 ]] || fail "diag 0xCC not logged"
[[ $(count_events "${NAMES[0]}" "$mark" " power ") == 0 ]] || fail "diag changed power"
pass "diag interrupt rejected with 0xCC"

# 7. Accounts: operator may control power, user may only read.
OPW=$(<"$D/secrets/operator.pw")
UPW=$(<"$D/secrets/user.pw")
mark=$(now)
IPMI_PASSWORD=$OPW timeout 30 ipmitool -I lanplus -C 3 -H "$a" -U operator -L OPERATOR -E -N 2 -R 3 \
    chassis power off >/dev/null || fail "operator could not power off"
[[ $(IPMI_PASSWORD=$UPW timeout 30 ipmitool -I lanplus -C 3 -H "$a" -U user -L USER -E -N 2 -R 3 \
    chassis power status 2>/dev/null) == "Chassis Power is off" ]] || fail "user could not read status"
if IPMI_PASSWORD=$UPW timeout 30 ipmitool -I lanplus -C 3 -H "$a" -U user -L USER -E -N 2 -R 3 \
    chassis power on >/dev/null 2>&1; then
    fail "user account could power on"
fi
[[ $(count_events "${NAMES[0]}" "$mark" " request op=") == 1 ]] ||
    fail "expected only the operator's request in the log"
pass "operator controls power, user reads status only"

# 8. Wrong password, unsupported cipher suite 17: refused, nothing logged.
mark=$(now)
if IPMI_PASSWORD="not-$IPMI_PASSWORD" timeout 30 ipmitool -I lanplus -C 3 -H "$a" -U admin -E -N 1 -R 1 \
    chassis power on >/dev/null 2>&1; then
    fail "wrong password accepted"
fi
if timeout 30 ipmitool -I lanplus -C 17 -H "$a" -U admin -E -N 1 -R 1 chassis power on >/dev/null 2>&1; then
    fail "cipher suite 17 accepted (ipmi_sim implements 0-3 and 6)"
fi
[[ $(count_events "${NAMES[0]}" "$mark" " request ") == 0 ]] || fail "refused sessions reached the BMC"
pass "wrong password and cipher suite 17 refused"

# 9. Dead address: nothing listens; both clients report an error, not a state.
out=$(ipower "$DEAD" --stat --session-timeout 2000 2>&1)
grep -qE ': (on|off)$' <<<"$out" && fail "dead address reported a state: $out"
if timeout 30 ipmitool -I lanplus -C 3 -H "$DEAD" -U admin -E -N 1 -R 1 chassis power status >/dev/null 2>&1; then
    fail "ipmitool got an answer from the dead address"
fi
pass "dead address answers nothing ($(tr '\n' ' ' <<<"$out"))"

# 10. Hung BMC: SIGSTOP one sim; it stops answering; SIGCONT and it answers again.
"$FLEET" stop-one --pause --dir "$D" --host "${NAMES[2]}" >/dev/null || fail "pause"
if timeout 30 ipmitool -I lanplus -C 3 -H "${ADDRS[2]}" -U admin -E -N 1 -R 1 chassis power status >/dev/null 2>&1; then
    fail "paused sim answered"
fi
out=$(ipower "$ALL" --stat --session-timeout 2000)
[[ $(grep -cE ': (on|off)$' <<<"$out") -eq $((N - 1)) ]] || fail "ipmipower with one hung sim: $out"
"$FLEET" resume --dir "$D" --host "${NAMES[2]}" >/dev/null || fail "resume"
[[ $(itool "${ADDRS[2]}" chassis power status) == "Chassis Power is on" ]] || fail "resumed sim silent"
pass "paused sim hangs, resumed sim answers"

# 11. A sim that dies stays silent, and `fleet stop` still stops the rest.
"$FLEET" stop-one --dir "$D" --host "${NAMES[3]}" >/dev/null || fail "stop-one"
if timeout 30 ipmitool -I lanplus -C 3 -H "${ADDRS[3]}" -U admin -E -N 1 -R 1 chassis power status >/dev/null 2>&1; then
    fail "killed sim answered"
fi
pass "killed sim is silent"

# 12. Whole-run summary: no power request was executed twice anywhere.
summary=$("$FLEET" events --dir "$D" --summary)
for i in "${!NAMES[@]}"; do
    line=$(grep "^${NAMES[$i]} " <<<"$summary")
    want_cycle="req:cycle=2"
    grep -q " $want_cycle" <<<"$line" || fail "summary ${NAMES[$i]}: $line"
done
pass "summary: two cycles per sim, no duplicates"

# Secrets never appear in the harness's own outputs.
for pw in "$IPMI_PASSWORD" "$OPW" "$UPW"; do
    if grep -rqF -- "$pw" "$D/start.out" "$D/hosts.tsv" "$D/inventory.yaml" "$D"/bmc/*/events.log; then
        fail "a password leaked into a non-secret file"
    fi
done

"$FLEET" stop --dir "$D" >/dev/null
for pid in $(awk -F'\t' 'NR>1 && $8 != "0" {print $8}' "$D/hosts.tsv"); do
    if [[ -r /proc/$pid/cmdline ]] && tr '\0' ' ' </proc/"$pid"/cmdline | grep -q "$D/bmc/" &&
        ! grep -q '^State:.*Z' /proc/"$pid"/status; then
        fail "pid $pid still running after fleet stop"
    fi
done

if ((failures > 0)); then
    echo "$failures failure(s)"
    exit 1
fi
echo "PASS"
