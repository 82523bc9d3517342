// SPDX-License-Identifier: GPL-3.0-or-later
#include "cli/cli.hpp"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>

#include <iostream>
#include <string_view>

#include "cli/common.hpp"
#include "core/journal.hpp"

namespace fleetpower::cli {

namespace {

void setup_logging(const Globals& g) {
  auto logger = spdlog::stderr_color_st("fleetpower");
  logger->set_pattern("%^%l%$: %v");
  spdlog::set_default_logger(logger);
  if (g.quiet) spdlog::set_level(spdlog::level::err);
  else if (g.verbose >= 3) spdlog::set_level(spdlog::level::trace);
  else if (g.verbose >= 2) spdlog::set_level(spdlog::level::debug);
  else if (g.verbose == 1) spdlog::set_level(spdlog::level::info);
  else spdlog::set_level(spdlog::level::warn);
}

void raise_nofile_limit() {
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &rl);
  }
}

bool is_option_with_value(const std::string& a) {
  static const std::vector<std::string> with_value = {"-i", "--inventory", "--credentials", "-f", "--fanout",
                                                      "-t", "--timeout", "--deadline", "-o", "--output",
                                                      "-x", "--exclude", "--protocol", "--ca-file",
                                                      "--wait-timeout", "--then-force", "--batch", "--batch-delay",
                                                      "--canary", "--max-fail", "--confirm-over", "--journal-dir",
                                                      "--audit-log", "--plugin-dir", "--via", "--ssh-profile-dir"};
  for (auto& w : with_value)
    if (a == w) return true;
  return false;
}

}  // namespace

/// The hidden `fleetpower __complete ...` for the shell completion scripts (complete.cpp).
int run_complete(const CLI::App& app, const Globals& g, int argc, char** argv);

std::string suggest_command(const std::string& word) {
  std::vector<std::string> pool;
  for (auto& c : command_table()) pool.emplace_back(c.name);
  auto dym = did_you_mean(word, pool, 2);
  if (dym.empty()) return "";
  return fmt::format(" (did you mean '{}'?)", fmt::join(dym, "' or '"));
}

