#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""A userspace stand-in for `tc qdisc ... netem` on kernels built without sch_netem.

Two tun devices (made by the caller with `ip tuntap add dev NAME mode tun`) are joined by this
process: every IP packet the kernel sends into one comes out of the other, after the same
impairments netem applies: random loss, a delay with jitter (packets overtake each other, so
they are reordered), duplication, and an explicit reorder share that skips the delay.  Each
direction is impaired on its own (like netem on both ends of a veth pair).

  netem.py --dev-a TUN_A --dev-b TUN_B --ready FILE [--loss 20] [--delay 100] [--jitter 100]
           [--duplicate 5] [--reorder 10] [--seed N]

It attaches to both devices, then writes FILE; the caller may move TUN_B into a network
namespace after that (the attachment survives the move).  Runs until SIGTERM.  Counters are
printed on stderr at exit.
"""
import argparse
import fcntl
import heapq
import os
import random
import select
import signal
import struct
import sys
import time

TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000


def attach(name):
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TUN | IFF_NO_PI))
    return fd


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dev-a", required=True)
    ap.add_argument("--dev-b", required=True)
    ap.add_argument("--ready", required=True)
    ap.add_argument("--loss", type=float, default=0.0, help="percent")
    ap.add_argument("--delay", type=float, default=0.0, help="ms")
    ap.add_argument("--jitter", type=float, default=0.0, help="ms, uniform +-")
    ap.add_argument("--duplicate", type=float, default=0.0, help="percent")
    ap.add_argument("--reorder", type=float, default=0.0, help="percent sent without delay")
    ap.add_argument("--seed", type=int, default=None)
    a = ap.parse_args()
    rng = random.Random(a.seed)
    fa, fb = attach(a.dev_a), attach(a.dev_b)
    peer = {fa: fb, fb: fa}
    stats = {"packets": 0, "lost": 0, "duplicated": 0, "reordered": 0}
    queue = []  # (due, seq, out_fd, packet)
    seq = 0
    running = [True]
    signal.signal(signal.SIGTERM, lambda *_: running.__setitem__(0, False))
    signal.signal(signal.SIGINT, lambda *_: running.__setitem__(0, False))
    with open(a.ready, "w") as f:
        f.write("ready\n")

    def schedule(out, pkt, now):
        nonlocal seq
        if rng.random() * 100 < a.reorder:
            due = now  # goes ahead of the delayed ones
            stats["reordered"] += 1
        else:
            d = a.delay + (rng.uniform(-a.jitter, a.jitter) if a.jitter else 0.0)
            due = now + max(0.0, d) / 1000.0
        seq += 1
        heapq.heappush(queue, (due, seq, out, pkt))

    while running[0]:
        now = time.monotonic()
        while queue and queue[0][0] <= now:
            _, _, out, pkt = heapq.heappop(queue)
            try:
                os.write(out, pkt)
            except OSError:
                pass  # device down or queue full: the packet is lost, as on a wire
        timeout = 0.2 if not queue else max(0.0, queue[0][0] - time.monotonic())
        try:
            r, _, _ = select.select([fa, fb], [], [], timeout)
        except InterruptedError:
            continue
        now = time.monotonic()
        for fd in r:
            for _ in range(256):
                try:
                    pkt = os.read(fd, 65536)
                except BlockingIOError:
                    break
                except OSError:
                    break
                stats["packets"] += 1
                if rng.random() * 100 < a.loss:
                    stats["lost"] += 1
                    continue
                schedule(peer[fd], pkt, now)
                if rng.random() * 100 < a.duplicate:
                    stats["duplicated"] += 1
                    schedule(peer[fd], pkt, now)
    print("netem.py: " + " ".join("%s=%d" % kv for kv in stats.items()), file=sys.stderr)


if __name__ == "__main__":
    main()
