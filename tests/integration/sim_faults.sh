#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# fleetpower-sim fault knobs: each knob gives the behaviour it promises (checked with curl,
# openssl and python against the live simulator), bad requests never crash it, knobs change at
# run time through the control FIFO, and task monitors, session expiry and ETag modes work.
set -u
. "${FP_SOURCE_DIR:?}/tests/sim/testlib.sh"

BASE=127.43.0
FAULTS="2:hang,3:latency=1500ms,4:http500,5:busy=3,6:unauth,7:garbage,8:reset,9:trickle=50ms/16"
FAULTS+=",10:tasks+on-delay=3s,11:down,12:blackhole,13:http503+times=2,14:cert=expired,15:cert=wrongname"
FAULTS+=",16:cert=selfsigned,17:stuck,18:etag=strong,19:etag=required,20:nobasic,21:ignore-reset"
FAULTS+=",22:settings,23:badlist,24:strict-state,25:latency=200ms-600ms"
sim_start faults --redfish 25 --address-base $BASE.1 --port 8443 --power-on-delay 1s \
  --session-timeout 3s --hang-timeout 30s --faults "$FAULTS" || exit 1
R=/redfish/v1
S=/redfish/v1/Systems/1
u() { echo "https://$BASE.$1:8443$2"; }
code_of() { acurl -o /dev/null -w '%{http_code}' "$@" 2>/dev/null; }

check "BMC 1 (no knobs) answers 200" test "$(code_of "$(u 1 $S)")" = 200
check "bmcs.tsv shows knobs" grep -qP '^5\trf0005\t.*\tbusy=3\t' "$SIM_DIR/state/bmcs.tsv"

