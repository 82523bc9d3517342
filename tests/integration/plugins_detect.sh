#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Vendor plugins end to end, against fleetpower-sim (Redfish and IPMI BMCs in one process):
#  - `fleetpower plugins` lists built-in and site plugins; a .so built for another plugin API
#    version and a malformed profile are refused with the file (line, key) named;
#  - a data-only profile dropped into --plugin-dir changes which ResetType the BMC receives,
#    without a rebuild (the simulator's events.jsonl shows what it received);
#  - protocol: auto over a mixed fleet picks Redfish or IPMI per host;
#  - vendor: auto detection that needs the Manager reads it; probe --write-inventory records
#    protocol and vendor, the file loads, and a run with it does no detection requests.
set -euo pipefail
: "${FLEETPOWER:?}" "${FLEETPOWER_SIM:?}" "${FP_SOURCE_DIR:?}"
[[ -x $FLEETPOWER && -x $FLEETPOWER_SIM ]] || { echo "SKIP: fleetpower or fleetpower-sim not built"; exit 77; }
[[ -n ${FP_TEST_PLUGIN_BADAPI:-} && -f ${FP_TEST_PLUGIN_BADAPI:-} ]] || { echo "SKIP: test plugin .so not built"; exit 77; }

work=$(mktemp -d)
sim_pid=
cleanup() {
  if [[ -n $sim_pid ]]; then kill "$sim_pid" 2>/dev/null || true; wait "$sim_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
cd "$work"
fail=0
ok() { echo "ok: $*"; }
bad() { echo "FAIL: $*"; fail=1; }

FLEETPOWER_SIM_LOG_GETS=1 FLEETPOWER_SIM_PASSWORD="plug-$RANDOM-pw" "$FLEETPOWER_SIM" --redfish 2 --ipmi 2 --http \
  --address-base 127.23.1.1 --port 18623 --ipmi-address-base 127.23.2.1 --ipmi-port 18623 \
  --state-dir st --inventory-out rf.yaml --credentials-out cred.yaml --ipmi-inventory-out ipmi.yaml \
  --ipmi-credentials-out icred.yaml --quiet --power-off-delay 500ms --initial-power on \
  --ipmi-initial-power on >sim.out 2>sim.err &
sim_pid=$!
for _ in $(seq 100); do grep -q ready sim.out 2>/dev/null && break; sleep 0.1; done
grep -q ready sim.out || { echo "simulator did not start"; cat sim.err; exit 1; }

# One inventory for the mixed fleet: every host protocol auto, vendor auto (the defaults).
cat >mix.yaml <<'EOF'
defaults: { credentials: sim, scheme: http, port: 18623 }
groups:
  rf:
    hosts: "rf[0001-0002]"
    bmc: "127.23.1.[1-2]"
  ipmi:
    hosts: "ipmi[0001-0002]"
    bmc: "127.23.2.[1-2]"
    vars: { cipher_suite: 17, privilege: admin }
EOF
FP=("$FLEETPOWER" --credentials cred.yaml -t 10s --yes)
mark() { wc -l <st/events.jsonl; }
since() { tail -n +"$(($1 + 1))" st/events.jsonl; }

# --- 1. plugin listing, site plugins, refusals ------------------------------------------------
mkdir pd bad
cat >pd/fleetsim.yaml <<'EOF'
# A site profile for the simulator's BMCs: graceful power-off first.
name: fleetsim-site
version: "7.1"
api_version: 1
extends: generic-redfish
priority: 10
match:
  - redfish_vendor: "FleetSim*"
redfish:
  reset:
    off: [GracefulShutdown, ForceOff]
EOF
cp "$FP_TEST_PLUGIN_BADAPI" bad/old-vendor.so
printf 'name: broken\napi_version: 1\ntransports: [redfish]\nredfish:\n  reset:\n    off: [ForcOff]\n' >bad/broken.yaml

"$FLEETPOWER" plugins >list.txt
grep -Eq '^  generic-redfish +1\.0 +redfish +built-in$' list.txt && grep -Eq '^  generic-ipmi +1\.0 +ipmi +built-in$' list.txt &&
  ok "built-in plugins listed" || { bad "built-in plugins not listed"; cat list.txt; }

"$FLEETPOWER" plugins --plugin-dir pd >list.txt
grep -Eq '^  fleetsim-site +7\.1 +redfish +pd/fleetsim.yaml$' list.txt && ok "site profile listed with its file" ||
  { bad "site profile not listed"; cat list.txt; }

rc=0
"$FLEETPOWER" plugins --plugin-dir pd --plugin-dir bad >list.txt 2>err.txt || rc=$?
[[ $rc == 1 ]] && ok "refused plugins make 'plugins' exit 1" || bad "exit $rc with refused plugins"
grep -q "bad/old-vendor.so: refused: built for plugin API version 99, this fleetpower speaks version 1" err.txt &&
  ok "wrong API version refused naming the file and both versions" || { bad "no API version refusal"; cat err.txt; }
grep -q "bad/broken.yaml:6:[0-9]*: redfish.reset.off: 'ForcOff' is not a Redfish ResetType (did you mean 'ForceOff'?)" err.txt &&
  ok "malformed profile names file, line and key" || { bad "no schema error"; cat err.txt; }
grep -q "fleetsim-site" list.txt && ! grep -q "test-badapi\|broken" list.txt && ok "good plugins still load" ||
  { bad "listing after refusals"; cat list.txt; }

# --- 2. a data-only profile changes behaviour without a rebuild -------------------------------
m=$(mark)
"${FP[@]}" -i mix.yaml off rf0001 -o jsonl >out.jsonl
since "$m" | grep '"event":"reset"' | grep -q '"host":"rf0001".*"reset_type":"ForceOff"' &&
  ok "built-in generic profile: off sends ForceOff" || { bad "generic off"; since "$m" | grep reset; }
"${FP[@]}" -i mix.yaml on rf0001 >/dev/null
m=$(mark)
"${FP[@]}" -i mix.yaml --plugin-dir pd off rf0001 -o jsonl >out.jsonl
since "$m" | grep '"event":"reset"' | grep -q '"host":"rf0001".*"reset_type":"GracefulShutdown"' &&
  ok "site profile: off sends GracefulShutdown" || { bad "site profile off"; since "$m" | grep reset; cat out.jsonl; }
grep -q '"ok":true' out.jsonl || { bad "off with the site profile failed"; cat out.jsonl; }

# --- 3. protocol: auto over a mixed fleet -----------------------------------------------------
m=$(mark)
"${FP[@]}" -i mix.yaml status --all -o jsonl >out.jsonl
python3 - <<'PY' && ok "protocol auto: Redfish for rf*, IPMI for ipmi*" || bad "protocol auto choices"
import json
hosts = {j["host"]: j for j in map(json.loads, open("out.jsonl")) if j.get("type") == "host"}
want = {"rf0001": "redfish", "rf0002": "redfish", "ipmi0001": "ipmi", "ipmi0002": "ipmi"}
got = {h: (j["ok"], j["facts"].get("protocol")) for h, j in hosts.items()}
assert got == {h: (True, p) for h, p in want.items()}, got
PY
since "$m" >ev.jsonl
python3 - <<'PY' && ok "each BMC was spoken to in its own protocol only" || bad "protocol traffic"
import json
ev = [json.loads(l) for l in open("ev.jsonl") if l.strip()]
ipmi = {e["address"] for e in ev if e.get("proto") == "ipmi" and e.get("event") == "session"}
rf = {e["address"] for e in ev if e.get("proto") != "ipmi" and e.get("event") == "session"}
assert ipmi == {"127.23.2.1", "127.23.2.2"}, ipmi
assert rf == {"127.23.1.1", "127.23.1.2"}, rf
PY

# --- 4. detection through the Manager, probe --write-inventory, no detection afterwards --------
cat >pd/fleetsim-bmc.yaml <<'EOF'
name: fleetsim-bmc
version: "1.0"
api_version: 1
extends: generic-redfish
priority: 20
match:
  - redfish_vendor: "FleetSim*"
    manager_model: "FleetSim BMC*"
EOF
m=$(mark)
"${FP[@]}" -i mix.yaml --plugin-dir pd status rf0002 >/dev/null
since "$m" | grep '"event":"get"' | grep -q '"path":"/redfish/v1/Managers' &&
  ok "vendor auto with a Manager rule reads the Manager" || { bad "no Manager read for detection"; since "$m" | grep get; }

"${FP[@]}" -i mix.yaml --plugin-dir pd probe --all -o jsonl --write-inventory probed.yaml >probe.jsonl
python3 - <<'PY' && ok "probe shows protocols answered and the plugin chosen" || { bad "probe facts"; cat probe.jsonl; }
import json
hosts = {j["host"]: j["facts"] for j in map(json.loads, open("probe.jsonl")) if j.get("type") == "host"}
for h in ("rf0001", "rf0002"):
    assert hosts[h]["protocols"] == "redfish" and hosts[h]["plugin"] == "fleetsim-bmc", hosts[h]
for h in ("ipmi0001", "ipmi0002"):
    assert hosts[h]["protocols"] == "ipmi" and hosts[h]["plugin"] == "generic-ipmi", hosts[h]
PY
grep -q '^include: ' probed.yaml && grep -q 'rf0001: {protocol: "redfish", vendor: "fleetsim-bmc", system: "1"}' probed.yaml &&
  grep -q 'ipmi0002: {protocol: "ipmi", vendor: "generic-ipmi", cipher_suite: "17"}' probed.yaml &&
  ok "--write-inventory records protocol, vendor, system, cipher suite" || { bad "overlay content"; cat probed.yaml; }
"$FLEETPOWER" -i probed.yaml --credentials cred.yaml --plugin-dir pd inventory check >check.txt 2>&1 && ok "the overlay loads" ||
  { bad "overlay does not load"; cat check.txt; }

m=$(mark)
"${FP[@]}" -i probed.yaml --plugin-dir pd status --all -o jsonl >out.jsonl
grep -c '"ok":true' out.jsonl | grep -qx 4 || { bad "status with the overlay"; cat out.jsonl; }
if since "$m" | grep '"event":"get"' | grep -q '/Managers'; then
  bad "a run with the overlay still read the Manager"; since "$m" | grep get
else
  ok "a run with the overlay does no detection requests"
fi
grep -q '"protocol":"auto"' out.jsonl && bad "overlay did not pin the protocol" || ok "the overlay pins the protocol"

exit $fail
