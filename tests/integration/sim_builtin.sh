#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# fleetpower-sim, built-in trees (rackmount, blade): real clients (python3-sushy, redfishtool,
# curl) query it over verified TLS, reset systems through it, and the simulator's event log
# shows what really happened.  Also: Basic/session auth, 401, ETag/412, Reset validation,
# session limit, plain HTTP mode.
set -u
. "${FP_SOURCE_DIR:?}/tests/sim/testlib.sh"

BASE=127.41.0
sim_start https --redfish 4 --address-base $BASE.1 --port 8443 --mockup rackmount --mockup blade \
  --power-on-delay 1s --power-off-delay 1s --faults "2:session-limit=2,4:on-delay=4s" || exit 1

# --- generated files ---------------------------------------------------------------------------
check "credentials file is mode 0600" test "$(stat -c %a "$CRED")" = 600
check "inventory names the CA" grep -q "ca_file: \"$CA\"" "$INV"
check "inventory: rackmount group zipped" grep -q 'hosts: "rf\[0001-0002\]"' "$INV"
check "inventory: blade systems have their own groups" grep -q 'system: "Node3"' "$INV"
check "password not in stdout/stderr" bash -c "! grep -qF \"\$(grep -o 'password: \"[^\"]*' '$CRED' | cut -d'\"' -f2)\" '$SIM_DIR/stdout' '$SIM_DIR/stderr' '$INV'"

if [[ -n "${FLEETPOWER:-}" && -x "${FLEETPOWER:-}" ]]; then
  out=$("$FLEETPOWER" -i "$INV" --credentials "$CRED" inventory check 2>&1)
  check "fleetpower inventory check accepts the generated inventory" test $? = 0
  echo "$out" | sed 's/^/  inventory check: /'
fi

# --- TLS ---------------------------------------------------------------------------------------
check "TLS verified with the generated CA" ncurl -o /dev/null https://$BASE.1:8443/redfish/v1
code=0; curl -sS -o /dev/null --cacert /etc/ssl/certs/ca-certificates.crt https://$BASE.1:8443/redfish/v1 2>/dev/null || code=$?
check "TLS refused against the system store (curl exit 60, got $code)" test "$code" = 60
code=0; curl -sS -o /dev/null --cacert "$CA" --resolve other.example:8443:$BASE.1 https://other.example:8443/redfish/v1 2>/dev/null || code=$?
check "TLS refused for a name not in the certificate (curl exit 60, got $code)" test "$code" = 60
fp=$(openssl s_client -connect $BASE.2:8443 -CAfile "$CA" -verify_return_error </dev/null 2>/dev/null |
  openssl x509 -noout -fingerprint -sha256 | cut -d= -f2)
check "bmcs.tsv lists the served certificate's fingerprint" grep -q "$fp" "$SIM_DIR/state/bmcs.tsv"

