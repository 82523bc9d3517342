#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# fp-test-stage: normal
# The Debian package end to end, on this machine: cpack packs the tree as built (nothing is
# rebuilt), dpkg-deb and lintian inspect the .deb, `dpkg -i` installs it, the INSTALLED
# /usr/bin/fleetpower drives a simulated Redfish fleet (status, on, off), the man pages and the
# bash/zsh completion files are where man and the shells look; `dpkg -r` leaves nothing but the
# (edited) conffile and `dpkg -P` removes that too.  Needs root, like dpkg; a package this test
# installed is always purged again (trap EXIT).
source "$(dirname "$0")/lib/common.sh"
B=${FP_BUILD_DIR:?}
SIM=${FLEETPOWER_SIM:?}
[ "$(id -u)" = 0 ] || { echo "needs root for dpkg -i"; exit 77; }
for tool in cpack dpkg-deb dpkg-shlibdeps; do
  command -v "$tool" >/dev/null || { echo "$tool missing (scripts/install-deps installs dpkg-dev)"; exit 77; }
done
[ -x "$SIM" ] || { echo "fleetpower-sim not built"; exit 77; }
# Never touch a fleetpower this test did not install.
if dpkg-query -W -f='${db:Status-Status}' fleetpower 2>/dev/null | grep -qv '^not-installed$'; then
  echo "a fleetpower package is already on this machine; not touching it"; exit 77
fi
for f in /usr/bin/fleetpower /etc/fleetpower/fleetpower.conf; do
  [ -e "$f" ] && { echo "$f exists and belongs to no package; not touching it"; exit 77; }
done

INSTALLED=0
# dpkg waits for nobody: retry while another dpkg/apt holds its lock.
dpkg_locked() {
  local i out
  for i in $(seq 60); do
    if out=$(dpkg "$@" 2>&1); then echo "$out"; return 0; fi
    grep -qi 'lock' <<<"$out" || { echo "$out"; return 1; }
    sleep 2
  done
  echo "$out"; return 1
}
deb_cleanup() {
  if [ "$INSTALLED" = 1 ] && dpkg-query -W fleetpower >/dev/null 2>&1; then
    dpkg_locked -P fleetpower >/dev/null || echo "WARNING: could not purge the test's fleetpower package"
  fi
  fp_cleanup
}
trap deb_cleanup EXIT
trap "exit 143" TERM HUP
trap "exit 130" INT

VERSION=$(sed -n 's/^CMAKE_PROJECT_VERSION:STATIC=//p' "$B/CMakeCache.txt")
ARCH=$(dpkg --print-architecture)
DEB=$T/pkg/fleetpower_${VERSION}_${ARCH}.deb

# --- build and inspect the package ----------------------------------------------------------
start=$(date +%s%N)
expect_rc 0 "cpack packs the built tree" cpack --config "$B/CPackConfig.cmake" -B "$T/pkg"
echo "    cpack took $((($(date +%s%N) - start) / 1000000)) ms"
check "the .deb is named fleetpower_${VERSION}_${ARCH}.deb" test -f "$DEB"
[ -f "$DEB" ] || { finish; exit 1; }
dpkg-deb --field "$DEB" >"$T/control"
sed 's/^/    /' "$T/control"
check_eq "Package" "$(dpkg-deb --field "$DEB" Package)" fleetpower
check_eq "Version is the project version" "$(dpkg-deb --field "$DEB" Version)" "$VERSION"
check_eq "Architecture" "$(dpkg-deb --field "$DEB" Architecture)" "$ARCH"
check_eq "Section" "$(dpkg-deb --field "$DEB" Section)" admin
depends=$(dpkg-deb --field "$DEB" Depends)
# Every library the binary needs directly must come from a package named in Depends.
dpkg-deb -x "$DEB" "$T/x"
missing=""
# Package names in Depends (versions and alternatives dropped).
dep_names=$(sed 's/([^)]*)//g; s/[|,]/\n/g' <<<"$depends" | tr -d ' ' | sort -u)
for lib in $(readelf -d "$T/x/usr/bin/fleetpower" | sed -n 's/.*NEEDED.*\[\(.*\)\]/\1/p'); do
  path=$(ldconfig -p | awk -v l="$lib" '$1 == l && !p {p = $NF} END {print p}')
  pkg=""
  for cand in "$path" "$(readlink -f "$path")" "/usr${path#/usr}" "${path#/usr}"; do
    [ -n "$pkg" ] || pkg=$(dpkg -S "$cand" 2>/dev/null | head -1 | cut -d: -f1 || true)
  done
  if [ -z "$pkg" ]; then missing+=" $lib(no package)"; continue; fi
  # The package itself, or a virtual package it provides (libspdlog1.10 provides libspdlog1.10-fmt9).
  names=$(printf '%s\n' "$pkg"; dpkg-query -W -f='${Provides}\n' "$pkg" 2>/dev/null | sed 's/([^)]*)//g; s/,/\n/g' | tr -d ' ')
  grep -qxFf <(grep . <<<"$names") <<<"$dep_names" || missing+=" $lib($pkg)"
