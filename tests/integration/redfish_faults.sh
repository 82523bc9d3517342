#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Every simulator fault knob through the CLI's Redfish backend: each BMC yields the right
# per-host error class and a reason naming the step, never a crash, and nothing runs past the
# per-host deadline.  Healthy-after-a-fault knobs (busy+times, tasks, nosession, nobasic,
# etag modes, latency) must succeed.  Ctrl-C interrupts promptly.
set -euo pipefail
: "${FLEETPOWER:?}" "${FLEETPOWER_SIM:?}"
[[ -x $FLEETPOWER && -x $FLEETPOWER_SIM ]] || { echo "SKIP: fleetpower or fleetpower-sim not built"; exit 77; }

work=$(mktemp -d)
sim_pid=
sim2_pid=
cli_pid=
cleanup() {
  if [[ -n $cli_pid ]]; then kill "$cli_pid" 2>/dev/null || true; fi
  if [[ -n $sim2_pid ]]; then kill "$sim2_pid" 2>/dev/null || true; wait "$sim2_pid" 2>/dev/null || true; fi
  if [[ -n $sim_pid ]]; then kill "$sim_pid" 2>/dev/null || true; wait "$sim_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
cd "$work"

faults="1:hang,2:blackhole,3:down,4:http500,5:busy=1,6:unauth,7:garbage,8:reset,9:trickle=300ms"
faults+=",10:tasks,11:nosession,12:nobasic,13:etag=strong,14:etag=required,15:latency=300ms"
faults+=",16:busy=0+times=2,17:reset+times=1,18:garbage+times=1"
FLEETPOWER_SIM_PASSWORD="flt-$RANDOM-pw" "$FLEETPOWER_SIM" --redfish 18 --address-base 127.22.3.1 \
  --port 8443 --state-dir st --inventory-out inv.yaml --credentials-out cred.yaml --quiet \
  --power-on-delay 1s --faults "$faults" >sim.out 2>sim.err &
sim_pid=$!
for _ in $(seq 100); do grep -q ready sim.out 2>/dev/null && break; sleep 0.1; done
grep -q ready sim.out || { echo "simulator did not start"; cat sim.err; exit 1; }

fail=0
FP=("$FLEETPOWER" -i inv.yaml --credentials cred.yaml -o jsonl --expand)

# verify NAME TIMEOUT_S PYTHON-DICT: host -> (ok|error kind, reason regex)
verify() {
  local name=$1 limit=$2 expect=$3
  if python3 - "$limit" <<PY
import json, re, sys
limit_ms = float(sys.argv[1]) * 1000
expect = $expect
hosts = {}
for l in open("out.jsonl"):
    if l.strip():
        j = json.loads(l)
        if j.get("type") == "host": hosts[j["host"]] = j
errs = []
for h, (kind, regex) in expect.items():
    j = hosts.get(h)
    if j is None:
        errs.append((h, "missing")); continue
    got = "ok" if j["ok"] else j["error"]
    text = (j["result"] if j["ok"] else j["reason"]) or ""
    if got != kind or not re.search(regex, text):
        errs.append((h, got, text))
    if j["elapsed_ms"] > limit_ms + 500:
        errs.append((h, "ran past the deadline", j["elapsed_ms"]))
for e in errs: print("  ", e)
sys.exit(1 if errs else 0)
PY
  then echo "ok: $name"; else echo "FAIL: $name"; fail=1; fi
}

start=$(date +%s%N)
"${FP[@]}" -t 4s status 'rf[0001-0009,0011-0012,0015-0018]' >out.jsonl 2>err.txt || true
wall=$(( ($(date +%s%N) - start) / 1000000 ))
verify "status under faults" 4 '{
  "rf0001": ("timeout", r"timed out waiting for the reply to the service root"),
  "rf0002": ("timeout", r"timed out waiting for the TLS handshake"),
  "rf0003": ("connection", r"connection refused"),
  "rf0004": ("bmc-error", r"HTTP 500"),
  "rf0005": ("busy", r"HTTP 503.*retries"),
  "rf0006": ("auth", r"HTTP 401"),
  "rf0007": ("protocol", r"malformed JSON"),
  "rf0008": ("connection", r"connection closed by the BMC"),
  "rf0009": ("timeout", r"timed out waiting for the reply"),
  "rf0011": ("ok", r"^on$"),
  "rf0012": ("ok", r"^on$"),
  "rf0015": ("ok", r"^on$"),
  "rf0016": ("ok", r"^on$"),
  "rf0017": ("ok", r"^on$"),  # a reset connection is retried for a GET
  "rf0018": ("protocol", r"malformed JSON"),
}'
if (( wall > 7000 )); then echo "FAIL: status under faults took ${wall} ms with -t 4s"; fail=1; fi
grep -qi "terminate\|abort\|segfault" err.txt && { echo "FAIL: crash output"; cat err.txt; fail=1; }