# --- auth --------------------------------------------------------------------------------------
out=$(ncurl -i https://$BASE.1:8443/redfish/v1/Systems | tr -d '\r')
check "401 without credentials" grep -q "^HTTP/1.1 401" <<<"$out"
check "401 names NoValidSession in @Message.ExtendedInfo" grep -q '"@Message.ExtendedInfo":\[{[^]]*NoValidSession' <<<"$out"
check "401 carries WWW-Authenticate" grep -qi "^WWW-Authenticate: Basic" <<<"$out"
check "service root is public" ncurl -f -o /dev/null https://$BASE.1:8443/redfish/v1/

# session limit (BMC 2 has session-limit=2): two logins succeed, the third gets 503
login() {  # login BMC-ADDR -> prints "status token location"
  $PY - "$SIM_DIR/redfishtool.json" "$1" "$CA" <<'PYEOF'
import json, sys, ssl, http.client
cred = json.load(open(sys.argv[1]))
ctx = ssl.create_default_context(cafile=sys.argv[3])
c = http.client.HTTPSConnection(sys.argv[2], 8443, context=ctx)
c.request("POST", "/redfish/v1/SessionService/Sessions",
          json.dumps({"UserName": cred["user"], "Password": cred["password"]}),
          {"Content-Type": "application/json"})
r = c.getresponse(); r.read()
print(r.status, r.getheader("X-Auth-Token") or "-", r.getheader("Location") or "-")
PYEOF
}
read -r s1 tok1 loc1 < <(login $BASE.2)
read -r s2 tok2 loc2 < <(login $BASE.2)
read -r s3 tok3 loc3 < <(login $BASE.2)
check "two sessions created (201 201, got $s1 $s2)" test "$s1 $s2" = "201 201"
check "third session over the limit gets 503 (got $s3)" test "$s3" = 503
check "session token works" ncurl -f -o /dev/null -H "X-Auth-Token: $tok1" https://$BASE.2:8443/redfish/v1/Systems
check "session listed in the collection" bash -c "curl -sS --cacert '$CA' -H 'X-Auth-Token: $tok1' https://$BASE.2:8443/redfish/v1/SessionService/Sessions | grep -qF '$loc1'"
code=$(ncurl -o /dev/null -w '%{http_code}' -X DELETE -H "X-Auth-Token: $tok1" https://$BASE.2:8443$loc1)
check "DELETE session -> 204 (got $code)" test "$code" = 204
code=$(ncurl -o /dev/null -w '%{http_code}' -H "X-Auth-Token: $tok1" https://$BASE.2:8443/redfish/v1/Systems)
check "deleted session token -> 401 (got $code)" test "$code" = 401
read -r s4 tok4 loc4 < <(login $BASE.2)
check "a new session fits after the delete (got $s4)" test "$s4" = 201
check "session events recorded" events_has "e.get('event')=='session' and e.get('action')=='limit' and e['bmc']==2"

# --- sushy: discovery, ForceOff/On with PoweringOn, boot override, rejected ResetType ----------
out=$(pyclient "$SIM_CLIENTS/sushy_check.py" https://$BASE.1:8443 "$CA" "$CRED" --systems 1 --expect-vendor FleetSim 2>&1)
rc=$?; echo "$out" | sed 's/^/  sushy rackmount: /'
check "sushy drives the rackmount BMC (session auth, CA verified)" test $rc = 0
check "sushy saw PoweringOn before On" grep -q "On -> PoweringOn -> On" <<<"$out"
out=$(pyclient "$SIM_CLIENTS/sushy_check.py" https://$BASE.3:8443 "$CA" "$CRED" --systems 4 --auth basic --reject PowerCycle 2>&1)
rc=$?; echo "$out" | sed 's/^/  sushy blade: /'
check "sushy drives all four blades (basic auth); PowerCycle rejected by the ActionInfo list" test $rc = 0
check "event log: rf0003-n1 (was On) On -> Off by ForceOff" events_has "e.get('host')=='rf0003-n1' and e.get('event')=='power' and e['from']=='On' and e['to']=='Off' and e['cause']=='ForceOff'"
for h in rf0001 rf0003-n1 rf0003-n2 rf0003-n3 rf0003-n4; do
  check "event log: $h ForceOff accepted" events_has "e.get('host')=='$h' and e.get('event')=='reset' and e.get('reset_type')=='ForceOff' and e['result']=='accepted'"
  check "event log: $h PoweringOn -> On" events_has "e.get('host')=='$h' and e.get('event')=='power' and e['from']=='PoweringOn' and e['to']=='On'"
  check "event log: $h boot Pxe/Once" events_has "e.get('host')=='$h' and e.get('event')=='boot' and e['target']=='Pxe' and e['enabled']=='Once'"
done
check "event log: rejected PowerCycle recorded" events_has "e.get('host')=='rf0003-n1' and e.get('result')=='rejected' and e['reason']=='not_allowed:PowerCycle'"
code=0; pyclient - "$CA" <<'PYEOF' || code=$?
import sys, sushy
from sushy import exceptions as sexc
try:
    sushy.Sushy("https://127.41.0.1:8443/redfish/v1", username="x", password="y", verify=True).get_system_collection()
except sexc.ConnectionError as e:
    sys.exit(0 if "CERTIFICATE_VERIFY_FAILED" in str(e) else 2)
sys.exit(1)
PYEOF
check "sushy without the CA refuses the certificate" test $code = 0

# --- redfishtool (note: redfishtool 1.1.5 hard-codes verify=False, so TLS is checked above
#     with curl and sushy; here it checks Redfish behaviour) ------------------------------------
RFT=(redfishtool -c "$SIM_DIR/redfishtool.json" -S Always -T 10)
out=$("${RFT[@]}" -r $BASE.1:8443 Systems -1 get -P PowerState 2>&1)
check "redfishtool (Basic) reads PowerState" grep -q '"PowerState": "On"' <<<"$out"
"${RFT[@]}" -A Session -r $BASE.4:8443 Systems -I Node2 reset On >/dev/null 2>&1
check "redfishtool (Session) Systems reset On accepted" test $? = 0
out=$("${RFT[@]}" -r $BASE.4:8443 Systems -I Node2 get -P PowerState 2>&1)
check "redfishtool reads PoweringOn right after On (BMC 4 has on-delay=4s)" grep -q '"PoweringOn"' <<<"$out"
rft_on() { "${RFT[@]}" -r $BASE.4:8443 Systems -I Node2 get -P PowerState 2>&1 | grep -q '"PowerState": "On"'; }
check "redfishtool reads On after the delay" wait_for 15 rft_on
check "event log: redfishtool's reset of rf0004-n2" events_has "e.get('host')=='rf0004-n2' and e.get('event')=='power' and e['to']=='On' and e['cause']=='On'"
check "event log: redfishtool's session created and deleted" events_has "e.get('bmc')==4 and e.get('event')=='session' and e['action']=='delete'"
"${RFT[@]}" -r $BASE.1:8443 Systems -1 reset GracefulShutdown >/dev/null 2>&1
check "event log: GracefulShutdown went through PoweringOff" wait_for 10 events_has "e.get('host')=='rf0001' and e.get('from')=='PoweringOff' and e.get('to')=='Off' and e['cause']=='GracefulShutdown'"

# --- Reset validation and ETag (curl) ----------------------------------------------------------
U=https://$BASE.1:8443/redfish/v1/Systems/1
out=$(acurl -w '\n%{http_code}' -X POST -H 'Content-Type: application/json' -d '{}' $U/Actions/ComputerSystem.Reset)
check "Reset without ResetType -> 400 ActionParameterMissing" bash -c '[[ "$0" == *ActionParameterMissing*400 ]]' "$out"
out=$(acurl -w '\n%{http_code}' -X POST -d '{"ResetType":' $U/Actions/ComputerSystem.Reset)
check "Reset with malformed JSON -> 400 MalformedJSON" bash -c '[[ "$0" == *MalformedJSON*400 ]]' "$out"
out=$(acurl -w '\n%{http_code}' -X POST -d '{"ResetType":"Explode"}' $U/Actions/ComputerSystem.Reset)
check "Reset with unknown ResetType -> 400 ActionParameterValueNotInList" bash -c '[[ "$0" == *ActionParameterValueNotInList*400 ]]' "$out"
etag=$(acurl -D - -o /dev/null $U | tr -d '\r' | awk -F': ' 'tolower($1)=="etag"{print $2}')
check "System has an ETag header ($etag)" bash -c '[[ "$0" == W/\"*\" ]]' "$etag"
code=$(acurl -o /dev/null -w '%{http_code}' -X PATCH -H 'If-Match: W/"00000000"' -d '{"Boot":{"BootSourceOverrideTarget":"Hdd"}}' $U)
check "PATCH with a stale If-Match -> 412 (got $code)" test "$code" = 412
code=$(acurl -o /dev/null -w '%{http_code}' -X PATCH -H "If-Match: $etag" -d '{"Boot":{"BootSourceOverrideTarget":"Hdd","BootSourceOverrideEnabled":"Continuous"}}' $U)
check "PATCH with the current ETag -> 204 (got $code)" test "$code" = 204
etag2=$(acurl -D - -o /dev/null $U | tr -d '\r' | awk -F': ' 'tolower($1)=="etag"{print $2}')
check "ETag changed after the PATCH" test "$etag" != "$etag2"
code=$(acurl -o /dev/null -w '%{http_code}' -X PATCH -H "If-Match: $etag" -d '{"Boot":{"BootSourceOverrideTarget":"Pxe"}}' $U)
check "the old ETag is now refused -> 412 (got $code)" test "$code" = 412
check "boot state read back: Hdd/Continuous" bash -c "curl -sS -K '$SIM_DIR/curl.cfg' --cacert '$CA' $U | grep -q '\"BootSourceOverrideTarget\":\"Hdd\",\"BootSourceOverrideEnabled\":\"Continuous\"\\|\"BootSourceOverrideEnabled\":\"Continuous\".*\"BootSourceOverrideTarget\":\"Hdd\"'"
code=$(acurl -o /dev/null -w '%{http_code}' -X PATCH -d '{"Boot":{"BootSourceOverrideTarget":"Floppy"}}' $U)
check "PATCH with a target outside the allowable list -> 400 (got $code)" test "$code" = 400
code=$(acurl -o /dev/null -w '%{http_code}' -X PATCH -d '{"Frobnicate":1}' $U)
check "PATCH of an unknown property -> 400 (got $code)" test "$code" = 400
check "412 recorded in the event log" events_has "e.get('host')=='rf0001' and e.get('result')=='precondition_failed'"
# $expand: the blade enclosure advertises ExpandQuery and expands; the rackmount does not
out=$(acurl "https://$BASE.3:8443/redfish/v1/Systems?\$expand=.(\$levels=1)")
check "blade: \$expand returns the four live Systems" $PY -c "
import json,sys; m=json.loads(sys.argv[1])['Members']
sys.exit(0 if [x.get('Id') for x in m]==['Node1','Node2','Node3','Node4'] and all('PowerState' in x for x in m) else 1)" "$out"
out=$(acurl "https://$BASE.1:8443/redfish/v1/Systems?\$expand=.")
check "rackmount: \$expand ignored (references only)" $PY -c "
import json,sys; m=json.loads(sys.argv[1])['Members']; sys.exit(0 if m==[{'@odata.id':'/redfish/v1/Systems/1'}] else 1)" "$out"
check "simulator still running" sim_alive

# --- command-line errors are reported, not crashes ------------------------------------------------
rc=0; "$FLEETPOWER_SIM" --redfish 2 --state-dir "$T/bad" --faults "2:frobnicate" >/dev/null 2>"$T/bad.err" || rc=$?
check "unknown fault knob -> exit 2 with a message" bash -c "[[ $rc == 2 ]] && grep -q \"unknown fault knob 'frobnicate'\" '$T/bad.err'"
rc=0; "$FLEETPOWER_SIM" --redfish 2 --state-dir "$T/bad" --address-base 192.0.2.1 >/dev/null 2>"$T/bad.err" || rc=$?
check "non-loopback address refused (exit 1)" bash -c "[[ $rc == 1 ]] && grep -q loopback '$T/bad.err'"
rc=0; "$FLEETPOWER_SIM" --redfish 1 --state-dir "$T/bad" --address-base $BASE.1 --port 8443 >/dev/null 2>"$T/bad.err" || rc=$?
check "address already in use -> exit 1 naming it" bash -c "[[ $rc == 1 ]] && grep -q 'cannot listen on $BASE.1:8443' '$T/bad.err'"
rc=0; "$FLEETPOWER_SIM" --redfish 1 --state-dir "$T/bad" --mockup /nonexistent/tree >/dev/null 2>"$T/bad.err" || rc=$?
check "missing mockup dir -> exit 1" test $rc = 1

# --- plain HTTP mode ----------------------------------------------------------------------------
sim_start http --redfish 1 --address-base $BASE.21 --port 8080 --http --power-on-delay 0 || exit 1
check "http inventory says scheme: http" grep -q "scheme: http" "$INV"
check "no CA in http mode" test ! -e "$SIM_DIR/state/ca.pem"
out=$(redfishtool -c "$SIM_DIR/redfishtool.json" -S Never -r $BASE.21:8080 Systems -1 reset ForceOff 2>&1)
check "redfishtool over plain HTTP resets" test $? = 0
out=$(pyclient "$SIM_CLIENTS/sushy_check.py" http://$BASE.21:8080 - "$CRED" --systems 1 2>&1)
rc=$?; echo "$out" | sed 's/^/  sushy http: /'
check "sushy over plain HTTP" test $rc = 0
check "event log (http): ForceOff" events_has "e.get('host')=='rf0001' and e.get('to')=='Off' and e['cause']=='ForceOff'"
finish
