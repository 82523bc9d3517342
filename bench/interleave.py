#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Many short runs of several commands, interleaved, with medians: for costs too small for the
rounds of ipmi_peers.sh (a few tens of milliseconds at N = 10, where GNU time's 10 ms CPU
resolution hides the difference).

  bench/interleave.py --rounds 40 NAME=COMMAND [NAME=COMMAND ...]

COMMAND is split like a shell word list (shlex); no shell runs it.  Per run: wall time,
CPU (user + system, from wait4(2): microseconds) and peak RSS.  Each command runs under
/usr/bin/time, whose %M gives the peak RSS: a child forked straight from this Python process
would start from Python's own resident size (Linux keeps the high-water mark across exec).
The CPU figure includes /usr/bin/time's own, the same small constant for every command.
Prints one line per command: medians, RSS range, and the exit codes seen.
"""
import argparse
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time


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
                t0 = time.monotonic()
                p = subprocess.Popen(["/usr/bin/time", "-o", tf.name, "-f", "%M"] + cmd,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                _, status, ru = os.wait4(p.pid, 0)
                wall = time.monotonic() - t0
                with open(tf.name) as f:
                    rss_kb = int(f.read().split()[-1])
                res[name].append((wall * 1000, (ru.ru_utime + ru.ru_stime) * 1000, rss_kb / 1024,
                                  os.waitstatus_to_exitcode(status)))
    for name, v in res.items():
        print(f"{name}: n={len(v)} wall {statistics.median(x[0] for x in v):.2f} ms, "
              f"CPU {statistics.median(x[1] for x in v):.2f} ms, "
              f"peak RSS {statistics.median(x[2] for x in v):.2f} MB "
              f"({min(x[2] for x in v):.2f}-{max(x[2] for x in v):.2f}), "
              f"exit {sorted(set(x[3] for x in v))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
