#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Drive a fleetpower-sim BMC with the real python3-sushy client and assert what it sees.

usage: sushy_check.py URL CA CREDENTIALS [options]
  --auth session|basic     sushy auth (default session)
  --systems N              expected number of systems
  --system ID              only exercise this system (default: all)
  --reject VALUE           a ResetType the tree does not allow: expect 400 ActionParameterValueNotInList
  --no-boot                skip the boot override check
  --expect-vendor TEXT     the service root's vendor/product/OEM must mention TEXT
Prints one "ok ..." line per check; exits 1 on the first failure.
"""
import argparse
import re
import sys
import time

import sushy
from sushy import auth as sauth
from sushy import exceptions as sexc


def die(msg):
    print("FAIL:", msg)
    sys.exit(1)


def wait_power(system, wanted, timeout=15.0):
    deadline = time.time() + timeout
    seen = []
    while time.time() < deadline:
        system.refresh()
        st = system.power_state
        if not seen or seen[-1] != st:
            seen.append(st)
        if st == wanted:
            return seen
        time.sleep(0.2)
    die("system %s never reached %s (saw %s)" % (system.identity, wanted, seen))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("url")
    ap.add_argument("ca")
    ap.add_argument("credentials")
    ap.add_argument("--auth", default="session")
    ap.add_argument("--systems", type=int)
    ap.add_argument("--system")
    ap.add_argument("--reject")
    ap.add_argument("--no-boot", action="store_true")
    ap.add_argument("--expect-vendor")
    a = ap.parse_args()

    text = open(a.credentials).read()
    user = re.search(r'username: "([^"]*)"', text).group(1)
    pw = re.search(r'password: "([^"]*)"', text).group(1)
    authobj = (sauth.SessionAuth(user, pw) if a.auth == "session" else sauth.BasicAuth(user, pw))
    verify = a.ca if a.ca != "-" else True
    root = sushy.Sushy(a.url, auth=authobj, verify=verify)
    print("ok connected: redfish %s, uuid %s" % (root.redfish_version, root.uuid))
    if a.expect_vendor:
        rj = root.json
        blob = " ".join(str(x) for x in (rj.get("Vendor"), rj.get("Product"), rj.get("Name"),
                                         list(rj.get("Oem", {}).keys())))
        if a.expect_vendor.lower() not in blob.lower():
            die("vendor %r not in %r" % (a.expect_vendor, blob))
        print("ok vendor", a.expect_vendor)
    if a.auth == "session":
        if not authobj.get_session_key():
            die("no session key after login")
        print("ok session established")

    ids = list(root.get_system_collection().members_identities)
    if a.systems is not None and len(ids) != a.systems:
        die("expected %d systems, found %d: %s" % (a.systems, len(ids), ids))
    print("ok %d system(s): %s" % (len(ids), " ".join(ids)))

    for ident in ids:
        system = root.get_system(ident)
        if a.system and system.identity != a.system:
            continue
        sid = system.identity
        print("ok %s power %s" % (sid, system.power_state.value))
        system.reset_system(sushy.ResetType.FORCE_OFF)
        system.refresh()
        if system.power_state != sushy.PowerState.OFF:
            die("%s not Off right after ForceOff: %s" % (sid, system.power_state))
        print("ok %s ForceOff -> Off" % sid)
        system.reset_system(sushy.ResetType.ON)
        seen = wait_power(system, sushy.PowerState.ON)
        print("ok %s On -> %s" % (sid, " -> ".join(s.value for s in seen)))
        if a.reject:
            try:
                system.reset_system(sushy.ResetType(a.reject))
                die("%s: ResetType %s was accepted, the tree does not allow it" % (sid, a.reject))
            except sexc.BadRequestError as e:
                if "ActionParameterValueNotInList" not in str(e) and "not in the list" not in str(e):
                    die("%s: 400 without the expected message: %s" % (sid, e))
                print("ok %s %s rejected: 400 %s" % (sid, a.reject, "ActionParameterValueNotInList"))
            except sexc.InvalidParameterValueError:
                # sushy refused it itself from the allowed list it read: also a pass of the tree.
                print("ok %s %s refused by sushy from the published list" % (sid, a.reject))
        if not a.no_boot:
            system.set_system_boot_options(target=sushy.BootSource.PXE,
                                           enabled=sushy.BootSourceOverrideEnabled.ONCE)
            system.refresh()
            if (system.boot.target != sushy.BootSource.PXE or
                    system.boot.enabled != sushy.BootSourceOverrideEnabled.ONCE):
                die("%s boot override not applied: %s %s" % (sid, system.boot.target, system.boot.enabled))
            print("ok %s boot Pxe/Once" % sid)
    if a.auth == "session":
        authobj.close()
        print("ok session closed")


if __name__ == "__main__":
    main()
