#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# fp-test-stage: both
# SSH security against real OpenSSH sshd instances on loopback (ForceCommand: the device
# emulator): host keys (unknown refused under strict, accepted and recorded under accept-new,
# a changed key always refused with its SHA256 fingerprint), injection attempts in an address,
# an outlet or a system path refused before anything is sent (the device's command log and
# sshd's own log prove nothing arrived), wrong key and wrong password with a clear reason.
#
# Password authentication runs only as root: sshd then runs in a private mount namespace where
# a one-line shadow file is bind-mounted over /etc/shadow (see lib/sshd.sh); no system user or
# file is changed.
source "$(dirname "$0")/lib/common.sh"
source "$(dirname "$0")/lib/sshd.sh"
fp_ssh_prereqs

P=2202
PW=""
if [ "$(id -u)" -eq 0 ]; then
  PW="$T/pdu.password"
  (umask 077; printf 'pdu-%s-%s\n' "$RANDOM" "$RANDOM" >"$PW")
fi
fp_sshd_start pdu 127.77.2.1 $P apc "$PW"
fp_sshd_start bmc 127.77.2.2 $P smash
ssh-keygen -q -t ed25519 -N '' -C stranger -f "$T/stranger_key"
{ fp_known_host pdu 127.77.2.1 $P; fp_known_host bmc 127.77.2.2 $P; } >"$T/known_hosts"
: >"$T/empty_known_hosts"
# A known_hosts that holds another key for both devices (as after a device swap or an attack).
ssh-keygen -q -t ed25519 -N '' -C impostor -f "$T/impostor_key"
printf '[127.77.2.1]:%s %s\n[127.77.2.2]:%s %s\n' $P "$(cut -d' ' -f1-2 "$T/impostor_key.pub")" \
  $P "$(cut -d' ' -f1-2 "$T/impostor_key.pub")" >"$T/changed_known_hosts"

cat >"$T/cred.yaml" <<EOF
lab: {username: $SSH_USER, identity_file: $T/client_key}
stranger: {username: $SSH_USER, identity_file: $T/stranger_key}
EOF
if [ -n "$PW" ]; then
  printf 'wrong-%s\n' "$RANDOM" >"$T/wrong.password"
  chmod 600 "$T/wrong.password"
  cat >>"$T/cred.yaml" <<EOF
pw: {username: root, password_file: $PW}
badpw: {username: root, password_file: $T/wrong.password}
EOF
fi
chmod 600 "$T/cred.yaml"

# inv KNOWN_HOSTS [EXTRA KEYS for the outlet target] [EXTRA HOSTS]
inv() {
  cat >"$T/inv.yaml" <<EOF
defaults: {protocol: ssh, credentials: lab, known_hosts: $1, port: $P}
hosts:
  pdu1: {bmc: 127.77.2.1, ssh_profile: apc}
  pdu1-o5: {bmc: 127.77.2.1, ssh_profile: apc, outlet: 5${2:-}}
  bmc1: {bmc: 127.77.2.2, ssh_profile: smash-clp}
  node005: {protocol: redfish, bmc: 127.2.77.5, outlets: [pdu1:5]}
${3:-}
EOF
}
FP=("$FLEETPOWER" -i "$T/inv.yaml" --credentials "$T/cred.yaml" -t 8s --wait-timeout 30s --journal-dir "$T/runs" --audit-log "$T/audit.log" --no-progress)
run() { "${FP[@]}" "$@" >"$T/out" 2>"$T/err" || true; }
ncmds() { if [ -f "$T/$1/commands.log" ]; then wc -l <"$T/$1/commands.log"; else echo 0; fi; }
nconns() { grep -c 'Connection from' "$T/$1/sshd.log" || true; }
nauth() { grep -c 'Accepted ' "$T/$1/sshd.log" || true; }
has() { # DESCRIPTION PATTERN: stdout matches the extended regex
  if grep -qE -- "$2" "$T/out"; then ok "$1"; else not_ok "$1: no /$2/ in: $(cat "$T/out" "$T/err")"; fi
}

line_has() { # DESCRIPTION HOST FIXED-STRING: HOST's result line contains the string
  if grep -E "^([^ ]*,)?$2(,[^ ]*)?: " "$T/out" | grep -qF -- "$3"; then ok "$1"; else not_ok "$1: no '$3' for $2 in: $(cat "$T/out" "$T/err")"; fi
}
FP_PDU=$(fp_fingerprint pdu)
FP_BMC=$(fp_fingerprint bmc)

