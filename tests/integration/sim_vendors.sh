#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# fleetpower-sim vendor personalities (--vendor-mix): one fleet with every vendor, each one's
# quirk observable with curl: wrong usage gets the answer that BMC family gives and an event in
# events.jsonl, right usage works.  IPMI BMCs of the same mix answer Get Device ID (ipmitool
# mc info) with the vendor's manufacturer and product ids.
# Vendor trees are read at run time from $FLEETPOWER_MOCKUPS or ../shared/redfish-mockups.
set -u
. "${FP_SOURCE_DIR:?}/tests/sim/testlib.sh"

export FLEETPOWER_MOCKUPS="${FLEETPOWER_MOCKUPS:-$FP_SOURCE_DIR/../shared/redfish-mockups}"
for t in bmclib-dell-idrac sushy-oem-idrac-json_samples csm-DL325 bmclib-lenovo-xcc \
  csm-OpenBMC-stock dmtf-public-rackmount1 dmtf-public-bladed; do
  if [[ ! -d "$FLEETPOWER_MOCKUPS/$t" ]]; then
    echo "SKIP: $FLEETPOWER_MOCKUPS/$t not present (shared mockups are optional)"
    exit 77
  fi
done
command -v ipmitool >/dev/null || { echo "SKIP: ipmitool not installed"; exit 77; }

MIX=generic,dell,hpe,hpe-ilo4,hpe-ilo6,supermicro,lenovo,openbmc,ami,cray
BASE=127.71.0
export FLEETPOWER_SIM_PASSWORD="vendors-$RANDOM-$RANDOM"
sim_start vendors --redfish 10 --vendor-mix $MIX --address-base $BASE.1 --port 8443 \
  --power-on-delay 500ms --power-off-delay 500ms --ipmi 10 --ipmi-address-base 127.73.0.1 \
  --ipmi-port 6623 --ipmi-inventory-out "$T/ipmi-inv.yaml" --ipmi-credentials-out "$T/ipmi-cred.yaml" \
  --inventory-vendors || exit 1
TSV="$SIM_DIR/state/bmcs.tsv"
u() { echo "https://$BASE.$1:8443$2"; }
post() { acurl -w '\n%{http_code}' -H 'Content-Type: application/json' -X POST -d "$2" "$1"; }
patch() { acurl -w '\n%{http_code}' -H 'Content-Type: application/json' -X PATCH "$@"; }
ends() { [[ "$1" == *"$2" ]]; }

check "bmcs.tsv: vendor and plugin columns" grep -qP '^2\trf0002\t127.71.0.2\t8443\tdell\tSystem.Embedded.1\tnone\t\S+\tdell\tdell-idrac$' "$TSV"
check "bmcs.tsv: cray serves Node0,Node1 for hpe-cray-ex" grep -qP '^10\trf0010\t.*\tcray\tNode0,Node1\t.*\tcray\thpe-cray-ex$' "$TSV"
check "inventory: vendor key per group (--inventory-vendors)" grep -q 'vendor: "ami-megarac"' "$INV"

# --- Dell iDRAC: System.Embedded.1; GracefulRestart is a hard reset on this firmware --------------
S=/redfish/v1/Systems/System.Embedded.1
check "dell: Systems/1 does not exist (404)" ends "$(acurl -o /dev/null -w '%{http_code}' "$(u 2 /redfish/v1/Systems/1)")" 404
check "dell: manager iDRAC.Embedded.1 served" bash -c "curl -sS -K '$SIM_DIR/curl.cfg' --cacert '$CA' $(u 2 /redfish/v1/Managers/iDRAC.Embedded.1) | grep -q '14G Monolithic'"
out=$(post "$(u 2 $S/Actions/ComputerSystem.Reset)" '{"ResetType":"GracefulRestart"}')
check "dell: GracefulRestart accepted (204)" ends "$out" 204
check "dell: event restart hard=true quirk=graceful_restart_is_hard" events_has "e.get('bmc')==2 and e.get('event')=='restart' and e['hard'] is True and e.get('quirk')=='graceful_restart_is_hard'"

