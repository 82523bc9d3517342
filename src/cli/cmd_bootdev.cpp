// SPDX-License-Identifier: GPL-3.0-or-later
#include <iostream>

#include "cli/common.hpp"

namespace fleetpower::cli {

void setup_bootdev(CLI::App& app, Globals& g, CommandFn* run) {
  struct Opts {
    std::string device;
    std::vector<std::string> selection;
    bool persistent = false;
    bool efi = false;
  };
  static Opts o;
  auto* sub = app.add_subcommand("bootdev", "Set the next boot device: pxe, disk, bios or cdrom");
  sub->add_option("device", o.device, "pxe, disk, bios or cdrom")->required()
      ->check(CLI::IsMember({"pxe", "disk", "bios", "cdrom"}));
  sub->add_option("selection", o.selection, "Hostlists and @groups");
  sub->add_flag("--persistent", o.persistent, "Keep the override for every boot, not just the next");
  sub->add_flag("--efi", o.efi, "Boot in UEFI mode");
  sub->callback([&g, run] {
    *run = [&g] {
      Loaded l;
      if (auto rc = load_selection(g, o.selection, &l)) return *rc;
      Request r;
      r.action = Action::BootDev;
      r.bootdev = *parse_boot_device(o.device);
      r.persistent = o.persistent;
      r.efi = o.efi;
      return run_request(g, l, "bootdev " + o.device, r);
    };
  });
}

}  // namespace fleetpower::cli