int run(int argc, char** argv) {
  Globals g;
  const bool completing = argc >= 2 && std::string_view(argv[1]) == "__complete";
  {
    std::string err;
    if (!load_config(g, &err) && !completing) {
      std::cerr << err << "fleetpower: the configuration has errors\n";
      return static_cast<int>(ExitCode::Usage);
    }
  }
  CLI::App app{"fleetpower: out-of-band power control for fleets of servers (IPMI, Redfish, SSH)",
               "fleetpower"};
  app.set_version_flag("-V,--version", FLEETPOWER_VERSION);
  app.fallthrough();
  app.require_subcommand(0, 1);
  app.add_option("-i,--inventory", g.inventory,
                 "Inventory file (default: $FLEETPOWER_INVENTORY, ./fleetpower.yaml, /etc/fleetpower/inventory.yaml)");
  app.add_option("--credentials", g.credentials,
                 "Credentials file, mode 0600 (default: $FLEETPOWER_CREDENTIALS, ~/.config/fleetpower/credentials.yaml, /etc/fleetpower/credentials.yaml)");
  app.add_option("-f,--fanout", g.fanout, "Largest fan-out window: operations in flight at once (adaptive below it; default 256, max 16384)")
      ->check(CLI::Range(std::size_t{1}, SchedulerOptions::kMaxFanout));
  app.add_option("-t,--timeout", g.timeout, "Per-host time limit, e.g. 500ms, 5s, 2m (default 10s)");
  app.add_option("--deadline", g.deadline, "Time limit for the whole run");
  app.add_option("-o,--output", g.output, "Output format: text, json, jsonl, or prometheus (status and power)")
      ->check(CLI::IsMember({"text", "json", "jsonl", "prometheus"}));
  app.add_flag("-v,--verbose", g.verbose, "More log output on stderr (-vv debug, -vvv every IPMI exchange)");
  app.add_flag("-q,--quiet", g.quiet, "Only errors on stderr");
  app.add_flag("--expand", g.expand, "One line per host instead of folded hostlists");
  app.add_flag("--all", g.all, "Select every host of the inventory");
  app.add_option("-x,--exclude", g.exclude, "Hosts or @groups to leave out (repeatable)");
  app.add_option("--protocol", g.protocol, "Override every target's protocol (ipmi, redfish, ssh, auto, test)")
      ->check(CLI::IsMember({"ipmi", "redfish", "ssh", "auto", "test"}));
  app.add_option("--via", g.via, "Power path: bmc (default) or pdu (switch the node's PDU outlets, see 'outlets')")
      ->check(CLI::IsMember({"bmc", "pdu"}));
  app.add_option("--ssh-profile-dir", g.ssh_profile_dirs,
                 "Directory of site SSH device profiles (*.yaml; repeatable; also /etc/fleetpower/ssh-profiles.d)");
  app.add_option("--ca-file", g.ca_file, "CA bundle to verify Redfish BMC certificates");
  app.add_flag("--insecure", g.insecure, "Do not verify TLS certificates (warns)");
  app.add_option("--plugin-dir", g.plugin_dirs,
                 "Also load vendor plugins (*.yaml profiles, *.so) from DIR (repeatable; overrides built-in and /etc/fleetpower/plugins.d)");

  const char* fleet = "Fleet operations";
  app.add_flag("--no-wait", g.no_wait, "Return once the BMC accepted the action; do not verify the end state")->group(fleet);
  app.add_option("--wait-timeout", g.wait_timeout, "How long to wait for the end state (default 120s; soft 300s)")->group(fleet);
  app.add_flag("--force", g.force, "Act even when a node is already in the requested state")->group(fleet);
  app.add_option("--then-force", g.then_force, "soft: force off whatever is still on after DURATION")->group(fleet);
  app.add_flag("-n,--dry-run", g.dry_run, "Read the state and show what would change; send nothing")->group(fleet);
  app.add_option("--batch", g.batch, "Act in waves of N targets or P% of the selection")->group(fleet);
  app.add_option("--batch-delay", g.batch_delay, "Pause between waves")->group(fleet);
  app.add_option("--canary", g.canary, "Act on N targets first; continue only if all of them succeeded")->group(fleet);
  app.add_option("--max-fail", g.max_fail, "Stop starting new targets once more than N (or P%) failed")->group(fleet);
  app.add_option("--confirm-over", g.confirm_over, "Ask (or require --yes) before a destructive action on more targets (default 16)")->group(fleet);
  app.add_flag("-y,--yes", g.yes, "Do not ask for confirmation")->group(fleet);
  app.add_flag("--no-plan", g.no_plan, "Ignore circuit budgets when powering on")->group(fleet);
  app.add_option("--journal-dir", g.journal_dir, "Where run journals go (default $XDG_STATE_HOME/fleetpower/runs)")->group(fleet);
  app.add_option("--audit-log", g.audit_log, "Audit log file (default /var/log/fleetpower/audit.log when writable)")->group(fleet);
  app.add_flag("--no-progress", g.no_progress, "No progress line on a terminal")->group(fleet);

  g.command_line = sanitized_command_line(argc, argv);
  for (int i = 0; i < argc; ++i) g.argv.emplace_back(argv[i]);
  CommandFn chosen;
  for (const auto& c : command_table()) c.setup(app, g, &chosen);
  if (completing) return run_complete(app, g, argc - 2, argv + 2);

  // A mistyped command gets a suggestion instead of CLI11's generic complaint.
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--") break;
    if (!a.empty() && a[0] == '-') {
      if (is_option_with_value(a)) ++i;
      continue;
    }
    bool known = false;
    for (auto& c : command_table()) known = known || a == c.name;
    if (!known) {
      std::cerr << "fleetpower: unknown command '" << a << "'" << suggest_command(a)
                << "\nRun 'fleetpower --help' for the list of commands.\n";
      return static_cast<int>(ExitCode::Usage);
    }
    break;
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "fleetpower: " << e.what() << "\n";
    return static_cast<int>(ExitCode::Usage);
  }
  setup_logging(g);
  raise_nofile_limit();
  if (!chosen) {
    std::cerr << app.help();
    return static_cast<int>(ExitCode::Usage);
  }
  if (g.output == "prometheus") {
    std::string name;
    for (auto* s : app.get_subcommands()) name = s->get_name();
    if (name != "status" && name != "power") {
      std::cerr << "fleetpower: -o prometheus is only for 'status' and 'power'\n";
      return static_cast<int>(ExitCode::Usage);
    }
  }
  return chosen();
}

}  // namespace fleetpower::cli
