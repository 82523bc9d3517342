#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# fp-test-stage: both
# Redfish TLS verification through the CLI against fleetpower-sim's generated CA:
# verified OK with --ca-file / inventory ca_file, refused without it, accepted with a pinned
# fingerprint (several spellings), refused with a wrong one; expired, self-signed and wrong-name
# certificates are refused with the reason and the presented fingerprint; --insecure accepts.
# A refused BMC must never have seen a request (no session in the simulator's event log).
set -euo pipefail
: "${FLEETPOWER:?}" "${FLEETPOWER_SIM:?}"
[[ -x $FLEETPOWER && -x $FLEETPOWER_SIM ]] || { echo "SKIP: fleetpower or fleetpower-sim not built"; exit 77; }

work=$(mktemp -d)
sim_pid=
sim2_pid=
cleanup() {
  if [[ -n $sim_pid ]]; then kill "$sim_pid" 2>/dev/null || true; wait "$sim_pid" 2>/dev/null || true; fi
  if [[ -n $sim2_pid ]]; then kill "$sim2_pid" 2>/dev/null || true; wait "$sim2_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
cd "$work"

FLEETPOWER_SIM_PASSWORD="tls-$RANDOM-pw" "$FLEETPOWER_SIM" --redfish 4 --address-base 127.22.1.1 \
  --port 8443 --state-dir st --inventory-out inv.yaml --credentials-out cred.yaml --quiet \
  --faults "2:cert=expired,3:cert=selfsigned,4:cert=wrongname" >sim.out 2>sim.err &
sim_pid=$!
for _ in $(seq 100); do grep -q ready sim.out 2>/dev/null && break; sleep 0.1; done
grep -q ready sim.out || { echo "simulator did not start"; cat sim.err; exit 1; }

fp_of() { awk -F'\t' -v i="$1" '$1 == i { print $8 }' st/bmcs.tsv; }
FP1=$(fp_of 1)
[[ ${#FP1} -eq 95 ]] || { echo "no fingerprint in bmcs.tsv"; exit 1; }
fail=0

# inv ADDR EXTRA: a one-host inventory (node n1) with extra inline keys.
inv() { printf 'defaults: { protocol: redfish, credentials: sim }\nhosts:\n  n1: { bmc: %s, port: 8443%s }\n' "$1" "$2" >i.yaml; }

# expect NAME OK|KIND REGEX [fleetpower args...]: run status on n1, check the JSON line.
expect() {
  local name=$1 want=$2 regex=$3
  shift 3
  local out
  out=$("$FLEETPOWER" -i i.yaml --credentials cred.yaml -o jsonl -t 5s "$@" status n1 2>err.txt || true)
  if ! python3 - "$want" "$regex" "$out" <<'PY'
import json, re, sys
want, regex, out = sys.argv[1], sys.argv[2], sys.argv[3]
hosts = [json.loads(l) for l in out.splitlines() if l.strip() and json.loads(l).get("type") == "host"]
assert len(hosts) == 1, out
h = hosts[0]
if want == "OK":
    assert h["ok"] and h["result"] == "on", h
else:
    assert not h["ok"] and h["error"] == want, h
    assert re.search(regex, h["reason"] or ""), (regex, h["reason"])
PY
  then
    echo "FAIL: $name"; cat err.txt; fail=1
  else
    echo "ok: $name"
  fi
}

sessions_of() { grep -c "\"bmc\":$1,.*\"event\":\"session\",\"action\":\"create\"" st/events.jsonl || true; }

inv 127.22.1.1 ""
expect "no CA: refused, reason and fingerprint shown" tls "issuer unknown.*${FP1}"
[[ $(sessions_of 1) -eq 0 ]] || { echo "FAIL: a refused BMC saw a login"; fail=1; }
expect "--ca-file: verified" OK "" --ca-file st/ca.pem
inv 127.22.1.1 ", ca_file: \"$work/st/ca.pem\""
expect "inventory ca_file: verified" OK ""
inv 127.22.1.1 ", tls_fingerprint: \"$FP1\""
expect "pinned fingerprint (AA:BB form)" OK ""
lower=$(echo "$FP1" | tr -d : | tr 'A-F' 'a-f')
inv 127.22.1.1 ", tls_fingerprint: \"sha256:$lower\""
expect "pinned fingerprint (sha256:hex form)" OK ""
wrong="00${lower:2}"
inv 127.22.1.1 ", tls_fingerprint: \"$wrong\""
expect "wrong fingerprint: refused" tls "fingerprint differs.*${FP1}"
inv 127.22.1.1 ", tls_fingerprint: \"not-a-fingerprint\""
expect "malformed fingerprint: config error" config "tls_fingerprint"
inv 127.22.1.1 ""
expect "--insecure: accepted" OK "" --insecure

inv 127.22.1.2 ""
expect "expired certificate" tls "expired.*$(fp_of 2)" --ca-file st/ca.pem
inv 127.22.1.3 ""
expect "self-signed certificate" tls "self-signed.*$(fp_of 3)" --ca-file st/ca.pem
inv 127.22.1.4 ""
expect "certificate for another name" tls "mismatch.*127\.22\.1\.4" --ca-file st/ca.pem
inv 127.22.1.3 ", insecure: \"true\""
expect "inventory insecure=true accepts self-signed" OK ""
# A host name (resolved without blocking the loop) checked against the certificate's DNS name.
port=$((20000 + RANDOM % 30000))
FLEETPOWER_SIM_PASSWORD="tls-$RANDOM-pw" "$FLEETPOWER_SIM" --redfish 1 --address-base 127.0.0.1 \
  --port "$port" --port-per-bmc --state-dir st2 --credentials-out cred2.yaml --quiet >sim2.out 2>sim2.err &
sim2_pid=$!
for _ in $(seq 100); do grep -q ready sim2.out 2>/dev/null && break; sleep 0.1; done
if grep -q ready sim2.out; then
  printf 'defaults: { protocol: redfish, credentials: sim }\nhosts:\n  n1: { bmc: localhost, port: %s }\n' "$port" >i.yaml
  out=$("$FLEETPOWER" -i i.yaml --credentials cred2.yaml -o jsonl -t 5s --ca-file st2/ca.pem status n1 2>err.txt || true)
  if grep -q '"result":"on"' <<<"$out"; then echo "ok: host name localhost verified against its DNS SAN"; else echo "FAIL: localhost: $out"; fail=1; fi
else
  echo "note: second simulator on 127.0.0.1:$port did not start (port in use?); host-name case not run"
fi
kill "$sim2_pid" 2>/dev/null || true
wait "$sim2_pid" 2>/dev/null || true
sim2_pid=

for b in 2 3 4; do
  # Only the insecure run may have reached BMC 3.
  n=$(sessions_of $b)
  if [[ $b -ne 3 && $n -ne 0 ]]; then echo "FAIL: BMC $b with a bad certificate saw $n logins"; fail=1; fi
done
exit $fail
