// SPDX-License-Identifier: GPL-3.0-or-later
// status, on, off, cycle, reset, soft, nmi: one request per target.
#include "cli/common.hpp"

namespace fleetpower::cli {

namespace {
template <Action A>
void setup_power(CLI::App& app, Globals& g, CommandFn* run) {
  static std::vector<std::string> selection;
  static const char* helps[] = {"Show power state", "Power on", "Power off (hard)", "Power cycle (off, then on)",
                                "Hard reset", "Soft shutdown (ACPI)", "Send a diagnostic interrupt (NMI)",
                                "", "", "Ask each BMC what it is: vendor, model, firmware, cipher suites, reset types, TLS fingerprint"};
  auto* sub = app.add_subcommand(std::string(action_name(A)), helps[static_cast<int>(A)]);
  sub->add_option("selection", selection, "Hostlists (node[001-040]) and @groups");
  if constexpr (A == Action::Probe)
    sub->add_option("--write-inventory", g.write_inventory,
                    "Write what was found (protocol, vendor plugin, cipher suite, system, TLS fingerprint) as an "
                    "inventory overlay FILE that includes the current inventory; later runs with -i FILE skip detection");
  sub->callback([&g, run] {
    *run = [&g] {
      Loaded l;
      if (auto rc = load_selection(g, selection, &l)) return *rc;
      Request r;
      r.action = A;
      return run_request(g, l, std::string(action_name(A)), r);
    };
  });
}
}  // namespace

void setup_status(CLI::App& app, Globals& g, CommandFn* run) { setup_power<Action::Status>(app, g, run); }
void setup_on(CLI::App& app, Globals& g, CommandFn* run) { setup_power<Action::On>(app, g, run); }
void setup_off(CLI::App& app, Globals& g, CommandFn* run) { setup_power<Action::Off>(app, g, run); }
void setup_cycle(CLI::App& app, Globals& g, CommandFn* run) { setup_power<Action::Cycle>(app, g, run); }
void setup_reset(CLI::App& app, Globals& g, CommandFn* run) { setup_power<Action::Reset>(app, g, run); }
void setup_soft(CLI::App& app, Globals& g, CommandFn* run) { setup_power<Action::Soft>(app, g, run); }
void setup_nmi(CLI::App& app, Globals& g, CommandFn* run) { setup_power<Action::Nmi>(app, g, run); }
void setup_probe(CLI::App& app, Globals& g, CommandFn* run) { setup_power<Action::Probe>(app, g, run); }

}  // namespace fleetpower::cli
