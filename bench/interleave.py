#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Many short runs of several commands, interleaved, with medians: for costs too small for the
rounds of ipmi_peers.sh (a few tens of milliseconds at N = 10, where GNU time's 10 ms CPU
resolution hides the difference).

  bench/interleave.py --rounds 40 NAME=COMMAND [NAME=COMMAND ...]

COMMAND is split like a shell word list (shlex); no shell runs it.  Each run is measured by
bench/lib/measure, as in ipmi_peers.sh: wall, CPU (user + system, from wait4(2): microseconds)
and peak RSS (GNU time's %M).  Prints one line per command: medians, RSS range, and the exit
codes seen.
"""
import argparse
import os
import shlex
import statistics
import subprocess
import sys
import tempfile

MEASURE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib", "measure")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("commands", nargs="+", metavar="NAME=COMMAND")
    a = ap.parse_args()
    tools = {}
    for c in a.commands:
        name, sep, cmd = c.partition("=")
        if not sep or not cmd:
            ap.error(f"expected NAME=COMMAND, got {c!r}")
        tools[name] = shlex.split(cmd)
    res = {t: [] for t in tools}
    with tempfile.NamedTemporaryFile(prefix="interleave.") as tf:
        for _ in range(a.rounds):
            for name, cmd in tools.items():
                subprocess.run([MEASURE, "-o", tf.name, "--"] + cmd, check=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                with open(tf.name) as f:
                    wall, user, sys_, rss_kb, code = f.read().split()
                res[name].append((float(wall) * 1000, (float(user) + float(sys_)) * 1000,
                                  int(rss_kb) / 1024, int(code)))
    for name, v in res.items():
        print(f"{name}: n={len(v)} wall {statistics.median(x[0] for x in v):.2f} ms, "
              f"CPU {statistics.median(x[1] for x in v):.2f} ms, "
              f"peak RSS {statistics.median(x[2] for x in v):.2f} MB "
              f"({min(x[2] for x in v):.2f}-{max(x[2] for x in v):.2f}), "
              f"exit {sorted(set(x[3] for x in v))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
