// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/backend.hpp"
#include "core/credentials.hpp"
#include "core/inventory.hpp"
#include "core/output.hpp"
#include "core/scheduler.hpp"
#include "plugin/registry.hpp"

namespace fleetpower::cli {

/// Options every command shares.  Filled by CLI11; see fleetpower(1).
struct Globals {
  std::string inventory;
  std::string credentials;
  std::size_t fanout = 256;
  std::string timeout = "10s";
  std::string deadline;
  std::string output = "text";
  int verbose = 0;
  bool quiet = false;
  bool expand = false;
  bool all = false;
  std::vector<std::string> exclude;
  std::string protocol;  ///< overrides every target's protocol
  std::string ca_file;
  bool insecure = false;
  /// Site plugin directories (--plugin-dir, repeatable) and the config file's plugin_dir; both
  /// are read after /etc/fleetpower/plugins.d and the built-in plugins, and override them.
  std::vector<std::string> plugin_dirs;
  std::string config_plugin_dir;
  std::string via = "bmc";                     ///< bmc | pdu (switch the node's PDU outlets)
  std::vector<std::string> ssh_profile_dirs;  ///< site SSH device profiles
  std::string write_inventory;  ///< probe: write an inventory overlay here

  // Fleet operations (power commands).
  bool no_wait = false;
  std::string wait_timeout;        ///< default 120s (soft: 300s)
  bool force = false;
  std::string then_force;          ///< soft: force off after this
  bool dry_run = false;
  std::string batch;               ///< N or P%
  std::string batch_delay;
  std::size_t canary = 0;
  std::string max_fail;            ///< N or P%
  std::size_t confirm_over = 16;
  bool yes = false;
  bool no_plan = false;
  std::string journal_dir;
  std::string audit_log;
  bool no_progress = false;

  /// The sanitized command line, for the journal and audit log.
  std::string command_line;
  std::vector<std::string> argv;
};

/// The command chosen on the command line runs through this.
using CommandFn = std::function<int()>;

/// One row of the command table: every subcommand lives in its own file.
struct Command {
  const char* name;
  const char* help;
  void (*setup)(CLI::App& app, Globals& g, CommandFn* run);
};
const std::vector<Command>& command_table();

/// Inventory + selection + credentials, or a printed error and exit code 2.
struct Loaded {
  Inventory inventory;
  std::vector<const Target*> targets;
  CredentialStore credentials;
};
/// Loads the inventory and resolves `selection`; prints problems to stderr.
std::optional<int> load_selection(const Globals& g, const std::vector<std::string>& selection, Loaded* out);

/// Loads the built-in plugins, then /etc/fleetpower/plugins.d, the config file's plugin_dir and
/// every --plugin-dir (later ones override plugins of the same name).  Problems are printed to
/// stderr naming the file; refused files are skipped.  Returns false if any file was refused.
/// `defer_builtin`: built-in profiles are parsed when first needed (Registry::load_builtin):
/// a run parses only the plugins its targets use.
bool load_plugins(const Globals& g, plugin::Registry* reg, bool defer_builtin = true);

/// Registers every backend compiled into this build (and "auto", which picks Redfish or IPMI
/// per BMC), loading the vendor plugins first (load_plugins).
void register_backends(BackendRegistry& reg, asio::any_io_executor ex, const Globals& g);
/// The same with plugins already loaded.
void register_backends(BackendRegistry& reg, asio::any_io_executor ex, const Globals& g,
                       std::shared_ptr<const plugin::Registry> plugins);

/// Runs one request over the loaded targets and prints the result. Returns the exit code.
/// `run_id` resumes an earlier run's journal id (empty: a new run).
int run_request(const Globals& g, Loaded& l, const std::string& command_name, Request req,
                const std::string& resumed_from = "");

/// Defaults from the configuration files (see fleetpower(1), FILES), before the command line.
std::vector<std::string> config_paths();
bool load_config(Globals& g, std::string* err);

/// "did you mean" for a mistyped command name.
std::string suggest_command(const std::string& word);

}  // namespace fleetpower::cli
