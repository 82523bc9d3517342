// SPDX-License-Identifier: GPL-3.0-or-later
// Shared by every command that acts on targets: load, resolve, run, print.
#include <boost/asio/signal_set.hpp>
#include <boost/json/serialize.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <iostream>

#include <sstream>

#include "cli/common.hpp"
#include "core/duration.hpp"
#include "core/fleet.hpp"
#include "core/hostlist.hpp"
#include "core/journal.hpp"
#include "core/outlets.hpp"
#include "core/plan.hpp"
#include "core/power_report.hpp"
#include "core/prometheus.hpp"
#include "core/waves.hpp"

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
  for (auto* t : l.targets) need = need || t->protocol != "test";  // "pdu": the PDUs' credentials
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
    if (t->protocol == "test" || t->protocol == "pdu") {  // pdu: see build_outlet_table
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

namespace {

std::optional<Millis> duration_opt(const std::string& s, const char* name, bool* bad) {
  if (s.empty()) return std::nullopt;
  auto d = parse_duration(s);
  if (!d) {
    std::cerr << fmt::format("fleetpower: {} '{}' is not a duration (like 500ms, 5s, 2m)\n", name, s);
    *bad = true;
  }
  return d;
}

bool changes_state(Action a) {
  switch (a) {
    case Action::Status:
    case Action::Probe:
    case Action::PowerReading:
      return false;
    default:
      return true;
  }
}

/// Asks on a terminal; returns true to proceed.
bool confirm(const std::string& command, const std::vector<const Target*>& targets) {
  std::vector<std::string> names;
  for (auto* t : targets) names.push_back(t->name);
  std::cerr << fmt::format("About to run '{}' on {} targets: {}\nProceed? [y/N] ", command, targets.size(),
                           hostlist::fold(names));
  std::string answer;
  if (!std::getline(std::cin, answer)) return false;
  return answer == "y" || answer == "Y" || answer == "yes";
}

/// Done/failed/in flight, rate and time left on a terminal's stderr.
class Progress {
 public:
  Progress(asio::io_context& io, const Scheduler& s, std::size_t total) : timer_(io), sched_(s), total_(total) {}
  void start() {
    t0_ = Clock::now();
    arm();
  }
  void count(const Outcome& o) { o.ok() ? ++ok_ : ++failed_; }
  void stop() {
    timer_.cancel();
    std::cerr << "\r\033[K" << std::flush;
  }

 private:
  void arm() {
    timer_.expires_after(std::chrono::milliseconds(250));
    timer_.async_wait([this](boost::system::error_code ec) {
      if (ec) return;
      draw();
      arm();
    });
  }
  void draw() {
    double secs = std::chrono::duration<double>(Clock::now() - t0_).count();
    std::size_t done = ok_ + failed_;
    double rate = secs > 0 ? done / secs : 0;
    std::string eta = rate > 0 ? format_duration(Millis(static_cast<long long>((total_ - done) / rate * 1000))) : "?";
    std::cerr << fmt::format("\r\033[K{}/{} done, {} failed, {} in flight, {:.0f}/s, ~{} left", done, total_, failed_,
                             sched_.in_flight(), rate, eta)
              << std::flush;
  }
  asio::steady_timer timer_;
  const Scheduler& sched_;
  std::size_t total_;
  std::size_t ok_ = 0, failed_ = 0;
  Clock::time_point t0_;
};

std::string yaml_quote(const std::string& v) {
  std::string q = "\"";
  for (char c : v) {
    if (c == '"' || c == '\\') q += '\\';
    if (static_cast<unsigned char>(c) < 0x20) continue;
    q += c;
  }
  return q + "\"";
}

/// probe --write-inventory: an overlay that includes the inventory and pins what was found.
bool write_overlay(const std::string& out, const Inventory& inv, const RunReport& report, std::string* err) {
  char* base_real = ::realpath(inv.path.c_str(), nullptr);
  std::string base = base_real ? base_real : inv.path;
  std::free(base_real);
  if (char* o = ::realpath(out.c_str(), nullptr)) {
    bool same = base == o;
    std::free(o);
    if (same) {
      *err = "--write-inventory must not overwrite the inventory it includes";
      return false;
    }
  }
  std::ostringstream y;
  y << "# SPDX-License-Identifier: GPL-3.0-or-later\n"
    << "# Written by 'fleetpower probe --write-inventory': what each BMC answered.  Use this file as\n"
    << "# the inventory (-i); it includes the inventory below and pins these keys (no detection).\n"
    << "include: " << yaml_quote(base) << "\n"
    << "hosts:\n";
  std::size_t written = 0;
  for (std::size_t i = 0; i < report.targets.size(); ++i) {
    const Target& t = *report.targets[i];
    const Outcome& o = report.outcomes[i];
    if (!o.ok()) continue;
    std::map<std::string, std::string> f;
    for (auto& [k, v] : o.facts) f.emplace(k, v);
    std::vector<std::pair<std::string, std::string>> keys;
    std::string proto = f.count("protocol") ? f["protocol"] : t.protocol;
    if (proto == "redfish" || proto == "ipmi") keys.emplace_back("protocol", proto);
    if (f.count("plugin")) keys.emplace_back("vendor", f["plugin"]);
    if (proto == "ipmi" && f.count("cipher_suite")) keys.emplace_back("cipher_suite", f["cipher_suite"]);
    if (proto == "redfish" && f.count("system") && !f["system"].empty()) keys.emplace_back("system", f["system"]);
    if (proto == "redfish" && f.count("tls_fingerprint")) keys.emplace_back("tls_fingerprint", f["tls_fingerprint"]);
    if (keys.empty()) continue;
    y << "  " << t.name << ": {";
    for (std::size_t k = 0; k < keys.size(); ++k)
      y << (k ? ", " : "") << keys[k].first << ": " << yaml_quote(keys[k].second);
    y << "}\n";
    ++written;
  }
  if (written == 0) y << "  {}\n";
  std::string tmp = out + ".tmp";
  {
    std::ofstream f(tmp, std::ios::trunc);
    f << y.str();
    if (!f.flush()) {
      *err = "cannot write " + tmp;
      return false;
    }
  }
  if (std::rename(tmp.c_str(), out.c_str()) != 0) {
    *err = "cannot rename " + tmp + " to " + out;
    return false;
  }
  spdlog::info("wrote {} hosts to {}", written, out);
  return true;
}

}  // namespace

int run_request(const Globals& g, Loaded& l, const std::string& command_name, Request req,
                const std::string& resumed_from) {
  const int usage = static_cast<int>(ExitCode::Usage);
  bool bad = false;
  auto timeout = duration_opt(g.timeout, "--timeout", &bad);
  auto deadline = duration_opt(g.deadline, "--deadline", &bad);
  auto wait_timeout = duration_opt(g.wait_timeout, "--wait-timeout", &bad);
  auto then_force = duration_opt(g.then_force, "--then-force", &bad);
  auto batch_delay = duration_opt(g.batch_delay, "--batch-delay", &bad);
  if (bad) return usage;
  if (!timeout || timeout->count() == 0) {
    std::cerr << "fleetpower: --timeout must be more than 0\n";
    return usage;
  }
  if (then_force && req.action != Action::Soft) {
    std::cerr << "fleetpower: --then-force only applies to 'soft'\n";
    return usage;
  }
  WavePolicy waves;
  waves.batch_delay = batch_delay.value_or(Millis(0));
  waves.canary = g.canary;
  if (!g.batch.empty() && !WavePolicy::parse_count(g.batch, &waves.batch, &waves.batch_percent)) {
    std::cerr << fmt::format("fleetpower: --batch '{}' is not a count or a percentage\n", g.batch);
    return usage;
  }
  if (!g.max_fail.empty()) {
    std::size_t n = 0;
    double pct = -1;
    if (!WavePolicy::parse_count(g.max_fail, &n, &pct)) {
      std::cerr << fmt::format("fleetpower: --max-fail '{}' is not a count or a percentage\n", g.max_fail);
      return usage;
    }
    if (pct >= 0) waves.max_fail_percent = pct;
    else waves.max_fail = n;
  }

  SchedulerOptions so;
  so.fanout = g.fanout;
  so.timeout = *timeout;
  so.deadline = deadline;
  // Declared before everything that holds timers on it (the power governor in `fo`, the
  // scheduler): the io_context must be destroyed last.
  asio::io_context io(1);
  FleetOptions fo;
  fo.op_timeout = *timeout;
  fo.wait = !g.no_wait;
  if (wait_timeout) fo.wait_timeout = fo.soft_wait_timeout = *wait_timeout;
  fo.force = g.force;
  fo.then_force = then_force;
  fo.dry_run = g.dry_run;

  // --via pdu: the selected nodes are switched through their PDU outlets.
  std::shared_ptr<OutletTable> outlets;
  if (g.via == "pdu") {
    for (auto* t : l.targets) l.inventory.targets[l.inventory.by_name.at(t->name)].protocol = "pdu";
  }
  std::vector<const Credential*> creds;
  if (auto rc = resolve_credentials(g, l, &creds)) return *rc;
  if (g.via == "pdu") {
    outlets = std::make_shared<OutletTable>();
    std::string err;
    if (!build_outlet_table(l.inventory, l.targets, l.credentials, outlets.get(), &err)) {
      std::cerr << "fleetpower: " << err << "\n";
      return usage;
    }
    // A cycle keeps every outlet off for cycle_delay within one operation.
    Millis longest{0};
    for (auto& [n, p] : *outlets) longest = std::max(longest, p.cycle_delay);
    if (req.action == Action::Cycle || req.action == Action::Reset) fo.op_timeout += longest;
  }

  // Safety rail: a destructive action on many targets is confirmed, or needs --yes.
  const bool stateful = changes_state(req.action) && !g.dry_run;
  if (is_destructive(req.action) && !g.dry_run && !g.yes && l.targets.size() > g.confirm_over) {
    if (::isatty(STDIN_FILENO) && ::isatty(STDERR_FILENO)) {
      if (!confirm(command_name, l.targets)) {
        std::cerr << "fleetpower: nothing done\n";
        return usage;
      }
    } else {
      std::cerr << fmt::format(
          "fleetpower: refusing to {} {} targets without --yes (more than --confirm-over {}, and no terminal to ask on); "
          "nothing was done\n",
          command_name, l.targets.size(), g.confirm_over);
      return usage;
    }
  }

  BackendRegistry registry;
  register_backends(registry, io.get_executor(), g);
  if (outlets) registry.add("pdu", make_outlet_backend(io.get_executor(), registry, outlets));
  Scheduler sched(io, registry, so);
  sched.set_runner(make_fleet_runner(fo));

  std::vector<Job> jobs;
  jobs.reserve(l.targets.size());
  const Millis job_timeout = fleet_job_timeout(req.action, fo);
  for (std::size_t i = 0; i < l.targets.size(); ++i) {
    Job j;
    j.target = l.targets[i];
    j.credential = creds[i];
    j.request = req;
    Millis per = *timeout;
    if (auto* t = l.targets[i]->var("timeout"))
      if (auto d = parse_duration(*t)) per = *d;
    FleetOptions fj = fo;
    fj.op_timeout = per + (fo.op_timeout - *timeout);
    j.timeout = std::max(job_timeout, fleet_job_timeout(req.action, fj));
    // UDP: starting a target costs one datagram, so every IPMI target starts within 40% of its
    // timeout and its timeout counts from the run start (dead BMCs do not make a run longer).
    j.timeout_from_ready = l.targets[i]->protocol == "ipmi";
    jobs.push_back(std::move(j));
  }

  // Power-aware sequencing: power-ons follow the circuit budgets of the inventory.
  if ((req.action == Action::On || req.action == Action::Cycle) && !g.dry_run && !g.no_plan &&
      !l.inventory.circuits.empty()) {
    auto plan = make_power_plan(l.inventory, l.targets);
    if (plan.constrained) {
      // Jobs start (read state) a little ahead of their planned start; the governor then
      // holds each power-on until its circuit has room, on the actual send times.
      std::map<const Target*, Millis> at;
      for (auto& st : plan.starts) at[st.target] = st.at;
      for (auto& j : jobs) j.not_before = std::max(Millis(0), at[j.target] - *timeout);
      fo.governor = std::make_shared<PowerGovernor>(io.get_executor(), l.inventory, plan);
      sched.set_runner(make_fleet_runner(fo));
      for (auto& j : jobs) *j.timeout += at[j.target] - j.not_before + 2 * plan.start_duration;
      for (auto& p : plan.problems) spdlog::warn("power plan: {}", p);
      spdlog::info("power plan: {} starts over {} (fleetpower plan {} shows it)", plan.starts.size(),
                   format_duration(plan.duration), command_name);
      if (waves.batch || waves.batch_percent > 0 || waves.canary)
        spdlog::warn("power plan: waves and a canary delay the plan's start times further");
    }
  }

  // Journal and audit log for runs that change state.
  std::string run_id = new_run_id();
  Journal journal;
  AuditLog audit;
  if (stateful) {
    std::string err;
    boost::json::object h;
    h["command"] = g.command_line;
    h["action"] = std::string(action_name(req.action));
    h["name"] = command_name;
    h["bootdev"] = std::string(boot_device_name(req.bootdev));
    h["persistent"] = req.persistent;
    h["efi"] = req.efi;
    h["identify_seconds"] = req.identify_seconds;
    h["inventory"] = l.inventory.path;
    if (!resumed_from.empty()) h["resumes"] = resumed_from;
    boost::json::array names;
    for (auto* t : l.targets) names.emplace_back(t->name);
    h["targets"] = std::move(names);
    std::string dir = g.journal_dir.empty() ? state_dir() + "/runs" : g.journal_dir;
    if (!journal.open(dir, run_id, h, &err)) spdlog::warn("{}: this run cannot be resumed", err);
    if (!audit.open(g.audit_log, &err)) spdlog::warn("{}: this run is not audited", err);
    spdlog::info("run {} (journal {})", run_id, journal.path());
  }

  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](boost::system::error_code ec, int sig) {
    if (ec) return;
    spdlog::warn("{}: stopping; targets in flight are reported as interrupted",
                 sig == SIGINT ? "interrupt" : "terminated");
    sched.interrupt();
  });

  const bool show_progress = !g.quiet && !g.no_progress && ::isatty(STDERR_FILENO);
  Progress progress(io, sched, l.targets.size());
  if (show_progress) progress.start();

  auto on_result = [&](std::size_t i, const Outcome& o) {
    if (show_progress) progress.count(o);
    if (stateful) {
      journal.host(*l.targets[i], o);
      if (o.error != ErrorKind::NotAttempted) audit.record(run_id, g.command_line, *l.targets[i], command_name, o);
    }
    if (g.output == "jsonl") {
      auto rec = host_record(*l.targets[i], o);
      rec["type"] = "host";
      std::cout << boost::json::serialize(rec) << '\n';
      std::cout.flush();
    }
  };

  auto t0 = Clock::now();
  RunReport report;
  report.command = command_name;
  report.targets = l.targets;
  report.outcomes = run_waves(io, sched, std::move(jobs), waves, on_result, [&](std::size_t w, std::size_t n) {
    if (waves.batch || waves.batch_percent > 0 || waves.canary) spdlog::info("wave {}: {} targets", w + 1, n);
  });
  report.elapsed = std::chrono::duration_cast<Millis>(Clock::now() - t0);
  report.interrupted = sched.interrupted();
  spdlog::debug("fan-out window (adaptive, at most {}): {} at the end, {}..{} during the last wave", so.fanout,
                sched.window(), sched.window_min(), sched.window_max());
  if (show_progress) progress.stop();

  // Close idle sessions (best effort, bounded): run until the backends are done or the grace ends.
  signals.cancel();
  registry.for_each_built([](const std::string&, Backend& b) { b.shutdown(); });
  io.restart();
  auto grace_end = Clock::now() + std::chrono::milliseconds(report.interrupted ? 500 : 1500);
  while (Clock::now() < grace_end && io.run_one_until(grace_end) > 0) {
  }

  const int rc = static_cast<int>(exit_code_for(report));
  if (stateful) {
    journal.end(rc);
    audit.flush();
  }
  const bool reading = req.action == Action::PowerReading;
  std::optional<PowerReport> power;
  if (reading) power = make_power_report(l.inventory, report);
  if (g.output == "prometheus") {
    double now = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
    write_prometheus(std::cout, report, l.inventory, power ? &*power : nullptr, now);
  } else if (g.output == "json" && reading) {
    write_power_json(std::cout, report, *power);
  } else if (g.output == "json") {
    write_json(std::cout, report);
  } else if (g.output == "jsonl") {
    auto s = summary_record(report);
    s["type"] = "summary";
    s["command"] = command_name;
    if (stateful) s["run"] = run_id;
    if (power) s["power"] = power_aggregates_json(*power);
    std::cout << boost::json::serialize(s) << '\n';
  } else if (reading) {
    write_power_text(std::cout, report, *power, g.expand);
  } else if (req.action == Action::Probe) {
    write_facts(std::cout, report);
  } else {
    write_text(std::cout, report, g.expand);
  }
  std::cout.flush();
  if (req.action == Action::Probe && !g.write_inventory.empty()) {
    std::string err;
    if (!write_overlay(g.write_inventory, l.inventory, report, &err)) {
      std::cerr << "fleetpower: " << err << "\n";
      return static_cast<int>(ExitCode::SomeFailed);
    }
  }
  if (!g.quiet && (report.interrupted || ::isatty(STDERR_FILENO) || g.verbose)) {
    std::cerr << summary_line(report) << "\n";
  }
  if (stateful && rc != 0 && !journal.path().empty() && !g.quiet)
    std::cerr << fmt::format("fleetpower: run {}: 'fleetpower resume {}' retries the targets that did not succeed\n",
                             run_id, run_id);
  return rc;
}

}  // namespace fleetpower::cli
