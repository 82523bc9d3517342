#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
# Ansible module: power fleets of servers through their BMCs with fleetpower(1).

DOCUMENTATION = r"""
---
module: fleetpower_power
short_description: Power servers on, off, through a cycle or a reset, or set their boot device, with fleetpower
description:
  - Runs C(fleetpower) on the managed node (usually a management node that reaches the BMCs)
    with JSON output and reports one result per host of the selection.
  - Idempotent for I(state=on) and I(state=off) - a node already in that state is left alone and
    not counted as changed. I(state=cycled) and I(state=reset) act every time.
  - Check mode runs C(fleetpower --dry-run), which reads each node's power state and says what
    would change; it sends no power action. For I(state=bootdev), check mode reads the power state
    (to check that every BMC answers) and reports every reachable node as would-be changed.
  - Any host that fails fails the task (unless I(allow_partial=true)); the per-host results are
    returned in both cases, so a playbook can retry only the failed hosts.
  - Passwords are never put on a command line - use a credentials file (I(credentials)), or
    I(user)/I(password), which reach fleetpower through its environment.
options:
  nodes:
    description:
      - Hostlists and inventory groups of fleetpower's inventory, e.g. C(node[001-040]), C(@rack3).
    type: list
    elements: str
    required: true
    aliases: [selection]
  state:
    description:
      - C(on), C(off) - power on or off (hard), verified by reading the state back.
      - C(cycled) - power cycle (a node that is off is powered on).
      - C(reset) - hard reset (a node that is off is powered on).
      - C(bootdev) - set the boot device given in I(bootdev) for the next boot (every boot with I(persistent)).
    type: str
    required: true
    choices: ['on', 'off', cycled, reset, bootdev]
  bootdev:
    description: Boot device for I(state=bootdev).
    type: str
    choices: [pxe, disk, bios, cdrom]
  persistent:
    description: With I(state=bootdev), keep the boot device for every boot, not just the next.
    type: bool
    default: false
  efi:
    description: With I(state=bootdev), boot in UEFI mode.
    type: bool
    default: false
  inventory:
    description: fleetpower's inventory file (default - fleetpower's own defaults and configuration).
    type: path
  credentials:
    description: fleetpower's credentials file (mode 0600).
    type: path
  user:
    description: BMC user for targets without a credentials entry (passed as C(FLEETPOWER_USER)).
    type: str
  password:
    description: BMC password for targets without a credentials entry (passed as C(FLEETPOWER_PASSWORD), never on a command line).
    type: str
  timeout:
    description: Per-host time limit (C(--timeout)), e.g. C(10s).
    type: str
  wait_timeout:
    description: How long to wait for the end state (C(--wait-timeout)), e.g. C(120s).
    type: str
  extra_args:
    description: More fleetpower options, placed before the command (e.g. C([--batch, '20', --exclude, '@gpu'])).
    type: list
    elements: str
    default: []
  allow_partial:
    description:
      - When some hosts fail and others succeed, report the failures in C(failed_hosts) and a
        warning instead of failing the task.
    type: bool
    default: false
  executable:
    description: The fleetpower binary (default - C(fleetpower) in C(PATH)).
    type: path
notes:
  - C(--yes) is always passed - the playbook is the confirmation.
  - Sites with several management networks run this module on one management node per network
    (C(hosts:) the management nodes, or C(delegate_to)); see contrib/ansible/README.md.
requirements:
  - fleetpower on the managed node
author:
  - The fleetpower authors
"""

EXAMPLES = r"""
- name: Power on rack 3 (nothing changes for nodes already on)
  fleetpower_power:
    nodes: "@rack3"
    state: "on"

- name: Boot two nodes from the network once, then reset them
  fleetpower_power:
    nodes: ["node[100-101]"]
    state: bootdev
    bootdev: pxe

- fleetpower_power:
    nodes: ["node[100-101]"]
    state: reset
"""

RETURN = r"""
changed_hosts:
  description: Hosts whose power (or boot device) changed, or would change in check mode.
  type: list
  elements: str
  returned: always
failed_hosts:
  description: Hosts that failed, with the reason fleetpower gave.
  type: dict
  returned: always
  sample: {"node007": "timeout: timed out waiting for RAKP 2"}
hosts:
  description: One entry per host - ok, changed, result (e.g. C(on), C(already on), C(would power on)), state, error class, reason.
  type: dict
  returned: always
summary:
  description: fleetpower's summary (counts per result and per error class, elapsed time, exit code).
  type: dict
  returned: always
cmd:
  description: The command that ran.
  type: list
  returned: always
exit_code:
  description:
    - fleetpower's exit code (0 all ok, 1 some failed, 2 usage or inventory error, 3 all failed).
    - Not called C(rc) - Ansible fails every result whose C(rc) is not 0, which would defeat I(allow_partial).
  type: int
  returned: always
"""

