#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Shell completion for real: contrib/completion/fleetpower.bash sourced in bash, its function
# called with COMP_WORDS/COMP_CWORD set as bash sets them, COMPREPLY checked; the zsh script
# driven by a real interactive zsh under zpty (Tab pressed, the edited line read back).
# Host and group names come from the inventory named on the line, by the configuration or by
# $FLEETPOWER_INVENTORY, through a cache that notices when the inventory changes.
source "$(dirname "$0")/lib/common.sh"
BASH_SCRIPT=$FP_SOURCE_DIR/contrib/completion/fleetpower.bash
ZSH_DIR=$FP_SOURCE_DIR/contrib/completion
INV=$FP_SOURCE_DIR/inventory/demo-test.yaml
mkdir -p "$T/bin" "$T/home"
ln -s "$FLEETPOWER" "$T/bin/fleetpower"
export PATH=$T/bin:$PATH HOME=$T/home XDG_CACHE_HOME=$T/cache XDG_STATE_HOME=$T/state
export FLEETPOWER_CONFIG=$T/none.conf  # no site or user configuration unless a test sets one
unset FLEETPOWER_INVENTORY

# bcomp WORD... : complete the last word as bash would (words split as bash splits them).
bcomp() {
  bash --norc --noprofile -c '
    source "$1"; shift
    COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
    COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
    _fleetpower fleetpower "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
    printf "%s\n" "${COMPREPLY[@]}"' bash "$BASH_SCRIPT" "$@" | LC_ALL=C sort
}
# has OUTPUT WORD... : every WORD is a line of OUTPUT
has() { local out=$1 w; shift; for w; do grep -qxF -- "$w" <<<"$out" || return 1; done; }
lacks() { local out=$1 w; shift; for w; do ! grep -qxF -- "$w" <<<"$out" || return 1; done; }

check "bash script registers _fleetpower" bash --norc -c "source '$BASH_SCRIPT'; complete -p fleetpower | grep -q '_fleetpower'"
check_eq "command names: st -> status" "$(bcomp fleetpower st)" "status"
out=$(bcomp fleetpower "")
check "every command offered, the hidden one not" has "$out" status on off cycle reset soft nmi bootdev identify probe list plan phases resume inventory plugins version
check "the hidden __complete is not offered" lacks "$out" __complete
check_eq "options of the command: on --dr" "$(bcomp fleetpower on --dr)" "--dry-run"
out=$(bcomp fleetpower bootdev --p)
check "bootdev's own and global options" has "$out" --persistent --protocol
check "no option of another command" lacks "$(bcomp fleetpower status --pe)" --persistent
check "global options before the command" has "$(bcomp fleetpower --inv)" --inventory
check_eq "option values: -o j" "$(bcomp fleetpower -o j)" "$(printf 'json\njsonl')"
check_eq "option values with = as bash splits it: --output = j" "$(bcomp fleetpower --output = j)" "$(printf 'json\njsonl')"
check_eq "option values with the cursor right after = (bash's word is '=')" "$(bcomp fleetpower --output =)" "$(printf '=json\n=jsonl\n=prometheus\n=text')"
check_eq "option values after '=' and nothing yet" "$(bcomp fleetpower --output = "")" "$(printf 'json\njsonl\nprometheus\ntext')"
check_eq "--protocol values" "$(bcomp fleetpower --protocol r)" "redfish"
check_eq "positional values: bootdev p" "$(bcomp fleetpower bootdev p)" "pxe"
check_eq "positional values: plan" "$(bcomp fleetpower plan "")" "$(printf 'cycle\non')"
check_eq "nested command: inventory" "$(bcomp fleetpower inventory "")" "check"
check_eq "a number takes no completion" "$(bcomp fleetpower --fanout "")" ""

