#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Device emulator run by a test sshd as its ForceCommand.

Behaves like the command line of a switched PDU (APC style: olOn/olOff/olReboot/olStatus at
an "apc>" prompt, in an interactive shell) or of a BMC (SMASH-CLP: start/stop/reset/show
/system1; Dell racadm serveraction), in exec mode (SSH_ORIGINAL_COMMAND) or shell mode.

State lives in DIR/state.json; every command received is appended to DIR/commands.log (one
JSON string per line), so tests can prove what arrived and what did not.

    fp_sshdev.py --kind apc|smash|racadm --dir DIR
"""
import argparse
import fcntl
import json
import os
import re
import sys
import time

OUTLETS = 24          # APC: outlets 1..24; 23 never answers (a hung outlet command)
HUNG_OUTLET = 23


class Device:
    def __init__(self, kind, d):
        self.kind, self.dir = kind, d
        self.state_path = os.path.join(d, "state.json")
        self.log_path = os.path.join(d, "commands.log")

    # -- state and log (locked: several sessions may run at once) ---------------------------
    def _locked(self, fn):
        with open(os.path.join(self.dir, ".lock"), "a") as lk:
            fcntl.flock(lk, fcntl.LOCK_EX)
            try:
                st = json.load(open(self.state_path)) if os.path.exists(self.state_path) else {}
            except ValueError:
                st = {}
            out = fn(st)
            tmp = self.state_path + ".tmp"
            with open(tmp, "w") as f:
                json.dump(st, f)
            os.replace(tmp, self.state_path)
            return out

    def log(self, line):
        with open(self.log_path, "a") as f:
            f.write(json.dumps(line) + "\n")

    # -- APC-style PDU -----------------------------------------------------------------------
    def apc(self, line):
        parts = line.split()
        if not parts:
            return ""
        cmd, args = parts[0], parts[1:]
        if cmd not in ("olStatus", "olOn", "olOff", "olReboot"):
            return "E101: Command Not Found"
        if len(args) != 1 or not re.fullmatch(r"[0-9]{1,3}", args[0]) or not 1 <= int(args[0]) <= OUTLETS:
            return "E102: Parameter Error"
        n = args[0]
        if int(n) == HUNG_OUTLET:
            time.sleep(60)

        def act(st):
            cur = st.get(n, "on")
            if cmd == "olStatus":
                return "E000: Success\n %s: Outlet %s: %s" % (n, n, "On" if cur == "on" else "Off")
            if cmd == "olOn":
                st[n] = "on"
            elif cmd == "olOff":
                st[n] = "off"
            elif cmd == "olReboot":
                st[n] = "on"
            return "E000: Success"
        return self._locked(act)

    # -- SMASH-CLP BMC -----------------------------------------------------------------------
    def smash(self, line):
        parts = line.split()
        ok = "status=0\nstatus_tag=COMMAND COMPLETED"
        bad = "status=2\nstatus_tag=COMMAND PROCESSING FAILED\nerror_tag=COMMAND SYNTAX ERROR"
        if not parts:
            return "", 0
        verb, rest = parts[0], parts[1:]
        opts = [a for a in rest if a.startswith("-")]
        args = [a for a in rest if not a.startswith("-")]
        if not args or args[0] != "/system1" or any(o not in ("-force", "-f") for o in opts):
            return bad, 1

        def act(st):
            cur = st.get("power", "on")
            if verb == "show":
                prop = args[1] if len(args) > 1 else "powerstate"
                if prop not in ("power", "powerstate"):
                    return bad, 1
                return "/system1\n  Properties:\n    %s = %s\n%s" % (prop, cur, ok), 0
            if verb == "start":
                st["power"] = "on"
            elif verb == "stop":
                st["power"] = "off"
            elif verb == "reset":
                st["resets"] = st.get("resets", 0) + 1
            else:
                return "status=2\nstatus_tag=COMMAND PROCESSING FAILED\nerror_tag=COMMAND NOT RECOGNIZED", 1
            return ok, 0
        return self._locked(act)

    # -- Dell racadm -------------------------------------------------------------------------
    def racadm(self, line):
        parts = line.split()
        if len(parts) != 3 or parts[:2] != ["racadm", "serveraction"]:
            return "ERROR: Invalid subcommand specified.", 1
        op = parts[2]

        def act(st):
            cur = st.get("power", "on")
            if op == "powerstatus":
                return "Server power status: %s" % cur.upper(), 0
            if op == "powerup":
                if cur == "on":
                    return "ERROR: Server is already powered ON.", 1
                st["power"] = "on"
            elif op in ("powerdown", "graceshutdown"):
                if cur == "off":
                    return "ERROR: Server is already powered OFF.", 1
                st["power"] = "off"
            elif op in ("powercycle", "hardreset"):
                st["power"] = "on"
            else:
                return "ERROR: Invalid action specified.", 1
            return "Server power operation successful", 0
        return self._locked(act)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kind", required=True, choices=["apc", "smash", "racadm"])
    ap.add_argument("--dir", required=True)
    a = ap.parse_args()
    dev = Device(a.kind, a.dir)
    original = os.environ.get("SSH_ORIGINAL_COMMAND")
    if original is not None:
        dev.log(original)
        if a.kind == "apc":
            out, rc = dev.apc(original), 0
        else:
            out, rc = getattr(dev, a.kind)(original)
        sys.stdout.write(out + "\n")
        sys.stdout.flush()
        return rc
    # Interactive shell.
    out = sys.stdout
    prompt = {"apc": "apc>", "smash": "-> ", "racadm": "racadm>> "}[a.kind]
    if a.kind == "apc":
        out.write("\nAmerican Power Conversion               Network Management Card AOS\n"
                  "(c) Copyright 2010 All Rights Reserved  RPDU 2g\n\nType ? for command listing\n\n")
    out.write(prompt)
    out.flush()
    for raw in sys.stdin:
        line = raw.rstrip("\r\n")
        dev.log(line)
        if line.strip() in ("exit", "quit", "bye"):
            out.write("Bye.\n")
            out.flush()
            return 0
        if a.kind == "apc":
            reply = dev.apc(line.strip())
        else:
            reply = getattr(dev, a.kind)(line.strip())[0]
        if reply:
            out.write(reply + "\n")
        out.write(prompt)
        out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