# --- host keys ------------------------------------------------------------------------------
inv "$T/empty_known_hosts"
c0=$(ncmds pdu) a0=$(nauth pdu)
run status pdu1-o5
line_has "strict: unknown host refused" pdu1-o5 "error: unknown host key for pdu1-o5"
line_has "strict: unknown host's fingerprint shown" pdu1-o5 "ssh-ed25519 $FP_PDU is not in $T/empty_known_hosts"
check_eq "strict: nothing authenticated or sent" "$(nauth pdu) $(ncmds pdu)" "$a0 $c0"

cp "$T/empty_known_hosts" "$T/new_known_hosts"
inv "$T/new_known_hosts" ", host_key_policy: accept-new"
run -o json status pdu1-o5
check "accept-new: unknown host accepted and recorded" python3 - "$T/out" "$T/new_known_hosts" <<'PY'
import json, sys
h = json.load(open(sys.argv[1]))["hosts"][0]
assert h["ok"] and h["result"] == "on", h
assert h["facts"]["ssh_host_key_added"] == sys.argv[2], h
assert "127.77.2.1" in open(sys.argv[2]).read()
PY
inv "$T/new_known_hosts"
run status pdu1-o5
has "strict after accept-new recorded the key" "^pdu1-o5: on$"

inv "$T/changed_known_hosts"
c0=$(ncmds pdu) a0=$(nauth pdu)
run status pdu1-o5 bmc1
line_has "changed key refused (PDU)" pdu1-o5 "error: host key CHANGED for pdu1-o5"
line_has "changed key: the PDU's fingerprint shown" pdu1-o5 "now presents ssh-ed25519 $FP_PDU"
line_has "changed key refused (BMC), its fingerprint shown" bmc1 "now presents ssh-ed25519 $FP_BMC"
inv "$T/changed_known_hosts" ", host_key_policy: accept-new"
run off pdu1-o5
line_has "changed key refused even under accept-new" pdu1-o5 "host key CHANGED for pdu1-o5 (127.77.2.1:$P): the device now presents ssh-ed25519 $FP_PDU"
check_eq "changed key: nothing authenticated or sent" "$(nauth pdu) $(ncmds pdu)" "$a0 $c0"
check "changed key: known_hosts left alone" bash -c "[ \$(wc -l <'$T/changed_known_hosts') -eq 2 ]"

# --- injection attempts: refused before any connection ----------------------------------------
inv "$T/known_hosts" "" '  evil-o: {bmc: 127.77.2.1, ssh_profile: apc, outlet: "5;olOff 6"}
  evil-o2: {bmc: 127.77.2.1, ssh_profile: apc, outlet: "5 && olOff 6"}
  evil-nl: {bmc: 127.77.2.1, ssh_profile: apc, outlet: "5\nolOff 6"}
  evil-tick: {bmc: 127.77.2.1, ssh_profile: apc, outlet: "`olOff 6`"}
  evil-host: {bmc: "127.77.2.1;olOff", ssh_profile: apc, outlet: 5}
  evil-host2: {bmc: "-oProxyCommand=touch", ssh_profile: apc, outlet: 5}
  evil-sys: {bmc: 127.77.2.2, ssh_profile: smash-clp, system: "/system1;stop /system1"}
  evil-node: {protocol: redfish, bmc: 127.2.77.9, outlets: ["pdu1:5;olOff 6"]}'
c0=$(ncmds pdu) k0=$(nconns pdu) cb=$(ncmds bmc) kb=$(nconns bmc)
run off -y evil-o evil-o2 evil-nl evil-tick
has "outlet with ; refused" "^evil-o: error: .*refused outlet '5;olOff 6'.*nothing was sent"
has "outlet with && refused" "^evil-o2: error: .*refused outlet '5 && olOff 6'"
line_has "outlet with a newline refused (shown escaped)" evil-nl "refused outlet '5\\x0aolOff 6'"
has "outlet with backticks refused" "^evil-tick: error: .*refused outlet '\`olOff 6\`'"
run status evil-host evil-host2
has "address with ; refused" "error: refused address"
check_eq "both bad addresses refused" "$(grep -c 'refused address' "$T/out")" "2"
run reset evil-sys
has "system path with ; refused" "^evil-sys: error: .*refused system '/system1;stop /system1'"
expect_rc 2 "--via pdu: outlet with ; refused (usage error)" "${FP[@]}" off --via pdu evil-node
check "--via pdu: refused with the reason on stderr" grep -q "refused outlet '5;olOff 6'" "$T/err"
check_eq "injections: no connection and no command reached the PDU" "$(nconns pdu) $(ncmds pdu)" "$k0 $c0"
check_eq "injections: no connection and no command reached the BMC" "$(nconns bmc) $(ncmds bmc)" "$kb $cb"

# --- a site profile (data only) changes behaviour without a rebuild ----------------------------
mkdir -p "$T/profiles"
cat >"$T/profiles/apc-exec.yaml" <<'EOF'
name: apc-exec
description: APC-style outlet commands, one SSH exec each
kind: pdu
mode: exec
error: '^\s*E[1-9][0-9][0-9]:'
params:
  outlet: {pattern: '[0-9]{1,2}', help: 'an outlet number'}
