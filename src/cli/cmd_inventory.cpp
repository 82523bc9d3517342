// SPDX-License-Identifier: GPL-3.0-or-later
#include <fmt/format.h>

#include <iostream>
#include <set>

#include "cli/common.hpp"

namespace fleetpower::cli {

void setup_inventory(CLI::App& app, Globals& g, CommandFn* run) {
  auto* sub = app.add_subcommand("inventory", "Inventory tools: 'inventory check'");
  sub->require_subcommand(1);
  auto* check = sub->add_subcommand("check", "Validate the inventory (and credentials file); report every problem");
  check->callback([&g, run] {
    *run = [&g] {
      std::string path = g.inventory.empty() ? default_inventory_path() : g.inventory;
      Inventory inv;
      std::vector<Diagnostic> diags;
      bool ok = load_inventory(path, &inv, &diags);
      // Credentials named by targets must exist in the credentials file.
      std::string cpath = g.credentials.empty() ? default_credentials_path() : g.credentials;
      CredentialStore store;
      bool have_store = false;
      if (!cpath.empty()) {
        std::vector<Diagnostic> cd;
        have_store = store.load(cpath, &cd);
        for (auto& d : cd) diags.push_back(d);
        ok = ok && have_store;
      }
      store.add_environment();
      std::set<std::string> reported;
      for (auto& t : inv.targets) {
        if (t.protocol == "test") continue;
        std::string name = t.credentials.empty() ? "env" : t.credentials;
        if (store.has(name) || !reported.insert(name).second) continue;
        Diagnostic d;
        d.file = path;
        d.key = "credentials";
        if (name == "env")
          d.message = fmt::format("{} has no 'credentials' and FLEETPOWER_USER/FLEETPOWER_PASSWORD are not set", t.name);
        else if (cpath.empty())
          d.message = fmt::format("{} uses credentials '{}', but no credentials file was found "
                                  "(--credentials, ~/.config/fleetpower/credentials.yaml, "
                                  "/etc/fleetpower/credentials.yaml)", t.name, name);
        else
          d.message = fmt::format("{} uses credentials '{}', which {} does not define", t.name, name, cpath);
        auto dym = did_you_mean(name, store.names(), 1);
        if (!dym.empty()) d.message += fmt::format(" (did you mean '{}'?)", dym[0]);
        diags.push_back(d);
        ok = false;
      }
      for (auto& d : diags) std::cerr << d.str() << "\n";
      std::size_t errors = 0;
      for (auto& d : diags) errors += !d.warning;
      if (!ok || errors) {
        std::cerr << fmt::format("{}: {} problem{} found\n", path, errors, errors == 1 ? "" : "s");
        return static_cast<int>(ExitCode::Usage);
      }
      std::cout << fmt::format("{}: OK: {} hosts, {} groups, {} circuits\n", path, inv.targets.size(),
                               inv.groups.size(), inv.circuits.size());
      return 0;
    };
  });
}

}  // namespace fleetpower::cli