done
check "Depends names the package of every NEEDED library (missing:${missing:- none})" test -z "$missing"
check "Depends carries versions from the shlibs files" grep -q 'libc6 (>= ' <<<"$depends"
check "Depends names libssh-4 (opened with dlopen on the first SSH target: dpkg-shlibdeps cannot see it)" \
  grep -qE '(^|, )libssh-4( |,|$)' <<<"$depends"
check "the packaged binary is stripped" bash -c "! readelf -S '$T/x/usr/bin/fleetpower' | grep -q '\.debug_info'"
dpkg-deb --contents "$DEB" | awk '{print $NF}' | sed 's|^\./|/|' >"$T/contents"
for p in /usr/bin/fleetpower /usr/share/man/man1/fleetpower.1.gz /usr/share/man/man5/fleetpower-inventory.5.gz \
         /usr/share/bash-completion/completions/fleetpower /usr/share/zsh/vendor-completions/_fleetpower \
         /usr/share/doc/fleetpower/copyright /usr/share/doc/fleetpower/changelog.gz \
         /usr/share/doc/fleetpower/examples/example-site.yaml /usr/share/doc/fleetpower/examples/fleetpower.conf \
         /usr/lib/fleetpower/plugins/ /etc/fleetpower/ /etc/fleetpower/fleetpower.conf; do
  check "package has $p" grep -qxF "$p" "$T/contents"
done
check "nothing under /usr/local" bash -c "! grep -q '^/usr/local' '$T/contents'"
check_eq "/etc/fleetpower holds only the conffile" "$(grep '^/etc/fleetpower/' "$T/contents" | tr '\n' ' ')" "/etc/fleetpower/ /etc/fleetpower/fleetpower.conf "
check_eq "conffiles" "$(dpkg-deb --info "$DEB" conffiles)" "/etc/fleetpower/fleetpower.conf"
check "the conffile changes nothing (every line a comment)" bash -c "! grep -v '^#' '$T/x/etc/fleetpower/fleetpower.conf' | grep -q ."
check "copyright says GPL-3+ (GPL-3.0-or-later)" grep -q '^License: GPL-3+' "$T/x/usr/share/doc/fleetpower/copyright"
if command -v lintian >/dev/null; then
  # Errors fail the test; warnings are printed.  Suppressed, with the reason:
  #  - no-manual-page for the Slurm helpers under /usr/lib (not in PATH, documented in fleetpower(1))
  set +e
  lintian --tag-display-limit 0 --suppress-tags no-manual-page "$DEB" >"$T/lintian" 2>&1
  set -e
  sed 's/^/    lintian: /' "$T/lintian"
  check "lintian finds no error" bash -c "! grep -q '^E:' '$T/lintian'"
else
  echo "# lintian not installed: skipped"
fi

# --- install -----------------------------------------------------------------------------------
INSTALLED=1
expect_rc 0 "dpkg -i installs it" dpkg_locked -i "$DEB"
check_eq "dpkg status" "$(dpkg-query -W -f='${db:Status-Abbrev}' fleetpower)" "ii "
check_eq "the installed binary reports the package version" "$(/usr/bin/fleetpower --version)" "$VERSION"
check "man finds fleetpower(1)" test "$(man -w fleetpower 2>/dev/null)" = /usr/share/man/man1/fleetpower.1.gz
check "man finds fleetpower-inventory(5)" test "$(man -w 5 fleetpower-inventory 2>/dev/null)" = /usr/share/man/man5/fleetpower-inventory.5.gz
check "fleetpower(1) renders" bash -c "MANWIDTH=80 man -P cat fleetpower 2>/dev/null | grep -qE 'out-of-band +power +control'"
if [ -f /usr/share/bash-completion/bash_completion ]; then
  check "bash-completion loads the completion on demand" bash --norc -c \
    'source /usr/share/bash-completion/bash_completion; _completion_loader fleetpower; complete -p fleetpower | grep -q _fleetpower'