# hang: TLS works, the request is never answered
t0=$(date +%s.%N); rc=0; acurl -o /dev/null --max-time 2 "$(u 2 $S)" 2>/dev/null || rc=$?
check "hang: curl times out (exit 28, got $rc)" test $rc = 28
# latency
t0=$(date +%s%N); c=$(code_of "$(u 3 $S)"); t1=$(date +%s%N)
ms=$(((t1 - t0) / 1000000))
check "latency=1500ms: 200 after ${ms} ms (>= 1500)" test "$c" = 200 -a $ms -ge 1500
# latency range: every reply between 200 and 600 ms, not all the same
lat=()
for i in 1 2 3 4 5 6; do lat+=($(acurl -o /dev/null -w '%{time_total}' "$(u 25 $S)")); done
check "latency=200ms-600ms: all within [0.2, 0.6+slack] s and not all equal (${lat[*]})" $PY -c "
import sys; v=[float(x) for x in sys.argv[1:]]
sys.exit(0 if all(0.2 <= x <= 1.5 for x in v) and max(v) - min(v) > 0.02 else 1)" "${lat[@]}"
# http500
out=$(acurl -w '\n%{http_code}' "$(u 4 $S)")
check "http500: 500 with @Message.ExtendedInfo" bash -c '[[ "$0" == *@Message.ExtendedInfo*500 ]]' "$out"
# busy
hdr=$(acurl -D - -o /dev/null "$(u 5 $S)" | tr -d '\r')
check "busy=3: 503 with Retry-After: 3" bash -c 'grep -q "^HTTP/1.1 503" <<<"$0" && grep -qi "^Retry-After: 3$" <<<"$0"' "$hdr"
# unauth
check "unauth: valid Basic credentials get 401" test "$(code_of "$(u 6 $S)")" = 401
c=$(ncurl -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' -d '{"UserName":"admin","Password":"x"}' "$(u 6 $R/SessionService/Sessions)")
check "unauth: session login gets 401" test "$c" = 401
# garbage
acurl -o "$T/garbage.json" "$(u 7 $S)"
check "garbage: body is not JSON" bash -c "! $PY -c 'import json,sys; json.load(open(sys.argv[1]))' '$T/garbage.json' 2>/dev/null"
# reset
rc=0; acurl -o /dev/null --max-time 5 "$(u 8 $S)" 2>"$T/reset.err" || rc=$?
check "reset: connection reset (curl exit 56 or 35, got $rc: $(head -c 120 "$T/reset.err"))" bash -c '[[ $0 == 56 || $0 == 35 ]]' $rc
# trickle
t0=$(date +%s%N); acurl -o "$T/trickle.json" --max-time 20 "$(u 9 $R)"; t1=$(date +%s%N)
ms=$(((t1 - t0) / 1000000))
check "trickle: reply arrives slowly (${ms} ms >= 1000) and intact" bash -c "[[ $ms -ge 1000 ]] && $PY -c 'import json,sys; json.load(open(sys.argv[1]))' '$T/trickle.json'"
# tasks: 202 + Location, monitor 202 while PoweringOn, then 200 Completed
acurl -o /dev/null -X POST -d '{"ResetType":"ForceOff"}' "$(u 10 $S/Actions/ComputerSystem.Reset)"
hdr=$(acurl -D - -o "$T/task.json" -X POST -d '{"ResetType":"On"}' "$(u 10 $S/Actions/ComputerSystem.Reset)" | tr -d '\r')
loc=$(awk -F': ' 'tolower($1)=="location"{print $2}' <<<"$hdr")
check "tasks: Reset answers 202 with a task monitor Location ($loc)" bash -c 'grep -q "^HTTP/1.1 202" <<<"$0" && [[ -n "$1" ]]' "$hdr" "$loc"
c1=$(code_of "$(u 10 "$loc")")
check "tasks: monitor 202 while the transition runs (got $c1)" test "$c1" = 202
task_done() { [[ "$(acurl -w '\n%{http_code}' "$(u 10 "$loc")")" == *Completed*200 ]]; }
check "tasks: monitor 200 Completed once On" wait_for 10 task_done
check "tasks: system is On" bash -c "curl -sS -K '$SIM_DIR/curl.cfg' --cacert '$CA' $(u 10 $S) | grep -q '\"PowerState\":\"On\"'"
# down
rc=0; ncurl -o /dev/null --max-time 3 "$(u 11 $R)" 2>/dev/null || rc=$?
check "down: connection refused (curl exit 7, got $rc)" test $rc = 7
# blackhole
rc=0; ncurl -o /dev/null --max-time 2 "$(u 12 $R)" 2>/dev/null || rc=$?
check "blackhole: TLS handshake never completes (curl exit 28, got $rc)" test $rc = 28
# times=2
c="$(code_of "$(u 13 $S)") $(code_of "$(u 13 $S)") $(code_of "$(u 13 $S)")"
check "http503+times=2: 503 503 200 (got $c)" test "$c" = "503 503 200"
# certificates
for spec in "14:certificate has expired:expired" "15:no alternative certificate subject name matches:wrongname" "16:self-signed certificate:selfsigned"; do
  IFS=: read -r n msg kind <<<"$spec"
  rc=0; ncurl -o /dev/null "$(u $n $R)" 2>"$T/cert$n.err" || rc=$?
  check "cert=$kind: curl refuses (exit 60, got $rc) with '$msg'" bash -c "[[ $rc == 60 ]] && grep -q '$msg' '$T/cert$n.err'"
done
check "cert=expired: served fine when verification is off" test "$(curl -sk -o /dev/null -w '%{http_code}' "$(u 14 $R)")" = 200
# stuck
acurl -o /dev/null -X POST -d '{"ResetType":"ForceOff"}' "$(u 17 $S/Actions/ComputerSystem.Reset)"
acurl -o /dev/null -X POST -d '{"ResetType":"On"}' "$(u 17 $S/Actions/ComputerSystem.Reset)"
sleep 1.5
check "stuck: still PoweringOn after the delay" bash -c "curl -sS -K '$SIM_DIR/curl.cfg' --cacert '$CA' $(u 17 $S) | grep -q '\"PowerState\":\"PoweringOn\"'"
# etag=strong
etag=$(acurl -D - -o /dev/null "$(u 18 $S)" | tr -d '\r' | awk -F': ' 'tolower($1)=="etag"{print $2}')
c=$(code_of -X PATCH -H "If-Match: $etag" -d '{"Boot":{"BootSourceOverrideTarget":"Pxe"}}' "$(u 18 $S)")
check "etag=strong: the weak form $etag is refused (412, got $c)" test "$c" = 412
c=$(code_of -X PATCH -H "If-Match: ${etag#W/}" -d '{"Boot":{"BootSourceOverrideTarget":"Pxe"}}' "$(u 18 $S)")
check "etag=strong: the strong form is accepted (204, got $c)" test "$c" = 204
# etag=required
c=$(code_of -X PATCH -d '{"Boot":{"BootSourceOverrideTarget":"Pxe"}}' "$(u 19 $S)")
check "etag=required: PATCH without If-Match -> 428 (got $c)" test "$c" = 428
# nobasic
check "nobasic: Basic refused" test "$(code_of "$(u 20 $S)")" = 401
tok=$($PY - "$SIM_DIR/redfishtool.json" "$(u 20 $R/SessionService/Sessions)" "$CA" <<'PYEOF'
import json, sys, ssl, urllib.request
cred = json.load(open(sys.argv[1]))
req = urllib.request.Request(sys.argv[2], method="POST", headers={"Content-Type": "application/json"},
                             data=json.dumps({"UserName": cred["user"], "Password": cred["password"]}).encode())
r = urllib.request.urlopen(req, context=ssl.create_default_context(cafile=sys.argv[3]))
print(r.headers["X-Auth-Token"])
PYEOF
)
check "nobasic: a session token works" test "$(ncurl -o /dev/null -w '%{http_code}' -H "X-Auth-Token: $tok" "$(u 20 $S)")" = 200
# session expiry (--session-timeout 3s)
sleep 3.5
check "session expired after 3 s idle -> 401" test "$(ncurl -o /dev/null -w '%{http_code}' -H "X-Auth-Token: $tok" "$(u 20 $S)")" = 401
check "event log: session expiry" events_has "e.get('bmc')==20 and e.get('event')=='session' and e.get('action')=='expire'"
# ignore-reset
c=$(code_of -X POST -d '{"ResetType":"ForceOff"}' "$(u 21 $S/Actions/ComputerSystem.Reset)")
check "ignore-reset: Reset answered 204 (got $c)" test "$c" = 204
check "ignore-reset: power unchanged (On)" bash -c "curl -sS -K '$SIM_DIR/curl.cfg' --cacert '$CA' $(u 21 $S) | grep -q '\"PowerState\":\"On\"'"
check "event log: ignored reset" events_has "e.get('bmc')==21 and e.get('result')=='ignored'"

# settings: Boot only through the @Redfish.Settings object
out=$(acurl "$(u 22 $S)")
check "settings: System advertises @Redfish.Settings" grep -q '"SettingsObject":{"@odata.id":"/redfish/v1/Systems/1/Settings"}' <<<"$out"
c=$(code_of -X PATCH -d '{"Boot":{"BootSourceOverrideTarget":"Pxe"}}' "$(u 22 $S)")
check "settings: Boot PATCH on the System refused (400, got $c)" test "$c" = 400
c=$(code_of -X PATCH -d '{"Boot":{"BootSourceOverrideTarget":"Cd","BootSourceOverrideEnabled":"Once"}}' "$(u 22 $S/Settings)")
check "settings: Boot PATCH on the settings object accepted (204, got $c)" test "$c" = 204
check "settings: System reads back Cd" bash -c "curl -sS -K '$SIM_DIR/curl.cfg' --cacert '$CA' $(u 22 $S) | grep -q '\"BootSourceOverrideTarget\":\"Cd\"'"
check "event log: boot via settings" events_has "e.get('bmc')==22 and e.get('event')=='boot' and e['via']=='settings' and e['target']=='Cd'"

# badlist: malformed published list, real list still enforced
out=$(acurl "$(u 23 $S)")
check "badlist: ResetType list published as a string" grep -q '"ResetType@Redfish.AllowableValues":"On ForceOff' <<<"$out"
check "badlist: ForceOff still accepted (204)" test "$(code_of -X POST -d '{"ResetType":"ForceOff"}' "$(u 23 $S/Actions/ComputerSystem.Reset)")" = 204
check "badlist: a value outside the real list still refused (400)" test "$(code_of -X POST -d '{"ResetType":"Hibernate"}' "$(u 23 $S/Actions/ComputerSystem.Reset)")" = 400
# strict-state: On while On is an error (iLO)
out=$(acurl -w '\n%{http_code}' -X POST -d '{"ResetType":"On"}' "$(u 24 $S/Actions/ComputerSystem.Reset)")
check "strict-state: On while On -> 400 InvalidOperationForSystemState" bash -c '[[ "$0" == *InvalidOperationForSystemState*400 ]]' "$out"
check "strict-state: ForceOff while On -> 204" test "$(code_of -X POST -d '{"ResetType":"ForceOff"}' "$(u 24 $S/Actions/ComputerSystem.Reset)")" = 204
check "strict-state: ForceOff while Off -> 400" test "$(code_of -X POST -d '{"ResetType":"ForceOff"}' "$(u 24 $S/Actions/ComputerSystem.Reset)")" = 400

# --- bad requests never crash it ---------------------------------------------------------------
B1=$BASE.1
printf 'GARBAGE\x00\x01\x02 not http\r\n\r\n' | timeout 5 openssl s_client -quiet -connect $B1:8443 -CAfile "$CA" >/dev/null 2>&1
printf 'GET /redfish/v1 HTTP/1.1\r\nHost: x\r\n\r\n' | timeout 3 bash -c "cat > /dev/tcp/$B1/8443" 2>/dev/null  # plain HTTP to the TLS port
head -c 3000 /dev/urandom | timeout 3 bash -c "cat > /dev/tcp/$B1/8443" 2>/dev/null                       # random bytes
c=$(code_of -H "X-Big: $(head -c 20000 /dev/zero | tr '\0' a)" "$(u 1 $S)")
check "20 KB header -> 400 (got $c)" test "$c" = 400
head -c 2000000 /dev/zero | tr '\0' ' ' >"$T/big.json"
c=$(code_of -X POST --data-binary @"$T/big.json" "$(u 1 $S/Actions/ComputerSystem.Reset)")
check "2 MB body -> 413 (got $c)" test "$c" = 413
deep=$($PY -c 'print("["*200 + "]"*200)')
c=$(code_of -X POST -d "$deep" "$(u 1 $S/Actions/ComputerSystem.Reset)")
check "JSON nested 200 deep -> 400 (got $c)" test "$c" = 400
c=$(code_of -X POST -d '{"ResetType":["On"]}' "$(u 1 $S/Actions/ComputerSystem.Reset)")
check "ResetType of the wrong type -> 400 (got $c)" test "$c" = 400
c=$(code_of -X PUT -d '{}' "$(u 1 $S)")
check "PUT -> 405 (got $c)" test "$c" = 405
c=$(code_of "$(u 1 "/redfish/v1/../../etc/passwd")")
check "path traversal -> 404 (got $c)" test "$c" = 404
c=$(code_of "$(u 1 "/redfish/v1/Systems/1?\$expand=*($(head -c 3000 /dev/zero | tr '\0' x))")")
check "long query string ignored -> 200 (got $c)" test "$c" = 200
for n in 1 10 22; do  # plain, task monitors, settings object
  out=$(pyclient "$SIM_CLIENTS/fuzz.py" $BASE.$n 8443 "$CA" 4 $n "$CRED" 2>&1)
  echo "  BMC $n: $out"
done
check "simulator survived the bad requests" sim_alive
check "BMC 1 still serves after them" test "$(code_of "$(u 1 $S)")" = 200

# --- run-time control FIFO ---------------------------------------------------------------------
CTL="$SIM_DIR/state/control"
echo "fault 2:none,1:http502" >"$CTL"
bmc2_ok() { [[ "$(acurl -o /dev/null -w '%{http_code}' --max-time 3 "$(u 2 $S)")" == 200 ]]; }
bmc1_is() { [[ "$(code_of "$(u 1 $S)")" == "$1" ]]; }
check "control: BMC 2 no longer hangs" wait_for 5 bmc2_ok
check "control: BMC 1 now answers 502" wait_for 5 bmc1_is 502
echo "fault 1:none" >"$CTL"
echo "power 1 Off" >"$CTL"
echo "dump" >"$CTL"
check "control: BMC 1 healthy again" wait_for 5 bmc1_is 200
bmc1_off() { acurl "$(u 1 $S)" | grep -q '"PowerState":"Off"'; }
check "control: power 1 Off applied" wait_for 5 bmc1_off
check "control: state.json written with BMC 1 Off" wait_for 5 $PY -c "
import json,sys; s=json.load(open('$SIM_DIR/state/state.json')); sys.exit(0 if s[0]['systems'][0]['power']=='Off' else 1)"
echo "bogus command" >"$CTL"
check "control: bad command acknowledged with an error" wait_for 5 events_has "e.get('event')=='control' and not e['ok']"
check "simulator still running" sim_alive
finish
