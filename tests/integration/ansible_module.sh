#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# contrib/ansible's fleetpower_power module run by Debian's ansible-core (connection local)
# against a simulated Redfish fleet: on, off, an idempotent second run that changes nothing,
# check mode that sends nothing to the BMCs (checked with fleetpower status and the simulator's
# own event log), a boot device, a cycle, a mixed result with a dead BMC, and the example
# playbook fanning out over two "management nodes", each with its own part of the fleet.
source "$(dirname "$0")/lib/common.sh"
SIM=${FLEETPOWER_SIM:?}
command -v ansible >/dev/null || { echo "ansible-core not installed (scripts/install-deps installs it)"; exit 77; }
[ -x "$SIM" ] || { echo "fleetpower-sim not built"; exit 77; }
AD=$FP_SOURCE_DIR/contrib/ansible
mkdir -p "$T/home" "$T/ans" "$T/state"
export HOME=$T/home LC_ALL=C.UTF-8 XDG_STATE_HOME=$T/state FLEETPOWER_CONFIG=$T/none.conf \
  ANSIBLE_LIBRARY=$AD/library ANSIBLE_LOCAL_TEMP=$T/ans/tmp ANSIBLE_REMOTE_TEMP=$T/ans/rtmp \
  ANSIBLE_PYTHON_INTERPRETER=/usr/bin/python3 ANSIBLE_NOCOLOR=1 ANSIBLE_RETRY_FILES_ENABLED=0 \
  ANSIBLE_INVENTORY_UNPARSED_WARNING=0 ANSIBLE_LOCALHOST_WARNING=0 ANSIBLE_DEPRECATION_WARNINGS=0

S=$T/sim
mkdir -p "$S"
# Six BMCs, all off; the sixth is dead (nothing listens).
"$SIM" --redfish 6 --address-base 127.94.0.1 --port 8443 --initial-power off --power-on-delay 200ms \
  --faults 6:down --state-dir "$S" --inventory-out "$S/inventory.yaml" --credentials-out "$S/credentials.yaml" \
  --quiet >"$S/out" 2>&1 &
FP_PIDS+=($!)
for _ in $(seq 300); do grep -qx ready "$S/out" && break; kill -0 "${FP_PIDS[-1]}" 2>/dev/null || break; sleep 0.1; done
grep -qx ready "$S/out" || { cat "$S/out"; exit 1; }
INV=$S/inventory.yaml CREDS=$S/credentials.yaml
fp() { "$FLEETPOWER" -i "$INV" --credentials "$CREDS" --audit-log "$T/audit.log" "$@"; }
accepted() { grep -c '"event":"reset".*"result":"accepted"' "$S/events.jsonl" || true; }
boots() { grep -c '"event":"boot"' "$S/events.jsonl" || true; }