# --- HPE iLO 5/4/6: success in an error envelope; OEM power button; strict state --------------------
out=$(post "$(u 3 /redfish/v1/Systems/1/Actions/ComputerSystem.Reset)" '{"ResetType":"On"}')
check "hpe: On while On -> 400 InvalidOperationForSystemState" bash -c '[[ "$0" == *InvalidOperationForSystemState*400 ]]' "$out"
check "hpe: event reset rejected state:On" events_has "e.get('bmc')==3 and e.get('reason')=='state:On'"
BTN=/redfish/v1/Systems/1/Actions/Oem/Hpe/HpeComputerSystemExt.PowerButton
out=$(post "$(u 3 $BTN)" '{"PushType":"Squeeze"}')
check "hpe: OEM button with a bad PushType -> 400 ActionParameterValueNotInList" bash -c '[[ "$0" == *ActionParameterValueNotInList*400 ]]' "$out"
out=$(post "$(u 3 $BTN)" '{"PushType":"PressAndHold"}')
check "hpe: OEM PressAndHold -> 200 with the Base Success envelope" bash -c '[[ "$0" == *'"'"'"error"'"'"'*Base.1.4.Success*200 ]]' "$out"
check "hpe: event reset via oem, then power Off" events_has "e.get('bmc')==3 and e.get('via')=='oem' and e.get('reset_type')=='Oem.PowerButton.PressAndHold'"
check "hpe: PressAndHold powered it off" events_has "e.get('bmc')==3 and e.get('event')=='power' and e['to']=='Off'"
m4=$(acurl "$(u 4 /redfish/v1/Managers/1)"); m6=$(acurl "$(u 5 /redfish/v1/Managers/1)"); m5=$(acurl "$(u 3 /redfish/v1/Managers/1)")
check "hpe-ilo4: Manager Model iLO 4, FirmwareVersion iLO 4 v2.82" bash -c '[[ "$0" == *'"'"'"Model": "iLO 4"'"'"'* || "$0" == *'"'"'"Model":"iLO 4"'"'"'* ]] && [[ "$0" == *"iLO 4 v2.82"* ]]' "$m4"
check "hpe-ilo6: Manager FirmwareVersion iLO 6 v1.55" grep -q 'iLO 6 v1.55' <<<"$m6"
check "hpe: Manager FirmwareVersion iLO 5 v2.46 (as captured)" grep -q 'iLO 5 v2.46' <<<"$m5"

# --- Supermicro: malformed ResetType list; Boot PATCH must echo BootSourceOverrideMode -------------
sys=$(acurl "$(u 6 /redfish/v1/Systems/1)")
check "supermicro: ResetType list is one string, not an array" $PY -c "
import json,sys; d=json.loads(sys.argv[1]); v=d['Actions']['#ComputerSystem.Reset']['ResetType@Redfish.AllowableValues']
sys.exit(0 if isinstance(v, str) and 'ForceOff' in v else 1)" "$sys"
check "supermicro: Vendor Supermicro in the service root" bash -c "curl -sS --cacert '$CA' $(u 6 /redfish/v1) | grep -q Supermicro"
out=$(patch -d '{"Boot":{"BootSourceOverrideTarget":"Pxe","BootSourceOverrideEnabled":"Once"}}' "$(u 6 /redfish/v1/Systems/1)")
check "supermicro: Boot PATCH without the Mode -> 400 PropertyMissing" bash -c '[[ "$0" == *PropertyMissing*400 ]]' "$out"
check "supermicro: event patch rejected missing:Boot/BootSourceOverrideMode" events_has "e.get('bmc')==6 and e.get('reason')=='missing:Boot/BootSourceOverrideMode'"
out=$(patch -d '{"Boot":{"BootSourceOverrideTarget":"Pxe","BootSourceOverrideEnabled":"Once","BootSourceOverrideMode":"UEFI"}}' "$(u 6 /redfish/v1/Systems/1)")
check "supermicro: Boot PATCH with the Mode echoed -> 204" ends "$out" 204

# --- Lenovo XCC: no PushPowerButton, no Continuous ---------------------------------------------------
out=$(post "$(u 7 /redfish/v1/Systems/1/Actions/ComputerSystem.Reset)" '{"ResetType":"PushPowerButton"}')
check "lenovo: PushPowerButton -> 400 ActionParameterValueNotInList" bash -c '[[ "$0" == *ActionParameterValueNotInList*400 ]]' "$out"
out=$(patch -d '{"Boot":{"BootSourceOverrideTarget":"Pxe","BootSourceOverrideEnabled":"Continuous"}}' "$(u 7 /redfish/v1/Systems/1)")
check "lenovo: BootSourceOverrideEnabled Continuous -> 400 PropertyValueNotInList" bash -c '[[ "$0" == *PropertyValueNotInList*400 ]]' "$out"
check "lenovo: event patch rejected not_in_list:...Continuous" events_has "e.get('bmc')==7 and e.get('reason')=='not_in_list:Boot/BootSourceOverrideEnabled=Continuous'"
out=$(patch -d '{"Boot":{"BootSourceOverrideTarget":"Pxe","BootSourceOverrideEnabled":"Once"}}' "$(u 7 /redfish/v1/Systems/1)")
check "lenovo: Once -> 204" ends "$out" 204

