#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Throw malformed and hostile HTTP at one fleetpower-sim BMC for a while.

usage: fuzz.py HOST PORT CA SECONDS [SEED [CREDENTIALS-FILE]]
Random methods, paths, headers and bodies (truncated, oversized, binary, deeply nested JSON,
bad chunked encoding, pipelined requests, abrupt closes).  Exits 0 when it ran; the caller then
checks that the simulator still answers.  Prints a count of what it sent.
"""
import random
import socket
import ssl
import sys
import time

host, port, ca, seconds = sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4])
rng = random.Random(int(sys.argv[5]) if len(sys.argv) > 5 else 1)
ctx = ssl.create_default_context(cafile=ca)
good_auth = None
if len(sys.argv) > 6:  # valid Basic credentials half of the time: reach the deeper handlers
    import base64, re
    text = open(sys.argv[6]).read()
    user = re.search(r'username: "([^"]*)"', text).group(1)
    pw = re.search(r'password: "([^"]*)"', text).group(1)
    good_auth = "Authorization: Basic " + base64.b64encode((user + ":" + pw).encode()).decode()

PATHS = ["/redfish", "/redfish/v1", "/redfish/v1/", "/redfish/v1/Systems", "/redfish/v1/Systems/1",
         "/redfish/v1/Systems/1/Actions/ComputerSystem.Reset", "/redfish/v1/SessionService/Sessions",
         "/redfish/v1/SessionService/Sessions/1", "/redfish/v1/TaskService/TaskMonitors/1",
         "/redfish/v1/TaskService/TaskMonitors/99999999999999999999", "/redfish/v1/Systems/1/Settings",
         "//redfish//v1//", "/redfish/v1/%00", "/" + "a" * 5000, "*", "", "/redfish/v1?$expand=.",
         "/redfish/v1/Systems?$expand=*($levels=99)"]
METHODS = ["GET", "POST", "PATCH", "DELETE", "PUT", "HEAD", "OPTIONS", "TRACE", "BREW", "G\x00T"]
BODIES = [b"", b"{}", b'{"ResetType":"On"}', b'{"ResetType":"ForceOff"}', b'{"ResetType":null}',
          b'{"ResetType":1e999}', b'{"Boot":{"BootSourceOverrideTarget":"Pxe"}}', b'{"Boot":[]}',
          b'{"UserName":"admin","Password":"x"}', b'{"UserName":1,"Password":{}}', b"[" * 5000,
          b'{"a":' * 100 + b"1" + b"}" * 100, b"\xff\xfe\x00garbage", b'"\\ud800"', b"{" + b" " * 100000 + b"}"]


def one_request():
    m = rng.choice(METHODS)
    p = rng.choice(PATHS)
    if rng.random() < 0.4:  # plausible operations with random bodies
        m, p = rng.choice([("POST", "/redfish/v1/Systems/1/Actions/ComputerSystem.Reset"),
                           ("POST", "/redfish/v1/Systems/Node2/Actions/ComputerSystem.Reset"),
                           ("PATCH", "/redfish/v1/Systems/1"), ("PATCH", "/redfish/v1/Systems/1/Settings"),
                           ("PATCH", "/redfish/v1/Systems/Node3"), ("POST", "/redfish/v1/SessionService/Sessions"),
                           ("DELETE", "/redfish/v1/SessionService/Sessions/1abc"),
                           ("GET", "/redfish/v1/TaskService/TaskMonitors/1"),
                           ("GET", "/redfish/v1/TaskService/Tasks/2")])
    body = rng.choice(BODIES)
    hdrs = ["Host: x"]
    r = rng.random()
    if r < 0.2:
        hdrs.append("Content-Length: %d" % (len(body) + rng.choice([-5, 3, 1000])))  # lies
    elif r < 0.3:
        hdrs.append("Transfer-Encoding: chunked")
        body = b"zz\r\n" + body + b"\r\n0\r\n\r\n"  # bad chunk size
    elif r < 0.4:
        hdrs.append("Content-Length: 99999999999999999999")
    else:
        hdrs.append("Content-Length: %d" % len(body))
    if good_auth and rng.random() < 0.5:
        hdrs.append(good_auth)
    elif rng.random() < 0.3:
        hdrs.append("Authorization: Basic " + rng.choice(["", "!!!", "YWRtaW46", "a" * 3000]))
    if rng.random() < 0.2:
        hdrs.append("X-Auth-Token: " + "t" * rng.choice([0, 10, 9000]))
    if rng.random() < 0.2:
        hdrs.append("If-Match: " + rng.choice(["*", 'W/"x"', '"', ""]))
    if rng.random() < 0.1:
        hdrs.append("X-Junk: " + "j" * 20000)
    req = ("%s %s HTTP/1.%d\r\n" % (m, p, rng.choice([0, 1]))).encode("latin-1", "replace")
    req += ("\r\n".join(hdrs) + "\r\n\r\n").encode()
    return req + body


sent = conns = 0
statuses = {}
deadline = time.time() + seconds
while time.time() < deadline:
    try:
        raw = socket.create_connection((host, port), timeout=2)
        conns += 1
        if rng.random() < 0.1:
            raw.sendall(bytes(rng.getrandbits(8) for _ in range(rng.choice([1, 100, 3000]))))
            raw.close()
            continue
        s = ctx.wrap_socket(raw, server_hostname=host)
        s.settimeout(0.3)
        for _ in range(rng.choice([1, 1, 2, 5])):  # sometimes pipelined
            data = one_request()
            cut = len(data) if rng.random() < 0.8 else rng.randrange(len(data))
            s.sendall(data[:cut])
            sent += 1
        if rng.random() < 0.7:
            try:
                head = s.recv(65536)[:12]
                if head.startswith(b"HTTP/1."):
                    statuses[head[9:12].decode()] = statuses.get(head[9:12].decode(), 0) + 1
            except (socket.timeout, OSError):
                pass
        s.close()
    except (OSError, ssl.SSLError):
        pass
print("fuzz: %d connections, %d requests; first replies by status: %s" % (conns, sent, dict(sorted(statuses.items()))))