# amod NAME JSON_ARGS [ansible options]: run the module once, ad hoc; ansible's minimal callback
# prints "localhost | CHANGED => {result}"; the result goes to $T/NAME.json.
amod() {
  local name=$1 args=$2; shift 2
  set +e
  ANSIBLE_STDOUT_CALLBACK=minimal ansible localhost -i localhost, -c local -m fleetpower_power -a "$args" "$@" \
    >"$T/$name.out" 2>"$T/$name.err"
  AMOD_RC=$?
  set -e
  /usr/bin/python3 -c '
import json, sys
text = open(sys.argv[1]).read()
print(json.dumps(json.loads(text[text.index("=>") + 2:])))' "$T/$name.out" >"$T/$name.json" 2>"$T/$name.pyerr" || {
    echo "    cannot read the result of $name:"; sed 's/^/    /' "$T/$name.out" "$T/$name.err" | head -30; }
}
# res NAME PYTHON_EXPR: evaluate EXPR with r = the module's result
res() { /usr/bin/python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$T/$1.json" "$2" 2>&1; }
args() {  # args STATE NODES [extra json members]
  printf '{"nodes": ["%s"], "state": "%s", "executable": "%s", "inventory": "%s", "credentials": "%s", "timeout": "3s"%s}' \
    "$2" "$1" "$FLEETPOWER" "$INV" "$CREDS" "${3:-}"
}

check "ansible-doc reads the module's documentation" bash -c "ansible-doc -M '$AD/library' fleetpower_power >/dev/null"
expect_rc 0 "fleetpower status before" fp status 'rf[0001-0005]'
check "five off" contains "$T/out" "rf[0001-0005]: off"

amod on1 "$(args on 'rf[0001-0005]')"
check_eq "on: ansible ok" "$AMOD_RC" 0
check_eq "on: changed" "$(res on1 'r["changed"]')" True
check_eq "on: every host changed" "$(res on1 'sorted(r["changed_hosts"])')" "['rf0001', 'rf0002', 'rf0003', 'rf0004', 'rf0005']"
check_eq "on: per-host result" "$(res on1 'r["hosts"]["rf0003"]["result"]')" "on"
check_eq "on: the command used JSON output and --yes" "$(res on1 '"--output" in r["cmd"] and "json" in r["cmd"] and "--yes" in r["cmd"]')" True
expect_rc 0 "fleetpower status after on" fp status 'rf[0001-0005]'
check "five on" contains "$T/out" "rf[0001-0005]: on"

n=$(accepted)
amod on2 "$(args on 'rf[0001-0005]')"
check_eq "on again: ansible ok" "$AMOD_RC" 0
check_eq "on again: not changed" "$(res on2 'r["changed"]')" False
check_eq "on again: every host already on" "$(res on2 'sorted(set(h["result"] for h in r["hosts"].values()))')" "['already on']"
check_eq "on again: nothing sent to the BMCs" "$(accepted)" "$n"

amod offcheck "$(args off 'rf[0001-0005]')" --check
check_eq "off in check mode: ansible ok" "$AMOD_RC" 0
check_eq "off in check mode: would change" "$(res offcheck 'r["changed"]')" True
check_eq "off in check mode: per-host 'would power off'" "$(res offcheck 'r["hosts"]["rf0001"]["result"]')" "would power off"
check_eq "off in check mode: ran with --dry-run" "$(res offcheck '"--dry-run" in r["cmd"]')" True
check_eq "off in check mode: nothing sent to the BMCs (simulator's log)" "$(accepted)" "$n"
expect_rc 0 "fleetpower status after check mode" fp status 'rf[0001-0005]'
check "still on after check mode" contains "$T/out" "rf[0001-0005]: on"

b=$(boots)
amod bootcheck "$(args bootdev 'rf[0001-0002]' ', "bootdev": "pxe", "persistent": true')" --check
check_eq "bootdev in check mode: would change" "$(res bootcheck 'r["changed"]')" True
check_eq "bootdev in check mode: no boot override sent" "$(boots)" "$b"
amod boot "$(args bootdev 'rf[0001-0002]' ', "bootdev": "pxe", "persistent": true')"
check_eq "bootdev: ansible ok" "$AMOD_RC" 0
check_eq "bootdev: changed" "$(res boot 'sorted(r["changed_hosts"])')" "['rf0001', 'rf0002']"
check "bootdev: the BMCs got pxe, continuous" /usr/bin/python3 -c '
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
b = {e["host"]: e for e in ev if e.get("event") == "boot"}
assert set(b) == {"rf0001", "rf0002"}, b
assert all(e["target"] == "Pxe" and e["enabled"] == "Continuous" for e in b.values()), b' "$S/events.jsonl"

amod cycle "$(args cycled rf0003)"
check_eq "cycled: changed" "$(res cycle 'r["changed_hosts"]')" "['rf0003']"
check_eq "cycled: per-host result" "$(res cycle 'r["hosts"]["rf0003"]["result"].startswith("on (cycle")')" True

amod off "$(args off 'rf[0001-0005]')"
check_eq "off: ansible ok" "$AMOD_RC" 0
check_eq "off: every host changed" "$(res off 'len(r["changed_hosts"])')" 5
expect_rc 0 "fleetpower status after off" fp status 'rf[0001-0005]'
check "five off" contains "$T/out" "rf[0001-0005]: off"

# A mixed result: rf0006's BMC is dead.  The task fails, naming the host and the reason; the
# five that worked are reported changed.
amod mixed "$(args on 'rf[0001-0006]')"
check "mixed: ansible reports the failure" test "$AMOD_RC" != 0
check "mixed: the task failed" grep -q '^localhost | FAILED!' "$T/mixed.out"
check_eq "mixed: the message names the dead host and why" "$(res mixed 'r["msg"].startswith("1 of 6 hosts failed: rf0006: connection: ")')" True
check_eq "mixed: failed_hosts" "$(res mixed 'list(r["failed_hosts"])')" "['rf0006']"
check_eq "mixed: the five that worked changed" "$(res mixed 'sorted(r["changed_hosts"])')" "['rf0001', 'rf0002', 'rf0003', 'rf0004', 'rf0005']"
check_eq "mixed: changed is true" "$(res mixed 'r["changed"]')" True
expect_rc 1 "fleetpower status after the mixed run" fp status 'rf[0001-0006]'
check "the five are on" contains "$T/out" "rf[0001-0005]: on"
amod partial "$(args on 'rf[0001-0006]' ', "allow_partial": true')"
check_eq "allow_partial: ansible ok" "$AMOD_RC" 0
check_eq "allow_partial: not changed (the five were on)" "$(res partial 'r["changed"]')" False
check "allow_partial: the task succeeded" grep -q '^localhost | SUCCESS' "$T/partial.out"
check "allow_partial: the failure is a warning" grep -q 'WARNING.*1 of 6 hosts failed: rf0006' "$T/partial.err"
amod usage "$(args on 'rf0099')"
check "an unknown host fails the task" test "$AMOD_RC" != 0
check_eq "usage error explained" "$(res usage '"unknown host rf0099" in r["msg"]')" True

# The example playbook: two management nodes (both this machine here), each with its own
# fleetpower inventory holding its part of the fleet; one play powers both parts off.
/usr/bin/python3 - "$S/bmcs.tsv" "$S/ca.pem" "$T" <<'PY'
import sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip() and not l.startswith("#")]
for name, part in (("a", rows[0:3]), ("b", rows[3:5])):
    with open(f"{sys.argv[3]}/mgmt-{name}.yaml", "w") as f:
        f.write(f'defaults: {{ protocol: redfish, credentials: sim, ca_file: "{sys.argv[2]}" }}\n')
        f.write("groups:\n  compute:\n")
        f.write(f'    hosts: "{",".join(r[1] for r in part)}"\n    bmc: "{",".join(r[2] for r in part)}"\n    port: {part[0][3]}\n')
PY
cat >"$T/mgmt.yml" <<YAML
fleetpower_mgmt:
  hosts:
    mgmt-a: { ansible_connection: local, fleetpower_inventory: "$T/mgmt-a.yaml" }
    mgmt-b: { ansible_connection: local, fleetpower_inventory: "$T/mgmt-b.yaml" }
  vars:
    fleetpower_credentials: "$CREDS"
    fleetpower_executable: "$FLEETPOWER"
YAML
expect_rc 0 "example playbook: off @compute through two management nodes" \
  ansible-playbook -i "$T/mgmt.yml" "$AD/power.yml" -e selection=@compute -e state=off
check "mgmt-a reported a change" grep -qE 'mgmt-a +: ok=2 +changed=1' "$T/out"
check "mgmt-b reported a change" grep -qE 'mgmt-b +: ok=2 +changed=1' "$T/out"
check "mgmt-a powered its three off" grep -q '"3 changed, 0 failed"' "$T/out"
check "mgmt-b powered its two off" grep -q '"2 changed, 0 failed"' "$T/out"
expect_rc 0 "fleetpower status after the playbook" fp status 'rf[0001-0005]'
check "all five off" contains "$T/out" "rf[0001-0005]: off"
n=$(accepted)
expect_rc 0 "example playbook in check mode" \
  ansible-playbook -i "$T/mgmt.yml" "$AD/power.yml" -e selection=@compute -e state=on --check
expect_rc 0 "fleetpower status after the check-mode playbook" fp status 'rf[0001-0005]'
check "still all five off" contains "$T/out" "rf[0001-0005]: off"
check_eq "nothing sent by the check-mode playbook" "$(accepted)" "$n"
finish
