#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# One simulated fleet mixing every vendor personality (fleetpower-sim --vendor-mix), inventory
# without any vendor key (vendor: auto).  probe names each BMC's vendor plugin; off, on, cycle
# and bootdev pxe succeed on every vendor, and the simulator's event log shows that the requests
# respected each vendor's quirks: no PushPowerButton anywhere (refused by OpenBMC and Lenovo),
# no refused Reset or Boot PATCH, ForceOff-wait-On where PowerCycle is absent (iLO, Lenovo,
# Cray EX), PowerCycle where offered (iDRAC, OpenBMC), the Boot PATCH through the settings URI on
# AMI, BootSourceOverrideMode echoed on Supermicro; bootdev is refused up front on Cray EX (no
# Boot object) without a PATCH being sent.
# Vendor trees are read at run time from $FLEETPOWER_MOCKUPS or ../shared/redfish-mockups.
set -u
: "${FLEETPOWER:?}"
. "${FP_SOURCE_DIR:?}/tests/sim/testlib.sh"

export FLEETPOWER_MOCKUPS="${FLEETPOWER_MOCKUPS:-$FP_SOURCE_DIR/../shared/redfish-mockups}"
for t in bmclib-dell-idrac sushy-oem-idrac-json_samples csm-DL325 bmclib-lenovo-xcc \
  csm-OpenBMC-stock dmtf-public-rackmount1 dmtf-public-bladed; do
  if [[ ! -d "$FLEETPOWER_MOCKUPS/$t" ]]; then
    echo "SKIP: $FLEETPOWER_MOCKUPS/$t not present (shared mockups are optional)"
    exit 77
  fi
done

MIX=generic,dell,hpe,hpe-ilo4,hpe-ilo6,supermicro,lenovo,openbmc,ami,cray
sim_start mixed --redfish 10 --vendor-mix $MIX --address-base 127.72.0.1 --port 8443 \
  --power-on-delay 300ms --power-off-delay 300ms --initial-power on || exit 1
TSV="$SIM_DIR/state/bmcs.tsv"
check "inventory has no vendor key (auto-detection)" bash -c "! grep -q 'vendor:' '$INV'"

FP=("$FLEETPOWER" -i "$INV" --credentials "$CRED" -o jsonl -t 30s --yes)
since=0
mark() { since=$(wc -l <"$EVENTS"); }

# verify NAME PYTHON: the last command's JSON lines ($T/out.jsonl), the events since the mark,
# the BMC table (vendor per host) in scope as hosts, events, vendor_of, ev().
verify() {
  local name=$1 code=$2
  tail -n +"$((since + 1))" "$EVENTS" >"$T/ev.jsonl"
  if $PY - "$T/out.jsonl" "$T/ev.jsonl" "$TSV" <<PY; then ok "$name"; else fail "$name"; fi
import json, sys
hosts = {}
for l in open(sys.argv[1]):
    if l.strip():
        j = json.loads(l)
        if j.get("type") == "host": hosts[j["host"]] = j
events = [json.loads(l) for l in open(sys.argv[2]) if l.strip()]
vendor_of, plugin_of = {}, {}
for l in open(sys.argv[3]):
    if l.startswith("#"): continue
    f = l.rstrip("\n").split("\t")
    vendor_of[f[1]] = f[8]; plugin_of[f[1]] = f[9]
def v(host): return vendor_of[host.split("-n")[0]]
def ev(kind, host=None, **kw):
    return [e for e in events if e.get("event") == kind and (host is None or e.get("host") == host)
            and all(e.get(k) == val for k, val in kw.items())]
try:
$code
except AssertionError as e:
    print("  assertion:", e); sys.exit(1)
PY
}

# --- probe: the plugin chosen for each BMC ------------------------------------------------------
mark
"${FP[@]}" probe @rf >"$T/out.jsonl" 2>"$T/err"
verify "probe answers on all 11 systems" '
    assert len(hosts) == 11, sorted(hosts)
    bad = {h: j.get("reason") for h, j in hosts.items() if not j["ok"]}
    assert not bad, bad'
# The `plugin` fact comes with the engine's use of the plugin registry (issue 6 item 3).  A build
# whose probe reports no plugin on any BMC predates that wiring: then only this check is left out
# (said so on the output); as soon as any BMC reports one, every BMC must report the right one.
if grep -q '"plugin"' "$T/out.jsonl"; then
verify "probe: vendor: auto picks each BMC's plugin (fact plugin)" '
    wrong = {h: (j.get("facts", {}).get("plugin"), plugin_of[h.split("-n")[0]]) for h, j in hosts.items()
             if j.get("facts", {}).get("plugin") != plugin_of[h.split("-n")[0]]}
    assert not wrong, wrong'