fi
check_eq "bash completion runs the installed fleetpower" "$(env -i PATH=/usr/bin:/bin HOME="$T" bash --norc -c \
  'source /usr/share/bash-completion/completions/fleetpower; COMP_WORDS=(fleetpower bootd); COMP_CWORD=1; _fleetpower; echo "${COMPREPLY[*]}"')" bootdev
if command -v zsh >/dev/null; then
  check "zsh's default fpath has the completion's directory" bash -c \
    "zsh -fc 'print -l \$fpath' | grep -qx /usr/share/zsh/vendor-completions"
fi

# --- the installed binary against a simulated Redfish fleet ---------------------------------
S=$T/sim
mkdir -p "$S"
"$SIM" --redfish 6 --address-base 127.93.0.1 --port 8443 --initial-power off --power-on-delay 200ms \
  --state-dir "$S" --inventory-out "$S/inventory.yaml" --credentials-out "$S/credentials.yaml" --quiet >"$S/out" 2>&1 &
FP_PIDS+=($!)
for _ in $(seq 300); do grep -qx ready "$S/out" && break; kill -0 "${FP_PIDS[-1]}" 2>/dev/null || break; sleep 0.1; done
grep -qx ready "$S/out" || { cat "$S/out"; exit 1; }
export XDG_STATE_HOME=$T/state
ifp() { /usr/bin/fleetpower -i "$S/inventory.yaml" --credentials "$S/credentials.yaml" --audit-log "$T/audit.log" "$@"; }
expect_rc 0 "installed fleetpower: status" ifp status --all
check "all six off" contains "$T/out" "rf[0001-0006]: off"
expect_rc 0 "installed fleetpower: on" ifp on --all --timeout 5s
check "all six on, verified" contains "$T/out" "rf[0001-0006]: on"
expect_rc 0 "installed fleetpower: off" ifp off --all --yes --timeout 5s
check "all six off, verified" contains "$T/out" "rf[0001-0006]: off"
check_eq "the BMCs saw one power-on and one power-off each" "$(grep -c '"event":"reset".*"result":"accepted"' "$S/events.jsonl")" 12

# --- remove, then purge ------------------------------------------------------------------------
echo "# edited by the deb_package test" >>/etc/fleetpower/fleetpower.conf
expect_rc 0 "dpkg -r removes it" dpkg_locked -r fleetpower
check_eq "state: only config files left" "$(dpkg-query -W -f='${db:Status-Abbrev}' fleetpower)" "rc "
left=""
while read -r p; do
  [ "$p" = /etc/fleetpower/fleetpower.conf ] && continue
  case $p in
    */) case $p in /usr/lib/fleetpower/*|/usr/share/doc/fleetpower/*) [ -d "$p" ] && left+=" $p" ;; esac ;;
    *) [ -e "$p" ] && left+=" $p" ;;
  esac
done <"$T/contents"
check "nothing of the package left but the conffile (left:${left:- nothing})" test -z "$left"
check "the edited conffile is kept" grep -q 'edited by the deb_package test' /etc/fleetpower/fleetpower.conf
check "no fleetpower in PATH any more" bash -c "! command -v fleetpower >/dev/null || [ \"\$(command -v fleetpower)\" != /usr/bin/fleetpower ]"
expect_rc 0 "dpkg -P purges it" dpkg_locked -P fleetpower
check "the conffile is gone" test ! -e /etc/fleetpower/fleetpower.conf
check "/etc/fleetpower is gone" test ! -e /etc/fleetpower
check "dpkg forgot the package" bash -c "! dpkg-query -W -f='\${db:Status-Status}' fleetpower 2>/dev/null | grep -qv '^not-installed$'"
finish
