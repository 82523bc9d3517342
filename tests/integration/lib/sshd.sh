# SPDX-License-Identifier: GPL-3.0-or-later
# Real OpenSSH sshd instances on loopback for the SSH tests (sourced after common.sh).
# Each runs with its own config, host key, authorized_keys and PidFile under $T/<name>, and a
# ForceCommand that runs tests/sshdev/fp_sshdev.py (the device emulator).  Killed by PID at exit.
#
# As root, sshd wants its privilege separation directory /run/sshd; the test never creates it
# on the system: sshd runs in a private mount namespace (unshare -m) with a tmpfs on /run.
# For password tests the same namespace bind-mounts a one-line shadow file over /etc/shadow
# (root's password is then the test's own), so no system user or file is touched.

SSHD=/usr/sbin/sshd
EMU="$FP_SOURCE_DIR/tests/sshdev/fp_sshdev.py"
SSH_USER=$(id -un)

fp_ssh_prereqs() {
  [ -x "$SSHD" ] || { echo "SKIP: $SSHD missing (package openssh-server)"; exit 77; }
  command -v ssh-keygen >/dev/null || { echo "SKIP: ssh-keygen missing (package openssh-client)"; exit 77; }
  [ -x /usr/bin/python3 ] || { echo "SKIP: /usr/bin/python3 missing"; exit 77; }
  if [ "$(id -u)" -eq 0 ] && [ ! -d /run/sshd ]; then
    unshare -m --propagation private true 2>/dev/null ||
      { echo "SKIP: running as root without /run/sshd and without mount namespaces"; exit 77; }
  fi
  [ -f "$T/client_key" ] || ssh-keygen -q -t ed25519 -N '' -C fleetpower-test -f "$T/client_key"
}

# fp_sshd_start NAME ADDR PORT KIND [PASSWORD_FILE]: start one device; waits until it listens.
# With PASSWORD_FILE (root only), password authentication is on and root's password is its content.
fp_sshd_start() {
  local name=$1 addr=$2 port=$3 kind=$4 pwfile=${5:-}
  local d="$T/$name"
  mkdir -p "$d"
  [ -f "$d/hostkey" ] || ssh-keygen -q -t ed25519 -N '' -C "$name" -f "$d/hostkey"
  cp "$T/client_key.pub" "$d/authorized_keys"
  local pwauth=no rootlogin=prohibit-password
  if [ -n "$pwfile" ]; then
    pwauth=yes rootlogin=yes
    printf 'root:%s:20000:0:99999:7:::\n' "$(openssl passwd -6 -stdin <"$pwfile")" >"$d/shadow"
    chmod 600 "$d/shadow"
  fi
  cat >"$d/sshd_config" <<CFG
ListenAddress $addr:$port
HostKey $d/hostkey
PidFile $d/sshd.pid
AuthorizedKeysFile $d/authorized_keys
StrictModes no
UsePAM no
PubkeyAuthentication yes
PasswordAuthentication $pwauth
KbdInteractiveAuthentication no
PermitRootLogin $rootlogin
PermitEmptyPasswords no
AllowTcpForwarding no
X11Forwarding no
PrintMotd no
PrintLastLog no
UseDNS no
MaxStartups 200
MaxAuthTries 6
LogLevel VERBOSE
ForceCommand /usr/bin/python3 $EMU --kind $kind --dir $d
CFG
  if [ "$(id -u)" -eq 0 ] && { [ ! -d /run/sshd ] || [ -n "$pwfile" ]; }; then
    local bind=""
    [ -n "$pwfile" ] && bind="mount --bind '$d/shadow' /etc/shadow &&"
    unshare -m --propagation private sh -c \
      "mount -t tmpfs -o mode=755 tmpfs /run && mkdir -m 755 /run/sshd && $bind exec $SSHD -D -e -f '$d/sshd_config'" \
      2>"$d/sshd.log" &
  else
    "$SSHD" -D -e -f "$d/sshd_config" 2>"$d/sshd.log" &
  fi
  FP_PIDS+=($!)
  local i
  for i in $(seq 100); do
    if (exec 3<>"/dev/tcp/$addr/$port") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "sshd $name did not start:"; cat "$d/sshd.log"; return 1
}

# fp_known_host NAME ADDR PORT: the known_hosts line for that device's current host key.
fp_known_host() {
  printf '[%s]:%s %s\n' "$2" "$3" "$(cut -d' ' -f1-2 "$T/$1/hostkey.pub")"
}

# fp_fingerprint NAME: SHA256 fingerprint of the device's host key (as ssh-keygen shows it).
fp_fingerprint() { ssh-keygen -lf "$T/$1/hostkey.pub" | awk '{print $2}'; }

# fp_commands NAME: the commands the device received, one per line.
fp_commands() { [ -f "$T/$1/commands.log" ] && python3 -c 'import json,sys; [print(json.loads(l)) for l in open(sys.argv[1])]' "$T/$1/commands.log" || true; }
