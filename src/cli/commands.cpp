// SPDX-License-Identifier: GPL-3.0-or-later
// The command table: one row per subcommand, each implemented in its own cmd_*.cpp.
#include "cli/common.hpp"

namespace fleetpower::cli {

void setup_status(CLI::App&, Globals&, CommandFn*);
void setup_on(CLI::App&, Globals&, CommandFn*);
void setup_off(CLI::App&, Globals&, CommandFn*);
void setup_cycle(CLI::App&, Globals&, CommandFn*);
void setup_reset(CLI::App&, Globals&, CommandFn*);
void setup_soft(CLI::App&, Globals&, CommandFn*);
void setup_nmi(CLI::App&, Globals&, CommandFn*);
void setup_bootdev(CLI::App&, Globals&, CommandFn*);
void setup_identify(CLI::App&, Globals&, CommandFn*);
void setup_list(CLI::App&, Globals&, CommandFn*);
void setup_inventory(CLI::App&, Globals&, CommandFn*);
void setup_plugins(CLI::App&, Globals&, CommandFn*);
void setup_version(CLI::App&, Globals&, CommandFn*);
void setup_plan(CLI::App&, Globals&, CommandFn*);
void setup_probe(CLI::App&, Globals&, CommandFn*);
void setup_phases(CLI::App&, Globals&, CommandFn*);
void setup_resume(CLI::App&, Globals&, CommandFn*);
void setup_power_reading(CLI::App&, Globals&, CommandFn*);

const std::vector<Command>& command_table() {
  static const std::vector<Command> kCommands = {
      {"status", "power state", setup_status},       {"on", "power on", setup_on},
      {"off", "power off", setup_off},                {"cycle", "power cycle", setup_cycle},
      {"reset", "hard reset", setup_reset},           {"soft", "soft shutdown", setup_soft},
      {"nmi", "diagnostic interrupt", setup_nmi},     {"bootdev", "boot device", setup_bootdev},
      {"identify", "identify light", setup_identify}, {"list", "list hosts", setup_list},
      {"inventory", "inventory check", setup_inventory}, {"plugins", "backends and plugins", setup_plugins},
      {"version", "version", setup_version},         {"plan", "power plan", setup_plan},
      {"phases", "phase balance", setup_phases},      {"resume", "resume a run", setup_resume},
      {"probe", "what each BMC is", setup_probe},     {"power", "power readings", setup_power_reading},
  };
  return kCommands;
}

}  // namespace fleetpower::cli
