// SPDX-License-Identifier: GPL-3.0-or-later
// Shared by every command that acts on targets: load, resolve, run, print.
#include <boost/asio/signal_set.hpp>
#include <boost/json/serialize.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <iostream>

#include "cli/common.hpp"
#include "core/duration.hpp"

namespace fleetpower::cli {

std::optional<int> load_selection(const Globals& g, const std::vector<std::string>& selection, Loaded* out) {
  std::string path = g.inventory.empty() ? default_inventory_path() : g.inventory;
  std::vector<Diagnostic> diags;
  bool ok = load_inventory(path, &out->inventory, &diags);
  for (auto& d : diags)
    if (!d.warning || !ok || g.verbose) std::cerr << d.str() << "\n";
  if (!ok) {
    std::cerr << fmt::format("fleetpower: {} has errors; run 'fleetpower -i {} inventory check'\n", path, path);
    return static_cast<int>(ExitCode::Usage);
  }
  Selection sel;
  sel.include = selection;
  sel.exclude = g.exclude;
  sel.all = g.all;
  std::string err;
  if (!resolve_selection(out->inventory, sel, &out->targets, &err)) {
    std::cerr << "fleetpower: " << err << "\n";
    return static_cast<int>(ExitCode::Usage);
  }
  if (!g.protocol.empty())
    for (auto& t : out->inventory.targets) t.protocol = g.protocol;
  return std::nullopt;
}

namespace {
/// Credentials for every selected target, resolved before the loop starts.  Any problem is
/// a usage error: nothing has been touched yet.
std::optional<int> resolve_credentials(const Globals& g, Loaded& l, std::vector<const Credential*>* creds) {
  bool need = false;
  for (auto* t : l.targets) need = need || t->protocol != "test";
  std::string path = g.credentials.empty() ? default_credentials_path() : g.credentials;
  if (need && !path.empty()) {
    std::vector<Diagnostic> diags;
    if (!l.credentials.load(path, &diags)) {
      for (auto& d : diags) std::cerr << d.str() << "\n";
      return static_cast<int>(ExitCode::Usage);
    }
  }
  l.credentials.add_environment();
  static const Credential kNone{"none", "", Secret(), Secret()};
  for (auto* t : l.targets) {
    if (t->protocol == "test") {
      creds->push_back(&kNone);
      continue;
    }
    std::string name = t->credentials.empty() ? "env" : t->credentials;
    std::string err;
    auto* c = l.credentials.resolve(name, &err);
    if (!c) {
      if (name == "env" && t->credentials.empty())
        err = "no credentials: set 'credentials' in the inventory, or FLEETPOWER_USER and FLEETPOWER_PASSWORD";
      std::cerr << fmt::format("fleetpower: {}: {}\n", t->name, err);
      return static_cast<int>(ExitCode::Usage);
    }
    creds->push_back(c);
  }
  return std::nullopt;
}
}  // namespace

int run_request(const Globals& g, Loaded& l, const std::string& command_name, Request req) {
  SchedulerOptions so;
  so.fanout = g.fanout;
  auto timeout = parse_duration(g.timeout);
  if (!timeout || timeout->count() == 0) {
    std::cerr << fmt::format("fleetpower: --timeout '{}' is not a duration (like 500ms, 5s, 2m)\n", g.timeout);
    return static_cast<int>(ExitCode::Usage);
  }
  so.timeout = *timeout;
  if (!g.deadline.empty()) {
    auto d = parse_duration(g.deadline);
    if (!d || d->count() == 0) {
      std::cerr << fmt::format("fleetpower: --deadline '{}' is not a duration\n", g.deadline);
      return static_cast<int>(ExitCode::Usage);
    }
    so.deadline = *d;
  }
  std::vector<const Credential*> creds;
  if (auto rc = resolve_credentials(g, l, &creds)) return *rc;

  asio::io_context io(1);
  BackendRegistry registry;
  register_backends(registry, io.get_executor(), g);
  Scheduler sched(io, registry, so);

  std::vector<Job> jobs;
  jobs.reserve(l.targets.size());
  for (std::size_t i = 0; i < l.targets.size(); ++i) {
    Job j;
    j.target = l.targets[i];
    j.credential = creds[i];
    j.request = req;
    if (auto* t = l.targets[i]->var("timeout")) j.timeout = parse_duration(*t);
    jobs.push_back(std::move(j));
  }

  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](boost::system::error_code ec, int sig) {
    if (ec) return;
    spdlog::warn("{}: stopping; targets in flight are reported as interrupted", sig == SIGINT ? "interrupt" : "terminated");
    sched.interrupt();
  });

  if (g.output == "jsonl") {
    sched.on_result([&](std::size_t i, const Outcome& o) {
      auto rec = host_record(*l.targets[i], o);
      rec["type"] = "host";
      std::cout << boost::json::serialize(rec) << '\n';
      std::cout.flush();
    });
  }

  auto t0 = Clock::now();
  RunReport report;
  report.command = command_name;
  report.targets = l.targets;
  report.outcomes = sched.run(std::move(jobs));
  report.elapsed = std::chrono::duration_cast<Millis>(Clock::now() - t0);
  report.interrupted = sched.interrupted();

  // Close idle sessions (best effort, bounded): run until the backends are done or the grace ends.
  signals.cancel();
  registry.for_each([](const std::string&, Backend& b) { b.shutdown(); });
  io.restart();
  auto grace_end = Clock::now() + std::chrono::milliseconds(report.interrupted ? 500 : 1500);
  while (Clock::now() < grace_end && io.run_one_until(grace_end) > 0) {
  }

  if (g.output == "json") {
    write_json(std::cout, report);
  } else if (g.output == "jsonl") {
    auto s = summary_record(report);
    s["type"] = "summary";
    s["command"] = command_name;
    std::cout << boost::json::serialize(s) << '\n';
  } else {
    write_text(std::cout, report, g.expand);
  }
  std::cout.flush();
  if (!g.quiet && (report.interrupted || ::isatty(STDERR_FILENO) || g.verbose))
    std::cerr << summary_line(report) << "\n";
  return static_cast<int>(exit_code_for(report));
}

}  // namespace fleetpower::cli
