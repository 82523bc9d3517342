// SPDX-License-Identifier: GPL-3.0-or-later
#include <boost/json/serialize.hpp>

#include <iostream>

#include "cli/common.hpp"
#include "core/hostlist.hpp"

namespace fleetpower::cli {

void setup_list(CLI::App& app, Globals& g, CommandFn* run) {
  static std::vector<std::string> selection;
  auto* sub = app.add_subcommand("list", "Print the selected hosts (folded, --expand, or -o json with their BMCs)");
  sub->add_option("selection", selection, "Hostlists and @groups");
  sub->callback([&g, run] {
    *run = [&g] {
      Loaded l;
      if (auto rc = load_selection(g, selection, &l)) return *rc;
      if (g.output == "json" || g.output == "jsonl") {
        boost::json::array arr;
        for (auto* t : l.targets) {
          boost::json::object o;
          o["host"] = t->name;
          o["bmc"] = t->bmc;
          o["port"] = t->port;
          o["protocol"] = t->protocol;
          o["vendor"] = t->vendor;
          o["credentials"] = t->credentials;  // the entry's name, never its secret
          boost::json::object vars;
          for (auto& [k, v] : t->vars) vars[k] = v;
          o["vars"] = std::move(vars);
          if (g.output == "jsonl") std::cout << boost::json::serialize(o) << '\n';
          else arr.push_back(std::move(o));
        }
        if (g.output == "json") std::cout << boost::json::serialize(arr) << '\n';
        return 0;
      }
      std::vector<std::string> names;
      names.reserve(l.targets.size());
      for (auto* t : l.targets) names.push_back(t->name);
      if (g.expand) {
        hostlist::sort_unique(&names);  // nodeset -e order
        for (auto& n : names) std::cout << n << '\n';
      } else {
        std::cout << hostlist::fold(names) << '\n';
      }
      return 0;
    };
  });
}

}  // namespace fleetpower::cli
