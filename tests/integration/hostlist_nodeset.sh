#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# fp-test-stage: normal
# Hostlists against ClusterShell's nodeset on thousands of random sets.
#
# 1. tests/integration/lib/gen_hostlists.py writes random hostlist expressions together with
#    ClusterShell's expansion (`nodeset -e`) and folding (`nodeset -f`); the first cases are
#    also run through the real `nodeset` command to make sure library and command agree.
# 2. The fleetpower CLI must agree on the first FP_HOSTLIST_CLI_COUNT one-dimensional sets:
#    `fleetpower -i INV list EXPR` prints the nodeset -f line and
#    `fleetpower -i INV list --expand EXPR` the nodeset -e names, one per line, same order.
#    Each batch of sets gets a generated inventory whose hosts are the union of the batch;
#    every other inventory lists them in shuffled order (then --expand is compared as a set).
# 3. The hostlist library itself is checked on the same cases, plus multi-dimensional ones
#    (r1n01-style names), through the hidden "[nodeset]" case of the unit-test binary.
#
# Environment: FLEETPOWER (binary), FP_BUILD_DIR (for tests/fleetpower_unit),
# FP_HOSTLIST_SEED (default 20261126), FP_HOSTLIST_COUNT (default 2000 sets),
# FP_HOSTLIST_CLI_COUNT (default 600: how many of them go through the CLI, two fleetpower runs
# each, 20 ms apiece; the library check above takes all of them in half a second).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
py=/usr/bin/python3
gen=$here/lib/gen_hostlists.py
seed=${FP_HOSTLIST_SEED:-20261126}
count=${FP_HOSTLIST_COUNT:-2000}
cli_count=${FP_HOSTLIST_CLI_COUNT:-600}

if ! command -v nodeset >/dev/null 2>&1 || ! $py -c 'import ClusterShell.NodeSet' 2>/dev/null; then
  echo "SKIP: ClusterShell (Debian package clustershell) is not installed"
  exit 77
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "hostlist_nodeset: seed $seed, $count one-dimensional sets (FP_HOSTLIST_SEED to change)"
# PYTHONHASHSEED pins nodeset's internal iteration order, so a given seed is reproducible.
PYTHONHASHSEED=0 $py "$gen" gen --seed "$seed" --count "$count" --check-cli 20 >"$tmp/cases.tsv"
PYTHONHASHSEED=0 $py "$gen" gen --seed "$((seed + 1))" --count "$((count / 4 + 1))" --multidim \
  --check-cli 5 >"$tmp/cases-nd.tsv"

ran=0
failed=0

unit=${FP_BUILD_DIR:+$FP_BUILD_DIR/tests/fleetpower_unit}
if [[ -n $unit && -x $unit ]]; then
  for f in cases cases-nd; do
    if FP_HOSTLIST_CASES=$tmp/$f.tsv "$unit" '[nodeset]' >"$tmp/unit-$f.log" 2>&1; then
      echo "library: $(wc -l <"$tmp/$f.tsv") sets ($f) agree with nodeset"
    else
      echo "FAIL: library disagrees with nodeset ($f):"
      head -n 80 "$tmp/unit-$f.log"
      failed=1
    fi
  done
  ran=1
else
  echo "note: unit-test binary not found (FP_BUILD_DIR=${FP_BUILD_DIR:-unset}); library check skipped"
fi

if [[ -n ${FLEETPOWER:-} && -x $FLEETPOWER ]]; then
  head -n "$cli_count" "$tmp/cases.tsv" >"$tmp/cases-cli.tsv"
  if ! $py "$gen" cli --fleetpower "$FLEETPOWER" --cases "$tmp/cases-cli.tsv" --workdir "$tmp" \
      --seed "$seed"; then
    echo "FAIL: fleetpower list disagrees with nodeset (seed $seed)"
    failed=1
  fi
  ran=1
else
  echo "note: fleetpower binary not found (FLEETPOWER=${FLEETPOWER:-unset}); CLI check skipped"
fi

if [[ $ran == 0 ]]; then
  echo "SKIP: neither the fleetpower binary nor the unit-test binary is built"
  exit 77
fi
exit "$failed"