# --- OpenBMC: PushPowerButton refused the way bmcweb does --------------------------------------------
out=$(post "$(u 8 /redfish/v1/Systems/system/Actions/ComputerSystem.Reset)" '{"ResetType":"PushPowerButton"}')
check "openbmc: PushPowerButton -> 400 ActionParameterUnknown" bash -c '[[ "$0" == *ActionParameterUnknown*400 ]]' "$out"
check "openbmc: event reset rejected not_allowed:PushPowerButton" events_has "e.get('bmc')==8 and e.get('reason')=='not_allowed:PushPowerButton'"

# --- AMI MegaRAC: Boot only through the @Redfish.Settings URI (SD), If-Match required ------------------
out=$(patch -H 'If-Match: *' -d '{"Boot":{"BootSourceOverrideTarget":"Pxe"}}' "$(u 9 /redfish/v1/Systems/Self)")
check "ami: Boot PATCH on the System -> 400 Ami.1.0.OperationSupportedInFutureStateURI" bash -c '[[ "$0" == *OperationSupportedInFutureStateURI*Systems/Self/SD*400 ]]' "$out"
check "ami: event patch rejected settings_only" events_has "e.get('bmc')==9 and e.get('reason')=='settings_only' and e['via']=='system'"
out=$(patch -d '{"Boot":{"BootSourceOverrideTarget":"Pxe","BootSourceOverrideEnabled":"Once"}}' "$(u 9 /redfish/v1/Systems/Self/SD)")
check "ami: SD PATCH without If-Match -> 428" ends "$out" 428
etag=$(acurl -D - -o /dev/null "$(u 9 /redfish/v1/Systems/Self/SD)" | tr -d '\r' | awk 'tolower($1)=="etag:" {print $2}')
out=$(patch -H "If-Match: $etag" -d '{"Boot":{"BootSourceOverrideTarget":"Pxe","BootSourceOverrideEnabled":"Once"}}' "$(u 9 /redfish/v1/Systems/Self/SD)")
check "ami: SD PATCH with its ETag -> 204" ends "$out" 204
check "ami: event boot via settings" events_has "e.get('bmc')==9 and e.get('event')=='boot' and e['via']=='settings' and e['target']=='Pxe'"

# --- HPE Cray EX: non-standard Off, no GracefulShutdown, no Boot -------------------------------------
N0=/redfish/v1/Systems/Node0
info=$(acurl "$(u 10 $N0/ResetActionInfo)")
check "cray: ActionInfo lists On, ForceOff, Off" grep -q '"On","ForceOff","Off"' <<<"$(tr -d ' \n' <<<"$info")"
out=$(post "$(u 10 $N0/Actions/ComputerSystem.Reset)" '{"ResetType":"GracefulShutdown"}')
check "cray: GracefulShutdown -> 400 ActionParameterValueNotInList" bash -c '[[ "$0" == *ActionParameterValueNotInList*400 ]]' "$out"
out=$(post "$(u 10 $N0/Actions/ComputerSystem.Reset)" '{"ResetType":"Off"}')
check "cray: Off -> 204" ends "$out" 204
check "cray: Off is an orderly power-off (PoweringOff, then Off)" wait_for 5 events_has "e.get('host')=='rf0010-n1' and e.get('event')=='power' and e['to']=='Off' and e['cause']=='Off'"
out=$(patch -d '{"Boot":{"BootSourceOverrideTarget":"Pxe"}}' "$(u 10 /redfish/v1/Systems/Node1)")
check "cray: Boot PATCH -> 400 PropertyUnknown (no Boot object)" bash -c '[[ "$0" == *PropertyUnknown*400 ]]' "$out"
check "cray: event patch rejected unknown:Boot" events_has "e.get('host')=='rf0010-n2' and e.get('reason')=='unknown:Boot'"

# --- IPMI Get Device ID per vendor ---------------------------------------------------------------------
PWF="$T/ipmi.pw"; (umask 077; printf '%s' "$FLEETPOWER_SIM_PASSWORD" >"$PWF")
want=(x "0 20550" "674 256" "11 8192" "11 8192" "11 8192" "10876 2081" "19046 1" "0 0" "20974 1" "11 1")
for i in 1 2 3 6 7 8 9; do
  got=$(ipmitool -I lanplus -C 17 -H 127.73.0.$i -p 6623 -U admin -f "$PWF" mc info 2>&1 |
    awk -F: '/Manufacturer ID/ {m=$2} /Product ID/ {split($2, a, " "); p=a[1]} END {gsub(/ /, "", m); print m, p}')
  check "ipmi BMC $i ($(cut -d, -f$i <<<"$MIX")): mc info manufacturer/product = ${want[$i]} (got $got)" test "$got" = "${want[$i]}"
done
check "ipmi-bmcs.tsv: vendor and ids" grep -qP '^2\tipmi0002\t127.73.0.2\t6623\tnone\tdell\t674\t256$' "$SIM_DIR/state/ipmi-bmcs.tsv"

check "simulator still alive" sim_alive
finish