actions:
  status: {send: 'olStatus {outlet}', on: '^\s*{outlet}:.*:\s*On$', off: '^\s*{outlet}:.*:\s*Off$'}
  on: {send: 'olOn {outlet}', success: '^E000:'}
  off: {send: 'olOff {outlet}', success: '^E000:'}
EOF
inv "$T/known_hosts" "" '  site-o9: {bmc: 127.77.2.1, ssh_profile: apc-exec, outlet: 9}'
run status site-o9
has "without --ssh-profile-dir the site profile is unknown" "^site-o9: error: unknown ssh_profile 'apc-exec'"
run --ssh-profile-dir "$T/profiles" off site-o9
has "a site profile from --ssh-profile-dir drives the device" "^site-o9: off$"
check "the site profile sent its own command" grep -qx '"olOff 9"' "$T/pdu/commands.log"
"$FLEETPOWER" --ssh-profile-dir "$T/profiles" plugins >"$T/out" 2>&1 || true
has "plugins lists the site profile and where it came from" "^  apc-exec +pdu +exec +$T/profiles/apc-exec.yaml"
has "plugins lists the built-in SSH profiles" "^  smash-clp +bmc +exec +built-in"

# --- authentication -------------------------------------------------------------------------
cat >"$T/inv.yaml" <<EOF
defaults: {protocol: ssh, known_hosts: $T/known_hosts, port: $P}
hosts:
  stranger-o5: {bmc: 127.77.2.1, ssh_profile: apc, outlet: 5, credentials: stranger}
  pw-o6: {bmc: 127.77.2.1, ssh_profile: apc, outlet: 6, credentials: pw}
  badpw-o7: {bmc: 127.77.2.1, ssh_profile: apc, outlet: 7, credentials: badpw}
  missing-key: {bmc: 127.77.2.2, ssh_profile: smash-clp, credentials: stranger, identity_file: $T/nope}
EOF
c0=$(ncmds pdu)
run status stranger-o5
if [ -n "$PW" ]; then
  has "wrong key: clear reason" "^stranger-o5: error: public key $T/stranger_key refused for user $SSH_USER \(the device accepts: publickey, password\)"
else
  has "wrong key: clear reason" "^stranger-o5: error: public key $T/stranger_key refused for user $SSH_USER"
fi
run status missing-key
has "missing identity_file: clear reason" "^missing-key: error: cannot load identity_file $T/nope"
if [ -n "$PW" ]; then
  run status pw-o6
  has "password auth works" "^pw-o6: on$"
  run status badpw-o7
  has "wrong password: clear reason" "^badpw-o7: error: wrong password for user root"
  check "the password never appears in output" bash -c "! grep -qF -f '$PW' '$T/out' '$T/err' '$T/audit.log' && ! grep -rqF -f '$PW' '$T/runs'"
else
  echo "# password authentication not tested (needs root for a private /etc/shadow view)"
fi
new_cmds=$(fp_commands pdu | tail -n "+$((c0 + 1))" | grep -vx exit | tr '\n' ' ' || true)
want_cmds=""
[ -z "$PW" ] || want_cmds="olStatus 6 "
check_eq "failed logins sent no command (only the password login sent its status)" "$new_cmds" "$want_cmds"
# --- libssh is opened on the first SSH target, not linked ------------------------------------
check "fleetpower does not link libssh (an IPMI or Redfish run never maps it)" \
  bash -c "! readelf -d '$FLEETPOWER' | grep -q 'NEEDED.*libssh'"
inv "$T/known_hosts"
c0=$(ncmds pdu) k0=$(nconns pdu)
rc=0
FLEETPOWER_LIBSSH="$T/no/such/libssh.so.4" "${FP[@]}" -o json status pdu1-o5 >"$T/out" 2>"$T/err" || rc=$?
check_eq "libssh cannot be loaded: every target failed (exit 3)" "$rc" 3
check "libssh cannot be loaded: a configuration error with the loader's reason" python3 - "$T/out" "$T/no/such/libssh.so.4" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
hosts = doc["hosts"] if isinstance(doc, dict) else doc
h = [x for x in hosts if x["host"] == "pdu1-o5"][0]
assert h["error"] == "config", h
assert "cannot load libssh" in h["reason"] and sys.argv[2] in h["reason"], h
PY
check_eq "libssh cannot be loaded: nothing reached the PDU" "$(nconns pdu) $(ncmds pdu)" "$k0 $c0"
run status pdu1-o5
has "the same target with libssh found: its state" "^pdu1-o5: (on|off)$"
finish
