#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""A fault-injecting UDP relay for IPMI tests: one process in front of many BMCs.

  ipmi_relay.py --modes FILE --ready FILE [--port 623] [--log FILE] [--seed N]

FILE has one line per BMC: `FRONT_ADDR BACK_ADDR[:PORT] MODE`.  The relay listens on
FRONT_ADDR:--port (loopback addresses only) and forwards to BACK_ADDR; replies go back to the
client that last spoke to FRONT_ADDR.  FILE is read again whenever it changes (a test switches
a BMC's mode between runs).  MODE applies to replies unless said otherwise:

  pass           forward unchanged
  drop           drop everything, both directions (a dead path)
  loss=P         drop P percent of the packets, both directions
  delay=MS       replies delayed by MS
  duplicate      every reply sent twice
  truncate       replies cut to half their length
  corrupt        one byte of every reply's payload (after the RMCP+ session header) flipped
  replay         before each reply, up to 8 replies recorded earlier (older sessions) are sent
  replay-only    only replies recorded earlier are sent; the real reply is dropped
  wrong-sid      the session id in replies is wrong (in-session header; setup payloads too)
  wrong-seq      in-session replies carry a wrong session sequence number
  no-rakp4       never answers after RAKP 2: RAKP 4 and every in-session reply are dropped

Every reply seen in any mode is recorded for `replay`.  Counters per front address are
written to --log at exit (one line each: addr mode requests replies dropped injected).
"""
import argparse
import heapq
import os
import random
import select
import signal
import socket
import sys
import time

RMCPPLUS = 0x06


def parse_modes(path):
    out = {}
    with open(path) as f:
        for line in f:
            p = line.split()
            if len(p) < 3 or p[0].startswith("#"):
                continue
            back = p[1]
            port = 623
            if ":" in back:
                back, port = back.rsplit(":", 1)
                port = int(port)
            if not p[0].startswith("127."):
                sys.exit("ipmi_relay: front address %s is not loopback" % p[0])
            out[p[0]] = ((back, port), p[2])
    return out


def payload_type(pkt):
    if len(pkt) < 6 or pkt[0] != 0x06 or pkt[4] & 0x0F != RMCPPLUS:
        return None
    return pkt[5] & 0x3F


class Front:
    def __init__(self, addr, port, back, mode):
        self.addr = addr
        self.back = back
        self.mode = mode
        self.client = None
        self.fsock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.fsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.fsock.bind((addr, port))
        self.fsock.setblocking(False)
        self.bsock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.bsock.bind(("127.0.0.1", 0))
        self.bsock.setblocking(False)
        self.history = []  # replies seen, oldest first
        self.n = {"requests": 0, "replies": 0, "dropped": 0, "injected": 0}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--modes", required=True)
    ap.add_argument("--ready", required=True)
    ap.add_argument("--port", type=int, default=623)
    ap.add_argument("--log")
    ap.add_argument("--seed", type=int)
    ap.add_argument("--trace", action="store_true", help="one line per packet on stderr")
    a = ap.parse_args()
    rng = random.Random(a.seed)
    fronts = {}
    by_fd = {}
    mtime = [0.0]

    def reload():
        try:
            m = os.stat(a.modes).st_mtime
        except OSError:
            return
        if m == mtime[0]:
            return
        mtime[0] = m
        for addr, (back, mode) in parse_modes(a.modes).items():
            f = fronts.get(addr)
            if f is None:
                f = fronts[addr] = Front(addr, a.port, back, mode)
                by_fd[f.fsock.fileno()] = (f, True)
                by_fd[f.bsock.fileno()] = (f, False)
            f.back, f.mode = back, mode

    reload()
    queue = []  # (due, seq, sock, pkt, dest)
    seq = [0]

    def later(ms, sock, pkt, dest):
        seq[0] += 1
        heapq.heappush(queue, (time.monotonic() + ms / 1000.0, seq[0], sock, pkt, dest))

    def send(sock, pkt, dest):
        try:
            sock.sendto(pkt, dest)
        except OSError:
            pass

    def reply(f, pkt):
        mode, arg = f.mode, None
        if "=" in mode:
            mode, arg = mode.split("=", 1)
        dest = f.client
        pt = payload_type(pkt)
        old = [h for h in f.history if h != pkt]
        f.history.append(pkt)
        del f.history[:-64]
        if mode == "drop" or (mode == "loss" and rng.random() * 100 < float(arg)):
            f.n["dropped"] += 1
            return
        if mode == "delay":
            return later(float(arg), f.fsock, pkt, dest)
        if mode == "duplicate":
            send(f.fsock, pkt, dest)
            f.n["injected"] += 1
            return later(5, f.fsock, pkt, dest)
        if mode == "truncate":
            return send(f.fsock, pkt[: len(pkt) // 2], dest)
        if mode == "corrupt":
            b = bytearray(pkt)
            start = 16 if pt is not None else 14
            if len(b) > start:
                i = rng.randrange(start, len(b))
                b[i] ^= 1 << rng.randrange(8)
            return send(f.fsock, bytes(b), dest)
        if mode in ("replay", "replay-only"):
            for h in old[-8:]:
                send(f.fsock, h, dest)
                f.n["injected"] += 1
            if mode == "replay-only":
                f.n["dropped"] += 1
                return
            return send(f.fsock, pkt, dest)
        if mode == "wrong-sid" and pt is not None:
            b = bytearray(pkt)
            if pt == 0 and len(b) >= 10:
                b[6:10] = bytes((x ^ 0x5A) for x in b[6:10])
            elif pt in (0x11, 0x13, 0x15) and len(b) >= 24:
                b[20:24] = bytes((x ^ 0x5A) for x in b[20:24])
            return send(f.fsock, bytes(b), dest)
        if mode == "wrong-seq" and pt == 0 and len(pkt) >= 14:
            b = bytearray(pkt)
            s = int.from_bytes(b[10:14], "little")
            b[10:14] = ((s + 7) & 0xFFFFFFFF).to_bytes(4, "little")
            return send(f.fsock, bytes(b), dest)
        if mode == "no-rakp4" and pt in (0x00, 0x15):
            f.n["dropped"] += 1
            return
        send(f.fsock, pkt, dest)

    running = [True]
    signal.signal(signal.SIGTERM, lambda *_: running.__setitem__(0, False))
    signal.signal(signal.SIGINT, lambda *_: running.__setitem__(0, False))
    with open(a.ready, "w") as fh:
        fh.write("ready\n")
    last_reload = time.monotonic()
    while running[0]:
        now = time.monotonic()
        while queue and queue[0][0] <= now:
            _, _, sock, pkt, dest = heapq.heappop(queue)
            send(sock, pkt, dest)
        if now - last_reload > 0.1:
            reload()
            last_reload = now
        timeout = 0.1 if not queue else min(0.1, max(0.0, queue[0][0] - time.monotonic()))
        try:
            r, _, _ = select.select(list(by_fd), [], [], timeout)
        except InterruptedError:
            continue
        for fd in r:
            f, is_front = by_fd[fd]
            sock = f.fsock if is_front else f.bsock
            for _ in range(64):
                try:
                    pkt, src = sock.recvfrom(4096)
                except (BlockingIOError, ConnectionRefusedError):
                    break
                except OSError:
                    break
                if a.trace:
                    pt = payload_type(pkt)
                    sid = pkt[6:10].hex() if pt == 0 else (pkt[20:24].hex() if pt and len(pkt) >= 24 else "-")
                    print("%.3f %s %s pt=%s sid=%s len=%d" % (time.monotonic(), f.addr,
                          "rq" if is_front else "rs", pt, sid, len(pkt)), file=sys.stderr)
                if is_front:
                    f.client = src
                    f.n["requests"] += 1
                    mode = f.mode.split("=", 1)
                    if mode[0] == "drop" or (mode[0] == "loss" and rng.random() * 100 < float(mode[1])):
                        f.n["dropped"] += 1
                        continue
                    send(f.bsock, pkt, f.back)
                elif f.client is not None:
                    f.n["replies"] += 1
                    reply(f, pkt)
    if a.log:
        with open(a.log, "w") as fh:
            for addr, f in sorted(fronts.items()):
                fh.write("%s %s %s\n" % (addr, f.mode, " ".join("%s=%d" % kv for kv in f.n.items())))


if __name__ == "__main__":
    main()
