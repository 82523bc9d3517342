#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Generate random hostlist expressions and ClusterShell's answer for each.

Writes one case per line, tab separated:

    EXPRESSION <TAB> EXPANDED (names separated by blanks) <TAB> FOLDED

EXPANDED and FOLDED come from ClusterShell's NodeSet, the library behind the `nodeset`
command (`nodeset -e` prints the names joined by blanks, `nodeset -f` prints str(NodeSet)).
With --check-cli N the first N cases are also run through the real `nodeset` command, and the
script fails if the command disagrees with the library.

Sets are one-dimensional (each name has at most one run of digits) unless --multidim is
given: several prefixes and suffixes, zero-padded and unpadded numbers mixed (node1 and node01
are distinct), gaps, digitless names. Expressions are written the long way round on purpose:
ranges split, shuffled, overlapping, with steps and duplicates, so the parser is exercised and
not only fed canonical output.
"""
import argparse
import random
import subprocess
import sys

try:
    from ClusterShell.NodeSet import NodeSet
except ImportError:  # pragma: no cover - the caller maps this to "skipped"
    sys.stderr.write("gen_hostlists: python3-clustershell is not installed\n")
    sys.exit(77)

PREFIXES = ["node", "n", "cn", "gpu", "c-", "compute.", "x_", "Node", "bmc-r", "a"]
SUFFIXES = ["", "", "", "-ib", ".mgmt", "-bmc", "b", "_eth0x"]
PLAIN = ["login", "head", "mgmt-a", "storage", "sw-core"]


def fmt(value, width):
    return "%0*d" % (width, value) if width else "%d" % value


def pick_values(rng, width):
    """A random set of integers with runs and gaps, representable in `width` digits."""
    limit = 10 ** width - 1 if width else rng.choice([20, 150, 1200, 20000])
    lo = rng.randint(0, max(0, limit // 2))
    values = set()
    cur = lo
    for _ in range(rng.randint(1, 12)):
        run = rng.choice([1, 1, 2, 3, 5, 10, 40, 200])
        for v in range(cur, min(limit, cur + run - 1) + 1):
            values.add(v)
        cur += run + rng.choice([1, 1, 2, 5, 30, 500])
        if cur > limit:
            break
    return sorted(values)


def runs(values):
    out = []
    for v in values:
        if out and out[-1][1] + 1 == v:
            out[-1][1] = v
        else:
            out.append([v, v])
    return out


def range_items(rng, values, width):
    """Bracket items covering exactly `values` (as numbers written with `width`)."""
    items = []
    for lo, hi in runs(values):
        # split long runs at random points, sometimes with overlap
        cuts = sorted(rng.sample(range(lo, hi + 1), min(hi - lo + 1, rng.choice([0, 0, 1, 2]))))
        start = lo
        for c in cuts + [hi]:
            if c < start:
                continue
            end = c
            if rng.random() < 0.1 and end < hi:
                end = min(hi, end + rng.randint(1, 3))  # overlap with the next piece
            items.append(fmt(start, width) if start == end else
                         "%s-%s" % (fmt(start, width), fmt(end, width)))
            start = c + 1
    # a stepped item over a subset already present (duplicates are legal)
    if len(values) >= 3 and rng.random() < 0.3:
        a = rng.choice(values)
        step = rng.choice([2, 3, 7])
        b = a + step * rng.randint(1, 4)
        picked = [v for v in range(a, b + 1, step)]
        if all(v in values for v in picked):
            items.append("%s-%s/%d" % (fmt(a, width), fmt(b, width), step))
    if rng.random() < 0.2 and values:
        items.append(fmt(rng.choice(values), width))  # duplicate single
    rng.shuffle(items)
    return items


def pattern_exprs(rng, prefix, suffix, values, width):
    items = range_items(rng, values, width)
    exprs = []
    # distribute the items over one or more bracket groups, or bare names for singles
    while items:
        take = rng.randint(1, len(items))
        chunk, items = items[:take], items[take:]
        if len(chunk) == 1 and "-" not in chunk[0] and rng.random() < 0.5:
            exprs.append(prefix + chunk[0] + suffix)
        else:
            exprs.append("%s[%s]%s" % (prefix, ",".join(chunk), suffix))
    return exprs


def one_case(rng, multidim):
    exprs = []
    for _ in range(rng.choice([1, 1, 1, 2, 3])):
        prefix = rng.choice(PREFIXES)
        suffix = rng.choice(SUFFIXES)
        if multidim and rng.random() < 0.7:
            # r[..]n[..]: two digit runs, sometimes a full product, sometimes ragged
            rows = pick_values(rng, rng.choice([0, 0, 2]))[:6]
            for r in rows:
                w = rng.choice([0, 2, 3])
                cols = pick_values(rng, w)[:30]
                if cols:
                    exprs += pattern_exprs(rng, "%sr%dn" % (prefix, r), suffix, cols, w)
            continue
        # one or two widths for the same prefix/suffix (node1 vs node01)
        for width in rng.sample([0, 0, 2, 3, 4], rng.choice([1, 1, 2])):
            values = pick_values(rng, width)
            if values:
                exprs += pattern_exprs(rng, prefix, suffix, values, width)
    if rng.random() < 0.15:
        exprs += rng.sample(PLAIN, rng.randint(1, 2))
    rng.shuffle(exprs)
    return ",".join(exprs)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=20261126)
    ap.add_argument("--count", type=int, default=2000)
    ap.add_argument("--multidim", action="store_true", help="also names like r1n01")
    ap.add_argument("--check-cli", type=int, default=0, metavar="N",
                    help="cross-check the first N cases with the real nodeset command")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    out = sys.stdout
    for i in range(args.count):
        expr = one_case(rng, args.multidim)
        ns = NodeSet(expr)
        expanded = " ".join(ns)
        folded = str(ns)
        if i < args.check_cli:
            e = subprocess.run(["nodeset", "-e", expr], capture_output=True, text=True, check=True)
            f = subprocess.run(["nodeset", "-f", expr], capture_output=True, text=True, check=True)
            if e.stdout.strip() != expanded or f.stdout.strip() != folded:
                sys.stderr.write("gen_hostlists: nodeset command disagrees with the library on %r\n"
                                 % expr)
                sys.exit(1)
        out.write("%s\t%s\t%s\n" % (expr, expanded, folded))


if __name__ == "__main__":
    main()