# Hosts and groups from the inventory on the line.
check_eq "@groups of -i's inventory" "$(bcomp fleetpower -i "$INV" status @ra)" "$(printf '@rack1\n@rack2')"
check_eq "hosts by prefix" "$(bcomp fleetpower -i "$INV" on node08)" "$(printf 'node%03d\n' $(seq 80 86))"
check_eq "--inventory=FILE as bash splits it" "$(bcomp fleetpower --inventory = "$INV" on node08)" "$(printf 'node%03d\n' $(seq 80 86))"
check_eq "after a comma, the next element" "$(bcomp fleetpower -i "$INV" status node001,node08)" "$(printf 'node001,node%03d\n' $(seq 80 86))"
check_eq "after a range, the next element" "$(bcomp fleetpower -i "$INV" status 'node[001-003],@fl')" "node[001-003],@flaky"
check_eq "inside a range: nothing" "$(bcomp fleetpower -i "$INV" status 'node[00')" ""
check_eq "options after the selection still complete" "$(bcomp fleetpower -i "$INV" off node001 --for)" "--force"
check_eq "-x takes hosts and groups" "$(bcomp fleetpower -i "$INV" status --all -x @de)" "@dead"
check_eq "the selection of bootdev comes after the device" "$(bcomp fleetpower -i "$INV" bootdev pxe @fl)" "@flaky"
check "identify offers on/off and hosts" has "$(bcomp fleetpower -i "$INV" identify "")" on off @rack1 node001
out=$(bcomp fleetpower -i "$INV" status "")
check_eq "empty word: every group (not @all) and host" "$(grep -c . <<<"$out")" "$((5 + 86))"

# The inventory from $FLEETPOWER_INVENTORY, then from the configuration file, -i over both.
printf 'defaults: { protocol: test }\ngroups:\n  envgrp: { hosts: "env[1-3]" }\n' >"$T/env.yaml"
printf 'defaults: { protocol: test }\ngroups:\n  confgrp: { hosts: "conf[1-2]" }\n' >"$T/conf.yaml"
check_eq "\$FLEETPOWER_INVENTORY" "$(FLEETPOWER_INVENTORY=$T/env.yaml bcomp fleetpower status @)" "@envgrp"
printf 'inventory: %s\n' "$T/conf.yaml" >"$T/fp.conf"
check_eq "the configuration's inventory" "$(FLEETPOWER_CONFIG=$T/fp.conf bcomp fleetpower status co)" "$(printf 'conf1\nconf2')"
check_eq "-i on the line over the configuration" "$(FLEETPOWER_CONFIG=$T/fp.conf bcomp fleetpower -i "$T/env.yaml" status e)" "$(printf 'env1\nenv2\nenv3')"
check_eq "an option after the command names the inventory too" "$(bcomp fleetpower status -i "$T/env.yaml" e)" "$(printf 'env1\nenv2\nenv3')"
check_eq "./fleetpower.yaml in the current directory" "$(cd "$T" && cp env.yaml fleetpower.yaml && bcomp fleetpower list en; rm -f fleetpower.yaml)" "$(printf 'env1\nenv2\nenv3')"
printf 'inventory: [broken\n' >"$T/bad.conf"
check_eq "a broken configuration completes commands, silently" "$(FLEETPOWER_CONFIG=$T/bad.conf bcomp fleetpower ver 2>&1)" "version"
check_eq "a missing inventory completes nothing, silently" "$(bcomp fleetpower -i "$T/nope.yaml" status n 2>&1)" ""

# The cache: written on first use, refreshed when the inventory changes.
check "a cache file was written under \$XDG_CACHE_HOME" bash -c "ls '$T/cache/fleetpower/'complete-*.cache >/dev/null"
check_eq "cache hit gives the same names" "$(bcomp fleetpower -i "$T/env.yaml" status e)" "$(printf 'env1\nenv2\nenv3')"
printf 'defaults: { protocol: test }\ngroups:\n  envgrp: { hosts: "env[1-4]" }\n' >"$T/env.yaml"
check_eq "an edited inventory is read again" "$(bcomp fleetpower -i "$T/env.yaml" status e)" "$(printf 'env1\nenv2\nenv3\nenv4')"
echo 'garbage' >"$(ls "$T"/cache/fleetpower/complete-*.cache | head -1)"
check_eq "a corrupt cache file is ignored" "$(bcomp fleetpower -i "$INV" status @fl)" "@flaky"

