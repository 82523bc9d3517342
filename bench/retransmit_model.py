#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Monte Carlo model of the IPMI engine's retransmission schedule on a lossy path.

The path of tests/integration/netem_ipmi.sh: each datagram lost with probability LOSS in each
direction, one-way delay uniform in [DMIN, DMAX]. A phase is a number of exchanges in a row that
share one deadline (the handshake and the read before acting: five exchanges within the 10 s
per-operation timeout). Each exchange sends a copy at once, then one per retransmission wait:
BASE plus up to JITTER for the first FLAT + 1 waits, then growing by BACKOFF per copy up to
MAX (ipmi_backend.hpp's Options). The first reply to any copy ends the exchange. Prints, per FLAT
value asked for, the share of phases that miss the deadline.

    retransmit_model.py [--flat 6,8,10,12] [--phases 2000000] [--exchanges 5] [--seed 1]
"""
import argparse
import random


def waits(flat, base, jitter, backoff, cap, horizon, rng):
    # The engine's arm_retransmit(): the i-th wait (i = 0 after the first copy) is
    # base * backoff^max(0, i - flat), capped, plus jitter.
    t, i, out = 0.0, 0, [0.0]
    while t < horizon:
        t += min(base * backoff ** max(0, i - flat), cap) + rng.uniform(0, jitter)
        out.append(t)
        i += 1
    return out


def exchange(t0, flat, a, rng):
    first = None
    for s in waits(flat, a.base, a.jitter, a.backoff, a.max, a.deadline, rng):
        sent = t0 + s
        if sent > a.deadline or (first is not None and sent >= first):
            break
        if rng.random() < a.loss or rng.random() < a.loss:  # request or reply lost
            continue
        back = sent + rng.uniform(a.dmin, a.dmax) + rng.uniform(a.dmin, a.dmax)
        first = back if first is None else min(first, back)
    return first if first is not None and first <= a.deadline else None


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--flat", default="6,8,10,12")
    p.add_argument("--phases", type=int, default=2000000)
    p.add_argument("--exchanges", type=int, default=5)
    p.add_argument("--deadline", type=float, default=10.0)
    p.add_argument("--loss", type=float, default=0.2)
    p.add_argument("--dmin", type=float, default=0.1)
    p.add_argument("--dmax", type=float, default=0.3)
    p.add_argument("--base", type=float, default=0.4)
    p.add_argument("--jitter", type=float, default=0.1)
    p.add_argument("--backoff", type=float, default=1.5)
    p.add_argument("--max", type=float, default=2.0)
    p.add_argument("--seed", type=int, default=1)
    a = p.parse_args()
    for flat in (int(x) for x in a.flat.split(",")):
        rng = random.Random(a.seed * 1000 + flat)
        missed = 0
        for _ in range(a.phases):
            t = 0.0
            for _ in range(a.exchanges):
                t = exchange(t, flat, a, rng)
                if t is None:
                    missed += 1
                    break
        print("flat %2d: %d of %d phases missed the %.0f s deadline (%.2g)" %
              (flat, missed, a.phases, a.deadline, missed / a.phases))


if __name__ == "__main__":
    main()