import json

from ansible.module_utils.basic import AnsibleModule

COMMANDS = {"on": "on", "off": "off", "cycled": "cycle", "reset": "reset", "bootdev": "bootdev"}


def host_changed(state, result):
    """Whether a successful host's result means its power (or boot device) changed."""
    result = result or ""
    if result.startswith("already "):
        return False
    if result.startswith("would "):  # dry run (check mode): it would change
        return True
    return True  # on, off, on (cycled), on (reset), on (was off), a boot device set, ok (--no-wait)


def run_fleetpower(module, argv, env):
    rc, out, err = module.run_command(argv, environ_update=env)
    try:
        doc = json.loads(out) if out.strip() else None
    except ValueError:
        doc = None
    return rc, doc, out, err


def main():
    module = AnsibleModule(
        argument_spec=dict(
            nodes=dict(type="list", elements="str", required=True, aliases=["selection"]),
            state=dict(type="str", required=True, choices=list(COMMANDS)),
            bootdev=dict(type="str", choices=["pxe", "disk", "bios", "cdrom"]),
            persistent=dict(type="bool", default=False),
            efi=dict(type="bool", default=False),
            inventory=dict(type="path"),
            credentials=dict(type="path"),
            user=dict(type="str"),
            password=dict(type="str", no_log=True),
            timeout=dict(type="str"),
            wait_timeout=dict(type="str"),
            extra_args=dict(type="list", elements="str", default=[]),
            allow_partial=dict(type="bool", default=False),
            executable=dict(type="path"),
        ),
        required_if=[("state", "bootdev", ["bootdev"])],
        supports_check_mode=True,
    )
    p = module.params
    exe = p["executable"] or module.get_bin_path("fleetpower", required=True)

    argv = [exe, "--output", "json", "--yes", "--no-progress"]
    if p["inventory"]:
        argv += ["--inventory", p["inventory"]]
    if p["credentials"]:
        argv += ["--credentials", p["credentials"]]
    if p["timeout"]:
        argv += ["--timeout", p["timeout"]]
    if p["wait_timeout"]:
        argv += ["--wait-timeout", p["wait_timeout"]]
    argv += p["extra_args"]
    state = p["state"]
    # fleetpower's --dry-run covers the power actions; a boot device is only checked by
    # reading the power state (every BMC must answer), never set, in check mode.
    probe_only = module.check_mode and state == "bootdev"
    if probe_only:
        argv += ["status"]
    else:
        if module.check_mode:
            argv += ["--dry-run"]
        argv += [COMMANDS[state]]
        if state == "bootdev":
            argv += [p["bootdev"]]
            if p["persistent"]:
                argv += ["--persistent"]
            if p["efi"]:
                argv += ["--efi"]
    argv += ["--"] + p["nodes"]

    env = {}
    if p["user"] is not None:
        env["FLEETPOWER_USER"] = p["user"]
    if p["password"] is not None:
        env["FLEETPOWER_PASSWORD"] = p["password"]

    rc, doc, out, err = run_fleetpower(module, argv, env)
    result = dict(cmd=argv, exit_code=rc, changed=False, hosts={}, changed_hosts=[], failed_hosts={}, summary={})
    if doc is None or "hosts" not in doc:
        # Usage, inventory or credentials problem: nothing was done (exit 2), or fleetpower broke.
        module.fail_json(msg="fleetpower failed (exit %d): %s" % (rc, (err or out).strip()), stderr=err, stdout=out,
                         **result)

    for h in doc["hosts"]:
        name = h.get("host")
        entry = dict(ok=bool(h.get("ok")), result=h.get("result"), state=h.get("state"), error=h.get("error"),
                     reason=h.get("reason"), changed=False)
        if entry["ok"]:
            entry["changed"] = True if probe_only else host_changed(state, entry["result"])
            if probe_only:
                entry["result"] = "would set boot device %s" % p["bootdev"]
        else:
            result["failed_hosts"][name] = "%s: %s" % (entry["error"], entry["reason"])
        if entry["changed"]:
            result["changed_hosts"].append(name)
        result["hosts"][name] = entry
    result["summary"] = doc.get("summary", {})
    result["changed"] = bool(result["changed_hosts"])

    failed = result["failed_hosts"]
    if failed:
        reasons = "; ".join("%s: %s" % (n, r) for n, r in sorted(failed.items()))
        msg = "%d of %d hosts failed: %s" % (len(failed), len(result["hosts"]), reasons)
        if not p["allow_partial"] or len(failed) == len(result["hosts"]):
            module.fail_json(msg=msg, stderr=err, **result)
        module.warn(msg)
    elif rc != 0:
        module.fail_json(msg="fleetpower exited %d: %s" % (rc, err.strip()), stderr=err, **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
