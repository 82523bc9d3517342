// SPDX-License-Identifier: GPL-3.0-or-later
// plan: the power-aware start plan for a power-on, without touching anything.
#include <boost/json/serialize.hpp>
#include <fmt/format.h>

#include <iostream>
#include <map>

#include "cli/common.hpp"
#include "core/duration.hpp"
#include "core/hostlist.hpp"
#include "core/plan.hpp"

namespace fleetpower::cli {

void setup_plan(CLI::App& app, Globals& g, CommandFn* run) {
  static std::string action;
  static std::vector<std::string> selection;
  auto* sub = app.add_subcommand("plan", "Show the power-aware start plan for 'on' or 'cycle' (changes nothing)");
  sub->add_option("action", action, "on or cycle")->required()->check(CLI::IsMember({"on", "cycle"}));
  sub->add_option("selection", selection, "Hostlists and @groups");
  sub->callback([&g, run] {
    *run = [&g] {
      Loaded l;
      if (auto rc = load_selection(g, selection, &l)) return *rc;
      auto plan = make_power_plan(l.inventory, l.targets);
      if (g.output == "json" || g.output == "jsonl") {
        boost::json::object doc;
        doc["action"] = action;
        doc["duration_ms"] = plan.duration.count();
        doc["start_duration_ms"] = plan.start_duration.count();
        boost::json::array circuits;
        for (auto& [name, c] : plan.circuits) {
          boost::json::object o;
          o["circuit"] = name;
          o["feed"] = c.feed;
          o["phase"] = c.phase;
          o["nodes"] = c.nodes;
          o["first_start_ms"] = c.first.count();
          o["last_start_ms"] = c.last.count();
          o["peak_starting"] = c.peak_starting;
          o["peak_watts"] = c.peak_watts;
          o["max_concurrent_starts"] = c.max_concurrent;
          o["max_watts"] = c.max_watts;
          circuits.push_back(std::move(o));
        }
        doc["circuits"] = std::move(circuits);
        boost::json::array starts;
        for (auto& st : plan.starts) {
          boost::json::object o;
          o["host"] = st.target->name;
          o["at_ms"] = st.at.count();
          o["start_watts"] = st.start_watts;
          starts.push_back(std::move(o));
        }
        doc["starts"] = std::move(starts);
        boost::json::array problems;
        for (auto& p : plan.problems) problems.emplace_back(p);
        doc["problems"] = std::move(problems);
        std::cout << boost::json::serialize(doc) << "\n";
        return 0;
      }
      std::cout << fmt::format("power plan for '{}' of {} nodes: {} (a node counts as starting for {})\n", action,
                               l.targets.size(),
                               plan.constrained ? "estimated " + format_duration(plan.duration)
                                                : "no circuit budgets: everything starts at once",
                               format_duration(plan.start_duration));
      std::cout << fmt::format("{:<14} {:<6} {:<6} {:>6} {:>10} {:>10} {:>14} {:>16}\n", "circuit", "feed", "phase",
                               "nodes", "first", "last", "peak starting", "peak load (W)");
      for (auto& [name, c] : plan.circuits) {
        std::string budget_n = c.max_concurrent > 0 ? fmt::format("{}/{}", c.peak_starting, c.max_concurrent)
                                                    : fmt::format("{}", c.peak_starting);
        std::string budget_w = c.max_watts > 0 ? fmt::format("{:.0f}/{:.0f}", c.peak_watts, c.max_watts)
                                               : fmt::format("{:.0f}", c.peak_watts);
        std::cout << fmt::format("{:<14} {:<6} {:<6} {:>6} {:>10} {:>10} {:>14} {:>16}\n", name.empty() ? "-" : name,
                                 c.feed.empty() ? "-" : c.feed, c.phase.empty() ? "-" : c.phase, c.nodes,
                                 format_duration(c.first), format_duration(c.last), budget_n, budget_w);
      }
      if (g.expand) {
        for (auto& st : plan.starts)
          std::cout << fmt::format("  +{:>8}  {}  ({:.0f} W)\n", format_duration(st.at), st.target->name, st.start_watts);
      } else {
        // Starts folded per second of the plan.
        std::map<long long, std::vector<std::string>> by_second;
        for (auto& st : plan.starts) by_second[st.at.count() / 1000].push_back(st.target->name);
        if (by_second.size() <= 40)
          for (auto& [sec, names] : by_second)
            std::cout << fmt::format("  +{:>4}s  {} start: {}\n", sec, names.size(), hostlist::fold(names));
      }
      for (auto& p : plan.problems) std::cout << "warning: " << p << "\n";
      return 0;
    };
  });
}

void setup_phases(CLI::App& app, Globals& g, CommandFn* run) {
  static std::vector<std::string> selection;
  auto* sub = app.add_subcommand("phases", "Nominal load per feed, phase and circuit from the inventory, and the imbalance");
  sub->add_option("selection", selection, "Hostlists and @groups");
  sub->callback([&g, run] {
    *run = [&g] {
      Loaded l;
      if (auto rc = load_selection(g, selection, &l)) return *rc;
      auto r = make_phase_report(l.inventory, l.targets);
      if (g.output == "json" || g.output == "jsonl") {
        boost::json::object doc;
        boost::json::object feeds;
        for (auto& [fname, f] : r.feeds) {
          boost::json::object fo;
          boost::json::object phases;
          for (auto& [pname, p] : f.phases) {
            boost::json::object po;
            po["watts"] = p.watts;
            po["nodes"] = p.nodes;
            boost::json::object cs;
            for (auto& [c, w] : p.circuits) cs[c] = w;
            po["circuits"] = std::move(cs);
            phases[pname] = std::move(po);
          }
          fo["phases"] = std::move(phases);
          fo["imbalance"] = f.imbalance;
          feeds[fname.empty() ? "-" : fname] = std::move(fo);
        }
        doc["feeds"] = std::move(feeds);
        boost::json::array unknown;
        for (auto& n : r.unknown_watts) unknown.emplace_back(n);
        doc["unknown_watts"] = std::move(unknown);
        boost::json::array unplaced;
        for (auto& n : r.unplaced) unplaced.emplace_back(n);
        doc["no_phase"] = std::move(unplaced);
        std::cout << boost::json::serialize(doc) << "\n";
        return 0;
      }
      for (auto& [fname, f] : r.feeds) {
        std::cout << fmt::format("feed {}: imbalance {:.1f}% (max - min over the mean)\n", fname.empty() ? "-" : fname,
                                 f.imbalance * 100);
        for (auto& [pname, p] : f.phases) {
          std::cout << fmt::format("  {:<6} {:>10.0f} W  {:>5} nodes", pname, p.watts, p.nodes);
          std::string cs;
          for (auto& [c, w] : p.circuits) cs += fmt::format("  {}={:.0f}W", c, w);
          std::cout << cs << "\n";
        }
      }
      if (!r.unknown_watts.empty())
        std::cout << fmt::format("no wattage (not counted): {}\n", hostlist::fold(r.unknown_watts));
      if (!r.unplaced.empty()) std::cout << fmt::format("no phase: {}\n", hostlist::fold(r.unplaced));
      return 0;
    };
  });
}

}  // namespace fleetpower::cli
