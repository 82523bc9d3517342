# SPDX-License-Identifier: GPL-3.0-or-later
# bash completion for fleetpower(1); installed as
# /usr/share/bash-completion/completions/fleetpower (or source it from ~/.bashrc).
#
# fleetpower itself does the work (`fleetpower __complete line CWORD WORDS...`): it knows its
# commands and options, and the host names and @groups of the inventory that the line's
# -i/--inventory, the configuration file or $FLEETPOWER_INVENTORY name (cached per inventory
# file, so large inventories complete quickly).
_fleetpower() {
  local cur=${COMP_WORDS[COMP_CWORD]} bin=${COMP_WORDS[0]} out directive
  local -a lines
  [[ $bin == "~/"* ]] && bin=$HOME/${bin#"~/"}
  # A path typed on the line (./build/fleetpower) is used as it is; otherwise the one in PATH.
  if [[ $bin == */* ]]; then [[ -x $bin ]] || bin=fleetpower; else bin=fleetpower; fi
  out=$(command "$bin" __complete line "$COMP_CWORD" "${COMP_WORDS[@]}" 2>/dev/null) || return 0
  directive=${out%%$'\n'*}
  COMPREPLY=()
  case $directive in
    :files) compopt -o filenames 2>/dev/null; mapfile -t COMPREPLY < <(compgen -f -- "$cur") ;;
    :dirs) compopt -o filenames 2>/dev/null; mapfile -t COMPREPLY < <(compgen -d -- "$cur") ;;
    :words)
      [[ $out == *$'\n'* ]] || return 0
      mapfile -t lines <<<"${out#*$'\n'}"
      COMPREPLY=("${lines[@]%%$'\t'*}")  # drop the descriptions (zsh shows them)
      ;;
  esac
  return 0
}
complete -F _fleetpower fleetpower
