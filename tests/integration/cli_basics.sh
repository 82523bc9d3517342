#!/usr/bin/env bash
# The CLI against the scripted test backend: selection, errors, output formats, exit codes,
# Ctrl-C.  No network.
source "$(dirname "$0")/lib/common.sh"
INV=$FP_SOURCE_DIR/inventory/demo-test.yaml
fp() { "$FLEETPOWER" -i "$INV" "$@"; }

expect_rc 1 "status of a mixed fleet exits 1" fp status @compute -t 1s
check "folded output" contains "$T/out" "node[001-040]: on"
check "failed hosts folded with their reason" contains "$T/out" 'node[081-084]: error: unknown user "admin"'
check "hung hosts time out naming the step" contains "$T/out" "node[085-086]: error: timed out waiting"

expect_rc 0 "all ok exits 0" fp status @rack1
expect_rc 3 "all failed exits 3" fp status @flaky
expect_rc 2 "empty selection is a usage error" fp status
check "empty selection explained" contains "$T/err" "no targets selected"
expect_rc 2 "unknown host" fp status node200
check "unknown host folded in the message" contains "$T/err" "unknown host node200"
expect_rc 2 "unknown group" fp status @rakc1
check "did you mean a group" contains "$T/err" "did you mean @rack1"
expect_rc 2 "mistyped command" fp stauts node001
check "did you mean a command" contains "$T/err" "did you mean 'status'"
expect_rc 2 "@all needs --all" fp off @all
expect_rc 0 "--all with exclusions" fp status --all -x @flaky -x @dead
check "exclusions applied" bash -c "! grep -q 'node08[1-6]' '$T/out'"

expect_rc 0 "list folds" fp list @rack1 @rack2
check "list prints one folded line" test "$(cat "$T/out")" = "node[001-080]"
expect_rc 0 "list --expand" fp list --expand node[001-003]
check "list --expand prints one per line" test "$(cat "$T/out")" = "$(printf 'node001\nnode002\nnode003')"
expect_rc 0 "list -o json" fp -o json list node001
check "list json has the protocol" contains "$T/out" '"protocol":"test"'

expect_rc 1 "json output" fp -o json status node[001-002,081] -t 1s
check "json is valid and has a summary" /usr/bin/python3 -c '
import json,sys; d=json.load(open(sys.argv[1]))
assert d["summary"]["total"]==3 and d["summary"]["failed"]==1 and d["summary"]["exit_code"]==1, d["summary"]
assert {h["host"] for h in d["hosts"]}=={"node001","node002","node081"}
assert [h for h in d["hosts"] if h["host"]=="node081"][0]["error"]=="auth"' "$T/out"
expect_rc 1 "jsonl output" fp -o jsonl status node[001-002,081] -t 1s
check "jsonl streams one line per host then a summary" /usr/bin/python3 -c '
import json,sys; lines=[json.loads(l) for l in open(sys.argv[1])]
assert [l["type"] for l in lines]==["host","host","host","summary"], lines' "$T/out"

# Ctrl-C: partial result and exit 130
set +e
"$FLEETPOWER" -i "$INV" status @compute -t 30s >"$T/int.out" 2>"$T/int.err" &
pid=$!
FP_PIDS+=("$pid")
sleep 1
kill -INT "$pid"
wait "$pid"; rc=$?
set -e
check "Ctrl-C exits 130 (got $rc)" test "$rc" = 130
check "Ctrl-C prints what was done" contains "$T/int.out" "node[001-040]: on"
check "in-flight hosts reported interrupted, naming the step" contains "$T/int.out" "node[085-086]: interrupted: waiting for"

# Ctrl-C during a state change: the audit log and the journal keep a line for every host
# that finished or was interrupted, and the run can be resumed.
export XDG_STATE_HOME=$T/state
set +e
"$FLEETPOWER" -i "$INV" --audit-log "$T/audit.log" on @compute --yes -t 30s >"$T/int2.out" 2>"$T/int2.err" &
pid=$!
FP_PIDS+=("$pid")
sleep 2
kill -INT "$pid"
wait "$pid"; rc=$?
set -e
check_eq "Ctrl-C of a power-on exits 130" "$rc" 130
check_eq "audit: one line per host, interrupted ones included" "$(grep -c '"action":"on"' "$T/audit.log")" 86
check_eq "audit: the two hung hosts are recorded as interrupted" "$(grep -c '"outcome":"interrupted' "$T/audit.log")" 2
run_id=$(sed -n "s/.*'fleetpower resume \([^']*\)'.*/\1/p" "$T/int2.err")
check "the interrupted run names its id" test -n "$run_id"
check "its journal has an end line" grep -q '"type":"end"' "$XDG_STATE_HOME/fleetpower/runs/$run_id.jsonl"
expect_rc 3 "resume retries only what did not succeed" "$FLEETPOWER" -i "$INV" --audit-log "$T/audit.log" resume "$run_id" -t 1s
check "resume acted on the 6 failed hosts only" test "$(grep -c . "$T/out")" = 2

