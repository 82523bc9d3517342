// SPDX-License-Identifier: GPL-3.0-or-later
// resume RUN_ID: retry the targets of an earlier run that did not succeed.
#include <fmt/format.h>
#include <sys/stat.h>

#include <iostream>
#include <set>

#include "cli/common.hpp"
#include "core/journal.hpp"

namespace fleetpower::cli {

void setup_resume(CLI::App& app, Globals& g, CommandFn* run) {
  static std::string run_id;
  auto* sub = app.add_subcommand("resume", "Retry the failed and not-attempted targets of an earlier run");
  sub->add_option("run", run_id, "Run id (printed by the run, and in the journal directory) or a journal path")->required();
  sub->callback([&g, run] {
    *run = [&g] {
      std::string dir = g.journal_dir.empty() ? state_dir() + "/runs" : g.journal_dir;
      std::string path = run_id.find('/') != std::string::npos ? run_id : dir + "/" + run_id + ".jsonl";
      boost::json::object header;
      std::vector<boost::json::object> hosts;
      std::string err;
      if (!Journal::load(path, &header, &hosts, &err)) {
        std::cerr << "fleetpower: " << err << "\n";
        return static_cast<int>(ExitCode::Usage);
      }
      auto str = [&](const char* k) -> std::string {
        auto* v = header.if_contains(k);
        return v && v->is_string() ? std::string(v->as_string()) : std::string();
      };
      std::set<std::string> succeeded;
      for (auto& h : hosts)
        if (auto* ok = h.if_contains("ok"); ok && ok->is_bool() && ok->as_bool())
          succeeded.insert(std::string(h.at("host").as_string()));
      std::vector<std::string> retry;
      if (auto* t = header.if_contains("targets"); t && t->is_array())
        for (auto& n : t->as_array())
          if (n.is_string() && !succeeded.count(std::string(n.as_string()))) retry.emplace_back(n.as_string());
      if (retry.empty()) {
        std::cout << fmt::format("run {}: every target succeeded; nothing to resume\n", run_id);
        return 0;
      }
      Globals g2 = g;
      if (g2.inventory.empty()) g2.inventory = str("inventory");
      g2.all = false;
      g2.exclude.clear();
      Loaded l;
      // Select exactly the hosts to retry (folded as hostlists would lose nothing, but a plain
      // comma list is exact).
      if (auto rc = load_selection(g2, retry, &l)) return *rc;
      Request r;
      auto action = parse_action(str("action"));
      if (!action) {
        std::cerr << fmt::format("fleetpower: {}: unknown action '{}'\n", path, str("action"));
        return static_cast<int>(ExitCode::Usage);
      }
      r.action = *action;
      if (auto d = parse_boot_device(str("bootdev"))) r.bootdev = *d;
      if (auto* p = header.if_contains("persistent"); p && p->is_bool()) r.persistent = p->as_bool();
      if (auto* e = header.if_contains("efi"); e && e->is_bool()) r.efi = e->as_bool();
      if (auto* s = header.if_contains("identify_seconds"); s && s->is_int64()) r.identify_seconds = static_cast<int>(s->as_int64());
      std::cerr << fmt::format("resuming run {}: {} of {} targets to retry\n", str("id"), retry.size(),
                               retry.size() + succeeded.size());
      std::string name = str("name").empty() ? str("action") : str("name");
      return run_request(g2, l, name, r, str("id"));
    };
  });
}

}  // namespace fleetpower::cli