else
  echo "NOTE: this fleetpower's probe reports no vendor plugin (registry not wired into the Redfish engine yet): plugin check left out"
fi

# --- off -----------------------------------------------------------------------------------------
mark
"${FP[@]}" off @rf >"$T/out.jsonl" 2>"$T/err"
verify "off: ok on every vendor" '
    bad = {h: j.get("reason") for h, j in hosts.items() if not j["ok"]}
    assert len(hosts) == 11 and not bad, bad'
verify "off: every system reached Off; no refused reset" '
    for h in hosts: assert ev("power", h, to="Off"), h
    assert not [e for e in events if e.get("event") == "reset" and e.get("result") == "rejected"], events'

# --- on ------------------------------------------------------------------------------------------
mark
"${FP[@]}" on @rf >"$T/out.jsonl" 2>"$T/err"
verify "on: ok on every vendor, each powered On" '
    bad = {h: j.get("reason") for h, j in hosts.items() if not j["ok"]}
    assert len(hosts) == 11 and not bad, bad
    for h in hosts: assert ev("power", h, to="On"), h
    assert not [e for e in events if e.get("event") == "reset" and e.get("result") == "rejected"]'

# --- cycle ---------------------------------------------------------------------------------------
mark
"${FP[@]}" cycle @rf >"$T/out.jsonl" 2>"$T/err"
verify "cycle: ok on every vendor" '
    bad = {h: j.get("reason") for h, j in hosts.items() if not j["ok"]}
    assert len(hosts) == 11 and not bad, bad'
verify "cycle: PowerCycle where offered (dell, openbmc), ForceOff-wait-On elsewhere (hpe*, lenovo, cray), no refused reset" '
    assert not [e for e in events if e.get("event") == "reset" and e.get("result") == "rejected"]
    for h in hosts:
        types = [e["reset_type"] for e in ev("reset", h, result="accepted")]
        if v(h) in ("dell", "openbmc"):
            assert types == ["PowerCycle"], (h, types)
        elif v(h) in ("hpe", "hpe-ilo4", "hpe-ilo6", "lenovo", "cray", "supermicro"):
            assert "PowerCycle" not in types and types[:1] == ["ForceOff"] and types[-1] in ("On", "ForceOn"), (h, types)
        assert ev("power", h, to="Off") and ev("power", h, to="On"), h'

# --- bootdev -------------------------------------------------------------------------------------
mark
"${FP[@]}" bootdev pxe @rf >"$T/out.jsonl" 2>"$T/err"
verify "bootdev pxe: ok on every vendor with a Boot object; refused up front on Cray EX" '
    assert len(hosts) == 11
    for h, j in hosts.items():
        if v(h) == "cray":
            assert not j["ok"] and j.get("error") == "unsupported", (h, j)
        else:
            assert j["ok"], (h, j.get("reason"))'
verify "bootdev: AMI PATCHed through the settings URI; Supermicro echoed the mode; Lenovo once" '
    for h in hosts:
        b = ev("boot", h)
        if v(h) == "cray":
            assert not b and not ev("patch", h), (h, b)
            continue
        assert b and b[-1]["target"] == "Pxe" and b[-1]["enabled"] == "Once", (h, b)
        if v(h) == "ami": assert b[-1]["via"] == "settings", b
        else: assert b[-1]["via"] == "system", (h, b)
        if v(h) == "supermicro": assert b[-1]["mode"] in ("UEFI", "Legacy"), b
    refused = [e for e in events if e.get("event") == "patch" and e.get("result") == "rejected"
               and e.get("reason") != "if_match_required"]
    assert not refused, refused'

# --- whole run -----------------------------------------------------------------------------------
since=0
: >"$T/out.jsonl"
verify "never sent PushPowerButton or GracefulRestart (iDRAC) to any BMC" '
    sent = [e for e in events if e.get("event") == "reset" and e.get("reset_type") in ("PushPowerButton",)]
    assert not sent, sent
    assert not [e for e in events if e.get("event") == "restart" and e.get("quirk")], events'
check "simulator still alive" sim_alive
finish
