// SPDX-License-Identifier: GPL-3.0-or-later
// power: each node's current draw, aggregated per circuit, PDU and phase (see run_request).
#include "cli/common.hpp"

namespace fleetpower::cli {

void setup_power_reading(CLI::App& app, Globals& g, CommandFn* run) {
  static std::vector<std::string> selection;
  auto* sub = app.add_subcommand(
      "power",
      "Read each node's current draw (IPMI DCMI, Redfish Power/EnvironmentMetrics) and sum it per "
      "circuit, PDU and phase, with the phase imbalance of each feed");
  sub->add_option("selection", selection, "Hostlists (node[001-040]) and @groups");
  sub->callback([&g, run] {
    *run = [&g] {
      Loaded l;
      if (auto rc = load_selection(g, selection, &l)) return *rc;
      Request r;
      r.action = Action::PowerReading;
      return run_request(g, l, "power", r);
    };
  });
}

}  // namespace fleetpower::cli
