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

    gen_hostlists.py gen [--seed S] [--count N] [--multidim] [--check-cli N] > cases.tsv
    gen_hostlists.py cli --fleetpower PATH --cases cases.tsv --workdir DIR

`cli` runs every case through the real fleetpower binary: cases are batched, one generated
inventory per batch whose `hosts` is the union of the batch's sets, then for each case
`fleetpower -i INV list EXPR` must print the nodeset -f line and
`fleetpower -i INV list --expand EXPR` the nodeset -e names, one per line. Every other batch
lists the inventory's hosts in a shuffled order: there the folded line must still match exactly
and the expanded names as a set (the order of --expand is only required to be nodeset's when
the inventory itself is in nodeset order).
"""
import argparse
import concurrent.futures
import os
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
    if rng.random() < 0.4:
        # start just below a power of ten, where widths change (9 -> 10, 099 -> 100)
        top = width if width else len(str(limit)) - 1
        lo = max(0, 10 ** rng.randint(1, max(1, top)) - rng.randint(1, 12))
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


def cmd_gen(args):
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
            if e.stdout.split() != expanded.split(" ") or f.stdout.strip() != folded:
                sys.stderr.write("gen_hostlists: nodeset command disagrees with the library on %r\n"
                                 % expr)
                return 1
        out.write("%s\t%s\t%s\n" % (expr, expanded, folded))
    return 0


def read_cases(path):
    cases = []
    with open(path) as f:
        for line in f:
            expr, expanded, folded = line.rstrip("\n").split("\t")
            cases.append((expr, expanded.split(" "), folded))
    return cases


def run_case(fleetpower, inv, case, ordered):
    """Returns a list of problems (empty when fleetpower agrees with nodeset)."""
    expr, expanded, folded = case
    problems = []
    for mode, argv in (("folded", [fleetpower, "-i", inv, "list", expr]),
                       ("expanded", [fleetpower, "-i", inv, "list", "--expand", expr])):
        try:
            p = subprocess.run(argv, capture_output=True, text=True, timeout=60,
                               stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            problems.append("%s: timed out: %s" % (mode, " ".join(argv)))
            continue
        if p.returncode != 0:
            problems.append("%s: exit %d: %s\n  stderr: %s" %
                            (mode, p.returncode, " ".join(argv), p.stderr.strip()[:500]))
            continue
        if mode == "folded":
            got = p.stdout.strip()
            if got != folded:
                problems.append("folded: %s\n  nodeset -f: %s\n  fleetpower: %s" %
                                (expr, folded[:400], got[:400]))
        else:
            got = p.stdout.split()
            if not ordered and len(got) == len(set(got)) and set(got) == set(expanded):
                continue
            if got != expanded:
                first = next((i for i, (a, b) in enumerate(zip(got, expanded)) if a != b),
                             min(len(got), len(expanded)))
                problems.append("expanded%s: %s\n  nodeset -e: %d names, fleetpower: %d names; "
                                "first difference at #%d: nodeset %r, fleetpower %r" %
                                ("" if ordered else " (as a set, shuffled inventory)",
                                 expr, len(expanded), len(got), first,
                                 expanded[first] if first < len(expanded) else None,
                                 got[first] if first < len(got) else None))
    return problems


def cmd_cli(args):
    cases = read_cases(args.cases)
    rng = random.Random(args.seed)
    bad = 0
    checked = 0
    jobs = max(1, args.jobs)
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        for b in range(0, len(cases), args.batch):
            batch = cases[b:b + args.batch]
            union = NodeSet()
            for expr, _, _ in batch:
                union.update(expr)
            ordered = (b // args.batch) % 2 == 0
            if ordered:
                hosts = str(union)
            else:
                # the same hosts, in shuffled chunks
                names = list(union)
                cuts = sorted(rng.sample(range(1, len(names)), min(len(names) - 1, 12)))
                chunks = [names[i:j] for i, j in zip([0] + cuts, cuts + [len(names)])]
                rng.shuffle(chunks)
                hosts = ",".join(str(NodeSet.fromlist(c)) for c in chunks)
            inv = os.path.join(args.workdir, "inventory-%d.yaml" % (b // args.batch))
            with open(inv, "w") as f:
                f.write("groups:\n  all_nodes:\n    hosts: \"%s\"\n"
                        "    bmc: \"{host}-bmc\"\n    protocol: test\n" % hosts)
            run = lambda c, inv=inv, ordered=ordered: run_case(args.fleetpower, inv, c, ordered)
            for case, problems in zip(batch, pool.map(run, batch)):
                checked += 1
                if problems:
                    bad += 1
                    if bad <= args.show:
                        for p in problems:
                            sys.stderr.write("MISMATCH %s\n" % p)
    print("fleetpower list vs nodeset: %d sets, %d disagree" % (checked, bad))
    return 1 if bad or not checked else 0


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("gen", help="write cases (expression, nodeset -e, nodeset -f)")
    g.add_argument("--seed", type=int, default=20261126)
    g.add_argument("--count", type=int, default=2000)
    g.add_argument("--multidim", action="store_true", help="also names like r1n01")
    g.add_argument("--check-cli", type=int, default=0, metavar="N",
                   help="cross-check the first N cases with the real nodeset command")
    c = sub.add_parser("cli", help="compare fleetpower list with the cases")
    c.add_argument("--fleetpower", required=True)
    c.add_argument("--cases", required=True)
    c.add_argument("--workdir", required=True)
    c.add_argument("--batch", type=int, default=25, help="sets per generated inventory")
    c.add_argument("--jobs", type=int, default=2)
    c.add_argument("--show", type=int, default=10, help="mismatching sets to print")
    c.add_argument("--seed", type=int, default=20261126, help="for the shuffled inventories")
    args = ap.parse_args()
    return cmd_gen(args) if args.cmd == "gen" else cmd_cli(args)


if __name__ == "__main__":
    sys.exit(main())