# On a terminal a large destructive action asks first (script(1) provides the terminal).
printf 'n\n' | script -qec "'$FLEETPOWER' -i '$INV' --audit-log '$T/tty.log' off @rack1" /dev/null >"$T/tty.out" 2>&1 || true
check "on a terminal it asks, naming the hosts" grep -q "About to run 'off' on 40 targets: node\[001-040\]" "$T/tty.out"
check "answering no does nothing" test ! -s "$T/tty.log"
printf 'y\n' | script -qec "'$FLEETPOWER' -i '$INV' --audit-log '$T/tty.log' off @rack1" /dev/null >"$T/tty.out" 2>&1 || true
check_eq "answering yes acts on all 40" "$(grep -c '"action":"off"' "$T/tty.log")" 40
check "a progress line is drawn on the terminal" grep -q "done, 0 failed" "$T/tty.out"

# Configuration file: defaults that the command line overrides; errors name file:line and key.
printf 'output: json\ntimeout: 1s\n' >"$T/config"
FLEETPOWER_CONFIG=$T/config expect_rc 0 "config file sets defaults" "$FLEETPOWER" -i "$INV" status node001
check "output format from the config" contains "$T/out" '"summary"'
FLEETPOWER_CONFIG=$T/config expect_rc 0 "the command line overrides the config" "$FLEETPOWER" -i "$INV" -o text status node001
check_eq "text output when asked" "$(cat "$T/out")" "node001: on"
printf 'output: json\nfanuot: 10\n' >"$T/config"
FLEETPOWER_CONFIG=$T/config expect_rc 2 "a bad config is a usage error" "$FLEETPOWER" -i "$INV" status node001
check "config error names file, line and key" contains "$T/err" "$T/config:2:1: fanuot: unknown option 'fanuot' (did you mean 'fanout'?)"

# Inventory errors: file, line, key; exit 2
cat >"$T/bad.yaml" <<'YAML'
defaults: { protocol: ipmi }
groups:
  rack1:
    hosts: node[001-040]
    bmc: 127.1.0.[1-39]
    protocl: ipmi
YAML
expect_rc 2 "inventory check fails on a malformed inventory" "$FLEETPOWER" -i "$T/bad.yaml" inventory check
check "zip length error has file:line and key" contains "$T/err" "$T/bad.yaml:5:10: groups.rack1.bmc: 39 BMC addresses for 40 hosts"
check "unknown key with did you mean" contains "$T/err" "$T/bad.yaml:6:5: groups.rack1.protocl: unknown key 'protocl' (did you mean 'protocol'?)"
expect_rc 2 "commands refuse a malformed inventory" "$FLEETPOWER" -i "$T/bad.yaml" status node001

# Credentials file must be 0600
cat >"$T/creds.yaml" <<'YAML'
lab: { username: admin, password: Sekr1t-Do-Not-Print }
YAML
chmod 644 "$T/creds.yaml"
cat >"$T/inv.yaml" <<'YAML'
defaults: { protocol: ipmi, credentials: lab }
hosts:
  n1: { bmc: 127.2.0.1 }
YAML
expect_rc 2 "a 0644 credentials file is refused" "$FLEETPOWER" -i "$T/inv.yaml" --credentials "$T/creds.yaml" inventory check
check "refusal explains chmod 600" contains "$T/err" "chmod 600"
check "refusal does not print the password" bash -c "! grep -q Sekr1t '$T/out' '$T/err'"
chmod 600 "$T/creds.yaml"
expect_rc 0 "a 0600 credentials file is accepted" "$FLEETPOWER" -i "$T/inv.yaml" --credentials "$T/creds.yaml" inventory check
sed -i 's/lab:/lba:/' "$T/creds.yaml"
expect_rc 2 "undefined credentials are reported" "$FLEETPOWER" -i "$T/inv.yaml" --credentials "$T/creds.yaml" inventory check
check "undefined credentials named with a suggestion" contains "$T/err" "uses credentials 'lab'"

finish