# Forced auth modes against BMCs that refuse one of them.
printf 'defaults: { protocol: redfish, credentials: sim, ca_file: "%s/st/ca.pem" }\nhosts:\n  s: { bmc: 127.22.3.11, port: 8443, auth: session }\n  b: { bmc: 127.22.3.12, port: 8443, auth: basic }\n' "$work" >modes.yaml
"$FLEETPOWER" -i modes.yaml --credentials cred.yaml -o jsonl -t 4s status s,b >out.jsonl 2>err.txt || true
verify "auth: session without sessions, basic without basic" 4 '{
  "s": ("bmc-error", r"session login failed.*405"),
  "b": ("auth", r"401"),
}'

# Actions through task monitors and ETag variants, verified in the event log.
"${FP[@]}" -t 10s off rf0010 >out.jsonl 2>err.txt || true
verify "off through a 202 task monitor" 10 '{"rf0010": ("ok", r"^(ok|off)$")}'
grep -q '"bmc":10,.*"event":"power","from":"On","to":"Off"' st/events.jsonl || { echo "FAIL: no Off transition on BMC 10"; fail=1; }
"${FP[@]}" -t 10s bootdev cdrom rf0013,rf0014 >out.jsonl 2>err.txt || true
verify "bootdev with strong-only and required ETags" 10 '{
  "rf0013": ("ok", r"cdrom \(once\)"),
  "rf0014": ("ok", r"cdrom \(once\)"),
}'
for b in 13 14; do
  grep -q "\"bmc\":$b,.*\"event\":\"boot\",\"target\":\"Cd\"" st/events.jsonl || { echo "FAIL: no boot Cd on BMC $b"; fail=1; }
done

# Sessions that expire while the CLI polls for the end state: re-authenticated (once per 401).
FLEETPOWER_SIM_PASSWORD="exp-$RANDOM-pw" "$FLEETPOWER_SIM" --redfish 1 --address-base 127.22.4.1 \
  --port 8443 --state-dir st2 --inventory-out inv2.yaml --credentials-out cred2.yaml --quiet \
  --session-timeout 1s --power-on-delay 4s --initial-power off >sim2.out 2>sim2.err &
sim2_pid=$!
for _ in $(seq 100); do grep -q ready sim2.out 2>/dev/null && break; sleep 0.1; done
"$FLEETPOWER" -i inv2.yaml --credentials cred2.yaml -o jsonl --expand -t 20s on --all >out.jsonl 2>err.txt || true
verify "expired sessions are re-established" 20 '{"rf0001": ("ok", r"^(ok|on)$")}'
if ! python3 - <<'PY'
import json
ev = [json.loads(l) for l in open("st2/events.jsonl") if '"session"' in l]
acts = [e["action"] for e in ev if e.get("event") == "session"]
assert "expire" in acts and acts.count("create") >= 2, acts
assert acts[-1] == "delete", acts
PY
then echo "FAIL: session events after expiry"; fail=1; fi
kill "$sim2_pid" 2>/dev/null || true
wait "$sim2_pid" 2>/dev/null || true
sim2_pid=

# Ctrl-C while a BMC hangs: prompt exit, result interrupted.
"${FP[@]}" -t 30s status rf0001 >out.jsonl 2>err.txt &
cli_pid=$!
sleep 1
start=$(date +%s%N)
kill -INT "$cli_pid"
wait "$cli_pid" || true
cli_pid=
ms=$(( ($(date +%s%N) - start) / 1000000 ))
verify "Ctrl-C interrupts a hung BMC" 30 '{"rf0001": ("interrupted", r"waiting for")}'
if (( ms > 3000 )); then echo "FAIL: Ctrl-C took ${ms} ms"; fail=1; fi
exit $fail
