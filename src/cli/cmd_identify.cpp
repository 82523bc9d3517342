// SPDX-License-Identifier: GPL-3.0-or-later
#include "cli/common.hpp"

namespace fleetpower::cli {

void setup_identify(CLI::App& app, Globals& g, CommandFn* run) {
  struct Opts {
    std::vector<std::string> args;
    int seconds = -2;
    bool off = false;
  };
  static Opts o;
  auto* sub = app.add_subcommand("identify", "Blink the chassis identify light: identify [on|off] SELECTION");
  sub->add_option("args", o.args, "[on|off] then hostlists and @groups");
  sub->add_option("--seconds", o.seconds, "Blink for this many seconds (default 15)")->check(CLI::Range(1, 255));
  sub->callback([&g, run] {
    *run = [&g] {
      std::vector<std::string> sel = o.args;
      Request r;
      r.action = Action::Identify;
      r.identify_seconds = o.seconds > 0 ? o.seconds : 15;
      std::string name = "identify";
      if (!sel.empty() && (sel.front() == "on" || sel.front() == "off")) {
        if (sel.front() == "off") r.identify_seconds = -1;
        else if (o.seconds <= 0) r.identify_seconds = 0;  // on until turned off
        name += " " + sel.front();
        sel.erase(sel.begin());
      }
      Loaded l;
      if (auto rc = load_selection(g, sel, &l)) return *rc;
      return run_request(g, l, name, r);
    };
  });
}

}  // namespace fleetpower::cli