# File names for file options; run ids for resume.
touch "$T/site-a.yaml" "$T/site-b.yaml"
check_eq "-i completes file names" "$(bcomp fleetpower -i "$T/site-")" "$(printf '%s\n' "$T/site-a.yaml" "$T/site-b.yaml")"
mkdir -p "$T/state/fleetpower/runs"
touch "$T/state/fleetpower/runs/20261126T101010Z-abc123.jsonl" "$T/state/fleetpower/runs/20261126T111111Z-def456.jsonl"
check_eq "resume offers the journal's run ids" "$(bcomp fleetpower resume 2026)" "$(printf '20261126T101010Z-abc123\n20261126T111111Z-def456')"
check_eq "a path on the line is the binary used" "$(PATH=/usr/bin:/bin bcomp "$FLEETPOWER" -i "$INV" status @fl)" "@flaky"

# The machine-readable helpers.
check_eq "__complete groups" "$("$FLEETPOWER" __complete groups -i "$INV" r)" "$(printf 'rack1\nrack2')"
check_eq "__complete hosts with a prefix" "$("$FLEETPOWER" __complete hosts --inventory "$INV" node00 | wc -l)" 9

# zsh: a real interactive zsh with compinit, fpath holding contrib/completion; Tab pressed.
if command -v zsh >/dev/null; then
  check "zsh script parses" zsh -n "$ZSH_DIR/_fleetpower"
  cat >"$T/zdrive.zsh" <<'ZSH'
# zdrive.zsh OUT LINE...: in an interactive zsh, type each LINE and Tab, then Ctrl-X, bound to a
# widget that appends the edited line to OUT and clears it (keys are handled in order, so the
# completion has finished when the widget runs).
zmodload zsh/zpty || exit 1
out=$1; shift
zpty -b z zsh -f -i
zpty -w z 'PS1=""; RPROMPT=""; fpath=('"$ZSH_DIR"' $fpath); autoload -Uz compinit; compinit -u -D
dump() { print -r -- "[$BUFFER]" >>'"$out"'; BUFFER=""; }; zle -N dump; bindkey "^X" dump; print RE""ADY'
zpty -r z junk '*READY*' || exit 1
n=0
for line in "$@"; do
  zpty -w -n z "$line"$'\t\x18'
  n=$((n + 1))
  for i in {1..100}; do
    [[ -f $out && $(wc -l <$out) -ge $n ]] && break
    sleep 0.1
  done
done
zpty -d z
ZSH
  ZSH_DIR=$ZSH_DIR timeout 60 zsh -f "$T/zdrive.zsh" "$T/zsh.out" "fleetpower sta" "fleetpower -i $INV status @fla" \
    "fleetpower -i $INV on node08" "fleetpower bootdev --persi" "fleetpower -o jso" "fleetpower -i $INV off node001,@fla" \
    "fleetpower -i $T/conf." || true
  out=$(cat "$T/zsh.out" 2>/dev/null || true)
  echo "$out" | sed 's/^/    zsh: /'
  check_eq "zsh: command" "$(sed -n 1p <<<"$out")" "[fleetpower status ]"
  check_eq "zsh: @group from -i's inventory" "$(sed -n 2p <<<"$out")" "[fleetpower -i $INV status @flaky ]"
  check_eq "zsh: hosts by prefix (the common prefix stays)" "$(sed -n 3p <<<"$out")" "[fleetpower -i $INV on node08]"
  check_eq "zsh: option of the command" "$(sed -n 4p <<<"$out")" "[fleetpower bootdev --persistent ]"
  check_eq "zsh: option value (json and jsonl: common prefix)" "$(sed -n 5p <<<"$out")" "[fleetpower -o json]"
  check_eq "zsh: after a comma" "$(sed -n 6p <<<"$out")" "[fleetpower -i $INV off node001,@flaky ]"
  check_eq "zsh: file names for -i" "$(sed -n 7p <<<"$out")" "[fleetpower -i $T/conf.yaml ]"
else
  echo "# zsh not installed: zsh part skipped"
fi
finish
