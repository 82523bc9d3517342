#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# IPMI failure reasons against a real ipmi_sim fleet: wrong password, unknown user, too little
# privilege, cipher suite 17 (ipmi_sim has none) and auto fallback, an over-long password, a
# hung BMC (kill -STOP), a dead address, and Ctrl-C.  Each must give its own reason, within
# the time limit, and never print a password.
set -uo pipefail
: "${FLEETPOWER:?FLEETPOWER must point at the fleetpower binary}"
SRC=${FP_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
FLEET="$SRC/tests/ipmisim/fleet"
for tool in ipmi_sim /usr/bin/python3; do
  command -v "$tool" >/dev/null || { echo "SKIP: $tool not installed"; exit 77; }
done

D=$(mktemp -d -p /dev/shm fp-ipmi-failures.XXXXXX 2>/dev/null || mktemp -d)
FP_PID=
cleanup() {
  [[ -n $FP_PID ]] && kill "$FP_PID" 2>/dev/null
  "$FLEET" stop --dir "$D" >/dev/null 2>&1
  rm -rf "$D"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

FAILS=0
PASSES=0
ok() { PASSES=$((PASSES + 1)); echo "ok - $*"; }
not_ok() { FAILS=$((FAILS + 1)); echo "not ok - $*"; }

"$FLEET" start --count 7 --dead 1 --model inproc --initial-power on --dir "$D" >"$D/start.out" 2>&1
if [[ $(tail -1 "$D/start.out") != ready ]]; then
  cat "$D/start.out"
  echo "FAIL: fleet did not start"
  exit 1
fi
mapfile -t A < <(awk -F'\t' 'NR>1 && $7=="live" {print $3}' "$D/hosts.tsv")
DEAD=$(awk -F'\t' 'NR>1 && $7=="dead" {print $3; exit}' "$D/hosts.tsv")

# A 21-byte password (IPMI 2.0 allows 20): must be refused, not truncated.
LONGPW=abcdefghijklmnopqrstu
umask 077
printf '%s' "$LONGPW" >"$D/long.pw"
cp "$D/credentials.yaml" "$D/creds.yaml"
echo "longpw: { username: admin, password_file: \"$D/long.pw\" }" >>"$D/creds.yaml"
cat >"$D/fail.yaml" <<EOF
defaults: { protocol: ipmi, credentials: sim, cipher_suite: 3, privilege: admin }
groups:
  badpw:  { hosts: h-badpw,  bmc: "${A[0]}", credentials: sim-badpw }
  nouser: { hosts: h-nouser, bmc: "${A[1]}", credentials: sim-nouser }
  lowpriv: { hosts: h-user, bmc: "${A[2]}", credentials: sim-user, privilege: user }
  c17:    { hosts: h-c17,    bmc: "${A[3]}", cipher_suite: "17" }
  cauto:  { hosts: h-auto,   bmc: "${A[4]}", cipher_suite: auto }
  hung:   { hosts: h-hung,   bmc: "${A[5]}" }
  longpw: { hosts: h-longpw, bmc: "${A[6]}", credentials: longpw }
  dead:   { hosts: h-dead,   bmc: "$DEAD" }
EOF
fp() { "$FLEETPOWER" -i "$D/fail.yaml" --credentials "$D/creds.yaml" --expand "$@"; }
# expect HOST TEXT: the output line of HOST contains TEXT
expect() {
  if grep -F "$1: " "$D/out" | grep -qF -- "$2"; then ok "$1: $2"; else not_ok "$1: wanted '$2'"; grep -F "$1: " "$D/out" | sed 's/^/    /'; fi
}

"$FLEET" pause --dir "$D" --addr "${A[5]}" >/dev/null
start=$(date +%s%N)
fp --timeout 2s status @badpw @nouser @c17 @cauto @hung @longpw @dead >"$D/out" 2>"$D/err"
RC=$?
took=$(( ($(date +%s%N) - start) / 1000000 ))
expect h-badpw "error: wrong password (RAKP 2 key exchange code does not match)"
expect h-nouser "error: unknown user 'nosuchuser'"
expect h-c17 "error: cipher suite 17 not supported by the BMC"
expect h-auto ": on"
expect h-hung "error: no response from BMC"
expect h-longpw "longer than the IPMI 2.0 limit of 20 bytes"
expect h-dead "error: no response from BMC"
if [[ $RC != 0 ]]; then ok "exit code $RC on failures"; else not_ok "exit 0 despite failures"; fi
if ((took < 3000)); then ok "finished in ${took} ms with --timeout 2s"; else not_ok "took ${took} ms"; fi
if grep -qF -- "$LONGPW" "$D/out" "$D/err" || grep -qF -- "$(<"$D/secrets/admin.pw")" "$D/out" "$D/err"; then
  not_ok "a password appears in the output"
else
  ok "no password in the output"
fi

# Too little privilege: a USER session may read the state but not switch the power.
fp status @lowpriv >"$D/out" 2>&1
expect h-user ": on"
fp off @lowpriv >"$D/out" 2>&1
expect h-user "error: insufficient privilege for Chassis Control (power down)"
if [[ $("$FLEET" events --dir "$D" --host sim0003 | grep -c "request op=off") == 0 ]]; then
  ok "the refused power-off never reached the power model"
else
  not_ok "power-off executed despite 0xD4"
fi

# A BMC hung mid-run: Ctrl-C stops the run promptly, and says so.
"$FLEETPOWER" -i "$D/fail.yaml" --credentials "$D/creds.yaml" --timeout 20s status @hung >"$D/out" 2>&1 &
FP_PID=$!
sleep 1
start=$(date +%s%N)
kill -INT "$FP_PID"
wait "$FP_PID"
RC=$?
FP_PID=
took=$(( ($(date +%s%N) - start) / 1000000 ))
if ((took < 1500)); then ok "Ctrl-C ended the run in ${took} ms"; else not_ok "Ctrl-C took ${took} ms"; fi
if grep -q "h-hung: interrupted: while waiting for the Get Channel Authentication Capabilities reply" "$D/out"; then ok "h-hung reported as interrupted, naming the step (exit $RC)"; else not_ok "no 'interrupted' (exit $RC)"; sed 's/^/    /' "$D/out"; fi
"$FLEET" resume --dir "$D" --host sim0006 >/dev/null

echo "$PASSES passed, $FAILS failed"
[[ $FAILS == 0 ]]
