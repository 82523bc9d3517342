#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# fp-test-stage: normal
# The normal (lean) build is linked by LLD in the order of cmake/link-order.txt (CMakeLists.txt):
# the functions a run executes sit together at the start of .text, which is what keeps the
# executable's resident code near 1 MB (bench/RESULTS.md, session 8).  A build that silently
# fell back to GNU ld, or a list LLD no longer applies, would still pass every other test.
source "$(dirname "$0")/lib/common.sh"
CACHE=$FP_BUILD_DIR/CMakeCache.txt
if ! grep -q '^FLEETPOWER_LEAN_LINK:BOOL=ON' "$CACHE"; then
  echo "ok - skipped: FLEETPOWER_LEAN_LINK is off in this build (sanitizer builds link unordered)"
  exit 77
fi
LIST=$FP_SOURCE_DIR/cmake/link-order.txt

check "the executable was linked by LLD (package lld-16; scripts/install-deps installs it)" \
  bash -c "readelf -p .comment '$FLEETPOWER' | grep -q 'Linker: .*LLD'"

nm --defined-only "$FLEETPOWER" | awk '$2 ~ /^[tTwW]$/ {print $3, $1}' >"$T/syms"
readelf -SW "$FLEETPOWER" | awk '$2 == ".text" {print $4}' >"$T/text"
/usr/bin/python3 - "$LIST" "$T/syms" "$T/text" >"$T/report" <<'EOF'
import sys
names = [l.strip() for l in open(sys.argv[1]) if l.strip()]
addr = {}
for line in open(sys.argv[2]):
    name, a = line.split()
    addr.setdefault(name, int(a, 16))
text_start = int(open(sys.argv[3]).read().split()[0], 16)
present = [n for n in names if n in addr]
# fleetpower's own functions are compiled with -ffunction-sections: one section each, so LLD
# must place them exactly in the list's order (objects from static archives built without
# per-function sections move as a whole and are not checked).
ours = [n for n in present if "10fleetpower" in n]
out_of_order = [(ours[i - 1], ours[i]) for i in range(1, len(ours)) if addr[ours[i]] <= addr[ours[i - 1]]]
print(f"listed={len(names)} present={len(present)} ours={len(ours)} out_of_order={len(out_of_order)}")
print(f"first_offset={addr[present[0]] - text_start if present else -1}")
for a, b in out_of_order[:5]:
    print(f"  {b} at {addr[b]:#x} is not after {a} at {addr[a]:#x}")
EOF
cat "$T/report"
field() { sed -n "s/.*\b$1=\(-\?[0-9]*\).*/\1/p" "$T/report" | head -1; }
check "most listed functions exist in this build ($(field present) of $(field listed); a stale list: scripts/gen-link-order)" \
  test "$(field present)" -ge "$(($(field listed) * 8 / 10))"
check "at least 300 of fleetpower's own functions are listed ($(field ours))" test "$(field ours)" -ge 300
check "fleetpower's listed functions are laid out in the list's order" test "$(field out_of_order)" = 0
check "the first listed function starts .text (offset $(field first_offset))" test "$(field first_offset)" -lt 4096
finish
